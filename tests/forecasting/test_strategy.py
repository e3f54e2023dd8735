"""The neural_trend strategy: its targets are the sign rule on the model's own forecasts (computed here
through torch from the weights), it does not look ahead, it is registered so backtest.run runs it, and
neural.backtest is that same stored run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from neural_trader.errors import NtUserError

from .conftest import TRAIN, orcl_columns

torch = pytest.importorskip("torch")


class _Bars:
    def __init__(self, close: np.ndarray, high: np.ndarray, low: np.ndarray, volume: np.ndarray) -> None:
        self.close, self.high, self.low, self.volume = close, high, low, volume
        self.open = close
        self.symbol = "ORCL"


def test_targets_are_the_confidence_rule_on_the_forecasts(orcl_host: Any) -> None:
    from neural_trader_plugins.forecasting import features, registry
    from neural_trader_plugins.forecasting.export import load_state, scaled_module
    from neural_trader_plugins.forecasting.models import ARCHITECTURES

    strategy = orcl_host.registry("strategies").get("neural_trend")
    ref = registry.pretrained()
    cols = orcl_columns("2013-01-01", "2014-12-31")
    bars = _Bars(*cols)
    params = strategy.make_params({"threshold": 0.02, "step": 2})
    got = strategy.signals(bars, params)

    fm = features.feature_matrix(*cols)
    lb = ref.lookback
    ends = np.arange(fm.first_valid + lb - 1, len(cols[0]))  # every full window, up to the last bar
    x = np.stack([fm.values[e - lb + 1:e + 1] for e in ends])
    net = scaled_module(ARCHITECTURES[ref.architecture], ref.config, load_state(ref.directory / "weights.safetensors"))
    with torch.no_grad():
        y = net(torch.as_tensor(x, dtype=torch.float32)).double().numpy()[:, 1]
    conf = y / ref.config["conformal"]["q"][1]
    want = np.full(len(cols[0]), np.nan)
    want[ends] = np.where(conf > 0.02, 1.0, np.where(conf < -0.02, -1.0, 0.0))
    near = np.abs(np.abs(conf) - 0.02) < 1e-5  # float32 graph vs eager: leave exact ties out
    keep = np.ones(len(cols[0]), dtype=bool)
    keep[ends[near]] = False
    np.testing.assert_array_equal(got[keep], want[keep])
    assert np.isnan(got[:strategy.warmup(params)]).all() and not np.isnan(got[strategy.warmup(params)])
    assert set(np.unique(got[~np.isnan(got)])) == {-1.0, 0.0, 1.0}  # it trades both ways, and stands aside


def test_appending_future_bars_changes_no_earlier_target(orcl_host: Any) -> None:
    strategy = orcl_host.registry("strategies").get("neural_trend")
    params = strategy.make_params({"threshold": 0.05})
    cols = orcl_columns("2012-01-01", "2014-12-31")
    full = strategy.signals(_Bars(*cols), params)
    for cut in (200, 450):
        head = strategy.signals(_Bars(*(c[:cut] for c in cols)), params)
        np.testing.assert_array_equal(head, full[:cut])


def test_a_step_beyond_the_horizon_and_a_model_without_files_are_clear(orcl_host: Any) -> None:
    strategy = orcl_host.registry("strategies").get("neural_trend")
    cols = orcl_columns("2013-01-01", "2013-12-31")
    with pytest.raises(NtUserError, match="at most the model's horizon"):
        strategy.signals(_Bars(*cols), strategy.make_params({"step": 99}))
    with pytest.raises(NtUserError, match=r"neural\.export writes"):
        strategy.signals(_Bars(*cols), strategy.make_params({"model_id": "abcdef"}))


def test_neural_backtest_is_backtest_run_of_neural_trend(orcl_host: Any) -> None:
    model_id = orcl_host.call("neural.train", TRAIN)["model_id"]
    span = {"start": "2014-01-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"}
    got = orcl_host.call("neural.backtest", {"symbol": "ORCL", "threshold": 0.05, **span})
    assert got["model_id"] == model_id  # the symbol's newest version
    report = got["report"]
    assert report["strategy"] == "neural_trend" and report["params"]["model_id"] == model_id
    same = orcl_host.call("backtest.run", {"symbol": "ORCL", "provider": "csv", "strategy": "neural_trend",
                                           "strategy_params": {"model_id": model_id, "threshold": 0.05}, **span})
    assert same["run_id"] == report["run_id"]
    assert same["metrics"] == report["metrics"]
    assert report["n_trades"] > 0
