"""Loader for football-data.co.uk results-and-odds CSVs (e.g. ``E0.csv``, the English Premier League).

Both layouts load: the newer one (2019/20 on: a ``Time`` column, opening odds ``B365H/D/A``, closing
odds ``B365CH/CD/CA``, ``PSCH``, ``MaxCH``, ``AvgCH``, over/under 2.5 ``B365>2.5``/``B365C>2.5``...)
and the older one (no ``Time``, BetBrain aggregates ``BbMxH``/``BbAvH``, ``BbMx>2.5``, Pinnacle closing
``PSCH/PSCD/PSCA`` only). Dates are ``dd/mm/yyyy`` (``dd/mm/yy`` in very old files); times are the
file's local kick-off ``HH:MM`` (UK time), kept as a naive ``time``.

Bookmakers are keyed by football-data's column prefix: ``B365`` (bet365), ``BW`` (bwin), ``IW``
(Interwetten), ``PS`` (Pinnacle), ``WH`` (William Hill), ``VC`` (BetVictor), ``Max``/``Avg`` (market
maximum/average), ``BbMx``/``BbAv`` (BetBrain maximum/average) and any other prefix the file has.
A 1X2 prefix is any ``X`` with ``XH``, ``XD``, ``XA`` columns; ``XC`` + H/D/A are its closing odds.
Over/under 2.5 columns are ``X>2.5``/``X<2.5`` (closing ``XC>2.5``); football-data writes Pinnacle
as ``P`` there, which is keyed ``PS`` here so that one bookmaker has one key. A price block with an
empty cell is None for that match (not a partial quote).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import attrs

from neural_trader.errors import NtUserError

__all__ = ["BOOKMAKERS", "REQUIRED_COLUMNS", "BookmakerOdds", "Match", "OneXTwo", "OverUnder",
           "parse_football_data", "read_football_data"]

REQUIRED_COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR")
BOOKMAKERS: Mapping[str, str] = {
    "B365": "bet365", "BW": "bwin", "IW": "Interwetten", "PS": "Pinnacle", "WH": "William Hill",
    "VC": "BetVictor", "LB": "Ladbrokes", "SJ": "Stan James", "GB": "Gamebookers", "BS": "Blue Square",
    "SB": "Sportingbet", "SO": "Sporting Odds", "Max": "market maximum", "Avg": "market average",
    "BbMx": "BetBrain maximum", "BbAv": "BetBrain average",
}
_OU_ALIASES = {"P": "PS"}
_OU = re.compile(r"^(?P<book>[A-Za-z0-9]+?)(?P<close>C?)(?P<side>[<>])2\.5$")


@attrs.frozen(kw_only=True)
class OneXTwo:
    """Decimal odds of a home win, a draw and an away win."""

    home: float
    draw: float
    away: float


@attrs.frozen(kw_only=True)
class OverUnder:
    """Decimal odds of over and under ``line`` total goals."""

    line: float
    over: float
    under: float


@attrs.frozen(kw_only=True)
class BookmakerOdds:
    """One bookmaker's prices for one match: opening (the file's pre-match columns) and closing
    1X2 and over/under 2.5, each None where the file has no such columns or an empty cell."""

    bookmaker: str
    opening: OneXTwo | None = None
    closing: OneXTwo | None = None
    opening_ou: OverUnder | None = None
    closing_ou: OverUnder | None = None


@attrs.frozen(kw_only=True)
class Match:
    """One match: ``result`` is ``H``, ``D`` or ``A`` (full time); ``time`` is None in files without a
    ``Time`` column; ``odds`` maps bookmaker prefix -> :class:`BookmakerOdds` (only bookmakers with
    at least one price for this match); ``row`` is the 1-based data row in the file."""

    division: str
    date: dt.date
    time: dt.time | None
    home_team: str
    away_team: str
    home_goals: int
    away_goals: int
    result: str
    odds: Mapping[str, BookmakerOdds] = attrs.field(hash=False)
    row: int

    def closing(self, bookmaker: str) -> OneXTwo | None:
        """The bookmaker's closing 1X2 odds, None if there are none."""
        b = self.odds.get(bookmaker)
        return b.closing if b else None

    def opening(self, bookmaker: str) -> OneXTwo | None:
        """The bookmaker's opening (pre-match) 1X2 odds, None if there are none."""
        b = self.odds.get(bookmaker)
        return b.opening if b else None


@attrs.frozen
class _Layout:
    one_x_two: dict[str, tuple[str | None, str | None]]     # book -> (opening prefix, closing prefix)
    over_under: dict[str, dict[tuple[bool, str], str]]      # book -> {(closing, side): column}


def _layout(header: list[str]) -> _Layout:
    cols = set(header)
    triples = [c[:-1] for c in header if c.endswith("H") and c[:-1] and {c[:-1] + "D", c[:-1] + "A"} <= cols]
    prefixes = set(triples)
    one: dict[str, tuple[str | None, str | None]] = {}
    for p in triples:
        base = p[:-1]
        if p.endswith("C") and base and (base in prefixes or base in BOOKMAKERS):
            one[base] = (one.get(base, (None, None))[0], p)
        else:
            one[p] = (p, one.get(p, (None, None))[1])
    ou: dict[str, dict[tuple[bool, str], str]] = {}
    for c in header:
        m = _OU.match(c)
        if m:
            book = _OU_ALIASES.get(m["book"], m["book"])
            ou.setdefault(book, {})[(bool(m["close"]), m["side"])] = c
    return _Layout(one_x_two=one, over_under=ou)


def _odds(row: dict[str, str], cols: tuple[str, ...], line: int) -> tuple[float, ...] | None:
    cells = [row.get(c, "").strip() for c in cols]
    if any(not v for v in cells):
        return None
    try:
        vals = tuple(float(v) for v in cells)
    except ValueError:
        raise NtUserError(f"row {line}: odds columns {', '.join(cols)} must be decimal numbers, got {cells!r}") from None
    if not all(v > 1.0 for v in vals):
        raise NtUserError(f"row {line}: odds columns {', '.join(cols)} must be decimal odds > 1, got {cells!r}")
    return vals


def _date(text: str, line: int) -> dt.date:
    for fmt in ("%d/%m/%Y", "%d/%m/%y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise NtUserError(f"row {line}: Date must be dd/mm/yyyy, got {text!r}")


def _int(row: dict[str, str], col: str, line: int) -> int:
    text = row[col].strip()
    if not text.isdigit():
        raise NtUserError(f"row {line}: {col} must be a whole number of goals, got {text!r}")
    return int(text)


def parse_football_data(text: str) -> tuple[Match, ...]:
    """Matches of a football-data.co.uk CSV given as text (see the module docstring)."""
    if not isinstance(text, str):
        raise NtUserError(f"text must be the CSV's contents as a string, got {type(text).__name__}")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise NtUserError("the football-data CSV is empty: expected a header row with "
                          f"{', '.join(REQUIRED_COLUMNS)}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise NtUserError(f"the football-data CSV is missing the columns {', '.join(missing)} (needs "
                          f"{', '.join(REQUIRED_COLUMNS)}); is it a football-data.co.uk results file?",
                          details={"missing": missing})
    layout = _layout(header)
    has_time = "Time" in header
    matches: list[Match] = []
    for n, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue   # football-data files sometimes end with rows of empty cells
        if len(cells) > len(header):
            raise NtUserError(f"row {n}: {len(cells)} cells for {len(header)} columns")
        row = dict(zip(header, cells, strict=False))
        time: dt.time | None = None
        if has_time and row.get("Time", "").strip():
            try:
                time = dt.datetime.strptime(row["Time"].strip(), "%H:%M").time()
            except ValueError:
                raise NtUserError(f"row {n}: Time must be HH:MM, got {row['Time']!r}") from None
        hg, ag = _int(row, "FTHG", n), _int(row, "FTAG", n)
        result = row["FTR"].strip()
        if result not in ("H", "D", "A"):
            raise NtUserError(f"row {n}: FTR must be H, D or A, got {result!r}")
        if result != ("H" if hg > ag else "A" if ag > hg else "D"):
            raise NtUserError(f"row {n}: FTR {result!r} does not match the score {hg}-{ag}")
        books: dict[str, BookmakerOdds] = {}
        for book in sorted(set(layout.one_x_two) | set(layout.over_under)):
            op, cl = layout.one_x_two.get(book, (None, None))
            o = _odds(row, (op + "H", op + "D", op + "A"), n) if op else None
            c = _odds(row, (cl + "H", cl + "D", cl + "A"), n) if cl else None
            ou = layout.over_under.get(book, {})
            ouo = _odds(row, (ou[(False, ">")], ou[(False, "<")]), n) if {(False, ">"), (False, "<")} <= ou.keys() else None
            ouc = _odds(row, (ou[(True, ">")], ou[(True, "<")]), n) if {(True, ">"), (True, "<")} <= ou.keys() else None
            if o or c or ouo or ouc:
                books[book] = BookmakerOdds(
                    bookmaker=book,
                    opening=OneXTwo(home=o[0], draw=o[1], away=o[2]) if o else None,
                    closing=OneXTwo(home=c[0], draw=c[1], away=c[2]) if c else None,
                    opening_ou=OverUnder(line=2.5, over=ouo[0], under=ouo[1]) if ouo else None,
                    closing_ou=OverUnder(line=2.5, over=ouc[0], under=ouc[1]) if ouc else None)
        matches.append(Match(division=row["Div"].strip(), date=_date(row["Date"], n), time=time,
                             home_team=row["HomeTeam"].strip(), away_team=row["AwayTeam"].strip(), home_goals=hg,
                             away_goals=ag, result=result, odds=books, row=n))
    return tuple(matches)


def read_football_data(path: str | PathLike[str]) -> tuple[Match, ...]:
    """Matches of a football-data.co.uk CSV file (UTF-8, or Latin-1 as some older files are)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise NtUserError(f"path {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_football_data(text)
