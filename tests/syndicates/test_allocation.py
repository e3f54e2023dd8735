"""Allocation: Kelly against its closed form, the other methods' proportions, every bankroll rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from neural_trader_plugins.syndicates.allocation import Method, Opportunity, allocate
from neural_trader_plugins.syndicates.books import Books, Event
from neural_trader_plugins.syndicates.rules import Rules

T = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def _books(cash: str = "10000.00", **rules: str) -> Books:
    rules_data = {**{f: str(getattr(Rules(), f)) for f in ("max_single_bet", "max_daily_exposure", "max_per_sport",
                                                           "max_per_market", "min_reserve", "daily_stop_loss",
                                                           "weekly_stop_loss", "kelly_fraction")}, **rules}
    events = [Event(seq=1, at=T, kind="created", actor="a", key=None,
                    data={"name": "t", "currency": "USD", "rules": rules_data}),
              Event(seq=2, at=T, kind="member_added", actor="a", key=None,
                    data={"member_id": "a", "name": "A", "role": "admin"}),
              Event(seq=3, at=T, kind="deposit", actor="a", key=None,
                    data={"member_id": "a", "amount": cash, "units": cash, "unit_value": "1"})]
    return Books.replay("t", events)


def _opp(i: str, p: float, o: str, sport: str = "football", market: str = "match_odds") -> Opportunity:
    return Opportunity(opportunity_id=i, probability=p, odds=float(o), sport=sport, market=market)


def test_kelly_stake_is_the_fraction_of_the_closed_form() -> None:
    # f* = (b p - q) / b with b = odds - 1: p = 0.55, odds 2.10 -> (1.1 * 0.55 - 0.45) / 1.1 = 0.140909...
    books = _books(max_single_bet="1", max_daily_exposure="1", max_per_sport="1", max_per_market="1", min_reserve="0")
    [line], _ = allocate(books, [_opp("x", 0.55, "2.10")], Method.KELLY, T, kelly_fraction=D("0.5"))
    f_star = (1.1 * 0.55 - 0.45) / 1.1
    assert line.full_kelly == pytest.approx(f_star, rel=1e-12)
    assert line.stake == D("704.54")          # 0.5 x 0.140909... x 10,000 = 704.545..., rounded down
    assert line.limited_by == []


def test_no_edge_no_stake() -> None:
    [line], _ = allocate(_books(), [_opp("x", 0.40, "2.40")], Method.KELLY, T)   # edge 0.96 - 1 < 0
    assert line.stake == 0 and line.limited_by == ["no_edge"] and line.full_kelly < 0


def test_budget_methods_split_in_their_proportions() -> None:
    books = _books(max_single_bet="1", max_daily_exposure="1", max_per_sport="1", max_per_market="1", min_reserve="0")
    opps = [_opp("a", 0.6, "2.0"), _opp("b", 0.5, "2.5", sport="tennis"), _opp("c", 0.3, "3.0", sport="golf")]
    equal, _ = allocate(books, opps, Method.EQUAL, T, budget=D("0.3"))
    assert [li.stake for li in equal] == [D("1500.00"), D("1500.00"), D("0.00")]     # c has no edge (0.9 - 1)
    prop, _ = allocate(books, opps, Method.PROPORTIONAL, T, budget=D("0.3"))
    # edges 0.2 and 0.25: 3000 x 0.2/0.45 and 3000 x 0.25/0.45
    assert [li.stake for li in prop][:2] == [D("1333.33"), D("1666.66")]
    risk, _ = allocate(books, opps, Method.RISK_ADJUSTED, T, budget=D("0.3"))
    # edge / (p q o^2): 0.2 / 0.96 and 0.25 / 1.5625
    ra, rb = 0.2 / (0.6 * 0.4 * 4.0), 0.25 / (0.5 * 0.5 * 6.25)
    assert float(risk[0].stake) == pytest.approx(3000 * ra / (ra + rb), abs=0.01)


def test_every_rule_caps_in_turn() -> None:
    books = _books(max_single_bet="0.05", max_per_sport="0.08", max_per_market="0.06", max_daily_exposure="0.12",
                   min_reserve="0.3", kelly_fraction="1")
    opps = [_opp("a", 0.7, "2.0"), _opp("b", 0.7, "2.0"), _opp("c", 0.7, "2.0", market="totals"),
            _opp("d", 0.7, "2.0", sport="tennis")]
    lines, _ = allocate(books, opps, Method.KELLY, T)
    assert [li.stake for li in lines] == [D("500.00"), D("100.00"), D("200.00"), D("400.00")]
    assert lines[0].limited_by == ["max_single_bet"]
    # 300 left for football, then 100 for football/match_odds: each cut is named
    assert lines[1].limited_by == ["max_single_bet", "max_per_sport", "max_per_market"]
    assert lines[2].limited_by == ["max_single_bet", "max_per_sport"]       # 800 for football
    assert lines[3].limited_by == ["max_single_bet", "max_daily_exposure"]  # 1200 a day


def test_the_reserve_holds_back_cash() -> None:
    books = _books(max_single_bet="1", max_daily_exposure="1", max_per_sport="1", max_per_market="1", min_reserve="0.9",
                   kelly_fraction="1")
    [line], _ = allocate(books, [_opp("a", 0.7, "2.0")], Method.KELLY, T)
    assert line.stake == D("1000.00") and line.limited_by == ["min_reserve"]
