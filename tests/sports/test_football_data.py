"""The football-data.co.uk loader on the real E0 files of 2018/19 and 2023/24 (tests/data/SOURCES.md),
checked cell by cell against the raw CSV read independently with the csv module."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.football_data import parse_football_data, read_football_data

DATA = Path(__file__).resolve().parents[1] / "data"
NEW, OLD = DATA / "football-data_E0_2324.csv", DATA / "football-data_E0_1819.csv"


def raw(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def new() -> tuple:
    return read_football_data(NEW)


@pytest.fixture(scope="module")
def old() -> tuple:
    return read_football_data(OLD)


def test_both_layouts_load_every_match(new: tuple, old: tuple) -> None:
    assert len(new) == len(raw(NEW)) == 380
    assert len(old) == len(raw(OLD)) == 380
    assert all(m.time is not None for m in new) and all(m.time is None for m in old)
    assert all(m.closing("PS") is not None for m in new + old)     # Pinnacle closing odds in every match
    assert {m.home_team for m in new} == {r["HomeTeam"] for r in raw(NEW)}


def _f(r: dict[str, str], *cols: str) -> tuple[float, ...]:
    return tuple(float(r[c]) for c in cols)


@pytest.mark.parametrize("i", [0, 1, 137, 379])
def test_new_layout_rows_match_the_csv(new: tuple, i: int) -> None:
    r, m = raw(NEW)[i], new[i]
    d, mo, y = (int(x) for x in r["Date"].split("/"))
    assert m.date == dt.date(y, mo, d) and m.time == dt.time(*(int(x) for x in r["Time"].split(":")))
    assert (m.division, m.home_team, m.away_team) == (r["Div"], r["HomeTeam"], r["AwayTeam"])
    assert (m.home_goals, m.away_goals, m.result) == (int(r["FTHG"]), int(r["FTAG"]), r["FTR"])
    for book in ("B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg"):
        b = m.odds.get(book)   # absent when the row has no price of that bookmaker (IW in the last row)
        o, c = (b.opening, b.closing) if b else (None, None)
        if r[book + "H"]:
            assert (o.home, o.draw, o.away) == _f(r, book + "H", book + "D", book + "A")
        else:
            assert o is None
        if r[book + "CH"]:
            assert (c.home, c.draw, c.away) == _f(r, book + "CH", book + "CD", book + "CA")
        else:
            assert c is None
    for ours, theirs in (("B365", "B365"), ("PS", "P"), ("Max", "Max"), ("Avg", "Avg")):
        ou, ouc = m.odds[ours].opening_ou, m.odds[ours].closing_ou
        if r[theirs + ">2.5"] and r[theirs + "<2.5"]:
            assert (ou.line, ou.over, ou.under) == (2.5, *_f(r, theirs + ">2.5", theirs + "<2.5"))
        else:
            assert ou is None
        if r[theirs + "C>2.5"] and r[theirs + "C<2.5"]:
            assert (ouc.over, ouc.under) == _f(r, theirs + "C>2.5", theirs + "C<2.5")
        else:
            assert ouc is None


@pytest.mark.parametrize("i", [0, 200, 379])
def test_old_layout_rows_match_the_csv(old: tuple, i: int) -> None:
    r, m = raw(OLD)[i], old[i]
    d, mo, y = (int(x) for x in r["Date"].split("/"))
    assert m.date == dt.date(y, mo, d) and m.row == i + 1
    assert (m.home_team, m.away_team, m.home_goals, m.away_goals, m.result) == (
        r["HomeTeam"], r["AwayTeam"], int(r["FTHG"]), int(r["FTAG"]), r["FTR"])
    c = m.closing("PS")
    assert (c.home, c.draw, c.away) == _f(r, "PSCH", "PSCD", "PSCA")
    assert m.opening("PS") == m.odds["PS"].opening and m.odds["PS"].opening.home == float(r["PSH"])
    for book in ("BbMx", "BbAv"):
        o = m.odds[book].opening
        assert (o.home, o.draw, o.away) == _f(r, book + "H", book + "D", book + "A")
        assert m.odds[book].closing is None
        assert (m.odds[book].opening_ou.over, m.odds[book].opening_ou.under) == _f(r, book + ">2.5", book + "<2.5")
    assert m.odds["B365"].closing is None and m.odds["B365"].opening_ou is None


HEADER = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,PSCH,PSCD,PSCA\n"


def test_text_input_and_empty_cells() -> None:
    text = "\ufeff" + HEADER + "E0,11/08/23,20:00,A,B,1,1,D,2.1,3.4,3.6,,,\n,,,,,,,,,,,,,\n"
    (m,) = parse_football_data(text)
    assert m.date == dt.date(2023, 8, 11) and m.result == "D"
    assert m.opening("PS").draw == 3.4 and m.closing("PS") is None and m.closing("B365") is None


@pytest.mark.parametrize(("text", "message"), [
    ("Div,Date,HomeTeam,AwayTeam,FTHG\nE0,11/08/2023,A,B,1\n", "missing the columns FTAG, FTR"),
    (HEADER + "E0,11/08/2023,20:00,A,B,1,0,H,2,3,4,2,3,4\nE0,2023-08-12,20:00,A,B,1,0,H,2,3,4,2,3,4\n",
     "row 2: Date must be dd/mm/yyyy, got '2023-08-12'"),
    (HEADER + "E0,11/08/2023,8pm,A,B,1,0,H,2,3,4,2,3,4\n", "row 1: Time must be HH:MM"),
    (HEADER + "E0,11/08/2023,20:00,A,B,1,0,A,2,3,4,2,3,4\n", "row 1: FTR 'A' does not match the score 1-0"),
    (HEADER + "E0,11/08/2023,20:00,A,B,x,0,H,2,3,4,2,3,4\n", "row 1: FTHG must be a whole number"),
    (HEADER + "E0,11/08/2023,20:00,A,B,1,0,H,2,abc,4,2,3,4\n", "row 1: odds columns PSH, PSD, PSA"),
    ("", "the football-data CSV is empty"),
])
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(NtUserError, match=re.escape(message)):
        parse_football_data(text)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(NtUserError, match="cannot be read"):
        read_football_data(tmp_path / "nope.csv")
