"""Odds history: every price a network source returns is kept (``sports_odds_snapshots``) so that
``odds.movement`` can show how a line moved between fetches. Files that are themselves history
(football-data's opening and closing columns) are read, not copied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs
from sqlmodel import col, select

from neural_trader_plugins.sports.events import BookmakerOdds, Event, Market, OddsPage, Price, market_lines
from neural_trader_plugins.sports.tables import OddsSnapshotRow

__all__ = ["MovementPoint", "latest_page", "record_page", "snapshot_points"]


@attrs.frozen(kw_only=True)
class MovementPoint:
    """One observed price of one outcome of one line at one bookmaker."""

    bookmaker: str
    market: str
    point: float | None
    outcome: str
    price: float
    at: dt.datetime | None
    stage: str


def _rows(page: OddsPage) -> Iterable[OddsSnapshotRow]:
    for event in page.events:
        for book in event.bookmakers:
            for market in book.markets:
                for line, prices in market_lines(market, event.home_team).items():
                    for p in prices:
                        yield OddsSnapshotRow(
                            source=page.source, sport_key=event.sport_key, event_id=event.id,
                            home_team=event.home_team[:120], away_team=event.away_team[:120],
                            commence_time=event.commence_time, market=market.key, point=line,
                            bookmaker=book.key[:80], outcome=p.name[:120], price=p.price,
                            updated_at=market.last_update or book.last_update, fetched_at=page.fetched_at)


def record_page(storage: object, page: OddsPage) -> int:
    """Store every price of ``page`` (a network source's answer); the number of rows written."""
    rows = list(_rows(page))
    if rows:
        with storage.session(write=True) as session:  # type: ignore[attr-defined]
            session.add_all(rows)
    return len(rows)


def snapshot_points(storage: object, *, source: str, event_id: str, market: str,
                    bookmaker: str | None = None, limit: int = 20_000) -> tuple[list[MovementPoint], OddsSnapshotRow | None]:
    """The stored prices of one event's market, oldest first, and one row for the event's details."""
    query = select(OddsSnapshotRow).where(OddsSnapshotRow.source == source, OddsSnapshotRow.event_id == event_id,
                                          OddsSnapshotRow.market == market)
    if bookmaker is not None:
        query = query.where(OddsSnapshotRow.bookmaker == bookmaker)
    query = query.order_by(col(OddsSnapshotRow.fetched_at), col(OddsSnapshotRow.id)).limit(limit)
    with storage.session() as session:  # type: ignore[attr-defined]
        rows = list(session.exec(query).all())
    points = [MovementPoint(bookmaker=r.bookmaker, market=r.market, point=r.point, outcome=r.outcome, price=r.price,
                            at=r.fetched_at, stage="snapshot") for r in rows]
    return points, rows[0] if rows else None


def latest_page(storage: object, *, source: str, sport: str, markets: Iterable[str],
                limit_events: int = 500) -> OddsPage | None:
    """The last stored price of every (event, bookmaker, market, line, outcome) of ``sport``, as a page
    dated by the newest fetch among them; None when nothing is stored. Serves a provider's outage
    or spent quota with what was last seen (labelled by the caller)."""
    query = select(OddsSnapshotRow).where(OddsSnapshotRow.source == source, OddsSnapshotRow.sport_key == sport,
                                          col(OddsSnapshotRow.market).in_(list(markets)))
    query = query.order_by(col(OddsSnapshotRow.fetched_at), col(OddsSnapshotRow.id))
    with storage.session() as session:  # type: ignore[attr-defined]
        rows = list(session.exec(query).all())
    if not rows:
        return None
    last: dict[tuple[str, str, str, float | None, str], OddsSnapshotRow] = {}
    for r in rows:  # later fetches overwrite earlier ones
        last[(r.event_id, r.bookmaker, r.market, r.point, r.outcome)] = r
    events: dict[str, dict[str, dict[str, list[OddsSnapshotRow]]]] = {}
    info: dict[str, OddsSnapshotRow] = {}
    for (event_id, book, market, _point, _outcome), r in last.items():
        info.setdefault(event_id, r)
        events.setdefault(event_id, {}).setdefault(book, {}).setdefault(market, []).append(r)
    out = []
    for event_id, books in list(events.items())[:limit_events]:
        head = info[event_id]

        def price(r: OddsSnapshotRow, home: str = head.home_team) -> Price:
            # Stored spreads keep the home side's line; the away side's own point is its negation.
            point = r.point if r.market != "spreads" or r.point is None or r.outcome == home else -r.point
            return Price(name=r.outcome, price=r.price, point=point)

        out.append(Event(id=event_id, sport_key=head.sport_key, sport_title="", commence_time=head.commence_time,
                         home_team=head.home_team, away_team=head.away_team, stage="live", bookmakers=tuple(
                             BookmakerOdds(key=book, title=book, markets=tuple(
                                 Market(key=m, outcomes=tuple(price(r) for r in rs), last_update=rs[0].updated_at)
                                 for m, rs in markets_.items())) for book, markets_ in books.items())))
    out.sort(key=lambda e: (e.commence_time, e.id))
    return OddsPage(source=source, events=tuple(out), fetched_at=max(r.fetched_at for r in last.values()))
