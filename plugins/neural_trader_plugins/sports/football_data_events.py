"""football-data.co.uk files as odds-source events: every ``*.csv`` of a folder, parsed once per
file version, each match an :class:`~.events.Event` with its bookmakers' opening or closing prices.

* **sport keys**: a division code maps to The Odds API's key where there is one (``E0`` ->
  ``soccer_epl``), so the same league has one name in every source; others are ``soccer_fd_<div>``.
* **event ids**: ``<Div>-<yyyymmdd>-<home>-<away>`` (``E0-20230811-burnley-man-city``), stable
  across re-downloads of the file.
* **kick-off**: the file's UK local ``Time`` converted to UTC; files without a ``Time`` column (the
  older layout) only know the date, kept as midnight UTC of that day.
* **markets**: ``h2h`` (outcomes named by the teams and ``Draw``, as The Odds API names them) and
  ``totals`` at 2.5 goals (``Over``/``Under``). ``stage`` picks the pre-match columns (``opening``)
  or the closing ones (``closing``).
* **bookmakers**: football-data's column prefixes keyed as The Odds API keys the same books
  (``PS`` -> ``pinnacle``, ``WH`` -> ``williamhill``...); ``Max``/``Avg``/``BbMx``/``BbAv`` are the
  market maximum and average across books: marked ``aggregate``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports import football_data
from neural_trader_plugins.sports.events import BookmakerOdds, Event, Market, Price, Sport, slug

__all__ = ["BOOK_KEYS", "DIVISIONS", "FootballDataFiles", "match_event", "sport_key"]

#: football-data division -> (The Odds API sport key, title, country).
DIVISIONS: dict[str, tuple[str, str, str]] = {
    "E0": ("soccer_epl", "EPL", "English Premier League"),
    "E1": ("soccer_efl_champ", "Championship", "English Championship"),
    "E2": ("soccer_england_league1", "League 1", "English League One"),
    "E3": ("soccer_england_league2", "League 2", "English League Two"),
    "SC0": ("soccer_spl", "Premiership - Scotland", "Scottish Premiership"),
    "D1": ("soccer_germany_bundesliga", "Bundesliga - Germany", "German Bundesliga"),
    "D2": ("soccer_germany_bundesliga2", "Bundesliga 2 - Germany", "German Bundesliga 2"),
    "I1": ("soccer_italy_serie_a", "Serie A - Italy", "Italian Serie A"),
    "I2": ("soccer_italy_serie_b", "Serie B - Italy", "Italian Serie B"),
    "SP1": ("soccer_spain_la_liga", "La Liga - Spain", "Spanish La Liga"),
    "SP2": ("soccer_spain_segunda_division", "La Liga 2 - Spain", "Spanish Segunda Division"),
    "F1": ("soccer_france_ligue_one", "Ligue 1 - France", "French Ligue 1"),
    "F2": ("soccer_france_ligue_two", "Ligue 2 - France", "French Ligue 2"),
    "N1": ("soccer_netherlands_eredivisie", "Dutch Eredivisie", "Dutch Eredivisie"),
    "B1": ("soccer_belgium_first_div", "Belgium First Div", "Belgian First Division A"),
    "P1": ("soccer_portugal_primeira_liga", "Primeira Liga - Portugal", "Portuguese Primeira Liga"),
    "T1": ("soccer_turkey_super_league", "Turkey Super League", "Turkish Super Lig"),
    "G1": ("soccer_greece_super_league", "Super League - Greece", "Greek Super League"),
}

#: football-data column prefix -> (bookmaker key as The Odds API writes it, title, aggregate).
BOOK_KEYS: dict[str, tuple[str, str, bool]] = {
    "B365": ("bet365", "bet365", False), "BW": ("bwin", "bwin", False), "IW": ("interwetten", "Interwetten", False),
    "PS": ("pinnacle", "Pinnacle", False), "WH": ("williamhill", "William Hill", False),
    "VC": ("betvictor", "BetVictor", False), "LB": ("ladbrokes", "Ladbrokes", False),
    "SJ": ("stanjames", "Stan James", False), "GB": ("gamebookers", "Gamebookers", False),
    "BS": ("bluesquare", "Blue Square", False), "SB": ("sportingbet", "Sportingbet", False),
    "SO": ("sportingodds", "Sporting Odds", False), "Max": ("market_max", "market maximum", True),
    "Avg": ("market_avg", "market average", True), "BbMx": ("betbrain_max", "BetBrain maximum", True),
    "BbAv": ("betbrain_avg", "BetBrain average", True),
}
_UK = ZoneInfo("Europe/London")
STAGES = ("opening", "closing")


def sport_key(division: str) -> str:
    known = DIVISIONS.get(division)
    return known[0] if known else f"soccer_fd_{slug(division).replace('-', '_')}"


def _book(prefix: str) -> tuple[str, str, bool]:
    return BOOK_KEYS.get(prefix, (prefix.lower(), football_data.BOOKMAKERS.get(prefix, prefix), False))


def _kickoff(match: football_data.Match) -> dt.datetime:
    if match.time is None:
        return dt.datetime.combine(match.date, dt.time(0, 0), tzinfo=dt.UTC)
    return dt.datetime.combine(match.date, match.time, tzinfo=_UK).astimezone(dt.UTC)


def event_id(match: football_data.Match) -> str:
    """A match's id in every operation (events, odds, value bets, bets, settlement):
    ``<division>-<yyyymmdd>-<home>-<away>`` with the team names slugged (``E0-20230811-burnley-man-city``)."""
    return f"{match.division}-{match.date:%Y%m%d}-{slug(match.home_team)}-{slug(match.away_team)}"


def match_event(match: football_data.Match, stage: str = "closing") -> Event:
    """One match as an event with its bookmakers' ``stage`` prices (``opening`` or ``closing``)."""
    if stage not in STAGES:
        raise NtUserError(f"stage must be opening or closing for football-data files, got {stage!r}")
    closing = stage == "closing"
    books = []
    for prefix, odds in match.odds.items():
        markets = []
        x12 = odds.closing if closing else odds.opening
        if x12 is not None:
            markets.append(Market(key="h2h", outcomes=(Price(name=match.home_team, price=x12.home),
                                                       Price(name="Draw", price=x12.draw),
                                                       Price(name=match.away_team, price=x12.away))))
        ou = odds.closing_ou if closing else odds.opening_ou
        if ou is not None:
            markets.append(Market(key="totals", outcomes=(Price(name="Over", price=ou.over, point=ou.line),
                                                          Price(name="Under", price=ou.under, point=ou.line))))
        if markets:
            key, title, aggregate = _book(prefix)
            books.append(BookmakerOdds(key=key, title=title, markets=tuple(markets), aggregate=aggregate))
    division = DIVISIONS.get(match.division)
    return Event(id=event_id(match),
                 sport_key=sport_key(match.division), sport_title=division[1] if division else match.division,
                 commence_time=_kickoff(match), home_team=match.home_team, away_team=match.away_team,
                 bookmakers=tuple(sorted(books, key=lambda b: b.key)), home_score=match.home_goals,
                 away_score=match.away_goals, stage=stage)


class FootballDataFiles:
    """The matches of every ``*.csv`` in a folder; each file is parsed again only when it changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int], tuple[football_data.Match, ...]]] = {}

    def matches(self, folder: Path) -> tuple[football_data.Match, ...]:
        """Every match of the folder's files, by kick-off (an absent folder has none)."""
        if not folder.is_dir():
            return ()
        found: list[football_data.Match] = []
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file()):
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._parsed.get(path)
            if cached is None or cached[0] != stamp:
                try:
                    parsed = football_data.read_football_data(path)
                except NtUserError as exc:
                    raise NtUserError(f"football-data file {path.name}: {exc}") from None
                with self._lock:
                    self._parsed[path] = (stamp, parsed)
                cached = (stamp, parsed)
            found.extend(cached[1])
        found.sort(key=lambda m: (m.date, m.time or dt.time(0, 0), m.home_team))
        return tuple(found)

    def sports(self, folder: Path) -> tuple[Sport, ...]:
        """One sport per division found, with the seasons the files cover in the description."""
        by_div: dict[str, list[dt.date]] = {}
        for m in self.matches(folder):
            by_div.setdefault(m.division, []).append(m.date)
        out = []
        for div, dates in sorted(by_div.items()):
            known = DIVISIONS.get(div)
            out.append(Sport(key=sport_key(div), group="Soccer", title=known[1] if known else div,
                             description=f"{known[2] if known else div}: {len(dates)} matches, "
                                         f"{min(dates):%Y-%m-%d} to {max(dates):%Y-%m-%d}",
                             active=False, has_outrights=False))
        return tuple(out)

    def events(self, folder: Path, *, sport: str | None = None, stage: str = "closing",
               start: dt.datetime | None = None, end: dt.datetime | None = None,
               ids: Iterable[str] | None = None) -> tuple[Event, ...]:
        """Matches as events, filtered by sport key, kick-off in ``[start, end]`` and ids."""
        wanted = set(ids) if ids is not None else None
        out = []
        for m in self.matches(folder):
            if sport is not None and sport_key(m.division) != sport:
                continue
            kickoff = _kickoff(m)
            if (start is not None and kickoff < start) or (end is not None and kickoff > end):
                continue
            event = match_event(m, stage)
            if wanted is None or event.id in wanted:
                out.append(event)
        return tuple(out)
