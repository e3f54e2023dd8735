"""Trade statistics count closed trades; the position still open at the end is reported apart.
Bar counts and trade counts have names that cannot be confused; a strategy that always holds is a
flat run; the config's numbers are bounded so annualisation and money stay finite.

Oracles: backtrader's closed trades on real ORCL bars (tests/data/orcl-backtrader-parity.json,
written by bench/reference/backtrader_parity.py), and the trade list and returns recomputed by hand.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import math
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from neural_trader.backtest import BacktestConfig, run, run_event, run_vectorized
from neural_trader.backtest.config import MAX_PERIODS_PER_YEAR
from neural_trader.backtest.result import per_period_rate
from neural_trader.backtest.robustness import bootstrap_run, bootstrap_trades
from neural_trader.errors import NtUserError, NtValidationError
from neural_trader.host import Host, make_host
from neural_trader.native.simulate import ExitReason
from neural_trader.plugins import PluginUnavailable
from neural_trader.strategies import Breakout, MeanReversion, SmaCrossover

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = json.loads((DATA / "orcl-backtrader-parity.json").read_text())
STRATEGIES = {"sma_crossover": SmaCrossover(), "breakout": Breakout()}
TRADE_KEYS = ("n_trades", "winning_trades", "losing_trades", "trade_win_rate", "avg_trade_return",
              "best_trade_return", "worst_trade_return", "avg_trade_pnl", "total_fees", "open_trades",
              "open_trade_pnl", "open_trade_return")

PLUGINS = ("neural_trader_plugins.backtest", "neural_trader_plugins.strategies", "neural_trader_plugins.market")


def make_bt_host() -> Host:
    """The installed plugins, plus any of ours whose entry point is not installed yet."""
    installed = {ep.value for ep in entry_points(group="neural_trader")}
    extra = []
    for name in PLUGINS:
        if name not in installed:
            with contextlib.suppress(PluginUnavailable):
                extra.append(importlib.import_module(name))
    return make_host(strict=True, plugins=extra)


@pytest.fixture(scope="module")
def orcl() -> Any:
    from neural_trader.market.files import read_bars

    return read_bars(DATA / "orcl-1995-2014.txt", symbol="ORCL")


@pytest.mark.parametrize("engine", ["vectorized", "event"])
@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_closed_trade_statistics_equal_backtraders_closed_trades(orcl: Any, case: str, engine: str) -> None:
    """Win rate, mean return and P&L of backtrader's closed trades, recomputed by hand; the open
    trade at the end (every case has one) is counted apart and its P&L is what the final value
    holds beyond the cash and the closed P&L."""
    ref = REFERENCE["cases"][case]
    ours = ref["neural_trader"]
    config = BacktestConfig(init_cash=REFERENCE["cash"], sizing=ours["sizing"], allow_short=ours["allow_short"])
    m = run(orcl, STRATEGIES[ours["strategy"]], ours["params"], config, engine=engine).metrics
    pnl = np.array([t["pnl"] for t in ref["trades"]])
    ret = np.array([t["pnl"] / (abs(t["size"]) * t["entry_price"]) for t in ref["trades"]])
    assert ref["open_trade"] is not None
    assert m["n_trades"] == len(ref["trades"])
    assert m["winning_trades"] == np.count_nonzero(pnl > 0) and m["losing_trades"] == np.count_nonzero(pnl < 0)
    assert m["trade_win_rate"] == pytest.approx(np.count_nonzero(pnl > 0) / len(pnl), rel=1e-15)
    assert m["avg_trade_return"] == pytest.approx(ret.mean(), rel=1e-9)
    assert m["best_trade_return"] == pytest.approx(ret.max(), rel=1e-9)
    assert m["worst_trade_return"] == pytest.approx(ret.min(), rel=1e-9)
    assert m["avg_trade_pnl"] == pytest.approx(pnl.mean(), rel=1e-9)
    assert m["open_trades"] == 1
    open_pnl = ref["final_value"] - REFERENCE["cash"] - pnl.sum()
    assert m["open_trade_pnl"] == pytest.approx(open_pnl, rel=1e-9)
    opened = ref["open_trade"]
    assert m["open_trade_return"] == pytest.approx(open_pnl / (abs(opened["size"]) * opened["entry_price"]),
                                                   rel=1e-9)


def test_the_open_trade_does_not_count_as_a_win(orcl: Any) -> None:
    """ORCL 1995-2014 with SMA(10/30), all in: the last trade is still open at the end. Counting it
    would change the win rate and the mean return; neither does."""
    result = run_vectorized(orcl, SmaCrossover(), {"fast": 10, "slow": 30}, BacktestConfig())
    trades = result.trades
    is_open = trades["exit_reason"] == ExitReason.OPEN
    assert np.count_nonzero(is_open) == 1 and is_open[-1]
    closed = trades[~is_open]
    m = result.metrics
    assert m["n_trades"] == closed.shape[0] == trades.shape[0] - 1
    assert m["trade_win_rate"] == np.count_nonzero(closed["pnl"] > 0) / closed.shape[0]
    assert m["trade_win_rate"] != np.count_nonzero(trades["pnl"] > 0) / trades.shape[0]
    assert m["avg_trade_return"] == pytest.approx(closed["ret"].mean(), rel=1e-12)
    assert m["avg_trade_return"] != pytest.approx(trades["ret"].mean(), rel=1e-6)
    assert m["open_trade_pnl"] == trades["pnl"][-1] and m["open_trade_return"] == pytest.approx(trades["ret"][-1])
    # the whole P&L is the closed trades' plus the open one's
    assert result.equity[-1] == pytest.approx(result.config.init_cash + closed["pnl"].sum() + m["open_trade_pnl"],
                                              rel=1e-12)


def test_a_run_that_ends_flat_has_no_open_trade(orcl: Any) -> None:
    result = run_vectorized(orcl[:4990], SmaCrossover(), {"fast": 10, "slow": 30}, BacktestConfig())
    assert not np.any(result.trades["exit_reason"] == ExitReason.OPEN)
    m = result.summary()["metrics"]
    assert m["open_trades"] == 0 and m["open_trade_pnl"] is None and m["open_trade_return"] is None
    assert m["n_trades"] == result.trades.shape[0]


@pytest.mark.parametrize("config", [
    BacktestConfig(),
    BacktestConfig(fill_at="close", allow_short=True, commission_pct=0.001, commission_fixed=1.0, slippage_bps=5.0),
    BacktestConfig(sizing="all_in_whole", allow_short=True, stop_loss=0.03, take_profit=0.06),
], ids=["default", "short_costs", "whole_stops"])
@pytest.mark.parametrize("strategy", [SmaCrossover(), MeanReversion(), Breakout()], ids=lambda s: s.name)
def test_the_event_and_vectorized_engines_report_the_same_trade_statistics(orcl: Any, strategy: Any,
                                                                            config: BacktestConfig) -> None:
    vec = run_vectorized(orcl, strategy, None, config).metrics
    ev = run_event(orcl, strategy, None, config).metrics
    assert vec["n_trades"] > 10
    for key in TRADE_KEYS:
        assert vec[key] == pytest.approx(ev[key], rel=1e-12, nan_ok=True), key


def test_bar_counts_and_trade_counts_have_their_own_names(orcl: Any) -> None:
    result = run_vectorized(orcl, SmaCrossover(), None, BacktestConfig())
    m = result.metrics
    assert not {"n_wins", "n_losses", "n_closed_trades"} & set(m)
    r = result.returns
    assert m["winning_bars"] == np.count_nonzero(r > 0) and m["losing_bars"] == np.count_nonzero(r < 0)
    assert m["win_rate"] == pytest.approx(m["winning_bars"] / (m["winning_bars"] + m["losing_bars"]))
    closed = result.trades[result.trades["exit_reason"] != ExitReason.OPEN]
    assert m["winning_trades"] + m["losing_trades"] <= m["n_trades"] == closed.shape[0]
    assert m["winning_bars"] > 10 * m["winning_trades"]  # the two could not be taken for each other here


def test_monte_carlo_resamples_the_closed_trades_only(orcl: Any) -> None:
    result = run_vectorized(orcl, SmaCrossover(), {"fast": 10, "slow": 30}, BacktestConfig())
    closed = result.trades[result.trades["exit_reason"] != ExitReason.OPEN]
    summary = bootstrap_run(result.trades, n_sims=300, seed=5)
    assert summary.n_trades == result.metrics["n_trades"] == closed.shape[0]
    assert summary == bootstrap_trades(closed["ret"], n_sims=300, seed=5)
    assert summary != bootstrap_trades(result.trades["ret"], n_sims=300, seed=5)
    only_open = result.trades[-1:]
    with pytest.raises(NtUserError, match="resamples closed trades"):
        bootstrap_run(only_open)


class Hold(SmaCrossover):
    """Holds (NaN target) on every bar, in both styles."""

    name = "hold"

    def signals(self, bars: Any, params: Any) -> np.ndarray:
        return np.full(len(bars.close), np.nan)

    def on_bar(self, ctx: Any, params: Any) -> None:
        return None


@pytest.mark.parametrize("engine", ["vectorized", "event"])
def test_a_strategy_that_always_holds_is_a_flat_run(orcl: Any, engine: str) -> None:
    config = BacktestConfig(init_cash=50_000.0)
    result = run(orcl, Hold(), None, config, engine=engine)  # type: ignore[arg-type]
    assert result.trades.shape == (0,)
    assert np.all(result.equity == 50_000.0) and np.all(result.positions == 0.0)
    m = result.summary()["metrics"]
    assert m["total_return"] == 0.0 and m["max_drawdown"] == 0.0 and m["exposure"] == 0.0
    assert m["n_trades"] == 0 and m["open_trades"] == 0 and m["winning_bars"] == 0
    assert m["trade_win_rate"] is None and m["avg_trade_return"] is None and m["sharpe"] is None
    json.dumps(m, allow_nan=False)


def test_targets_out_of_range_are_still_refused_next_to_holds(orcl: Any) -> None:
    class Bad(Hold):
        def signals(self, bars: Any, params: Any) -> np.ndarray:
            t = np.full(len(bars.close), np.nan)
            t[7] = 2.0
            return t

    with pytest.raises(NtUserError, match="at bar 7"):
        run_vectorized(orcl, Bad(), None, BacktestConfig())


# -- the config's numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("periods_per_year", 1e-300), ("periods_per_year", 0.0001), ("periods_per_year", 0.0),
    ("periods_per_year", MAX_PERIODS_PER_YEAR * 2), ("init_cash", 0.0), ("init_cash", 1e308),
    ("commission_per_unit", -0.01), ("commission_per_unit", 1e12), ("commission_fixed", -1.0),
    ("commission_fixed", 1e300), ("commission_pct", 1.0), ("slippage_bps", -1.0), ("take_profit", 1e300),
    ("size", 1e300),
])
def test_config_numbers_out_of_bounds_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        BacktestConfig(**{field: value})


@pytest.mark.parametrize(("value", "words"), [(1e-300, "must be at least 1"), (0.0001, "must be at least 1"),
                                              (1e9, "must be at most 31536000"), ("x", "expected a number")])
def test_the_frontends_name_the_bad_config_field(value: object, words: str) -> None:
    with make_bt_host() as host, pytest.raises(NtValidationError) as caught:
        host.call("backtest.run", {"symbol": "SPY", "provider": "synthetic", "strategy": "sma_crossover",
                                   "config": {"periods_per_year": value}})
    assert "$.config.periods_per_year" in str(caught.value) and words in str(caught.value)


@pytest.mark.parametrize("ppy", [1.0, 12.0, 252.0, MAX_PERIODS_PER_YEAR])
@pytest.mark.parametrize("annual", [-1.0, -0.5, 0.0, 0.02, 1.0])
def test_the_per_period_risk_free_rate_compounds_to_the_annual_one(ppy: float, annual: float) -> None:
    """Against ``exp(ln(1 + R) / n) - 1`` in 50-digit decimal arithmetic (the float formula
    ``(1 + R) ** (1 / n) - 1`` loses half its digits to cancellation at large ``n``)."""
    rate = per_period_rate(annual, ppy)
    with decimal.localcontext() as c:
        c.prec = 50
        one = decimal.Decimal(1)
        exact = -one if annual == -1.0 else ((one + decimal.Decimal(annual)).ln() / decimal.Decimal(ppy)).exp() - one
    assert rate == pytest.approx(float(exact), rel=1e-14, abs=1e-300)


def test_annualising_a_few_bars_at_the_largest_periods_per_year_stays_json(orcl: Any) -> None:
    config = BacktestConfig(periods_per_year=MAX_PERIODS_PER_YEAR, risk_free=1.0)
    result = run_vectorized(orcl[:60], SmaCrossover(), {"fast": 5, "slow": 20}, config)
    m = result.summary()["metrics"]
    json.dumps(m, allow_nan=False)
    assert m["total_return"] == pytest.approx(result.equity[-1] / config.init_cash - 1.0)
    assert all(v is None or math.isfinite(v) for v in m.values())


def test_a_ruined_account_is_a_clear_error(orcl: Any) -> None:
    config = BacktestConfig(sizing="fixed", size=1e9, allow_short=True)
    result = run_vectorized(orcl, SmaCrossover(), None, config)
    # the request matched the schema; the data and the sizing together ruin the account: 422, not 400
    with pytest.raises(NtUserError, match=r"equity fell to .* at bar \d+") as caught:
        _ = result.metrics
    bar = caught.value.details["bar"]
    assert result.equity[bar] <= 0 and np.all(result.equity[:bar] > 0)


def test_config_is_frozen_and_bounded_by_attrs() -> None:
    config = BacktestConfig(periods_per_year=1.0)
    with pytest.raises(ValueError, match="periods_per_year"):
        attrs.evolve(config, periods_per_year=0.5)


def test_a_ruined_account_through_the_host_is_unprocessable_not_a_crash() -> None:
    with make_bt_host() as host, pytest.raises(NtUserError, match="equity fell to"):
        host.call("backtest.run", {"symbol": "SPY", "provider": "synthetic", "start": "2021-01-04",
                                   "end": "2023-12-29", "strategy": "sma_crossover",
                                   "config": {"sizing": "fixed", "size": 1e9, "allow_short": True}})
