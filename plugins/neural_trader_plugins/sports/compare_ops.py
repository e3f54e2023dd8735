"""``sports.compare_providers``: the same events across sources and bookmakers.

A provider is one bookmaker at one source (``football_data/pinnacle``, ``oddsapi/williamhill``).
Events of different sources are the same match when sport, kick-off day (UTC) and both teams agree
(team names compared after :func:`team_key`: case, punctuation and the usual short forms, so
football-data's ``Man City`` is The Odds API's ``Manchester City``). For every market line each
provider prices completely, the provider's margin is ``1 - 1/booksum``; for each outcome its gap to
the best price is ``best / price - 1`` (0: it is the best). The same bookmaker seen through two
sources is compared price by price (``same_bookmaker``).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Iterable

import attrs

from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.events import Event, market_lines
from neural_trader_plugins.sports.market_ops import _NAME, _SPORT, MarketKey, Region
from neural_trader_plugins.sports.sources import OddsQuery, SourceContext, odds_source

#: Short and long forms of club names as football-data and The Odds API write them.
_ALIASES = {
    "man city": "manchester city", "man united": "manchester united", "man utd": "manchester united",
    "nottm forest": "nottingham forest", "spurs": "tottenham hotspur", "tottenham": "tottenham hotspur",
    "wolves": "wolverhampton wanderers", "newcastle": "newcastle united", "west ham": "west ham united",
    "brighton": "brighton and hove albion", "brighton hove albion": "brighton and hove albion",
    "sheffield united": "sheffield united", "sheffield utd": "sheffield united", "luton": "luton town",
    "leicester": "leicester city", "leeds": "leeds united", "west brom": "west bromwich albion",
    "norwich": "norwich city", "ipswich": "ipswich town", "cardiff": "cardiff city", "huddersfield": "huddersfield town",
    "coventry": "coventry city", "stoke": "stoke city", "swansea": "swansea city",
}


def team_key(name: str) -> str:
    """A club's name for matching: lower case, no punctuation, ``&`` as ``and``, aliases resolved,
    without ``FC``/``AFC``."""
    text = " ".join(re.sub(r"[^a-z0-9 ]+", " ", name.lower().replace("&", " and ").replace("'", "")).split())
    text = _ALIASES.get(text, text)
    return " ".join(w for w in text.split() if w not in ("fc", "afc"))


def match_key(event: Event) -> tuple[str, dt.date, str, str]:
    return event.sport_key, event.commence_time.astimezone(dt.UTC).date(), team_key(event.home_team), \
        team_key(event.away_team)


@attrs.frozen(kw_only=True)
class CompareParams:
    """Parameters of ``sports.compare_providers``."""

    sport: str = param(pattern=_SPORT, description="the sport key, e.g. soccer_epl")
    sources: list[str] = param(factory=lambda: ["football_data"], min_len=1, max_len=4, item_pattern=_NAME,
                               description="the sources to compare (each bookmaker of each is a provider)")
    market: MarketKey = param(default=MarketKey.H2H, description="h2h, spreads or totals")
    regions: list[Region] = param(factory=lambda: [Region.UK], min_len=1, max_len=6,
                                  description="bookmaker regions (The Odds API)")
    start: dt.datetime | None = param(default=None, description="earliest kick-off (UTC)")
    end: dt.datetime | None = param(default=None, description="latest kick-off (UTC)")
    limit: int = param(default=500, ge=1, le=1000, description="events per source at most")


@attrs.frozen(kw_only=True)
class ProviderView:
    source: str
    bookmaker: str
    events: int = param(description="compared events it prices")
    coverage: float = param(unit="fraction", description="share of the compared events it prices")
    mean_margin: float | None = param(unit="fraction", description="mean of 1 - 1/booksum over its complete markets")
    mean_gap_to_best: float | None = param(unit="fraction", description="mean of best / price - 1 over its prices")
    best_share: float | None = param(unit="fraction", description="share of its prices that are the best on offer")


@attrs.frozen(kw_only=True)
class SameBookView:
    bookmaker: str
    sources: list[str]
    prices: int = param(description="prices compared (same event, line and outcome)")
    mean_abs_difference: float = param(description="mean |price_a - price_b| in decimal odds")
    max_abs_difference: float


@attrs.frozen(kw_only=True)
class SourceCount:
    source: str
    events: int
    matched: int = param(description="of them, events every compared source has")


@attrs.frozen(kw_only=True)
class CompareResult:
    """Providers ranked by margin, lowest first."""

    sport: str
    market: MarketKey
    compared_events: int = param(description="events in every source (all of one source's when only one is given)")
    sources: list[SourceCount]
    providers: list[ProviderView]
    same_bookmaker: list[SameBookView]
    note: str


#: (match, line, outcome) -> (source, bookmaker) -> price
Prices = dict[tuple[tuple[str, dt.date, str, str], float | None, str], dict[tuple[str, str], float]]


def _collect(source: str, events: Iterable[Event], market: str, keep: set[tuple[str, dt.date, str, str]],
             prices: Prices, complete: dict[tuple[str, str], list[float]]) -> None:
    for e in events:
        key = match_key(e)
        if key not in keep:
            continue
        for book in e.bookmakers:
            m = book.market(market)
            if m is None or book.aggregate:
                continue
            for line, quotes in market_lines(m, e.home_team).items():
                for q in quotes:
                    outcome = "Draw" if q.name == "Draw" else ("home" if q.name == e.home_team else
                                                              "away" if q.name == e.away_team else q.name)
                    prices.setdefault((key, line, outcome), {})[(source, book.key)] = q.price
                if len(quotes) >= 2:
                    complete.setdefault((source, book.key), []).append(1.0 - 1.0 / sum(1.0 / q.price for q in quotes))


async def sports_compare_providers(params: CompareParams, ctx: Context) -> CompareResult:
    names = list(dict.fromkeys(params.sources))
    pages = {}
    for name in names:
        src = odds_source(ctx.host, name)
        query = OddsQuery(sport=params.sport, markets=(params.market.value,), regions=tuple(r.value for r in params.regions),
                          start=params.start, end=params.end, limit=params.limit)
        pages[name] = await src.odds(SourceContext(ctx.host), query)
    keys = {name: {match_key(e) for e in page.events} for name, page in pages.items()}
    common = set.intersection(*keys.values())
    prices: Prices = {}
    margins: dict[tuple[str, str], list[float]] = {}
    for name, page in pages.items():
        _collect(name, page.events, params.market.value, common, prices, margins)
    events_by: dict[tuple[str, str], set] = {}
    gaps: dict[tuple[str, str], list[float]] = {}
    bests: dict[tuple[str, str], list[bool]] = {}
    for (match, _line, _outcome), quotes in prices.items():
        best = max(quotes.values())
        for provider, price in quotes.items():
            events_by.setdefault(provider, set()).add(match)
            gaps.setdefault(provider, []).append(best / price - 1.0)
            bests.setdefault(provider, []).append(price == best)
    providers = [ProviderView(source=p[0], bookmaker=p[1], events=len(events_by[p]),
                              coverage=len(events_by[p]) / len(common) if common else 0.0,
                              mean_margin=statistics.fmean(margins[p]) if margins.get(p) else None,
                              mean_gap_to_best=statistics.fmean(gaps[p]), best_share=statistics.fmean(bests[p]))
                 for p in events_by]
    providers.sort(key=lambda v: (v.mean_margin is None, v.mean_margin or 0.0, v.source, v.bookmaker))
    same: list[SameBookView] = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            books = {bk for (s, bk) in events_by if s == a} & {bk for (s, bk) in events_by if s == b}
            for book in sorted(books):
                diffs = [abs(q[(a, book)] - q[(b, book)]) for q in prices.values() if (a, book) in q and (b, book) in q]
                if diffs:
                    same.append(SameBookView(bookmaker=book, sources=[a, b], prices=len(diffs),
                                             mean_abs_difference=statistics.fmean(diffs), max_abs_difference=max(diffs)))
    notes = [p.note for p in pages.values() if p.note]
    if len(names) > 1 and not common:
        notes.append("no event is in every source (same sport, kick-off day and teams)")
    return CompareResult(sport=params.sport, market=params.market, compared_events=len(common),
                         sources=[SourceCount(source=n, events=len(keys[n]), matched=len(common)) for n in names],
                         providers=providers, same_bookmaker=same, note="; ".join(notes))
