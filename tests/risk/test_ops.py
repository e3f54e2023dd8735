"""The risk, portfolio and analytics operations on real daily bars (ORCL, NVDA, YHOO through the csv
provider), held to numbers computed here straight from the files with numpy and scipy; the same
answers through the CLI, MCP and REST; a pack's own risk model through the hook; bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from neural_trader.errors import NtUserError, NtValidationError
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host
from neural_trader.testing import HostFactory, call_everywhere
from neural_trader_plugins.risk.models import RiskModel
from neural_trader_plugins.risk.var import VarEstimate

from .conftest import closes, returns

SYMBOLS = ["ORCL", "NVDA", "YHOO"]
WEIGHTS = [0.5, 0.3, 0.2]
START, END = "2010-01-01", "2014-12-31"
WINDOW = {"symbols": SYMBOLS, "provider": "csv", "start": f"{START}T00:00:00Z", "end": f"{END}T00:00:00Z"}
PORTFOLIO = {**WINDOW, "weights": WEIGHTS}


@pytest.fixture
def host(csv_dir: Any, nt_host_factory: HostFactory) -> Host:
    return nt_host_factory()


def test_analyze_equals_the_closed_forms_and_numpy_on_real_returns(host: Host) -> None:
    r = returns(SYMBOLS, START, END)
    w = np.array(WEIGHTS)
    loss = -(r @ w)
    got = host.call("risk.analyze", {**PORTFOLIO, "confidence": 0.99, "value": 1_000_000, "seed": 3})
    assert got["data"]["n_returns"] == r.shape[0] and got["data"]["synthetic"] is False
    by = {m["method"]: m for m in got["methods"]}
    assert list(by) == ["historical", "normal", "student_t", "cornish_fisher", "monte_carlo"]
    assert by["historical"]["var"] == pytest.approx(np.quantile(loss, 0.99), rel=1e-12)
    assert by["historical"]["cvar"] == pytest.approx(loss[loss >= np.quantile(loss, 0.99)].mean(), rel=1e-12)
    mu, sigma = float(r.mean(axis=0) @ w), float(np.sqrt(w @ np.cov(r, rowvar=False) @ w))
    z = stats.norm.ppf(0.99)
    assert by["normal"]["var"] == pytest.approx(-mu + z * sigma, rel=1e-10)
    assert by["normal"]["cvar"] == pytest.approx(-mu + sigma * stats.norm.pdf(z) / 0.01, rel=1e-10)
    assert by["monte_carlo"]["var"] == pytest.approx(by["normal"]["var"], rel=0.03)  # 100k scenarios
    assert by["monte_carlo"]["details"] == {"engine": "native", "n_scenarios": 100_000, "seed": 3}
    for m in got["methods"]:
        assert m["var_amount"] == pytest.approx(m["var"] * 1_000_000)
        assert m["cvar"] >= m["var"] > 0
    assets = got["assets"]
    assert [a["symbol"] for a in assets] == SYMBOLS
    assert sum(a["component_var"] for a in assets) == pytest.approx(by["normal"]["var"], rel=1e-10)
    assert sum(a["var_share"] for a in assets) == pytest.approx(1.0)
    vols = r.std(axis=0, ddof=1) * math.sqrt(252)
    assert [a["annual_volatility"] for a in assets] == pytest.approx(vols.tolist(), rel=1e-10)
    assert np.array(got["correlation"]) == pytest.approx(np.corrcoef(r, rowvar=False), abs=1e-12)
    assert got["portfolio"]["annual_volatility"] == pytest.approx(sigma * math.sqrt(252), rel=1e-10)
    assert got["portfolio"]["diversification_ratio"] == pytest.approx(float(w @ (vols / math.sqrt(252))) / sigma)
    wealth = np.concatenate([[1.0], np.cumprod(1 + r @ w)])
    assert got["drawdown"]["max_drawdown"] == pytest.approx(float(np.max(1 - wealth / np.maximum.accumulate(wealth))))
    assert got["monte_carlo"]["engine"] == "native" and got["chart"] is None


async def test_analyze_answers_the_same_from_every_frontend(host: Host, nt_cli: Any, nt_mcp: Any,
                                                           nt_rest: Any) -> None:
    got = await call_everywhere("risk.analyze", {**PORTFOLIO, "methods": ["historical", "normal"]},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert [m["method"] for m in got["methods"]] == ["historical", "normal"] and got["monte_carlo"] is None


def test_var_by_each_model_and_horizon(host: Host) -> None:
    r = returns(SYMBOLS, START, END)
    w = np.array(WEIGHTS)
    for method in ("historical", "normal", "student_t", "cornish_fisher", "monte_carlo"):
        got = host.call("risk.var", {**PORTFOLIO, "method": method, "confidence": 0.95, "horizon": 5})
        assert got["figure"]["method"] == method and got["horizon"] == 5
        assert 0 < got["figure"]["var"] < got["figure"]["cvar"] < 0.5
    ten = host.call("risk.var", {**PORTFOLIO, "method": "normal", "confidence": 0.95, "horizon": 10})
    mu, sigma = float(r.mean(axis=0) @ w), float(np.sqrt(w @ np.cov(r, rowvar=False) @ w))
    assert ten["figure"]["var"] == pytest.approx(-10 * mu + stats.norm.ppf(0.95) * sigma * math.sqrt(10), rel=1e-10)


def test_stress_replays_the_crises_from_the_closes(host: Host) -> None:
    got = host.call("risk.stress", {**PORTFOLIO, "value": 100_000, "scenarios": ["dotcom_2000_2002", "gfc_2008"],
                                    "start": "2000-01-01T00:00:00Z", "shocks": {"NVDA": -0.3}})
    dates, c = closes(SYMBOLS, "1999-01-01", "2014-12-31")
    for replay, (lo, hi) in zip(got["replays"], [("2000-03-24", "2002-10-09"), ("2008-09-01", "2009-03-09")],
                                strict=True):
        first = np.flatnonzero(dates <= np.datetime64(lo))[-1]
        last = np.flatnonzero(dates <= np.datetime64(hi))[-1]
        moves = c[last] / c[first] - 1
        assert replay["total_return"] == pytest.approx(float(np.array(WEIGHTS) @ moves), rel=1e-10)
        assert [a["move"] for a in replay["assets"]] == pytest.approx(moves.tolist(), rel=1e-10)
    assert got["replays"][0]["total_return"] < -0.5  # the dot-com bust took most of it
    (shock,) = got["shocks"]
    assert shock["pnl"] == pytest.approx(-0.3 * 0.3 * 100_000)
    rungs = {round(r["shock"], 4): r["pnl"] for r in got["ladder"]}
    assert rungs[-0.1] == pytest.approx(-10_000) and rungs[0.2] == pytest.approx(20_000)


def test_stress_by_beta_to_a_factor(host: Host) -> None:
    got = host.call("risk.stress", {**{**PORTFOLIO, "symbols": ["NVDA", "YHOO"], "weights": [0.5, 0.5]},
                                    "factor": "ORCL", "factor_shock": -0.2, "scenarios": []})
    r = returns(["NVDA", "YHOO", "ORCL"], START, END)
    betas = [np.cov(r[:, i], r[:, 2])[0, 1] / np.var(r[:, 2], ddof=1) for i in (0, 1)]
    assert list(got["betas"].values()) == pytest.approx(betas, rel=1e-10)
    assert got["shocks"][0]["pnl"] == pytest.approx(sum(-0.2 * b * 50_000 for b in betas), rel=1e-10)
    assert got["replays"] == [] and got["skipped"] == []


def test_a_named_scenario_the_data_does_not_cover_is_an_error_naming_it(host: Host) -> None:
    with pytest.raises(NtUserError, match="covid_2020"):
        host.call("risk.stress", {**PORTFOLIO, "scenarios": ["covid_2020"]})
    every = host.call("risk.stress", {**PORTFOLIO, "ladder": False})
    skipped = {s["scenario"] for s in every["skipped"]}
    assert {"covid_2020", "black_monday_1987"} <= skipped
    assert {r["scenario"] for r in every["replays"]} >= {"dotcom_2000_2002", "gfc_2008"}


def test_correlation_matrix_rolling_and_heatmap(host: Host) -> None:
    r = returns(SYMBOLS, START, END)
    got = host.call("risk.correlation", {**WINDOW, "window": 60, "chart": True, "series": True})
    assert np.array(got["matrix"]) == pytest.approx(np.corrcoef(r, rowvar=False), abs=1e-12)
    pair = got["rolling"][0]
    assert (pair["a"], pair["b"]) == ("ORCL", "NVDA")
    assert pair["latest"] == pytest.approx(np.corrcoef(r[-60:, 0], r[-60:, 1])[0, 1], abs=1e-12)
    assert len(pair["series"]) == len(got["rolling_times"]) == r.shape[0] - 59
    assert got["chart"]["media_type"] == "image/png"
    spearman = host.call("risk.correlation", {**WINDOW, "method": "spearman"})
    assert spearman["matrix"][0][1] == pytest.approx(stats.spearmanr(r[:, 0], r[:, 1]).statistic, abs=1e-12)


def test_optimize_min_variance_unconstrained_is_the_closed_form(host: Host) -> None:
    r = returns(SYMBOLS, START, END)
    cov = np.cov(r, rowvar=False)
    ones = np.ones(3)
    expected = np.linalg.solve(cov, ones) / (ones @ np.linalg.solve(cov, ones))
    got = host.call("portfolio.optimize", {**WINDOW, "method": "min_variance", "unconstrained": True})
    assert [a["weight"] for a in got["allocations"]] == pytest.approx(expected.tolist(), abs=1e-10)
    assert got["volatility"] == pytest.approx(math.sqrt(expected @ cov @ expected * 252), rel=1e-9)
    parity = host.call("portfolio.optimize", {**WINDOW, "method": "risk_parity"})
    assert [a["risk_contribution"] for a in parity["allocations"]] == pytest.approx([1 / 3] * 3, rel=1e-6)
    bounded = host.call("portfolio.optimize", {**WINDOW, "method": "max_sharpe", "upper": 0.5})
    assert all(-1e-9 <= a["weight"] <= 0.5 + 1e-9 for a in bounded["allocations"])
    assert sum(a["weight"] for a in bounded["allocations"]) == pytest.approx(1.0)


def test_black_litterman_tilts_towards_the_view(host: Host) -> None:
    base = {**WINDOW, "method": "black_litterman", "market_weights": [0.4, 0.3, 0.3], "unconstrained": True}
    calm = host.call("portfolio.optimize", {**base, "views": [{"weights": {"ORCL": 1}, "expected_return": 0.0}]})
    bullish = host.call("portfolio.optimize", {**base, "views": [{"weights": {"ORCL": 1}, "expected_return": 0.5}]})
    assert bullish["allocations"][0]["weight"] > calm["allocations"][0]["weight"]
    assert bullish["allocations"][0]["expected_return"] > calm["allocations"][0]["expected_return"]
    with pytest.raises(NtUserError, match="views"):
        host.call("portfolio.optimize", {**base, "views": [{"weights": {"MSFT": 1}, "expected_return": 0.1}]})


def test_performance_report_of_a_stored_backtest_matches_its_metrics(host: Host) -> None:
    run = host.call("backtest.run", {"strategy": "sma_crossover", "symbol": "ORCL", "provider": "csv",
                                     "start": "2005-01-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"})
    got = host.call("analytics.performance_report", {"run_id": run["run_id"][:12], "chart": "drawdown"})
    assert got["metrics"]["sharpe"] == pytest.approx(run["metrics"]["sharpe"], rel=1e-9)
    assert got["metrics"]["max_drawdown"] == pytest.approx(run["metrics"]["max_drawdown"], rel=1e-9)
    assert got["chart"]["media_type"] == "image/png"
    versus = host.call("analytics.performance_report", {"run_id": run["run_id"], "benchmark": "NVDA"})
    assert versus["relative"]["beta"] is not None and versus["benchmark"] == "NVDA"


def test_performance_report_of_a_portfolio_against_a_benchmark(host: Host) -> None:
    got = host.call("analytics.performance_report", {**WINDOW, "symbols": ["ORCL", "YHOO"], "benchmark": "NVDA"})
    r = returns(["ORCL", "YHOO", "NVDA"], START, END)
    p, b = r[:, :2] @ np.array([0.5, 0.5]), r[:, 2]
    beta = np.cov(p, b)[0, 1] / np.var(b, ddof=1)
    assert got["relative"]["beta"] == pytest.approx(beta, rel=1e-9)
    assert got["relative"]["correlation"] == pytest.approx(np.corrcoef(p, b)[0, 1], rel=1e-9)
    assert got["metrics"]["total_return"] == pytest.approx(np.prod(1 + p) - 1, rel=1e-9)
    assert [y["year"] for y in got["monthly"]] == [2010, 2011, 2012, 2013, 2014]


def test_kelly_for_a_bet_and_for_assets(host: Host) -> None:
    bet = host.call("risk.kelly", {"mode": "bet", "probability": 0.6, "odds": 2.0, "bankroll": 1000})
    assert bet["full_kelly"] == pytest.approx(0.2) and bet["stake_amount"] == pytest.approx(200)
    one = host.call("risk.kelly", {**WINDOW, "symbols": ["ORCL"], "mode": "assets"})
    r = returns(["ORCL"], START, END)[:, 0]
    assert one["weights"][0]["full_kelly"] == pytest.approx(r.mean() / r.var(ddof=1), rel=1e-9)
    several = host.call("risk.kelly", {**WINDOW, "mode": "assets"})
    rr = returns(SYMBOLS, START, END)
    full = np.linalg.solve(np.cov(rr, rowvar=False), rr.mean(axis=0))
    assert [w["full_kelly"] for w in several["weights"]] == pytest.approx(full.tolist(), rel=1e-8)
    capped = host.call("risk.kelly", {**WINDOW, "mode": "assets", "max_leverage": 1.0, "long_only": True})
    assert capped["leverage"] <= 1 + 1e-9 and all(w["weight"] >= -1e-9 for w in capped["weights"])


def test_position_size_by_atr_risks_the_asked_share_of_equity(host: Host) -> None:
    got = host.call("risk.position_size", {"symbol": "ORCL", "equity": 100_000, "method": "atr", "provider": "csv",
                                           "end": "2014-12-31T00:00:00Z", "risk_per_trade": 0.01, "window": 14})
    d = got["details"]
    assert d["risk_amount"] == pytest.approx(1000) and d["stop_distance"] == pytest.approx(2 * d["atr"])
    assert got["shares"] == pytest.approx(1000 / d["stop_distance"])
    assert got["price"] == pytest.approx(float(closes(["ORCL"], START, END)[1][-1, 0]))
    vol = host.call("risk.position_size", {"symbol": "ORCL", "equity": 100_000, "provider": "csv",
                                           "end": "2014-12-31T00:00:00Z", "target_volatility": 0.05})
    r = returns(["ORCL"], START, END)[-20:, 0]
    assert vol["details"]["realized_volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(252), rel=1e-9)


def test_volatility_ewma_and_garch(host: Host) -> None:
    got = host.call("risk.volatility", {**WINDOW, "symbols": ["ORCL"], "horizon": 5})
    r = returns(["ORCL"], START, END)[:, 0]
    s = 0.0
    norm = 0.0
    for x in r:  # RiskMetrics recursion, normalised weights
        s, norm = 0.94 * s + x * x, 0.94 * norm + 1
    (asset,) = got["assets"]
    assert asset["ewma"] == pytest.approx(math.sqrt(s / norm) * math.sqrt(252), rel=1e-9)
    g = asset["garch"]
    assert 0 < g["alpha"] < 1 and 0 < g["beta"] < 1 and g["persistence"] < 1 and g["converged"]


class WorstBar:
    @hookimpl
    def nt_register_risk_models(self, register: Any) -> None:
        def worst(inputs: Any) -> VarEstimate:
            loss = float(-(inputs.returns @ inputs.weights).min())
            return VarEstimate(method="worst_bar", var=loss, cvar=loss, confidence=inputs.confidence,
                               horizon=inputs.horizon)

        register(RiskModel(name="worst_bar", summary="The worst bar of the history.", estimate=worst))


def test_a_pack_adds_a_risk_model_through_the_hook(csv_dir: Any, nt_host_factory: HostFactory) -> None:
    host = nt_host_factory(plugins=[WorstBar()])
    names = [m["name"] for m in host.call("risk.models", {})["models"]]
    assert names[:5] == ["historical", "normal", "student_t", "cornish_fisher", "monte_carlo"]
    assert names[5] == "worst_bar"
    got = host.call("risk.analyze", {**PORTFOLIO, "methods": ["normal", "worst_bar"]})
    worst = -(returns(SYMBOLS, START, END) @ np.array(WEIGHTS)).min()
    assert got["methods"][1] == {"method": "worst_bar", "var": pytest.approx(worst), "cvar": pytest.approx(worst),
                                 "var_amount": None, "cvar_amount": None, "details": {}}
    assert host.call("risk.var", {**PORTFOLIO, "method": "worst_bar"})["figure"]["var"] == pytest.approx(worst)


@pytest.mark.parametrize(("params", "error", "field"), [
    ({**PORTFOLIO, "weights": [0.5, 0.3, 0.1]}, NtUserError, "weights must sum to 1"),
    ({**PORTFOLIO, "weights": [0.5, 0.5]}, NtUserError, "weights has 2 values"),
    ({**PORTFOLIO, "confidence": 1.5}, NtValidationError, "confidence"),
    ({**PORTFOLIO, "method": "astrology"}, NtUserError, "method must name a risk model"),
    ({**PORTFOLIO, "symbols": ["ORCL", "ORCL", "NVDA"]}, NtUserError, "symbols repeat"),
    ({**PORTFOLIO, "start": "2014-12-20T00:00:00Z", "horizon": 10}, NtUserError, "returns"),
    ({**PORTFOLIO, "n_scenarios": 10}, NtValidationError, "n_scenarios"),
])
def test_bad_input_names_the_field(host: Host, params: dict[str, Any], error: type, field: str) -> None:
    with pytest.raises(error, match=field):
        host.call("risk.var", params)


async def test_bad_input_is_a_422_on_rest_and_an_error_on_mcp(host: Host, nt_mcp: Any, nt_rest: Any) -> None:
    bad = {**PORTFOLIO, "weights": [0.9, 0.3, 0.2]}
    response = await nt_rest.post("/v1/risk/analyze", json=bad)
    assert response.status_code == 422 and "weights must sum to 1" in response.json()["error"]["message"]
    called = await nt_mcp.call_tool("risk_analyze", bad)
    assert called.is_error and "weights must sum to 1" in called.content[0].text


def test_without_symbols_the_account_holdings_are_analysed(host: Host) -> None:
    with pytest.raises(NtUserError, match="holds nothing"):
        host.call("risk.analyze", {"provider": "csv"})


def test_a_stored_run_against_a_benchmark_compares_the_same_bars(host: Host) -> None:
    run = host.call("backtest.run", {"strategy": "momentum", "symbol": "YHOO", "provider": "csv",
                                     "start": "2005-01-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"})
    got = host.call("analytics.performance_report", {"run_id": run["run_id"], "benchmark": "NVDA"})
    dates, c = closes(["NVDA"], "2005-01-01", "2014-12-31")
    assert got["benchmark_metrics"]["total_return"] == pytest.approx(c[-1, 0] / c[0, 0] - 1, rel=1e-9)
    assert got["data"]["n_returns"] == dates.shape[0] - 1


def test_without_symbols_the_paper_accounts_holdings_are_weighted_by_value(
        host: Host, monkeypatch: pytest.MonkeyPatch, nt_host_factory: HostFactory) -> None:
    from tests.orders.test_trading_ops import FixedQuotes, TestPlugin

    FixedQuotes.PRICES = {"ORCL": (39.9, 40.1), "NVDA": (19.9, 20.1)}
    monkeypatch.setenv("NT_MARKET_CHAIN", "fixed,csv")
    trading = nt_host_factory(plugins=[TestPlugin()])
    for coid, symbol, qty in (("r-1", "ORCL", "300"), ("r-2", "NVDA", "200")):
        order = trading.call("trade.execute", {"client_order_id": coid, "symbol": symbol, "side": "buy", "qty": qty,
                                               "confirm": True})
        assert order["status"] == "filled", order
    got = trading.call("risk.analyze", {"provider": "csv", "start": f"{START}T00:00:00Z", "end": f"{END}T00:00:00Z",
                                        "methods": ["normal"]})
    weights = {a["symbol"]: a["weight"] for a in got["assets"]}
    assert weights == pytest.approx({"ORCL": 300 * 40 / 16_000, "NVDA": 200 * 20 / 16_000})


def test_monte_carlo_work_is_bounded_by_scenarios_times_assets(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader_plugins.risk import api

    monkeypatch.setattr(api, "MAX_SCENARIO_ASSETS", 1_000_000)
    with pytest.raises(NtUserError, match="at most 333,333 scenarios with 3 assets"):
        host.call("risk.var", {**PORTFOLIO, "method": "monte_carlo", "n_scenarios": 1_000_000})
    with pytest.raises(NtUserError, match="n_scenarios x assets"):
        host.call("risk.analyze", {**PORTFOLIO, "n_scenarios": 1_000_000})
    assert host.call("risk.var", {**PORTFOLIO, "method": "normal", "n_scenarios": 1_000_000})["figure"]["var"] > 0
