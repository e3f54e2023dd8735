"""A host on each database (SQLite and PostgreSQL) and a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from neural_trader.host import Host
from neural_trader.testing import HostFactory
from neural_trader_plugins.syndicates import clock

#: A Monday, so days and ISO weeks start where the tests expect.
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


class Clock:
    """The time the syndicate operations see; ``advance`` moves it (no sleeping)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def fake_clock() -> Iterator[Clock]:
    c = Clock(T0)
    with clock.use(lambda: c.now):
        yield c


@pytest.fixture
def host(nt_host_factory: HostFactory, db_url: str) -> Host:
    """A host whose database is ``db_url`` (both backends)."""
    return nt_host_factory(database_url=db_url)


@pytest.fixture
def sqlite_host(nt_host_factory: HostFactory) -> Host:
    return nt_host_factory()


def call(host: Host, op: str, /, **params: Any) -> Any:
    """``syndicate.<op>`` with ``params``, as the local admin."""
    return host.call(f"syndicate.{op}", params)


def founders(*specs: tuple[str, str, str | None]) -> list[dict[str, Any]]:
    return [{"member_id": m, "name": m.title(), "role": r, **({"deposit": d} if d else {})} for m, r, d in specs]


#: Rules that cap nothing, so a test decides every stake itself.
OPEN_RULES = {"max_single_bet": "1", "max_daily_exposure": "1", "max_per_sport": "1", "max_per_market": "1",
              "min_reserve": "0", "daily_stop_loss": "1", "weekly_stop_loss": "1"}
