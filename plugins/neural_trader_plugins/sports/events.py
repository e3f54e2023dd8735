"""What odds sources answer with: sports, events, each bookmaker's markets and prices, and the
provider's quota. One shape for every source (The Odds API's, which football-data files fit).

Prices are always **decimal** odds here (an adapter converts american odds as it parses); a market
is one ``key`` (``h2h``, ``spreads``, ``totals``) and, within it, each outcome carries its own
``point`` (the handicap or total; None for ``h2h``). Two prices are of the same market only when
the event, the key and the point agree: :func:`market_lines` splits a bookmaker's market into its
lines so that nothing downstream can mix a total of 2.5 with one of 3.0.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

import attrs

from neural_trader.errors import NtUserError

__all__ = ["MARKETS", "BookmakerOdds", "Event", "Market", "OddsPage", "Price", "Quota", "Sport", "SportsPage",
           "check_markets", "check_sport_key", "market_lines", "slug"]

#: The market keys every source understands (The Odds API's featured markets).
MARKETS: tuple[str, ...] = ("h2h", "spreads", "totals")
_SPORT_KEY = re.compile(r"^[a-z0-9_]{2,80}$")


def check_sport_key(sport: str, field: str = "sport") -> str:
    """A sport key as the sources write it (``soccer_epl``): lower-case letters, digits and ``_``."""
    if not isinstance(sport, str) or not _SPORT_KEY.match(sport):
        raise NtUserError(f"{field} must be a sport key such as soccer_epl or basketball_nba (see sports.list), "
                          f"got {sport!r}")
    return sport


def check_markets(markets: Iterable[str], field: str = "markets") -> tuple[str, ...]:
    """Market keys, each one of :data:`MARKETS`, without repeats, in the order given."""
    out = tuple(dict.fromkeys(markets))
    bad = [m for m in out if m not in MARKETS]
    if bad or not out:
        raise NtUserError(f"{field} must list market keys among {', '.join(MARKETS)}, got {list(markets)!r}")
    return out


def slug(text: str) -> str:
    """``Nott'm Forest`` -> ``nottm-forest``: ids built from names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")


@attrs.frozen(kw_only=True)
class Sport:
    """A sport or competition a source has odds for (``key`` is what the other calls take)."""

    key: str
    group: str
    title: str
    description: str = ""
    active: bool = True
    has_outrights: bool = False


@attrs.frozen(kw_only=True)
class Price:
    """One outcome's decimal odds; ``point`` is the handicap or total line (None for h2h)."""

    name: str
    price: float
    point: float | None = None


@attrs.frozen(kw_only=True)
class Market:
    """One bookmaker's prices for one market key of an event (all its lines, as the source sent them)."""

    key: str
    outcomes: tuple[Price, ...]
    last_update: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class BookmakerOdds:
    """One bookmaker's markets for an event. ``aggregate`` marks a column that is not one bookmaker
    (football-data's market maximum and average): it is shown, never used as a book to bet at."""

    key: str
    title: str
    markets: tuple[Market, ...]
    last_update: dt.datetime | None = None
    aggregate: bool = False

    def market(self, key: str) -> Market | None:
        return next((m for m in self.markets if m.key == key), None)


@attrs.frozen(kw_only=True)
class Event:
    """A match and its bookmakers' odds. ``home_score``/``away_score`` are set for finished matches
    (historical sources); ``stage`` says which prices ``bookmakers`` hold: ``live`` (as fetched),
    ``opening`` or ``closing`` (football-data's pre-match and closing columns)."""

    id: str
    sport_key: str
    sport_title: str
    commence_time: dt.datetime
    home_team: str
    away_team: str
    bookmakers: tuple[BookmakerOdds, ...] = ()
    home_score: int | None = None
    away_score: int | None = None
    stage: str = "live"


@attrs.frozen(kw_only=True)
class Quota:
    """The Odds API's usage headers: credits left, used this period, and the cost of the last call."""

    remaining: int | None
    used: int | None
    last: int | None

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, str]] | dict[str, str]) -> Quota | None:
        """From ``x-requests-remaining``/``-used``/``-last`` (None when the answer has none)."""
        items = headers.items() if isinstance(headers, dict) else headers
        values = {k.lower(): v for k, v in items}

        def number(name: str) -> int | None:
            raw = values.get(name)
            try:
                return None if raw is None else int(float(raw))
            except ValueError:
                return None

        got = cls(remaining=number("x-requests-remaining"), used=number("x-requests-used"),
                  last=number("x-requests-last"))
        return None if got == cls(remaining=None, used=None, last=None) else got


@attrs.frozen(kw_only=True)
class SportsPage:
    """The sports of a source."""

    source: str
    sports: tuple[Sport, ...]
    quota: Quota | None = None
    note: str = ""


@attrs.frozen(kw_only=True)
class OddsPage:
    """Events with odds as one call returned them (``note`` says why it may be empty)."""

    source: str
    events: tuple[Event, ...]
    quota: Quota | None = None
    note: str = ""
    fetched_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))


def market_lines(market: Market, home_team: str) -> dict[float | None, tuple[Price, ...]]:
    """A market's outcomes grouped by line. Totals: the line is the point; spreads: the home side's
    handicap (``Boston -7.5`` and ``Miami +7.5`` are the line -7.5; ``Boston +7.5`` with ``Miami -7.5``
    is another market). h2h has one line, None."""
    lines: dict[float | None, list[Price]] = {}
    for price in market.outcomes:
        line = price.point
        if market.key == "spreads" and line is not None and price.name != home_team:
            line = -line
        lines.setdefault(None if line is None else line + 0.0, []).append(price)
    return {k: tuple(v) for k, v in lines.items()}


def outcome_names(events: Sequence[Event]) -> tuple[str, ...]:
    """Every outcome name that appears, first-seen order (for tables)."""
    return tuple(dict.fromkeys(p.name for e in events for b in e.bookmakers for m in b.markets for p in m.outcomes))
