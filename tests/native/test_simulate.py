"""Simulation kernel: C == numpy twin, hand-worked fills, stops and gaps, batch, threads, bad input."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neural_trader.errors import NtUserError
from neural_trader.native import indicators as ind
from neural_trader.native import simulate as sim
from neural_trader.native import simulate_numpy as twin
from neural_trader.native.simulate import ExitReason, SimParams

heavy = pytest.mark.skipif(os.environ.get("NT_VALGRIND") == "1", reason="too slow under valgrind")
needs_compiled = pytest.mark.skipif(not sim.COMPILED, reason=f"compiled kernels unavailable: {sim.STATUS_REASON}")
IMPLS = pytest.mark.parametrize("impl", [sim, twin], ids=["kernel", "twin"])

# -- random markets -----------------------------------------------------------------------------


@st.composite
def markets(draw: st.DrawFn, max_n: int = 60) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, max_n))
    cents = st.integers(100, 100_000)
    close = np.array(draw(st.lists(cents, min_size=n, max_size=n)), dtype=np.float64) / 100
    open_ = np.array(draw(st.lists(cents, min_size=n, max_size=n)), dtype=np.float64) / 100
    up = np.array(draw(st.lists(st.integers(0, 5_000), min_size=n, max_size=n)), dtype=np.float64) / 100
    down = np.array(draw(st.lists(st.integers(0, 5_000), min_size=n, max_size=n)), dtype=np.float64) / 100
    high = np.maximum(open_, close) + up
    low = np.maximum(np.minimum(open_, close) - down, 0.01)
    target = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([np.nan, np.nan, np.nan, -1.0, 0.0, 1.0, 0.5, 2.0])))
    return {"open": open_, "high": high, "low": low, "close": close, "target": target}


params_strategy = st.builds(
    SimParams,
    init_cash=st.sampled_from([1_000.0, 100_000.0, 12_345.67]),
    fill_at=st.sampled_from(["close", "next_open"]),
    sizing=st.sampled_from(["all_in", "all_in_whole", "fixed", "percent"]),
    size=st.sampled_from([0.5, 1.0, 3.0, 10.0]),
    commission_per_unit=st.sampled_from([0.0, 0.01]),
    commission_pct=st.sampled_from([0.0, 0.001]),
    commission_fixed=st.sampled_from([0.0, 1.0]),
    slippage_bps=st.sampled_from([0.0, 5.0]),
    stop_loss=st.sampled_from([0.0, 0.02, 0.1]),
    take_profit=st.sampled_from([0.0, 0.03, 0.2]),
    trailing_stop=st.sampled_from([0.0, 0.05]),
)

PROPERTY = settings(max_examples=int(os.environ.get("NT_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@needs_compiled
@PROPERTY
@given(m=markets(), p=params_strategy)
def test_kernel_matches_twin(m: dict[str, np.ndarray], p: SimParams) -> None:
    a = sim.simulate(m["open"], m["high"], m["low"], m["close"], m["target"], p)
    b = twin.simulate(m["open"], m["high"], m["low"], m["close"], m["target"], p)
    for field in ("position", "equity"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-12, atol=0)
    assert a.trades.dtype == b.trades.dtype and len(a.trades) == len(b.trades)
    for name in ("entry_idx", "exit_idx", "exit_reason"):
        assert np.array_equal(a.trades[name], b.trades[name])
    for name in ("entry_price", "exit_price", "size", "pnl", "ret", "fees"):
        np.testing.assert_allclose(a.trades[name], b.trades[name], rtol=1e-12, atol=0)


@PROPERTY
@given(m=markets(), p=params_strategy)
def test_pnl_adds_up_to_equity(m: dict[str, np.ndarray], p: SimParams) -> None:
    r = sim.simulate(m["open"], m["high"], m["low"], m["close"], m["target"], p)
    final = r.equity[-1] if len(r.equity) else p.init_cash
    assert p.init_cash + r.trades["pnl"].sum() == pytest.approx(final, rel=1e-9, abs=1e-6)
    assert (r.trades["entry_idx"] <= r.trades["exit_idx"]).all()
    assert (np.diff(r.trades["entry_idx"]) > 0).all()  # one entry per bar at most
    assert (r.trades["exit_reason"][:-1] != ExitReason.OPEN).all()


# -- hand-worked cases --------------------------------------------------------------------------


def bars(*rows: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return {"open": o, "high": h, "low": lo, "close": c}


def run(impl, b: dict[str, np.ndarray], target: list[float], **params) -> sim.SimResult:
    return impl.simulate(b["open"], b["high"], b["low"], b["close"], np.array(target, dtype=np.float64),
                         SimParams(**params))


FLAT = bars((10, 10, 10, 10), (10, 11, 9, 10), (11, 12, 10, 12), (12, 13, 11, 13), (13, 14, 12, 14))


@IMPLS
def test_all_in_at_close_long(impl) -> None:
    r = run(impl, FLAT, [1, np.nan, np.nan, 0, np.nan], init_cash=1000.0)
    (t,) = r.trades
    assert (t["entry_idx"], t["exit_idx"], t["entry_price"], t["exit_price"]) == (0, 3, 10.0, 13.0)
    assert t["size"] == 100.0 and t["pnl"] == 300.0 and t["ret"] == pytest.approx(0.3)
    assert r.position.tolist() == [100, 100, 100, 0, 0]
    assert r.equity.tolist() == [1000, 1000, 1200, 1300, 1300]


@IMPLS
def test_next_open_fill_and_costs(impl) -> None:
    # Buy at bar 1's open 10 with 10 bps slippage -> 10.01; sell at bar 4's open 13 -> 12.987.
    r = run(impl, FLAT, [1, np.nan, np.nan, 0, np.nan], init_cash=1000.0, fill_at="next_open", sizing="fixed",
            size=10, slippage_bps=10, commission_pct=0.001, commission_per_unit=0.01, commission_fixed=1.0)
    (t,) = r.trades
    assert (t["entry_idx"], t["exit_idx"]) == (1, 4)
    assert t["entry_price"] == pytest.approx(10.01) and t["exit_price"] == pytest.approx(12.987)
    entry_fee = 1.0 + 0.001 * 10 * 10.01 + 0.01 * 10
    exit_fee = 1.0 + 0.001 * 10 * 12.987 + 0.01 * 10
    assert t["fees"] == pytest.approx(entry_fee + exit_fee)
    assert t["pnl"] == pytest.approx(10 * (12.987 - 10.01) - entry_fee - exit_fee)
    assert r.equity[-1] == pytest.approx(1000 + t["pnl"])


@IMPLS
def test_all_in_sizing_pays_its_costs(impl) -> None:
    r = run(impl, FLAT, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, commission_pct=0.01,
            commission_fixed=2.0)
    units = (1000 - 2) / (10 * 1.01)
    assert r.position[0] == pytest.approx(units)
    assert r.equity[0] == pytest.approx(1000 - units * 10 * 0.01 - 2.0)  # all cash spent on units and fees
    whole = run(impl, FLAT, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, commission_pct=0.01,
                commission_fixed=2.0, sizing="all_in_whole")
    assert whole.position[0] == 98.0
    pct = run(impl, FLAT, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, sizing="percent", size=0.25)
    assert pct.position[0] == 25.0


@IMPLS
def test_short_and_reversal(impl) -> None:
    r = run(impl, FLAT, [-1, np.nan, 1, np.nan, np.nan], init_cash=1000.0)
    short, long_ = r.trades
    assert short["size"] == -100.0 and short["exit_idx"] == 2 and short["pnl"] == pytest.approx(-200.0)
    assert long_["entry_idx"] == 2 and long_["size"] == pytest.approx(800 / 12)
    assert long_["exit_reason"] == ExitReason.OPEN
    assert r.equity[-1] == pytest.approx(800 + (800 / 12) * 2)


GAP = bars((100, 100, 100, 100), (99, 101, 96, 97), (90, 92, 85, 91), (91, 120, 90, 110), (110, 111, 109, 110))


@IMPLS
def test_stop_inside_the_bar_fills_at_the_stop(impl) -> None:
    r = run(impl, GAP, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, stop_loss=0.03)
    (t,) = r.trades
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (1, 97.0, ExitReason.STOP_LOSS)


@IMPLS
def test_gap_through_the_stop_fills_at_the_open(impl) -> None:
    r = run(impl, GAP, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, stop_loss=0.05)
    (t,) = r.trades
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (2, 90.0, ExitReason.STOP_LOSS)


@IMPLS
def test_take_profit_and_no_reentry_without_a_new_signal(impl) -> None:
    r = run(impl, GAP, [1, np.nan, np.nan, np.nan, np.nan], init_cash=1000.0, take_profit=0.15)
    (t,) = r.trades
    assert (t["exit_idx"], t["exit_reason"]) == (3, ExitReason.TAKE_PROFIT)
    assert t["exit_price"] == pytest.approx(115.0)
    assert r.position[3:].tolist() == [0.0, 0.0]  # target still says 1, but it did not change


@IMPLS
def test_stop_wins_when_a_bar_reaches_both(impl) -> None:
    wide = bars((100, 100, 100, 100), (100, 130, 70, 100))
    r = run(impl, wide, [1, np.nan], init_cash=1000.0, stop_loss=0.1, take_profit=0.1)
    assert r.trades[0]["exit_reason"] == ExitReason.STOP_LOSS and r.trades[0]["exit_price"] == 90.0


@IMPLS
def test_trailing_stop_follows_the_high(impl) -> None:
    up = bars((100, 100, 100, 100), (100, 110, 99, 109), (109, 120, 108, 119), (119, 119, 107, 108))
    r = run(impl, up, [1, np.nan, np.nan, np.nan], init_cash=1000.0, trailing_stop=0.1, stop_loss=0.2)
    (t,) = r.trades
    # Highest high before bar 3 is 120: the trail sits at 108 (tighter than the 80 stop-loss).
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (3, 108.0, ExitReason.TRAILING_STOP)


@IMPLS
def test_short_stop_gap_up(impl) -> None:
    r = run(impl, bars((100, 100, 100, 100), (108, 110, 107, 109)), [-1, np.nan], init_cash=1000.0, stop_loss=0.05)
    (t,) = r.trades
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (1, 108.0, ExitReason.STOP_LOSS)


@IMPLS
def test_next_open_entry_bar_can_stop_out(impl) -> None:
    # Filled at bar 1's open (100); the same bar's low (90) reaches the 5 % stop.
    b = bars((100, 100, 100, 100), (100, 101, 90, 95), (95, 96, 94, 95))
    r = run(impl, b, [1, np.nan, np.nan], init_cash=1000.0, fill_at="next_open", stop_loss=0.05)
    (t,) = r.trades
    assert (t["entry_idx"], t["exit_idx"], t["exit_price"]) == (1, 1, 95.0)


@IMPLS
def test_signal_on_last_bar_with_next_open_is_dropped(impl) -> None:
    r = run(impl, FLAT, [np.nan, np.nan, np.nan, np.nan, 1], fill_at="next_open")
    assert len(r.trades) == 0 and (r.position == 0).all()


@IMPLS
def test_empty_and_single_bar(impl) -> None:
    empty = impl.simulate(*(np.empty(0) for _ in range(5)))
    assert empty.equity.shape == (0,) and len(empty.trades) == 0
    one = run(impl, bars((10, 10, 10, 10)), [1], init_cash=100.0)
    assert one.trades[0]["exit_reason"] == ExitReason.OPEN and one.equity.tolist() == [100.0]


def test_targets_from_signals() -> None:
    entries = np.array([1, 0, 0, 1, 1, 0], bool)
    exits = np.array([0, 0, 1, 0, 1, 0], bool)
    shorts = np.array([0, 1, 0, 0, 0, 0], bool)
    t = sim.targets_from_signals(entries, exits, short_entries=shorts)
    assert np.array_equal(t, [1, -1, 0, 1, np.nan, np.nan], equal_nan=True)


# -- batch --------------------------------------------------------------------------------------

PAIRS = (np.array([5, 10, 10, 20, 3, 50], np.int64), np.array([20, 30, 10, 60, 9, 40], np.int64))


@heavy
@pytest.mark.parametrize("params", [
    SimParams(),
    SimParams(fill_at="next_open", sizing="all_in_whole", commission_pct=0.001, slippage_bps=3, stop_loss=0.08,
              take_profit=0.3, trailing_stop=0.1),
], ids=["plain", "costs-and-stops"])
@pytest.mark.parametrize("allow_short", [False, True])
def test_batch_equals_one_by_one(orcl: dict[str, np.ndarray], params: SimParams, allow_short: bool) -> None:
    o, h, lo, c = orcl["open"], orcl["high"], orcl["low"], orcl["close"]
    rows = sim.sma_cross_batch(o, h, lo, c, *PAIRS, params, allow_short=allow_short)
    assert np.array_equal(rows, twin.sma_cross_batch(o, h, lo, c, *PAIRS, params, allow_short=allow_short))
    for row in rows:
        cross = ind.crossover(ind.sma(c, int(row["fast"])), ind.sma(c, int(row["slow"])))
        r = sim.simulate(o, h, lo, c, sim.targets_from_crossover(cross, allow_short), params)
        assert row["final_equity"] == r.equity[-1]
        assert row["n_trades"] == len(r.trades) and row["n_wins"] == (r.trades["pnl"] > 0).sum()
        peak = np.maximum.accumulate(np.concatenate(([params.init_cash], r.equity)))[1:]
        assert row["max_drawdown"] == ((peak - r.equity) / peak).max()


@needs_compiled
def test_batch_threads_give_the_same_rows(orcl: dict[str, np.ndarray]) -> None:
    fast = np.repeat(np.arange(2, 12, dtype=np.int64), 3)
    slow = fast * 3
    args = (orcl["open"], orcl["high"], orcl["low"], orcl["close"], fast, slow)
    one = sim.sma_cross_batch(*args)
    assert np.array_equal(one, sim.sma_cross_batch(*args, threads=4))
    assert np.array_equal(one, sim.sma_cross_batch(*args, threads=100))  # more threads than pairs
    assert len(sim.sma_cross_batch(*args[:4], np.empty(0, np.int64), np.empty(0, np.int64), threads=2)) == 0


@heavy
@needs_compiled
def test_kernel_releases_the_gil(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python code runs in another thread while one thread is inside the kernel.

    The kernel writes one batch row per pair as it goes. This thread watches the rows with
    ``tolist()``, which holds the GIL for the whole read: if the kernel held the GIL too, every
    read would come before or after the call and see no row or all of them. Seeing some of the
    rows written, and not all, can only happen while the C is running without the GIL. No
    timing is compared; a loaded machine only makes the watcher look fewer times per call.
    """
    class WatchedNumpy:
        """numpy for the wrapper, except that the batch rows it allocates start zeroed and are kept."""

        def __init__(self) -> None:
            self.rows: list[np.ndarray] = []

        def __getattr__(self, name: str) -> object:
            return getattr(np, name)

        def empty(self, shape: int, dtype: np.typing.DTypeLike = float) -> np.ndarray:
            out = np.zeros(shape, dtype)
            if out.dtype == sim.BATCH_DTYPE:
                self.rows.append(out)
            return out

    watched = WatchedNumpy()
    monkeypatch.setattr(sim, "np", watched)
    rng = np.random.default_rng(0)
    c = np.round(100 + np.cumsum(rng.normal(0, 1, 200_000)), 2).clip(1)
    fast = np.arange(2, 42, dtype=np.int64)  # the kernel writes fast[j] into row j: never 0
    m = len(fast)
    partial: list[int] = []
    for _ in range(20):  # each call gives the watcher thousands of looks; a few calls are plenty
        worker = threading.Thread(target=sim.sma_cross_batch, args=(c, c + 0.5, c - 0.5, c, fast, fast * 4))
        worker.start()
        while not watched.rows:  # the wrapper has not allocated them yet
            if not worker.is_alive():
                break
        rows = watched.rows.pop()
        while worker.is_alive():
            written = sum(1 for f in rows["fast"].tolist() if f)
            if 0 < written < m:
                partial.append(written)
        worker.join()
        assert rows["fast"].tolist() == fast.tolist()  # the call filled every row
        if partial:
            break
    assert partial, "the watcher never saw the kernel part way through its rows: it holds the GIL"


# -- bad input ----------------------------------------------------------------------------------

B = bars((10, 11, 9, 10), (10, 11, 9, 10), (10, 11, 9, 10))
T = np.array([1.0, np.nan, 0.0])


@IMPLS
@pytest.mark.parametrize(("call", "fragments"), [
    (lambda m: m.simulate(B["open"], B["high"], B["low"], B["close"], T[:2]), ["target", "length 2"]),
    (lambda m: m.simulate(B["open"], B["high"], B["low"], B["close"].astype(np.float32), T), ["close", "float64"]),
    (lambda m: m.simulate(B["open"], B["high"], np.array([9, np.nan, 9.0]), B["close"], T),
     ["low must be finite and > 0", "low[1] is nan"]),
    (lambda m: m.simulate(B["open"], np.array([11, 11, 0.0]), B["low"], B["close"], T), ["high[2] is 0.0"]),
    (lambda m: m.simulate(B["open"], B["high"], B["low"], B["close"], np.array([1, np.inf, 0])),
     ["target must be finite or NaN", "target[1]"]),
    (lambda m: m.simulate(B["open"], B["high"], B["low"], B["close"], T, {"init_cash": 5}), ["params", "SimParams"]),
    (lambda m: m.sma_cross_batch(B["open"], B["high"], B["low"], B["close"], np.array([0]), np.array([3])),
     ["fast", ">= 1"]),
    (lambda m: m.sma_cross_batch(B["open"], B["high"], B["low"], B["close"], np.array([2.0]), np.array([3.0])),
     ["fast", "int64"]),
    (lambda m: m.sma_cross_batch(B["open"], B["high"], B["low"], B["close"], np.array([2]), np.array([3, 4])),
     ["slow", "length 2"]),
    (lambda m: m.sma_cross_batch(B["open"], B["high"], B["low"], B["close"], np.array([2]), np.array([3]), threads=0),
     ["threads", ">= 1"]),
])
def test_bad_input(impl, call, fragments) -> None:
    with pytest.raises(NtUserError) as info:
        call(impl)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("init_cash", 0.0, "init_cash must be a finite number > 0"),
    ("fill_at", "open", "fill_at must be one of"),
    ("sizing", "kelly", "sizing must be one of"),
    ("stop_loss", 1.5, "stop_loss must be a fraction"),
    ("slippage_bps", -1.0, "slippage_bps must be"),
    ("commission_pct", float("nan"), "commission_pct must be a finite number >= 0"),
    ("size", True, "size must be"),
])
def test_params_are_validated_naming_the_field(field: str, value: object, fragment: str) -> None:
    with pytest.raises(NtUserError, match=fragment):
        SimParams(**{field: value})
