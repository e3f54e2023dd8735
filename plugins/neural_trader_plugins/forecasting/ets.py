"""Exponential smoothing, the classical baseline (Hyndman & Athanasopoulos, *Forecasting: Principles
and Practice*, 3rd ed., sections 8.1-8.2), fitted to each window's own log closes.

* Simple exponential smoothing (``ses``): ``l_t = alpha y_t + (1 - alpha) l_{t-1}``; the forecast of
  every step is the last level.
* Holt's linear trend (``holt``): ``l_t = alpha y_t + (1 - alpha)(l_{t-1} + b_{t-1})``,
  ``b_t = beta (l_t - l_{t-1}) + (1 - beta) b_{t-1}``; step ``h`` forecasts ``l_n + h b_n``.

Initial states are fixed from the data ("known" initialisation): ``l_0 = y_0`` and, for Holt,
``b_0 = y_1 - y_0``; the one-step forecast of ``y_t`` is ``l_{t-1} (+ b_{t-1})``, ``t >= 1``.
``alpha`` (and ``beta``) minimise the sum of squared one-step errors over ``[0, 1]`` (a grid start,
then a bounded pattern search, vectorised over windows), as statsmodels' ``SimpleExpSmoothing`` /
``Holt`` with
``initialization_method="known"`` do; tests/forecasting/test_ets.py holds both to statsmodels.

The baselines (:func:`ses_forecast`, :func:`holt_forecast`) return the same target as the models,
cumulative log returns from each window's last close.
"""

from __future__ import annotations

import attrs
import numpy as np

from neural_trader.errors import NtUserError

__all__ = ["Fit", "fit_holt", "fit_ses", "holt_forecast", "ses_forecast", "smooth"]


@attrs.frozen(kw_only=True)
class Fit:
    """Smoothing parameters, final states and the sum of squared one-step errors."""

    alpha: float
    beta: float | None
    level: float
    trend: float
    sse: float

    def forecast(self, horizon: int) -> np.ndarray:
        return self.level + self.trend * np.arange(1, horizon + 1)


def _series(y: object, least: int) -> np.ndarray:
    a = np.ascontiguousarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] < least or not np.isfinite(a).all():
        raise NtUserError(f"the series must be 1-D, finite, with at least {least} values")
    return a


def _sse(y: np.ndarray, alpha: np.ndarray, beta: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """For series ``y`` ``(n, L)`` and candidates ``alpha``/``beta`` ``(n, G)``: ``(sse, level, trend)``
    ``(n, G)`` after smoothing with the known initial states (vectorised over series and candidates)."""
    level = np.repeat(y[:, :1], alpha.shape[1], axis=1)
    trend = np.repeat(y[:, 1:2] - y[:, :1], alpha.shape[1], axis=1) if beta is not None else np.zeros_like(level)
    sse = np.zeros_like(level)
    for t in range(1, y.shape[1]):
        fc = level + trend
        e = y[:, t:t + 1] - fc
        sse += e * e
        new = fc + alpha * e
        if beta is not None:
            trend = beta * (new - level) + (1.0 - beta) * trend
        level = new
    return sse, level, trend


#: Pattern search: a coarse grid, then rounds of a 5-point (per axis) stencil around the best point,
#: its step halved each round; 40 rounds take the step from 0.1 below 1e-13.
_GRID, _ROUNDS = 11, 40


def _fit(y: np.ndarray, trend: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """SSE-optimal ``alpha`` (and ``beta``) in [0, 1] for every row of ``y``, by a bounded pattern
    search vectorised over the rows (a per-row scipy optimiser costs ~30 ms a window in Python)."""
    n = y.shape[0]
    g = np.linspace(0.0, 1.0, _GRID)
    if trend:
        ga, gb = (m.ravel() for m in np.meshgrid(g, g, indexing="ij"))
    else:
        ga, gb = g, None
    a = np.broadcast_to(ga, (n, ga.shape[0]))
    b = np.broadcast_to(gb, (n, gb.shape[0])) if gb is not None else None
    sse = _sse(y, a, b)[0]
    k = np.argmin(sse, axis=1)
    alpha = a[np.arange(n), k]
    beta = b[np.arange(n), k] if b is not None else None
    step = 1.0 / (_GRID - 1)
    offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) / 2.0
    for _ in range(_ROUNDS):
        if trend:
            da, db = (m.ravel() for m in np.meshgrid(offsets, offsets, indexing="ij"))
        else:
            da, db = offsets, None
        ca = np.clip(alpha[:, None] + step * da[None, :], 0.0, 1.0)
        cb = np.clip(beta[:, None] + step * db[None, :], 0.0, 1.0) if beta is not None and db is not None else None
        sse = _sse(y, ca, cb)[0]
        k = np.argmin(sse, axis=1)
        alpha = ca[np.arange(n), k]
        beta = cb[np.arange(n), k] if cb is not None else None
        step /= 2.0
    sse, level, tr = (v[:, 0] for v in _sse(y, alpha[:, None], beta[:, None] if beta is not None else None))
    return alpha, beta, level, tr, sse


def smooth(y: object, alpha: float, beta: float | None = None) -> Fit:
    """SES (``beta`` None) or Holt of ``y`` at given parameters."""
    for name, v in (("alpha", alpha), ("beta", beta)):
        if v is not None and not 0.0 <= float(v) <= 1.0:
            raise NtUserError(f"{name} must be in [0, 1], got {v!r}")
    s = _series(y, 2 if beta is None else 3)[None, :]
    b = np.array([[float(beta)]]) if beta is not None else None
    sse, level, trend = (float(v[0, 0]) for v in _sse(s, np.array([[float(alpha)]]), b))
    return Fit(alpha=float(alpha), beta=None if beta is None else float(beta), level=level, trend=trend, sse=sse)


def fit_ses(y: object) -> Fit:
    """Simple exponential smoothing of ``y`` with the SSE-optimal ``alpha``."""
    s = _series(y, 2)[None, :]
    alpha, _, level, _, sse = _fit(s, trend=False)
    return Fit(alpha=float(alpha[0]), beta=None, level=float(level[0]), trend=0.0, sse=float(sse[0]))


def fit_holt(y: object) -> Fit:
    """Holt's linear trend of ``y`` with the SSE-optimal ``alpha`` and ``beta``."""
    s = _series(y, 3)[None, :]
    alpha, beta, level, trend, sse = _fit(s, trend=True)
    assert beta is not None
    return Fit(alpha=float(alpha[0]), beta=float(beta[0]), level=float(level[0]), trend=float(trend[0]),
               sse=float(sse[0]))


def _per_window(close: np.ndarray, ends: np.ndarray, horizon: int, lookback: int, holt: bool) -> np.ndarray:
    c = np.ascontiguousarray(close, dtype=np.float64)
    e = np.ascontiguousarray(ends, dtype=np.int64)
    if not (np.isfinite(c).all() and (c > 0).all()):
        raise NtUserError("close must be finite and > 0")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise NtUserError(f"horizon must be an integer >= 1, got {horizon!r}")
    least = 3 if holt else 2
    if isinstance(lookback, bool) or not isinstance(lookback, int | np.integer) or lookback < least:
        raise NtUserError(f"lookback must be an integer >= {least} for {'holt' if holt else 'ses'}, got {lookback!r}")
    if e.shape[0] and (e.min() - lookback + 1 < 0 or e.max() >= c.shape[0]):
        raise NtUserError(f"every window of {lookback} closes must lie inside the {c.shape[0]} bars")
    logc = np.log(c)
    out = np.empty((e.shape[0], int(horizon)))
    steps = np.arange(1, int(horizon) + 1)
    for i in range(0, e.shape[0], _CHUNK):
        chunk = e[i:i + _CHUNK]
        windows = logc[chunk[:, None] - lookback + 1 + np.arange(lookback)[None, :]]
        _, _, level, trend, _ = _fit(windows, trend=holt)
        out[i:i + _CHUNK] = level[:, None] + trend[:, None] * steps[None, :] - logc[chunk][:, None]
    return out


#: Windows fitted together (bounds the candidate arrays to ~25 x 512 x lookback floats).
_CHUNK = 512


def ses_forecast(close: np.ndarray, ends: np.ndarray, horizon: int, lookback: int) -> np.ndarray:
    """Per window (``lookback`` closes ending at ``ends[i]``): SES of the log closes, as cumulative log
    returns ``(len(ends), horizon)``."""
    return _per_window(close, ends, horizon, lookback, holt=False)


def holt_forecast(close: np.ndarray, ends: np.ndarray, horizon: int, lookback: int) -> np.ndarray:
    """Per window: Holt's linear trend of the log closes, as cumulative log returns."""
    return _per_window(close, ends, horizon, lookback, holt=True)
