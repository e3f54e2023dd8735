"""Properties over random sequences of events, through the operations: the books balance after every
one, units are priced without dilution, distributions add up exactly, and a replay of the ledger gives
back the same books."""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neural_trader.errors import NtError
from neural_trader.testing import HostFactory
from neural_trader_plugins.syndicates.books import Books, Event
from neural_trader_plugins.syndicates.store import SyndicateStore

from .conftest import OPEN_RULES, call, founders

MEMBERS = ("ann", "ben", "cat")
_counter = itertools.count()
_HOSTS: dict[int, Any] = {}

amounts = st.integers(min_value=1, max_value=500_000).map(lambda c: f"{D(c) / 100:.2f}")
actions = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(MEMBERS), amounts),
    st.tuples(st.just("bet"), st.floats(min_value=0.05, max_value=0.95), st.sampled_from([1.5, 2.0, 3.7, 11.0]),
              st.sampled_from(["won", "lost", "void"])),
    st.tuples(st.just("withdraw"), st.sampled_from(MEMBERS), st.one_of(st.none(), amounts), st.booleans()),
    st.tuples(st.just("distribute"), st.sampled_from(["proportional", "equal", "performance", "tiered"]),
              st.sampled_from(["0", "0.1"]), st.sampled_from(["0", "0.05"])),
)


def _uv(status: dict[str, Any]) -> D:
    return D(status["nav"]) / D(status["units"]) if D(status["units"]) > 0 else D(1)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(actions, min_size=1, max_size=10))
def test_books_balance_and_nobody_is_diluted(nt_host_factory: HostFactory, steps: list[tuple[Any, ...]]) -> None:
    # One host for every example (a host takes a while to build); each example has its own syndicate.
    host = _HOSTS.get(id(nt_host_factory)) or _HOSTS.setdefault(id(nt_host_factory), nt_host_factory())
    sid = f"p{next(_counter)}"
    call(host, "create", syndicate_id=sid, name="P", rules={**OPEN_RULES, "emergency_penalty": "0.05"},
         founders=founders(("ann", "admin", "1000.00"), ("ben", "manager", None), ("cat", "member", None)))
    for i, step in enumerate(steps):
        before = call(host, "status", syndicate_id=sid, actor="ann")
        kind = step[0]
        try:
            if kind == "deposit":
                call(host, "deposit", syndicate_id=sid, actor=step[1], deposit_id=f"d{i}", amount=step[2])
            elif kind == "bet":
                placed = call(host, "allocate", syndicate_id=sid, actor="ann", allocation_id=f"a{i}", confirm=True,
                              method="equal", budget="0.3",
                              opportunities=[{"opportunity_id": "o", "probability": step[1], "odds": step[2]}])
                for bet in placed["bets"]:
                    call(host, "settle", syndicate_id=sid, actor="ben", bet_id=bet, outcome=step[3],
                         commission="0.05")
            elif kind == "withdraw":
                call(host, "withdraw_request", syndicate_id=sid, actor=step[1], request_id=f"w{i}", amount=step[2],
                     emergency=step[3])
                call(host, "withdraw_approve", syndicate_id=sid, actor="ann", request_id=f"w{i}", approve=True)
                call(host, "withdraw_process", syndicate_id=sid, actor="ann", request_id=f"w{i}", confirm=True)
            else:
                split = call(host, "distribute", syndicate_id=sid, actor="ann", distribution_id=f"x{i}",
                             model=step[1], performance_fee=step[2], reserve=step[3], fee_recipient="ben",
                             preview=before["distributable"] == "0.00", **(
                                 {"confirm": True} if before["distributable"] != "0.00" else {}))
                assert D(split["shares_total"]) == D(split["net"])
                assert D(split["net"]) + D(split["performance_fee"]) + D(split["reserve"]) == D(split["gross"])
        except NtError as exc:   # refused (nothing to withdraw, no unit holders ...): nothing may have changed
            assert exc.http_status in (404, 409, 422), exc
        after = call(host, "status", syndicate_id=sid, actor="ann")
        assert after["balanced"], (step, after)
        holders = call(host, "members", syndicate_id=sid, actor="ann")["members"]
        assert sum(D(m["units"]) for m in holders) == D(after["units"])
        if kind in ("deposit", "withdraw") and D(before["units"]) > 0 and D(after["units"]) > 0:
            # units bought round down and units redeemed round up: the others' unit value never falls;
            # an emergency penalty stays in the pool and lifts it.
            assert _uv(after) >= _uv(before)
            if kind == "deposit":
                assert _uv(after) - _uv(before) <= _uv(before) * D("1E-6")
    store = SyndicateStore(host.services.storage, host.services.audit)
    live = store.books(sid)
    _, records = store.records(sid)
    replayed = Books.replay(sid, [Event.of(r) for r in records])
    assert (replayed.nav, replayed.units_total, replayed.last_hash) == (live.nav, live.units_total, live.last_hash)
    assert call(host, "ledger_verify", syndicate_id=sid, actor="cat")["ok"]
