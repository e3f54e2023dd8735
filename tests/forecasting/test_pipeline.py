"""The pieces together on real ORCL bars: train a small model, forecast the test windows, compare
with the naive baselines in price space, and put split conformal intervals around the forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from neural_trader_plugins.forecasting import baselines as B
from neural_trader_plugins.forecasting import conformal as C
from neural_trader_plugins.forecasting import evaluation as E
from neural_trader_plugins.forecasting import features as F

torch = pytest.importorskip("torch")

from neural_trader_plugins.forecasting import training as T  # noqa: E402


def test_train_evaluate_and_calibrate(orcl: dict[str, np.ndarray]) -> None:
    bars = [np.ascontiguousarray(orcl[k][-900:]) for k in ("close", "high", "low", "volume")]
    close = bars[0]
    d = F.prepare(*bars, lookback=15, horizon=3)
    r = T.train("gru", d, {"hidden_size": 8, "layers": 1}, epochs=3, seed=1, patience=5)
    pred_val = T.predict(r.model, d.val.x, d)
    pred_test = T.predict(r.model, d.test.x, d)

    # the metrics train() reports are those of the forecasts predict() makes
    m = E.metrics(d.test.y, pred_test)
    assert r.metrics["test_rmse"] == pytest.approx(m.rmse, rel=1e-12)

    # in price space, with the last close as the reference of direction
    last = d.test.last_close
    truth = F.to_prices(d.test.y, last)
    ev = E.evaluate(truth, F.to_prices(pred_test, last), {
        "naive": F.to_prices(B.naive(close, d.test.ends, 3), last),
        "drift": F.to_prices(B.drift(close, d.test.ends, 3, 15), last),
        "seasonal_naive": F.to_prices(B.seasonal_naive(close, d.test.ends, 3, 5), last)}, reference=last)
    assert ev.names == ("model", "naive", "drift", "seasonal_naive")
    np.testing.assert_allclose(truth, close[d.test.ends[:, None] + np.arange(1, 4)], rtol=1e-12)
    # the naive forecast never moves, so its direction is right exactly on the bars that did not move either
    assert ev["naive"].directional_accuracy == pytest.approx(float(np.mean(truth == last[:, None])))
    assert ev["naive"].mae == pytest.approx(float(np.mean(np.abs(truth - last[:, None]))))

    # conformal: on the calibration residuals themselves at least k of n are inside, by construction
    cal = C.calibrate(d.val.y, pred_val, alpha=0.1)
    inside = C.coverage(d.val.y, C.intervals(pred_val, cal))
    assert min(inside.by_step) >= np.ceil((cal.n + 1) * 0.9) / cal.n - 1e-12
    # wider for longer horizons (cumulative returns spread out), and finite
    assert np.isfinite(cal.q).all() and cal.q[0] < cal.q[2]
    test_cov = C.coverage(d.test.y, C.intervals(pred_test, cal))
    assert test_cov.n == len(d.test) and 0.0 <= test_cov.overall <= 1.0
