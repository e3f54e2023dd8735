"""Trend following: the dual-EMA regime, left early through a ratcheting ATR (chandelier) stop."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies._signals import sign_state
from neural_trader.strategies.base import Strategy, columns_of

__all__ = ["TrendFollowing", "TrendFollowingParams"]


@attrs.frozen(kw_only=True)
class TrendFollowingParams:
    """EMA windows and the ATR stop."""

    fast: int = param(default=20, ge=1, le=10_000, description="fast EMA window (bars)")
    slow: int = param(default=50, ge=2, le=10_000, description="slow EMA window (bars); must exceed fast")
    atr_window: int = param(default=14, ge=1, le=10_000, description="ATR window (Wilder)")
    atr_mult: float = param(default=3.0, gt=0, le=100, description="stop distance below the best close, in ATRs")


class TrendFollowing(Strategy):
    """The regime is the sign of ``EMA(fast) - EMA(slow)``; a new regime enters (long or short).
    Within a long regime the stop is the running maximum, since the regime began, of
    ``close - atr_mult * ATR``; a close below the previous bar's stop exits and the strategy waits
    flat for the next regime (shorts mirror it)."""

    name = "trend_following"
    summary = "dual EMA trend with a ratcheting ATR stop"
    params_type = TrendFollowingParams

    def constraints(self, params: TrendFollowingParams) -> list[str]:
        return [] if params.fast < params.slow else [f"fast ({params.fast}) must be less than slow ({params.slow})"]

    def warmup(self, params: TrendFollowingParams) -> int:
        return max(params.slow, params.atr_window + 1)

    def signals(self, bars: Any, params: TrendFollowingParams) -> np.ndarray:
        _, h, lo, c = columns_of(bars)
        n = c.shape[0]
        regime = sign_state(ind.ema(c, params.fast) - ind.ema(c, params.slow))
        atr = ind.atr(h, lo, c, params.atr_window)
        regime[np.isnan(atr)] = 0.0
        target = regime.copy()
        # Walk the regimes (few per series); each one is scanned with numpy.
        starts = np.flatnonzero(np.diff(regime, prepend=0.0) != 0.0)
        ends = np.append(starts[1:], n)
        long_level = c - params.atr_mult * atr
        short_level = c + params.atr_mult * atr
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            r = regime[s]
            if r == 0.0 or e - s < 2:
                continue
            if r > 0:
                stop = np.maximum.accumulate(long_level[s:e - 1])
                hit = np.flatnonzero(c[s + 1:e] < stop)
            else:
                stop = np.minimum.accumulate(short_level[s:e - 1])
                hit = np.flatnonzero(c[s + 1:e] > stop)
            if hit.size:
                target[s + 1 + hit[0]:e] = 0.0
        return target
