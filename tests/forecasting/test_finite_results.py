"""No forecasting result carries NaN or an infinity (the REST server cannot write them: it answered 500).

Schemathesis trained with a tiny ``alpha`` and forecast: too few validation residuals for that level
make the split-conformal half-width infinite, and the forecast's upper bound was ``inf``. Training now
refuses such an alpha, a model stored before is a clear error, and a model whose forecasts are NaN or
overflow a price is a 422 that says what to do, in neural.forecast, neural.evaluate, neural.backtest
and neural.train."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import artifacts, conformal, serving
from neural_trader_plugins.forecasting.api import StepForecast, require_finite

from .conftest import TRAIN

# -- the rules, by hand --------------------------------------------------------------------------------


def test_intervals_are_bounded_exactly_when_the_rank_fits() -> None:
    # n = 19 residuals: alpha 0.05 -> rank ceil(20 * 0.95) = 19 <= 19; alpha 0.049 -> ceil(19.02) = 20 > 19
    assert conformal.bounded(19, 0.05) and not conformal.bounded(19, 0.049)
    assert conformal.bounded(192, 1 / 193) and not conformal.bounded(192, 0.001)
    scores = np.arange(1.0, 20.0)
    assert conformal.conformal_quantile(scores, 0.05)[0] == 19.0
    assert conformal.conformal_quantile(scores, 0.049)[0] == math.inf


def test_require_finite_names_the_field() -> None:
    steps = [StepForecast(step=1, price=10.0, lower=9.0, upper=11.0),
             StepForecast(step=2, price=10.0, lower=0.0, upper=math.inf)]
    with pytest.raises(NtUserError, match=r"model m1 gives inf for steps\[1\]\.upper.*retrain it"):
        require_finite(steps, "m1", "steps")
    with pytest.raises(NtUserError, match=r"gives nan for a\.b\[0\]"):
        require_finite({"a": {"b": [math.nan]}}, "m1")
    assert require_finite(steps[:1], "m1", "steps") == steps[:1]


# -- through the REST app ------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

#: The request schemathesis sent, on the model just trained (symbol 0 from the synthetic provider).
FORECAST = {"symbol": "0", "provider": "synthetic", "engine": "onnxruntime", "chart": False}


def _message(response: Any) -> str:
    assert response.status_code == 422, (response.status_code, response.text)
    return str(response.json()["error"]["message"])


async def test_training_refuses_an_alpha_too_small_for_its_validation_windows(orcl_host: Any,
                                                                              nt_rest: Any) -> None:
    message = _message(await nt_rest.post("/v1/neural/train", json={**TRAIN, "alpha": 0.001}))
    assert "alpha 0.001 is too small" in message and "unbounded" in message and "raise alpha" in message
    assert (await orcl_host.acall("neural.models", {"symbol": "ORCL"}))["models"] == []


async def test_a_stored_model_with_unbounded_intervals_is_a_clear_error(orcl_host: Any, nt_rest: Any) -> None:
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    model_id = (await orcl_host.acall("neural.train", TRAIN))["model_id"]
    ok = await nt_rest.post("/v1/neural/forecast", json={**FORECAST, "model_id": model_id})
    assert ok.status_code == 200, ok.text  # the server writes no NaN: a 200 is all finite
    assert all(0 < s["lower"] < s["price"] < s["upper"] for s in ok.json()["steps"])
    # a version stored before training refused such an alpha: its half-widths are infinite (in its row
    # and in the config next to its files, which is the one served)
    with orcl_host.services.storage.session(write=True) as session:
        row = session.get(ForecastModelRow, model_id)
        config = json.loads(row.config)
        config["conformal"]["q"] = [math.inf] * len(config["conformal"]["q"])
        row.config = json.dumps(config)
        session.add(row)
        path = Path(orcl_host.settings.data_dir) / row.artifact_dir / artifacts.CONFIG
    served = artifacts.read_config(path)
    served["conformal"]["q"] = config["conformal"]["q"]
    artifacts.write_config(path, served)
    posted = _message(await nt_rest.post("/v1/neural/forecast", json={**FORECAST, "model_id": model_id}))
    got = _message(await nt_rest.get("/v1/neural/forecast", params={**FORECAST, "chart": "false",
                                                                     "model_id": model_id}))
    assert posted == got and f"model {model_id} has unbounded intervals" in got and "retrain it" in got


def _serving(monkeypatch: pytest.MonkeyPatch, value: float) -> None:
    """Every ONNX session of the pack answers ``value`` for every step (broken weights)."""
    real = serving._onnx

    def broken(path: Path, config: Any, sha256: str | None) -> serving.Predictor:
        p = real(path, config, sha256)
        horizon = int(config["horizon"])
        return attrs.evolve(p, run=lambda x: np.full((x.shape[0], horizon), value, dtype=np.float32))

    monkeypatch.setattr(serving, "_onnx", broken)


async def test_nan_and_overflowing_forecasts_are_clear_errors(orcl_host: Any, nt_rest: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model_id = (await orcl_host.acall("neural.train", TRAIN))["model_id"]
    _serving(monkeypatch, 800.0)  # exp(800) overflows a float: the price would be inf
    message = _message(await nt_rest.post("/v1/neural/forecast", json={**FORECAST, "model_id": model_id}))
    assert f"model {model_id} gives inf for steps[0].price" in message
    _serving(monkeypatch, math.nan)
    for path, body in (("forecast", {**FORECAST, "model_id": model_id}),
                       ("evaluate", {"model_id": model_id, "engine": "onnxruntime", "start": "2013-01-01T00:00:00Z"}),
                       ("backtest", {"model_id": model_id, "symbol": "ORCL", "start": "2013-01-01T00:00:00Z"})):
        message = _message(await nt_rest.post(f"/v1/neural/{path}", json=body))
        assert "forecasts NaN or inf" in message and "retrain it" in message, path


async def test_training_refuses_a_model_whose_forecasts_are_not_prices(orcl_host: Any, nt_rest: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader_plugins.forecasting import training

    monkeypatch.setattr(training, "predict", lambda model, x, data, **kw: np.full((x.shape[0], data.horizon), 800.0))
    message = _message(await nt_rest.post("/v1/neural/train", json=TRAIN))
    assert "not finite prices" in message and "lower learning_rate" in message
    assert (await orcl_host.acall("neural.models", {"symbol": "ORCL"}))["models"] == []
    assert not list((Path(orcl_host.settings.data_dir)).rglob("checkpoint.pt"))
