"""Time-weighted return against the value computed by hand, and the tax table's labelling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from neural_trader_plugins.syndicates.books import Books, Event
from neural_trader_plugins.syndicates.performance import (
    TAX_RATES,
    performance,
    tax_rate,
    time_weighted_return,
)

T = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def _event(seq: int, kind: str, **data: object) -> Event:
    return Event(seq=seq, at=T + dt.timedelta(days=seq), kind=kind, actor="a", key=None, data=data)


def test_twr_matches_the_hand_computed_value() -> None:
    # 1,000 in at 1.00; a 100.00 win (unit value 1.10); 1,100 more in (1,000 units); a 220.00 loss
    # (2,200 -> 1,980, unit value 0.99). TWR = 1,100/1,000 x 1,980/2,200 - 1 = 1.1 x 0.9 - 1 = -1 %,
    # while the money-weighted P&L is -120.00 on 2,100.00.
    books = Books.replay("s", [
        _event(1, "created", name="s", currency="USD", rules={}),
        _event(2, "member_added", member_id="a", name="A", role="admin"),
        _event(3, "deposit", member_id="a", amount="1000", units="1000", unit_value="1"),
        _event(4, "stake", bet_id="b1", allocation_id="x", opportunity_id="o", sport="s", market="m",
               probability=0.5, odds="2", amount="100"),
        _event(5, "settlement", bet_id="b1", outcome="won", returned="200", commission="0"),
        _event(6, "deposit", member_id="a", amount="1100", units="1000", unit_value="1.1"),
        _event(7, "stake", bet_id="b2", allocation_id="x", opportunity_id="o", sport="s", market="m",
               probability=0.5, odds="2", amount="220"),
        _event(8, "settlement", bet_id="b2", outcome="lost", returned="0", commission="0"),
    ])
    member = books.members["a"]
    assert books.unit_value == D("0.99")
    assert time_weighted_return(member, books.value_of(member)) == D("-0.01")
    p = performance(books, member)
    assert (p.pnl, p.time_weighted_return) == (D("-120.00"), D("-0.010000"))


def test_every_rate_states_its_basis() -> None:
    for code, rate in TAX_RATES.items():
        assert 0 <= rate.rate < 1 and len(rate.basis) > 40, code
    assert tax_rate("us", None).rate == D("0.24")
    assert tax_rate("US", D("0.3")).basis.startswith("a rate you gave")
