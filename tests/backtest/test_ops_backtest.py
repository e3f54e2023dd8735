"""The backtest operations through the host, the CLI, MCP and REST: stored runs, reproduction,
comparison, optimisation, charts, progress, cancellation and every kind of bad input.

(Each operation's first example is also called through all three frontends by
tests/frontends/test_every_operation.py.)
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from neural_trader.errors import NtCancelled, NtNotFound, NtUserError, NtValidationError
from neural_trader.frontends import mcp, rest
from neural_trader.host import Host, make_host
from neural_trader.ops import CancelToken, Identity, Scope
from neural_trader.plugins import PluginUnavailable
from neural_trader_cli.main import make_cli

PLUGINS = ("neural_trader_plugins.backtest", "neural_trader_plugins.executors", "neural_trader_plugins.executors_ray",
           "neural_trader_plugins.strategies", "neural_trader_plugins.market")
READER = Identity(name="reader", scopes=frozenset({Scope.READ}))
WINDOW = {"symbol": "SPY", "provider": "synthetic", "start": "2021-01-04", "end": "2023-12-29"}
PNG = b"\x89PNG\r\n\x1a\n"


def make_bt_host() -> Host:
    """The installed plugins, plus any of ours whose entry point is not installed yet."""
    installed = {ep.value for ep in entry_points(group="neural_trader")}
    extra = []
    for name in PLUGINS:
        if name not in installed:
            with contextlib.suppress(PluginUnavailable):
                extra.append(importlib.import_module(name))
    return make_host(strict=True, plugins=extra)


@pytest.fixture
def host() -> Any:
    with make_bt_host() as h:
        yield h


def cli(host: Host, *args: str) -> Any:
    return CliRunner().invoke(make_cli(host), list(args))


# -- stored runs -------------------------------------------------------------------------------
def test_a_run_is_stored_and_the_same_request_returns_the_same_answer(host: Host) -> None:
    params = {**WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30},
              "max_trades": 5, "equity_points": 50}
    first = host.call("backtest.run", params)
    assert host.call("backtest.run", params) == first
    bars = host.call("market.bars", {**WINDOW, "timeframe": "1Day"})
    assert first["bars"] == len(bars["close"]) and first["params"] == {"fast": 10, "slow": 30}
    assert len(first["trades"]) == 5 <= first["n_trades"] == first["metrics"]["n_trades"]
    assert len(first["equity"]) == 50
    assert first["equity"][-1]["equity"] == pytest.approx(first["metrics"]["final_equity"])
    listed = host.call("backtest.list", {"strategy": "sma_crossover"})
    assert listed["total"] == 1 and listed["runs"][0]["run_id"] == first["run_id"]
    got = host.call("backtest.get", {"run_id": first["run_id"], "max_trades": 5, "equity_points": 50})
    assert got == first
    assert host.call("backtest.get", {"strategy": "sma_crossover", "symbol": "spy", "max_trades": 5,
                                      "equity_points": 50}) == first
    request = {k: v for k, v in params.items() if k not in ("max_trades", "equity_points")}
    assert host.call("backtest.get", {"request": request, "max_trades": 5, "equity_points": 50}) == first
    assert host.call("backtest.list", {})["total"] == 1  # the request named the stored run


def test_get_by_request_runs_a_request_that_never_ran_and_takes_one_way_only(host: Host) -> None:
    request = {**WINDOW, "strategy": "breakout"}
    got = host.call("backtest.get", {"request": request})
    assert host.call("backtest.run", request) == got
    with pytest.raises(NtUserError, match=r"one way: .*got run_id and request"):
        host.call("backtest.get", {"run_id": got["run_id"], "request": request})
    with pytest.raises(NtUserError, match="name the run one way"):
        host.call("backtest.get", {})
    with pytest.raises(NtNotFound, match="no stored backtest run of momentum on SPY"):
        host.call("backtest.get", {"strategy": "momentum", "symbol": "SPY"})


def test_other_params_are_another_run(host: Host) -> None:
    a = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover"})
    b = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 12}})
    c = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "config": {"commission_pct": 0.001}})
    assert len({a["run_id"], b["run_id"], c["run_id"]}) == 3
    assert a["data_fingerprint"] == b["data_fingerprint"] == c["data_fingerprint"]
    assert c["metrics"]["total_fees"] > 0 == a["metrics"]["total_fees"]
    assert host.call("backtest.list", {})["total"] == 3


def test_a_stored_run_reproduces_and_a_tampered_one_does_not(host: Host) -> None:
    run = host.call("backtest.run", {**WINDOW, "strategy": "momentum"})
    check = host.call("backtest.get", {"run_id": run["run_id"], "reproduce": True})["reproduction"]
    assert check == {"reproduced": True, "data_matches": True, "result_matches": True, "code_matches": True,
                     "data_fingerprint": run["data_fingerprint"], "result_fingerprint": run["result_fingerprint"],
                     "code_version": run["code_version"]}
    with host.services.storage.session() as session:
        session.execute(sa.text("UPDATE backtest_runs SET result_fingerprint = 'tampered' WHERE id = :id"),
                        {"id": run["run_id"]})
    check = host.call("backtest.get", {"run_id": run["run_id"], "reproduce": True})["reproduction"]
    assert check["data_matches"] and not check["result_matches"] and not check["reproduced"]


def test_monte_carlo_of_a_run_uses_its_trades(host: Host) -> None:
    run = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "monte_carlo": 500, "seed": 1})
    mc = run["monte_carlo"]
    assert mc["n_sims"] == 500 and mc["n_trades"] == run["n_trades"]
    assert mc["final_equity"]["p5"] <= mc["final_equity"]["p50"] <= mc["final_equity"]["p95"]
    assert mc["max_drawdown"]["p95"] <= 0
    again = host.call("backtest.get", {"run_id": run["run_id"], "monte_carlo": 500, "seed": 1})
    assert again["monte_carlo"] == mc


def test_a_benchmark_adds_alpha_and_beta(host: Host) -> None:
    run = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "benchmark": "QQQ"})
    assert run["benchmark"] == "QQQ"
    assert {"benchmark_return", "benchmark_alpha", "benchmark_beta"} <= set(run["metrics"])


# -- bad input ---------------------------------------------------------------------------------
def test_an_unknown_strategy_lists_the_available_ones(host: Host) -> None:
    with pytest.raises(NtNotFound, match=r"no strategy named 'sma_cross' \(did you mean sma_crossover\?\); "
                                         r"available: .*momentum.*sma_crossover"):
        host.call("backtest.run", {**WINDOW, "strategy": "sma_cross"})
    result = cli(host, "backtest", "run", "--strategy", "nope", "--symbol", "SPY")
    assert result.exit_code == 3 and "available:" in result.output


def test_out_of_bounds_params_name_the_field_and_its_bounds(host: Host) -> None:
    with pytest.raises(NtValidationError) as info:
        host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 0}})
    assert info.value.details == [{"path": "$.strategy_params.fast", "message": "fast must be >= 1 and <= 10000, got 0"}]
    with pytest.raises(NtUserError, match=r"fast \(40\) must be less than slow \(30\)"):
        host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 40}})

    async def rest_call() -> httpx.Response:
        app = rest.build_app(host, authenticate=lambda _h: READER)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            return await c.post("/v1/backtest/run", json={**WINDOW, "strategy": "sma_crossover",
                                                           "strategy_params": {"slow": 20_000}})

    response = anyio.run(rest_call)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["message"] == "slow must be >= 2 and <= 10000, got 20000"


def test_too_few_bars_for_the_longest_window_says_how_many(host: Host) -> None:
    with pytest.raises(NtUserError, match=r"strategy sma_crossover .* needs at least 302 bars, but SPY has 43 "
                                          r"1Day bars between 2023-11-01 and 2023-12-29"):
        host.call("backtest.run", {**WINDOW, "start": "2023-11-01", "strategy": "sma_crossover",
                                   "strategy_params": {"fast": 50, "slow": 300}})


def test_a_range_without_bars_says_so(host: Host) -> None:
    with pytest.raises(NtUserError, match=r"no 1Day bars of SPY between 2023-01-07.*2023-01-08"):
        host.call("backtest.run", {**WINDOW, "start": "2023-01-07", "end": "2023-01-08", "strategy": "momentum"})


def test_too_many_combinations_asks_for_a_limit(host: Host) -> None:
    params = {**WINDOW, "strategy": "sma_crossover",
              "space": {"fast": {"low": 1, "high": 100}, "slow": {"low": 2, "high": 400}}}
    with pytest.raises(NtUserError, match=r"39,900 parameter combinations, more than max_combinations=10,000"):
        host.call("optimize.run", params)
    result = cli(host, "optimize", "run", "--params", json.dumps(params), "--json")
    assert result.exit_code == 2 and "max_combinations" in result.output


# -- compare -------------------------------------------------------------------------------------
def test_compare_takes_comma_lists_from_the_cli_and_sorts_best_first(host: Host) -> None:
    result = cli(host, "backtest", "compare", "--strategies", "sma_crossover,momentum", "--strategies", "breakout",
                 "--symbol", "SPY", "--provider", "synthetic", "--start", "2021-01-04", "--end", "2023-12-29",
                 "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {r["strategy"] for r in out["rows"]} == {"sma_crossover", "momentum", "breakout"}
    sharpes = [r["sharpe"] for r in out["rows"]]
    assert sharpes == sorted(sharpes, reverse=True)
    closes = host.call("market.bars", {**WINDOW, "timeframe": "1Day"})
    assert out["bars"] == len(closes["close"])
    assert out["buy_and_hold_return"] == pytest.approx(closes["close"][-1] / closes["close"][0] - 1)
    # every row is a stored run
    for row in out["rows"]:
        assert host.call("backtest.get", {"run_id": row["run_id"]})["strategy"] == row["strategy"]


def test_compare_by_default_runs_every_strategy_that_fits_and_says_why_others_did_not(host: Host) -> None:
    out = host.call("backtest.compare", WINDOW)
    names = {r["strategy"] for r in out["rows"]} | {s["strategy"] for s in out["skipped"]}
    assert names == set(host.registry("strategies").names())
    assert {"sma_crossover", "momentum"} <= {r["strategy"] for r in out["rows"]}
    assert any(s["strategy"] == "pairs_trading" and "2 symbols" in s["reason"] for s in out["skipped"])


def test_compare_and_run_return_png_charts_and_the_cli_writes_them(host: Host, tmp_path: Path) -> None:
    out = host.call("backtest.compare", {**WINDOW, "strategies": ["sma_crossover", "momentum"], "chart": True})
    assert out["chart"]["media_type"] == "image/png" and base64.b64decode(out["chart"]["data"]).startswith(PNG)
    target = tmp_path / "equity.png"
    result = cli(host, "backtest", "run", "--strategy", "sma_crossover", "--symbol", "SPY", "--start",
                 "2021-01-04", "--end", "2023-12-29", "--chart", "drawdown", "--plot", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(PNG)


def test_mcp_returns_the_chart_as_image_content(host: Host) -> None:
    async def call() -> Any:
        async with mcp.in_memory_client(host, identity=READER) as session:
            return await session.call_tool("backtest_run", {**WINDOW, "strategy": "momentum", "chart": "equity"})

    called = anyio.run(call)
    assert not called.is_error
    images = [c for c in called.content if c.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(PNG)


# -- optimisation through the operation ----------------------------------------------------------
def test_optimize_reports_the_best_stores_it_and_reports_progress(host: Host) -> None:
    seen: list[tuple[float, float | None]] = []
    out = host.call("optimize.run", {**WINDOW, "strategy": "sma_crossover",
                                     "space": {"fast": {"values": [5, 10, 20]}, "slow": {"low": 20, "high": 60,
                                                                                          "step": 20}}},
                    on_progress=lambda d, t, m: seen.append((d, t)))
    assert out["space"] == {"fast": [5, 10, 20], "slow": [20, 40, 60]}
    assert out["space_size"] == 9 and out["evaluated"] == 8 and out["refused"] == 1
    assert seen[-1] == (8, 8) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    best = host.call("backtest.get", {"run_id": out["best_run_id"]})
    assert best["params"] == out["best_params"] == out["top"][0]["params"]
    assert best["metrics"]["sharpe"] == pytest.approx(out["best_objective"])
    objectives = [t["objective"] for t in out["top"]]
    assert objectives == sorted(objectives, reverse=True)


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_optimize_gives_the_same_answer_on_every_executor(host: Host, executor: str) -> None:
    params = {**WINDOW, "strategy": "mean_reversion", "method": "random", "n_trials": 12, "seed": 3,
              "space": {"window": {"low": 10, "high": 40}, "entry_z": {"low": 1.0, "high": 2.5}}}
    reference = host.call("optimize.run", {**params, "executor": "serial"})
    out = host.call("optimize.run", {**params, "executor": executor, "workers": 2})
    assert {**out, "executor": "serial"} == reference


def test_optimize_with_optuna_searches_within_the_bounds(host: Host) -> None:
    pytest.importorskip("optuna")
    out = host.call("optimize.run", {**WINDOW, "strategy": "sma_crossover", "method": "optuna", "n_trials": 16,
                                     "seed": 2, "objective": "total_return",
                                     "space": {"fast": {"low": 2, "high": 30}, "slow": {"low": 31, "high": 120}}})
    assert out["evaluated"] + out["refused"] == 16
    assert 2 <= out["best_params"]["fast"] <= 30 and 31 <= out["best_params"]["slow"] <= 120
    assert out["best_objective"] == max(t["objective"] for t in out["top"] if t["objective"] is not None)


def test_cancelling_stops_an_optimisation(host: Host) -> None:
    token = CancelToken()
    calls = []

    def progress(done: float, total: float | None, message: str | None) -> None:
        calls.append(done)
        token.cancel()

    with pytest.raises(NtCancelled):
        host.call("optimize.run", {**WINDOW, "strategy": "sma_crossover", "executor": "serial"},
                  cancel=token, on_progress=progress)
    assert len(calls) == 1


def test_an_unknown_executor_lists_the_available_ones(host: Host) -> None:
    with pytest.raises(NtNotFound, match=r"no executor named 'dask'; available: processes, .*serial, threads"):
        host.call("optimize.run", {**WINDOW, "strategy": "sma_crossover", "executor": "dask"})
    names = {e["name"]: e for e in host.call("executors.list", {})["executors"]}
    assert {"serial", "threads", "processes"} <= set(names)
    assert all(e["available"] for n, e in names.items() if n != "ray")


# -- analysis -------------------------------------------------------------------------------------
def test_quick_analysis_is_computed_from_the_bars_and_says_what_they_show(host: Host) -> None:
    out = host.call("analysis.quick", {"symbol": "SPY", "provider": "synthetic", "start": "2019-01-01",
                                       "end": "2023-12-29"})
    bars = host.call("market.bars", {"symbol": "SPY", "provider": "synthetic", "timeframe": "1Day",
                                     "start": "2019-01-01", "end": "2023-12-29"})
    close = np.array(bars["close"])
    assert out["close"] == close[-1] and out["bars"] == len(close)
    assert out["returns"]["21_bars"] == pytest.approx(close[-1] / close[-22] - 1)
    assert out["trend"]["sma50"] == pytest.approx(close[-50:].mean())
    assert out["trend"]["close_vs_sma200"] == pytest.approx(close[-1] / close[-200:].mean() - 1)
    logret = np.diff(np.log(close))
    assert out["volatility"]["annualized_63"] == pytest.approx(np.std(logret[-63:], ddof=1) * np.sqrt(252))
    assert out["indicators"]["from_high"] == pytest.approx(close[-1] / close[-252:].max() - 1)
    t = out["trend"]
    expected = ("uptrend" if close[-1] > t["sma50"] > t["sma200"] and t["slope_annualized"] > 0 else
                "downtrend" if close[-1] < t["sma50"] < t["sma200"] and t["slope_annualized"] < 0 else "mixed")
    assert t["label"] == expected
    summary = out["summary"]
    assert f"RSI(14) is {out['indicators']['rsi14']:.0f}" in summary
    assert f"{out['close']:.2f}" in summary and out["volatility"]["regime"] in summary


def test_quick_analysis_reads_one_symbol(host: Host) -> None:
    with pytest.raises(NtUserError, match="one symbol"):
        host.call("analysis.quick", {"symbol": "SPY,QQQ", "provider": "synthetic"})


def test_every_operation_needs_only_the_read_scope(host: Host) -> None:
    mine = [op for op in host.operations if op.plugin == "backtest"]
    assert len(mine) == 10
    assert all(op.scope is Scope.READ and op.idempotent and not op.destructive for op in mine)
    # Those that store runs say so (MCP readOnlyHint); the rest only read.
    assert {op.name for op in mine if not op.read_only} == {"backtest.run", "backtest.compare", "backtest.get",
                                                            "optimize.run"}
    assert host.call("strategies.describe", {"name": "sma_crossover"}, identity=READER)["warmup"] == 30
