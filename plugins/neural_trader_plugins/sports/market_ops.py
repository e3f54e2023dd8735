"""The odds-source operations: ``sports.list``, ``sports.events``, ``sports.odds``,
``sports.event_odds``, ``sports.bookmaker_odds`` and ``sports.market_depth``. Handlers pick the
source from the host's ``sports_markets`` registry (:mod:`.sources`), turn its answer into views,
and store what a network source returned (:mod:`.history`) for ``odds.movement``.

Prices are decimal odds; ``odds_format: american`` asks the provider for american odds and shows
them in ``price`` next to the decimal.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import statistics
from typing import Any

import attrs

from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.events import Event, OddsPage, Quota, market_lines
from neural_trader_plugins.sports.sources import (
    EventsQuery,
    OddsQuery,
    SourceContext,
    last_quota,
    odds_source,
    odds_sources,
)

_NAME = r"^[a-z][a-z0-9_]{0,39}$"
_SPORT = r"^[a-z0-9_]{2,80}$"
_BOOK = r"^[A-Za-z0-9_.\-]{1,80}$"
_EVENT = r"^[A-Za-z0-9_.\-]{1,120}$"
DEFAULT_SOURCE = "football_data"


class MarketKey(enum.StrEnum):
    H2H = "h2h"
    SPREADS = "spreads"
    TOTALS = "totals"


class Region(enum.StrEnum):
    US = "us"
    US2 = "us2"
    UK = "uk"
    AU = "au"
    EU = "eu"
    US_EX = "us_ex"


class OddsFormat(enum.StrEnum):
    DECIMAL = "decimal"
    AMERICAN = "american"


class Stage(enum.StrEnum):
    LIVE = "live"
    OPENING = "opening"
    CLOSING = "closing"


def _source_field() -> Any:
    return param(default=DEFAULT_SOURCE, pattern=_NAME, description=(
        "the odds source (sports.list lists them): football_data (local football-data.co.uk files, offline) or "
        "oddsapi (The Odds API, needs NT_ODDS_API_KEY)"))


def _sport_field() -> Any:
    return param(pattern=_SPORT, pattern_hint="a sport key such as soccer_epl",
                 description="the sport key (sports.list), e.g. soccer_epl")


# -- views ----------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class QuotaView:
    """The Odds API's usage counters after the last call."""

    remaining: int | None = param(description="credits left this period (x-requests-remaining)")
    used: int | None = param(description="credits used this period (x-requests-used)")
    last: int | None = param(description="what the last call cost (x-requests-last); 0 for an empty answer")


def quota_view(quota: Quota | None) -> QuotaView | None:
    return None if quota is None else QuotaView(remaining=quota.remaining, used=quota.used, last=quota.last)


@attrs.frozen(kw_only=True)
class PriceView:
    outcome: str
    point: float | None = param(description="handicap or total line; null for h2h")
    decimal: float = param(description="decimal odds (stake included)")
    price: float = param(description="the price in the odds_format asked for")


@attrs.frozen(kw_only=True)
class MarketView:
    key: MarketKey
    last_update: dt.datetime | None
    prices: list[PriceView]


@attrs.frozen(kw_only=True)
class BookView:
    key: str = param(description="the bookmaker's key (pinnacle, williamhill ...)")
    title: str
    aggregate: bool = param(description="not one bookmaker: the market maximum or average of a football-data file")
    markets: list[MarketView]


@attrs.frozen(kw_only=True)
class EventView:
    id: str = param(description="the source's event id (sports.event_odds takes it)")
    sport_key: str
    commence_time: dt.datetime = param(description="kick-off (UTC)")
    home_team: str
    away_team: str
    home_score: int | None = param(description="final score, for finished matches")
    away_score: int | None
    stage: Stage = param(description="which prices: live, opening or closing")
    bookmakers: list[BookView]


def _american(decimal: float) -> float:
    from neural_trader_plugins.sports import odds

    return float(odds.decimal_to_american(decimal))


def event_view(event: Event, odds_format: OddsFormat = OddsFormat.DECIMAL) -> EventView:
    def price(p_decimal: float) -> float:
        return _american(p_decimal) if odds_format is OddsFormat.AMERICAN else p_decimal

    books = [BookView(key=b.key, title=b.title, aggregate=b.aggregate,
                      markets=[MarketView(key=MarketKey(m.key), last_update=m.last_update,
                                          prices=[PriceView(outcome=p.name, point=p.point, decimal=p.price,
                                                            price=price(p.price)) for p in m.outcomes])
                               for m in b.markets if m.key in MarketKey.__members__.values()])
             for b in event.bookmakers]
    return EventView(id=event.id, sport_key=event.sport_key, commence_time=event.commence_time,
                     home_team=event.home_team, away_team=event.away_team, home_score=event.home_score,
                     away_score=event.away_score, stage=Stage(event.stage), bookmakers=books)


def _window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise NtUserError(f"start ({start.isoformat()}) is after end ({end.isoformat()})")


def record(ctx: Context, page: OddsPage, *, network: bool) -> int:
    """Store a network source's prices for ``odds.movement`` (files are their own history)."""
    if not network or not page.events:
        return 0
    from neural_trader_plugins.sports.history import record_page

    return record_page(ctx.host.services.storage, page)


# -- sports.list ----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ListParams:
    """Parameters of ``sports.list``."""

    source: str = _source_field()


@attrs.frozen(kw_only=True)
class SourceView:
    name: str
    summary: str
    network: bool = param(description="reaches the internet (false: local files)")
    configured: bool
    reason: str | None = param(description="what to set when it is not configured, or a note")
    stages: list[Stage] = param(description="the prices it serves")
    quota: QuotaView | None = param(description="usage counters the provider sent last (The Odds API)")


@attrs.frozen(kw_only=True)
class SportView:
    key: str = param(description="what sports.events and sports.odds take")
    group: str
    title: str
    description: str
    active: bool = param(description="in season now (football-data files are history: false)")


@attrs.frozen(kw_only=True)
class ListResult:
    """The sports of one source, and every source's status."""

    source: str
    sports: list[SportView]
    quota: QuotaView | None
    note: str
    sources: list[SourceView]


async def sports_list(params: ListParams, ctx: Context) -> ListResult:
    sc = SourceContext(ctx.host)
    source = odds_source(ctx.host, params.source)
    page = await source.sports(sc)
    views = []
    for s in odds_sources(ctx.host):
        configured, reason = s.status(sc)
        views.append(SourceView(name=s.name, summary=s.summary, network=s.network, configured=configured,
                                reason=reason, stages=[Stage(x) for x in s.stages],
                                quota=quota_view(last_quota(ctx.host, s.name))))
    return ListResult(source=page.source, note=page.note, quota=quota_view(page.quota), sources=views,
                      sports=[SportView(key=x.key, group=x.group, title=x.title, description=x.description,
                                        active=x.active) for x in page.sports])


# -- sports.events --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class EventsParams:
    """Parameters of ``sports.events``."""

    sport: str = _sport_field()
    source: str = _source_field()
    start: dt.datetime | None = param(default=None, description="earliest kick-off (UTC)")
    end: dt.datetime | None = param(default=None, description="latest kick-off (UTC)")
    limit: int = param(default=50, ge=1, le=500, description="events at most")


@attrs.frozen(kw_only=True)
class EventsResult:
    """Events (without odds), by kick-off."""

    source: str
    events: list[EventView]
    quota: QuotaView | None
    note: str


async def sports_events(params: EventsParams, ctx: Context) -> EventsResult:
    _window(params.start, params.end)
    source = odds_source(ctx.host, params.source)
    page = await source.events(SourceContext(ctx.host), EventsQuery(sport=params.sport, start=params.start,
                                                                    end=params.end, limit=params.limit))
    return EventsResult(source=page.source, events=[event_view(e) for e in page.events], quota=quota_view(page.quota),
                        note=page.note)


# -- sports.odds / sports.event_odds / sports.bookmaker_odds --------------------------------------------
@attrs.frozen(kw_only=True)
class OddsParams:
    """Parameters of ``sports.odds``."""

    sport: str = _sport_field()
    source: str = _source_field()
    markets: list[MarketKey] = param(factory=lambda: [MarketKey.H2H], min_len=1, max_len=3,
                                     description="h2h (match result), spreads (handicaps), totals (over/under)")
    regions: list[Region] = param(factory=lambda: [Region.UK], min_len=1, max_len=6, description=(
        "bookmaker regions (The Odds API; each region and market costs one credit)"))
    bookmakers: list[str] | None = param(default=None, max_len=40, item_pattern=_BOOK, description=(
        "only these bookmakers' keys (pinnacle, williamhill ...); The Odds API then ignores regions"))
    odds_format: OddsFormat = param(default=OddsFormat.DECIMAL, description="decimal or american prices")
    stage: Stage | None = param(default=None, description=(
        "which prices: live (The Odds API), opening or closing (football-data); default the source's first"))
    event_ids: list[str] | None = param(default=None, max_len=100, item_pattern=_EVENT,
                                        description="only these events")
    start: dt.datetime | None = param(default=None, description="earliest kick-off (UTC)")
    end: dt.datetime | None = param(default=None, description="latest kick-off (UTC)")
    limit: int = param(default=50, ge=1, le=500, description="events at most")


@attrs.frozen(kw_only=True)
class OddsResult:
    """Events with each bookmaker's prices."""

    source: str
    events: list[EventView]
    quota: QuotaView | None
    recorded: int = param(description="prices stored for odds.movement (network sources only)")
    cached_at: dt.datetime | None = param(default=None, description=(
        "set when the provider refused (quota spent) and these are the prices stored at this time, not live ones"))
    note: str


def _query(params: OddsParams | EventOddsParams, **extra: object) -> OddsQuery:
    return OddsQuery(sport=params.sport, markets=tuple(m.value for m in params.markets),
                     regions=tuple(r.value for r in params.regions),
                     bookmakers=tuple(params.bookmakers) if params.bookmakers else None,
                     odds_format=params.odds_format.value,
                     stage=params.stage.value if params.stage is not None else None, **extra)  # type: ignore[arg-type]


async def _odds(ctx: Context, source_name: str, query: OddsQuery, odds_format: OddsFormat) -> OddsResult:
    from neural_trader_plugins.sports.oddsapi import OddsApiQuotaExhausted

    source = odds_source(ctx.host, source_name)
    try:
        page = await source.odds(SourceContext(ctx.host), query)
    except OddsApiQuotaExhausted as exc:
        cached = _cached(ctx, source_name, query)
        if cached is None:
            raise
        return OddsResult(source=cached.source, events=[event_view(e, odds_format) for e in cached.events],
                          quota=None, recorded=0, cached_at=cached.fetched_at,
                          note=f"CACHED: stored prices from {cached.fetched_at:%Y-%m-%d %H:%M} UTC, not live: {exc}")
    return OddsResult(source=page.source, events=[event_view(e, odds_format) for e in page.events],
                      quota=quota_view(page.quota), recorded=record(ctx, page, network=source.network), note=page.note)


def _cached(ctx: Context, source: str, query: OddsQuery) -> OddsPage | None:
    """The last stored prices of the query's sport, markets and bookmakers, or None."""
    from neural_trader_plugins.sports.history import latest_page

    page = latest_page(ctx.host.services.storage, source=source, sport=query.sport, markets=query.markets,
                       limit_events=query.limit)
    if page is None or not query.bookmakers:
        return page
    books = set(query.bookmakers)
    return attrs.evolve(page, events=tuple(attrs.evolve(e, bookmakers=tuple(b for b in e.bookmakers if b.key in books))
                                           for e in page.events))


async def sports_odds(params: OddsParams, ctx: Context) -> OddsResult:
    _window(params.start, params.end)
    query = _query(params, event_ids=tuple(params.event_ids) if params.event_ids else None, start=params.start,
                   end=params.end, limit=params.limit)
    return await _odds(ctx, params.source, query, params.odds_format)


@attrs.frozen(kw_only=True)
class EventOddsParams:
    """Parameters of ``sports.event_odds``."""

    sport: str = _sport_field()
    event: str = param(pattern=_EVENT, description="the event id (sports.events)")
    source: str = _source_field()
    markets: list[MarketKey] = param(factory=lambda: [MarketKey.H2H], min_len=1, max_len=3,
                                     description="h2h, spreads, totals")
    regions: list[Region] = param(factory=lambda: [Region.UK], min_len=1, max_len=6, description="bookmaker regions")
    bookmakers: list[str] | None = param(default=None, max_len=40, item_pattern=_BOOK,
                                         description="only these bookmakers")
    odds_format: OddsFormat = param(default=OddsFormat.DECIMAL, description="decimal or american prices")
    stage: Stage | None = param(default=None, description="live, opening or closing; default the source's first")


async def sports_event_odds(params: EventOddsParams, ctx: Context) -> OddsResult:
    source = odds_source(ctx.host, params.source)
    page = await source.event_odds(SourceContext(ctx.host), params.event, _query(params))
    return OddsResult(source=page.source, events=[event_view(e, params.odds_format) for e in page.events],
                      quota=quota_view(page.quota), recorded=record(ctx, page, network=source.network), note=page.note)


@attrs.frozen(kw_only=True)
class BookmakerOddsParams:
    """Parameters of ``sports.bookmaker_odds``."""

    sport: str = _sport_field()
    bookmaker: str = param(pattern=_BOOK, description="the bookmaker's key, e.g. pinnacle")
    source: str = _source_field()
    markets: list[MarketKey] = param(factory=lambda: [MarketKey.H2H], min_len=1, max_len=3,
                                     description="h2h, spreads, totals")
    odds_format: OddsFormat = param(default=OddsFormat.DECIMAL, description="decimal or american prices")
    stage: Stage | None = param(default=None, description="live, opening or closing; default the source's first")
    start: dt.datetime | None = param(default=None, description="earliest kick-off (UTC)")
    end: dt.datetime | None = param(default=None, description="latest kick-off (UTC)")
    limit: int = param(default=50, ge=1, le=500, description="events at most")


async def sports_bookmaker_odds(params: BookmakerOddsParams, ctx: Context) -> OddsResult:
    _window(params.start, params.end)
    query = OddsQuery(sport=params.sport, markets=tuple(m.value for m in params.markets), regions=("uk",),
                      bookmakers=(params.bookmaker,), odds_format=params.odds_format.value,
                      stage=params.stage.value if params.stage is not None else None, start=params.start,
                      end=params.end, limit=params.limit)
    result = await _odds(ctx, params.source, query, params.odds_format)
    quoted = [e for e in result.events if e.bookmakers]
    note = result.note or ("" if quoted or not result.events else
                           f"bookmaker {params.bookmaker!r} quotes none of these events (sports.odds shows who does)")
    return attrs.evolve(result, events=quoted, note=note)


# -- sports.market_depth --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class DepthParams:
    """Parameters of ``sports.market_depth``."""

    sport: str = _sport_field()
    event: str = param(pattern=_EVENT, description="the event id (sports.events)")
    source: str = _source_field()
    market: MarketKey = param(default=MarketKey.H2H, description="h2h, spreads or totals")
    regions: list[Region] = param(factory=lambda: [Region.UK], min_len=1, max_len=6, description="bookmaker regions")
    stage: Stage | None = param(default=None, description="live, opening or closing; default the source's first")


@attrs.frozen(kw_only=True)
class OutcomeDepth:
    outcome: str
    point: float | None = param(description="the line (null for h2h)")
    books: int = param(description="bookmakers quoting it")
    best: float = param(description="highest decimal odds")
    best_bookmaker: str
    worst: float = param(description="lowest decimal odds")
    worst_bookmaker: str
    median: float
    spread: float = param(unit="fraction", description="best / worst - 1: how far apart the books are")


@attrs.frozen(kw_only=True)
class DepthResult:
    """What is known about a market's liquidity: only prices, never the stakes behind them."""

    source: str
    event: str
    market: MarketKey
    depth_available: bool = param(description="false: the source gives no order-book depth")
    note: str
    bookmakers: int = param(description="bookmakers quoting the market (aggregates left out)")
    outcomes: list[OutcomeDepth]


_NO_DEPTH = ("neither The Odds API nor football-data gives market depth (the stakes available at each price, "
             "an exchange's order book): each bookmaker sends one price per outcome. Shown instead: how many books "
             "quote each outcome and their best, worst and median prices.")


async def sports_market_depth(params: DepthParams, ctx: Context) -> DepthResult:
    source = odds_source(ctx.host, params.source)
    query = OddsQuery(sport=params.sport, markets=(params.market.value,), regions=tuple(r.value for r in params.regions),
                      stage=params.stage.value if params.stage is not None else None)
    page = await source.event_odds(SourceContext(ctx.host), params.event, query)
    record(ctx, page, network=source.network)
    rows: dict[tuple[float | None, str], list[tuple[float, str]]] = {}
    books = set()
    for event in page.events:
        for book in event.bookmakers:
            if book.aggregate:
                continue
            market = book.market(params.market.value)
            if market is None:
                continue
            books.add(book.key)
            for line, prices in market_lines(market, event.home_team).items():
                for p in prices:
                    rows.setdefault((line, p.name), []).append((p.price, book.key))
    outcomes = []
    for (line, name), quotes in rows.items():
        best = max(quotes, key=lambda q: q[0])
        worst = min(quotes, key=lambda q: q[0])
        outcomes.append(OutcomeDepth(outcome=name, point=line, books=len(quotes), best=best[0], best_bookmaker=best[1],
                                     worst=worst[0], worst_bookmaker=worst[1],
                                     median=float(statistics.median(q[0] for q in quotes)),
                                     spread=best[0] / worst[0] - 1.0))
    outcomes.sort(key=lambda o: math.inf if o.point is None else o.point)  # stable: the source's outcome order
    return DepthResult(source=page.source, event=params.event, market=params.market, depth_available=False,
                       note=_NO_DEPTH, bookmakers=len(books), outcomes=outcomes)
