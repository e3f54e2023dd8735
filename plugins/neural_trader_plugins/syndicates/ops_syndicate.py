"""``syndicate.create``, ``status``, ``list``, ``members``, ``limits``, ``set_rules``, ``profit_history`` and
``ledger_verify``: the syndicate itself, its rules and its books."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtForbidden, NtNotFound, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.syndicates import allocation, chain, clock
from neural_trader_plugins.syndicates.access import bound_member, caller_of, default_identity, visible
from neural_trader_plugins.syndicates.books import Books, Event
from neural_trader_plugins.syndicates.common import (
    IDENTITY,
    MAX_MONEY,
    SyndicateParams,
    acting,
    changing,
    identity_field,
    identity_of,
    member_field,
    reading,
    request_fields,
    store_of,
    syndicate_id_field,
)
from neural_trader_plugins.syndicates.money import ZERO, check_cents
from neural_trader_plugins.syndicates.roles import Permission, Role
from neural_trader_plugins.syndicates.rules import Rules, RulesPatch
from neural_trader_plugins.syndicates.store import fingerprint
from neural_trader_plugins.syndicates.views import (
    LedgerVerifyResult,
    LimitsResult,
    ListResult,
    MembersResult,
    MemberView,
    PeriodView,
    ProfitHistoryResult,
    StatusResult,
    SyndicateSummary,
)

D = decimal.Decimal
P = Permission


# -- syndicate.create ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Founder:
    member_id: str = member_field("the founder's member id")
    name: str = param(min_len=1, max_len=200, description="display name")
    role: Role = param(default=Role.MEMBER, description="admin, manager, member or observer")
    deposit: D | None = param(default=None, gt=0, le=MAX_MONEY, unit="money",
                              description="opening deposit, bought at 1.00 a unit")
    identity: str | None = identity_field(IDENTITY, default=None)

    @property
    def bound(self) -> str | None:
        return self.identity if self.identity is not None else default_identity(self.member_id)


@attrs.frozen(kw_only=True)
class CreateParams:
    syndicate_id: str = syndicate_id_field()
    name: str = param(min_len=1, max_len=200, description="the syndicate's name")
    currency: str = param(default="USD", pattern=r"^[A-Z]{3}$", pattern_hint="an ISO 4217 code such as USD",
                          description="the currency of its books")
    founders: list[Founder] = param(min_len=1, max_len=50, description="the first members; at least one admin")
    rules: RulesPatch | None = param(default=None, description="rules other than the defaults (syndicate.limits "
                                                               "shows them)")


def _first_founder(params: CreateParams, ctx: Context) -> Founder:
    """The founder the ``created`` record names: the caller's own (an admin), or the first admin when
    the caller sees every syndicate."""
    caller = caller_of(ctx)
    if caller is None:
        return next(f for f in params.founders if f.role is Role.ADMIN)
    own = next((f for f in params.founders if f.bound == caller.name), None)
    if own is None or own.role is not Role.ADMIN:
        raise NtForbidden(f"the caller {caller.name!r} must be one of the founders, as an admin: add "
                          f'{{"member_id": "{caller.name}", "name": ..., "role": "admin"}} (or name your identity in a '
                          "founder's identity); callers with the admin scope may found a syndicate for others")
    return own


def create(params: CreateParams, ctx: Context) -> StatusResult:
    ids = [f.member_id for f in params.founders]
    if len(set(ids)) != len(ids):
        raise NtUserError("founders: each member_id must appear once")
    bound = [f.bound for f in params.founders if f.bound is not None]
    if len(set(bound)) != len(bound):
        raise NtUserError("founders: each identity may act as one founder only (an identity is one member of a "
                          "syndicate); give the others another identity")
    if not any(f.role is Role.ADMIN for f in params.founders):
        raise NtUserError("founders: at least one founder must be an admin (role admin)")
    first = _first_founder(params, ctx)
    for f in params.founders:
        if f.deposit is not None:
            check_cents(f"founders[{f.member_id}].deposit", f.deposit)
            if f.role is Role.OBSERVER:
                raise NtUserError(f"founders[{f.member_id}]: observers hold no units, so they cannot deposit")
    rules = Rules().apply(params.rules) if params.rules else Rules()
    request = request_fields(params)
    store = store_of(ctx)
    with store.change(params.syndicate_id, operation="syndicate.create", audit_actor=identity_of(ctx),
                      payload=request, create={"name": params.name, "currency": params.currency}) as change:
        if change.books.created_at is not None:
            first_record = change.events[0]
            if first_record.data.get("request") != fingerprint(request) or not visible(change.books, store.caller):
                raise NtConflict(f"syndicate {params.syndicate_id!r} exists (created otherwise): choose another id")
            return StatusResult.of(change.books)
        change.append("created", first.member_id, {"name": params.name, "currency": params.currency,
                                                   "rules": rules, "request": fingerprint(request)})
        for f in sorted(params.founders, key=lambda f: f is not first):
            change.append("member_added", first.member_id, {"member_id": f.member_id, "name": f.name, "role": f.role,
                                                            "identity": f.bound})
        for f in params.founders:
            if f.deposit is not None:
                units, uv = change.books.quote_deposit(f.deposit)
                change.append("deposit", f.member_id, {"deposit_id": f"founding-{f.member_id}",
                                                       "member_id": f.member_id, "amount": f.deposit, "units": units,
                                                       "unit_value": uv}, key=f"deposit:founding-{f.member_id}")
        return StatusResult.of(change.books)


# -- reads: status, list, members, limits ------------------------------------------------------------
def status(params: SyndicateParams, ctx: Context) -> StatusResult:
    books, _ = reading(ctx, params)
    return StatusResult.of(books)


@attrs.frozen(kw_only=True)
class ListParams:
    actor: str | None = member_field("only the syndicates where this member id is an active member; leave out for "
                                     "every syndicate you may see (yours; every one for an admin caller)",
                                     default=None)
    limit: int = param(default=100, ge=1, le=500, description="at most this many, by id")


def list_syndicates(params: ListParams, ctx: Context) -> ListResult:
    store, out = store_of(ctx), []
    for row in store.listing():
        try:
            books = store.books(row.id)   # checked again on the books: the ledger is the truth
        except NtNotFound:
            continue
        if params.actor is not None:
            member = books.members.get(params.actor)
            if member is None or not member.active:
                continue
        else:
            member = None if store.caller is None else bound_member(books, store.caller)
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
    books, _ = reading(ctx, params)
    return MembersResult(syndicate_id=books.syndicate_id, members=[
        MemberView.of(books, m) for m in sorted(books.members.values(), key=lambda m: m.member_id)
        if m.active or params.include_inactive])


def limits(params: SyndicateParams, ctx: Context) -> LimitsResult:
    books, _ = reading(ctx, params)
    return LimitsResult(syndicate_id=books.syndicate_id, rules=books.rules,
                        exposure=allocation.exposure(books, clock.now()))


# -- rules --------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SetRulesParams(SyndicateParams):
    rules: RulesPatch = param(description="the rules to change; those left out keep their values")


def set_rules(params: SetRulesParams, ctx: Context) -> LimitsResult:
    with changing(ctx, "syndicate.set_rules", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.SET_RULES)
        rules = books.rules.apply(params.rules)
        if rules != books.rules:
            change.append("rules_set", params.actor, {"rules": rules})
        return LimitsResult(syndicate_id=books.syndicate_id, rules=books.rules,
                            exposure=allocation.exposure(books, change.now))


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
    books, _ = reading(ctx, params)
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


# -- ledger_verify ------------------------------------------------------------------------------------
def ledger_verify(params: SyndicateParams, ctx: Context) -> LedgerVerifyResult:
    store = store_of(ctx)
    row, records = store.records(params.syndicate_id)
    report = chain.verify(records, head_seq=row.head_seq, head_hash=row.head_hash)
    # The actor's role is read from the records that verify (all of them when the ledger is sound).
    sound = records if report.ok else records[:max(0, (report.first_bad_seq or 1) - 1)]
    books = Books.replay(params.syndicate_id, [Event.of(r) for r in sound])
    store.check_visible(books)   # on what verifies: a member may not see what a forger wrote in
    if report.ok or params.actor in books.members or store.caller is not None:
        acting(ctx, books, params.actor, P.VIEW)   # a server admin may inspect a ledger broken before the actor joined
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
