"""``sports.arbitrage``: sure bets across bookmakers, over a source's events or quotes given inline.

A market is one event, one market key and one line (:func:`.events.market_lines`): lines are
never mixed. Markets are stacked into ``(markets, books, outcomes)`` arrays (NaN where a book has
no quote) and scanned by the C kernel :func:`neural_trader.native.sports.arbitrage_scan`; each
arbitrage then gets equal-payout stakes in money (Decimal, rounded to cents), the guaranteed
payout (the smallest of the rounded legs), profit and ROI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.events import Event, market_lines
from neural_trader_plugins.sports.market_ops import _BOOK, _NAME, _SPORT, MarketKey, Region, Stage
from neural_trader_plugins.sports.sources import OddsQuery, SourceContext, odds_source

_CENT = Decimal("0.01")
#: (event, market, line) -> bookmaker -> outcome -> decimal odds, outcomes in first-seen order.
Groups = dict[tuple[str, str, float | None], dict[str, dict[str, float]]]


@attrs.frozen(kw_only=True)
class QuoteIn:
    """One bookmaker's decimal odds for one outcome of one market line."""

    event: str = param(min_len=1, max_len=120, description="the event (any id you like, the same for its quotes)")
    market: MarketKey = param(default=MarketKey.H2H, description="h2h, spreads or totals")
    line: float | None = param(default=None, ge=-1000, le=1000, description=(
        "the total (totals) or the home side's handicap (spreads); none for h2h"))
    bookmaker: str = param(min_len=1, max_len=80, description="who offers the price")
    outcome: str = param(min_len=1, max_len=120, description="e.g. home, draw, away or Over/Under")
    odds: float = param(gt=1, le=1e6, description="decimal odds (stake included), > 1")


@attrs.frozen(kw_only=True)
class ArbitrageParams:
    """Parameters of ``sports.arbitrage``."""

    sport: str | None = param(default=None, pattern=_SPORT, description=(
        "scan this sport's events from source (e.g. soccer_epl); leave out when quotes are given"))
    source: str = param(default="football_data", pattern=_NAME, description="the odds source (sports.list)")
    markets: list[MarketKey] = param(factory=lambda: [MarketKey.H2H], min_len=1, max_len=3,
                                     description="market keys to scan")
    regions: list[Region] = param(factory=lambda: [Region.UK], min_len=1, max_len=6,
                                  description="bookmaker regions (The Odds API)")
    bookmakers: list[str] | None = param(default=None, max_len=40, item_pattern=_BOOK,
                                         description="only these bookmakers")
    stage: Stage | None = param(default=None, description="live, opening or closing; default the source's first")
    start: dt.datetime | None = param(default=None, description="earliest kick-off (UTC)")
    end: dt.datetime | None = param(default=None, description="latest kick-off (UTC)")
    limit: int = param(default=500, ge=1, le=2000, description="events from the source at most")
    quotes: list[QuoteIn] | None = param(default=None, max_len=5_000, description=(
        "quotes to scan instead of a source: every outcome of each market, one entry per bookmaker and outcome"))
    total_stake: Decimal | None = param(default=None, gt=0, le=1e9, unit="money", description=(
        "the money split across the outcomes of each arbitrage; default 100"))
    only_arbitrage: bool = param(default=True, description=(
        "true: only sure bets (booksum of the best odds < 1); false: the best markets whatever their ROI"))
    top: int = param(default=20, ge=1, le=500, description="markets shown at most, best ROI first")


@attrs.frozen(kw_only=True)
class LegView:
    outcome: str
    bookmaker: str = param(description="the book with the best odds for this outcome")
    odds: float
    stake: Decimal = param(unit="money", description="equal-payout stake, rounded to cents")
    payout: Decimal = param(unit="money", description="what this leg returns if it wins")


@attrs.frozen(kw_only=True)
class ArbitrageView:
    event: str
    market: MarketKey
    line: float | None
    legs: list[LegView]
    booksum: float = param(description="sum of 1 / best odds: below 1 is an arbitrage")
    margin: float = param(unit="fraction", description="1 - booksum")
    is_arbitrage: bool
    total_stake: Decimal = param(unit="money", description="sum of the rounded stakes")
    payout: Decimal = param(unit="money", description="guaranteed return: the smallest leg's payout")
    profit: Decimal = param(unit="money", description="payout - total_stake")
    roi: float = param(unit="fraction", description="profit / total_stake")
    caveat: str = param(description="when the line can land exactly (a push) or is an Asian quarter line")


@attrs.frozen(kw_only=True)
class ArbitrageResult:
    """Sure bets (or the closest markets), best ROI first."""

    source: str | None
    markets_scanned: int = param(description="markets (event x market x line) looked at")
    markets_complete: int = param(description="those with a price for every outcome")
    arbitrages: int = param(description="markets whose best odds sum to a booksum below 1")
    opportunities: list[ArbitrageView]
    kernel: str = param(description="compiled (C) or numpy (the twin ran)")
    note: str


def groups_from_events(events: Iterable[Event], markets: Iterable[str]) -> Groups:
    """Every market line of every event, by bookmaker (aggregates left out)."""
    wanted = set(markets)
    groups: Groups = {}
    for event in events:
        for book in event.bookmakers:
            if book.aggregate:
                continue
            for market in book.markets:
                if market.key not in wanted:
                    continue
                for line, prices in market_lines(market, event.home_team).items():
                    row = groups.setdefault((event.id, market.key, line), {}).setdefault(book.key, {})
                    for p in prices:
                        row[p.name] = p.price
    return groups


def groups_from_quotes(quotes: list[QuoteIn]) -> Groups:
    """Inline quotes grouped by market line; refuses lines on h2h, missing lines, repeats and a line
    with a single outcome (its other outcomes quoted at another line: lines are never mixed)."""
    groups: Groups = {}
    first: dict[tuple[str, str, float | None], int] = {}
    for i, q in enumerate(quotes):
        if q.market is MarketKey.H2H and q.line is not None:
            raise NtUserError(f"quotes[{i}].line: h2h has no line; leave it out")
        if q.market is not MarketKey.H2H and q.line is None:
            raise NtUserError(f"quotes[{i}].line is required for {q.market.value}: each line is its own market")
        key = (q.event, q.market.value, None if q.line is None else q.line + 0.0)
        first.setdefault(key, i)
        row = groups.setdefault(key, {}).setdefault(q.bookmaker, {})
        if q.outcome in row:
            raise NtUserError(f"quotes[{i}]: a second price from {q.bookmaker!r} for {q.outcome!r} of {q.event!r} "
                              f"{q.market.value} {q.line if q.line is not None else ''}; keep one")
        row[q.outcome] = q.odds
    for key, books in groups.items():
        names = {o for row in books.values() for o in row}
        if len(names) < 2:
            event, market, line = key
            raise NtUserError(f"quotes[{first[key]}]: {market} of {event!r} at line {line} has only the outcome "
                              f"{next(iter(names))!r}; a market needs every outcome at the same line (quotes mix "
                              "lines, or an outcome is missing)")
    return groups


def line_caveat(market: str, line: float | None) -> str:
    """Half-point lines settle win or lose; others do not, and the sure profit shrinks."""
    if line is None or market == "h2h" or (line * 2) % 2 == 1:
        return ""
    if line % 1 == 0:
        return ("whole-number line: if the result lands on it both legs are refunded (no loss, no profit); "
                "the profit shown needs the line not to land")
    return ("quarter line (an Asian handicap split over two lines): if the result lands next to it one leg "
            "half-wins or half-loses, so the profit shown can be halved (never a loss)")


def _stakes(best: np.ndarray, booksum: float, total: Decimal) -> tuple[list[Decimal], list[Decimal]]:
    stakes = [(total * Decimal(repr(1.0 / float(o) / booksum))).quantize(_CENT, ROUND_HALF_EVEN) for o in best]
    payouts = [(s * Decimal(repr(float(o)))).quantize(_CENT, ROUND_HALF_EVEN) for s, o in zip(stakes, best, strict=True)]
    return stakes, payouts


def scan_groups(groups: Groups, *, total_stake: Decimal, only_arbitrage: bool, top: int) -> tuple[list[ArbitrageView], int, int]:
    """(the best markets, how many were complete, how many are arbitrages), stacked by outcome count."""
    from neural_trader.native import sports as kernel

    by_size: dict[int, list[tuple[str, str, float | None]]] = {}
    outcome_names: dict[tuple[str, str, float | None], tuple[str, ...]] = {}
    for key, books in groups.items():
        names = tuple(dict.fromkeys(o for row in books.values() for o in row))
        outcome_names[key] = names
        if len(names) >= 2:
            by_size.setdefault(len(names), []).append(key)
    found: list[tuple[float, int, tuple[Any, ...]]] = []   # (-roi, scan order, what the view needs)
    complete = arbs = 0
    order = 0
    for n, keys in by_size.items():
        book_names = sorted({b for k in keys for b in groups[k]})
        index = {b: j for j, b in enumerate(book_names)}
        odds = np.full((len(keys), len(book_names), n), np.nan)
        for e, key in enumerate(keys):
            for book, row in groups[key].items():
                for k, name in enumerate(outcome_names[key]):
                    if name in row:
                        odds[e, index[book], k] = row[name]
        scan = kernel.arbitrage_scan(odds)
        ok = np.isfinite(scan.booksum)
        complete += int(ok.sum())
        arbs += int((scan.booksum[ok] < 1.0).sum())
        for found_at in (int(r) for r in np.flatnonzero(ok & (scan.booksum < 1.0) if only_arbitrage else ok)):
            roi = 1.0 / float(scan.booksum[found_at]) - 1.0
            found.append((-roi, order + found_at, (keys[found_at], scan.best[found_at], scan.best_book[found_at],
                                                     float(scan.booksum[found_at]), book_names)))
        order += len(keys)
    found.sort(key=lambda f: (f[0], f[1]))
    views = []
    for _, _, (key, best, who, booksum, book_names) in found[:top]:
        stakes, payouts = _stakes(best, booksum, total_stake)
        staked, paid = sum(stakes, Decimal(0)), min(payouts)
        event, market, line = key
        views.append(ArbitrageView(
            event=event, market=MarketKey(market), line=line, booksum=booksum, margin=1.0 - booksum,
            is_arbitrage=booksum < 1.0, total_stake=staked, payout=paid, profit=paid - staked,
            roi=float((paid - staked) / staked) if staked else 0.0, caveat=line_caveat(market, line),
            legs=[LegView(outcome=name, bookmaker=book_names[int(j)], odds=float(o), stake=s, payout=p)
                  for name, j, o, s, p in zip(outcome_names[key], who, best, stakes, payouts, strict=True)]))
    return views, complete, arbs


async def sports_arbitrage(params: ArbitrageParams, ctx: Context) -> ArbitrageResult:
    from neural_trader.native import sports as kernel

    if params.quotes is not None and params.sport is not None:
        raise NtUserError("sport and quotes are both given: scan a source's sport, or the quotes, not both")
    if params.quotes is not None:
        groups, source, note = groups_from_quotes(params.quotes), None, ""
    elif params.sport is not None:
        if params.start is not None and params.end is not None and params.start > params.end:
            raise NtUserError(f"start ({params.start.isoformat()}) is after end ({params.end.isoformat()})")
        src = odds_source(ctx.host, params.source)
        query = OddsQuery(sport=params.sport, markets=tuple(m.value for m in params.markets),
                          regions=tuple(r.value for r in params.regions),
                          bookmakers=tuple(params.bookmakers) if params.bookmakers else None,
                          stage=params.stage.value if params.stage is not None else None, start=params.start,
                          end=params.end, limit=params.limit)
        page = await src.odds(SourceContext(ctx.host), query)
        from neural_trader_plugins.sports.market_ops import record

        record(ctx, page, network=src.network)
        groups, source, note = groups_from_events(page.events, query.markets), page.source, page.note
    else:
        raise NtUserError("sport is missing: name a sport to scan (e.g. soccer_epl), or give quotes")
    views, complete, arbs = scan_groups(groups, total_stake=params.total_stake or Decimal(100), only_arbitrage=params.only_arbitrage,
                                        top=params.top)
    if not note and not arbs and params.only_arbitrage:
        note = "no arbitrage: in every market the best odds sum to a booksum of 1 or more (only_arbitrage false shows the closest)"
    return ArbitrageResult(source=source, markets_scanned=len(groups), markets_complete=complete, arbitrages=arbs,
                           opportunities=views, kernel="compiled" if kernel.COMPILED else "numpy", note=note)
