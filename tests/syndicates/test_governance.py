"""Votes: weights fixed at opening, quorum, threshold, deadline (on an injected clock), final results
written to the ledger; and the count's rules as properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neural_trader.errors import NtConflict, NtForbidden
from neural_trader.host import Host
from neural_trader_plugins.syndicates.books import Proposal
from neural_trader_plugins.syndicates.governance import Outcome, tally

from .conftest import T0, Clock, call, founders


@pytest.fixture
def club(sqlite_host: Host, fake_clock: Clock) -> Host:
    call(sqlite_host, "create", syndicate_id="g", name="G", founders=founders(
        ("ann", "admin", "600.00"), ("ben", "manager", "300.00"), ("cat", "member", "100.00"), ("oz", "observer", None)))
    return sqlite_host


def _results(host: Host, pid: str) -> dict[str, object]:
    return call(host, "vote_results", syndicate_id="g", actor="oz", proposal_id=pid)  # type: ignore[no-any-return]


def test_unit_weighted_vote_closes_at_the_deadline_and_is_recorded(club: Host, fake_clock: Clock) -> None:
    opened = call(club, "vote_create", syndicate_id="g", actor="cat", proposal_id="p1", title="Tennis", hours=24)
    assert opened["eligible_weight"] == "1000" and opened["eligible_voters"] == 3   # the observer has none
    call(club, "vote_cast", syndicate_id="g", actor="ben", proposal_id="p1", option="approve")
    # Units bought after the opening buy no votes.
    call(club, "deposit", syndicate_id="g", actor="cat", deposit_id="late", amount="5000.00")
    call(club, "vote_cast", syndicate_id="g", actor="cat", proposal_id="p1", option="reject")
    open_now = _results(club, "p1")
    assert open_now["outcome"] == "open" and not open_now["closed"]
    # ben 300 approve, cat 100 reject: 400 of 1,000 cast < the 50 % quorum.
    fake_clock.advance(hours=24)
    final = _results(club, "p1")
    assert (final["outcome"], final["closed"], final["recorded"], final["quorum_met"]) == ("no_quorum", True, False,
                                                                                             False)
    with pytest.raises(NtConflict, match="closed"):
        call(club, "vote_cast", syndicate_id="g", actor="ann", proposal_id="p1", option="approve")
    assert not _results(club, "p1")["recorded"]   # the refused vote wrote nothing
    call(club, "deposit", syndicate_id="g", actor="ann", deposit_id="any", amount="1.00")
    assert _results(club, "p1")["recorded"]       # the next change records the final result first


def test_everyone_voting_closes_early_and_the_threshold_decides(club: Host, fake_clock: Clock) -> None:
    call(club, "vote_create", syndicate_id="g", actor="ann", proposal_id="p2", title="Big bet", kind="large_bet",
         threshold="0.66")
    for member, option in (("ann", "approve"), ("ben", "reject")):
        call(club, "vote_cast", syndicate_id="g", actor=member, proposal_id="p2", option=option)
    last = call(club, "vote_cast", syndicate_id="g", actor="cat", proposal_id="p2", option="approve")
    # approve 700 of 1,000 cast = 70 % >= 66 %: decided, before the deadline, and recorded.
    assert (last["outcome"], last["winner"], last["closed"], last["recorded"]) == ("decided", "approve", True, True)
    assert [c["share"] for c in last["counts"]] == ["0.700000", "0.300000"]


def test_role_weighting_and_final_votes(club: Host, fake_clock: Clock) -> None:
    call(club, "vote_create", syndicate_id="g", actor="ann", proposal_id="p3", title="Who", weighting="role",
         options=["x", "y", "z"], threshold="0.5", quorum="0.6")
    call(club, "vote_cast", syndicate_id="g", actor="cat", proposal_id="p3", option="x")
    call(club, "vote_cast", syndicate_id="g", actor="cat", proposal_id="p3", option="x")   # the same vote: idempotent
    with pytest.raises(NtConflict, match="final"):
        call(club, "vote_cast", syndicate_id="g", actor="cat", proposal_id="p3", option="y")
    with pytest.raises(NtForbidden):
        call(club, "vote_cast", syndicate_id="g", actor="oz", proposal_id="p3", option="x")
    call(club, "vote_cast", syndicate_id="g", actor="ben", proposal_id="p3", option="y")
    fake_clock.advance(hours=72)
    # one vote each: x 1, y 1 of 3 eligible: quorum 2/3 >= 60 %, but no option leads: no majority.
    final = _results(club, "p3")
    assert (final["outcome"], final["winner"], final["cast_weight"]) == ("no_majority", None, "2")


def _proposal(weights: list[int], votes: list[int | None], quorum: str, threshold: str) -> Proposal:
    eligible = {f"m{i}": D(w) for i, w in enumerate(weights)}
    options = ["a", "b", "c"]
    return Proposal(proposal_id="p", kind="other", title="t", description=None, options=options, proposer="m0",
                    created_at=T0, deadline=T0 + dt.timedelta(hours=1), quorum=D(quorum), threshold=D(threshold),
                    weighting="units", eligible=eligible,
                    votes={f"m{i}": (options[v], eligible[f"m{i}"], T0) for i, v in enumerate(votes) if v is not None})


@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8).flatmap(
    lambda w: st.tuples(st.just(w), st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=len(w),
                                             max_size=len(w)))),
       st.sampled_from(["0", "0.25", "0.5", "1"]), st.sampled_from(["0.5", "0.6", "1"]), st.booleans())
def test_the_count_follows_its_rules(wv: tuple[list[int], list[int | None]], quorum: str, threshold: str,
                                     past_deadline: bool) -> None:
    weights, votes = wv
    proposal = _proposal(weights, votes, quorum, threshold)
    t = tally(proposal, proposal.deadline if past_deadline else T0)
    cast = sum(w for w, v in zip(weights, votes, strict=True) if v is not None)
    everyone = all(v is not None for v in votes)
    assert t.closed is (past_deadline or everyone)
    assert t.cast_weight == cast and sum(t.by_option.values()) == cast
    if not t.closed:
        assert t.outcome is Outcome.OPEN
    elif cast < D(quorum) * sum(weights):
        assert t.outcome is Outcome.NO_QUORUM
    elif t.outcome is Outcome.DECIDED:
        lead = t.by_option[t.winner]  # type: ignore[index]
        assert lead >= D(threshold) * cast and all(lead > w for o, w in t.by_option.items() if o != t.winner)
    else:
        assert t.outcome is Outcome.NO_MAJORITY
        ranked = sorted(t.by_option.values(), reverse=True)
        assert ranked[0] < D(threshold) * cast or ranked[0] == ranked[1]
