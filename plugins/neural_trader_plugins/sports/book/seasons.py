"""Seasons of football-data.co.uk results and odds that the sportsbook's research operations read.

Two seasons come with a source checkout (``data/``): ``E0_1819`` and ``E0_2324``, the English Premier
League 2018/19 (older layout) and 2023/24 (newer layout). They are football-data.co.uk's files, under
that site's terms, so the wheel does not carry them (see tests/data/SOURCES.md). More go in a directory named by
``NT_FOOTBALL_DATA_DIR`` (or ``[plugins.football_data] dir``: the folder the ``football_data`` odds
source reads) as ``<key>.csv`` (e.g. ``E0_2223.csv``, a football-data file saved as it is). Operations name seasons by key, never by
path, so a REST caller cannot make the server read an arbitrary file.

A match's **event id** is the odds sources' (:func:`~neural_trader_plugins.sports.football_data_events.event_id`,
``E0-20230811-burnley-man-city``): events, value bets and bets carry it and settlement looks results up by it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader_plugins.sports.book.goals import Result
from neural_trader_plugins.sports.football_data import Match, OneXTwo, read_football_data
from neural_trader_plugins.sports.football_data_events import event_id

__all__ = ["EMBEDDED", "KEY_PATTERN", "closing_1x2", "event_id", "load_season", "results_of", "sport_of"]

_DATA = Path(__file__).parent / "data"
#: The seasons that ship with the plugin: key -> file in ``data/``.
EMBEDDED = {"E0_1819": "football-data_E0_1819.csv", "E0_2324": "football-data_E0_2324.csv"}
KEY_PATTERN = r"^[A-Za-z0-9]{1,4}_[0-9]{4}$"
#: football-data division -> The Odds API sport key (what ``sport`` says on a bet).
_SPORTS = {"E0": "soccer_epl", "E1": "soccer_efl_champ", "SP1": "soccer_spain_la_liga",
           "D1": "soccer_germany_bundesliga", "I1": "soccer_italy_serie_a", "F1": "soccer_france_ligue_one",
           "N1": "soccer_netherlands_eredivisie", "P1": "soccer_portugal_primeira_liga"}
_cache: dict[tuple[str, int, int], tuple[Match, ...]] = {}
_lock = threading.Lock()


def _directory(settings: Any) -> Path | None:
    from neural_trader.settings import plugin_env

    value = plugin_env(settings, "football_data", "dir") if settings is not None else None
    return Path(value) if value else None


def available(settings: Any = None) -> list[str]:
    """Every season key: the embedded ones present and those in the data directory."""
    keys = {key for key, name in EMBEDDED.items() if (_DATA / name).is_file()}
    directory = _directory(settings)
    if directory is not None and directory.is_dir():
        keys |= {p.stem for p in directory.glob("*.csv") if re.match(KEY_PATTERN, p.stem)}
    return sorted(keys)


def _path(key: str, settings: Any) -> Path:
    if not re.match(KEY_PATTERN, key):
        raise NtUserError(f"season must be a key like E0_2324 (division_season), got {key!r}")
    directory = _directory(settings)
    if directory is not None and (directory / f"{key}.csv").is_file():
        return directory / f"{key}.csv"
    if key in EMBEDDED and (_DATA / EMBEDDED[key]).is_file():  # a source checkout has them; a wheel does not
        return _DATA / EMBEDDED[key]
    known = available(settings)
    choose = f"choose one of {', '.join(known)}, or " if known else ""
    raise NtNotFound(f"season {key!r} is not available: {choose}save football-data.co.uk's file as {key}.csv in "
                     "NT_FOOTBALL_DATA_DIR", details={"field": "season"})


def load_season(key: str, settings: Any = None) -> tuple[Match, ...]:
    """The matches of season ``key``, in file order (parsed once per file version)."""
    path = _path(key, settings)
    stat = path.stat()
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if cache_key in _cache:
            return _cache[cache_key]
    matches = read_football_data(path)
    with _lock:
        _cache[cache_key] = matches
    return matches


def sport_of(match: Match) -> str:
    return _SPORTS.get(match.division, f"soccer_{match.division.lower()}")


def results_of(matches: Sequence[Match]) -> list[Result]:
    return [Result(date=m.date, home_team=m.home_team, away_team=m.away_team, home_goals=m.home_goals,
                   away_goals=m.away_goals) for m in matches]


def before(matches: Sequence[Match], day: dt.date) -> list[Match]:
    """The matches played strictly before ``day``: all a model may see when it prices ``day``."""
    return [m for m in matches if m.date < day]


def closing_1x2(match: Match, bookmakers: Sequence[str]) -> tuple[str, OneXTwo] | None:
    """The first of ``bookmakers`` with closing 1X2 odds for ``match``, and those odds."""
    for book in bookmakers:
        odds = match.closing(book)
        if odds is not None:
            return book, odds
    return None
