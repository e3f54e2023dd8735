"""Monte Carlo robustness: how much of a backtest's result is the order and luck of its trades.

:func:`bootstrap_trades` resamples the per-trade returns with replacement (as many trades as the
backtest closed, ``n_sims`` times, from a seeded generator), compounds each path from the starting
cash, and reports percentiles of the final equity, the total return and the maximum drawdown, plus
the probability of ending below the start. Compounding trade returns assumes each trade reinvests
the equity, which is what ``all_in`` sizing does. Only closed trades are resampled
(:func:`bootstrap_run`): the position still open at the last bar has a marked, not a realised,
return.
"""

from __future__ import annotations

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param

__all__ = ["PERCENTILES", "MonteCarloSummary", "Percentiles", "bootstrap_paths", "bootstrap_run", "bootstrap_trades"]

PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
#: Paths simulated per block, so memory stays bounded whatever ``n_sims`` x trades is.
_BLOCK_VALUES = 4_000_000


@attrs.frozen(kw_only=True)
class Percentiles:
    """Percentiles of one simulated quantity."""

    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    mean: float

    @classmethod
    def of(cls, values: np.ndarray) -> Percentiles:
        q = np.percentile(values, PERCENTILES)
        return cls(p5=float(q[0]), p25=float(q[1]), p50=float(q[2]), p75=float(q[3]), p95=float(q[4]),
                   mean=float(values.mean()))


@attrs.frozen(kw_only=True)
class MonteCarloSummary:
    """Distribution of outcomes over bootstrapped trade sequences."""

    n_sims: int = param(description="number of simulated trade sequences")
    n_trades: int = param(description="trades per sequence: the backtest's closed trades (a position still "
                                      "open at the last bar is left out)")
    seed: int = param(description="seed of the generator; the same seed gives the same numbers")
    final_equity: Percentiles = param(description="final equity across the simulations")
    total_return: Percentiles = param(description="total return (final / initial - 1)")
    max_drawdown: Percentiles = param(description="maximum drawdown of each path (<= 0)")
    probability_of_loss: float = param(description="share of simulations that end below the starting cash")


def bootstrap_paths(trade_returns: np.ndarray, n_sims: int, seed: int,
                    init_cash: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(final_equity, max_drawdown)`` of ``n_sims`` resampled trade sequences.

    Draws are ``default_rng(seed).integers(0, m, size=(rows, m))`` block by block, so the numbers
    depend only on the seed and the inputs (not on the block size: each block continues the stream).
    """
    r = np.asarray(trade_returns, dtype=np.float64)
    if r.ndim != 1:
        raise NtUserError(f"trade returns must be a 1-D series, got shape {r.shape}")
    if n_sims < 1:
        raise NtUserError(f"n_sims must be >= 1, got {n_sims}")
    if r.size == 0:
        raise NtUserError("Monte Carlo resamples closed trades and the backtest made none (a position still open "
                          "at the last bar is not resampled); use a longer window or a strategy that trades")
    if not np.all(np.isfinite(r)) or np.any(r <= -1.0):
        raise NtUserError("trade returns must be finite and > -100 % to be compounded")
    m = r.shape[0]
    rng = np.random.default_rng(seed)
    finals = np.empty(n_sims)
    drawdowns = np.empty(n_sims)
    rows = max(1, _BLOCK_VALUES // m)
    for lo in range(0, n_sims, rows):
        hi = min(n_sims, lo + rows)
        growth = np.cumprod(1.0 + r[rng.integers(0, m, size=(hi - lo, m))], axis=1)
        # The path starts at 1 (the initial cash), which counts as a peak.
        peaks = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)
        finals[lo:hi] = init_cash * growth[:, -1]
        drawdowns[lo:hi] = np.minimum((growth / peaks - 1.0).min(axis=1), 0.0)
    return finals, drawdowns


def bootstrap_trades(trade_returns: np.ndarray, *, n_sims: int = 1000, seed: int = 0,
                     init_cash: float = 100_000.0) -> MonteCarloSummary:
    """Percentiles of final equity, total return and maximum drawdown over resampled trades."""
    finals, drawdowns = bootstrap_paths(trade_returns, n_sims, seed, init_cash)
    return MonteCarloSummary(
        n_sims=n_sims, n_trades=int(np.asarray(trade_returns).shape[0]), seed=seed,
        final_equity=Percentiles.of(finals), total_return=Percentiles.of(finals / init_cash - 1.0),
        max_drawdown=Percentiles.of(drawdowns),
        probability_of_loss=float(np.mean(finals < init_cash)),
    )


def bootstrap_run(trades: np.ndarray, *, n_sims: int = 1000, seed: int = 0,
                  init_cash: float = 100_000.0) -> MonteCarloSummary:
    """:func:`bootstrap_trades` of a backtest's trades table (:data:`~neural_trader.backtest.result.
    TRADES_DTYPE`): its closed trades, without the position still open at the end."""
    from neural_trader.backtest.result import closed_trades

    return bootstrap_trades(closed_trades(trades)["ret"], n_sims=n_sims, seed=seed, init_cash=init_cash)
