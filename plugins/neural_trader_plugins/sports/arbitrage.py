"""Arbitrage across bookmakers ("sure bets").

A market is one event, one market type and one line (``totals`` at 2.5 and at 3.0 are two markets:
their outcomes do not cover each other, so their odds must never be mixed). Taking the best decimal
odds ``o_i`` of each outcome across bookmakers:

* ``booksum = sum 1/o_i``; the **arbitrage margin** is ``1 - booksum`` (> 0 is an arbitrage);
* **equal-payout stakes** for a total stake ``T``: ``s_i = T (1/o_i) / booksum``, so every outcome pays
  ``T / booksum``; **profit** ``T / booksum - T`` and **ROI** ``1 / booksum - 1`` (per unit staked).

``scan_arbitrage`` does the same for many markets at once on an ``(events, books, outcomes)`` array of
decimal odds with NaN for a missing quote; a market with an outcome that no bookmaker quotes is not
an arbitrage (it cannot be covered) and is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.margins import market_odds

__all__ = ["Arbitrage", "ArbitrageScan", "MarketQuotes", "Quote", "equal_payout_stakes", "find_arbitrage",
           "scan_arbitrage"]


@attrs.frozen(kw_only=True)
class Quote:
    """One bookmaker's decimal odds for one outcome of one market (``line`` is the handicap or total,
    None for markets without one, such as 1X2)."""

    event: str
    market: str
    line: float | None
    bookmaker: str
    outcome: str
    odds: float


def _line_key(line: float | None) -> float | None:
    return None if line is None else float(line)


@attrs.frozen(kw_only=True)
class MarketQuotes:
    """Every bookmaker's odds for one market: ``odds[bookmaker]`` lists the odds of ``outcomes`` in
    order, None where that bookmaker has no quote."""

    event: str
    market: str
    line: float | None
    outcomes: tuple[str, ...]
    odds: Mapping[str, tuple[float | None, ...]]

    @classmethod
    def from_quotes(cls, quotes: Sequence[Quote], *, outcomes: Sequence[str] | None = None) -> MarketQuotes:
        """Group quotes of ONE market; quotes from different events, market types or lines are refused.
        ``outcomes`` (default: the outcomes quoted, in first-seen order) must list every outcome."""
        if not quotes:
            raise NtUserError("quotes must hold at least one quote of the market")
        first = quotes[0]
        for q in quotes:
            if (q.event, q.market) != (first.event, first.market):
                raise NtUserError(f"quotes mix markets: {first.event!r}/{first.market!r} and {q.event!r}/{q.market!r}; "
                                  "pass the quotes of one event and one market type")
            if _line_key(q.line) != _line_key(first.line):
                raise NtUserError(f"quotes mix lines {first.line!r} and {q.line!r} of {first.market!r}; each line is "
                                  "its own market: pass one line at a time")
        names = tuple(outcomes) if outcomes is not None else tuple(dict.fromkeys(q.outcome for q in quotes))
        index = {o: i for i, o in enumerate(names)}
        table: dict[str, list[float | None]] = {}
        for q in quotes:
            if q.outcome not in index:
                raise NtUserError(f"quotes has outcome {q.outcome!r} that is not in outcomes {list(names)!r}")
            row = table.setdefault(q.bookmaker, [None] * len(names))
            if row[index[q.outcome]] is not None:
                raise NtUserError(f"quotes has two odds from {q.bookmaker!r} for {q.outcome!r}; keep one")
            row[index[q.outcome]] = float(q.odds)
        return cls(event=first.event, market=first.market, line=first.line, outcomes=names,
                   odds={b: tuple(r) for b, r in table.items()})


@attrs.frozen(kw_only=True)
class Arbitrage:
    """One market's best odds per outcome (and a bookmaker offering them), ``booksum`` of the best
    odds, ``margin = 1 - booksum``, ``is_arbitrage = margin > 0``, the equal-payout ``stakes`` of
    ``total_stake``, the ``payout`` every outcome returns, ``profit = payout - total_stake`` and
    ``roi = profit / total_stake``."""

    event: str
    market: str
    line: float | None
    outcomes: tuple[str, ...]
    best_odds: tuple[float, ...]
    bookmakers: tuple[str, ...]
    booksum: float
    margin: float
    is_arbitrage: bool
    total_stake: float
    stakes: tuple[float, ...]
    payout: float
    profit: float
    roi: float


def _stake(total_stake: Any) -> float:
    if isinstance(total_stake, bool) or not isinstance(total_stake, int | float | np.integer | np.floating) \
            or not math.isfinite(float(total_stake)) or not float(total_stake) > 0:
        raise NtUserError(f"total_stake must be a finite amount > 0, got {total_stake!r}")
    return float(total_stake)


def equal_payout_stakes(odds: Sequence[float], total_stake: float = 100.0) -> tuple[float, ...]:
    """Stakes of ``total_stake`` on each outcome that pay the same whichever wins:
    ``s_i = T (1/o_i) / sum 1/o``."""
    o = market_odds(odds)
    t = _stake(total_stake)
    inv = 1.0 / o
    return tuple(float(x) for x in t * inv / inv.sum())


def find_arbitrage(market: MarketQuotes, *, total_stake: float = 100.0) -> Arbitrage:
    """The best odds of each outcome across the market's bookmakers and the equal-payout arbitrage."""
    t = _stake(total_stake)
    n = len(market.outcomes)
    if n < 2:
        raise NtUserError("outcomes must list every outcome of the market (at least 2)")
    best = [-math.inf] * n
    who = [""] * n
    for book, row in market.odds.items():
        if len(row) != n:
            raise NtUserError(f"odds[{book!r}] has {len(row)} entries for {n} outcomes")
        for i, x in enumerate(row):
            if x is None:
                continue
            if not (math.isfinite(x) and x > 1.0):
                raise NtUserError(f"odds[{book!r}] for {market.outcomes[i]!r} must be decimal odds > 1, got {x!r}")
            if x > best[i]:
                best[i], who[i] = x, book
    missing = [market.outcomes[i] for i in range(n) if best[i] == -math.inf]
    if missing:
        raise NtUserError(f"odds: no bookmaker quotes {missing!r}; every outcome needs a price to cover the market")
    booksum = math.fsum(1.0 / x for x in best)
    stakes = equal_payout_stakes(best, t)
    payout = t / booksum
    return Arbitrage(event=market.event, market=market.market, line=market.line, outcomes=market.outcomes,
                     best_odds=tuple(best), bookmakers=tuple(who), booksum=booksum, margin=1.0 - booksum,
                     is_arbitrage=booksum < 1.0, total_stake=t, stakes=stakes, payout=payout, profit=payout - t,
                     roi=payout / t - 1.0)


@attrs.frozen(kw_only=True, eq=False)
class ArbitrageScan:
    """The arbitrage markets of a scan, best ROI first (arrays with one row per arbitrage found).

    ``events`` are indices into the scanned array's first axis (or the ``event_ids`` given);
    ``best_odds`` and ``best_books`` (book indices, or ``book_ids``) are ``(found, outcomes)``;
    ``stakes`` are the equal-payout stakes of ``total_stake``; ``margin = 1 - booksum``,
    ``roi = 1/booksum - 1``, ``profit = roi * total_stake``. ``n_scanned`` counts every market,
    ``n_complete`` those with a quote for every outcome.
    """

    events: tuple[Any, ...]
    event_index: np.ndarray
    best_odds: np.ndarray
    best_books: tuple[tuple[Any, ...], ...]
    booksum: np.ndarray
    margin: np.ndarray
    roi: np.ndarray
    profit: np.ndarray
    stakes: np.ndarray
    total_stake: float
    n_scanned: int
    n_complete: int


def scan_arbitrage(odds: Any, *, total_stake: float = 100.0, min_roi: float = 0.0,
                   event_ids: Sequence[Any] | None = None, book_ids: Sequence[Any] | None = None) -> ArbitrageScan:
    """Every arbitrage in an ``(events, books, outcomes)`` array of decimal odds (NaN = no quote).

    Each event row must be ONE market (one market type, one line). Markets with ``roi > min_roi``
    are returned, sorted by ROI, largest first (ties by event order).
    """
    t = _stake(total_stake)
    if isinstance(min_roi, bool) or not isinstance(min_roi, int | float) or not math.isfinite(min_roi):
        raise NtUserError(f"min_roi must be a finite number (0 = every arbitrage), got {min_roi!r}")
    try:
        a = np.asarray(odds, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError("odds must be an (events, books, outcomes) array of decimal odds, NaN where missing") from None
    if a.ndim != 3 or a.shape[2] < 2 or a.shape[1] < 1:
        raise NtUserError(f"odds must be an (events, books, outcomes) array with at least 2 outcomes, got shape {a.shape}")
    quoted = ~np.isnan(a)
    if not (np.isfinite(a[quoted]) & (a[quoted] > 1.0)).all():
        raise NtUserError("odds must be decimal odds > 1 (stake included) or NaN for a missing quote")
    n_events, n_books, _ = a.shape
    if event_ids is not None and len(event_ids) != n_events:
        raise NtUserError(f"event_ids has {len(event_ids)} entries for {n_events} events")
    if book_ids is not None and len(book_ids) != n_books:
        raise NtUserError(f"book_ids has {len(book_ids)} entries for {n_books} books")
    filled = np.where(quoted, a, -np.inf)
    book = filled.argmax(axis=1)                                             # (events, outcomes)
    best = np.take_along_axis(filled, book[:, None, :], axis=1)[:, 0, :]
    complete = np.isfinite(best).all(axis=1)
    with np.errstate(divide="ignore"):
        booksum = np.where(complete, (1.0 / np.where(complete[:, None], best, 1.0)).sum(axis=1), np.inf)
    roi = 1.0 / booksum - 1.0
    found = np.flatnonzero(complete & (booksum < 1.0) & (roi > min_roi))
    order = found[np.argsort(-roi[found], kind="stable")]
    inv = 1.0 / best[order]
    stakes = t * inv / booksum[order][:, None]
    books = book[order]
    ids = tuple(event_ids[i] for i in order) if event_ids is not None else tuple(int(i) for i in order)
    names = tuple(tuple(book_ids[j] for j in row) if book_ids is not None else tuple(int(j) for j in row)
                  for row in books)
    return ArbitrageScan(events=ids, event_index=order, best_odds=best[order], best_books=names,
                         booksum=booksum[order], margin=1.0 - booksum[order], roi=roi[order], profit=roi[order] * t,
                         stakes=stakes, total_stake=t, n_scanned=n_events, n_complete=int(complete.sum()))
