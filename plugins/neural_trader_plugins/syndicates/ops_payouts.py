"""``syndicate.distribute``, ``withdraw_request``, ``withdraw_approve``, ``withdraw_process`` and
``withdrawals``: money out, as profit shares or as withdrawals."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtForbidden, NtNotFound, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader.services.audit import canonical_json
from neural_trader_plugins.syndicates import distribution
from neural_trader_plugins.syndicates.books import Books
from neural_trader_plugins.syndicates.common import (
    KEY_HINT,
    KEY_PATTERN,
    MAX_MONEY,
    SyndicateParams,
    acting,
    changing,
    key_field,
    member_field,
    reading,
    repeat_of,
    request_fields,
)
from neural_trader_plugins.syndicates.money import ZERO, cents, check_cents, money
from neural_trader_plugins.syndicates.roles import Permission, Role, require
from neural_trader_plugins.syndicates.store import Change, fingerprint
from neural_trader_plugins.syndicates.views import (
    DistributionResult,
    ProcessResult,
    Share,
    WithdrawalsResult,
    WithdrawalView,
)

D = decimal.Decimal
P = Permission


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
    distribution_id: str = key_field("your id of this distribution")
    amount: D | None = param(default=None, gt=0, le=MAX_MONEY, unit="money",
                             description="gross amount in whole cents; default everything distributable")
    model: distribution.Model = param(default=distribution.Model.PROPORTIONAL,
                                      description="proportional (to units), equal, performance, tiered or hybrid")
    hybrid_weights: HybridWeights | None = param(default=None, description="the hybrid model's mix")
    performance_fee: D = param(default=D(0), ge=0, le=1, unit="fraction",
                               description="share of the gross paid to fee_recipient")
    fee_recipient: str | None = member_field("who receives the performance fee (default the actor)", default=None)
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
    with changing(ctx, "syndicate.distribute", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.DISTRIBUTE)
        key = f"distribution:{params.distribution_id}"
        prior = repeat_of(change, key, request_fields(params, "preview")) if not params.preview else change.prior(key)
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
                "request": fingerprint(request_fields(params, "preview"))}
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


# -- withdrawals --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class WithdrawRequestParams(SyndicateParams):
    request_id: str = key_field("your id of this request")
    amount: D | None = param(default=None, gt=0, le=MAX_MONEY, unit="money",
                             description="how much, in whole cents; leave out to withdraw everything")
    emergency: bool = param(default=False, description="skip the notice period and lock-up, for the rules' "
                                                       "emergency_penalty")
    reason: str | None = param(default=None, max_len=500, description="why, for the approvers")


def withdraw_request(params: WithdrawRequestParams, ctx: Context) -> WithdrawalView:
    amount = None if params.amount is None else check_cents("amount", params.amount)
    with changing(ctx, "syndicate.withdraw_request", params) as change:
        books = change.books
        member = acting(ctx, books, params.actor, P.WITHDRAW_OWN)
        key = f"withdrawal:{params.request_id}"
        if repeat_of(change, key, request_fields(params)) is None:
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
                "request": fingerprint(request_fields(params))}, key=key)
        return WithdrawalView.of(books.withdrawals[params.request_id])


@attrs.frozen(kw_only=True)
class WithdrawApproveParams(SyndicateParams):
    request_id: str = param(pattern=KEY_PATTERN, pattern_hint=KEY_HINT, description="the request to decide")
    approve: bool = param(description="true approves, false rejects (explicit: no default decides for you)")
    note: str | None = param(default=None, max_len=500, description="a note for the member")


def _request_of(books: Books, request_id: str) -> Any:
    found = books.withdrawals.get(request_id)
    if found is None:
        raise NtNotFound(f"syndicate {books.syndicate_id!r} has no withdrawal request {request_id!r}")
    return found


def withdraw_approve(params: WithdrawApproveParams, ctx: Context) -> WithdrawalView:
    with changing(ctx, "syndicate.withdraw_approve", params) as change:
        books = change.books
        approver = acting(ctx, books, params.actor, P.APPROVE_WITHDRAWALS)
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
    request_id: str | None = param(default=None, pattern=KEY_PATTERN, pattern_hint=KEY_HINT,
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
    with changing(ctx, "syndicate.withdraw_process", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.PROCESS_WITHDRAWALS)
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
    member_id: str | None = member_field("only this member's (others' need the manager role)", default=None)


def withdrawals(params: WithdrawalsParams, ctx: Context) -> WithdrawalsResult:
    books, actor = reading(ctx, params)
    from neural_trader_plugins.syndicates.roles import allowed

    see_all = allowed(actor.role, P.VIEW_ALL_ACCOUNTS)
    if params.member_id not in (None, actor.member_id) and not see_all:
        require(actor.member_id, actor.role, P.VIEW_ALL_ACCOUNTS)
    out = [WithdrawalView.of(w) for w in books.withdrawals.values()
           if (see_all or w.member_id == actor.member_id) and params.member_id in (None, w.member_id)
           and params.status in (None, w.status)]
    return WithdrawalsResult(syndicate_id=books.syndicate_id, withdrawals=out)
