"""Betting strategies on real historical odds, without look-ahead, and the goal model's honest record.

**Walk-forward probabilities** (:func:`walk_forward`): a match played on day ``d`` is priced by the
goal model fitted on the matches of the season played strictly before the day of the fit, which is
``d`` or an earlier day (refits every ``refit_every_days``): never on that day's or a later result.
Pricing starts once at least ``min_train`` matches are known; days before are skipped.

**Strategies** (one bet at most per match, on the 1X2 market of one bookmaker, at its closing or its
opening prices; the market's fair probabilities come from those same prices with the margin removed):

* ``value``: the outcome with the highest expected value ``q o - 1`` among those whose model
  probability ``q`` beats the fair probability by more than ``min_edge`` and whose EV is above
  ``min_ev``;
* ``favourite``: the outcome with the shortest odds; ``longshot``: the longest.

**Staking**: ``flat`` (``stake`` each bet) or ``kelly`` (``kelly_fraction`` x the Kelly stake of the
model probability, of the bankroll at the start of the match day; only for ``value``: the others have
no probability of their own). A day's stakes never exceed the bankroll (scaled down if they would).
Bets settle at the final score. ``clv = odds / closing odds - 1`` (0 when betting at the close).

**Evaluation** (:func:`evaluate`): mean log loss ``-log p(result)`` and Brier score
``sum_k (p_k - y_k)**2`` of the model's and of the margin-free closing market's 1X2 probabilities over
the same matches.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import attrs
import numpy as np

from neural_trader.errors import NtLimitExceeded, NtUserError
from neural_trader_plugins.sports.book import goals
from neural_trader_plugins.sports.book.seasons import before, event_id, results_of
from neural_trader_plugins.sports.football_data import Match, OneXTwo
from neural_trader_plugins.sports.margins import remove_margin

__all__ = ["Priced", "StrategyResult", "backtest", "evaluate", "walk_forward"]

OUTCOMES = ("home", "draw", "away")
#: The most model fits one walk-forward run makes (a season refitted weekly needs about 30).
MAX_FITS = 40
_RESULT = {"H": 0, "D": 1, "A": 2}


@attrs.frozen(kw_only=True)
class Priced:
    """One match and the model's 1X2 probabilities from the fit on the matches before its day."""

    match: Match
    probabilities: tuple[float, float, float]
    trained_on: int


def walk_forward(matches: Sequence[Match], *, start: dt.date | None, end: dt.date | None, kind: str, xi: float,
                 min_train: int, refit_every_days: int = 1) -> tuple[list[Priced], int]:
    """Model probabilities of the matches from ``start`` to ``end`` (inclusive), each from a fit on
    matches before its day (refitted when ``refit_every_days`` have passed since the last fit: the
    fit in use is never later than the day priced); and how many in the window were skipped (too
    little history, a team not seen yet)."""
    window = [m for m in matches if (start is None or m.date >= start) and (end is None or m.date <= end)]
    priced: list[Priced] = []
    skipped = 0
    days = sorted({m.date for m in window})
    fits, last = 0, None
    for day in days:
        if last is None or (day - last).days >= refit_every_days:
            fits, last = fits + 1, day
    if fits > MAX_FITS:
        raise NtLimitExceeded(f"the window from {days[0]} to {days[-1]} needs {fits} model fits at refit_every_days "
                              f"{refit_every_days}; at most {MAX_FITS}: refit less often or narrow start/end",
                              details={"field": "refit_every_days", "asked": fits, "limit": MAX_FITS})
    model: goals.GoalModel | None = None
    fitted_on: dt.date | None = None
    trained_on = 0
    for day in days:
        todays = [m for m in window if m.date == day]
        if model is None or fitted_on is None or (day - fitted_on).days >= refit_every_days:
            history = before(matches, day)
            if len(history) >= max(min_train, goals.MIN_MATCHES):
                warm = goals.parameter_vector(model) if model is not None else None
                model = goals.fit_cached(results_of(history), kind=kind, xi=xi, start=warm)
                fitted_on, trained_on = day, len(history)
        if model is None:
            skipped += len(todays)
            continue
        for m in todays:
            if m.home_team not in model.teams or m.away_team not in model.teams:
                skipped += 1
                continue
            pr = model.predict(m.home_team, m.away_team)
            priced.append(Priced(match=m, probabilities=(pr.home, pr.draw, pr.away), trained_on=trained_on))
    return priced, skipped


def _prices(match: Match, bookmaker: str, price: str) -> OneXTwo | None:
    return match.closing(bookmaker) if price == "closing" else match.opening(bookmaker)


@attrs.frozen(kw_only=True)
class Evaluation:
    n_matches: int
    model_log_loss: float
    model_brier: float
    market_log_loss: float
    market_brier: float


def evaluate(priced: Sequence[Priced], *, bookmaker: str, method: str) -> Evaluation:
    """Log loss and Brier score of the model and of ``bookmaker``'s margin-free closing odds, over the
    priced matches that have those odds."""
    model, market, truth = [], [], []
    for p in priced:
        odds = p.match.closing(bookmaker)
        if odds is None:
            continue
        model.append(p.probabilities)
        market.append(remove_margin([odds.home, odds.draw, odds.away], method).probabilities)
        truth.append(_RESULT[p.match.result])
    if not truth:
        raise NtUserError(f"no match in the window has {bookmaker} closing odds to compare with: choose another "
                          "bookmaker (PS, Avg, B365) or window", details={"field": "bookmaker"})
    y = np.zeros((len(truth), 3))
    y[np.arange(len(truth)), truth] = 1.0
    q, m = np.array(model), np.array(market)

    def scores(p: np.ndarray) -> tuple[float, float]:
        return float(-np.mean(np.log(p[np.arange(len(truth)), truth]))), float(np.mean(np.sum((p - y) ** 2, axis=1)))

    (ml, mb), (kl, kb) = scores(q), scores(m)
    return Evaluation(n_matches=len(truth), model_log_loss=ml, model_brier=mb, market_log_loss=kl, market_brier=kb)


@attrs.frozen(kw_only=True)
class BacktestBet:
    date: dt.date
    event_id: str
    selection: str
    odds: float
    closing_odds: float | None
    probability: float | None
    fair_probability: float
    stake: float
    profit: float
    won: bool


@attrs.frozen(kw_only=True)
class StrategyResult:
    strategy: str
    staking: str
    n_bets: int
    staked: float
    profit: float
    roi: float | None
    hit_rate: float | None
    mean_odds: float | None
    mean_clv: float | None
    bankroll_start: float
    bankroll_end: float
    max_drawdown: float
    dates: tuple[dt.date, ...]
    path: tuple[float, ...]
    bets: tuple[BacktestBet, ...]


def _choose(strategy: str, p: Priced, odds: np.ndarray, fair: tuple[float, ...], *, min_edge: float,
            min_ev: float) -> int | None:
    if strategy == "favourite":
        return int(np.argmin(odds))
    if strategy == "longshot":
        return int(np.argmax(odds))
    q = np.array(p.probabilities)
    ev = q * odds - 1.0
    ok = [(ev[k], -k) for k in range(3) if q[k] - fair[k] > min_edge and ev[k] > min_ev]
    return -max(ok)[1] if ok else None


def backtest(priced: Sequence[Priced], *, strategy: str, staking: str, bookmaker: str, price: str, method: str,
             bankroll: float, stake: float, kelly_fraction: float, min_edge: float, min_ev: float) -> StrategyResult:
    """One strategy and staking rule over the priced matches (see the module docstring)."""
    if strategy not in ("value", "favourite", "longshot"):
        raise NtUserError(f"strategy must be value, favourite or longshot, got {strategy!r}", details={"field": "strategy"})
    if staking not in ("flat", "kelly"):
        raise NtUserError(f"staking must be flat or kelly, got {staking!r}", details={"field": "staking"})
    if staking == "kelly" and strategy != "value":
        raise NtUserError(f"kelly staking needs a probability of the bettor's own; {strategy} bets on the market's "
                          "prices alone (Kelly at fair odds less a margin is no bet): use staking flat, or strategy "
                          "value", details={"field": "staking"})
    level, peak, worst = bankroll, bankroll, 0.0
    dates: list[dt.date] = []
    path: list[float] = []
    bets: list[BacktestBet] = []
    by_day: dict[dt.date, list[Priced]] = {}
    for p in priced:
        by_day.setdefault(p.match.date, []).append(p)
    for day in sorted(by_day):
        planned = []
        for p in by_day[day]:
            quote = _prices(p.match, bookmaker, price)
            if quote is None:
                continue
            odds = np.array([quote.home, quote.draw, quote.away])
            fair = remove_margin(odds, method).probabilities
            k = _choose(strategy, p, odds, fair, min_edge=min_edge, min_ev=min_ev)
            if k is None:
                continue
            if staking == "flat":
                amount = stake
            else:
                q, b = p.probabilities[k], odds[k] - 1.0
                amount = kelly_fraction * max((b * q - (1.0 - q)) / b, 0.0) * level
            if amount > 0:
                planned.append((p, k, float(odds[k]), fair[k], amount))
        total = sum(a for *_, a in planned)
        scale = 1.0 if total <= level else level / total
        for p, k, o, fair_k, amount in planned:
            amount *= scale
            won = _RESULT[p.match.result] == k
            profit = amount * (o - 1.0) if won else -amount
            closing = p.match.closing(bookmaker)
            c = None if closing is None else (closing.home, closing.draw, closing.away)[k]
            bets.append(BacktestBet(date=day, event_id=event_id(p.match), selection=OUTCOMES[k], odds=o,
                                    closing_odds=c, probability=p.probabilities[k] if strategy == "value" else None,
                                    fair_probability=fair_k, stake=amount, profit=profit, won=won))
            level += profit
        peak = max(peak, level)
        worst = max(worst, 1.0 - level / peak if peak > 0 else 0.0)
        dates.append(day)
        path.append(level)
    staked = math.fsum(b.stake for b in bets)
    profit = math.fsum(b.profit for b in bets)
    clv = [b.odds / b.closing_odds - 1.0 for b in bets if b.closing_odds]
    return StrategyResult(strategy=strategy, staking=staking, n_bets=len(bets), staked=staked, profit=profit,
                          roi=profit / staked if staked else None,
                          hit_rate=sum(b.won for b in bets) / len(bets) if bets else None,
                          mean_odds=math.fsum(b.odds for b in bets) / len(bets) if bets else None,
                          mean_clv=math.fsum(clv) / len(clv) if clv else None, bankroll_start=bankroll,
                          bankroll_end=level, max_drawdown=worst, dates=tuple(dates), path=tuple(path),
                          bets=tuple(bets))
