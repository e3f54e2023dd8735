"""Bars from files: CSV in the shapes found in the wild, and Parquet when pyarrow is installed.

CSV shapes read: Yahoo Finance (``Date,Open,High,Low,Close,Adj Close,Volume``), generic OHLCV with a
date or date-time column, separate date and time columns, a header that names one field fewer than
each row has (an unnamed time column, as in backtrader's minute files), CRLF line endings, a UTF-8
byte-order mark, ``;``/tab/``|`` delimiters, quoted fields, ``<DATE>``-style names, newest-first
files. Dates may be ISO (``2006-01-02``, ``2006/01/02``), ``20060102``, ISO date-times with ``T``
or a space (``Z`` or an offset allowed), or epoch seconds/milliseconds; anything else needs
``date_format`` (strptime). Naive times are UTC unless ``tz`` names their zone.

A file that cannot be read fails with its name, line number and what is wrong; bad bars (high below
close, negative volume ...) are rejected or dropped by :class:`~neural_trader.domain.market.BadRowPolicy`.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neural_trader.domain.market import BadRowPolicy, Bars, Timeframe
from neural_trader.errors import NtUserError

__all__ = ["BAR_FILE_SUFFIXES", "infer_timeframe", "read_bars", "read_csv_text", "symbol_from_filename"]

BAR_FILE_SUFFIXES = (".csv", ".txt", ".parquet", ".pq")

_ROLES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "tradedate", "tradingday", "d"),
    "time": ("time", "tm"),
    "datetime": ("datetime", "timestamp", "ts", "t", "dt", "datetimeutc", "timeutc", "date_time"),
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "last", "closeprice"),
    "adjclose": ("adjclose", "adjustedclose", "adjclosing"),
    "volume": ("volume", "vol", "v"),
}
_NAME_TO_ROLE = {alias: role for role, aliases in _ROLES.items() for alias in aliases}
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_EPOCH_RE = re.compile(r"^\d{9,13}$")
_COMPACT_DATE_RE = re.compile(r"^\d{8}$")
_SLASH_DATE_RE = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}")
_OFFSET_RE = re.compile(r"[+-]\d{2}:?\d{2}$")


def _norm(name: str) -> str:
    return re.sub(r"[\s_.<>\"'*()-]", "", name.strip().lower())


def symbol_from_filename(path: Path | str) -> str:
    """``orcl-1995-2014.txt`` -> ``ORCL``; ``BTC-USD.csv`` -> ``BTC-USD`` (a dated suffix is dropped)."""
    stem = Path(path).stem
    parts = stem.split("-")
    kept = [parts[0]] + [p for p in parts[1:] if not p.isdigit()]
    return "-".join(kept).upper()


def infer_timeframe(ts: np.ndarray) -> Timeframe:
    """The timeframe whose length is closest to the typical spacing of ``ts`` (int64 ns)."""
    steps = np.diff(ts)
    if not bool(np.all(steps > 0)):
        steps = np.diff(np.unique(ts))  # sorted and distinct: disorder is for validation to report
    if not len(steps):
        raise NtUserError("cannot tell the timeframe of fewer than two bar times; pass timeframe=")
    step = float(np.median(steps)) / 1e9
    if step >= 25 * 86_400:
        return Timeframe.MONTH_1
    if step >= 5 * 86_400:
        return Timeframe.WEEK_1
    if step >= 20 * 3600:
        return Timeframe.DAY_1
    for tf in (Timeframe.HOUR_4, Timeframe.HOUR_1, Timeframe.MIN_30, Timeframe.MIN_15, Timeframe.MIN_5,
               Timeframe.MIN_1):
        if abs(step - tf.seconds) <= 0.2 * tf.seconds:
            return tf
    raise NtUserError(f"bars are {step:g} s apart, which is no supported timeframe; pass timeframe=")


def read_bars(path: Path | str, *, symbol: str | None = None, timeframe: Timeframe | str | None = None,
              tz: str | None = None, bad_rows: BadRowPolicy | str = BadRowPolicy.REJECT,
              adjusted: bool = False, date_format: str | None = None) -> Bars:
    """Read a CSV or Parquet file of bars (the provider label is ``csv`` or ``parquet``).

    :param symbol: default from the file name (:func:`symbol_from_filename`).
    :param timeframe: default inferred from the timestamps.
    :param adjusted: scale open/high/low/close by ``Adj Close / Close`` where the file has it.
    """
    path = Path(path)
    symbol = symbol or symbol_from_filename(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path, symbol=symbol, timeframe=timeframe, tz=tz, bad_rows=bad_rows,
                             adjusted=adjusted)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NtUserError(f"no such file: {path}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise NtUserError(f"{path.name} line {line}: not UTF-8 text ({exc.reason})") from None
    return read_csv_text(text, name=path.name, symbol=symbol, timeframe=timeframe, tz=tz,
                         bad_rows=bad_rows, adjusted=adjusted, date_format=date_format)


def read_csv_text(text: str, *, name: str, symbol: str, timeframe: Timeframe | str | None = None,
                  tz: str | None = None, bad_rows: BadRowPolicy | str = BadRowPolicy.REJECT,
                  adjusted: bool = False, date_format: str | None = None) -> Bars:
    """Bars from CSV text; ``name`` is used in error messages."""
    header_no, header, fields, line_nos = _fields(text, name)
    names = _resolve_header(name, header, header_no, [col[0] for col in fields], line_nos)
    roles = _roles(name, names)
    columns = {role: fields[j] for role, j in roles.items()}
    ts = _timestamps(name, columns, line_nos, tz=tz, date_format=date_format)
    values: dict[str, np.ndarray] = {
        role: _floats(name, role, names[roles[role]], columns[role], line_nos)
        for role in ("open", "high", "low", "close", "volume", "adjclose") if role in columns}
    return _assemble(name, symbol, timeframe, "csv", ts, values, line_nos, bad_rows, adjusted)


_SKIPPED_LINE = re.compile(r"[ \t]*(#.*)?")


def _fields(text: str, name: str) -> tuple[int, list[str], list[Sequence[str]], np.ndarray]:
    """(header line number, header names, the columns as sequences of text, data line numbers).

    Blank lines and ``#`` comments are skipped (line numbers stay those of the file). Fast path for
    files without quotes: a field count per line proves the rows line up, then one split of the
    whole text and a strided slice per column.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    # Cheap tests first: most files have no blank or comment lines, and numbering them all costs.
    filtered = "" in lines or "\n#" in "\n" + text or (bool(lines) and lines[-1].isspace())
    header_no, header_line, data, line_nos = _numbered(lines, filtered)
    if not data:
        raise NtUserError(f"{name}: no data rows (a header line and at least one row are needed)")
    delim = max(",;\t|", key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delim))
    if '"' not in text:
        counts = set(map(str.count, data, itertools.repeat(delim)))
        if len(counts) > 1 and not filtered:  # maybe whitespace-only lines or indented comments
            header_no, header_line, data, line_nos = _numbered(lines, True)
            counts = set(map(str.count, data, itertools.repeat(delim)))
        if len(counts) == 1:
            width = counts.pop() + 1
            flat = delim.join(data).split(delim)
            return header_no, header, [flat[j::width] for j in range(width)], line_nos
        rows = [line.split(delim) for line in data]
    else:
        rows = list(csv.reader(data, delimiter=delim))
    _check_widths(name, rows, line_nos, len(header))
    return header_no, header, [list(col) for col in zip(*rows, strict=True)], line_nos


def _numbered(lines: list[str], filtered: bool) -> tuple[int, str, list[str], np.ndarray]:
    """(header line number, header line, data lines, their line numbers), skipping blank and
    comment lines when ``filtered``."""
    if not filtered:
        return 1, lines[0] if lines else "", lines[1:], np.arange(2, len(lines) + 1, dtype=np.int64)
    numbered = [(i + 1, line) for i, line in enumerate(lines) if not _SKIPPED_LINE.fullmatch(line)]
    header_no, header_line = numbered[0] if numbered else (1, "")
    data = [line for _, line in numbered[1:]]
    return header_no, header_line, data, np.fromiter((n for n, _ in numbered[1:]), dtype=np.int64, count=len(data))


def _check_widths(name: str, rows: list[list[str]], line_nos: np.ndarray, named: int) -> None:
    """Rows of unequal length: name the first that differs from the first row."""
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise NtUserError(f"{name} line {line_nos[i]}: {len(row)} fields where the header gives "
                              f"{named}{f' (and line {line_nos[0]} has {width})' if width != named else ''}")


def _resolve_header(name: str, header: list[str], header_no: int, first: list[str],
                    line_nos: np.ndarray) -> list[str]:
    names = [h.strip() for h in header]
    if len(first) == len(names) + 1:
        # An unnamed field: accept it only when it is plainly a time of day and no column is one.
        has_time = any(_NAME_TO_ROLE.get(_norm(n)) in ("time", "datetime") for n in names)
        spots = [j for j, value in enumerate(first) if _TIME_RE.match(value.strip())]
        if not has_time and len(spots) == 1:
            names.insert(spots[0], "Time")
            return names
    if len(first) != len(names):
        raise NtUserError(
            f"{name} line {line_nos[0]}: {len(first)} fields, but the header on line {header_no} names "
            f"{len(names)} ({', '.join(names)}); fix the header so each field has a name")
    return names


def _roles(name: str, names: Sequence[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for j, column in enumerate(names):
        role = _NAME_TO_ROLE.get(_norm(column))
        if role == "time" and "date" not in {_NAME_TO_ROLE.get(_norm(n)) for n in names}:
            role = "datetime"
        if role is not None and role not in roles:
            roles[role] = j
    missing = [r for r in ("open", "high", "low", "close") if r not in roles]
    if missing or not ({"date", "datetime"} & set(roles)):
        need = ", ".join(missing + ([] if {"date", "datetime"} & set(roles) else ["a date or timestamp"]))
        raise NtUserError(f"{name}: this is not a file of bars: no column for {need} "
                          f"(columns: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''})")
    return roles


def _floats(name: str, role: str, column: str, values: Sequence[str], line_nos: np.ndarray) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(values))
    for i, value in enumerate(values):
        try:
            out[i] = float(value)
        except ValueError:
            if not value.strip() and role == "volume":
                out[i] = np.nan
                continue
            raise NtUserError(f"{name} line {line_nos[i]}: {value!r} in column {column} is not a number") from None
    return out


def _timestamps(name: str, columns: dict[str, Sequence[str]], line_nos: np.ndarray, *, tz: str | None,
                date_format: str | None) -> np.ndarray:
    if "datetime" in columns:
        texts = list(columns["datetime"])
    elif "time" in columns:
        texts = [f"{d}T{_clock(t)}" for d, t in zip(columns["date"], columns["time"], strict=True)]
    else:
        texts = list(columns["date"])
    if date_format:
        fmt = date_format if "datetime" in columns or "time" not in columns else date_format + "T%H:%M:%S"
        ns = _strptime_all(name, texts, fmt, line_nos)
    else:
        ns = _parse_times(name, texts, line_nos)
    return _localize(ns, tz) if tz else ns


def _clock(value: str) -> str:
    if value.isdigit() and len(value) in (3, 4, 6):
        value = value.zfill(4 if len(value) < 6 else 6)
        return ":".join(value[i:i + 2] for i in range(0, len(value), 2))
    return value


def _parse_times(name: str, texts: list[str], line_nos: np.ndarray) -> np.ndarray:
    sample = texts[0]
    if _EPOCH_RE.match(sample):
        try:
            numbers = np.array(texts, dtype=np.int64)
        except ValueError:
            numbers = None
        if numbers is not None:
            scale = 1_000_000 if len(sample) == 13 else 1_000_000_000
            return numbers * scale
    if _COMPACT_DATE_RE.match(sample):
        texts = [f"{t[:4]}-{t[4:6]}-{t[6:8]}{t[8:]}" for t in texts]
    elif _SLASH_DATE_RE.match(sample):
        texts = [t.replace("/", "-", 2) for t in texts]
    if any(_OFFSET_RE.search(t) for t in (texts[0], texts[-1])):
        return _parse_slow(name, texts, line_nos)
    clean = [t.rstrip("Zz") for t in texts] if sample.endswith(("Z", "z")) else texts
    try:
        return np.array(clean, dtype="datetime64[ns]").view(np.int64)
    except ValueError:
        return _parse_slow(name, clean, line_nos)


def _parse_slow(name: str, texts: list[str], line_nos: np.ndarray) -> np.ndarray:
    from neural_trader.domain.market import to_ns
    from neural_trader.serde import parse_datetime

    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        try:
            out[i] = to_ns(parse_datetime(text))
        except ValueError:
            raise NtUserError(f"{name} line {line_nos[i]}: {text!r} is not a date or time this reader knows "
                              "(ISO 2006-01-02[T09:30:00], 20060102, epoch seconds); pass date_format= "
                              "for other layouts") from None
    return out


def _strptime_all(name: str, texts: list[str], fmt: str, line_nos: np.ndarray) -> np.ndarray:
    from neural_trader.domain.market import to_ns

    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        try:
            out[i] = to_ns(dt.datetime.strptime(text, fmt))
        except ValueError:
            raise NtUserError(f"{name} line {line_nos[i]}: {text!r} does not match date_format {fmt!r}") from None
    return out


def _localize(ns: np.ndarray, tz: str) -> np.ndarray:
    """Naive local wall times in zone ``tz`` -> UTC, one zone lookup per distinct hour."""
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise NtUserError(f"unknown time zone {tz!r} (use an IANA name like America/New_York)") from None
    hour = 3_600_000_000_000
    hours, inverse = np.unique(ns // hour, return_inverse=True)
    offsets = np.array([
        int(dt.datetime.fromtimestamp(int(h) * 3600, dt.UTC).replace(tzinfo=zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        for h in hours], dtype=np.int64) * 1_000_000_000
    return ns - offsets[inverse]


def _assemble(name: str, symbol: str, timeframe: Timeframe | str | None, provider: str, ts: np.ndarray,
              values: dict[str, np.ndarray], line_nos: np.ndarray, bad_rows: BadRowPolicy | str,
              adjusted: bool) -> Bars:
    if len(ts) > 1 and ts[0] > ts[-1] and np.all(np.diff(ts) < 0):  # newest first: read it oldest first
        ts, line_nos = ts[::-1], line_nos[::-1]
        values = {k: v[::-1] for k, v in values.items()}
    if adjusted:
        if "adjclose" not in values:
            raise NtUserError(f"{name}: adjusted=True needs an Adj Close column, and this file has none")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = values["adjclose"] / values["close"]
        values = {**values, **{k: values[k] * ratio for k in ("open", "high", "low", "close")}}
    try:
        tf = Timeframe.parse(timeframe) if timeframe is not None else infer_timeframe(ts)
        return Bars.from_arrays(symbol=symbol, timeframe=tf, provider=provider, ts=ts, open=values["open"],
                                high=values["high"], low=values["low"], close=values["close"],
                                volume=values.get("volume"), bad_rows=bad_rows, rows=line_nos)
    except NtUserError as exc:
        message = exc.message.replace(f"{symbol}: row", f"{name} line", 1)
        raise NtUserError(message if message.startswith(name) else f"{name}: {message}", details=exc.details) from None


def _read_parquet(path: Path, *, symbol: str, timeframe: Timeframe | str | None, tz: str | None,
                  bad_rows: BadRowPolicy | str, adjusted: bool) -> Bars:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise NtUserError(f"{path.name}: reading Parquet needs pyarrow; `pip install pyarrow` "
                          "(or neural-trader[parquet])") from None
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise NtUserError(f"no such file: {path}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid family for damaged files
        raise NtUserError(f"{path.name}: not a readable Parquet file ({exc})") from None
    names = list(table.column_names)
    roles = _roles(path.name, names)
    line_nos = np.arange(table.num_rows, dtype=np.int64)
    column = table.column(roles.get("datetime", roles.get("date", 0)))
    ts = _arrow_times(path.name, column, line_nos)
    if "time" in roles and "datetime" not in roles:
        raise NtUserError(f"{path.name}: separate date and time columns are read from CSV only; "
                          "store one timestamp column in Parquet")
    if tz and not _arrow_is_aware(column):
        ts = _localize(ts, tz)
    values: dict[str, np.ndarray] = {}
    for role in ("open", "high", "low", "close", "volume", "adjclose"):
        if role in roles:
            values[role] = np.asarray(table.column(roles[role]).to_numpy(zero_copy_only=False), dtype=np.float64)
    return _assemble(path.name, symbol, timeframe, "parquet", ts, values, line_nos, bad_rows, adjusted)


def _arrow_is_aware(column: Any) -> bool:
    return getattr(column.type, "tz", None) is not None


def _arrow_times(name: str, column: Any, line_nos: np.ndarray) -> np.ndarray:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        arr = column.cast(pa.timestamp("ns", tz=getattr(kind, "tz", None))) if pa.types.is_timestamp(kind) \
            else column.cast(pa.timestamp("ns"))
        return np.asarray(arr.to_numpy(zero_copy_only=False)).astype("datetime64[ns]").view(np.int64)
    if pa.types.is_integer(kind):
        numbers = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
        digits = len(str(abs(int(numbers[0])))) if len(numbers) else 10
        return numbers * (1_000_000 if digits == 13 else 1_000_000_000 if digits <= 10 else 1)
    texts = [str(v) for v in column.to_pylist()]
    return _parse_times(name, texts, line_nos)

