"""Backtest engines: the vectorized fast path, the event-driven engine against backtrader, and
memory over many sequential backtests.

* Vectorized: ``run_vectorized`` end to end (Bars in, ``BacktestResult`` out: signals, the native
  simulation, trades, positions and equity) on a 1,000,000-bar synthetic series, for
  ``sma_crossover`` and every other one-symbol built-in; the metrics kernel's extra cost is shown
  separately (metrics are computed on first access). Target: >= 5e7 bars/s for sma_crossover.
* Event-driven: ``run_event`` with the Python ``sma_crossover`` strategy (its ``on_bar``; orders
  through the context) against backtrader 1.9 running the same rules with the same conventions
  (signal at the close, market orders filled at the next open, all-in, long only, no costs,
  100,000 cash; backtrader sizes with cheat-on-open, exactly as
  ``bench/reference/backtrader_parity.py``), on ORCL and a 100,000-bar synthetic series. Final
  equity is printed for both. Target: >= 30x backtrader's bars/s.
* Memory: resident set size before and after 1,000 sequential backtests (both engines, metrics
  and trade records read each time).

backtrader runs in its own interpreter (it is not a dependency): set ``NT_BENCH_PEERS_PYTHON`` to a
Python that has it (default ``/tmp/peers-venv/bin/python`` if present)::

    python -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install backtrader pandas
    python -m bench backtest           # from the project root; --quick for a smoke run
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script (the peer interpreter does this)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fmt_rate, fmt_seconds, machine_rows, median_seconds, orcl_bars, synthetic_bars, table

CASH = 100_000.0
DEFAULT_PEERS_PYTHON = "/tmp/peers-venv/bin/python"


def _bars(cols: dict[str, np.ndarray], symbol: str) -> Any:
    from neural_trader.domain.market import Bars

    n = len(cols["close"])
    ts = np.datetime64("1990-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Bars(symbol=symbol, timeframe="1Day", provider="bench", ts=ts, open=cols["open"], high=cols["high"],
                low=cols["low"], close=cols["close"], volume=np.zeros(n))


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, best) seconds of ``repeat`` calls after one warm-up call. The best is shown too:
    on a shared machine it is the least disturbed measure of what the code costs."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples)


def _config() -> Any:
    from neural_trader.backtest import BacktestConfig

    return BacktestConfig(init_cash=CASH, fill_at="next_open", sizing="all_in")


# -- peers (run in the peer interpreter) ----------------------------------------------------------


def _backtrader(cols: dict[str, np.ndarray]) -> tuple[Any, str]:
    import backtrader as bt
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))
    from backtrader_parity import SmaCross

    frame = pd.DataFrame({k: cols[k] for k in ("open", "high", "low", "close")},
                         index=pd.date_range("1990-01-01", periods=len(cols["close"]), freq="D"))
    frame["volume"] = 0.0

    def run() -> float:
        cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
        cerebro.addstrategy(SmaCross, whole=False, allow_short=False)
        cerebro.broker.setcash(CASH)
        cerebro.run()
        return float(cerebro.broker.getvalue())

    return run, f"backtrader {bt.__version__}"


def _peer_main(data: str, repeat: int) -> None:
    loaded = np.load(data)
    cols = {k: np.ascontiguousarray(loaded[k]) for k in ("open", "high", "low", "close")}
    run, version = _backtrader(cols)
    final = run()
    seconds = median_seconds(run, repeat=repeat, min_sample_s=0.0, warmup=False)
    print(json.dumps({"seconds": seconds, "final_equity": final, "version": version}))


def peer(cols: dict[str, np.ndarray], repeat: int) -> dict[str, Any] | str:
    """Time backtrader in the peer interpreter; a string says why it could not be measured."""
    python = os.environ.get("NT_BENCH_PEERS_PYTHON", DEFAULT_PEERS_PYTHON)
    if not Path(python).exists():
        return f"not measured: no peer Python at {python} (set NT_BENCH_PEERS_PYTHON)"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.npz"
        np.savez(data, open=cols["open"], high=cols["high"], low=cols["low"], close=cols["close"])
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--peer", str(data), str(repeat)],
                              capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"not measured: {last}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- sections -------------------------------------------------------------------------------------


def _vectorized_section(quick: bool) -> str:
    from neural_trader.backtest import run_vectorized
    from neural_trader.strategies import builtin_strategies

    n = 100_000 if quick else 1_000_000
    bars = _bars(synthetic_bars(n), "SYN")
    config = _config()
    repeat = 3 if quick else 21
    rows = []
    for s in builtin_strategies():
        if s.symbols_required != 1:
            continue
        p = s.default_params()

        def backtest(s: Any = s, p: Any = p) -> Any:
            return run_vectorized(bars, s, p, config)

        sec, best = _timed(backtest, repeat)
        result = backtest()
        rows.append((s.name, fmt_seconds(sec), fmt_rate(n / sec), fmt_rate(n / best), f"{result.trades.shape[0]:,}",
                     f"{result.equity[-1]:,.2f}"))
        if s.name == "sma_crossover":
            sec, best = _timed(lambda: backtest().metrics, repeat)
            rows.append(("sma_crossover + metrics dict", fmt_seconds(sec), fmt_rate(n / sec), fmt_rate(n / best),
                         "", ""))
    body = table(["strategy (defaults)", "median time", "bars/s (median)", "bars/s (best)", "trades",
                  "final equity"], rows)
    return "\n".join([f"### Vectorized engine: {n:,} bars, end to end", "", body])


def _event_section(label: str, cols: dict[str, np.ndarray], quick: bool, peer_repeat: int) -> str:
    from neural_trader.backtest import run_event, run_vectorized
    from neural_trader.strategies import SmaCrossover

    n = len(cols["close"])
    bars = _bars(cols, "X")
    s = SmaCrossover()
    config = _config()
    ev = median_seconds(lambda: run_event(bars, s, None, config), repeat=3 if quick else 11)
    vec = median_seconds(lambda: run_vectorized(bars, s, None, config), repeat=3 if quick else 11)
    r_ev = run_event(bars, s, None, config)
    rows = [("neural-trader event engine (Python on_bar)", ev, r_ev.equity[-1]),
            ("neural-trader vectorized engine", vec, run_vectorized(bars, s, None, config).equity[-1])]
    notes = []
    got = peer(cols, peer_repeat)
    if isinstance(got, str):
        notes.append(f"backtrader: {got}")
    else:
        rows.append((got["version"], got["seconds"], got["final_equity"]))
    bt_s = rows[-1][1] if not notes else None
    body = table(["implementation", "median time", "bars/s", "x backtrader's bars/s", "final equity"],
                 [(impl, fmt_seconds(sec), fmt_rate(n / sec), f"{bt_s / sec:.1f}" if bt_s else "-", f"{eq:,.6f}")
                  for impl, sec, eq in rows])
    return "\n".join([f"### Event engine vs backtrader: {label}, {n:,} bars", "", body, *(f"\n{x}" for x in notes)])


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _memory_section(quick: bool) -> str:
    from neural_trader.backtest import run_event, run_vectorized
    from neural_trader.strategies import builtin_strategies

    if not Path("/proc/self/statm").exists():
        return "### Memory\n\nnot measured: no /proc/self/statm on this system"
    runs = 100 if quick else 1000
    bars = _bars(orcl_bars(), "ORCL")
    config = _config()
    strategies = [s for s in builtin_strategies() if s.symbols_required == 1]

    def one(k: int) -> None:
        s = strategies[k % len(strategies)]
        r = (run_event if k % 2 else run_vectorized)(bars, s, None, config)
        r.metrics  # noqa: B018 - computed on access
        r.trade_records()

    for k in range(100):  # warm caches, imports and allocator pools
        one(k)
    gc.collect()
    start = _rss_mib()
    marks = []
    for k in range(runs):
        one(k)
        if (k + 1) % (runs // 4) == 0:
            gc.collect()
            marks.append(_rss_mib())
    rows = [("start (after 100 warm-up runs)", f"{start:.1f}")]
    rows += [(f"after {(i + 1) * runs // 4:,} runs", f"{m:.1f}") for i, m in enumerate(marks)]
    rows.append(("growth", f"{marks[-1] - start:+.1f}"))
    return "\n".join([f"### Memory: {runs:,} sequential backtests on ORCL (both engines, all one-symbol "
                      "strategies, metrics and trade records read)", "", table(["point", "RSS (MiB)"], rows)])


def run(quick: bool = False) -> str:
    from neural_trader.native import kernel_statuses

    statuses = ", ".join(f"{s.name}: {'compiled' if s.compiled else 'fallback: ' + str(s.reason)}"
                         for s in kernel_statuses())
    synthetic = synthetic_bars(20_000 if quick else 100_000)
    parts = [
        table(["machine", ""], [*machine_rows(), ("kernels", statuses)]),
        "Conventions (event and peer): SMA(10)/SMA(30) crossover, long only, signal at the close, "
        "market orders filled at the next open, all-in fractional units, no costs, 100,000 cash. "
        "Medians of repeated runs in one process.",
        _vectorized_section(quick),
        _event_section("ORCL 1995-2014 (tests/data)", orcl_bars(), quick, peer_repeat=3 if quick else 7),
        _event_section("synthetic random walk in cents", synthetic, quick, peer_repeat=1 if quick else 3),
        _memory_section(quick),
    ]
    return "\n\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        _peer_main(sys.argv[2], int(sys.argv[3]))
    else:
        print(run(quick="--quick" in sys.argv))
