"""Odds snapshots (``sports_odds_snapshots``) on SQLite and PostgreSQL: every price of a page is
stored with its line (a spread's home handicap), read back in fetch order for odds.movement, and
the latest of each price rebuilt into a page (what is served, labelled, when the quota is spent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from neural_trader.services.storage import Storage
from neural_trader_plugins.sports import MIGRATIONS, history
from neural_trader_plugins.sports.events import BookmakerOdds, Event, Market, OddsPage, Price

T0 = dt.datetime(2024, 5, 2, 23, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Storage]:
    with Storage(db_url, branches=[MIGRATIONS]) as storage:
        yield storage


def page(at: dt.datetime, celtics: float) -> OddsPage:
    spreads = Market(key="spreads", outcomes=(Price(name="Boston Celtics", price=celtics, point=-7.5),
                                              Price(name="Miami Heat", price=1.91, point=7.5)))
    h2h = Market(key="h2h", outcomes=(Price(name="Boston Celtics", price=1.36), Price(name="Miami Heat", price=3.3)))
    event = Event(id="7f03", sport_key="basketball_nba", sport_title="NBA", commence_time=T0 + dt.timedelta(hours=2),
                  home_team="Boston Celtics", away_team="Miami Heat",
                  bookmakers=(BookmakerOdds(key="draftkings", title="DraftKings", markets=(h2h, spreads)),))
    return OddsPage(source="oddsapi", events=(event,), fetched_at=at)


def test_snapshots_round_trip_in_fetch_order(db: Storage) -> None:
    assert history.record_page(db, page(T0, 1.91)) == 4
    history.record_page(db, page(T0 + dt.timedelta(minutes=30), 1.87))
    points, row = history.snapshot_points(db, source="oddsapi", event_id="7f03", market="spreads")
    assert row is not None and row.home_team == "Boston Celtics" and row.commence_time == T0 + dt.timedelta(hours=2)
    celtics = [p for p in points if p.outcome == "Boston Celtics"]
    assert [(p.price, p.point, p.at) for p in celtics] == [(1.91, -7.5, T0), (1.87, -7.5, T0 + dt.timedelta(minutes=30))]
    assert {p.point for p in points} == {-7.5}                     # one line: the home side's handicap
    assert history.snapshot_points(db, source="oddsapi", event_id="nope", market="h2h") == ([], None)


def test_the_latest_prices_rebuild_a_page(db: Storage) -> None:
    assert history.latest_page(db, source="oddsapi", sport="basketball_nba", markets=["h2h"]) is None
    history.record_page(db, page(T0, 1.91))
    history.record_page(db, page(T0 + dt.timedelta(minutes=30), 1.87))
    got = history.latest_page(db, source="oddsapi", sport="basketball_nba", markets=["h2h", "spreads"])
    assert got is not None and got.fetched_at == T0 + dt.timedelta(minutes=30)
    (event,) = got.events
    spreads = event.bookmakers[0].market("spreads")
    assert spreads is not None
    assert [(p.name, p.price, p.point) for p in spreads.outcomes] == [("Boston Celtics", 1.87, -7.5),
                                                                     ("Miami Heat", 1.91, 7.5)]
