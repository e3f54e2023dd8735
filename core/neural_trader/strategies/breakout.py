"""Donchian breakout: enter on a close beyond the prior channel, exit on the shorter opposite one."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies._signals import lagged, latch
from neural_trader.strategies.base import Strategy, columns_of

__all__ = ["Breakout", "BreakoutParams"]


@attrs.frozen(kw_only=True)
class BreakoutParams:
    """Channel windows (the turtle system's 20/10 by default)."""

    window: int = param(default=20, ge=1, le=10_000, description="entry channel: highest high / lowest low of the prior bars")
    exit_window: int = param(default=10, ge=1, le=10_000,
                             description="exit channel (at most window): lowest low / highest high of the prior bars")


class Breakout(Strategy):
    """Long when the close exceeds the highest high of the previous ``window`` bars, short when it
    falls below their lowest low; a long exits when the close falls below the lowest low of the
    previous ``exit_window`` bars, a short when it rises above their highest high."""

    name = "breakout"
    summary = "Donchian channel breakout with a shorter exit channel"
    params_type = BreakoutParams

    def constraints(self, params: BreakoutParams) -> list[str]:
        if params.exit_window > params.window:
            return [f"exit_window ({params.exit_window}) must not exceed window ({params.window})"]
        return []

    def warmup(self, params: BreakoutParams) -> int:
        return params.window

    def signals(self, bars: Any, params: BreakoutParams) -> np.ndarray:
        _, h, lo, c = columns_of(bars)
        upper, lower = lagged(ind.rolling_max(h, params.window)), lagged(ind.rolling_min(lo, params.window))
        exit_lo = lagged(ind.rolling_min(lo, params.exit_window))
        exit_hi = lagged(ind.rolling_max(h, params.exit_window))
        reset = np.where(c > upper, 1.0, np.where(c < lower, -1.0, np.nan))
        return latch(reset, c < exit_lo, c > exit_hi)

    def on_start(self, ctx: Any) -> None:
        _, h, lo, c = columns_of(ctx.data())
        ctx.state.high, ctx.state.low, ctx.state.close = h.tolist(), lo.tolist(), c.tolist()
        ctx.state.target = 0.0

    def on_bar(self, ctx: Any, bar: int) -> None:
        p, st = ctx.params, ctx.state
        if bar < p.window:
            return
        c, s = st.close[bar], st.target
        if c > max(st.high[bar - p.window:bar]):
            t = 1.0
        elif c < min(st.low[bar - p.window:bar]):
            t = -1.0
        elif (s > 0 and c < min(st.low[bar - p.exit_window:bar])) or (s < 0 and c > max(st.high[bar - p.exit_window:bar])):
            t = 0.0
        else:
            return
        if t != s:
            st.target = t
            ctx.order_target(t)
