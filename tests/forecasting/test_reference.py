"""Baselines, metrics and conformal intervals against the peer libraries statsforecast 2.1.1 (Naive,
RandomWalkWithDrift, SeasonalNaive), utilsforecast 0.2.17 (mae, rmse, mape, smape) and MAPIE 1.6.0 on ORCL
closes: tests/data/forecasting_reference.json, written by bench/reference/forecasting_reference.py
in a throwaway virtual environment (the file records the command and the versions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neural_trader_plugins.forecasting import baselines as B
from neural_trader_plugins.forecasting import conformal as C
from neural_trader_plugins.forecasting import evaluation as E

REF = json.loads((Path(__file__).resolve().parents[1] / "data" / "forecasting_reference.json").read_text())


def _ours(close: np.ndarray) -> dict[str, np.ndarray]:
    ends, h = np.array(REF["ends"]), REF["horizon"]
    return {"naive": B.naive(close, ends, h), "drift": B.drift(close, ends, h, REF["lookback"]),
            "seasonal_naive": B.seasonal_naive(close, ends, h, REF["season"])}


def test_baselines_match_statsforecast(orcl: dict[str, np.ndarray]) -> None:
    close = orcl["close"]
    last = np.log(close[np.array(REF["ends"])])[:, None]
    for name, ours in _ours(close).items():
        theirs = np.array(REF["log_price_forecasts"][name])
        np.testing.assert_allclose(ours + last, theirs, rtol=1e-12, atol=1e-12, err_msg=name)


def test_metrics_match_utilsforecast(orcl: dict[str, np.ndarray]) -> None:
    close = orcl["close"]
    ends, h = np.array(REF["ends"]), REF["horizon"]
    truth = close[ends[:, None] + np.arange(1, h + 1)]
    peer = REF["metrics_on_prices"]
    for name in ("naive", "drift", "seasonal_naive"):
        m = E.metrics(truth, np.exp(np.array(REF["log_price_forecasts"][name])))
        assert m.mae == pytest.approx(peer["mae"][name], rel=1e-10), name
        assert m.rmse == pytest.approx(peer["rmse"][name], rel=1e-10), name
        assert m.mape == pytest.approx(100 * peer["mape"][name], rel=1e-10), name   # peer: a fraction
        assert m.smape == pytest.approx(200 * peer["smape"][name], rel=1e-10), name  # peer: no factor 2


def test_conformal_intervals_match_mapie(orcl: dict[str, np.ndarray]) -> None:
    """MAPIE 1.6.0 SplitConformalRegressor (absolute residuals, prefit) on ORCL next-day log
    returns: the same calibration forecasts give the same bounds at every confidence level."""
    ref = REF["conformal"]
    r = np.diff(np.log(orcl["close"]))
    y = r[ref["lags"]:]
    lo, hi = ref["fit"], ref["fit"] + ref["cal"]
    y_cal, y_test = y[lo:hi], y[hi:hi + ref["test"]]
    pred_cal, pred_test = np.array(ref["pred_cal"]), np.array(ref["pred_test"])
    assert len(ref["levels"]) == 3
    for level, peer in ref["levels"].items():
        cal = C.calibrate(y_cal, pred_cal, alpha=1 - float(level))
        band = C.intervals(pred_test, cal)
        np.testing.assert_allclose(band.lower[:, 0], peer["lower"], rtol=0, atol=1e-14, err_msg=level)
        np.testing.assert_allclose(band.upper[:, 0], peer["upper"], rtol=0, atol=1e-14, err_msg=level)
        assert C.coverage(y_test, band).n == len(y_test)
