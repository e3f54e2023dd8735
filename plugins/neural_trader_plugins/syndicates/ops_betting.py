"""``syndicate.simulate_allocation``, ``allocate`` and ``settle``: stakes under the bankroll rules, and
their results."""

from __future__ import annotations

import decimal
import enum
from typing import Any

import attrs

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.syndicates import allocation, clock
from neural_trader_plugins.syndicates.common import (
    SyndicateParams,
    acting,
    changing,
    key_field,
    reading,
    repeat_of,
    request_fields,
)
from neural_trader_plugins.syndicates.money import ZERO, cents, money
from neural_trader_plugins.syndicates.roles import Permission
from neural_trader_plugins.syndicates.store import fingerprint
from neural_trader_plugins.syndicates.views import (
    AllocationResult,
    SettleResult,
    StatusResult,
)

D = decimal.Decimal
P = Permission


# -- allocation ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SimulateParams(SyndicateParams):
    opportunities: list[allocation.Opportunity] = param(min_len=1, max_len=50, description="the bets to size "
                                                                                           "(at most 50)")
    method: allocation.Method = param(default=allocation.Method.KELLY,
                                      description="kelly, equal, proportional or risk_adjusted")
    kelly_fraction: D | None = param(default=None, gt=0, le=1, unit="fraction",
                                     description="Kelly multiplier (default the rules' kelly_fraction)")
    budget: D | None = param(default=None, gt=0, le=1, unit="fraction", description=(
        "share of the bankroll to split (equal, proportional, risk_adjusted); default what today's exposure "
        "limit leaves"))


def _check_unique(opportunities: list[allocation.Opportunity]) -> None:
    ids = [o.opportunity_id for o in opportunities]
    if len(set(ids)) != len(ids):
        raise NtUserError("opportunities: each opportunity_id must appear once")


def simulate_allocation(params: SimulateParams, ctx: Context) -> AllocationResult:
    _check_unique(params.opportunities)
    books, _ = reading(ctx, params)
    lines, state = allocation.allocate(books, params.opportunities, params.method, clock.now(),
                                       kelly_fraction=params.kelly_fraction, budget=params.budget)
    return AllocationResult(allocation_id=None, method=params.method.value, placed=False, bankroll=state.bankroll,
                            lines=lines, total_stake=sum((li.stake for li in lines), ZERO), bets=[],
                            stopped=state.daily_stop or state.weekly_stop)


@attrs.frozen(kw_only=True)
class AllocateParams(SimulateParams):
    allocation_id: str = key_field("your id of this allocation; bet ids are <allocation_id>/<opportunity_id>")


def _allocation_result(data: dict[str, Any]) -> AllocationResult:
    lines = [allocation.AllocationLine(
        opportunity_id=li["opportunity_id"], sport=li["sport"], market=li["market"], probability=li["probability"],
        odds=float(li["odds"]), edge=li["edge"], full_kelly=li["full_kelly"], requested=money(li["requested"]),
        stake=money(li["stake"]), limited_by=li["limited_by"]) for li in data["lines"]]
    return AllocationResult(allocation_id=data["allocation_id"], method=data["method"], placed=True,
                            bankroll=money(data["bankroll"]), lines=lines, total_stake=sum((li.stake for li in lines), ZERO),
                            bets=list(data["bets"]), stopped=data["stopped"])


def allocate(params: AllocateParams, ctx: Context) -> AllocationResult:
    _check_unique(params.opportunities)
    with changing(ctx, "syndicate.allocate", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.ALLOCATE)
        key = f"allocation:{params.allocation_id}"
        prior = repeat_of(change, key, request_fields(params))
        if prior is not None:
            return _allocation_result(prior.data)
        lines, state = allocation.allocate(books, params.opportunities, params.method, change.now,
                                           kelly_fraction=params.kelly_fraction, budget=params.budget)
        placed = [li for li in lines if li.stake > 0]
        data = {"allocation_id": params.allocation_id, "method": params.method, "bankroll": state.bankroll,
                "lines": lines, "bets": [f"{params.allocation_id}/{li.opportunity_id}" for li in placed],
                "stopped": state.daily_stop or state.weekly_stop, "request": fingerprint(request_fields(params))}
        event = change.append("allocation", params.actor, data, key=key)
        for line in placed:
            change.append("stake", params.actor, {
                "bet_id": f"{params.allocation_id}/{line.opportunity_id}", "allocation_id": params.allocation_id,
                "opportunity_id": line.opportunity_id, "sport": line.sport, "market": line.market,
                "probability": line.probability, "odds": line.odds, "amount": line.stake})
        return _allocation_result(event.data)


class BetOutcome(enum.StrEnum):
    WON = "won"
    LOST = "lost"
    VOID = "void"


@attrs.frozen(kw_only=True)
class SettleParams(SyndicateParams):
    bet_id: str = param(min_len=3, max_len=200, description="a bet syndicate.allocate booked")
    outcome: BetOutcome = param(description="won (returns stake x odds), lost (nothing) or void (the stake back)")
    commission: D = param(default=D(0), ge=0, le=1, unit="fraction",
                          description="exchange commission on net winnings (0.02 = 2 %)")


def settle(params: SettleParams, ctx: Context) -> SettleResult:
    with changing(ctx, "syndicate.settle", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.ALLOCATE)
        bet = books.bets.get(params.bet_id)
        if bet is None:
            raise NtNotFound(f"syndicate {books.syndicate_id!r} has no bet {params.bet_id!r}")
        key = f"settlement:{params.bet_id}"
        prior = repeat_of(change, key, request_fields(params))
        if prior is None:
            returned = {BetOutcome.WON: cents(bet.amount * bet.odds), BetOutcome.LOST: ZERO, BetOutcome.VOID: bet.amount}[
                params.outcome]
            commission = cents(max(returned - bet.amount, ZERO) * params.commission)
            change.append("settlement", params.actor, {"bet_id": bet.bet_id, "outcome": params.outcome,
                                                       "returned": returned, "commission": commission,
                                                       "request": fingerprint(request_fields(params))}, key=key)
            if commission > 0:
                change.append("fee", params.actor, {"fee_kind": "commission", "amount": commission,
                                                    "member_id": None, "ref": bet.bet_id})
            prior = change.prior(key)
        assert prior is not None and bet.returned is not None
        commission = money(prior.data["commission"])
        return SettleResult(bet_id=bet.bet_id, outcome=bet.outcome or "", stake=bet.amount, returned=bet.returned,
                            commission=commission, pnl=bet.returned - bet.amount - commission, nav=books.nav,
                            unit_value=StatusResult.of(books).unit_value)
