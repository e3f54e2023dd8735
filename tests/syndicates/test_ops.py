"""The operations through the CLI, MCP and REST, and how bad requests are refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from neural_trader.errors import NtConflict, NtNotFound, NtUserError, NtValidationError
from neural_trader.host import Host
from neural_trader.testing import CliRunner, call_everywhere
from neural_trader_plugins.syndicates import CREATE_EXAMPLE

from .conftest import OPEN_RULES, Clock, call, founders


async def test_one_syndicate_through_every_frontend(nt_cli: CliRunner, nt_mcp: Any, nt_rest: httpx.AsyncClient) -> None:
    created = await call_everywhere("syndicate.create", CREATE_EXAMPLE, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert (created["nav"], created["members"]) == ("10000.00", 4)
    s = {"syndicate_id": "example", "actor": "alice"}
    deposit = await call_everywhere("syndicate.deposit", {**s, "deposit_id": "x1", "amount": "250.00"}, cli=nt_cli,
                                    mcp=nt_mcp, rest=nt_rest)
    assert (deposit["units"], deposit["nav"]) == ("250.00000000", "10250.00")
    preview = await call_everywhere("syndicate.distribute", {**s, "distribution_id": "v", "amount": "10.00"},
                                    cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert preview["preview"] and not preview["within_distributable"] and preview["shares_total"] == "10.00"
    verified = await call_everywhere("syndicate.ledger_verify", s, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert verified["ok"] and verified["records"] == 9


async def test_rest_status_codes(nt_rest: httpx.AsyncClient) -> None:
    assert (await nt_rest.post("/v1/syndicate/status", json={"syndicate_id": "none", "actor": "a"})).status_code == 404
    await nt_rest.post("/v1/syndicate/create", json=CREATE_EXAMPLE)
    bad_cents = await nt_rest.post("/v1/syndicate/deposit", json={"syndicate_id": "example", "actor": "alice",
                                                                  "deposit_id": "c", "amount": "1.001"})
    assert bad_cents.status_code == 422 and "whole cents" in bad_cents.text
    dave = await nt_rest.post("/v1/syndicate/deposit", json={"syndicate_id": "example", "actor": "dave",
                                                             "deposit_id": "c", "amount": "1.00"})
    assert dave.status_code == 403 and "observer" in dave.text


def test_idempotency_keys(sqlite_host: Host, fake_clock: Clock) -> None:
    call(sqlite_host, "create", **CREATE_EXAMPLE)
    assert call(sqlite_host, "create", **CREATE_EXAMPLE)["ledger_seq"] == 8   # the same request: nothing new
    with pytest.raises(NtConflict, match="exists"):
        call(sqlite_host, "create", **{**CREATE_EXAMPLE, "name": "Other"})
    first = call(sqlite_host, "deposit", syndicate_id="example", actor="carol", deposit_id="k", amount="5.00")
    assert call(sqlite_host, "deposit", syndicate_id="example", actor="carol", deposit_id="k", amount="5.00") == first
    with pytest.raises(NtConflict, match="another request"):
        call(sqlite_host, "deposit", syndicate_id="example", actor="carol", deposit_id="k", amount="6.00")


def test_bad_requests_name_the_field(sqlite_host: Host, fake_clock: Clock) -> None:
    with pytest.raises(NtUserError, match="at least one founder must be an admin"):
        call(sqlite_host, "create", syndicate_id="z", name="Z", founders=founders(("a", "member", None)))
    with pytest.raises(NtValidationError, match="founders"):
        call(sqlite_host, "create", syndicate_id="z", name="Z", founders=[])
    call(sqlite_host, "create", syndicate_id="z", name="Z", founders=founders(("a", "admin", "10.00")),
         rules=OPEN_RULES)
    with pytest.raises(NtUserError, match="opportunity_id must appear once"):
        call(sqlite_host, "simulate_allocation", syndicate_id="z", actor="a", opportunities=[
            {"opportunity_id": "x", "probability": 0.5, "odds": 3}] * 2)
    with pytest.raises(NtValidationError, match="odds"):
        call(sqlite_host, "simulate_allocation", syndicate_id="z", actor="a", opportunities=[
            {"opportunity_id": "x", "probability": 0.5, "odds": 1}])
    with pytest.raises(NtNotFound, match="no bet"):
        call(sqlite_host, "settle", syndicate_id="z", actor="a", bet_id="nope/x", outcome="won")
    with pytest.raises(NtUserError, match="jurisdiction must be one of"):
        call(sqlite_host, "tax_estimate", syndicate_id="z", actor="a", jurisdiction="ZZ")
    with pytest.raises(NtConflict, match="nothing to distribute"):
        call(sqlite_host, "distribute", syndicate_id="z", actor="a", distribution_id="d", preview=False, confirm=True)


def test_stop_loss_stops_new_stakes(sqlite_host: Host, fake_clock: Clock) -> None:
    call(sqlite_host, "create", syndicate_id="sl", name="S", founders=founders(("a", "admin", "1000.00")),
         rules={**OPEN_RULES, "daily_stop_loss": "0.1"})
    opp = [{"opportunity_id": "o", "probability": 0.6, "odds": 2}]
    call(sqlite_host, "allocate", syndicate_id="sl", actor="a", allocation_id="a1", method="equal", budget="0.15",
         opportunities=opp, confirm=True)
    call(sqlite_host, "settle", syndicate_id="sl", actor="a", bet_id="a1/o", outcome="lost")   # -150 >= 10 % of 1,000
    stopped = call(sqlite_host, "simulate_allocation", syndicate_id="sl", actor="a", opportunities=opp)
    assert stopped["stopped"] and stopped["lines"][0]["limited_by"] == ["daily_stop_loss"]
    fake_clock.advance(days=1)
    assert not call(sqlite_host, "simulate_allocation", syndicate_id="sl", actor="a", opportunities=opp)["stopped"]


def test_tiers_and_performance_weighted_distribution(sqlite_host: Host, fake_clock: Clock) -> None:
    call(sqlite_host, "create", syndicate_id="t", name="T", founders=founders(("a", "admin", "1000.00")),
         rules={**OPEN_RULES, "tiers": [{"name": "gold", "min_capital": "1500", "multiplier": "2"}]})
    opp = [{"opportunity_id": "o", "probability": 0.6, "odds": 2}]
    call(sqlite_host, "allocate", syndicate_id="t", actor="a", allocation_id="a1", method="equal", budget="0.5",
         opportunities=opp, confirm=True)
    call(sqlite_host, "settle", syndicate_id="t", actor="a", bet_id="a1/o", outcome="won")   # NAV 1,500, unit 1.5
    call(sqlite_host, "member_add", syndicate_id="t", actor="a", member_id="b", name="B")
    call(sqlite_host, "deposit", syndicate_id="t", actor="b", deposit_id="b1", amount="1500.00")   # 1,000 units
    tiers = {m["member_id"]: m["tier"] for m in call(sqlite_host, "members", syndicate_id="t", actor="a")["members"]}
    assert tiers == {"a": "gold", "b": "gold"}
    # performance: a gained 1,000 x 1.5 - 1,000 = 500, b nothing: a takes all 500.00 of the profit.
    perf = call(sqlite_host, "distribute", syndicate_id="t", actor="a", distribution_id="p", model="performance")
    assert {s["member_id"]: s["amount"] for s in perf["shares"]} == {"a": "500.00", "b": "0.00"}
    # with a 10 % fee to b and 10 % reserve: 50.00 + 50.00, 400.00 shared by units (1:1).
    fee = call(sqlite_host, "distribute", syndicate_id="t", actor="a", distribution_id="f", performance_fee="0.1",
               reserve="0.1", fee_recipient="b", preview=False, confirm=True)
    assert (fee["performance_fee"], fee["reserve"], fee["net"]) == ("50.00", "50.00", "400.00")
    assert [s["amount"] for s in fee["shares"]] == ["200.00", "200.00"]
    status = call(sqlite_host, "status", syndicate_id="t", actor="a")
    assert (status["performance_fees"], status["reserved"], status["distributable"], status["nav"]) == (
        "50.00", "50.00", "0.00", "2550.00")


def test_a_syndicate_that_lost_everything_refuses_deposits_but_still_reports(sqlite_host: Host,
                                                                             fake_clock: Clock) -> None:
    call(sqlite_host, "create", syndicate_id="bust", name="B", founders=founders(("a", "admin", "100.00")),
         rules=OPEN_RULES)
    call(sqlite_host, "allocate", syndicate_id="bust", actor="a", allocation_id="all", method="equal", budget="1",
         opportunities=[{"opportunity_id": "o", "probability": 0.6, "odds": 2}], confirm=True)
    call(sqlite_host, "settle", syndicate_id="bust", actor="a", bet_id="all/o", outcome="lost")
    fake_clock.advance(days=40)
    with pytest.raises(NtConflict, match="exhausted"):
        call(sqlite_host, "deposit", syndicate_id="bust", actor="a", deposit_id="more", amount="10.00")
    history = call(sqlite_host, "profit_history", syndicate_id="bust", actor="a", period="month")["periods"]
    assert [p["nav_end"] for p in history] == ["0.00"] and history[0]["unit_return"] == "-1.000000"
    assert call(sqlite_host, "member_performance", syndicate_id="bust", actor="a")["time_weighted_return"] == "-1.000000"
    assert call(sqlite_host, "ledger_verify", syndicate_id="bust", actor="a")["ok"]
