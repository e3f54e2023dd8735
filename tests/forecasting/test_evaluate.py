"""neural.evaluate on the real ORCL file: the model's row is what its torch network predicts on the
range's windows, computed here from the file; the baselines are the closed forms and the statsmodels-
checked smoothing on the same windows; the coverage counts outcomes inside the stored half-widths; a
range overlapping the training bars says in_sample; the same answer from the CLI, MCP and REST."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from neural_trader.errors import NtLimitExceeded
from neural_trader.testing import call_everywhere

from .conftest import TRAIN, orcl_columns

torch = pytest.importorskip("torch")


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(float(np.mean((a - b) ** 2)))


def test_evaluate_scores_the_model_and_the_baselines_on_the_same_windows(orcl_host: Any) -> None:
    from neural_trader_plugins.forecasting import ets, features, registry
    from neural_trader_plugins.forecasting.export import load_state, scaled_module
    from neural_trader_plugins.forecasting.models import ARCHITECTURES

    model_id = orcl_host.call("neural.train", TRAIN)["model_id"]
    got = orcl_host.call("neural.evaluate", {"model_id": model_id, "start": "2014-01-01T00:00:00Z",
                                             "end": "2014-12-31T00:00:00Z"})
    assert got["in_sample"] is False and got["engine"] == "onnxruntime" and got["symbol"] == "ORCL"
    scores = {s["name"]: s for s in got["scores"]}
    assert list(scores) == ["model", "naive", "drift", "seasonal_naive", "ses", "holt"]

    ref = registry.resolve(orcl_host, model_id, None)
    cols = orcl_columns("2014-01-01", "2014-12-31")
    close = cols[0]
    fm = features.feature_matrix(*cols)
    w = features.windows(fm, close, lookback=20, horizon=5)
    assert got["windows"] == len(w)
    net = scaled_module(ARCHITECTURES["gru"], ref.config, load_state(ref.directory / "weights.safetensors"))
    with torch.no_grad():
        y_hat = net(torch.as_tensor(w.x, dtype=torch.float32)).double().numpy()
    last = close[w.ends][:, None]
    actual = last * np.exp(w.y)
    assert scores["model"]["rmse"] == pytest.approx(_rmse(last * np.exp(y_hat), actual), rel=1e-5)
    assert scores["naive"]["rmse"] == pytest.approx(_rmse(np.repeat(last, 5, axis=1), actual), rel=1e-12)
    assert scores["naive"]["mae"] == pytest.approx(float(np.mean(np.abs(actual - last))), rel=1e-12)
    up = np.sign(actual - last) == np.sign(last * np.exp(y_hat) - last)
    assert scores["model"]["directional_accuracy"] == pytest.approx(float(up.mean()))
    holt = np.array([ets.fit_holt(np.log(close[e - 19:e + 1])).forecast(5) for e in w.ends])
    assert scores["holt"]["rmse"] == pytest.approx(_rmse(np.exp(holt), actual), rel=1e-9)
    q = np.asarray(ref.config["conformal"]["q"])
    inside = (w.y >= y_hat - q) & (w.y <= y_hat + q)
    assert got["coverage"] == pytest.approx(float(inside.mean()), abs=1e-6)
    assert got["beats_naive"] == (scores["model"]["rmse"] < scores["naive"]["rmse"])

    inside_training = orcl_host.call("neural.evaluate", {"model_id": model_id, "start": "2012-01-01T00:00:00Z",
                                                         "end": "2014-12-31T00:00:00Z"})
    assert inside_training["in_sample"] is True


def test_the_pretrained_model_evaluates_any_symbol_and_flags_its_own_years(orcl_host: Any) -> None:
    early = orcl_host.call("neural.evaluate", {"model_id": "pretrained", "symbol": "ORCL", "provider": "csv",
                                               "start": "2008-01-01T00:00:00Z", "end": "2008-12-31T00:00:00Z"})
    late = orcl_host.call("neural.evaluate", {"model_id": "pretrained", "symbol": "ORCL", "provider": "csv",
                                              "start": "2014-01-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"})
    assert early["in_sample"] is True and late["in_sample"] is False
    assert late["model_id"] == "pretrained" and late["windows"] > 150


def test_the_windows_of_one_evaluation_are_bounded(orcl_host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader_plugins.forecasting import ops_evaluate

    monkeypatch.setattr(ops_evaluate, "MAX_WINDOWS", 100)
    with pytest.raises(NtLimitExceeded, match="narrow start/end"):
        orcl_host.call("neural.evaluate", {"model_id": "pretrained", "symbol": "ORCL", "provider": "csv",
                                           "start": "2014-01-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"})


async def test_evaluate_answers_the_same_from_every_frontend(nt_cli: Any, nt_mcp: Any, nt_rest: Any) -> None:
    got = await call_everywhere("neural.evaluate", {"model_id": "pretrained", "symbol": "ORCL", "provider": "csv",
                                                    "start": "2014-06-01T00:00:00Z", "end": "2014-12-31T00:00:00Z"},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert got["scores"][0]["name"] == "model" and got["windows"] > 50
