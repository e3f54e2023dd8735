"""Metrics against hand computations on small arrays, and sMAPE against the M4 competition's
definition (Makridakis, Spiliotis & Assimakopoulos, IJF 36 (2020) 54-74, eq. 1:
sMAPE = 2/h * sum |Y_t - F_t| / (|Y_t| + |F_t|) * 100)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import evaluation as E

Y = np.array([[1.0, 2.0], [3.0, -4.0]])
P = np.array([[2.0, 2.0], [1.0, 1.0]])


def test_metrics_by_hand() -> None:
    m = E.metrics(Y, P)
    # errors: -1, 0, 2, -5
    assert m.mae == pytest.approx((1 + 0 + 2 + 5) / 4)
    assert m.rmse == pytest.approx(math.sqrt((1 + 0 + 4 + 25) / 4))
    assert m.mape == pytest.approx(100 * (1 / 1 + 0 / 2 + 2 / 3 + 5 / 4) / 4)
    assert m.smape == pytest.approx(200 * (1 / 3 + 0 / 4 + 2 / 4 + 5 / 5) / 4)
    # signs: y + + + -, forecast + + + + -> 3 of 4
    assert m.directional_accuracy == pytest.approx(0.75)
    assert m.mae_by_step == pytest.approx(((1 + 2) / 2, (0 + 5) / 2))
    assert m.rmse_by_step == pytest.approx((math.sqrt(5 / 2), math.sqrt(25 / 2)))
    assert m.directional_accuracy_by_step == pytest.approx((1.0, 0.5))
    assert m.n == 4 and m.mape_points == 4


def test_m4_smape_worked_value() -> None:
    # one point, actual 100 and forecast 110: 200 * 10 / 210
    assert E.metrics(np.array([100.0]), np.array([110.0])).smape == pytest.approx(9.523809523809524)
    # M4 eq. 1 over a 3-step horizon written out
    y, f = np.array([[10.0, 20.0, 30.0]]), np.array([[12.0, 18.0, 33.0]])
    expect = 2 / 3 * sum(abs(a - b) / (abs(a) + abs(b)) for a, b in zip(y[0], f[0], strict=True)) * 100
    assert E.metrics(y, f).smape == pytest.approx(expect)


def test_mape_leaves_zero_targets_out() -> None:
    m = E.metrics(np.array([0.0, 2.0, 4.0]), np.array([1.0, 1.0, 5.0]))
    assert m.mape_points == 2
    assert m.mape == pytest.approx(100 * (1 / 2 + 1 / 4) / 2)
    assert math.isnan(E.metrics(np.zeros(3), np.ones(3)).mape)


def test_directional_accuracy_against_a_reference_price() -> None:
    last = np.array([10.0, 10.0, 10.0])
    y = np.array([11.0, 9.0, 10.0])   # up, down, flat
    p = np.array([10.5, 10.5, 10.0])  # up, up, flat
    assert E.metrics(y, p, reference=last).directional_accuracy == pytest.approx(2 / 3)


def test_evaluate_table() -> None:
    ev = E.evaluate(Y, P, {"naive": np.zeros_like(Y), "perfect": Y})
    assert ev.names == ("model", "naive", "perfect")
    assert ev.best == "perfect"
    assert ev["perfect"].rmse == 0.0 and ev["naive"].mae == pytest.approx(10 / 4)
    assert ev.table()[1]["model"] == "naive"
    with pytest.raises(NtUserError, match="no forecaster named"):
        ev["arima"]
    with pytest.raises(NtUserError, match=r"forecast 'naive'.*shape"):
        E.evaluate(Y, P, {"naive": np.zeros(3)})
    with pytest.raises(NtUserError, match="y_true"):
        E.metrics(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(NtUserError, match="reference"):
        E.metrics(Y, P, reference=np.ones(3))
