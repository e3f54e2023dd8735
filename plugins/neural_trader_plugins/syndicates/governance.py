"""Weighted votes: eligible weights fixed when a proposal opens, a quorum, an approval threshold.

* **Weights** are fixed from the books when the proposal is created (buying units later buys no votes):
  ``units`` (each member's units), ``role`` (the role's weight from the rules, one vote per member),
  or ``units_role`` (units times the role weight). Members with weight 0 do not vote.
* **Closing**: a proposal is open until its deadline, or until every eligible member has voted.
* **Result** (final once closed): *no_quorum* when the weight cast is below ``quorum x eligible
  weight``; else *decided* when the leading option's share of the weight cast is at least
  ``threshold`` and it leads every other option strictly; else *no_majority*.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import attrs

from neural_trader_plugins.syndicates.books import Books, Proposal
from neural_trader_plugins.syndicates.roles import Role

D = decimal.Decimal
#: Weights are units or role weights, not money: no cents.
ZERO = D(0)

__all__ = ["Outcome", "Tally", "Weighting", "eligible_weights", "tally"]


class Weighting(enum.StrEnum):
    UNITS = "units"
    ROLE = "role"
    UNITS_ROLE = "units_role"


class Outcome(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    NO_MAJORITY = "no_majority"
    NO_QUORUM = "no_quorum"


@attrs.frozen(kw_only=True)
class Tally:
    outcome: Outcome
    closed: bool
    winner: str | None
    by_option: dict[str, D]
    eligible_weight: D
    cast_weight: D
    quorum_met: bool
    voters: int
    eligible_voters: int


def eligible_weights(books: Books, weighting: Weighting) -> dict[str, D]:
    """Each active member's voting weight now (members with weight 0 left out)."""
    out: dict[str, D] = {}
    for member in books.members.values():
        if not member.active:
            continue
        role_weight = books.rules.role_vote_weights.of(Role(member.role))
        weight = {Weighting.UNITS: member.units if role_weight > 0 else ZERO, Weighting.ROLE: role_weight,
                  Weighting.UNITS_ROLE: member.units * role_weight}[weighting]
        if weight > 0:
            out[member.member_id] = weight
    return out


def tally(proposal: Proposal, now: dt.datetime) -> Tally:
    """The proposal's count at ``now``: provisional while open, final after."""
    by_option = {option: ZERO for option in proposal.options}
    for option, weight, _ in proposal.votes.values():
        by_option[option] += weight
    eligible, cast = sum(proposal.eligible.values(), ZERO), sum(by_option.values(), ZERO)
    closed = now >= proposal.deadline or len(proposal.votes) == len(proposal.eligible)
    quorum_met = eligible > 0 and cast >= proposal.quorum * eligible
    ranked = sorted(by_option.items(), key=lambda kv: -kv[1])
    leader, lead = ranked[0]
    strictly_ahead = len(ranked) == 1 or lead > ranked[1][1]
    majority = cast > 0 and strictly_ahead and lead >= proposal.threshold * cast
    if not closed:
        outcome = Outcome.OPEN
    elif not quorum_met:
        outcome = Outcome.NO_QUORUM
    else:
        outcome = Outcome.DECIDED if majority else Outcome.NO_MAJORITY
    return Tally(outcome=outcome, closed=closed, winner=leader if outcome is Outcome.DECIDED else None,
                 by_option=by_option, eligible_weight=eligible, cast_weight=cast, quorum_met=quorum_met,
                 voters=len(proposal.votes), eligible_voters=len(proposal.eligible))
