"""``syndicate.vote_create``, ``vote_cast`` and ``vote_results``: proposals and weighted votes."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtForbidden, NtNotFound, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.syndicates import clock, governance
from neural_trader_plugins.syndicates.books import Books
from neural_trader_plugins.syndicates.common import (
    KEY_HINT,
    KEY_PATTERN,
    SyndicateParams,
    acting,
    changing,
    close_due,
    key_field,
    reading,
    repeat_of,
    request_fields,
)
from neural_trader_plugins.syndicates.roles import Permission
from neural_trader_plugins.syndicates.store import fingerprint
from neural_trader_plugins.syndicates.views import (
    VoteResults,
)

D = decimal.Decimal
P = Permission


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
    proposal_id: str = key_field("your id of the proposal")
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
    with changing(ctx, "syndicate.vote_create", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.PROPOSE)
        key = f"proposal:{params.proposal_id}"
        if repeat_of(change, key, request_fields(params)) is None:
            eligible = governance.eligible_weights(books, params.weighting)
            if not eligible:
                raise NtConflict(f"nobody has voting weight under {params.weighting.value} weighting (no units?)")
            change.append("proposal_created", params.actor, {
                "proposal_id": params.proposal_id, "kind": params.kind, "title": params.title,
                "description": params.description, "options": params.options,
                "deadline": change.now + dt.timedelta(hours=params.hours),
                "quorum": books.rules.quorum if params.quorum is None else params.quorum,
                "threshold": books.rules.approval_threshold if params.threshold is None else params.threshold,
                "weighting": params.weighting, "eligible": eligible, "request": fingerprint(request_fields(params))},
                key=key)
        return VoteResults.of(books.proposals[params.proposal_id], change.now)


@attrs.frozen(kw_only=True)
class VoteCastParams(SyndicateParams):
    proposal_id: str = param(pattern=KEY_PATTERN, pattern_hint=KEY_HINT, description="the proposal")
    option: str = param(min_len=1, max_len=64, description="one of the proposal's options")


def _proposal(books: Books, proposal_id: str) -> Any:
    found = books.proposals.get(proposal_id)
    if found is None:
        raise NtNotFound(f"syndicate {books.syndicate_id!r} has no proposal {proposal_id!r}")
    return found


def vote_cast(params: VoteCastParams, ctx: Context) -> VoteResults:
    with changing(ctx, "syndicate.vote_cast", params) as change:
        books = change.books
        acting(ctx, books, params.actor, P.VOTE)
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
            close_due(change)
        return VoteResults.of(proposal, change.now)


@attrs.frozen(kw_only=True)
class VoteResultsParams(SyndicateParams):
    proposal_id: str = param(pattern=KEY_PATTERN, pattern_hint=KEY_HINT, description="the proposal")


def vote_results(params: VoteResultsParams, ctx: Context) -> VoteResults:
    books, _ = reading(ctx, params)
    return VoteResults.of(_proposal(books, params.proposal_id), clock.now())
