"""A stored model's inputs from fresh bars: the feature matrix (checked against the features the model
was trained on) and its raw windows, the last one (``neural.forecast``) or every one with its targets
(``neural.evaluate``, ``neural.backtest``). The scaler is inside the served graph, so windows are raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import features

__all__ = ["all_windows", "check_features", "last_window"]


def check_features(config: Mapping[str, Any], close: np.ndarray, high: np.ndarray | None, low: np.ndarray | None,
                   volume: np.ndarray | None, what: str) -> features.FeatureMatrix:
    fm = features.feature_matrix(close, high, low, volume)
    if list(fm.names) != list(config["feature_names"]):
        raise NtUserError(f"the bars of {what} give features {list(fm.names)} but the model was trained on "
                          f"{list(config['feature_names'])}; use bars with high, low and volume like the ones it "
                          "was trained on")
    return fm


def last_window(config: Mapping[str, Any], fm: features.FeatureMatrix, what: str) -> np.ndarray:
    """The latest ``(1, lookback, n_features)`` window."""
    lookback = int(config["lookback"])
    if fm.values.shape[0] - fm.first_valid < lookback:
        raise NtUserError(f"{what} has too few bars for a {lookback}-bar window after the indicators' "
                          f"{fm.first_valid}-bar warm-up; give an earlier start or a later end")
    return np.ascontiguousarray(fm.values[None, -lookback:, :])


def all_windows(config: Mapping[str, Any], fm: features.FeatureMatrix, close: np.ndarray,
                what: str) -> features.Windows:
    """Every raw window with ``horizon`` future closes (targets: cumulative log returns)."""
    try:
        return features.windows(fm, close, lookback=int(config["lookback"]), horizon=int(config["horizon"]))
    except NtUserError as exc:
        raise NtUserError(f"{what}: {exc.message}; widen start/end") from None
