"""How a betting account did: profit and loss, ROI, hit rate, closing-line value and drawdown, from its
settled bets in the order they were settled.

* ``profit = sum(payout - stake)``; ``roi = profit / staked`` (void bets count in neither: their
  stake came back); ``hit_rate = won / (won + lost)``.
* **Closing-line value** of a single with closing odds ``c``, taken at odds ``o``: ``clv = o / c - 1``
  (positive: the bet beat the closing price, the market's last and sharpest estimate). The mean is
  over the singles whose closing odds are known (a multiple has no one closing price).
* **Drawdown**: the bankroll path ``bankroll + cumulative profit`` after each settled bet; the max
  drawdown is the largest fall from a running peak, as an amount and as a fraction of that peak.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence

import attrs

from neural_trader_plugins.sports.book.ledger import Bet

__all__ = ["Performance", "performance"]

D = decimal.Decimal


@attrs.frozen(kw_only=True)
class Performance:
    n_settled: int
    won: int
    lost: int
    void: int
    staked: D
    returned: D
    profit: D
    roi: float | None
    hit_rate: float | None
    mean_clv: float | None
    n_clv: int
    bankroll_start: D
    bankroll: D
    max_drawdown: D
    max_drawdown_fraction: float
    path: tuple[D, ...]


def performance(bets: Sequence[Bet], bankroll: D) -> Performance:
    """The record of ``bets`` (settled ones, in settlement order) on a starting ``bankroll``."""
    settled = [b for b in bets if b.status in ("won", "lost", "void")]
    won = sum(b.status == "won" for b in settled)
    lost = sum(b.status == "lost" for b in settled)
    void = sum(b.status == "void" for b in settled)
    decided = [b for b in settled if b.status != "void"]
    staked = sum((b.stake for b in decided), D(0))
    returned = sum((b.payout or D(0) for b in decided), D(0))
    profit = sum(((b.payout or D(0)) - b.stake for b in settled), D(0))
    clvs = [float(b.odds / b.legs[0].closing_odds) - 1.0 for b in settled
            if b.kind == "single" and b.legs[0].closing_odds is not None and b.status != "void"]
    level, peak, worst, worst_fraction = bankroll, bankroll, D(0), 0.0
    path = [bankroll]
    for b in settled:
        level += (b.payout or D(0)) - b.stake
        path.append(level)
        peak = max(peak, level)
        if peak - level > worst:
            worst = peak - level
        if peak > 0:
            worst_fraction = max(worst_fraction, float((peak - level) / peak))
    return Performance(n_settled=len(settled), won=won, lost=lost, void=void, staked=staked, returned=returned,
                       profit=profit, roi=float(profit / staked) if staked else None,
                       hit_rate=won / (won + lost) if won + lost else None,
                       mean_clv=sum(clvs) / len(clvs) if clvs else None, n_clv=len(clvs), bankroll_start=bankroll,
                       bankroll=level, max_drawdown=worst, max_drawdown_fraction=worst_fraction, path=tuple(path))
