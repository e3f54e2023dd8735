"""Reading bar files: every real file in tests/data (and in the shared data folder when present),
the quirks (CRLF, an unnamed time column, separate date and time), and malformed files that must
fail with their line number."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from neural_trader.domain.market import Timeframe
from neural_trader.errors import NtUserError
from neural_trader.market.files import infer_timeframe, read_bars, read_csv_text, symbol_from_filename

from .conftest import DATA

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

#: file -> (symbol, timeframe, rows, first bar, last bar), from tests/data/SOURCES.md
REAL = {
    "orcl-1995-2014.txt": ("ORCL", Timeframe.DAY_1, 5036, "1995-01-03 00:00", "2014-12-31 00:00"),
    "yhoo-1996-2014.txt": ("YHOO", Timeframe.DAY_1, 4713, "1996-04-12 00:00", "2014-12-31 00:00"),
    "nvda-1999-2014.txt": ("NVDA", Timeframe.DAY_1, 4012, "1999-01-22 00:00", "2014-12-31 00:00"),
    "2006-day-001.txt": ("2006-DAY", Timeframe.DAY_1, 255, "2006-01-02 00:00", "2006-12-29 00:00"),
    "2006-min-005.txt": ("2006-MIN", Timeframe.MIN_5, 2142, "2006-01-02 09:05", "2006-01-30 17:30"),
    "2006-01-02-volume-min-001-head10000.txt": ("2006-VOLUME-MIN-HEAD10000", Timeframe.MIN_1, 10000, "2006-01-02 09:01",
                                                "2006-01-19 15:52"),
}


def _oracle(path: Path) -> dict[str, list[float]]:
    """The numbers as Python's csv module reads them, located by the header (or by position when a
    field has no name): an independent reading to hold the parser to."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.lower() for h in rows[0]]
    body = rows[1:]
    shift = 1 if len(body[0]) == len(header) + 1 else 0  # the unnamed time field
    out = {}
    for name in ("open", "high", "low", "close", "volume"):
        j = header.index(name) + (shift if header.index(name) > 0 else 0)
        out[name] = [float(r[j]) for r in body]
    return out


@pytest.mark.parametrize("name", sorted(REAL))
def test_each_real_file_parses_to_the_numbers_in_it(name: str) -> None:
    symbol, timeframe, rows, first, last = REAL[name]
    bars = read_bars(DATA / name)
    assert (bars.symbol, bars.timeframe, len(bars), bars.provider) == (symbol, timeframe, rows, "csv")
    assert bars.first == dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
    assert bars.last == dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC)
    expected = _oracle(DATA / name)
    for column, values in expected.items():
        assert getattr(bars, column).tolist() == values, column
    assert bool(np.all(np.diff(bars.ts) > 0)) and bars.dropped == ()


def test_every_tests_data_bar_file_is_covered() -> None:
    bar_files = {p.name for p in DATA.glob("*.txt")}
    assert bar_files == set(REAL)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared data folder is not beside this checkout")
def test_every_file_of_the_shared_data_folder_loads_or_says_why_not() -> None:
    for path in sorted(SHARED.iterdir()):
        if path.suffix not in (".txt", ".csv"):
            continue
        if path.name.startswith("football-data"):
            with pytest.raises(NtUserError, match="not a file of bars"):
                read_bars(path)
            continue
        bars = read_bars(path)
        assert len(bars) > 200, path.name
    full = read_bars(SHARED / "2006-01-02-volume-min-001.txt")
    assert len(full) == 30889 and full.last == dt.datetime(2006, 2, 27, 22, 0, tzinfo=dt.UTC)


def test_crlf_and_a_header_one_name_short() -> None:
    raw = (DATA / "2006-01-02-volume-min-001-head10000.txt").read_bytes()
    assert raw[:60].count(b"\r\n") == 1  # the fixture keeps its quirks
    text = "Date,Open,High,Low,Close,Volume,OpenInterest\r\n2006-01-02,09:01:00,3602.00,3603.00,3597.00,3599.00,5699,0\r\n"
    bars = read_csv_text(text + "2006-01-02,09:02:00,3600.00,3601.00,3598.00,3599.00,894,0\r\n", name="f", symbol="F")
    assert bars.first == dt.datetime(2006, 1, 2, 9, 1, tzinfo=dt.UTC)
    assert bars.volume.tolist() == [5699.0, 894.0] and bars.timeframe is Timeframe.MIN_1


def test_football_data_is_not_a_file_of_bars() -> None:
    text = ("Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS\n"
            "E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,C Pawson,6,17\n")
    with pytest.raises(NtUserError, match="not a file of bars: no column for open, high, low, close"):
        read_csv_text(text, name="football-data_E0_2324.csv", symbol="X")


@pytest.mark.parametrize(("text", "words"), [
    ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5\n",
     "f.csv line 3: 4 fields where the header gives 6"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,abc,1.5,10\n",
     "f.csv line 3: 'abc' in column Low is not a number"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n\n2024-13-45,1,2,0.5,1.5,10\n",
     "f.csv line 4: '2024-13-45' is not a date"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,1.2,0.5,1.5,10\n",
     "f.csv line 3: high 1.2 is below max(open 1.0, close 1.5)"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-03,1,2,0.5,1.5,10\n2024-01-02,1,2,0.5,1.5,10\n"
     "2024-01-04,1,2,0.5,1.5,10\n", "f.csv line 3: timestamp 2024-01-02T00:00:00Z is earlier"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,-3\n2024-01-03,1,2,0.5,1.5,10\n",
     "f.csv line 2: volume -3.0 is negative"),
    ("Date,Open,High\n2024-01-02,1,2,0.5,1.5,10\n", "f.csv line 2: 6 fields, but the header on line 1 names 3"),
    ("Date,Open,High,Low,Close\n", "no data rows"),
])
def test_malformed_files_fail_with_the_line_number(text: str, words: str) -> None:
    with pytest.raises(NtUserError) as caught:
        read_csv_text(text, name="f.csv", symbol="F")
    assert words in str(caught.value)


def test_bad_rows_can_be_dropped_and_are_reported_by_line() -> None:
    text = ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,1.2,0.5,1.5,10\n"
            "2024-01-04,1,2,0.5,1.5,10\n")
    bars = read_csv_text(text, name="f.csv", symbol="F", bad_rows="drop")
    assert len(bars) == 2 and [d.row for d in bars.dropped] == [3]


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,\xff,2,0.5,1.5\n")
    with pytest.raises(NtUserError, match=r"x\.csv line 3: not UTF-8"):
        read_bars(path)


@pytest.mark.parametrize(("text", "first"), [
    ("timestamp,o,h,l,c,v\n1704186000,1,2,0.5,1.5,10\n1704186060,1,2,0.5,1.5,10\n", "2024-01-02T09:00:00"),
    ("timestamp,o,h,l,c,v\n1704186000000,1,2,0.5,1.5,10\n1704186060000,1,2,0.5,1.5,10\n", "2024-01-02T09:00:00"),
    ("Datetime,Open,High,Low,Close\n2024-01-02 09:00:00Z,1,2,0.5,1.5\n2024-01-02 09:01:00Z,1,2,0.5,1.5\n",
     "2024-01-02T09:00:00"),
    ("Datetime,Open,High,Low,Close\n2024-01-02T10:00:00+01:00,1,2,0.5,1.5\n2024-01-02T10:01:00+01:00,1,2,0.5,1.5\n",
     "2024-01-02T09:00:00"),
    ("<DATE>;<TIME>;<OPEN>;<HIGH>;<LOW>;<CLOSE>\n20240102;0900;1;2;0.5;1.5\n20240102;0901;1;2;0.5;1.5\n",
     "2024-01-02T09:00:00"),
    ("\ufeffDate\tOpen\tHigh\tLow\tClose\n2024/01/02\t1\t2\t0.5\t1.5\n2024/01/03\t1\t2\t0.5\t1.5\n", "2024-01-02T00:00:00"),
    ('"Date","Open","High","Low","Close"\n"2024-01-02","1","2","0.5","1.5"\n"2024-01-03","1","2","0.5","1.5"\n',
     "2024-01-02T00:00:00"),
])
def test_time_layouts(text: str, first: str) -> None:
    bars = read_csv_text(text, name="t", symbol="T")
    assert bars.first == dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)


def test_newest_first_files_are_read_oldest_first() -> None:
    text = "Date,Open,High,Low,Close\n2024-01-04,3,3,3,3\n2024-01-03,2,2,2,2\n2024-01-02,1,1,1,1\n"
    assert read_csv_text(text, name="t", symbol="T").close.tolist() == [1.0, 2.0, 3.0]


def test_a_time_zone_for_naive_times() -> None:
    text = "Date,Time,Open,High,Low,Close\n2024-01-02,09:30,1,2,0.5,1.5\n2024-07-02,09:30,1,2,0.5,1.5\n"
    bars = read_csv_text(text, name="t", symbol="T", tz="America/New_York", timeframe="1Min")
    assert [t.hour for t in bars.times()] == [14, 13]  # EST then EDT
    with pytest.raises(NtUserError, match="unknown time zone"):
        read_csv_text(text, name="t", symbol="T", tz="Mars/Olympus")


def test_date_format_for_other_layouts() -> None:
    text = "Date,Open,High,Low,Close\n02/01/2024,1,2,0.5,1.5\n03/01/2024,1,2,0.5,1.5\n"
    bars = read_csv_text(text, name="t", symbol="T", date_format="%d/%m/%Y")
    assert bars.last == dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
    with pytest.raises(NtUserError, match="line 2: '02/01/2024' is not a date"):
        read_csv_text(text, name="t", symbol="T")


def test_adjusted_prices_scale_by_adj_close() -> None:
    bars = read_bars(DATA / "orcl-1995-2014.txt", adjusted=True)
    assert bars.close[0] == pytest.approx(1.883304) and bars.close[-1] == pytest.approx(42.303135)
    with pytest.raises(NtUserError, match="Adj Close"):
        read_bars(DATA / "2006-day-001.txt", adjusted=True)


def test_symbol_from_filename() -> None:
    assert symbol_from_filename("orcl-1995-2014.txt") == "ORCL"
    assert symbol_from_filename("BTC-USD.csv") == "BTC-USD"
    assert symbol_from_filename("/x/spy.parquet") == "SPY"


def test_timeframe_inference() -> None:
    assert infer_timeframe(np.arange(5) * 300 * 10**9) is Timeframe.MIN_5
    assert infer_timeframe(np.arange(5) * 7 * 86_400 * 10**9) is Timeframe.WEEK_1
    with pytest.raises(NtUserError, match="pass timeframe="):
        infer_timeframe(np.arange(5) * 7 * 10**9)


def test_parquet_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source = read_bars(DATA / "orcl-1995-2014.txt")
    table = pa.table({"timestamp": pa.array(source.index, type=pa.timestamp("ns", tz="UTC")),
                      **{c: getattr(source, c) for c in ("open", "high", "low", "close", "volume")}})
    pq.write_table(table, tmp_path / "orcl.parquet")
    back = read_bars(tmp_path / "orcl.parquet")
    assert back.equals(source) and back.provider == "parquet" and back.symbol == "ORCL"
    pq.write_table(pa.table({"date": pa.array(["2024-01-02", "2024-01-03"]), "open": [1.0, 1.0], "high": [2.0, 2.0],
                             "low": [0.5, 0.5], "close": [1.5, 1.0]}), tmp_path / "t.parquet")
    assert read_bars(tmp_path / "t.parquet").last == dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
