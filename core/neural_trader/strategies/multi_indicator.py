"""Multi-indicator vote: RSI, MACD and Bollinger bands each vote long or short."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy, close_of

__all__ = ["MultiIndicator", "MultiIndicatorParams"]


@attrs.frozen(kw_only=True)
class MultiIndicatorParams:
    """The three indicators and how many must agree."""

    rsi_window: int = param(default=14, ge=2, le=1000, description="RSI window (Wilder)")
    oversold: float = param(default=30.0, ge=0, le=100, description="RSI below this votes long")
    overbought: float = param(default=70.0, ge=0, le=100, description="RSI above this votes short")
    macd_fast: int = param(default=12, ge=1, le=1000, description="MACD fast EMA")
    macd_slow: int = param(default=26, ge=2, le=1000, description="MACD slow EMA")
    macd_signal: int = param(default=9, ge=1, le=1000, description="MACD signal EMA")
    bb_window: int = param(default=20, ge=2, le=1000, description="Bollinger window")
    bb_k: float = param(default=2.0, gt=0, le=10, description="Bollinger width in standard deviations")
    min_votes: int = param(default=2, ge=1, le=3, description="net votes needed to hold a position")


class MultiIndicator(Strategy):
    """Votes: RSI < oversold +1, > overbought -1; MACD histogram > 0 +1, < 0 -1; close below the
    lower Bollinger band +1, above the upper -1. Target +1 when the sum is at least ``min_votes``,
    -1 when at most ``-min_votes``, else 0 (NaN until every indicator is warm)."""

    name = "multi_indicator"
    summary = "RSI + MACD + Bollinger vote"
    params_type = MultiIndicatorParams

    def constraints(self, params: MultiIndicatorParams) -> list[str]:
        problems = []
        if params.oversold >= params.overbought:
            problems.append(f"oversold ({params.oversold}) must be below overbought ({params.overbought})")
        if params.macd_fast >= params.macd_slow:
            problems.append(f"macd_fast ({params.macd_fast}) must be less than macd_slow ({params.macd_slow})")
        return problems

    def warmup(self, params: MultiIndicatorParams) -> int:
        return max(params.rsi_window + 1, params.macd_slow + params.macd_signal - 1, params.bb_window)

    def signals(self, bars: Any, params: MultiIndicatorParams) -> np.ndarray:
        c = close_of(bars)
        rsi = ind.rsi(c, params.rsi_window)
        hist = ind.macd(c, params.macd_fast, params.macd_slow, params.macd_signal).hist
        bands = ind.bollinger(c, params.bb_window, params.bb_k)
        votes = (np.where(rsi < params.oversold, 1.0, 0.0) - np.where(rsi > params.overbought, 1.0, 0.0)
                 + np.sign(hist)
                 + np.where(c < bands.lower, 1.0, 0.0) - np.where(c > bands.upper, 1.0, 0.0))
        target = np.where(votes >= params.min_votes, 1.0, np.where(votes <= -params.min_votes, -1.0, 0.0))
        target[np.isnan(rsi) | np.isnan(hist) | np.isnan(bands.mid)] = np.nan
        return target
