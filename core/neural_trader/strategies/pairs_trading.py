"""Pairs trading: trade the z-score of the spread between two co-moving symbols."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from neural_trader.native import indicators as ind
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy, close_of
from neural_trader.strategies.mean_reversion import MeanReversion

__all__ = ["PairsTrading", "PairsTradingParams", "hedge_ratio"]


@attrs.frozen(kw_only=True)
class PairsTradingParams:
    """Hedge-ratio window and spread bands."""

    hedge_window: int = param(default=60, ge=2, le=10_000,
                              description="bars for the rolling OLS hedge ratio of A on B")
    z_window: int = param(default=20, ge=2, le=10_000, description="bars for the spread's z-score")
    entry_z: float = param(default=2.0, gt=0, le=10, description="open the spread when its absolute z-score exceeds this")
    exit_z: float = param(default=0.5, ge=0, le=10, description="close it when the absolute z-score is back within this")


def hedge_ratio(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Rolling OLS slope of ``a`` on ``b``: ``cov(a, b) / var(b)`` over ``window`` bars."""
    mb = ind.sma(b, window)
    cov = ind.sma(a * b, window) - ind.sma(a, window) * mb
    var = ind.sma(b * b, window) - mb * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / var, np.nan)


class PairsTrading(Strategy):
    """``spread = A - beta * B`` with ``beta`` the rolling hedge ratio; ``z`` its rolling z-score.
    Long the spread (long A, short B) when ``z < -entry_z``, short it when ``z > entry_z``, close
    when ``|z|`` is back within ``exit_z`` (the mean-reversion state machine). Leg sizes are fixed
    at entry so that B's units are ``beta`` times A's: with equal sleeves the smaller leg's target
    is scaled by the dollar ratio ``|beta| * B / A``."""

    name = "pairs_trading"
    summary = "two-symbol spread z-score with a rolling hedge ratio"
    params_type = PairsTradingParams
    symbols_required = 2
    needs_short = True

    def constraints(self, params: PairsTradingParams) -> list[str]:
        if params.exit_z >= params.entry_z:
            return [f"exit_z ({params.exit_z}) must be less than entry_z ({params.entry_z})"]
        return []

    def warmup(self, params: PairsTradingParams) -> int:
        return params.hedge_window + params.z_window - 1

    def signals(self, bars: Any, params: PairsTradingParams) -> np.ndarray:
        a, b = close_of(bars[0]), close_of(bars[1])
        n = a.shape[0]
        beta = hedge_ratio(a, b, params.hedge_window)
        spread = np.ascontiguousarray(a - beta * b)
        z = ind.zscore(spread, params.z_window)
        state = MeanReversion.states(z, params.entry_z, params.exit_z)
        change = np.flatnonzero(np.diff(state, prepend=0.0) != 0.0)
        at = np.zeros(n, np.int64)
        at[change] = change
        at = np.maximum.accumulate(at) if n else at
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(beta) * b / a
        ratio_at = ratio[at]
        leg_a = state * np.minimum(1.0, 1.0 / ratio_at)
        leg_b = -state * np.sign(beta[at]) * np.minimum(1.0, ratio_at)
        out = np.column_stack((leg_a, leg_b))
        out[state == 0.0] = 0.0
        out[: min(self.warmup(params), n)] = np.nan
        return out
