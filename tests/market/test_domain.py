"""Market values: timeframes, bar validation (reject with the row, or drop and report), zero-copy
slices, time ranges, merging, pandas round trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from neural_trader.domain.market import (
    BadRowPolicy,
    Bars,
    Quote,
    Timeframe,
    concat_bars,
    from_ns,
    merge_bars,
    to_ns,
)
from neural_trader.errors import NtUserError

DAY = 86_400 * 10**9
T0 = to_ns(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


def _bars(n: int = 5, *, start: int = T0, step: int = DAY, symbol: str = "X", provider: str = "test") -> Bars:
    close = 100.0 + np.arange(n)
    return Bars.from_arrays(symbol=symbol, timeframe="1Day", provider=provider, ts=start + step * np.arange(n),
                            open=close - 0.5, high=close + 1, low=close - 1, close=close, volume=np.full(n, 1e6))


@pytest.mark.parametrize(("text", "expected"), [
    ("1Min", Timeframe.MIN_1), ("1min", Timeframe.MIN_1), ("1m", Timeframe.MIN_1), ("5m", Timeframe.MIN_5),
    ("15min", Timeframe.MIN_15), ("30Min", Timeframe.MIN_30), ("1h", Timeframe.HOUR_1), ("60min", Timeframe.HOUR_1),
    ("4H", Timeframe.HOUR_4), ("1d", Timeframe.DAY_1), ("D", Timeframe.DAY_1), ("daily", Timeframe.DAY_1),
    ("1w", Timeframe.WEEK_1), ("1M", Timeframe.MONTH_1), ("1mo", Timeframe.MONTH_1), ("monthly", Timeframe.MONTH_1),
])
def test_timeframe_parse(text: str, expected: Timeframe) -> None:
    assert Timeframe.parse(text) is expected


def test_timeframe_format_and_seconds() -> None:
    assert [str(tf) for tf in Timeframe] == ["1Min", "5Min", "15Min", "30Min", "1Hour", "4Hour", "1Day",
                                                 "1Week", "1Month"]
    assert [tf.seconds for tf in Timeframe][:8] == [60, 300, 900, 1800, 3600, 14_400, 86_400, 604_800]
    assert Timeframe.MONTH_1.seconds == round(365.2425 * 86_400 / 12)  # the mean Gregorian month
    assert Timeframe.HOUR_4.intraday and not Timeframe.DAY_1.intraday
    assert all(Timeframe.parse(str(tf)) is tf for tf in Timeframe)


def test_unknown_timeframe_lists_the_valid_ones() -> None:
    with pytest.raises(NtUserError, match="1Min, 5Min"):
        Timeframe.parse("7Min")


def test_good_bars_construct() -> None:
    bars = _bars()
    assert len(bars) == 5 and bars.dropped == ()
    assert bars[0].close == 100.0 and bars[0].time == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert bars.index.dtype == np.dtype("datetime64[ns]")


@pytest.mark.parametrize(("change", "words"), [
    ({"high": 99.0}, "high 99.0 is below max(open 101.0, close 101.0)"),
    ({"low": 102.0}, "low 102.0 is above min(open 101.0, close 101.0)"),
    ({"close": float("nan")}, "finite"),
    ({"open": float("inf")}, "finite"),
    ({"volume": -5.0}, "volume -5.0 is negative"),
])
def test_a_bad_row_is_rejected_with_its_row_number(change: dict[str, float], words: str) -> None:
    cols = {"open": np.full(4, 101.0), "high": np.full(4, 102.0), "low": np.full(4, 100.0),
            "close": np.full(4, 101.0), "volume": np.full(4, 10.0)}
    for name, value in change.items():
        cols[name][2] = value
    with pytest.raises(NtUserError, match=r"row 12: ") as caught:
        Bars.from_arrays(symbol="X", timeframe="1Day", provider="t", ts=T0 + DAY * np.arange(4),
                         rows=np.array([10, 11, 12, 13]), **cols)
    assert words in str(caught.value)
    assert caught.value.details == [{"row": 12, "reason": str(caught.value).split("row 12: ")[1].split(";")[0]}]


def test_drop_leaves_bad_rows_out_and_says_which() -> None:
    close = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    high = close + 1
    high[1] = 5.0  # below close
    ts = T0 + DAY * np.array([0, 1, 2, 2, 1, 5])  # row 3 repeats row 2's time, row 4 goes back
    bars = Bars.from_arrays(symbol="X", timeframe="1Day", provider="t", ts=ts, open=close, high=high,
                            low=close - 1, close=close, bad_rows="drop")
    assert bars.close.tolist() == [10.0, 12.0, 15.0]
    assert [(d.row, d.reason.split(" ")[0]) for d in bars.dropped] == [(1, "high"), (3, "timestamp"), (4, "timestamp")]
    assert "repeats" in bars.dropped[1].reason and "earlier" in bars.dropped[2].reason


def test_unsorted_timestamps_are_rejected() -> None:
    with pytest.raises(NtUserError, match="row 1: timestamp 2023-12-31T00:00:00Z is earlier"):
        Bars.from_arrays(symbol="X", timeframe="1Day", provider="t", ts=[T0, T0 - DAY], open=[1, 1], high=[1, 1],
                         low=[1, 1], close=[1, 1], bad_rows=BadRowPolicy.REJECT)


def test_missing_volume_is_nan_not_zero() -> None:
    bars = Bars.from_arrays(symbol="X", timeframe="1Day", provider="t", ts=[T0], open=[1], high=[1], low=[1],
                            close=[1])
    assert np.isnan(bars.volume).all()


def test_slices_are_views_and_columns_read_only() -> None:
    bars = _bars(10)
    part = bars[2:5]
    assert isinstance(part, Bars) and len(part) == 3
    for name in ("ts", "open", "high", "low", "close", "volume"):
        assert np.shares_memory(getattr(part, name), getattr(bars, name))
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


def test_time_range_slices_are_inclusive_views() -> None:
    bars = _bars(10)
    part = bars.between(dt.datetime(2024, 1, 3, tzinfo=dt.UTC), "2024-01-05T00:00:00Z")
    assert [t.day for t in part.times()] == [3, 4, 5]
    assert np.shares_memory(part.close, bars.close)
    assert len(bars.between(end=dt.datetime(2023, 1, 1))) == 0
    assert len(bars.between(start=None, end=None)) == 10
    assert bars.tail(3).close.tolist() == [107.0, 108.0, 109.0]


def test_times_round_trip() -> None:
    moment = dt.datetime(2022, 4, 12, 17, 16, 36, 390749, tzinfo=dt.UTC)
    assert from_ns(to_ns(moment)) == moment
    assert to_ns("2022-04-12T17:16:36.390749Z") == to_ns(moment)
    assert to_ns(dt.date(1970, 1, 2)) == DAY
    assert to_ns(np.datetime64("1970-01-02")) == DAY
    assert to_ns(dt.datetime(1970, 1, 1, 1)) == 3600 * 10**9  # naive is UTC


def test_merge_new_wins_and_stays_sorted() -> None:
    old = _bars(5)
    new = Bars.from_arrays(symbol="X", timeframe="1Day", provider="new", ts=T0 + DAY * np.array([3, 7]),
                           open=[50, 60], high=[51, 61], low=[49, 59], close=[50.5, 60.5])
    merged = merge_bars(old, new)
    assert [int((t - T0) // DAY) for t in merged.ts] == [0, 1, 2, 3, 4, 7]
    assert merged.close.tolist() == [100.0, 101.0, 102.0, 50.5, 104.0, 60.5]
    with pytest.raises(ValueError, match="cannot merge"):
        merge_bars(old, _bars(symbol="Y"))


def test_concat_pages() -> None:
    bars = _bars(6)
    joined = concat_bars([bars[:2], bars[2:]])
    assert joined.equals(bars)


def test_equals_compares_bits() -> None:
    a = _bars(3)
    b = Bars(symbol="X", timeframe="1Day", provider="other", ts=a.ts, open=a.open, high=a.high, low=a.low,
             close=a.close + 0.0, volume=a.volume)
    assert a.equals(b)
    c = Bars(symbol="X", timeframe="1Day", provider="t", ts=a.ts, open=a.open, high=a.high, low=a.low,
             close=np.nextafter(a.close, 1e9), volume=a.volume)
    assert not a.equals(c)


def test_quote_mid() -> None:
    q = Quote(symbol="X", time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), bid=195.21, ask=195.25, provider="t")
    assert q.mid == 195.23
    assert Quote(symbol="X", time=q.time, last=1.0, provider="t").mid is None


def test_pandas_round_trip() -> None:
    pd = pytest.importorskip("pandas")
    bars = _bars(4)
    frame = bars.to_pandas()
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.tz) == "UTC" and frame.attrs["symbol"] == "X"
    back = Bars.from_pandas(frame)
    assert back.equals(bars) and back.provider == "test"
    naive = pd.DataFrame({"Open": [1.0], "High": [2.0], "Low": [0.5], "Close": [1.5]},
                         index=pd.DatetimeIndex(["2024-01-02"]))
    one = Bars.from_pandas(naive, symbol="N", timeframe="1d")
    assert one.first == dt.datetime(2024, 1, 2, tzinfo=dt.UTC) and np.isnan(one.volume[0])
    with pytest.raises(NtUserError, match="symbol="):
        Bars.from_pandas(naive)


def test_to_pandas_without_pandas_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(NtUserError, match="pip install pandas"):
        _bars().to_pandas()
