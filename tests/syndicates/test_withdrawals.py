"""Withdrawals: notice period and lock-up on the injected clock, emergency penalty, minimum balance,
and no self-approval by a manager."""

from __future__ import annotations

import pytest

from neural_trader.errors import NtConflict, NtForbidden, NtUserError
from neural_trader.host import Host

from .conftest import Clock, call, founders


@pytest.fixture
def club(sqlite_host: Host, fake_clock: Clock) -> Host:
    call(sqlite_host, "create", syndicate_id="w", name="W", rules={"notice_days": 7, "lockup_days": 30,
                                                                   "emergency_penalty": "0.10", "min_balance": "100"},
         founders=founders(("ann", "admin", "1000.00"), ("max", "manager", "1000.00")))
    return sqlite_host


def _ask(host: Host, actor: str, rid: str, **kw: object) -> dict[str, object]:
    return call(host, "withdraw_request", syndicate_id="w", actor=actor, request_id=rid, **kw)  # type: ignore[no-any-return]


def test_lockup_then_notice_then_payment(club: Host, fake_clock: Clock) -> None:
    with pytest.raises(NtConflict, match="locked up"):
        _ask(club, "max", "early", amount="100.00")
    fake_clock.advance(days=30)
    _ask(club, "max", "r1", amount="100.00")
    with pytest.raises(NtForbidden, match="own withdrawal"):
        call(club, "withdraw_approve", syndicate_id="w", actor="max", request_id="r1", approve=True)
    call(club, "withdraw_approve", syndicate_id="w", actor="ann", request_id="r1", approve=True)
    waiting = call(club, "withdraw_process", syndicate_id="w", actor="ann", confirm=True)
    assert waiting["processed"] == [] and "notice period" in waiting["waiting"][0]["waiting_for"]
    fake_clock.advance(days=7)
    done = call(club, "withdraw_process", syndicate_id="w", actor="ann", confirm=True)
    assert [w["paid"] for w in done["processed"]] == ["100.00"]
    # Processing it again pays nothing more.
    again = call(club, "withdraw_process", syndicate_id="w", actor="ann", request_id="r1", confirm=True)
    assert again["processed"][0]["status"] == "processed"
    assert call(club, "status", syndicate_id="w", actor="ann")["nav"] == "1900.00"


def test_emergency_skips_lockup_and_notice_for_a_penalty(club: Host, fake_clock: Clock) -> None:
    _ask(club, "max", "e1", emergency=True)      # everything: 1,000.00
    call(club, "withdraw_approve", syndicate_id="w", actor="ann", request_id="e1", approve=True)
    [paid] = call(club, "withdraw_process", syndicate_id="w", actor="ann", confirm=True)["processed"]
    # 10 % of 1,000.00 stays with the pool: ann's 1,000 units are now worth 1,100.00.
    assert (paid["gross"], paid["penalty"], paid["paid"]) == ("1000.00", "100.00", "900.00")
    status = call(club, "status", syndicate_id="w", actor="ann")
    assert (status["nav"], status["unit_value"], status["penalties_kept"]) == ("1100.00", "1.10000000", "100.00")


def test_minimum_balance_and_rejection(club: Host, fake_clock: Clock) -> None:
    fake_clock.advance(days=31)
    with pytest.raises(NtUserError, match="minimum balance"):
        _ask(club, "max", "r2", amount="950.00")
    with pytest.raises(NtConflict, match="at most"):
        _ask(club, "max", "r3", amount="1000.01")
    _ask(club, "max", "r4", amount="900.00")
    rejected = call(club, "withdraw_approve", syndicate_id="w", actor="ann", request_id="r4", approve=False,
                    note="not now")
    assert rejected["status"] == "rejected"
    with pytest.raises(NtConflict, match="approved first"):
        call(club, "withdraw_process", syndicate_id="w", actor="ann", request_id="r4", confirm=True)
    listed = call(club, "withdrawals", syndicate_id="w", actor="ann", status="rejected")["withdrawals"]
    assert [w["request_id"] for w in listed] == ["r4"]
