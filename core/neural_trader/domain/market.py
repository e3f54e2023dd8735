"""Market data values: timeframes, columnar OHLCV bars, quotes and trades.

:class:`Bars` is columnar numpy: ``ts`` (int64 nanoseconds since the epoch, UTC, the *start* of
each bar) and float64 ``open``/``high``/``low``/``close``/``volume``. Columns are read-only; slicing
by index or by time returns views, never copies. :meth:`Bars.from_arrays` is the validating
constructor every adapter uses; a bad row is rejected with its row number, or dropped and reported,
as the caller chooses (:class:`BadRowPolicy`).

Prices of quotes and trades are floats like the bar columns: they are observations for math, not
ledger amounts. Code that books money converts at its own boundary (``Decimal(str(price))``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "PROVIDER_PATTERN",
    "SYMBOLS_PATTERN",
    "SYMBOL_HINT",
    "SYMBOL_MAX_LEN",
    "SYMBOL_PATTERN",
    "BadRow",
    "BadRowPolicy",
    "Bar",
    "Bars",
    "Quote",
    "Timeframe",
    "Trade",
    "to_ns",
]

#: The float64 columns of :class:`Bars`, in order.
COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_NS = 1_000_000_000

#: The longest symbol any operation accepts (the local store names a folder after it).
SYMBOL_MAX_LEN = 32
_SYMBOL_BODY = rf"\^?[A-Za-z0-9][A-Za-z0-9._/=-]{{0,{SYMBOL_MAX_LEN - 1}}}"
#: One symbol: ``AAPL``, ``BRK.B``, ``BTC/USD``, ``^GSPC``, ``EURUSD=X`` (case does not matter).
#: Every symbol field of every operation uses this (or :data:`SYMBOLS_PATTERN`).
SYMBOL_PATTERN = rf"^{_SYMBOL_BODY}$"
#: Symbols separated by commas (``KO,PEP``), each matching :data:`SYMBOL_PATTERN`.
SYMBOLS_PATTERN = rf"^\s*{_SYMBOL_BODY}(\s*,\s*{_SYMBOL_BODY})*\s*$"
#: A data provider's name (``alpaca``, ``synthetic`` ...).
PROVIDER_PATTERN = r"^[a-z][a-z0-9_]*$"
#: What the patterns accept, in words (validation messages quote it).
SYMBOL_HINT = (f"a symbol of 1 to {SYMBOL_MAX_LEN} letters, digits and . _ / = - such as AAPL, BRK.B or "
               "BTC/USD")


class Timeframe(enum.StrEnum):
    """The length of one bar. Values are Alpaca's spelling (``1Min`` ... ``1Month``); ``str(tf)``
    formats one and :meth:`parse` reads it back (with common aliases)."""

    MIN_1 = "1Min"
    MIN_5 = "5Min"
    MIN_15 = "15Min"
    MIN_30 = "30Min"
    HOUR_1 = "1Hour"
    HOUR_4 = "4Hour"
    DAY_1 = "1Day"
    WEEK_1 = "1Week"
    MONTH_1 = "1Month"

    @classmethod
    def parse(cls, text: str | Timeframe) -> Timeframe:
        """``1Min``, ``5m``, ``15min``, ``1h``, ``4H``, ``1d``, ``D``, ``daily``, ``1w``, ``1M``/``1mo``
        (month: an upper-case ``M`` is a month as in Alpaca; a lower-case ``m`` is a minute)."""
        if isinstance(text, Timeframe):
            return text
        raw = str(text).strip()
        key = _ALIASES.get(raw) or _ALIASES.get(raw.lower())
        if key is None:
            raise NtUserError(
                f"unknown timeframe {text!r}; use one of {', '.join(t.value for t in cls)} "
                "(aliases like 5m, 1h, 1d, 1w are accepted)")
        return cls(key)

    @property
    def seconds(self) -> int:
        """Nominal length in seconds; a month is the mean Gregorian month (2,629,746 s)."""
        return _SECONDS[self]

    @property
    def nanoseconds(self) -> int:
        return self.seconds * _NS

    @property
    def intraday(self) -> bool:
        return self.seconds < 86_400



_SECONDS: dict[Timeframe, int] = {
    Timeframe.MIN_1: 60, Timeframe.MIN_5: 300, Timeframe.MIN_15: 900, Timeframe.MIN_30: 1800,
    Timeframe.HOUR_1: 3600, Timeframe.HOUR_4: 14_400, Timeframe.DAY_1: 86_400,
    Timeframe.WEEK_1: 604_800, Timeframe.MONTH_1: 2_629_746,
}


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    units = {
        "Min": ("min", "m", "t", "minute", "minutes"),
        "Hour": ("hour", "h", "hours", "hr"),
        "Day": ("day", "d", "days"),
        "Week": ("week", "w", "weeks", "wk"),
        "Month": ("month", "mo", "months", "mon"),
    }
    for tf in Timeframe:
        number = "".join(ch for ch in tf.value if ch.isdigit())
        unit = tf.value[len(number):]
        out[tf.value] = tf.value
        out[tf.value.lower()] = tf.value
        for alias in units[unit]:
            out[f"{number}{alias}"] = tf.value
            if number == "1":
                out[alias] = tf.value
    out["1M"] = out["M"] = Timeframe.MONTH_1.value  # exact case: Alpaca's month
    out.update({"60min": "1Hour", "240min": "4Hour", "daily": "1Day", "weekly": "1Week",
                "monthly": "1Month", "1hour": "1Hour"})
    return out


_ALIASES = _aliases()


class BadRowPolicy(enum.StrEnum):
    """What to do with a row that breaks a bar invariant."""

    #: Raise :class:`NtUserError` naming the first bad row and what is wrong with it.
    REJECT = "reject"
    #: Leave bad rows out and list them in :attr:`Bars.dropped`.
    DROP = "drop"


@attrs.frozen(kw_only=True)
class BadRow:
    """A row that broke an invariant: its number in the source and why."""

    row: int = param(description="row number in the source (a file's line number, else the 0-based index)")
    reason: str = param(description="which invariant failed, with the values")


@attrs.frozen(kw_only=True)
class Bar:
    """One bar, for code that wants a row rather than columns."""

    time: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


def to_ns(value: dt.datetime | dt.date | np.datetime64 | int | str) -> int:
    """A point in time as int64 nanoseconds since the epoch, UTC (naive datetimes are UTC)."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a time")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        from neural_trader.serde import parse_datetime

        value = parse_datetime(value)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000
    if isinstance(value, dt.date):
        return (value - dt.date(1970, 1, 1)).days * 86_400 * _NS
    raise TypeError(f"cannot read {type(value).__name__} as a time")


def from_ns(ns: int) -> dt.datetime:
    """int64 nanoseconds since the epoch to an aware UTC datetime (microsecond precision)."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(ns) // 1000)


def _column(value: Any, dtype: type, name: str) -> np.ndarray:
    arr: np.ndarray = np.asarray(value, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"bars column {name} must be one-dimensional, got shape {arr.shape}")
    view = arr.view()
    view.flags.writeable = False  # frozen value: views are read-only; the caller's array is not copied
    return view


def _bad_rows(value: Iterable[BadRow]) -> tuple[BadRow, ...]:
    return tuple(value)


def _timeframe(value: Timeframe | str) -> Timeframe:
    return Timeframe.parse(value)


def _ts_column(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]").view(np.int64)
    return _column(arr, np.int64, "ts")


def _float_column(value: Any) -> np.ndarray:
    return _column(value, np.float64, "open/high/low/close/volume")


@attrs.frozen(kw_only=True, eq=False)
class Bars:
    """OHLCV bars of one symbol and timeframe, as read-only numpy columns.

    Build validated bars with :meth:`from_arrays`; the plain constructor only checks shapes (it is
    for data that is already known good: slices, the local store, the cache).
    """

    symbol: str
    timeframe: Timeframe = attrs.field(converter=_timeframe)
    #: Who produced the numbers: ``alpaca``, ``csv``, ``local``, ``synthetic`` ...
    provider: str
    ts: np.ndarray = attrs.field(converter=_ts_column, repr=False)
    open: np.ndarray = attrs.field(converter=_float_column, repr=False)
    high: np.ndarray = attrs.field(converter=_float_column, repr=False)
    low: np.ndarray = attrs.field(converter=_float_column, repr=False)
    close: np.ndarray = attrs.field(converter=_float_column, repr=False)
    volume: np.ndarray = attrs.field(converter=_float_column, repr=False)
    #: True when the numbers were generated, not observed.
    synthetic: bool = False
    #: Rows :meth:`from_arrays` left out under :attr:`BadRowPolicy.DROP`.
    dropped: tuple[BadRow, ...] = attrs.field(default=(), converter=_bad_rows, repr=False)

    def __attrs_post_init__(self) -> None:
        n = len(self.ts)
        for name in COLUMNS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"bars column {name} has {len(getattr(self, name))} rows, ts has {n}")

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        *,
        symbol: str,
        timeframe: Timeframe | str,
        provider: str,
        ts: Any,
        open: Any,
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
        synthetic: bool = False,
        bad_rows: BadRowPolicy | str = BadRowPolicy.REJECT,
        rows: np.ndarray | None = None,
    ) -> Bars:
        """Validated bars: finite prices, ``high >= max(open, close)``, ``low <= min(open, close)``,
        volume not negative (NaN means the source has no volume), timestamps strictly increasing.

        :param rows: the source row number of each element (file line numbers) for messages;
            default the 0-based index.
        :param bad_rows: ``reject`` raises :class:`NtUserError` naming the first bad row; ``drop``
            leaves bad rows out and lists them in :attr:`dropped`.
        """
        policy = BadRowPolicy(bad_rows)
        t = np.asarray(ts)
        if t.dtype.kind == "M":
            t = t.astype("datetime64[ns]").view(np.int64)
        t = np.asarray(t, dtype=np.int64)
        cols = [np.asarray(c, dtype=np.float64) for c in (open, high, low, close)]
        vol = np.full(len(t), np.nan) if volume is None else np.asarray(volume, dtype=np.float64)
        for name, col in zip(COLUMNS, (*cols, vol), strict=True):
            if col.shape != t.shape:
                raise NtUserError(f"{symbol}: column {name} has {len(col)} values for {len(t)} timestamps")
        keep, problems = _check(t, cols[0], cols[1], cols[2], cols[3], vol, rows)
        if problems and policy is BadRowPolicy.REJECT:
            first = problems[0]
            more = f" (and {len(problems) - 1} more bad rows)" if len(problems) > 1 else ""
            raise NtUserError(f"{symbol}: row {first.row}: {first.reason}{more}; pass bad_rows='drop' "
                              "to leave bad rows out", details=[attrs.asdict(p) for p in problems[:20]])
        if problems:
            t, cols, vol = t[keep], [c[keep] for c in cols], vol[keep]
        return cls(symbol=symbol, timeframe=timeframe, provider=provider, ts=t, open=cols[0],
                   high=cols[1], low=cols[2], close=cols[3], volume=vol, synthetic=synthetic,
                   dropped=problems)

    @classmethod
    def empty(cls, symbol: str, timeframe: Timeframe | str, provider: str, *, synthetic: bool = False) -> Bars:
        z = np.empty(0)
        return cls(symbol=symbol, timeframe=timeframe, provider=provider, ts=np.empty(0, np.int64),
                   open=z, high=z, low=z, close=z, volume=z, synthetic=synthetic)

    # -- size, rows, slices ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ts)

    def __getitem__(self, key: int | slice) -> Any:
        """``bars[i]`` is a :class:`Bar`; ``bars[a:b]`` is a :class:`Bars` of views (no copy)."""
        if isinstance(key, slice):
            return self._take(key)
        i = int(key)
        return Bar(time=from_ns(int(self.ts[i])), open=float(self.open[i]), high=float(self.high[i]),
                   low=float(self.low[i]), close=float(self.close[i]), volume=float(self.volume[i]))

    def _take(self, key: slice) -> Bars:
        return attrs.evolve(self, ts=self.ts[key], open=self.open[key], high=self.high[key],
                            low=self.low[key], close=self.close[key], volume=self.volume[key], dropped=())

    def between(self, start: Any = None, end: Any = None) -> Bars:
        """Bars with ``start <= ts <= end`` (either bound may be ``None``), as views."""
        lo = 0 if start is None else int(np.searchsorted(self.ts, to_ns(start), side="left"))
        hi = len(self) if end is None else int(np.searchsorted(self.ts, to_ns(end), side="right"))
        return self._take(slice(lo, max(lo, hi)))

    def tail(self, n: int) -> Bars:
        return self._take(slice(max(0, len(self) - n), None))

    def relabel(self, provider: str) -> Bars:
        """The same numbers under another provider label (a copy of nothing)."""
        return attrs.evolve(self, provider=provider)

    # -- time --------------------------------------------------------------------------------------
    @property
    def index(self) -> np.ndarray:
        """Timestamps as ``datetime64[ns]`` (a view of :attr:`ts`)."""
        return self.ts.view("datetime64[ns]")

    @property
    def first(self) -> dt.datetime | None:
        return from_ns(int(self.ts[0])) if len(self) else None

    @property
    def last(self) -> dt.datetime | None:
        return from_ns(int(self.ts[-1])) if len(self) else None

    def times(self) -> list[dt.datetime]:
        """Timestamps as aware UTC datetimes (microsecond precision)."""
        return [from_ns(int(x)) for x in self.ts]

    def columns(self) -> dict[str, np.ndarray]:
        return {"ts": self.ts, **{name: getattr(self, name) for name in COLUMNS}}

    def equals(self, other: Bars) -> bool:
        """Same symbol, timeframe and bit-identical columns (NaN equals NaN)."""
        return (self.symbol == other.symbol and self.timeframe == other.timeframe
                and np.array_equal(self.ts, other.ts)
                and all(np.array_equal(getattr(self, c), getattr(other, c), equal_nan=True) for c in COLUMNS))

    # -- pandas (optional) -------------------------------------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame indexed by UTC timestamps with the five columns (needs pandas)."""
        pd = _pandas()
        index = pd.DatetimeIndex(self.index, name="time").tz_localize("UTC")
        frame = pd.DataFrame({c: getattr(self, c) for c in COLUMNS}, index=index)
        frame.attrs.update(symbol=self.symbol, timeframe=self.timeframe.value, provider=self.provider,
                           synthetic=self.synthetic)
        return frame

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame, *, symbol: str | None = None,
                    timeframe: Timeframe | str | None = None, provider: str | None = None,
                    bad_rows: BadRowPolicy | str = BadRowPolicy.REJECT) -> Bars:
        """Bars from a DataFrame with a datetime index (naive means UTC) and open/high/low/close
        [/volume] columns (any case). Missing labels come from ``frame.attrs`` (as ``to_pandas``
        writes them)."""
        pd = _pandas()
        meta = frame.attrs
        symbol = symbol or meta.get("symbol")
        timeframe = timeframe or meta.get("timeframe")
        if not symbol or not timeframe:
            raise NtUserError("from_pandas needs symbol= and timeframe= (or frame.attrs carrying them)")
        index = pd.DatetimeIndex(frame.index)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        ts = index.as_unit("ns").asi8
        lower = {str(c).lower(): c for c in frame.columns}
        missing = [c for c in ("open", "high", "low", "close") if c not in lower]
        if missing:
            raise NtUserError(f"from_pandas: the frame has no column(s) {', '.join(missing)}")
        cols = {c: frame[lower[c]].to_numpy(dtype=np.float64) for c in COLUMNS if c in lower}
        return cls.from_arrays(symbol=symbol, timeframe=timeframe,
                               provider=provider or meta.get("provider", "pandas"), ts=ts,
                               open=cols["open"], high=cols["high"], low=cols["low"], close=cols["close"],
                               volume=cols.get("volume"), synthetic=bool(meta.get("synthetic", False)),
                               bad_rows=bad_rows)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise NtUserError("pandas is not installed; `pip install pandas` to use to_pandas/from_pandas") from None
    return pd


def _check(ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
           v: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, list[BadRow]]:
    """(mask of rows to keep, bad rows in source order). Vectorized; messages only for bad rows."""
    n = len(ts)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        high_ok = h >= np.maximum(o, c)
        low_ok = lo <= np.minimum(o, c)
        vol_ok = np.isnan(v) | ((v >= 0) & np.isfinite(v))
    price_ok = finite & high_ok & low_ok & vol_ok
    # A row is in order when its time is after every earlier kept row. Rows dropped for going
    # backwards never raise the running maximum, so the maximum over all price-valid rows is the
    # maximum over kept rows.
    masked = np.where(price_ok, ts, np.iinfo(np.int64).min)
    prior = np.empty(n, dtype=np.int64)
    if n:
        prior[0] = np.iinfo(np.int64).min
        prior[1:] = np.maximum.accumulate(masked)[:-1]
    order_ok = ts > prior
    keep = price_ok & order_ok
    if keep.all():
        return keep, []
    numbers = np.arange(n) if rows is None else np.asarray(rows)
    problems = []
    for i in np.flatnonzero(~keep):
        if not finite[i]:
            reason = f"prices must be finite numbers (open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]})"
        elif not high_ok[i]:
            reason = f"high {h[i]} is below max(open {o[i]}, close {c[i]})"
        elif not low_ok[i]:
            reason = f"low {lo[i]} is above min(open {o[i]}, close {c[i]})"
        elif not vol_ok[i]:
            reason = f"volume {v[i]} is negative or infinite"
        else:
            when = from_ns(int(ts[i])).isoformat().replace("+00:00", "Z")
            reason = (f"timestamp {when} repeats an earlier row" if ts[i] == prior[i]
                      else f"timestamp {when} is earlier than the row before it")
        problems.append(BadRow(row=int(numbers[i]), reason=reason))
    return keep, problems


def merge_bars(old: Bars, new: Bars) -> Bars:
    """The union of two series of one symbol and timeframe; where both have a bar, ``new`` wins."""
    if old.symbol != new.symbol or old.timeframe != new.timeframe:
        raise ValueError(f"cannot merge {old.symbol}/{old.timeframe} with {new.symbol}/{new.timeframe}")
    if not len(old):
        return new
    keep_old = ~np.isin(old.ts, new.ts)
    ts = np.concatenate([old.ts[keep_old], new.ts])
    order = np.argsort(ts, kind="stable")
    cols = {c: np.concatenate([getattr(old, c)[keep_old], getattr(new, c)])[order] for c in COLUMNS}
    return Bars(symbol=new.symbol, timeframe=new.timeframe, provider=new.provider, ts=ts[order],
                synthetic=new.synthetic and old.synthetic, **cols)


def concat_bars(parts: Iterable[Bars]) -> Bars:
    """Consecutive pages of one series, in order (pagination)."""
    items = list(parts)
    if not items:
        raise ValueError("nothing to concatenate")
    head = items[0]
    cols = {c: np.concatenate([getattr(b, c) for b in items]) for c in ("ts", *COLUMNS)}
    return Bars(symbol=head.symbol, timeframe=head.timeframe, provider=head.provider,
                synthetic=head.synthetic, **cols)


@attrs.frozen(kw_only=True)
class Quote:
    """The best bid and ask (and the last trade price where the source gives one) at a moment."""

    symbol: str = param(description="the instrument, e.g. AAPL")
    time: dt.datetime = param(description="when the source observed it (UTC)")
    bid: float | None = param(default=None, description="best bid price; null when the source gives none")
    ask: float | None = param(default=None, description="best ask price; null when the source gives none")
    bid_size: float | None = param(default=None, description="size at the bid (the source's unit)")
    ask_size: float | None = param(default=None, description="size at the ask (the source's unit)")
    last: float | None = param(default=None, description="last trade price, when the source gives it")
    provider: str = param(description="which provider answered")
    synthetic: bool = param(default=False, description="true when the numbers were generated, not observed")

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return round((self.bid + self.ask) / 2, 10)  # no binary noise in a printed mid


@attrs.frozen(kw_only=True)
class Trade:
    """The last trade of an instrument."""

    symbol: str = param(description="the instrument, e.g. AAPL")
    time: dt.datetime = param(description="when it traded (UTC)")
    price: float = param(description="trade price")
    size: float | None = param(default=None, description="trade size (the source's unit)")
    exchange: str | None = param(default=None, description="exchange code, when the source gives it")
    provider: str = param(description="which provider answered")
    synthetic: bool = param(default=False, description="true when the numbers were generated, not observed")
