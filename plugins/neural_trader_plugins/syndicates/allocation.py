"""Allocating the bankroll to betting opportunities under the syndicate's bankroll rules.

Raw stake, as a fraction of the bankroll ``B`` (the NAV), by method, for an opportunity won with
probability ``p`` at decimal odds ``o`` (``b = o - 1``, ``q = 1 - p``, edge ``e = p o - 1``):

* ``kelly``: ``k x max(f*, 0)`` with the Kelly (1956) fraction ``f* = (b p - q) / b`` and ``k`` the
  rules' ``kelly_fraction`` (quarter Kelly by default), computed by
  :func:`neural_trader_plugins.sports.kelly.kelly_single`;
* ``equal``: the budget split equally among the opportunities with an edge;
* ``proportional``: the budget split in proportion to the edge ``e``;
* ``risk_adjusted``: the budget split in proportion to ``e / var``, where ``var = p q o^2`` is the
  variance of the return of one unit staked (edge per unit of risk).

The budget (equal, proportional, risk-adjusted) is ``budget x B``, by default what today's exposure
limit leaves. Opportunities without an edge (``e <= 0``) get nothing. Then every stake, in the
order given, is cut to the rules: ``max_single_bet x B``; what ``max_per_sport x B`` and
``max_per_market x B`` leave of the open stakes on its sport and market; what
``max_daily_exposure x B`` leaves of the stakes placed today; and what keeps ``min_reserve x B`` in
cash. Stakes round down to the cent. When the day's (the ISO week's) realised loss, net of
winnings, has reached its stop-loss share of the bankroll before those losses (NAV now plus the
loss), nothing is staked.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import attrs

from neural_trader.schema import param
from neural_trader_plugins.syndicates.books import Books
from neural_trader_plugins.syndicates.money import ZERO, cents_down

D = decimal.Decimal

__all__ = ["AllocationLine", "Exposure", "Method", "Opportunity", "allocate", "exposure"]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}$"
_NAME_HINT = "1 to 64 letters, digits, spaces and . _ : / - starting with a letter or digit"


class Method(enum.StrEnum):
    KELLY = "kelly"
    EQUAL = "equal"
    PROPORTIONAL = "proportional"
    RISK_ADJUSTED = "risk_adjusted"


@attrs.frozen(kw_only=True)
class Opportunity:
    """A bet the syndicate could place."""

    opportunity_id: str = param(pattern=_NAME, pattern_hint=_NAME_HINT, description="your id of the opportunity")
    probability: float = param(gt=0, lt=1, description="your probability that it wins")
    odds: float = param(gt=1, le=1000, description="decimal odds (stake included)")
    sport: str = param(default="other", pattern=_NAME, pattern_hint=_NAME_HINT, description="e.g. football")
    market: str = param(default="other", pattern=_NAME, pattern_hint=_NAME_HINT, description="e.g. match_odds")


@attrs.frozen(kw_only=True)
class AllocationLine:
    opportunity_id: str
    sport: str
    market: str
    probability: float
    odds: float
    edge: float = param(description="expected profit per unit staked, p x odds - 1")
    full_kelly: float = param(unit="fraction", description="(b p - q) / b with b = odds - 1")
    requested: D = param(unit="money", description="the method's stake before the rules")
    stake: D = param(unit="money", description="the stake after the rules, to the cent")
    limited_by: list[str] = param(description="the rules that cut the stake (empty: none)")


@attrs.frozen(kw_only=True)
class Exposure:
    """Where the books stand against the bankroll rules now."""

    bankroll: D
    cash: D
    open_stakes: D
    staked_today: D
    daily_limit_left: D
    reserve_required: D
    by_sport: dict[str, D]
    by_market: dict[str, D]
    loss_today: D
    loss_this_week: D
    daily_stop: bool
    weekly_stop: bool


def _loss_since(books: Books, since: dt.datetime) -> D:
    settled = sum((b.pnl for b in books.bets.values() if b.settled_at and b.settled_at >= since and b.pnl is not None),
                  ZERO)
    return max(ZERO, -settled)


def exposure(books: Books, now: dt.datetime) -> Exposure:
    rules, bankroll = books.rules, books.nav
    day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - dt.timedelta(days=day.weekday())
    open_bets = [b for b in books.bets.values() if b.outcome is None]
    by_sport: dict[str, D] = {}
    by_market: dict[str, D] = {}
    for bet in open_bets:
        by_sport[bet.sport] = by_sport.get(bet.sport, ZERO) + bet.amount
        key = f"{bet.sport}/{bet.market}"
        by_market[key] = by_market.get(key, ZERO) + bet.amount
    staked_today = sum((b.amount for b in books.bets.values() if b.placed_at >= day), ZERO)
    loss_today, loss_week = _loss_since(books, day), _loss_since(books, week)
    # The bankroll before the period's losses (NAV now plus what was lost), so that deposits and
    # withdrawals during the period neither hide nor inflate a loss.
    day_nav, week_nav = bankroll + loss_today, bankroll + loss_week
    return Exposure(
        bankroll=bankroll, cash=books.cash, open_stakes=books.open_stakes, staked_today=staked_today,
        daily_limit_left=max(ZERO, cents_down(rules.max_daily_exposure * bankroll) - staked_today),
        reserve_required=cents_down(rules.min_reserve * bankroll) if rules.min_reserve < 1 else bankroll,
        by_sport=by_sport, by_market=by_market, loss_today=loss_today, loss_this_week=loss_week,
        daily_stop=loss_today > 0 and loss_today >= rules.daily_stop_loss * day_nav,
        weekly_stop=loss_week > 0 and loss_week >= rules.weekly_stop_loss * week_nav)


def _raw_fractions(opportunities: list[Opportunity], method: Method, kelly_fraction: D,
                   budget: float) -> tuple[list[float], list[float], list[float]]:
    from neural_trader_plugins.sports.kelly import kelly_single

    edges = [o.probability * o.odds - 1.0 for o in opportunities]
    fulls = [kelly_single(o.probability, o.odds).full_kelly for o in opportunities]
    if method is Method.KELLY:
        raw = [float(kelly_fraction) * max(f, 0.0) for f in fulls]
        return raw, edges, fulls
    if method is Method.EQUAL:
        scores = [1.0 if e > 0 else 0.0 for e in edges]
    elif method is Method.PROPORTIONAL:
        scores = [max(e, 0.0) for e in edges]
    else:
        scores = [max(e, 0.0) / (o.probability * (1 - o.probability) * o.odds ** 2)
                  for e, o in zip(edges, opportunities, strict=True)]
    total = sum(scores)
    raw = [budget * s / total if total > 0 else 0.0 for s in scores]
    return raw, edges, fulls


def allocate(books: Books, opportunities: list[Opportunity], method: Method, now: dt.datetime, *,
             kelly_fraction: D | None = None, budget: D | None = None) -> tuple[list[AllocationLine], Exposure]:
    """The stakes the rules allow for ``opportunities`` now (nothing is written)."""
    rules = books.rules
    state = exposure(books, now)
    bankroll = state.bankroll
    budget_fraction = float(budget) if budget is not None else (
        float(state.daily_limit_left / bankroll) if bankroll > 0 else 0.0)
    raw, edges, fulls = _raw_fractions(opportunities, method, kelly_fraction or rules.kelly_fraction, budget_fraction)
    sport_left = {s: v for s, v in state.by_sport.items()}
    market_left = {m: v for m, v in state.by_market.items()}
    daily_left = state.daily_limit_left
    cash_left = max(ZERO, state.cash - state.reserve_required)
    lines = []
    for opp, fraction, edge, full in zip(opportunities, raw, edges, fulls, strict=True):
        requested = cents_down(D(repr(fraction)) * bankroll)
        limits: list[tuple[str, D]] = [("max_single_bet", cents_down(rules.max_single_bet * bankroll))]
        market_key = f"{opp.sport}/{opp.market}"
        limits.append(("max_per_sport", cents_down(rules.max_per_sport * bankroll) - sport_left.get(opp.sport, ZERO)))
        limits.append(("max_per_market", cents_down(rules.max_per_market * bankroll)
                       - market_left.get(market_key, ZERO)))
        limits.append(("max_daily_exposure", daily_left))
        limits.append(("min_reserve", cash_left))
        stake, limited_by = requested, []
        if state.daily_stop or state.weekly_stop:
            stake, limited_by = ZERO, ["daily_stop_loss" if state.daily_stop else "weekly_stop_loss"]
        elif edge <= 0:
            stake, limited_by = ZERO, ["no_edge"]
        for name, cap in limits:
            cap = max(cap, ZERO)
            if stake > cap:
                stake = cap
                limited_by.append(name)
        sport_left[opp.sport] = sport_left.get(opp.sport, ZERO) + stake
        market_left[market_key] = market_left.get(market_key, ZERO) + stake
        daily_left -= stake
        cash_left -= stake
        lines.append(AllocationLine(opportunity_id=opp.opportunity_id, sport=opp.sport, market=opp.market,
                                    probability=opp.probability, odds=opp.odds, edge=edge, full_kelly=full,
                                    requested=requested, stake=stake, limited_by=limited_by))
    return lines, state
