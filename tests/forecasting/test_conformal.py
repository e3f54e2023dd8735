"""Split conformal intervals: the rank rule by hand, and coverage on i.i.d. data within a binomial
tolerance of the exact expected coverage ``k / (n + 1)`` (Lei et al., JASA 2018, theorem 2.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import conformal as C


def test_quantile_rule_by_hand() -> None:
    scores = np.random.default_rng(3).permutation(np.arange(1.0, 20.0))  # 1..19, n = 19
    assert C.conformal_quantile(scores, 0.1)[0] == 18.0   # ceil(20 * 0.9) = 18
    assert C.conformal_quantile(scores, 0.05)[0] == 19.0  # ceil(20 * 0.95) = 19
    assert C.conformal_quantile(scores, 0.01)[0] == math.inf  # ceil(20 * 0.99) = 20 > 19
    ten = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0])
    assert C.conformal_quantile(ten, 0.2)[0] == 9.0  # ceil(11 * 0.8) = 9 -> 9th smallest
    assert C.conformal_quantile(ten, 0.5)[0] == 6.0  # ceil(5.5) = 6
    two = np.column_stack([ten, 10 * ten])
    np.testing.assert_array_equal(C.conformal_quantile(two, 0.2), [9.0, 90.0])


def test_quantile_rule_matches_numpy_inverted_cdf() -> None:
    # the brief's form: the empirical quantile at level ceil((n+1)(1-alpha))/n, numpy's inverted-CDF rule
    # (Hyndman & Fan 1996, definition 1) being the smallest score whose empirical CDF reaches the level
    rng = np.random.default_rng(5)
    for n, alpha in ((25, 0.1), (100, 0.05), (301, 0.2), (1000, 0.01), (7, 0.3)):
        s = rng.exponential(size=n)
        k = math.ceil((n + 1) * (1 - alpha))
        # any level in ((k-1)/n, k/n] names the same order statistic; the midpoint keeps numpy's own
        # rounding of n * (k/n) from stepping to the next one
        level = (k - 0.5) / n
        assert C.conformal_quantile(s, alpha)[0] == np.quantile(s, level, method="inverted_cdf")


def test_intervals_from_residuals() -> None:
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    p = y + np.array([[0.5, -1.0], [-0.1, 2.0], [0.2, 3.0], [-0.4, -4.0]])
    cal = C.calibrate(y, p, alpha=0.25)  # n = 4, k = ceil(5 * 0.75) = 4: the largest residual per step
    np.testing.assert_allclose(cal.q, [0.5, 4.0])
    band = C.intervals(np.array([[0.0, 0.0]]), cal)
    np.testing.assert_allclose(band.lower, [[-0.5, -4.0]])
    np.testing.assert_allclose(band.upper, [[0.5, 4.0]])


def test_coverage_on_iid_data_is_nominal() -> None:
    rng = np.random.default_rng(11)
    reps, n_cal, n_test, alpha = 200, 100, 100, 0.1
    scale = np.array([1.0, 2.0, 5.0])  # three horizon steps with their own noise level
    covered = np.empty((reps, 3))
    for r in range(reps):
        truth = rng.standard_t(5, size=(n_cal + n_test, 3)) * scale
        pred = np.zeros_like(truth)
        cal = C.calibrate(truth[:n_cal], pred[:n_cal], alpha)
        covered[r] = C.coverage(truth[n_cal:], C.intervals(pred[n_cal:], cal)).by_step
    k = math.ceil((n_cal + 1) * (1 - alpha))
    expected = k / (n_cal + 1)  # exact marginal coverage for continuous scores
    # variance of one replicate's coverage: Beta(k, n+1-k) from the calibration plus binomial test noise
    a, b = k, n_cal + 1 - k
    var = a * b / ((a + b) ** 2 * (a + b + 1)) + expected * (1 - expected) / n_test
    tol = 4 * math.sqrt(var / reps)
    for step in range(3):
        assert abs(covered[:, step].mean() - expected) < tol, (step, covered[:, step].mean(), expected, tol)
        assert covered[:, step].mean() > 1 - alpha - tol


def test_bad_input_names_the_field() -> None:
    with pytest.raises(NtUserError, match="alpha"):
        C.conformal_quantile(np.ones(5), 1.5)
    with pytest.raises(NtUserError, match="y_pred"):
        C.calibrate(np.ones((4, 2)), np.ones((4, 3)))
    cal = C.calibrate(np.ones((4, 2)), np.zeros((4, 2)), 0.5)
    with pytest.raises(NtUserError, match="horizon steps"):
        C.intervals(np.ones((2, 3)), cal)
