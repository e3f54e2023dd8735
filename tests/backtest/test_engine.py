"""The two engines: same trades for every strategy with both styles, results, multi-symbol runs."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest

from neural_trader.backtest import (
    TRADES_DTYPE,
    BacktestConfig,
    BacktestResult,
    run,
    run_event,
    run_vectorized,
)
from neural_trader.domain.market import Bars
from neural_trader.errors import NtUserError
from neural_trader.native.simulate import ExitReason
from neural_trader.strategies import MeanReversion, PairsTrading, SmaCrossover, builtin_strategies

DATA = Path(__file__).resolve().parents[1] / "data"
BOTH = [s for s in builtin_strategies() if s.has_signals and s.has_events]
SIGNALS_ONLY = [s for s in builtin_strategies() if not s.has_events and s.symbols_required == 1]

CONFIGS = {
    "default": BacktestConfig(),
    "close_short_costs": BacktestConfig(fill_at="close", allow_short=True, commission_pct=0.001,
                                        commission_fixed=1.0, slippage_bps=5.0),
    "whole_units_stops": BacktestConfig(sizing="all_in_whole", allow_short=True, stop_loss=0.03,
                                        take_profit=0.06, commission_per_unit=0.01),
    "fixed_trailing": BacktestConfig(fill_at="close", sizing="fixed", size=250, trailing_stop=0.04),
    "percent_next_open": BacktestConfig(sizing="percent", size=0.5, allow_short=True, trailing_stop=0.05,
                                        stop_loss=0.02),
}


def make_bars(n: int, seed: int, symbol: str = "SYN") -> Bars:
    rng = np.random.default_rng(seed)
    close = np.round(50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, n))), 2).clip(0.01)
    open_ = np.round(np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.006, n)), 2).clip(0.01)
    spread = np.round(np.abs(rng.normal(0.0, 0.008, n)) * close, 2)
    ts = np.datetime64("2001-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Bars.from_arrays(symbol=symbol, timeframe="1Day", provider="synthetic", ts=ts, open=open_,
                            high=np.maximum(open_, close) + spread,
                            low=(np.minimum(open_, close) - spread).clip(0.01), close=close)


@pytest.fixture(scope="module")
def syn() -> Bars:
    return make_bars(4000, seed=3)


@pytest.fixture(scope="module")
def orcl() -> Bars:
    from neural_trader.market.files import read_bars

    return read_bars(DATA / "orcl-1995-2014.txt", symbol="ORCL")


def assert_same_run(a: BacktestResult, b: BacktestResult) -> None:
    assert a.trades.dtype == TRADES_DTYPE == b.trades.dtype
    assert a.trades.shape == b.trades.shape
    np.testing.assert_array_equal(a.trades, b.trades)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.equity, b.equity)


@pytest.mark.parametrize("config", list(CONFIGS), ids=str)
@pytest.mark.parametrize("strategy", BOTH, ids=lambda s: s.name)
@pytest.mark.parametrize("data", ["syn", "orcl"])
def test_both_styles_give_the_same_trades(request, strategy, config: str, data: str) -> None:  # type: ignore[no-untyped-def]
    """The vectorized signals through the kernel and the strategy's own on_bar through the event
    engine: identical trades (indices, prices, sizes, pnl, exit reasons), positions and equity."""
    bars = request.getfixturevalue(data)
    vec = run_vectorized(bars, strategy, None, CONFIGS[config])
    ev = run_event(bars, strategy, None, CONFIGS[config])
    assert vec.trades.shape[0] > 10
    assert_same_run(vec, ev)
    if CONFIGS[config].stop_loss or strategy.name == "momentum":
        assert np.isin(ev.trades["exit_reason"], [ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP]).any()


@pytest.mark.parametrize("strategy", SIGNALS_ONLY, ids=lambda s: s.name)
def test_signal_only_strategies_run_on_the_event_engine_identically(syn: Bars, strategy) -> None:  # type: ignore[no-untyped-def]
    config = CONFIGS["close_short_costs"]
    assert_same_run(run_vectorized(syn, strategy, None, config), run_event(syn, strategy, None, config))


def test_run_dispatches_and_validates(syn: Bars) -> None:
    s = SmaCrossover()
    assert run(syn, s, engine="event").engine == "event"
    assert run(syn, s).engine == "vectorized"
    with pytest.raises(NtUserError, match="engine must be"):
        run(syn, s, engine="fast")  # type: ignore[arg-type]
    with pytest.raises(NtUserError, match=r"fast .* must be less than slow"):
        run(syn, s, {"fast": 40, "slow": 20})
    with pytest.raises(NtUserError, match="no 'open' column"):
        run(object(), s)


def test_result_curves_and_metrics(syn: Bars) -> None:
    config = BacktestConfig(fill_at="close", allow_short=True, commission_pct=0.0005)
    r = run_vectorized(syn, SmaCrossover(), None, config)
    n = len(syn)
    assert r.equity.shape == (n,) and r.positions.shape == (n, 1) and r.drawdown.shape == (n,)
    # equity is cash + marked position; the first return is from the initial cash
    assert r.returns[0] == pytest.approx(r.equity[0] / config.init_cash - 1.0)
    peak = np.maximum.accumulate(np.concatenate(([config.init_cash], r.equity)))[1:]
    np.testing.assert_allclose(r.drawdown, r.equity / peak - 1.0, rtol=0, atol=1e-12)
    m = r.metrics
    assert m["max_drawdown"] == pytest.approx(r.drawdown.min(), abs=1e-12)
    assert m["total_return"] == pytest.approx(r.equity[-1] / config.init_cash - 1.0, rel=1e-12)
    assert m["final_equity"] == r.equity[-1]
    closed = r.trades["exit_reason"] != ExitReason.OPEN
    assert m["n_trades"] == np.count_nonzero(closed) and m["open_trades"] == np.count_nonzero(~closed)
    assert config.init_cash + r.trades["pnl"].sum() == pytest.approx(r.equity[-1], rel=1e-12)
    assert m["total_fees"] == pytest.approx(r.trades["fees"].sum())
    assert m["buy_and_hold_return"] == pytest.approx(syn.close[-1] / syn.close[0] - 1.0)
    records = r.trade_records()
    assert records[0]["entry_time"] == "2001-01-01T00:00:00Z".replace("01T", f"{1 + r.trades['entry_idx'][0]:02d}T") \
        if r.trades["entry_idx"][0] < 30 else records[0]["entry_time"].endswith("Z")
    assert {rec["exit_reason"] for rec in records} <= {"signal", "open"}
    summary = r.summary()
    assert summary["params"] == {"fast": 10, "slow": 30} and summary["bars"] == n


def test_benchmark_comparison(syn: Bars) -> None:
    # against itself: beta 1, alpha 0, tracking error 0
    r = run_vectorized(syn, SmaCrossover(), None, BacktestConfig(fill_at="close"))
    own = np.concatenate(([r.config.init_cash], r.equity))
    from neural_trader.backtest import benchmark_stats

    stats = benchmark_stats(r.returns, own, 252.0)
    assert stats["beta"] == pytest.approx(1.0, rel=1e-12)
    assert stats["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert stats["tracking_error"] == pytest.approx(0.0, abs=1e-12)
    # against buy and hold of the same bars: CAPM regression by hand
    rb = run_vectorized(syn, SmaCrossover(), None, BacktestConfig(fill_at="close"), benchmark=syn.close)
    rs, bm = rb.returns[1:], syn.close[1:] / syn.close[:-1] - 1.0
    beta = np.cov(rs, bm)[0, 1] / np.var(bm, ddof=1)
    assert rb.benchmark_stats["beta"] == pytest.approx(beta, rel=1e-10)
    assert rb.benchmark_stats["alpha"] == pytest.approx((rs.mean() - beta * bm.mean()) * 252, rel=1e-10)
    assert rb.benchmark_stats["tracking_error"] == pytest.approx(np.std(rs - bm, ddof=1) * np.sqrt(252), rel=1e-12)
    assert rb.metrics["benchmark_return"] == pytest.approx(syn.close[-1] / syn.close[0] - 1.0)
    with pytest.raises(NtUserError, match="one value per bar"):
        run_vectorized(syn, SmaCrossover(), benchmark=syn.close[:-1])


def test_plots_are_pngs(syn: Bars) -> None:
    pytest.importorskip("matplotlib")
    r = run_event(syn[:500], SmaCrossover(), None, BacktestConfig(allow_short=True), benchmark=syn[:500])
    for kind in ("equity", "drawdown", "trades"):
        png = r.plot_png(kind)  # type: ignore[arg-type]
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    with pytest.raises(NtUserError, match="plot kind"):
        r.plot_png("pie")  # type: ignore[arg-type]


def test_multi_symbol_sleeves_follow_the_allocation() -> None:
    a, b = make_bars(1500, seed=1, symbol="AAA"), make_bars(1500, seed=2, symbol="BBB")
    config = BacktestConfig(fill_at="close", allocation={"AAA": 3.0, "BBB": 1.0})
    r = run_vectorized([a, b], SmaCrossover(), None, config)
    ra = run_vectorized(a, SmaCrossover(), None, attrs.evolve(config, init_cash=75_000.0, allocation=None))
    rb = run_vectorized(b, SmaCrossover(), None, attrs.evolve(config, init_cash=25_000.0, allocation=None))
    np.testing.assert_array_equal(r.equity, ra.equity + rb.equity)
    assert r.symbols == ("AAA", "BBB") and r.positions.shape == (1500, 2)
    assert sorted(r.trades["symbol"].tolist()) == [0] * ra.trades.shape[0] + [1] * rb.trades.shape[0]
    assert (np.diff(r.trades["entry_idx"]) >= 0).all()
    with pytest.raises(NtUserError, match="not in the run"):
        run_vectorized([a, b], SmaCrossover(), None, BacktestConfig(allocation={"ZZZ": 1.0}))


def test_multi_symbol_event_run_shares_the_cash() -> None:
    a, b = make_bars(1500, seed=1, symbol="AAA"), make_bars(1500, seed=2, symbol="BBB")
    r = run_event([a, b], SmaCrossover(), None, BacktestConfig(fill_at="close"))
    # equity is one cash account plus both positions at their closes
    assert r.positions.shape == (1500, 2)
    assert set(r.trades["symbol"].tolist()) == {0, 1}
    both = (r.positions[:, 0] > 0) & (r.positions[:, 1] > 0)
    assert both.any()
    # a symbol entering while the other is held gets its weight (half) of the portfolio value
    entries = r.trades[r.trades["symbol"] == 1]
    i = next(int(t["entry_idx"]) for t in entries if r.positions[int(t["entry_idx"]), 0] > 0
             and r.positions[int(t["entry_idx"]) - 1, 1] == 0)
    value_before = r.equity[i]
    assert entries[entries["entry_idx"] == i]["size"][0] * b.close[i] == pytest.approx(
        min(value_before / 2, value_before - r.positions[i, 0] * a.close[i]), rel=1e-6)
    assert r.trades["pnl"].sum() + 100_000.0 == pytest.approx(r.equity[-1], rel=1e-10)


def test_misaligned_or_wrong_count_series_are_refused() -> None:
    a, b = make_bars(100, seed=1, symbol="AAA"), make_bars(99, seed=2, symbol="BBB")
    with pytest.raises(NtUserError, match="not aligned"):
        run_vectorized([a, b], SmaCrossover())
    with pytest.raises(NtUserError, match="exactly 2 series"):
        run_vectorized(a, PairsTrading(), None, BacktestConfig(allow_short=True))
    with pytest.raises(NtUserError, match="allow_short"):
        run_vectorized([a, make_bars(100, seed=2, symbol="BBB")], PairsTrading())


def test_pairs_trading_runs_on_both_engines() -> None:
    a = make_bars(1500, seed=1, symbol="AAA")
    noise = make_bars(1500, seed=2).close / 50.0
    cols = {c: np.round(getattr(a, c) * 0.8 * noise ** 0.2, 2) for c in ("open", "high", "low", "close")}
    b = Bars.from_arrays(symbol="BBB", timeframe="1Day", provider="synthetic", ts=a.ts, **cols)
    config = BacktestConfig(allow_short=True)
    for engine in ("vectorized", "event"):
        r = run([a, b], PairsTrading(), None, config, engine=engine)  # type: ignore[arg-type]
        legs = r.trades
        assert legs.shape[0] > 4 and set(legs["symbol"].tolist()) == {0, 1}
        # each spread entry opens both legs on the same bar, on opposite sides
        for i in np.unique(legs["entry_idx"]):
            sides = np.sign(legs[legs["entry_idx"] == i]["size"])
            assert sorted(sides.tolist()) == [-1.0, 1.0]


def test_mean_reversion_event_and_vector_agree_on_orcl_with_costs(orcl: Bars) -> None:
    config = BacktestConfig(commission_pct=0.001, slippage_bps=3, allow_short=True)
    assert_same_run(run_vectorized(orcl, MeanReversion(), None, config), run_event(orcl, MeanReversion(), None, config))
