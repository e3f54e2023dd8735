"""``odds.movement``: how each bookmaker's price of each outcome moved.

Two kinds of history: a source whose files hold opening and closing prices (football-data) gives
those two points per price; a network source's prices are the snapshots stored each time
``sports.odds``/``sports.event_odds``/``sports.bookmaker_odds`` fetched them (repeats of an
unchanged price are shown once). ``change`` is ``last - first`` in decimal odds; ``implied_change``
is the move of ``1 / odds`` in probability points (positive: the outcome shortened, the market
now rates it likelier).
"""

from __future__ import annotations

import datetime as dt

import attrs

from neural_trader.errors import NtNotFound
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.events import market_lines
from neural_trader_plugins.sports.history import MovementPoint, snapshot_points
from neural_trader_plugins.sports.market_ops import _BOOK, _EVENT, _NAME, _SPORT, MarketKey
from neural_trader_plugins.sports.sources import OddsQuery, SourceContext, odds_source


@attrs.frozen(kw_only=True)
class MovementParams:
    """Parameters of ``odds.movement``."""

    sport: str = param(pattern=_SPORT, description="the sport key, e.g. soccer_epl")
    event: str = param(pattern=_EVENT, description="the event id (sports.events)")
    source: str = param(default="football_data", pattern=_NAME, description=(
        "football_data (opening -> closing from the files) or a network source's stored snapshots (oddsapi)"))
    market: MarketKey = param(default=MarketKey.H2H, description="h2h, spreads or totals")
    bookmaker: str | None = param(default=None, pattern=_BOOK, description="only this bookmaker")


@attrs.frozen(kw_only=True)
class PointView:
    at: dt.datetime | None = param(description="when (UTC): the fetch, or the kick-off for closing prices; "
                                               "null for football-data's opening prices (time not published)")
    stage: str = param(description="opening, closing or snapshot")
    price: float = param(description="decimal odds")


@attrs.frozen(kw_only=True)
class LineMovement:
    bookmaker: str
    point: float | None = param(description="the line (null for h2h)")
    outcome: str
    first: float = param(description="first decimal odds seen")
    last: float = param(description="last decimal odds seen")
    change: float = param(description="last - first (decimal odds)")
    change_pct: float = param(unit="fraction", description="last / first - 1")
    implied_change: float = param(unit="fraction", description="1/last - 1/first: positive means the outcome shortened")
    points: list[PointView]


@attrs.frozen(kw_only=True)
class MovementResult:
    """Each price's path for one event's market."""

    source: str
    event: str
    market: MarketKey
    home_team: str
    away_team: str
    commence_time: dt.datetime | None
    lines: list[LineMovement]
    note: str


def _collapse(points: list[MovementPoint]) -> list[MovementPoint]:
    """Each change of price once, and the last point seen (so the path ends when it was last seen)."""
    out = [p for i, p in enumerate(points) if i == 0 or p.price != points[i - 1].price]
    if out[-1] is not points[-1]:
        out.append(points[-1])
    return out


def _lines(points: list[MovementPoint]) -> list[LineMovement]:
    paths: dict[tuple[str, float | None, str], list[MovementPoint]] = {}
    for p in points:
        paths.setdefault((p.bookmaker, p.point, p.outcome), []).append(p)
    out = []
    for (book, line, outcome), path in paths.items():
        path = _collapse(path)
        a, b = path[0].price, path[-1].price
        out.append(LineMovement(bookmaker=book, point=line, outcome=outcome, first=a, last=b, change=b - a,
                                change_pct=b / a - 1.0, implied_change=1.0 / b - 1.0 / a,
                                points=[PointView(at=p.at, stage=p.stage, price=p.price) for p in path]))
    return out


async def odds_movement(params: MovementParams, ctx: Context) -> MovementResult:
    source = odds_source(ctx.host, params.source)
    if "opening" in source.stages and "closing" in source.stages:
        points: list[MovementPoint] = []
        event = None
        for stage in ("opening", "closing"):
            query = OddsQuery(sport=params.sport, markets=(params.market.value,), stage=stage,
                              bookmakers=(params.bookmaker,) if params.bookmaker else None)
            page = await source.event_odds(SourceContext(ctx.host), params.event, query)
            for event in page.events:
                for book in event.bookmakers:
                    market = book.market(params.market.value)
                    if market is None or book.aggregate:
                        continue
                    for line, prices in market_lines(market, event.home_team).items():
                        points += [MovementPoint(bookmaker=book.key, market=market.key, point=line, outcome=p.name,
                                                 price=p.price, at=event.commence_time if stage == "closing" else None,
                                                 stage=stage) for p in prices]
        assert event is not None
        return MovementResult(source=source.name, event=params.event, market=params.market, home_team=event.home_team,
                              away_team=event.away_team, commence_time=event.commence_time, lines=_lines(points),
                              note="" if points else f"no {params.market.value} prices for this match in the files")
    points, row = snapshot_points(ctx.host.services.storage, source=source.name, event_id=params.event,
                                  market=params.market.value, bookmaker=params.bookmaker)
    if row is None:
        raise NtNotFound(f"event: no stored {params.market.value} prices of {params.event!r} from {source.name}; "
                         "fetch them first with sports.odds or sports.event_odds (each fetch is a snapshot)")
    return MovementResult(source=source.name, event=params.event, market=params.market, home_team=row.home_team,
                          away_team=row.away_team, commence_time=row.commence_time, lines=_lines(points),
                          note="" if len({p.at for p in points}) > 1 else
                          "one snapshot so far: fetch again later to see the line move")
