"""One table for every report of a model's accuracy (``neural.train``, ``neural.evaluate``): the model
next to the naive baselines and the classical models on the same windows, in price space.

Baselines (each forecasts the cumulative log returns of the model's target from the window's last
close, then priced as ``close[t] * exp(y)``): ``naive`` (last value), ``drift`` and ``seasonal_naive``
(:mod:`.baselines`; season 5, a trading week of days), and the classical ``ses`` and ``holt``
(:mod:`.ets`, fitted on each window's own ``max(lookback, 3)`` log closes).
"""

from __future__ import annotations

import numpy as np

from neural_trader_plugins.forecasting import baselines, ets, evaluation, features

__all__ = ["BASELINES", "SEASON", "compare", "forecasts"]

BASELINES = ("naive", "drift", "seasonal_naive", "ses", "holt")
SEASON = 5


def forecasts(close: np.ndarray, ends: np.ndarray, horizon: int, lookback: int) -> dict[str, np.ndarray]:
    """Every baseline's cumulative log-return forecasts for the windows ending at ``ends``."""
    smooth_lb = max(int(lookback), 3)
    return {"naive": baselines.naive(close, ends, horizon),
            "drift": baselines.drift(close, ends, horizon, lookback),
            "seasonal_naive": baselines.seasonal_naive(close, ends, horizon, SEASON),
            "ses": ets.ses_forecast(close, ends, horizon, smooth_lb),
            "holt": ets.holt_forecast(close, ends, horizon, smooth_lb)}


def compare(close: np.ndarray, ends: np.ndarray, y_true: np.ndarray, y_model: np.ndarray, *, lookback: int,
            horizon: int) -> evaluation.Evaluation:
    """The model's and every baseline's metrics on the same windows, in price space (directional accuracy
    relative to each window's last close)."""
    last = np.asarray(close, dtype=np.float64)[ends]
    base = forecasts(close, ends, horizon, lookback)
    return evaluation.evaluate(features.to_prices(y_true, last), features.to_prices(y_model, last),
                               {k: features.to_prices(v, last) for k, v in base.items()}, reference=last)
