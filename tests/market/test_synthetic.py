"""The synthetic generator: deterministic and window-independent, valid bars on its calendar, and
statistics that match its parameters."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from neural_trader.domain.market import Bars, Timeframe, to_ns
from neural_trader.errors import NtUserError
from neural_trader.market.synthetic import SESSION_UTC, SyntheticModel, series

PLAIN = SyntheticModel(regimes=False, jumps=False, seasonality=False)


@pytest.mark.parametrize("timeframe", list(Timeframe))
def test_bars_are_valid_and_labelled(timeframe: Timeframe) -> None:
    span = {True: ("2024-03-04", "2024-03-09"), False: ("2015-01-01", "2024-01-01")}[timeframe.intraday]
    bars = series("AAPL", timeframe).bars(*span)
    assert len(bars) > 3 and bars.provider == "synthetic" and bars.synthetic
    checked = Bars.from_arrays(symbol="AAPL", timeframe=timeframe, provider="x", ts=bars.ts, open=bars.open,
                               high=bars.high, low=bars.low, close=bars.close, volume=bars.volume)
    assert checked.dropped == ()
    assert bool(np.all(bars.volume >= 0)) and bool(np.all(bars.close > 0))


def test_the_same_request_gives_the_same_bars() -> None:
    a = series("AAPL", "1Day").bars("2020-01-01", "2024-01-01")
    b = series("AAPL", "1Day").bars("2020-01-01", "2024-01-01")
    assert a.equals(b)


@pytest.mark.parametrize("timeframe", [Timeframe.MIN_1, Timeframe.HOUR_1, Timeframe.DAY_1, Timeframe.MONTH_1])
def test_any_window_is_a_slice_of_the_one_path(timeframe: Timeframe) -> None:
    span = ("2024-01-01", "2024-03-01") if timeframe.intraday else ("1995-01-01", "2024-01-01")
    whole = series("MSFT", timeframe).bars(*span)
    inner = whole[len(whole) // 3: len(whole) // 2]
    again = series("MSFT", timeframe).bars(inner.first, inner.last)
    assert again.equals(inner)


def test_symbols_and_seeds_give_different_paths() -> None:
    a = series("AAPL", "1Day").bars("2023-01-01", "2024-01-01")
    b = series("MSFT", "1Day").bars("2023-01-01", "2024-01-01")
    c = series("AAPL", "1Day", SyntheticModel(seed=1)).bars("2023-01-01", "2024-01-01")
    assert not np.array_equal(a.close, b.close) and not np.array_equal(a.close, c.close)


def test_the_start_price_anchors_the_level() -> None:
    bars = series("X", "1Day", SyntheticModel(start_price=50.0)).bars("2019-12-01", "2020-02-01")
    assert 35 < float(np.median(bars.close)) < 70


def test_daily_bars_fall_on_weekdays_and_intraday_in_the_session() -> None:
    daily = series("X", "1Day").bars("2024-01-01", "2024-12-31")
    days = daily.index.astype("datetime64[D]")
    assert bool(np.all(np.is_busday(days))) and len(daily) == int(np.busday_count("2024-01-01", "2025-01-01"))
    minutes = series("X", "5Min").bars("2024-03-04", "2024-03-09")
    hours = (minutes.ts // 10**9 % 86_400) / 3600
    assert hours.min() == SESSION_UTC[0] and hours.max() < SESSION_UTC[1]
    assert len(minutes) == 5 * 96


def test_realized_volatility_and_drift_match_the_model() -> None:
    model = SyntheticModel(drift=0.08, volatility=0.2, regimes=False, jumps=False, seasonality=False)
    bars = series("STAT", "1Day", model).bars("1975-01-01", "2024-12-31")
    r = np.diff(np.log(bars.close))
    # 13,000 daily returns: the std of the estimate is ~0.6 %; rounding to cents adds a little
    assert np.std(r) * np.sqrt(260) == pytest.approx(0.2, rel=0.03)
    assert np.mean(r) * 260 == pytest.approx(0.08, abs=0.06)


def test_regimes_and_jumps_fatten_the_tails() -> None:
    calm = np.diff(np.log(series("T", "1Day", PLAIN).bars("1980-01-01", "2024-01-01").close))
    wild = np.diff(np.log(series("T", "1Day", SyntheticModel(jumps_per_year=6, jump_std=0.06))
                          .bars("1980-01-01", "2024-01-01").close))

    def kurtosis(x: np.ndarray) -> float:
        z = (x - x.mean()) / x.std()
        return float(np.mean(z**4))

    assert kurtosis(calm) == pytest.approx(3.0, abs=0.3)
    assert kurtosis(wild) > 6.0


def test_intraday_volatility_and_volume_are_u_shaped() -> None:
    bars = series("U", "5Min", SyntheticModel(regimes=False, jumps=False)).bars("2023-01-01", "2024-01-01")
    slot = (bars.ts // 10**9 % 86_400 - SESSION_UTC[0] * 3600) // 300
    body = np.abs(np.log(bars.close / bars.open))
    edges, middle = np.isin(slot, [1, 2, 93, 94]), np.isin(slot, [46, 47, 48, 49])
    assert body[edges].mean() > 1.4 * body[middle].mean()
    assert bars.volume[edges].mean() > 1.5 * bars.volume[middle].mean()


def test_before_1970_is_refused() -> None:
    with pytest.raises(NtUserError, match="1970-01-05"):
        series("X", "1Day").bars_by_index(-5, 3)
    assert len(series("X", "1Day").bars(dt.datetime(1960, 1, 1), dt.datetime(1960, 2, 1))) == 0


def test_weekly_and_monthly_bars_aggregate_the_daily_ones() -> None:
    daily = series("AGG", "1Day").bars("2023-01-02", "2023-12-31")
    weekly = series("AGG", "1Week").bars("2023-01-02", "2023-12-25")
    monthly = series("AGG", "1Month").bars("2023-01-01", "2023-12-01")
    ends = {"1Week": lambda t: t + np.timedelta64(7, "D"),
            "1Month": lambda t: (t.astype("datetime64[M]") + 1).astype("datetime64[ns]")}
    for bars in (weekly, monthly):
        for i, start in enumerate(bars.index):
            inside = (daily.index >= start) & (daily.index < ends[bars.timeframe.value](start))
            assert bars.open[i] == daily.open[inside][0] and bars.close[i] == daily.close[inside][-1]
            assert bars.high[i] == daily.high[inside].max() and bars.low[i] == daily.low[inside].min()
            assert bars.volume[i] == daily.volume[inside].sum()


@pytest.mark.parametrize("timeframe", [Timeframe.MIN_1, Timeframe.MIN_15, Timeframe.HOUR_4])
def test_a_days_intraday_bars_run_from_its_open_to_its_close(timeframe: Timeframe) -> None:
    daily = series("INTRA", "1Day").bars("2024-03-04", "2024-03-08")
    intraday = series("INTRA", timeframe).bars("2024-03-04", "2024-03-09")
    days = intraday.index.astype("datetime64[D]")
    for i, day in enumerate(daily.index.astype("datetime64[D]")):
        inside = days == day
        assert intraday.open[inside][0] == daily.open[i]
        assert intraday.close[inside][-1] == daily.close[i]
        assert intraday.volume[inside].sum() == daily.volume[i]
        assert bool(np.all(intraday.volume[inside] >= 0))


def test_a_quote_sits_on_the_daily_path() -> None:
    minute = series("Q", "1Min")
    day_close = series("Q", "1Day").bars("2024-01-02", "2024-01-02").close[0]
    last = minute.bars_by_index(minute.last_bar_index(to_ns("2024-01-02T21:59:30Z")), minute.last_bar_index(
        to_ns("2024-01-02T21:59:30Z")))
    assert last.close[0] == day_close
