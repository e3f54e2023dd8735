"""``syndicate.member_add``, ``member_update``, ``member_remove``, ``deposit``, ``member_performance`` and
``tax_estimate``: members, their money in, and how they did."""

from __future__ import annotations

import decimal

import attrs

from neural_trader.errors import NtConflict
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.syndicates import clock
from neural_trader_plugins.syndicates import performance as perf
from neural_trader_plugins.syndicates.access import default_identity
from neural_trader_plugins.syndicates.books import Books
from neural_trader_plugins.syndicates.common import (
    IDENTITY,
    MAX_MONEY,
    SyndicateParams,
    acting,
    changing,
    identity_field,
    key_field,
    member_field,
    own_or,
    reading,
    repeat_of,
    request_fields,
)
from neural_trader_plugins.syndicates.money import UNIT, ZERO, check_cents, money
from neural_trader_plugins.syndicates.roles import Permission, Role
from neural_trader_plugins.syndicates.store import fingerprint
from neural_trader_plugins.syndicates.views import (
    DepositResult,
    MemberView,
    PerformanceResult,
    TaxEstimateResult,
)

D = decimal.Decimal
P = Permission


# -- members ------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class MemberAddParams(SyndicateParams):
    member_id: str = member_field("the new member's id")
    name: str = param(min_len=1, max_len=200, description="display name")
    role: Role = param(default=Role.MEMBER, description="admin, manager, member or observer")
    identity: str | None = identity_field(IDENTITY, default=None)


def _admins_left(books: Books, without: str) -> int:
    return sum(1 for m in books.members.values() if m.active and m.role is Role.ADMIN and m.member_id != without)


def member_add(params: MemberAddParams, ctx: Context) -> MemberView:
    with changing(ctx, "syndicate.member_add", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        existing = books.members.get(params.member_id)
        identity = params.identity if params.identity is not None else default_identity(params.member_id)
        if existing is not None and existing.active:
            if (existing.name, existing.role, existing.identity) != (params.name, params.role, identity):
                raise NtConflict(f"member {params.member_id!r} is already in the syndicate as {existing.role.value} "
                                 f"{existing.name!r} (identity {existing.identity!r}); syndicate.member_update "
                                 "changes them")
            return MemberView.of(books, existing)
        change.append("member_added", params.actor, {"member_id": params.member_id, "name": params.name,
                                                     "role": params.role, "identity": identity})
        return MemberView.of(books, books.member(params.member_id))


@attrs.frozen(kw_only=True)
class MemberUpdateParams(SyndicateParams):
    member_id: str = member_field("the member to change")
    role: Role | None = param(default=None, description="the new role")
    name: str | None = param(default=None, min_len=1, max_len=200, description="the new display name")
    identity: str | None = identity_field("the identity that acts as the member from now on", default=None)


def member_update(params: MemberUpdateParams, ctx: Context) -> MemberView:
    with changing(ctx, "syndicate.member_update", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        member = books.member(params.member_id)
        changes = {k: v for k, v in (("role", params.role), ("name", params.name), ("identity", params.identity))
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
    member_id: str = member_field("the member to remove (they must hold no units)")


def member_remove(params: MemberRemoveParams, ctx: Context) -> MemberView:
    with changing(ctx, "syndicate.member_remove", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.MANAGE_MEMBERS)
        member = books.member(params.member_id, active=False)
        if member.active:
            if member.role is Role.ADMIN and _admins_left(books, member.member_id) == 0:
                raise NtConflict(f"{member.member_id!r} is the last admin and cannot be removed")
            change.append("member_removed", params.actor, {"member_id": member.member_id})
        return MemberView.of(books, member)


# -- deposits -----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class DepositParams(SyndicateParams):
    deposit_id: str = key_field("your id of this deposit")
    amount: D = param(gt=0, le=MAX_MONEY, unit="money", description="in whole cents, in the syndicate's currency")
    member_id: str | None = member_field("whose deposit (default the actor; others need the manager role)", default=None)


def deposit(params: DepositParams, ctx: Context) -> DepositResult:
    amount = check_cents("amount", params.amount)
    with changing(ctx, "syndicate.deposit", params) as change:
        books = change.books
        member_id = params.member_id or params.actor
        acting(ctx, books, params.actor, P.DEPOSIT_OWN if member_id == params.actor else P.DEPOSIT_FOR_OTHERS)
        key = f"deposit:{params.deposit_id}"
        event = repeat_of(change, key, request_fields(params))
        if event is None:
            member = books.member(member_id)
            if member.role is Role.OBSERVER:
                raise NtConflict(f"{member_id!r} is an observer; observers hold no units (change the role first)")
            units, uv = books.quote_deposit(amount)
            event = change.append("deposit", params.actor, {
                "deposit_id": params.deposit_id, "member_id": member_id, "amount": amount, "units": units,
                "unit_value": uv, "request": fingerprint(request_fields(params))}, key=key)
        member = books.member(event.data["member_id"], active=False)
        return DepositResult(deposit_id=params.deposit_id, member_id=member.member_id,
                             amount=money(event.data["amount"]), units=D(event.data["units"]).quantize(UNIT),
                             unit_value=D(event.data["unit_value"]).quantize(UNIT),
                             member_units=member.units, member_value=books.value_of(member), nav=books.nav,
                             ledger_seq=event.seq)


# -- performance and tax ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PerformanceParams(SyndicateParams):
    member_id: str | None = member_field("whose (default the actor; others need the manager role)", default=None)


def member_performance(params: PerformanceParams, ctx: Context) -> PerformanceResult:
    books, actor = reading(ctx, params)
    p = perf.performance(books, own_or(books, actor, params.member_id))
    return PerformanceResult(syndicate_id=books.syndicate_id, **attrs.asdict(p, recurse=False))


@attrs.frozen(kw_only=True)
class TaxParams(PerformanceParams):
    jurisdiction: str = param(default="US", pattern=r"^[A-Za-z]{2}$", pattern_hint="a country code: US, UK, IE, "
                              "AU or CA", description="whose illustrative rate (docs/syndicates.md lists them)")
    year: int | None = param(default=None, ge=2000, le=2100, description="calendar year (default this one)")
    custom_rate: D | None = param(default=None, ge=0, le=1, unit="fraction",
                                  description="use this rate instead of the table's")


def tax_estimate(params: TaxParams, ctx: Context) -> TaxEstimateResult:
    books, actor = reading(ctx, params)
    member = own_or(books, actor, params.member_id)
    rate = perf.tax_rate(params.jurisdiction, params.custom_rate)
    year = params.year or clock.now().year
    gains = perf.realised_gains(member, year)
    return TaxEstimateResult(syndicate_id=books.syndicate_id, member_id=member.member_id,
                             jurisdiction=params.jurisdiction.upper(), year=year, realised_gains=gains,
                             taxable=max(gains, ZERO), rate=rate.rate, basis=rate.basis,
                             estimated_tax=perf.estimate(gains, rate))
