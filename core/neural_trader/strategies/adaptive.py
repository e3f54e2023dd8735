"""Adaptive: detect the market's regime (trend or range, calm or volatile) and switch rules."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies._signals import sign_state
from neural_trader.strategies.base import Strategy, close_of
from neural_trader.strategies.mean_reversion import MeanReversion

__all__ = ["Adaptive", "AdaptiveParams", "regimes"]


@attrs.frozen(kw_only=True)
class AdaptiveParams:
    """Regime detection and the two sub-strategies."""

    er_window: int = param(default=20, ge=2, le=10_000, description="efficiency-ratio window (bars)")
    trend_threshold: float = param(default=0.3, gt=0, lt=1,
                                   description="efficiency ratio at or above which the market trends")
    vol_window: int = param(default=20, ge=2, le=10_000, description="window of the return volatility")
    vol_lookback: int = param(default=100, ge=2, le=10_000, description="window of its average")
    vol_ratio: float = param(default=1.5, gt=0, le=100,
                             description="volatility above this multiple of its average is turbulent")
    fast: int = param(default=20, ge=1, le=10_000, description="trend sub-strategy: fast EMA")
    slow: int = param(default=50, ge=2, le=10_000, description="trend sub-strategy: slow EMA")
    z_window: int = param(default=20, ge=2, le=10_000, description="range sub-strategy: z-score window")
    entry_z: float = param(default=2.0, gt=0, le=10, description="range sub-strategy: absolute z-score to enter")
    exit_z: float = param(default=0.5, ge=0, le=10, description="range sub-strategy: absolute z-score to exit")


def regimes(close: np.ndarray, params: AdaptiveParams) -> tuple[np.ndarray, np.ndarray]:
    """(trending, turbulent) boolean arrays: Kaufman's efficiency ratio ``|c - c[-w]| / sum|dc|``
    at or above the threshold, and the rolling sd of returns above ``vol_ratio`` times its SMA."""
    n = close.shape[0]
    w = params.er_window
    move = np.full(n, np.nan)
    if n > w:
        move[w:] = np.abs(close[w:] - close[:-w])
    step = np.full(n, np.nan)
    step[1:] = np.abs(np.diff(close))
    path = ind.sma(step, w) * w
    with np.errstate(invalid="ignore", divide="ignore"):
        er = np.where(path > 0, move / path, 0.0)
    trending = er >= params.trend_threshold
    ret = np.full(n, np.nan)
    ret[1:] = close[1:] / close[:-1] - 1.0
    vol = ind.rolling_std(ret, params.vol_window)
    avg = ind.sma(vol, params.vol_lookback)
    turbulent = vol > params.vol_ratio * avg
    return trending, turbulent


class Adaptive(Strategy):
    """In a trending market (efficiency ratio >= ``trend_threshold``) follow the EMA(fast)/EMA(slow)
    trend; in a calm range trade z-score mean reversion; in a turbulent range stand aside.
    NaN until the detectors are warm."""

    name = "adaptive"
    summary = "regime switch: trend following in trends, mean reversion in calm ranges, flat in turbulence"
    params_type = AdaptiveParams

    def constraints(self, params: AdaptiveParams) -> list[str]:
        problems = []
        if params.fast >= params.slow:
            problems.append(f"fast ({params.fast}) must be less than slow ({params.slow})")
        if params.exit_z >= params.entry_z:
            problems.append(f"exit_z ({params.exit_z}) must be less than entry_z ({params.entry_z})")
        return problems

    def warmup(self, params: AdaptiveParams) -> int:
        return max(params.er_window + 1, params.vol_window + params.vol_lookback, params.slow, params.z_window)

    def signals(self, bars: Any, params: AdaptiveParams) -> np.ndarray:
        c = close_of(bars)
        trending, turbulent = regimes(c, params)
        trend = sign_state(ind.ema(c, params.fast) - ind.ema(c, params.slow))
        revert = MeanReversion.states(ind.zscore(c, params.z_window), params.entry_z, params.exit_z)
        target = np.where(trending, trend, np.where(turbulent, 0.0, revert))
        target[: min(self.warmup(params), c.shape[0])] = np.nan
        return target
