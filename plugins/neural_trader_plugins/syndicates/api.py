"""Parameters and handlers of the ``syndicate.*`` operations.

Each handler: check the acting member's role (:mod:`.roles`), read or change the ledger through
:class:`~.store.SyndicateStore`, and build a result from the books (:mod:`.views`). The money, the
allocation, the distribution and the vote count are computed by the domain modules.

A change names its idempotency key (``deposit_id``, ``allocation_id`` ...): the same key with the
same request returns what the first call did and writes nothing; with another request it is a
conflict (HTTP 409).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import enum
import json
from collections.abc import Iterator
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtForbidden, NtNotFound, NtUserError
from neural_trader.ops import Context, Scope
from neural_trader.schema import param
from neural_trader.services.audit import canonical_json
from neural_trader_plugins.syndicates import allocation, chain, clock, distribution, governance
from neural_trader_plugins.syndicates import performance as perf
from neural_trader_plugins.syndicates.books import Books, Event, MemberState
from neural_trader_plugins.syndicates.money import UNIT, ZERO, cents, check_cents, money
from neural_trader_plugins.syndicates.roles import Permission, Role, require
from neural_trader_plugins.syndicates.rules import Rules, RulesPatch
from neural_trader_plugins.syndicates.store import Change, SyndicateStore, fingerprint
from neural_trader_plugins.syndicates.views import (
    AllocationResult,
    DepositResult,
    DistributionResult,
    LedgerVerifyResult,
    LimitsResult,
    ListResult,
    MembersResult,
    MemberView,
    PerformanceResult,
    PeriodView,
    ProcessResult,
    ProfitHistoryResult,
    SettleResult,
    Share,
    StatusResult,
    SyndicateSummary,
    TaxEstimateResult,
    VoteResults,
    WithdrawalsResult,
    WithdrawalView,
)

D = decimal.Decimal
P = Permission

_SYNDICATE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SYNDICATE_HINT = "1 to 64 lower-case letters, digits, _ and - starting with a letter or digit"
_MEMBER = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_MEMBER_HINT = "1 to 64 letters, digits, _ . - starting with a letter or digit"
_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_KEY_HINT = "1 to 128 letters, digits, _ . : - starting with a letter or digit"
_MAX_MONEY = 10**12


def _syndicate(**kw: Any) -> Any:
    return param(pattern=_SYNDICATE, pattern_hint=_SYNDICATE_HINT, description="the syndicate's id", **kw)


def _member(description: str, **kw: Any) -> Any:
    return param(pattern=_MEMBER, pattern_hint=_MEMBER_HINT, description=description, **kw)


def _key(description: str, **kw: Any) -> Any:
    return param(pattern=_KEY, pattern_hint=_KEY_HINT, description=description + " (the idempotency key: the same "
                 "id with the same request returns the first answer; with another request it is a 409)", **kw)


_ACTOR = "the acting member's id: their role decides what they may do"


def _store(ctx: Context) -> SyndicateStore:
    return SyndicateStore(ctx.services.storage, ctx.services.audit)


def _identity(ctx: Context) -> str:
    identity = ctx.identity
    return f"{identity.name}:{identity.key_id}" if identity.key_id else identity.name


def _acting(ctx: Context, books: Books, actor: str, permission: Permission) -> MemberState:
    """The acting member, if they may do ``permission``. A caller with the admin scope (the local user,
    an operator's key) may act as any member; any other caller only as the member named like its
    identity (an API key named after the member id)."""
    if not ctx.identity.allows(Scope.ADMIN) and ctx.identity.name != actor:
        raise NtForbidden(f"the caller {ctx.identity.name!r} may act only as the member of the same name, not as "
                          f"{actor!r} (callers with the admin scope may act as any member)")
    try:
        member = books.member(actor)
    except NtNotFound:
        raise NtForbidden(f"actor {actor!r} is not an active member of syndicate {books.syndicate_id!r}") from None
    require(actor, member.role, permission)
    return member


def _own_or(books: Books, actor: MemberState, member_id: str | None) -> MemberState:
    """The member a personal view is about: the actor, or another if the actor may see everyone's."""
    if member_id is None or member_id == actor.member_id:
        return actor
    require(actor.member_id, actor.role, P.VIEW_ALL_ACCOUNTS)
    return books.member(member_id, active=False)


def _repeat(change: Change, key: str, request: Any) -> Event | None:
    """The record of an earlier call with this key (the same request), or None for a new one."""
    prior = change.prior(key)
    if prior is not None and prior.data.get("request") != fingerprint(request):
        raise NtConflict(f"{key.split(':', 1)[0]} id {key.split(':', 1)[1]!r} was used for another request; use a "
                         "new id")
    return prior


def _request(params: Any, *drop: str) -> dict[str, Any]:
    return {f.name: getattr(params, f.name) for f in attrs.fields(type(params)) if f.name not in drop}


def _close_due(change: Change) -> None:
    """Record the final result of every proposal whose deadline has passed."""
    for proposal in change.books.proposals.values():
        if proposal.closed is None:
            t = governance.tally(proposal, change.now)
            if t.closed:
                change.append("proposal_closed", "system", {
                    "proposal_id": proposal.proposal_id, "outcome": t.outcome.value, "winner": t.winner,
                    "by_option": t.by_option, "eligible_weight": t.eligible_weight, "cast_weight": t.cast_weight,
                    "quorum_met": t.quorum_met})


@contextlib.contextmanager
def _changing(ctx: Context, operation: str, params: Any) -> Iterator[Change]:
    """A write on the syndicate (with its core audit record); proposals past their deadline are closed first."""
    with _store(ctx).change(params.syndicate_id, operation=operation, audit_actor=_identity(ctx),
                            payload=_request(params)) as change:
        _close_due(change)
        yield change


# -- syndicate.create ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Founder:
    member_id: str = _member("the founder's member id")
    name: str = param(min_len=1, max_len=200, description="display name")
    role: Role = param(default=Role.MEMBER, description="admin, manager, member or observer")
    deposit: D | None = param(default=None, gt=0, le=_MAX_MONEY, unit="money",
                              description="opening deposit, bought at 1.00 a unit")


@attrs.frozen(kw_only=True)
class CreateParams:
    syndicate_id: str = _syndicate()
    name: str = param(min_len=1, max_len=200, description="the syndicate's name")
    currency: str = param(default="USD", pattern=r"^[A-Z]{3}$", pattern_hint="an ISO 4217 code such as USD",
                          description="the currency of its books")
    founders: list[Founder] = param(min_len=1, max_len=50, description="the first members; at least one admin")
    rules: RulesPatch | None = param(default=None, description="rules other than the defaults (syndicate.limits "
                                                               "shows them)")


def create(params: CreateParams, ctx: Context) -> StatusResult:
    ids = [f.member_id for f in params.founders]
    if len(set(ids)) != len(ids):
        raise NtUserError("founders: each member_id must appear once")
    if not any(f.role is Role.ADMIN for f in params.founders):
        raise NtUserError("founders: at least one founder must be an admin (role admin)")
    if not ctx.identity.allows(Scope.ADMIN) and not any(
            f.member_id == ctx.identity.name and f.role is Role.ADMIN for f in params.founders):
        raise NtForbidden(f"the caller {ctx.identity.name!r} must be one of the founders, as an admin (callers with "
                          "the admin scope may found a syndicate for others)")
    for f in params.founders:
        if f.deposit is not None:
            check_cents(f"founders[{f.member_id}].deposit", f.deposit)
            if f.role is Role.OBSERVER:
                raise NtUserError(f"founders[{f.member_id}]: observers hold no units, so they cannot deposit")
    rules = Rules().apply(params.rules) if params.rules else Rules()
    request = _request(params)
    with _store(ctx).change(params.syndicate_id, operation="syndicate.create", audit_actor=_identity(ctx),
                            payload=request, create={"name": params.name, "currency": params.currency}) as change:
        if change.books.created_at is not None:
            first = change.events[0]
            if first.data.get("request") != fingerprint(request):
                raise NtConflict(f"syndicate {params.syndicate_id!r} exists (created otherwise): choose another id")
            return StatusResult.of(change.books)
        admin = next(f.member_id for f in params.founders if f.role is Role.ADMIN)
        change.append("created", admin, {"name": params.name, "currency": params.currency, "rules": rules,
                                         "request": fingerprint(request)})
        for f in params.founders:
            change.append("member_added", admin, {"member_id": f.member_id, "name": f.name, "role": f.role})
        for f in params.founders:
            if f.deposit is not None:
                units, uv = change.books.quote_deposit(f.deposit)
                change.append("deposit", f.member_id, {"deposit_id": f"founding-{f.member_id}",
                                                       "member_id": f.member_id, "amount": f.deposit, "units": units,
                                                       "unit_value": uv}, key=f"deposit:founding-{f.member_id}")
        return StatusResult.of(change.books)


# -- reads: status, list, members, limits ------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SyndicateParams:
    syndicate_id: str = _syndicate()
    actor: str = _member(_ACTOR)


def _reading(ctx: Context, params: SyndicateParams, permission: Permission = P.VIEW) -> tuple[Books, MemberState]:
    books = _store(ctx).books(params.syndicate_id)
    return books, _acting(ctx, books, params.actor, permission)


def status(params: SyndicateParams, ctx: Context) -> StatusResult:
    books, _ = _reading(ctx, params)
    return StatusResult.of(books)


@attrs.frozen(kw_only=True)
class ListParams:
    actor: str | None = _member("list the syndicates this member id belongs to; leave out to list all (needs the "
                                "admin scope)", default=None)
    limit: int = param(default=100, ge=1, le=500, description="at most this many, by id")


def list_syndicates(params: ListParams, ctx: Context) -> ListResult:
    if params.actor is None and not ctx.identity.allows(Scope.ADMIN):
        raise NtForbidden("listing every syndicate needs the admin scope; give actor to list your own")
    store, out = _store(ctx), []
    for row in store.listing():
        books = store.books(row.id)
        member = books.members.get(params.actor) if params.actor else None
        if params.actor is not None and (member is None or not member.active):
            continue
        out.append(SyndicateSummary(syndicate_id=row.id, name=books.name, currency=books.currency,
                                    role=member.role if member else None, nav=books.nav,
                                    unit_value=StatusResult.of(books).unit_value,
                                    members=sum(1 for m in books.members.values() if m.active)))
        if len(out) >= params.limit:
            break
    return ListResult(syndicates=out)


@attrs.frozen(kw_only=True)
class MembersParams(SyndicateParams):
    include_inactive: bool = param(default=False, description="also list removed members")


def members(params: MembersParams, ctx: Context) -> MembersResult:
    books, _ = _reading(ctx, params)
    return MembersResult(syndicate_id=books.syndicate_id, members=[
        MemberView.of(books, m) for m in sorted(books.members.values(), key=lambda m: m.member_id)
        if m.active or params.include_inactive])


def limits(params: SyndicateParams, ctx: Context) -> LimitsResult:
    books, _ = _reading(ctx, params)
    return LimitsResult(syndicate_id=books.syndicate_id, rules=books.rules,
                        exposure=allocation.exposure(books, clock.now()))


# -- members ------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class MemberAddParams(SyndicateParams):
    member_id: str = _member("the new member's id")
    name: str = param(min_len=1, max_len=200, description="display name")
    role: Role = param(default=Role.MEMBER, description="admin, manager, member or observer")


def _admins_left(books: Books, without: str) -> int:
    return sum(1 for m in books.members.values() if m.active and m.role is Role.ADMIN and m.member_id != without)


def member_add(params: MemberAddParams, ctx: Context) -> MemberView:
    with _changing(ctx, "syndicate.member_add", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        existing = books.members.get(params.member_id)
        if existing is not None and existing.active:
            if (existing.name, existing.role) != (params.name, params.role):
                raise NtConflict(f"member {params.member_id!r} is already in the syndicate as {existing.role.value} "
                                 f"{existing.name!r}; syndicate.member_update changes them")
            return MemberView.of(books, existing)
        change.append("member_added", params.actor, {"member_id": params.member_id, "name": params.name,
                                                     "role": params.role})
        return MemberView.of(books, books.member(params.member_id))


@attrs.frozen(kw_only=True)
class MemberUpdateParams(SyndicateParams):
    member_id: str = _member("the member to change")
    role: Role | None = param(default=None, description="the new role")
    name: str | None = param(default=None, min_len=1, max_len=200, description="the new display name")


def member_update(params: MemberUpdateParams, ctx: Context) -> MemberView:
    with _changing(ctx, "syndicate.member_update", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        member = books.member(params.member_id)
        changes = {k: v for k, v in (("role", params.role), ("name", params.name))
                   if v is not None and v != getattr(member, k)}
        if changes.get("role") is not None and member.role is Role.ADMIN and _admins_left(books, member.member_id) == 0:
            raise NtConflict(f"{member.member_id!r} is the last admin: make another member admin first")
        if changes.get("role") is Role.OBSERVER and member.units > 0:
            raise NtConflict(f"{member.member_id!r} holds units; observers hold none: withdraw them first")
        if changes:
            change.append("member_updated", params.actor, {"member_id": member.member_id, **changes})
        return MemberView.of(books, member)


@attrs.frozen(kw_only=True)
class MemberRemoveParams(SyndicateParams):
    member_id: str = _member("the member to remove (they must hold no units)")


def member_remove(params: MemberRemoveParams, ctx: Context) -> MemberView:
    with _changing(ctx, "syndicate.member_remove", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        member = books.member(params.member_id, active=False)
        if member.active:
            if member.role is Role.ADMIN and _admins_left(books, member.member_id) == 0:
                raise NtConflict(f"{member.member_id!r} is the last admin and cannot be removed")
            change.append("member_removed", params.actor, {"member_id": member.member_id})
        return MemberView.of(books, member)


# -- deposits -----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class DepositParams(SyndicateParams):
    deposit_id: str = _key("your id of this deposit")
    amount: D = param(gt=0, le=_MAX_MONEY, unit="money", description="in whole cents, in the syndicate's currency")
    member_id: str | None = _member("whose deposit (default the actor; others need the manager role)", default=None)


def deposit(params: DepositParams, ctx: Context) -> DepositResult:
    amount = check_cents("amount", params.amount)
    with _changing(ctx, "syndicate.deposit", params) as change:
        books = change.books
        member_id = params.member_id or params.actor
        _acting(ctx, books, params.actor, P.DEPOSIT_OWN if member_id == params.actor else P.DEPOSIT_FOR_OTHERS)
        key = f"deposit:{params.deposit_id}"
        event = _repeat(change, key, _request(params))
        if event is None:
            member = books.member(member_id)
            if member.role is Role.OBSERVER:
                raise NtConflict(f"{member_id!r} is an observer; observers hold no units (change the role first)")
            units, uv = books.quote_deposit(amount)
            event = change.append("deposit", params.actor, {
                "deposit_id": params.deposit_id, "member_id": member_id, "amount": amount, "units": units,
                "unit_value": uv, "request": fingerprint(_request(params))}, key=key)
        member = books.member(event.data["member_id"], active=False)
        return DepositResult(deposit_id=params.deposit_id, member_id=member.member_id,
                             amount=money(event.data["amount"]), units=D(event.data["units"]).quantize(UNIT),
                             unit_value=D(event.data["unit_value"]).quantize(UNIT),
                             member_units=member.units, member_value=books.value_of(member), nav=books.nav,
                             ledger_seq=event.seq)


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
    books, _ = _reading(ctx, params)
    lines, state = allocation.allocate(books, params.opportunities, params.method, clock.now(),
                                       kelly_fraction=params.kelly_fraction, budget=params.budget)
    return AllocationResult(allocation_id=None, method=params.method.value, placed=False, bankroll=state.bankroll,
                            lines=lines, total_stake=sum((li.stake for li in lines), ZERO), bets=[],
                            stopped=state.daily_stop or state.weekly_stop)


@attrs.frozen(kw_only=True)
class AllocateParams(SimulateParams):
    allocation_id: str = _key("your id of this allocation; bet ids are <allocation_id>/<opportunity_id>")


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
    with _changing(ctx, "syndicate.allocate", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.ALLOCATE)
        key = f"allocation:{params.allocation_id}"
        prior = _repeat(change, key, _request(params))
        if prior is not None:
            return _allocation_result(prior.data)
        lines, state = allocation.allocate(books, params.opportunities, params.method, change.now,
                                           kelly_fraction=params.kelly_fraction, budget=params.budget)
        placed = [li for li in lines if li.stake > 0]
        data = {"allocation_id": params.allocation_id, "method": params.method, "bankroll": state.bankroll,
                "lines": lines, "bets": [f"{params.allocation_id}/{li.opportunity_id}" for li in placed],
                "stopped": state.daily_stop or state.weekly_stop, "request": fingerprint(_request(params))}
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
    with _changing(ctx, "syndicate.settle", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.ALLOCATE)
        bet = books.bets.get(params.bet_id)
        if bet is None:
            raise NtNotFound(f"syndicate {books.syndicate_id!r} has no bet {params.bet_id!r}")
        key = f"settlement:{params.bet_id}"
        prior = _repeat(change, key, _request(params))
        if prior is None:
            returned = {BetOutcome.WON: cents(bet.amount * bet.odds), BetOutcome.LOST: ZERO, BetOutcome.VOID: bet.amount}[
                params.outcome]
            commission = cents(max(returned - bet.amount, ZERO) * params.commission)
            change.append("settlement", params.actor, {"bet_id": bet.bet_id, "outcome": params.outcome,
                                                       "returned": returned, "commission": commission,
                                                       "request": fingerprint(_request(params))}, key=key)
            if commission > 0:
                change.append("fee", params.actor, {"fee_kind": "commission", "amount": commission,
                                                    "member_id": None, "ref": bet.bet_id})
            prior = change.prior(key)
        assert prior is not None and bet.returned is not None
        commission = money(prior.data["commission"])
        return SettleResult(bet_id=bet.bet_id, outcome=bet.outcome or "", stake=bet.amount, returned=bet.returned,
                            commission=commission, pnl=bet.returned - bet.amount - commission, nav=books.nav,
                            unit_value=StatusResult.of(books).unit_value)


# -- rules --------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SetRulesParams(SyndicateParams):
    rules: RulesPatch = param(description="the rules to change; those left out keep their values")


def set_rules(params: SetRulesParams, ctx: Context) -> LimitsResult:
    with _changing(ctx, "syndicate.set_rules", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.SET_RULES)
        rules = books.rules.apply(params.rules)
        if rules != books.rules:
            change.append("rules_set", params.actor, {"rules": rules})
        return LimitsResult(syndicate_id=books.syndicate_id, rules=books.rules,
                            exposure=allocation.exposure(books, change.now))


# -- distributions ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class HybridWeights:
    """Weights of the models mixed by the hybrid model."""

    proportional: D = param(default=D(0), ge=0, le=1, unit="fraction", description="weight of the units model")
    equal: D = param(default=D(0), ge=0, le=1, unit="fraction", description="weight of the equal model")
    performance: D = param(default=D(0), ge=0, le=1, unit="fraction", description="weight of the performance model")
    tiered: D = param(default=D(0), ge=0, le=1, unit="fraction", description="weight of the tiered model")

    def as_map(self) -> dict[distribution.Model, D]:
        return {distribution.Model(f.name): getattr(self, f.name) for f in attrs.fields(HybridWeights)}


@attrs.frozen(kw_only=True)
class DistributeParams(SyndicateParams):
    distribution_id: str = _key("your id of this distribution")
    amount: D | None = param(default=None, gt=0, le=_MAX_MONEY, unit="money",
                             description="gross amount in whole cents; default everything distributable")
    model: distribution.Model = param(default=distribution.Model.PROPORTIONAL,
                                      description="proportional (to units), equal, performance, tiered or hybrid")
    hybrid_weights: HybridWeights | None = param(default=None, description="the hybrid model's mix")
    performance_fee: D = param(default=D(0), ge=0, le=1, unit="fraction",
                               description="share of the gross paid to fee_recipient")
    fee_recipient: str | None = _member("who receives the performance fee (default the actor)", default=None)
    reserve: D = param(default=D(0), ge=0, le=1, unit="fraction",
                       description="share of the gross kept in the pool as operations reserve")
    preview: bool = param(default=True, description="true (default): show the split, pay nothing; false: pay it "
                                                    "(needs confirm)")


def _distribution_result(data: dict[str, Any], *, preview: bool, distributable: D) -> DistributionResult:
    shares = {k: money(v) for k, v in data["shares"].items()}
    net = money(data["net"])
    return DistributionResult(
        distribution_id=data["distribution_id"], preview=preview, model=data["model"], gross=money(data["gross"]),
        performance_fee=money(data["performance_fee"]), fee_recipient=data["fee_recipient"],
        reserve=money(data["reserve"]),
        net=net, shares=[Share(member_id=k, amount=v, weight=(v / net).quantize(D("0.000001")) if net else D(0))
                         for k, v in sorted(shares.items())],
        shares_total=sum(shares.values(), ZERO), distributable=distributable,
        within_distributable=money(data["gross"]) <= distributable)


def distribute(params: DistributeParams, ctx: Context) -> DistributionResult:
    if params.amount is not None:
        check_cents("amount", params.amount)
    if params.model is distribution.Model.HYBRID and params.hybrid_weights is None:
        raise NtUserError("hybrid_weights is required for the hybrid model")
    with _changing(ctx, "syndicate.distribute", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.DISTRIBUTE)
        key = f"distribution:{params.distribution_id}"
        prior = _repeat(change, key, _request(params, "preview")) if not params.preview else change.prior(key)
        if prior is not None:
            return _distribution_result(prior.data, preview=False, distributable=money(prior.data["distributable"]))
        recipient = params.fee_recipient or params.actor
        if params.performance_fee > 0:
            books.member(recipient)
        distributable = books.distributable
        gross = params.amount if params.amount is not None else distributable
        if gross > books.cash:
            raise NtConflict(f"amount {gross} is more than the cash {books.cash} (stakes are open)")
        hybrid = params.hybrid_weights.as_map() if params.hybrid_weights else None
        plan = distribution.split(books, gross, params.model, fee_rate=params.performance_fee,
                                  reserve_rate=params.reserve, hybrid=hybrid)
        data = {"distribution_id": params.distribution_id, "model": params.model, "gross": plan.gross,
                "performance_fee": plan.performance_fee, "fee_recipient": recipient if plan.performance_fee else None,
                "reserve": plan.reserve, "net": plan.net, "shares": plan.shares, "distributable": distributable,
                "request": fingerprint(_request(params, "preview"))}
        if params.preview:
            return _distribution_result(canonical(data), preview=True, distributable=distributable)
        if gross <= 0:
            raise NtConflict("nothing to distribute: there is no undistributed realised profit")
        if gross > distributable:
            raise NtConflict(f"amount {gross} is more than the distributable profit {distributable}")
        if plan.performance_fee > 0:
            change.append("fee", params.actor, {"fee_kind": "performance", "amount": plan.performance_fee,
                                                "member_id": recipient, "ref": params.distribution_id})
        event = change.append("distribution", params.actor, data, key=key)
        return _distribution_result(event.data, preview=False, distributable=distributable)


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a ledger record would hold it (decimals as strings)."""
    loaded: dict[str, Any] = json.loads(canonical_json(data))
    return loaded


# -- profit history -----------------------------------------------------------------------------------
class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@attrs.frozen(kw_only=True)
class HistoryParams(SyndicateParams):
    period: Period = param(default=Period.DAY, description="day, week (ISO, from Monday) or month, in UTC")
    limit: int = param(default=90, ge=1, le=1000, description="the most recent periods, at most this many")


def _period_start(at: dt.datetime, period: Period) -> dt.datetime:
    day = at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.WEEK:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1) if period is Period.MONTH else day


def profit_history(params: HistoryParams, ctx: Context) -> ProfitHistoryResult:
    books, _ = _reading(ctx, params)
    periods: list[PeriodView] = []
    previous = None
    groups: dict[dt.datetime, list[Any]] = {}
    for point in books.history:
        groups.setdefault(_period_start(point.at, params.period), []).append(point)
    for start, points in groups.items():
        first, last = previous, points[-1]
        nav0 = first.nav if first else D(0)
        uv0 = first.unit_value if first else D(1)

        def delta(field: str, _first: Any = first, _last: Any = last) -> D:
            return getattr(_last, field) - (getattr(_first, field) if _first else ZERO)

        q = D("1E-8")
        periods.append(PeriodView(start=start, nav_start=nav0, nav_end=last.nav, unit_value_start=uv0.quantize(q),
                                  unit_value_end=last.unit_value.quantize(q), deposits=delta("deposits"),
                                  withdrawals=delta("withdrawals"), pnl=delta("pnl"), fees=delta("fees"),
                                  distributions=delta("distributions"),
                                  unit_return=(last.unit_value / uv0 - 1).quantize(D("0.000001")) if uv0 > 0
                                  else D(0)))
        previous = last
    return ProfitHistoryResult(syndicate_id=books.syndicate_id, period=params.period.value,
                               periods=periods[-params.limit:])


# -- withdrawals --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class WithdrawRequestParams(SyndicateParams):
    request_id: str = _key("your id of this request")
    amount: D | None = param(default=None, gt=0, le=_MAX_MONEY, unit="money",
                             description="how much, in whole cents; leave out to withdraw everything")
    emergency: bool = param(default=False, description="skip the notice period and lock-up, for the rules' "
                                                       "emergency_penalty")
    reason: str | None = param(default=None, max_len=500, description="why, for the approvers")


def withdraw_request(params: WithdrawRequestParams, ctx: Context) -> WithdrawalView:
    amount = None if params.amount is None else check_cents("amount", params.amount)
    with _changing(ctx, "syndicate.withdraw_request", params) as change:
        books = change.books
        member = _acting(ctx, books, params.actor, P.WITHDRAW_OWN)
        key = f"withdrawal:{params.request_id}"
        if _repeat(change, key, _request(params)) is None:
            rules, now = books.rules, change.now
            if member.units <= 0:
                raise NtConflict(f"{member.member_id!r} holds no units to withdraw")
            value = books.value_of(member)
            if amount is not None and amount > value:
                raise NtConflict(f"{member.member_id!r} holds {value}; ask for at most that, or everything")
            if amount is not None and amount < value and value - amount < rules.min_balance:
                raise NtUserError(f"amount would leave {value - amount}, under the minimum balance {rules.min_balance}"
                                  ": withdraw less, or everything (leave amount out)")
            if not params.emergency and rules.lockup_days and member.first_deposit_at is not None:
                free = member.first_deposit_at + dt.timedelta(days=rules.lockup_days)
                if now < free:
                    raise NtConflict(f"{member.member_id!r}'s capital is locked up until {free.isoformat()}; an "
                                     f"emergency withdrawal pays a penalty of {rules.emergency_penalty}")
            due = now if params.emergency else now + dt.timedelta(days=rules.notice_days)
            change.append("withdrawal_requested", params.actor, {
                "request_id": params.request_id, "member_id": member.member_id, "amount": amount,
                "emergency": params.emergency, "reason": params.reason, "due_at": due,
                "request": fingerprint(_request(params))}, key=key)
        return WithdrawalView.of(books.withdrawals[params.request_id])


@attrs.frozen(kw_only=True)
class WithdrawApproveParams(SyndicateParams):
    request_id: str = param(pattern=_KEY, pattern_hint=_KEY_HINT, description="the request to decide")
    approve: bool = param(default=True, description="true approves, false rejects")
    note: str | None = param(default=None, max_len=500, description="a note for the member")


def _request_of(books: Books, request_id: str) -> Any:
    found = books.withdrawals.get(request_id)
    if found is None:
        raise NtNotFound(f"syndicate {books.syndicate_id!r} has no withdrawal request {request_id!r}")
    return found


def withdraw_approve(params: WithdrawApproveParams, ctx: Context) -> WithdrawalView:
    with _changing(ctx, "syndicate.withdraw_approve", params) as change:
        books = change.books
        approver = _acting(ctx, books, params.actor, P.APPROVE_WITHDRAWALS)
        request = _request_of(books, params.request_id)
        if request.status == "pending":
            if request.member_id == approver.member_id and approver.role is not Role.ADMIN:
                raise NtForbidden("a manager cannot decide their own withdrawal; another manager or an admin must")
            change.append("withdrawal_decided", params.actor, {"request_id": request.request_id,
                                                               "approved": params.approve, "note": params.note})
        elif (request.status == "rejected") == params.approve:
            raise NtConflict(f"withdrawal {request.request_id!r} is already {request.status}")
        return WithdrawalView.of(request)


@attrs.frozen(kw_only=True)
class WithdrawProcessParams(SyndicateParams):
    request_id: str | None = param(default=None, pattern=_KEY, pattern_hint=_KEY_HINT,
                                   description="one approved request; leave out to process every approved one due")


def _pay(change: Change, actor: str, request: Any) -> str | None:
    """Pay one approved request now, or say why not."""
    books = change.books
    if change.now < request.due_at:
        return f"notice period: due {request.due_at.isoformat()}"
    member = books.member(request.member_id, active=False)
    value = books.value_of(member)
    if request.amount is not None and request.amount > value:
        return f"the member's capital is {value} now, below the {request.amount} asked: ask again for less"
    units, gross = books.quote_redemption(member, request.amount)
    penalty = cents(gross * books.rules.emergency_penalty) if request.emergency else ZERO
    paid = gross - penalty
    if paid > books.cash:
        return f"the cash {books.cash} does not cover {paid} (stakes are open)"
    change.append("withdrawal", actor, {"request_id": request.request_id, "member_id": member.member_id,
                                        "units": units, "gross": gross, "penalty": penalty, "paid": paid,
                                        "unit_value": books.unit_value})
    return None


def withdraw_process(params: WithdrawProcessParams, ctx: Context) -> ProcessResult:
    with _changing(ctx, "syndicate.withdraw_process", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.PROCESS_WITHDRAWALS)
        if params.request_id is not None:
            request = _request_of(books, params.request_id)
            if request.status not in ("approved", "processed"):
                raise NtConflict(f"withdrawal {request.request_id!r} is {request.status}; it must be approved first")
            chosen = [request]
        else:
            chosen = [w for w in books.withdrawals.values() if w.status == "approved"]
        processed: list[WithdrawalView] = []
        waiting: list[WithdrawalView] = []
        for request in chosen:
            why = None if request.status == "processed" else _pay(change, params.actor, request)
            (waiting if why else processed).append(WithdrawalView.of(request, why))
        return ProcessResult(processed=processed, waiting=waiting)


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROCESSED = "processed"


@attrs.frozen(kw_only=True)
class WithdrawalsParams(SyndicateParams):
    status: RequestStatus | None = param(default=None, description="only requests in this state")
    member_id: str | None = _member("only this member's (others' need the manager role)", default=None)


def withdrawals(params: WithdrawalsParams, ctx: Context) -> WithdrawalsResult:
    books, actor = _reading(ctx, params)
    from neural_trader_plugins.syndicates.roles import allowed

    see_all = allowed(actor.role, P.VIEW_ALL_ACCOUNTS)
    if params.member_id not in (None, actor.member_id) and not see_all:
        require(actor.member_id, actor.role, P.VIEW_ALL_ACCOUNTS)
    out = [WithdrawalView.of(w) for w in books.withdrawals.values()
           if (see_all or w.member_id == actor.member_id) and params.member_id in (None, w.member_id)
           and params.status in (None, w.status)]
    return WithdrawalsResult(syndicate_id=books.syndicate_id, withdrawals=out)


# -- governance ---------------------------------------------------------------------------------------
class ProposalKind(enum.StrEnum):
    STRATEGY_CHANGE = "strategy_change"
    LARGE_BET = "large_bet"
    WITHDRAWAL = "withdrawal"
    MEMBER_ADMISSION = "member_admission"
    ALLOCATION_RULE = "allocation_rule"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class VoteCreateParams(SyndicateParams):
    proposal_id: str = _key("your id of the proposal")
    kind: ProposalKind = param(default=ProposalKind.OTHER, description="strategy_change, large_bet, withdrawal, "
                                                                       "member_admission, allocation_rule or other")
    title: str = param(min_len=1, max_len=200, description="what is proposed")
    description: str | None = param(default=None, max_len=5000, description="the details")
    options: list[str] = param(factory=lambda: ["approve", "reject"], min_len=2, max_len=10,
                               item_pattern=r"^\S.{0,63}$", pattern_hint="1 to 64 characters",
                               description="the choices (2 to 10, distinct)")
    hours: int = param(default=72, ge=1, le=24 * 90, description="voting stays open this many hours")
    weighting: governance.Weighting = param(default=governance.Weighting.UNITS,
                                            description="units, role (the rules' role weights) or units_role")
    quorum: D | None = param(default=None, ge=0, le=1, unit="fraction", description="default the rules' quorum")
    threshold: D | None = param(default=None, gt=0, le=1, unit="fraction",
                                description="default the rules' approval_threshold")


def vote_create(params: VoteCreateParams, ctx: Context) -> VoteResults:
    if len(set(params.options)) != len(params.options):
        raise NtUserError("options must be distinct")
    with _changing(ctx, "syndicate.vote_create", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.PROPOSE)
        key = f"proposal:{params.proposal_id}"
        if _repeat(change, key, _request(params)) is None:
            eligible = governance.eligible_weights(books, params.weighting)
            if not eligible:
                raise NtConflict(f"nobody has voting weight under {params.weighting.value} weighting (no units?)")
            change.append("proposal_created", params.actor, {
                "proposal_id": params.proposal_id, "kind": params.kind, "title": params.title,
                "description": params.description, "options": params.options,
                "deadline": change.now + dt.timedelta(hours=params.hours),
                "quorum": books.rules.quorum if params.quorum is None else params.quorum,
                "threshold": books.rules.approval_threshold if params.threshold is None else params.threshold,
                "weighting": params.weighting, "eligible": eligible, "request": fingerprint(_request(params))},
                key=key)
        return VoteResults.of(books.proposals[params.proposal_id], change.now)


@attrs.frozen(kw_only=True)
class VoteCastParams(SyndicateParams):
    proposal_id: str = param(pattern=_KEY, pattern_hint=_KEY_HINT, description="the proposal")
    option: str = param(min_len=1, max_len=64, description="one of the proposal's options")


def _proposal(books: Books, proposal_id: str) -> Any:
    found = books.proposals.get(proposal_id)
    if found is None:
        raise NtNotFound(f"syndicate {books.syndicate_id!r} has no proposal {proposal_id!r}")
    return found


def vote_cast(params: VoteCastParams, ctx: Context) -> VoteResults:
    with _changing(ctx, "syndicate.vote_cast", params) as change:
        books = change.books
        _acting(ctx, books, params.actor, P.VOTE)
        proposal = _proposal(books, params.proposal_id)
        if params.option not in proposal.options:
            raise NtUserError(f"option must be one of {', '.join(proposal.options)}, got {params.option!r}")
        earlier = proposal.votes.get(params.actor)
        if earlier is not None:
            if earlier[0] != params.option:
                raise NtConflict(f"{params.actor!r} already voted {earlier[0]!r}; votes are final")
        elif proposal.closed is not None:
            raise NtConflict(f"proposal {proposal.proposal_id!r} is closed ({proposal.closed['outcome']})")
        elif params.actor not in proposal.eligible:
            raise NtForbidden(f"{params.actor!r} has no vote on {proposal.proposal_id!r} (no weight when it opened)")
        else:
            change.append("vote", params.actor, {"proposal_id": proposal.proposal_id, "member_id": params.actor,
                                                 "option": params.option,
                                                 "weight": proposal.eligible[params.actor]})
            _close_due(change)
        return VoteResults.of(proposal, change.now)


@attrs.frozen(kw_only=True)
class VoteResultsParams(SyndicateParams):
    proposal_id: str = param(pattern=_KEY, pattern_hint=_KEY_HINT, description="the proposal")


def vote_results(params: VoteResultsParams, ctx: Context) -> VoteResults:
    books, _ = _reading(ctx, params)
    return VoteResults.of(_proposal(books, params.proposal_id), clock.now())


# -- performance and tax ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PerformanceParams(SyndicateParams):
    member_id: str | None = _member("whose (default the actor; others need the manager role)", default=None)


def member_performance(params: PerformanceParams, ctx: Context) -> PerformanceResult:
    books, actor = _reading(ctx, params)
    p = perf.performance(books, _own_or(books, actor, params.member_id))
    return PerformanceResult(syndicate_id=books.syndicate_id, **attrs.asdict(p, recurse=False))


@attrs.frozen(kw_only=True)
class TaxParams(PerformanceParams):
    jurisdiction: str = param(default="US", pattern=r"^[A-Za-z]{2}$", pattern_hint="a country code: US, UK, IE, "
                              "AU or CA", description="whose illustrative rate (docs/syndicates.md lists them)")
    year: int | None = param(default=None, ge=2000, le=2100, description="calendar year (default this one)")
    custom_rate: D | None = param(default=None, ge=0, le=1, unit="fraction",
                                  description="use this rate instead of the table's")


def tax_estimate(params: TaxParams, ctx: Context) -> TaxEstimateResult:
    books, actor = _reading(ctx, params)
    member = _own_or(books, actor, params.member_id)
    rate = perf.tax_rate(params.jurisdiction, params.custom_rate)
    year = params.year or clock.now().year
    gains = perf.realised_gains(member, year)
    return TaxEstimateResult(syndicate_id=books.syndicate_id, member_id=member.member_id,
                             jurisdiction=params.jurisdiction.upper(), year=year, realised_gains=gains,
                             taxable=max(gains, ZERO), rate=rate.rate, basis=rate.basis,
                             estimated_tax=perf.estimate(gains, rate))


# -- ledger_verify ------------------------------------------------------------------------------------
def ledger_verify(params: SyndicateParams, ctx: Context) -> LedgerVerifyResult:
    store = _store(ctx)
    row, records = store.records(params.syndicate_id)
    report = chain.verify(records, head_seq=row.head_seq, head_hash=row.head_hash)
    # The actor's role is read from the records that verify (all of them when the ledger is sound).
    sound = records if report.ok else records[:max(0, (report.first_bad_seq or 1) - 1)]
    books = Books.replay(params.syndicate_id, [Event.of(r) for r in sound])
    if report.ok or params.actor in books.members or not ctx.identity.allows(Scope.ADMIN):
        _acting(ctx, books, params.actor, P.VIEW)   # a server admin may inspect a ledger broken before the actor joined
    balanced, checked = report.ok and books.balance_check() == 0, 0
    if report.ok:
        by_seq = {r.seq: r.hash for r in records}
        for seq, digest in store.audited_heads(params.syndicate_id):
            if by_seq.get(seq) != digest:
                report = chain.ChainReport(
                    ok=False, records=report.records, last_seq=report.last_seq, last_hash=report.last_hash,
                    problem=chain.ChainProblem.TRUNCATED if seq not in by_seq else chain.ChainProblem.EDITED,
                    first_bad_seq=seq, detail=f"the core audit log recorded record {seq} with another hash"
                    if seq in by_seq else f"the core audit log recorded record {seq}, which the ledger lacks")
                break
            checked += 1
    return LedgerVerifyResult(syndicate_id=params.syndicate_id, ok=report.ok, records=report.records,
                              last_seq=report.last_seq, last_hash=report.last_hash,
                              problem=None if report.problem is None else report.problem.value,
                              first_bad_seq=report.first_bad_seq, detail=report.detail,
                              audit_records_checked=checked, balanced=balanced)

