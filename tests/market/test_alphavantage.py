"""The Alpha Vantage adapter: daily bars, and every HTTP-200 notice (``Note``, ``Information``,
``Error Message``) turned into a rate-limit, plan, key or not-found error, never into data."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from neural_trader.domain.market import Timeframe
from neural_trader.errors import NtNotFound, NtRateLimited
from neural_trader.services.http import NtProviderAuthError, NtProviderError, NtProviderForbidden

from .conftest import KEYS, NOW, FakeTime, MarketFactory, Replay, recorded

QUERY = "/query"
RECENT = dt.datetime.fromtimestamp(NOW, dt.UTC) - dt.timedelta(days=30)
OLD = dt.datetime(2020, 8, 1, tzinfo=dt.UTC)
END = dt.datetime.fromtimestamp(NOW, dt.UTC)


def _av(make_market: MarketFactory):  # type: ignore[no-untyped-def]
    return make_market(environ=KEYS).provider("alphavantage")


async def test_daily_series_oldest_first(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/time_series_daily_IBM.json"))
    bars = await _av(make_market).bars("IBM", Timeframe.DAY_1, OLD, END)
    assert [t.date().isoformat() for t in bars.times()] == ["2020-08-28", "2020-08-31"]
    assert bars.open.tolist() == [124.65, 125.25] and bars.close.tolist() == [125.07, 123.31]
    assert bars.volume.tolist() == [3463081.0, 4827879.0] and bars.provider == "alphavantage"
    (request,) = replay.requests
    params = request.url.params
    assert (params["function"], params["symbol"], params["apikey"]) == ("TIME_SERIES_DAILY", "IBM", "av-key-value")
    assert params["outputsize"] == "full"  # the start is older than the compact window


async def test_a_recent_start_asks_for_the_compact_series(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/time_series_daily_IBM.json"))
    await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)
    assert replay.requests[0].url.params["outputsize"] == "compact"


async def test_the_daily_quota_fails_at_once_with_the_wait(make_market: MarketFactory, replay: Replay,
                                                           fake_time: FakeTime) -> None:
    replay.add(QUERY, recorded("alphavantage/information_daily_limit.json"))
    with pytest.raises(NtRateLimited, match="daily request quota") as caught:
        await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)
    assert caught.value.retry_after is not None and caught.value.retry_after > 60
    assert len(replay.requests) == 1 and fake_time.sleeps == []  # waiting until midnight is not an option


async def test_the_burst_limit_is_retried_then_answers(make_market: MarketFactory, replay: Replay,
                                                       fake_time: FakeTime) -> None:
    replay.add(QUERY, recorded("alphavantage/information_burst.json"),
               recorded("alphavantage/time_series_daily_IBM.json"))
    bars = await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)
    assert bars.close.tolist() == [125.07, 123.31]
    assert fake_time.sleeps == [1.0]


async def test_the_legacy_note_is_a_rate_limit_never_data(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/note_rate_limit_legacy.json"))
    with pytest.raises(NtRateLimited, match="5 calls per minute"):
        await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)


async def test_full_history_on_a_free_plan_names_the_plan(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/information_premium_outputsize_full.json"))
    with pytest.raises(NtProviderForbidden, match="your plan does not include"):
        await _av(make_market).bars("IBM", Timeframe.DAY_1, OLD, END)


async def test_the_demo_key_asks_for_a_real_key(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/information_demo_key.json"))
    with pytest.raises(NtProviderAuthError, match="NT_ALPHAVANTAGE_API_KEY"):
        await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)


async def test_error_message_is_not_found(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, recorded("alphavantage/error_invalid_call.json"))
    with pytest.raises(NtNotFound, match="NOTREAL") as caught:
        await _av(make_market).bars("NOTREAL", Timeframe.DAY_1, RECENT, END)
    assert "av-key-value" not in str(caught.value)


async def test_an_unknown_notice_is_an_error_not_data(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, httpx.Response(200, json={"Information": "Scheduled maintenance tonight."}))
    with pytest.raises(NtProviderError, match="notice instead of data"):
        await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)


@pytest.mark.parametrize("answer", [
    httpx.Response(200, content=b"{\"Meta Data\": ", headers={"Content-Type": "application/json"}),
    httpx.Response(200, json={"Meta Data": {}}),
    httpx.Response(200, json={"Time Series (Daily)": {"2020-08-31": {"1. open": "1"}}}),
    httpx.Response(200, json={"Time Series (Daily)": {"31/08/2020": {"1. open": "1", "2. high": "1", "3. low": "1",
                                                                    "4. close": "1", "5. volume": "1"}}}),
])
async def test_malformed_answers_are_provider_errors(make_market: MarketFactory, replay: Replay,
                                                     answer: httpx.Response) -> None:
    replay.add(QUERY, answer)
    with pytest.raises(NtProviderError):
        await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)


async def test_5xx_then_success(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(QUERY, httpx.Response(503), recorded("alphavantage/time_series_daily_IBM.json"))
    bars = await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)
    assert len(bars) == 2


async def test_429_with_retry_after_then_success(make_market: MarketFactory, replay: Replay,
                                                 fake_time: FakeTime) -> None:
    replay.add(QUERY, httpx.Response(429, headers={"Retry-After": "4"}),
               recorded("alphavantage/time_series_daily_IBM.json"))
    bars = await _av(make_market).bars("IBM", Timeframe.DAY_1, RECENT, END)
    assert len(bars) == 2 and fake_time.sleeps == [4.0]
