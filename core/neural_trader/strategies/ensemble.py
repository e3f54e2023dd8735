"""Ensemble: a weighted vote of the positions four built-in strategies would hold."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.schema import param
from neural_trader.strategies._signals import hold_last
from neural_trader.strategies.base import Strategy
from neural_trader.strategies.breakout import Breakout
from neural_trader.strategies.mean_reversion import MeanReversion
from neural_trader.strategies.momentum import Momentum
from neural_trader.strategies.sma_crossover import SmaCrossover

__all__ = ["Ensemble", "EnsembleParams"]

_MEMBERS: tuple[tuple[str, Strategy], ...] = (
    ("sma_crossover", SmaCrossover()), ("momentum", Momentum()), ("mean_reversion", MeanReversion()),
    ("breakout", Breakout()),
)


@attrs.frozen(kw_only=True)
class EnsembleParams:
    """Each member's weight and the agreement needed."""

    w_sma_crossover: float = param(default=1.0, ge=0, le=100, description="weight of sma_crossover (defaults)")
    w_momentum: float = param(default=1.0, ge=0, le=100, description="weight of momentum (defaults, no exits)")
    w_mean_reversion: float = param(default=1.0, ge=0, le=100, description="weight of mean_reversion (defaults)")
    w_breakout: float = param(default=1.0, ge=0, le=100, description="weight of breakout (defaults)")
    threshold: float = param(default=0.5, gt=0, le=1,
                             description="hold a side when the weighted vote reaches this fraction of the total weight")


class Ensemble(Strategy):
    """Each member (with its default parameters) holds -1, 0 or +1 at every bar; the vote is the
    weighted mean of those positions. Target +1 when the vote is >= ``threshold``, -1 when
    <= ``-threshold``, else 0. Members' own stops do not apply."""

    name = "ensemble"
    summary = "weighted vote of sma_crossover, momentum, mean_reversion and breakout"
    params_type = EnsembleParams

    def constraints(self, params: EnsembleParams) -> list[str]:
        return [] if self._weights(params).sum() > 0 else ["at least one weight must be > 0"]

    def warmup(self, params: EnsembleParams) -> int:
        return max(s.warmup(s.default_params()) for _, s in _MEMBERS)

    @staticmethod
    def _weights(params: EnsembleParams) -> np.ndarray:
        return np.array([getattr(params, f"w_{name}") for name, _ in _MEMBERS])

    def signals(self, bars: Any, params: EnsembleParams) -> np.ndarray:
        weights = self._weights(params)
        vote: np.ndarray | None = None
        for w, (_, member) in zip(weights.tolist(), _MEMBERS, strict=True):
            if w == 0.0:
                continue
            state = hold_last(member.signals(bars, member.default_params()))
            vote = w * state if vote is None else vote + w * state
        assert vote is not None
        vote = vote / weights.sum()
        target = np.where(vote >= params.threshold, 1.0, np.where(vote <= -params.threshold, -1.0, 0.0))
        target[: min(self.warmup(params), target.shape[0])] = np.nan
        return target
