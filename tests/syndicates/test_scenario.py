"""A worked scenario through the operations, on SQLite and PostgreSQL, checked against numbers
computed by hand (each step's arithmetic is written next to it)."""

from __future__ import annotations

from typing import Any

from neural_trader.host import Host

from .conftest import OPEN_RULES, Clock, call, founders


def test_worked_scenario(host: Host, fake_clock: Clock) -> None:
    # Alice (admin) and Bob found the club with 1,000.00 each: 2,000 units at 1.00.
    s = call(host, "create", syndicate_id="club", name="Club", founders=founders(
        ("alice", "admin", "1000.00"), ("bob", "member", "1000.00")), rules=OPEN_RULES)
    assert (s["nav"], s["units"], s["unit_value"]) == ("2000.00", "2000.00000000", "1.00000000")

    def book(allocation_id: str, p: float, odds: float, budget: str) -> Any:
        return call(host, "allocate", syndicate_id="club", actor="alice", allocation_id=allocation_id, method="equal",
                    budget=budget, opportunities=[{"opportunity_id": "o", "probability": p, "odds": odds}],
                    confirm=True)

    # A bet of 0.2 x 2,000 = 400.00 at 2.0 wins 800.00: NAV 2,400.00, unit value 2,400 / 2,000 = 1.2.
    assert book("a1", 0.6, 2.0, "0.2")["total_stake"] == "400.00"
    won = call(host, "settle", syndicate_id="club", actor="alice", bet_id="a1/o", outcome="won")
    assert (won["returned"], won["pnl"], won["nav"], won["unit_value"]) == ("800.00", "400.00", "2400.00",
                                                                           "1.20000000")
    # Carol joins and pays 600.00 at 1.2: 500 units. NAV 3,000.00 over 2,500 units, still 1.2.
    call(host, "member_add", syndicate_id="club", actor="alice", member_id="carol", name="Carol")
    d = call(host, "deposit", syndicate_id="club", actor="carol", deposit_id="c1", amount="600.00")
    assert (d["units"], d["unit_value"], d["nav"]) == ("500.00000000", "1.20000000", "3000.00")
    # A bet of 0.1 x 3,000 = 300.00 loses: NAV 2,700.00, unit value 2,700 / 2,500 = 1.08.
    assert book("a2", 0.5, 2.5, "0.1")["total_stake"] == "300.00"
    lost = call(host, "settle", syndicate_id="club", actor="alice", bet_id="a2/o", outcome="lost")
    assert (lost["pnl"], lost["nav"], lost["unit_value"]) == ("-300.00", "2700.00", "1.08000000")
    # Realised profit 400 - 300 = 100.00, split equally: 33.333... each; the odd cent goes to the
    # first by id (all remainders tie): 33.34, 33.33, 33.33.
    preview = call(host, "distribute", syndicate_id="club", actor="alice", distribution_id="d1", model="equal")
    assert preview["preview"] and preview["gross"] == "100.00"
    paid = call(host, "distribute", syndicate_id="club", actor="alice", distribution_id="d1", model="equal",
                preview=False, confirm=True)
    assert {s["member_id"]: s["amount"] for s in paid["shares"]} == {"alice": "33.34", "bob": "33.33",
                                                                      "carol": "33.33"}
    assert paid["shares_total"] == paid["net"] == "100.00"
    # NAV 2,600.00 over 2,500 units: 1.04. Bob takes 520.00 out: 520 / 1.04 = 500 units exactly.
    call(host, "withdraw_request", syndicate_id="club", actor="bob", request_id="w1", amount="520.00")
    call(host, "withdraw_approve", syndicate_id="club", actor="alice", request_id="w1", approve=True)
    done = call(host, "withdraw_process", syndicate_id="club", actor="alice", request_id="w1", confirm=True)
    [w] = done["processed"]
    assert (w["units"], w["gross"], w["penalty"], w["paid"]) == ("500.00000000", "520.00", "0.00", "520.00")

    status = call(host, "status", syndicate_id="club", actor="carol")
    # 2,600 paid in - 520 out + 100 profit - 100 distributed = 2,080.00 over 2,000 units.
    assert (status["nav"], status["units"], status["unit_value"]) == ("2080.00", "2000.00000000", "1.04000000")
    assert (status["realised_pnl"], status["distributed"], status["distributable"]) == ("100.00", "100.00", "0.00")
    assert status["balanced"]

    def perf(member: str) -> Any:
        return call(host, "member_performance", syndicate_id="club", actor="alice", member_id=member)

    alice, bob, carol = perf("alice"), perf("bob"), perf("carol")
    # Alice: 1,000 units at 1.04 = 1,040.00 plus 33.34 received, for 1,000.00 paid in.
    assert (alice["value"], alice["pnl"], alice["roi"]) == ("1040.00", "73.34", "0.073340")
    # TWR, valued at her flows: 1,000 -> 1,080 (unit value 1.08 before the distribution), then
    # (1,040 + 33.34) / 1,080, then flat: 1.08 x 1,073.34 / 1,080 - 1 = 0.07334.
    assert alice["time_weighted_return"] == "0.073340"
    # Bob: 1,080/1,000 x 1,073.33/1,080 x (520 + 520)/1,040 x 1 - 1 = 0.07333.
    assert (bob["value"], bob["withdrawn"], bob["pnl"], bob["time_weighted_return"]) == (
        "520.00", "520.00", "73.33", "0.073330")
    # Carol paid 600.00 at 1.2: 540/600 x (520 + 33.33)/540 - 1 = 553.33/600 - 1 = -0.0777833...
    assert (carol["value"], carol["pnl"], carol["time_weighted_return"]) == ("520.00", "-46.67", "-0.077783")
    # Bob's realised gains: the 33.33 distribution and 520.00 - 500.00 (the cost of half his units) = 53.33;
    # at the illustrative US rate of 24 %: 12.7992 -> 12.80.
    tax = call(host, "tax_estimate", syndicate_id="club", actor="bob", jurisdiction="US", year=2026)
    assert (tax["realised_gains"], tax["rate"], tax["estimated_tax"], tax["is_estimate"]) == (
        "53.33", "0.24", "12.80", True)
    assert "not tax advice" in tax["notice"]

    verified = call(host, "ledger_verify", syndicate_id="club", actor="bob")
    assert verified["ok"] and verified["balanced"] and verified["audit_records_checked"] == 11  # one per change
    assert verified["records"] == status["ledger_seq"]
