"""Arbitrage against hand-computed examples, the equal-payout property, and the vectorised scan against
a loop of find_arbitrage over the same events."""

from __future__ import annotations

import re

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.arbitrage import (
    MarketQuotes,
    Quote,
    equal_payout_stakes,
    find_arbitrage,
    scan_arbitrage,
)


def _q(book: str, outcome: str, odds: float, line: float | None = None, market: str = "moneyline") -> Quote:
    return Quote(event="A v B", market=market, line=line, bookmaker=book, outcome=outcome, odds=odds)


def test_two_way_hand_example() -> None:
    """Book X: 2.10 / 1.80, book Y: 1.85 / 2.05. Best: 2.10 (X) and 2.05 (Y); booksum = 1/2.1 + 1/2.05 =
    0.476190 + 0.487805 = 0.963995; 100 staked as 49.398 / 50.602 pays 103.735 either way: profit 3.735."""
    m = MarketQuotes.from_quotes([_q("X", "A", 2.10), _q("X", "B", 1.80), _q("Y", "A", 1.85), _q("Y", "B", 2.05)])
    arb = find_arbitrage(m, total_stake=100)
    assert arb.best_odds == (2.10, 2.05) and arb.bookmakers == ("X", "Y")
    assert arb.booksum == pytest.approx(0.963995, abs=1e-6) and arb.margin == pytest.approx(0.036005, abs=1e-6)
    assert arb.is_arbitrage
    np.testing.assert_allclose(arb.stakes, [49.398, 50.602], atol=1e-3)
    assert arb.payout == pytest.approx(103.735, abs=1e-3)
    assert arb.profit == pytest.approx(3.735, abs=1e-3) and arb.roi == pytest.approx(0.03735, abs=1e-5)


def test_three_way_equal_payout() -> None:
    books = {"b1": (2.6, 3.4, 3.1), "b2": (2.45, 3.6, 2.9), "b3": (2.5, 3.3, 3.35)}
    m = MarketQuotes(event="E", market="1x2", line=None, outcomes=("H", "D", "A"), odds=books)
    arb = find_arbitrage(m, total_stake=250)
    assert arb.best_odds == (2.6, 3.6, 3.35) and arb.bookmakers == ("b1", "b2", "b3")
    assert arb.booksum == pytest.approx(1 / 2.6 + 1 / 3.6 + 1 / 3.35)
    pays = np.array(arb.stakes) * np.array(arb.best_odds)
    np.testing.assert_allclose(pays, arb.payout, rtol=1e-14)
    assert sum(arb.stakes) == pytest.approx(250)
    assert arb.is_arbitrage == (arb.booksum < 1)


def test_no_arbitrage_reports_the_loss() -> None:
    arb = find_arbitrage(MarketQuotes.from_quotes([_q("X", "A", 1.9), _q("X", "B", 1.9)]))
    assert not arb.is_arbitrage and arb.margin < 0 and arb.profit < 0
    assert equal_payout_stakes([1.9, 1.9], 10) == (5.0, 5.0)


def test_refuses_to_mix_lines() -> None:
    quotes = [_q("X", "over", 1.9, 2.5, "totals"), _q("Y", "under", 2.2, 3.0, "totals")]
    with pytest.raises(NtUserError, match=re.escape("quotes mix lines 2.5 and 3.0 of 'totals'")):
        MarketQuotes.from_quotes(quotes)
    with pytest.raises(NtUserError, match="quotes mix markets"):
        MarketQuotes.from_quotes([_q("X", "A", 2.0), _q("X", "A", 2.0, market="1x2")])


def test_missing_outcome_is_an_error() -> None:
    m = MarketQuotes.from_quotes([_q("X", "A", 2.1)], outcomes=["A", "B"])
    with pytest.raises(NtUserError, match="no bookmaker quotes \\['B'\\]"):
        find_arbitrage(m)


def test_scan_equals_loop() -> None:
    rng = np.random.default_rng(12)
    events, books, outcomes = 400, 8, 3
    fair = rng.dirichlet([3, 2, 2], size=events)                      # (events, outcomes)
    margin = rng.uniform(-0.02, 0.08, size=(events, books, 1))           # some books below fair: arbitrages
    odds = 1.0 / (fair[:, None, :] * (1 + margin) * rng.uniform(0.97, 1.03, size=(events, books, outcomes)))
    odds = np.maximum(odds, 1.01)
    odds[rng.random(odds.shape) < 0.2] = np.nan
    odds[5, :, 1] = np.nan                                              # nobody quotes the draw: skipped
    scan = scan_arbitrage(odds, total_stake=100, book_ids=[f"bk{i}" for i in range(books)])
    expected = []
    for e in range(events):
        table = {f"bk{b}": tuple(None if np.isnan(x) else float(x) for x in odds[e, b]) for b in range(books)}
        m = MarketQuotes(event=str(e), market="1x2", line=None, outcomes=("H", "D", "A"), odds=table)
        try:
            arb = find_arbitrage(m, total_stake=100)
        except NtUserError:
            assert e == 5 or np.isnan(odds[e]).all(axis=0).any()
            continue
        if arb.is_arbitrage:
            expected.append((e, arb))
    assert len(expected) > 10                                          # the data has arbitrages to find
    expected.sort(key=lambda x: -x[1].roi)
    assert list(scan.event_index) == [e for e, _ in expected]
    for i, (_, arb) in enumerate(expected):
        np.testing.assert_allclose(scan.best_odds[i], arb.best_odds, rtol=0)
        assert scan.best_books[i] == arb.bookmakers
        assert scan.roi[i] == pytest.approx(arb.roi, rel=1e-12)
        np.testing.assert_allclose(scan.stakes[i], arb.stakes, rtol=1e-12)
    assert scan.n_complete < scan.n_scanned == events
    assert (np.diff(scan.roi) <= 0).all()
    high = scan_arbitrage(odds, min_roi=0.02)
    assert list(high.event_index) == [e for e, a in expected if a.roi > 0.02]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: scan_arbitrage(np.full((2, 3), 2.0)), "odds must be an (events, books, outcomes) array"),
    (lambda: scan_arbitrage(np.full((2, 2, 2), 0.5)), "odds must be decimal odds > 1"),
    (lambda: scan_arbitrage(np.full((2, 2, 2), 2.0), total_stake=0), "total_stake must be a finite amount > 0"),
    (lambda: equal_payout_stakes([2.0, 1.0]), "odds must be decimal odds > 1"),
])
def test_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NtUserError, match=re.escape(message)):
        call()
