"""What every syndicate operation shares: the id fields and their patterns, the acting member's check,
the store, idempotency, and the write that closes overdue votes first.

The handlers (``ops_*``) each check the acting member's role (:mod:`.roles`), read or change the ledger
through :class:`~.store.SyndicateStore`, and build a result from the books (:mod:`.views`); the money,
the allocation, the distribution and the vote count are the domain modules' work. A change names its
idempotency key (``deposit_id``, ``allocation_id`` ...): the same key with the same request returns what
the first call did and writes nothing; with another request it is a conflict (HTTP 409).
"""


from __future__ import annotations

import contextlib
import decimal
from collections.abc import Iterator
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtForbidden
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.syndicates import governance
from neural_trader_plugins.syndicates.access import (
    IDENTITY_HINT,
    IDENTITY_PATTERN,
    bound_member,
    bound_to,
    caller_of,
)
from neural_trader_plugins.syndicates.books import Books, Event, MemberState
from neural_trader_plugins.syndicates.roles import Permission, require
from neural_trader_plugins.syndicates.store import Change, SyndicateStore, fingerprint

D = decimal.Decimal
P = Permission

_SYNDICATE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SYNDICATE_HINT = "1 to 64 lower-case letters, digits, _ and - starting with a letter or digit"
_MEMBER = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_MEMBER_HINT = "1 to 64 letters, digits, _ . - starting with a letter or digit"
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
KEY_HINT = "1 to 128 letters, digits, _ . : - starting with a letter or digit"
MAX_MONEY = 10**12


def syndicate_id_field(**kw: Any) -> Any:
    return param(pattern=_SYNDICATE, pattern_hint=_SYNDICATE_HINT, description="the syndicate's id", **kw)


def member_field(description: str, **kw: Any) -> Any:
    return param(pattern=_MEMBER, pattern_hint=_MEMBER_HINT, description=description, **kw)


def key_field(description: str, **kw: Any) -> Any:
    return param(pattern=KEY_PATTERN, pattern_hint=KEY_HINT, description=description + " (the idempotency key: the same "
                 "id with the same request returns the first answer; with another request it is a 409)", **kw)


ACTOR = "the acting member's id: their role decides what they may do"


def identity_field(description: str, **kw: Any) -> Any:
    return param(pattern=IDENTITY_PATTERN, pattern_hint=IDENTITY_HINT, description=description, **kw)


IDENTITY = ("the identity (an API key's name, a token's subject) that acts as this member; default the member id "
            "when it is an identity's name (lower-case)")


def store_of(ctx: Context) -> SyndicateStore:
    """The store, reading for the caller: syndicates it may not see are not found (:mod:`.access`)."""
    return SyndicateStore(ctx.services.storage, ctx.services.audit, caller_of(ctx))


def identity_of(ctx: Context) -> str:
    identity = ctx.identity
    return f"{identity.name}:{identity.key_id}" if identity.key_id else identity.name


def acting(ctx: Context, books: Books, actor: str, permission: Permission) -> MemberState:
    """The acting member, if the caller may act as them and they may do ``permission``. A caller with
    the admin scope (the operator, an administrator's key) may act as any member; any other caller only
    as the member bound to its identity (:mod:`.access`)."""
    caller = caller_of(ctx)
    member = books.members.get(actor)
    if caller is not None and (member is None or not bound_to(member, caller)):
        own = bound_member(books, caller)
        yours = f"act as your member {own.member_id!r}" if own is not None else "you are no member of it"
        raise NtForbidden(f"the caller {caller.name!r} may act only as the member of syndicate {books.syndicate_id!r} "
                          f"bound to its identity, not as {actor!r}: {yours} (callers with the admin scope may act "
                          "as any member)")
    if member is None or not member.active:
        raise NtForbidden(f"actor {actor!r} is not an active member of syndicate {books.syndicate_id!r}")
    require(actor, member.role, permission)
    return member


def own_or(books: Books, actor: MemberState, member_id: str | None) -> MemberState:
    """The member a personal view is about: the actor, or another if the actor may see everyone's."""
    if member_id is None or member_id == actor.member_id:
        return actor
    require(actor.member_id, actor.role, P.VIEW_ALL_ACCOUNTS)
    return books.member(member_id, active=False)


def repeat_of(change: Change, key: str, request: Any) -> Event | None:
    """The record of an earlier call with this key (the same request), or None for a new one."""
    prior = change.prior(key)
    if prior is not None and prior.data.get("request") != fingerprint(request):
        raise NtConflict(f"{key.split(':', 1)[0]} id {key.split(':', 1)[1]!r} was used for another request; use a "
                         "new id")
    return prior


def request_fields(params: Any, *drop: str) -> dict[str, Any]:
    return {f.name: getattr(params, f.name) for f in attrs.fields(type(params)) if f.name not in drop}


def close_due(change: Change) -> None:
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
def changing(ctx: Context, operation: str, params: Any) -> Iterator[Change]:
    """A write on the syndicate (with its core audit record); proposals past their deadline are closed first."""
    with store_of(ctx).change(params.syndicate_id, operation=operation, audit_actor=identity_of(ctx),
                            payload=request_fields(params)) as change:
        close_due(change)
        yield change


@attrs.frozen(kw_only=True)
class SyndicateParams:
    syndicate_id: str = syndicate_id_field()
    actor: str = member_field(ACTOR)


def reading(ctx: Context, params: SyndicateParams, permission: Permission = P.VIEW) -> tuple[Books, MemberState]:
    books = store_of(ctx).books(params.syndicate_id)
    return books, acting(ctx, books, params.actor, permission)
