"""Every operation denies what the acting member's role may not do (and the caller's scope is checked
as for any operation). The table below is the specification, written out independently of the pack's."""

from __future__ import annotations

from typing import Any

import pytest

from neural_trader.errors import NtForbidden, NtNotFound
from neural_trader.host import Host
from neural_trader.ops import Identity, Scope

from .conftest import call, founders

READ_ALL = {"admin", "manager", "member", "observer"}
MONEY = {"admin", "manager", "member"}
STAFF = {"admin", "manager"}
ADMIN = {"admin"}

#: operation -> (params besides syndicate_id and actor, roles allowed).
CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "status": ({}, READ_ALL),
    "members": ({}, READ_ALL),
    "limits": ({}, READ_ALL),
    "profit_history": ({}, READ_ALL),
    "ledger_verify": ({}, READ_ALL),
    "withdrawals": ({}, READ_ALL),
    "simulate_allocation": ({"opportunities": [{"opportunity_id": "x", "probability": 0.6, "odds": 2}]}, READ_ALL),
    "member_performance": ({}, READ_ALL),
    "tax_estimate": ({}, READ_ALL),
    "deposit": ({"deposit_id": "perm", "amount": "1.00"}, MONEY - {"observer"}),
    "withdraw_request": ({"request_id": "perm", "amount": "1.00"}, MONEY),
    "vote_create": ({"proposal_id": "perm", "title": "t"}, MONEY),
    "vote_cast": ({"proposal_id": "open", "option": "approve"}, MONEY),
    "allocate": ({"allocation_id": "perm", "opportunities": [{"opportunity_id": "x", "probability": 0.6,
                                                              "odds": 2}], "confirm": True}, STAFF),
    "settle": ({"bet_id": "b/x", "outcome": "void"}, STAFF),
    "withdraw_approve": ({"request_id": "pending", "approve": True}, STAFF),
    "withdraw_process": ({"confirm": True}, STAFF),
    "distribute": ({"distribution_id": "perm", "amount": "1.00"}, STAFF),
    "set_rules": ({"rules": {"quorum": "0.6"}}, ADMIN),
    "member_add": ({"member_id": "newbie", "name": "N"}, ADMIN),
    "member_update": ({"member_id": "mia", "name": "Mia M"}, ADMIN),
    "member_remove": ({"member_id": "newbie", "confirm": True}, ADMIN),
}
ACTORS = {"admin": "ada", "manager": "max", "member": "mia", "observer": "oz"}


@pytest.fixture
def club(sqlite_host: Host) -> Host:
    host = sqlite_host
    call(host, "create", syndicate_id="perm", name="P", founders=founders(
        ("ada", "admin", "500.00"), ("max", "manager", "300.00"), ("mia", "member", "200.00"), ("oz", "observer", None)))
    call(host, "allocate", syndicate_id="perm", actor="ada", allocation_id="b", confirm=True,
         opportunities=[{"opportunity_id": "x", "probability": 0.6, "odds": 2}])
    call(host, "vote_create", syndicate_id="perm", actor="ada", proposal_id="open", title="open")
    call(host, "withdraw_request", syndicate_id="perm", actor="ada", request_id="pending", amount="5.00")
    return host


def test_the_table_covers_every_operation_that_takes_an_actor(club: Host) -> None:
    ops = {op.name.split(".", 1)[1] for op in club.operations if op.name.startswith("syndicate.")}
    assert ops - set(CASES) == {"create", "list", "vote_results"}   # no actor role to check / read by all below


@pytest.mark.parametrize("role", list(ACTORS))
def test_each_role_may_do_exactly_what_the_table_says(role: str, club: Host) -> None:
    wrong = []
    for op, (extra, allowed) in CASES.items():
        try:
            call(club, op, syndicate_id="perm", actor=ACTORS[role], **extra)
            denied = False
        except NtForbidden:
            denied = True
        except Exception:   # allowed, then refused for another reason (a conflict, nothing to do)
            denied = False
        if denied is not (role not in allowed):
            wrong.append(op)
    assert wrong == [], f"{role}: {wrong}"


def test_strangers_and_removed_members_are_refused(club: Host) -> None:
    with pytest.raises(NtForbidden, match="not an active member"):
        call(club, "status", syndicate_id="perm", actor="nobody")
    call(club, "member_remove", syndicate_id="perm", actor="ada", member_id="oz", confirm=True)
    with pytest.raises(NtForbidden):
        call(club, "vote_results", syndicate_id="perm", actor="oz", proposal_id="open")


def test_personal_views_of_others_need_the_manager_role(club: Host) -> None:
    with pytest.raises(NtForbidden):
        call(club, "member_performance", syndicate_id="perm", actor="mia", member_id="ada")
    assert call(club, "member_performance", syndicate_id="perm", actor="max", member_id="ada")["member_id"] == "ada"
    mine = call(club, "withdrawals", syndicate_id="perm", actor="mia")["withdrawals"]
    assert mine == []   # ada's request is not hers to see
    assert len(call(club, "withdrawals", syndicate_id="perm", actor="max")["withdrawals"]) == 1


async def test_the_callers_scope_is_checked_before_the_role(club: Host) -> None:
    reader = club.context(identity=Identity(name="reader", scopes=frozenset({Scope.READ})))
    with pytest.raises(NtForbidden, match="needs scope 'trade'"):
        await club.operation("syndicate.deposit").call(
            {"syndicate_id": "perm", "actor": "ada", "deposit_id": "s", "amount": "1.00"}, reader)
    # with the scope, a caller who is no member finds no syndicate (members and rules need trade, then the role)
    trader = club.context(identity=Identity(name="t", scopes=frozenset({Scope.TRADE})))
    with pytest.raises(NtNotFound, match="no syndicate 'perm'"):
        await club.operation("syndicate.set_rules").call(
            {"syndicate_id": "perm", "actor": "ada", "rules": {"quorum": "0.6"}}, trader)
    assert await club.operation("syndicate.list").call({}, reader) == {"syndicates": []}


async def test_a_key_acts_only_as_the_member_it_is_named_after(club: Host) -> None:
    mia = club.context(identity=Identity(name="mia", scopes=frozenset({Scope.TRADE}), key_id="k1"))
    deposit = club.operation("syndicate.deposit")
    done = await deposit.call({"syndicate_id": "perm", "actor": "mia", "deposit_id": "own", "amount": "1.00"}, mia)
    assert done["member_id"] == "mia"
    with pytest.raises(NtForbidden, match="may act only as the member of syndicate 'perm' bound to its identity, "
                                          "not as 'ada': act as your member 'mia'"):
        await deposit.call({"syndicate_id": "perm", "actor": "ada", "deposit_id": "as-ada", "amount": "1.00"}, mia)


async def test_a_key_founds_a_syndicate_only_as_its_admin(club: Host) -> None:
    ann = club.context(identity=Identity(name="ann", scopes=frozenset({Scope.TRADE}), key_id="k2"))
    create = club.operation("syndicate.create")
    with pytest.raises(NtForbidden, match="must be one of the founders"):
        await create.call({"syndicate_id": "other", "name": "O", "founders": founders(("bea", "admin", None))}, ann)
    made = await create.call({"syndicate_id": "own", "name": "O", "founders": founders(("ann", "admin", None))}, ann)
    assert made["members"] == 1
