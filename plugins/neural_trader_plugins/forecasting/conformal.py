"""Split conformal prediction intervals for multi-step forecasts (Vovk, Gammerman & Shafer 2005;
Lei, G'Sell, Rinaldo, Tibshirani & Wasserman, "Distribution-free predictive inference for
regression", JASA 2018, algorithm 2).

Per horizon step ``h``: the scores are the absolute validation residuals ``|y - y_hat|`` (``n`` of
them); the half-width ``q_h`` is their ``k``-th smallest with ``k = ceil((n + 1) * (1 - alpha))``
(the finite-sample correction, i.e. the ``ceil((n+1)(1-alpha))/n`` empirical quantile). When
``k > n`` (too few residuals for that ``alpha``) ``q_h`` is ``inf``: no finite interval has the
guarantee. The interval is ``y_hat +/- q_h``; if calibration and test points are exchangeable it
covers with probability ``>= 1 - alpha`` (and ``< 1 - alpha + 1/(n+1)`` without ties). Each step
has its own guarantee; they do not hold jointly.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting.evaluation import forecast_matrix

__all__ = ["Calibration", "Coverage", "Intervals", "bounded", "calibrate", "conformal_quantile", "coverage",
           "intervals"]


def _alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating) \
            or not math.isfinite(float(alpha)) or not 0.0 < float(alpha) < 1.0:
        raise NtUserError(f"alpha must be in (0, 1) (0.1 for 90 % intervals), got {alpha!r}")
    return float(alpha)


def conformal_quantile(scores: np.ndarray, alpha: float) -> np.ndarray:
    """Per column of ``scores`` (``(n,)`` or ``(n, horizon)``): the ``ceil((n+1)(1-alpha))``-th
    smallest score, ``inf`` when that rank exceeds ``n``."""
    s = forecast_matrix("scores", scores)
    n = s.shape[0]
    k = _rank(n, _alpha(alpha))
    if k > n:
        return np.full(s.shape[1], np.inf)
    return np.sort(s, axis=0)[k - 1]


def _rank(n: int, alpha: float) -> int:
    return math.ceil((n + 1) * (1.0 - alpha) - 1e-12)  # the tolerance keeps e.g. (19+1)*0.95 = 19 from rounding up


def bounded(n: int, alpha: float) -> bool:
    """Whether ``n`` residuals give finite intervals at ``alpha``: ``ceil((n+1)(1-alpha)) <= n``, i.e.
    ``alpha >= 1 / (n + 1)``."""
    return _rank(int(n), _alpha(alpha)) <= int(n)


@attrs.frozen(kw_only=True, eq=False)
class Calibration:
    """Half-widths ``q`` per horizon step, fitted on ``n`` calibration residuals at level ``alpha``."""

    q: np.ndarray
    alpha: float
    n: int


def calibrate(y_true: np.ndarray, y_pred: np.ndarray, alpha: float = 0.1) -> Calibration:
    """Fit the half-widths from validation targets and forecasts (same shape)."""
    y, p = forecast_matrix("y_true", y_true), forecast_matrix("y_pred", y_pred)
    if y.shape != p.shape:
        raise NtUserError(f"y_pred must have the shape of y_true {y.shape}, got {p.shape}")
    return Calibration(q=conformal_quantile(np.abs(y - p), alpha), alpha=_alpha(alpha), n=y.shape[0])


@attrs.frozen(kw_only=True, eq=False)
class Intervals:
    """``lower``/``upper`` bounds of the same shape as the forecasts."""

    lower: np.ndarray
    upper: np.ndarray


def intervals(y_pred: np.ndarray, calibration: Calibration) -> Intervals:
    """``y_pred +/- q`` per horizon step."""
    p = forecast_matrix("y_pred", y_pred)
    if p.shape[1] != calibration.q.shape[0]:
        raise NtUserError(f"y_pred must have {calibration.q.shape[0]} horizon steps (as calibrated), got {p.shape[1]}")
    return Intervals(lower=p - calibration.q, upper=p + calibration.q)


@attrs.frozen(kw_only=True)
class Coverage:
    """The share of targets inside their interval, per step and over all points."""

    by_step: tuple[float, ...]
    overall: float
    n: int


def coverage(y_true: np.ndarray, band: Intervals) -> Coverage:
    """Empirical coverage of ``band`` on ``y_true`` (bounds inclusive)."""
    y = forecast_matrix("y_true", y_true)
    if y.shape != band.lower.shape:
        raise NtUserError(f"y_true must have the intervals' shape {band.lower.shape}, got {y.shape}")
    inside = (y >= band.lower) & (y <= band.upper)
    return Coverage(by_step=tuple(float(v) for v in inside.mean(axis=0)), overall=float(inside.mean()), n=y.shape[0])
