"""SMA crossover: long when the fast average crosses above the slow one, out (or short) below."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.native.simulate import targets_from_crossover
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy, close_of

__all__ = ["SmaCrossover", "SmaCrossoverParams"]


@attrs.frozen(kw_only=True)
class SmaCrossoverParams:
    """Windows of the two simple moving averages."""

    fast: int = param(default=10, ge=1, le=10_000, description="fast SMA window (bars)")
    slow: int = param(default=30, ge=2, le=10_000, description="slow SMA window (bars); must exceed fast")


class SmaCrossover(Strategy):
    """backtrader's ``CrossOver`` of SMA(fast) and SMA(slow) on the close: +1 on a cross above,
    -1 (short, or flat when shorts are off) on a cross below, hold otherwise. Exact SMAs keep ties
    ties (docs/native.md)."""

    name = "sma_crossover"
    summary = "SMA(fast)/SMA(slow) crossover: long above, flat or short below"
    params_type = SmaCrossoverParams

    def constraints(self, params: SmaCrossoverParams) -> list[str]:
        return [] if params.fast < params.slow else [f"fast ({params.fast}) must be less than slow ({params.slow})"]

    def warmup(self, params: SmaCrossoverParams) -> int:
        return params.slow

    @staticmethod
    def cross(close: np.ndarray, params: SmaCrossoverParams) -> np.ndarray:
        return ind.crossover(ind.sma(close, params.fast), ind.sma(close, params.slow))

    def signals(self, bars: Any, params: SmaCrossoverParams) -> np.ndarray:
        return targets_from_crossover(self.cross(close_of(bars), params), allow_short=True)

    def on_start(self, ctx: Any) -> None:
        ctx.state.cross = self.cross(close_of(ctx.data()), ctx.params).tolist()
        ctx.state.target = 0.0

    def on_bar(self, ctx: Any, bar: int) -> None:
        x = ctx.state.cross[bar]
        if x:
            t = 1.0 if x > 0 else -1.0
            if t != ctx.state.target:
                ctx.state.target = t
                ctx.order_target(t)
