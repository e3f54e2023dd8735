"""Native indicator and simulation kernels: our C kernel, our numpy twin, and peers.

* SMA(10)/SMA(30) crossover, indicators + simulation, all-in (long only, fills at the signal
  bar's close, all cash in fractional units, no costs, 100,000 cash), on the real ORCL bars and on
  a 1,000,000-bar synthetic series: bars/second for the kernel (as composed calls, and as the
  fused one-pair batch), the numpy twin, and, when a Python with them is available, vectorbt
  (``Portfolio.from_signals``) and backtrader with the same conventions. Final equity is printed
  so that the conventions can be seen to agree. Target: >= 1e8 bars/s for the kernel on 1M bars.
* Each indicator on 1M bars, kernel against twin.
* Per-call overhead of a trivial kernel through the wrapper. Target: < 1.5 µs.
* A batch of 1,000 SMA pairs over 1M bars on 1 thread and on 2 (the kernel releases the GIL).

Peers run in their own interpreter (they are not dependencies): set ``NT_BENCH_PEERS_PYTHON`` to a
Python that has vectorbt and/or backtrader (default ``/tmp/peers-venv/bin/python`` if present)::

    python -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install vectorbt backtrader
    python -m bench kernels            # from the project root; --quick for a smoke run
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script (the peer interpreter does this)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fmt_rate, fmt_seconds, machine_rows, median_seconds, orcl_bars, synthetic_bars, table

CASH = 100_000.0
FAST, SLOW = 10, 30
DEFAULT_PEERS_PYTHON = "/tmp/peers-venv/bin/python"


# -- our pipeline ---------------------------------------------------------------------------------


def ours_composed(bars: dict[str, np.ndarray], twin: bool = False) -> float:
    """Indicators + simulation through the public wrappers (or their numpy twins); final equity."""
    if twin:
        from neural_trader.native import indicators_numpy as ind
        from neural_trader.native import simulate_numpy as sim
    else:
        from neural_trader.native import indicators as ind  # type: ignore[no-redef]
        from neural_trader.native import simulate as sim  # type: ignore[no-redef]
    c = bars["close"]
    cross = ind.crossover(ind.sma(c, FAST), ind.sma(c, SLOW))
    target = sim.targets_from_crossover(cross, allow_short=False)
    result = sim.simulate(bars["open"], bars["high"], bars["low"], c, target, sim.SimParams(init_cash=CASH))
    return float(result.equity[-1])


def ours_fused(bars: dict[str, np.ndarray]) -> float:
    """The same strategy as a one-pair batch: one C call, no intermediate arrays."""
    from neural_trader.native import simulate as sim

    rows = sim.sma_cross_batch(bars["open"], bars["high"], bars["low"], bars["close"], np.array([FAST]),
                               np.array([SLOW]), sim.SimParams(init_cash=CASH))
    return float(rows["final_equity"][0])


# -- peers (run in the peer interpreter) ----------------------------------------------------------


def _vectorbt(bars: dict[str, np.ndarray]) -> tuple[Any, str]:
    import pandas as pd
    import vectorbt as vbt

    close = pd.Series(bars["close"])

    def run() -> float:
        fast, slow = vbt.MA.run(close, FAST), vbt.MA.run(close, SLOW)
        pf = vbt.Portfolio.from_signals(close, fast.ma_crossed_above(slow), fast.ma_crossed_below(slow),
                                        init_cash=CASH, size=np.inf, fees=0.0)
        return float(pf.final_value())

    return run, f"vectorbt {vbt.__version__}"


def _backtrader(bars: dict[str, np.ndarray]) -> tuple[Any, str]:
    import backtrader as bt
    import pandas as pd

    frame = pd.DataFrame({k: bars[k] for k in ("open", "high", "low", "close")},
                         index=pd.date_range("2000-01-03", periods=len(bars["close"]), freq="min"))
    frame["volume"] = 0.0

    class Cross(bt.Strategy):
        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=FAST), bt.ind.SMA(period=SLOW))

        def next(self) -> None:
            if self.cross[0] > 0 and not self.position:
                self.buy()
            elif self.cross[0] < 0 and self.position:
                self.close()

    class AllIn(bt.Sizer):
        """All cash, fractional units; 1e-12 short of it, as the broker rejects an order whose value
        exceeds cash by a rounding error (bt.sizers.AllInSizer trips on that on ORCL)."""

        def _getsizing(self, comminfo: Any, cash: float, data: Any, isbuy: bool) -> float:
            return self.broker.getposition(data).size if not isbuy else cash / data.close[0] * (1 - 1e-12)

    def run() -> float:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
        cerebro.addstrategy(Cross)
        cerebro.broker.setcash(CASH)
        cerebro.broker.set_coc(True)  # fill at the signal bar's close, as the others do
        cerebro.addsizer(AllIn)
        cerebro.run()
        return float(cerebro.broker.getvalue())

    return run, f"backtrader {bt.__version__}"


def _peer_main(name: str, data: str, repeat: int) -> None:
    loaded = np.load(data)
    bars = {k: np.ascontiguousarray(loaded[k]) for k in ("open", "high", "low", "close")}
    run, version = {"vectorbt": _vectorbt, "backtrader": _backtrader}[name](bars)
    final = run()  # warm-up: vectorbt compiles its numba kernels on the first call
    seconds = median_seconds(run, repeat=repeat, min_sample_s=0.0, warmup=False)
    print(json.dumps({"seconds": seconds, "final_equity": final, "version": version}))


def peer(name: str, bars: dict[str, np.ndarray], repeat: int) -> dict[str, Any] | str:
    """Time a peer in the peer interpreter; a string says why it could not be measured."""
    python = os.environ.get("NT_BENCH_PEERS_PYTHON", DEFAULT_PEERS_PYTHON)
    if not Path(python).exists():
        return f"not measured: no peer Python at {python} (set NT_BENCH_PEERS_PYTHON)"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.npz"
        np.savez(data, **bars)
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--peer", name, str(data), str(repeat)],
                              capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"not measured: {last}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- sections -------------------------------------------------------------------------------------


def _pipeline_section(label: str, bars: dict[str, np.ndarray], quick: bool) -> str:
    n = len(bars["close"])
    big = n > 100_000
    rows: list[tuple[str, float, float]] = []  # (implementation, seconds, final equity)
    rows.append(("our kernel (composed calls)", median_seconds(lambda: ours_composed(bars), repeat=5 if quick else 21),
                 ours_composed(bars)))
    rows.append(("our kernel (fused one-pair batch)", median_seconds(lambda: ours_fused(bars), repeat=5 if quick else 21),
                 ours_fused(bars)))
    rows.append(("our numpy twin", median_seconds(lambda: ours_composed(bars, twin=True), repeat=1 if big or quick else 5),
                 ours_composed(bars, twin=True)))
    notes = []
    for name in ("vectorbt", "backtrader"):
        if quick and big:
            notes.append(f"{name}: skipped in --quick")
            continue
        got = peer(name, bars, repeat=1 if (big and name == "backtrader") else (3 if big else 7))
        if isinstance(got, str):
            notes.append(f"{name}: {got}")
        else:
            rows.append((got["version"], got["seconds"], got["final_equity"]))
    base = min(s for _, s, _ in rows[:2])
    body = table(
        ["implementation", "median time", "bars/s", "time / our fastest", "final equity"],
        [(impl, fmt_seconds(s), fmt_rate(n / s), f"{s / base:.1f}", f"{eq:,.2f}") for impl, s, eq in rows],
    )
    return "\n".join([f"### {label}: {n:,} bars", "", body, *(f"\n{x}" for x in notes)])


def _indicator_section(bars: dict[str, np.ndarray], quick: bool) -> str:
    from neural_trader.native import indicators as ind
    from neural_trader.native import indicators_numpy as twin

    c, h, lo = bars["close"], bars["high"], bars["low"]
    cases = [
        ("sma(30)", "sma", (c, 30)), ("ema(12)", "ema", (c, 12)), ("rolling_std(20)", "rolling_std", (c, 20)),
        ("zscore(20)", "zscore", (c, 20)), ("bollinger(20, 2)", "bollinger", (c, 20, 2.0)),
        ("rsi(14)", "rsi", (c, 14)), ("macd(12, 26, 9)", "macd", (c, 12, 26, 9)), ("atr(14)", "atr", (h, lo, c, 14)),
        ("rolling_max(20)", "rolling_max", (h, 20)), ("donchian(20)", "donchian", (h, lo, 20)),
        ("crossover", "crossover", (ind.sma(c, 10), ind.sma(c, 30))),
    ]
    n = len(c)
    rows = []
    for label, name, args in cases:
        k = median_seconds(lambda name=name, args=args: getattr(ind, name)(*args), repeat=5 if quick else 15)
        t = median_seconds(lambda name=name, args=args: getattr(twin, name)(*args), repeat=1 if quick else 3)
        rows.append((label, fmt_seconds(k), fmt_rate(n / k), fmt_seconds(t), fmt_rate(n / t), f"{t / k:.1f}"))
    return "\n".join([f"### Indicators, {n:,} bars", "",
                      table(["indicator", "kernel", "kernel bars/s", "twin", "twin bars/s", "kernel is x faster"], rows)])


def _overhead_section(quick: bool) -> str:
    from neural_trader.native import indicators as ind

    one = np.ones(1)
    rows = [("indicators.crossover on 1 bar (wrapper: checks, 3 buffers, output allocation)",
             median_seconds(lambda: ind.crossover(one, one), repeat=7 if quick else 31, min_sample_s=0.05)),
            ("indicators.sma on 1 bar, window 1 (wrapper)",
             median_seconds(lambda: ind.sma(one, 1), repeat=7 if quick else 31, min_sample_s=0.05))]
    if ind.COMPILED:
        lib, ffi = ind._lib, ind._ffi
        a, out = ffi.from_buffer("double[]", one), ffi.from_buffer("int8_t[]", np.empty(1, np.int8), True)
        rows.append(("raw cffi call of nt_crossover (no wrapper, buffers prepared)",
                     median_seconds(lambda: lib.nt_crossover(a, a, 1, out), repeat=7 if quick else 31, min_sample_s=0.05)))
    return "\n".join(["### Per-call overhead (target < 1.5 µs)", "",
                      table(["call", "median"], [(what, fmt_seconds(s)) for what, s in rows])])


def _batch_section(bars: dict[str, np.ndarray], quick: bool) -> str:
    from neural_trader.native import simulate as sim

    fast = np.repeat(np.arange(2, 42, dtype=np.int64), 25)
    slow = fast + np.tile(np.arange(5, 130, 5, dtype=np.int64), 40)
    if quick:
        fast, slow = fast[:100], slow[:100]
    n, m = len(bars["close"]), len(fast)
    args = (bars["open"], bars["high"], bars["low"], bars["close"], fast, slow)
    rows = []
    base = None
    for t in sorted({1, 2, os.cpu_count() or 1}):
        walls, cpus = [], []
        for _ in range(3):
            c0, w0 = time.process_time(), time.perf_counter()
            sim.sma_cross_batch(*args, threads=t)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        s = statistics.median(walls)
        base = base or s
        rows.append((f"kernel, {t} thread{'s' if t > 1 else ''}", fmt_seconds(s), fmt_rate(n * m / s),
                     f"{base / s:.2f}", f"{statistics.median(cpus) / s:.2f}"))
    from neural_trader.native import simulate_numpy as twin

    few = 2
    s = median_seconds(lambda: twin.sma_cross_batch(*args[:4], fast[:few], slow[:few]), repeat=1, warmup=False)
    rows.append((f"numpy twin, {few} of the pairs (measured on {few}, not {m:,})", fmt_seconds(s),
                 fmt_rate(n * few / s), "-", "-"))
    return "\n".join([f"### Batch: {m:,} SMA pairs over {n:,} bars", "",
                      table(["run", "median time", "bar-evaluations/s", "speed-up vs 1 thread",
                             "CPU time / wall time"], rows),
                      "", "CPU time / wall time near the thread count shows the threads ran at once "
                      "(the GIL is released); a lower speed-up then means other load on the machine."])


def run(quick: bool = False) -> str:
    from neural_trader.native import kernel_statuses

    statuses = ", ".join(f"{s.name}: {'compiled' if s.compiled else 'fallback: ' + str(s.reason)}"
                         for s in kernel_statuses())
    big = synthetic_bars(100_000 if quick else 1_000_000)
    parts = [
        table(["machine", ""], [*machine_rows(), ("kernels", statuses)]),
        "Conventions: SMA(10)/SMA(30) crossover, long only, fill at the signal bar's close, all-in "
        "fractional units, no costs, 100,000 cash. Medians; ratios are against the faster of our two "
        "kernel forms.",
        _pipeline_section("ORCL 1995-2014 (tests/data)", orcl_bars(), quick),
        _pipeline_section("Synthetic random walk in cents", big, quick),
        _indicator_section(big, quick),
        _overhead_section(quick),
        _batch_section(big, quick),
    ]
    return "\n\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--peer":
        _peer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(run(quick="--quick" in sys.argv))
