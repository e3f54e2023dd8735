"""Naive forecasts on the same windows as the models, in the same target (cumulative log returns
from the window's last close, see :mod:`.features`): ``y_hat[i, h-1]`` forecasts
``log(close[t+h] / close[t])`` with ``t = ends[i]``.

* :func:`naive` (random walk, last value): the price stays at ``close[t]``, so ``y_hat = 0``.
* :func:`drift`: the random walk with the average step of the window's own history (Hyndman &
  Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., section 5.2):
  ``y_hat[h-1] = h * log(close[t] / close[t-lookback+1]) / (lookback - 1)``; it uses the same
  ``lookback`` bars as the model.
* :func:`seasonal_naive`: the last value of the same season (FPP3 5.2),
  ``log price[t+h] = log price[t + h - m*k]`` with ``k = ceil(h / m)``, so
  ``y_hat[h-1] = log(close[t + h - m*k] / close[t])``; it needs ``m <= t + 1``.
"""

from __future__ import annotations

import numpy as np

from neural_trader.errors import NtUserError

__all__ = ["drift", "naive", "seasonal_naive"]


def _inputs(close: np.ndarray, ends: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        c = np.ascontiguousarray(close, dtype=np.float64)
        e = np.ascontiguousarray(ends, dtype=np.int64)
    except (TypeError, ValueError):
        raise NtUserError("close must be a 1-D array of prices and ends an array of bar indices") from None
    if c.ndim != 1 or e.ndim != 1:
        raise NtUserError("close and ends must be 1-D")
    if not (np.isfinite(c).all() and (c > 0).all()):
        raise NtUserError("close must be finite and > 0")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise NtUserError(f"horizon must be an integer >= 1, got {horizon!r}")
    if e.shape[0] and (e.min() < 0 or e.max() >= c.shape[0]):
        raise NtUserError(f"ends must be bar indices in [0, {c.shape[0] - 1}] (the windows' last bars)")
    return c, e, int(horizon)


def naive(close: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """The random walk: ``(len(ends), horizon)`` zeros (no change from the last close)."""
    _, e, h = _inputs(close, ends, horizon)
    return np.zeros((e.shape[0], h))


def drift(close: np.ndarray, ends: np.ndarray, horizon: int, lookback: int) -> np.ndarray:
    """The random walk with drift estimated on the ``lookback`` bars ending at each ``ends[i]``."""
    c, e, h = _inputs(close, ends, horizon)
    if isinstance(lookback, bool) or not isinstance(lookback, int | np.integer) or lookback < 2:
        raise NtUserError(f"lookback must be an integer >= 2 (drift needs two closes), got {lookback!r}")
    if e.shape[0] and e.min() - lookback + 1 < 0:
        raise NtUserError(f"lookback ({lookback}) reaches before bar 0 for the window ending at bar {e.min()}")
    logc = np.log(c)
    slope = (logc[e] - logc[e - lookback + 1]) / (lookback - 1)
    return slope[:, None] * np.arange(1, h + 1)[None, :]


def seasonal_naive(close: np.ndarray, ends: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The last value of the same season, ``season`` bars a cycle (5 for a trading week of days)."""
    c, e, h = _inputs(close, ends, horizon)
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise NtUserError(f"season must be an integer >= 1 (bars per cycle), got {season!r}")
    if e.shape[0] and e.min() - season + 1 < 0:
        raise NtUserError(f"season ({season}) reaches before bar 0 for the window ending at bar {e.min()}")
    steps = np.arange(1, h + 1)
    back = steps - season * np.ceil(steps / season).astype(np.int64)  # in (-season, 0]
    logc = np.log(c)
    return logc[e[:, None] + back[None, :]] - logc[e][:, None]
