"""Mean reversion: fade stretched z-scores of the close, exit when they revert."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies._signals import latch
from neural_trader.strategies.base import Strategy, close_of

__all__ = ["MeanReversion", "MeanReversionParams"]


@attrs.frozen(kw_only=True)
class MeanReversionParams:
    """Z-score window and bands."""

    window: int = param(default=20, ge=2, le=10_000, description="bars for the mean and standard deviation")
    entry_z: float = param(default=2.0, gt=0, le=10, description="enter when the absolute z-score exceeds this")
    exit_z: float = param(default=0.5, ge=0, le=10, description="exit when the z-score is back within plus or minus this")


class MeanReversion(Strategy):
    """``z = (close - SMA) / SD`` over ``window`` (population sd). Long when ``z < -entry_z``,
    short when ``z > entry_z``; a long exits once ``z >= -exit_z``, a short once ``z <= exit_z``;
    otherwise hold. NaN z (warm-up, flat window) holds."""

    name = "mean_reversion"
    summary = "z-score mean reversion: fade moves beyond entry_z, exit inside exit_z"
    params_type = MeanReversionParams

    def constraints(self, params: MeanReversionParams) -> list[str]:
        if params.exit_z >= params.entry_z:
            return [f"exit_z ({params.exit_z}) must be less than entry_z ({params.entry_z})"]
        return []

    def warmup(self, params: MeanReversionParams) -> int:
        return params.window

    @staticmethod
    def states(z: np.ndarray, entry: float, exit_: float) -> np.ndarray:
        """The z-band state machine over a z series (shared with pairs trading)."""
        reset = np.where(z < -entry, 1.0, np.where(z > entry, -1.0, np.where(np.abs(z) <= exit_, 0.0, np.nan)))
        return latch(reset, z >= -exit_, z <= exit_)

    def signals(self, bars: Any, params: MeanReversionParams) -> np.ndarray:
        z = ind.zscore(close_of(bars), params.window)
        return self.states(z, params.entry_z, params.exit_z)

    def on_start(self, ctx: Any) -> None:
        ctx.state.z = ind.zscore(close_of(ctx.data()), ctx.params.window).tolist()
        ctx.state.target = 0.0

    def on_bar(self, ctx: Any, bar: int) -> None:
        z = ctx.state.z[bar]
        if z != z:
            return
        p, s = ctx.params, ctx.state.target
        if z < -p.entry_z:
            t = 1.0
        elif z > p.entry_z:
            t = -1.0
        elif -p.exit_z <= z <= p.exit_z:
            t = 0.0
        elif z < -p.exit_z:
            t = 0.0 if s < 0 else s  # between the bands below the mean: a short has reverted
        else:
            t = 0.0 if s > 0 else s  # between the bands above the mean: a long has reverted
        if t != s:
            ctx.state.target = t
            ctx.order_target(t)
