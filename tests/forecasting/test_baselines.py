"""Naive baselines on series whose right answer is known by construction (FPP3 section 5.2
definitions: Hyndman & Athanasopoulos, Forecasting: Principles and Practice, 3rd ed.)."""

from __future__ import annotations

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import baselines as B
from neural_trader_plugins.forecasting import features as F


def _targets(c: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
    return np.log(c[ends[:, None] + np.arange(1, h + 1)] / c[ends][:, None])


def test_naive_is_no_change() -> None:
    c = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    np.testing.assert_array_equal(B.naive(c, np.array([1, 2]), 2), np.zeros((2, 2)))


def test_drift_is_exact_on_a_constant_growth_series() -> None:
    # close grows 1 % a bar: the log price is a straight line, which the drift method extrapolates exactly
    c = 100.0 * 1.01 ** np.arange(60)
    ends = np.arange(9, 50)
    pred = B.drift(c, ends, 4, lookback=10)
    np.testing.assert_allclose(pred, _targets(c, ends, 4), rtol=1e-10)
    # hand value: slope log(1.01) per bar, 3 steps ahead
    assert pred[0, 2] == pytest.approx(3 * np.log(1.01), rel=1e-12)


def test_drift_uses_first_and_last_of_the_window() -> None:
    c = np.array([1.0, 5.0, 2.0, 3.0, 4.0, 9.0])
    # window of 4 ending at bar 4: closes 5, 2, 3, 4 -> slope log(4/5)/3
    assert B.drift(c, np.array([4]), 1, lookback=4)[0, 0] == pytest.approx(np.log(4 / 5) / 3, rel=1e-12)


def test_seasonal_naive_is_exact_on_a_periodic_series() -> None:
    season = 5
    pattern = np.array([10.0, 12.0, 9.0, 11.0, 13.0])
    c = np.tile(pattern, 20)
    ends = np.arange(season - 1, len(c) - 8)
    pred = B.seasonal_naive(c, ends, 8, season)  # horizon longer than a season: k = ceil(h / m) = 2
    np.testing.assert_allclose(pred, _targets(c, ends, 8), atol=1e-15)
    # hand values for the window ending at bar 6 (price 12): step 1 (bar 7) repeats bar 2 (9), step 4 (bar 10)
    # repeats bar 5 (10), step 5 (bar 11) repeats bar 6 (12), step 6 (bar 12, k = 2) repeats bar 2 (9)
    p = B.seasonal_naive(c, np.array([6]), 6, season)[0]
    np.testing.assert_allclose(p[[0, 3, 4, 5]], np.log([9 / 12, 10 / 12, 1.0, 9 / 12]), atol=1e-15)


def test_baselines_on_the_model_windows(orcl: dict[str, np.ndarray]) -> None:
    d = F.prepare(orcl["close"], lookback=20, horizon=5)
    for pred in (B.naive(orcl["close"], d.test.ends, 5), B.drift(orcl["close"], d.test.ends, 5, 20),
                 B.seasonal_naive(orcl["close"], d.test.ends, 5, 5)):
        assert pred.shape == d.test.y.shape and np.isfinite(pred).all()


def test_bad_input_names_the_field() -> None:
    c = np.arange(1.0, 11.0)
    with pytest.raises(NtUserError, match="lookback"):
        B.drift(c, np.array([2]), 1, lookback=5)
    with pytest.raises(NtUserError, match="season"):
        B.seasonal_naive(c, np.array([2]), 1, season=0)
    with pytest.raises(NtUserError, match="ends"):
        B.naive(c, np.array([10]), 1)
    with pytest.raises(NtUserError, match="horizon"):
        B.naive(c, np.array([1]), 0)
