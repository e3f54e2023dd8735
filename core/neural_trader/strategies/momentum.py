"""Momentum: ride the sign of the return over a lookback, with a stop-loss and a take-profit."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.schema import param
from neural_trader.strategies.base import Strategy, close_of

__all__ = ["Momentum", "MomentumParams"]


@attrs.frozen(kw_only=True)
class MomentumParams:
    """Lookback, entry threshold and exits."""

    lookback: int = param(default=20, ge=1, le=10_000, description="bars over which the return is measured")
    threshold: float = param(default=0.02, ge=0, le=10,
                             description="enter when the lookback return exceeds this (0.02 = 2 %); "
                                         "short below its negative")
    stop_loss: float = param(default=0.05, ge=0, lt=1,
                             description="exit this fraction against the entry price (0 = off)")
    take_profit: float = param(default=0.10, ge=0, le=10,
                               description="exit this fraction in favour of the entry price (0 = off)")


class Momentum(Strategy):
    """Target +1 while ``close / close[lookback bars ago] - 1 > threshold``, -1 while it is below
    ``-threshold``, 0 in between. Stop-loss and take-profit are intrabar exits from the entry fill;
    after one the position stays flat until the target changes."""

    name = "momentum"
    summary = "time-series momentum over a lookback, with stop-loss and take-profit"
    params_type = MomentumParams

    def warmup(self, params: MomentumParams) -> int:
        return params.lookback

    def sim_overrides(self, params: MomentumParams) -> dict[str, float]:
        return {"stop_loss": params.stop_loss, "take_profit": params.take_profit}

    def signals(self, bars: Any, params: MomentumParams) -> np.ndarray:
        c = close_of(bars)
        lb = params.lookback
        out = np.full(c.shape[0], np.nan)
        if c.shape[0] > lb:
            roc = c[lb:] / c[:-lb] - 1.0
            out[lb:] = np.where(roc > params.threshold, 1.0, np.where(roc < -params.threshold, -1.0, 0.0))
        return out

    def on_start(self, ctx: Any) -> None:
        ctx.state.close = close_of(ctx.data()).tolist()
        ctx.state.target = 0.0

    def on_bar(self, ctx: Any, bar: int) -> None:
        p = ctx.params
        if bar < p.lookback:
            return
        c = ctx.state.close
        roc = c[bar] / c[bar - p.lookback] - 1.0
        t = 1.0 if roc > p.threshold else -1.0 if roc < -p.threshold else 0.0
        if t != ctx.state.target:
            ctx.state.target = t
            ctx.order_target(t)
