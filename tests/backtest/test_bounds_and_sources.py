"""Backtest operations: the default data source is the market's, synthetic bars say so, the cost
bounds refuse before work, symbols follow the market's pattern, and a file can be named directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_trader.backtest.space import default_space, grid_size, resolve_space
from neural_trader.errors import NtLimitExceeded, NtValidationError
from neural_trader.host import Host, make_host
from neural_trader.settings import load_settings
from neural_trader_plugins import backtest, executors, market, strategies, system

DATA = Path(__file__).resolve().parents[1] / "data"
WINDOW = {"symbol": "SPY", "start": "2022-01-03", "end": "2023-12-29"}


@pytest.fixture
def host(tmp_path: Path) -> Host:
    h = make_host(autoload=False, plugins=[market, backtest, strategies, executors, system], strict=True,
                  settings=load_settings(env={}, data_dir=tmp_path / "d", max_combinations=50, max_splits=3,
                                         max_monte_carlo=10, max_workers=2, max_symbols=2,
                                         max_backtests=60))
    yield h
    h.close()


def test_backtests_default_to_the_markets_source_and_say_synthetic(host: Host) -> None:
    bars = host.call("market.bars", {**WINDOW, "start": "2022-01-03T00:00:00Z", "end": "2023-12-29T00:00:00Z"})
    result = host.call("backtest.compare", {**WINDOW, "strategies": ["sma_crossover"]})
    assert result["provider"] == bars["provider"] == "synthetic"
    assert result["synthetic"] is True and bars["synthetic"] is True
    assert result["warnings"][0].startswith("synthetic data: the bars of SPY are generated")
    run = host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover"})
    assert run["synthetic"] is True and run["warnings"] == result["warnings"]
    assert host.call("backtest.get", {"run_id": run["run_id"]})["synthetic"] is True
    quick = host.call("analysis.quick", {"symbol": "SPY", "end": "2023-12-29"})
    assert quick["synthetic"] is True and quick["warnings"]


def test_a_window_the_data_covers_in_part_warns(host: Host) -> None:
    host.call("market.download", {"symbols": ["DEMO"], "provider": "synthetic",
                                  "start": "2023-01-02T00:00:00Z", "end": "2023-12-29T00:00:00Z"})
    run = host.call("backtest.run", {"symbol": "DEMO", "provider": "local", "start": "2020-01-01",
                                     "end": "2023-12-29", "strategy": "sma_crossover"})
    assert run["first_bar"].startswith("2023-01-02") and run["provider"] == "local (synthetic)"
    assert run["synthetic"] is True and any("starts later" in w for w in run["warnings"])


def test_a_file_can_be_backtested_directly(host: Host) -> None:
    path = str(DATA / "orcl-1995-2014.txt")
    run = host.call("backtest.run", {"file": path, "strategy": "sma_crossover"})
    assert run["symbols"] == ["ORCL"] and run["provider"] == "csv" and run["synthetic"] is False
    assert run["first_bar"].startswith("1995") and run["warnings"] == []


@pytest.mark.parametrize(("op", "extra"), [
    ("backtest.run", {"strategy": "sma_crossover"}), ("backtest.compare", {}),
    ("optimize.run", {"strategy": "sma_crossover"}), ("walkforward.run", {"strategy": "sma_crossover"}),
    ("analysis.quick", {}),
])
def test_a_300_character_symbol_is_a_validation_error(host: Host, op: str, extra: dict) -> None:
    with pytest.raises(NtValidationError) as caught:
        host.call(op, {"symbol": "A" * 300, "provider": "local", **extra})
    assert caught.value.http_status == 422 and "$.symbol" in caught.value.message


def test_unknown_strategy_params_are_refused_before_any_data(host: Host) -> None:
    with pytest.raises(NtValidationError, match="has no parameter 'fastest'; its parameters are fast, slow"):
        host.call("backtest.run", {"symbol": "NOSUCH", "provider": "local", "strategy": "sma_crossover",
                                   "strategy_params": {"fastest": 3}})


@pytest.mark.parametrize(("params", "setting"), [
    ({"monte_carlo": 11}, "NT_MAX_MONTE_CARLO"),
    ({"symbol": "KO,PEP,SPY"}, "NT_MAX_SYMBOLS"),
])
def test_run_bounds(host: Host, params: dict, setting: str) -> None:
    with pytest.raises(NtLimitExceeded, match=setting):
        host.call("backtest.run", {**WINDOW, "strategy": "sma_crossover", **params})


@pytest.mark.parametrize(("op", "params", "setting"), [
    ("optimize.run", {"space": {"fast": {"low": 2, "high": 20}, "slow": {"low": 30, "high": 40}}},
     "NT_MAX_COMBINATIONS"),
    ("optimize.run", {"method": "random", "n_trials": 51}, "NT_MAX_COMBINATIONS"),
    ("optimize.run", {"max_combinations": 51}, "NT_MAX_COMBINATIONS"),
    ("optimize.run", {"workers": 3}, "NT_MAX_WORKERS"),
    ("walkforward.run", {"n_splits": 4}, "NT_MAX_SPLITS"),
    ("walkforward.run", {"n_splits": 3, "space": {"fast": {"values": [5, 10, 15, 20, 25]},
                                                   "slow": {"values": [30, 40, 50, 60, 70]}}},
     "NT_MAX_BACKTESTS"),
])
def test_search_bounds_refuse_before_the_data_is_fetched(host: Host, op: str, params: dict,
                                                         setting: str) -> None:
    # provider local holds nothing: a refusal here proves the bound came before any fetch
    with pytest.raises(NtLimitExceeded, match=setting) as caught:
        host.call(op, {"symbol": "NOSUCH", "provider": "local", "strategy": "sma_crossover", **params})
    assert caught.value.http_status == 413 and caught.value.details["setting"] == setting


def test_the_default_grid_fits_max_combinations(host: Host) -> None:
    strategy = host.registry("strategies").get("sma_crossover")
    full = resolve_space(strategy, default_space(strategy, {}))
    small = resolve_space(strategy, default_space(strategy, {}, max_combinations=10))
    assert grid_size(full) == 25 and grid_size(small) <= 10 < 25
    result = host.call("optimize.run", {**WINDOW, "strategy": "sma_crossover", "max_combinations": 10,
                                        "executor": "serial"})
    assert 1 <= result["evaluated"] <= 10 and result["synthetic"] is True


@pytest.mark.parametrize(("operation", "extra"), [
    ("backtest.run", {"strategy": "sma_crossover", "chart": "equity"}),
    ("backtest.compare", {"strategies": ["sma_crossover"], "chart": True}),
])
def test_charts_of_synthetic_runs_say_so_in_the_title(host: Host, monkeypatch: pytest.MonkeyPatch,
                                                      operation: str, extra: dict[str, object]) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    titles: list[str] = []
    original = Axes.set_title

    def record(self: Axes, label: str, *args: object, **kwargs: object) -> object:
        titles.append(label)
        return original(self, label, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_title", record)
    result = host.call(operation, {**WINDOW, **extra})
    assert result["chart"]["data"] and titles and all("SYNTHETIC DATA" in t for t in titles)
