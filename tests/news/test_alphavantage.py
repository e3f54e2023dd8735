"""Alpha Vantage NEWS_SENTIMENT: its HTTP-200 throttling and plan notices (recorded) become errors,
never an empty feed, both in ``classify`` (through the host's HTTP layer) and in the parser; the
success body is constructed from the documentation (see the manifest)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neural_trader.errors import NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderForbidden
from neural_trader_plugins.news import alphavantage

from .conftest import body, recorded

KEY = "av-key-value-123"


@pytest.mark.parametrize(("name", "error", "retry_after"), [
    ("alphavantage/information_burst.json", NtRateLimited, 1.0),
    ("alphavantage/note_rate_limit_legacy.json", NtRateLimited, 60.0),
    ("alphavantage/information_daily_limit.json", NtRateLimited, None),
    ("alphavantage/information_demo_key.json", NtProviderAuthError, None),
    ("alphavantage/information_premium_outputsize_full.json", NtProviderForbidden, None),
    ("alphavantage/error_invalid_call.json", NtUserError, None),
])
def test_notices_are_errors_not_empty_results(name: str, error: type[Exception], retry_after: float | None) -> None:
    found = alphavantage.classify(recorded(name))
    assert isinstance(found, error)
    if retry_after is not None:
        assert found.retry_after == retry_after
    with pytest.raises(error):
        alphavantage.parse_news(body(name))


def test_the_daily_quota_waits_for_utc_midnight() -> None:
    found = alphavantage.classify(recorded("alphavantage/information_daily_limit.json"))
    assert isinstance(found, NtRateLimited) and 0 < found.retry_after <= 86_400
    assert alphavantage._seconds_to_utc_midnight(dt.datetime(2024, 5, 2, 23, 0, tzinfo=dt.UTC)) == 3600.0


async def test_throttling_through_the_http_layer_is_retried_then_raised(send: Any, http: Any) -> None:
    request = alphavantage.news_request(api_key=KEY, tickers=["AAPL"])
    with pytest.raises(NtRateLimited, match="throttling") as caught:
        await send(request, alphavantage.classify, recorded("alphavantage/information_burst.json"))
    assert KEY not in str(caught.value)
    assert http[2] == [1.0, 1.0, 1.0]  # the three default retries, each after the 1 s burst wait


async def test_a_notice_then_the_feed(send: Any) -> None:
    request = alphavantage.news_request(api_key=KEY, tickers=["AAPL"])
    answer = await send(request, alphavantage.classify, recorded("alphavantage/information_burst.json"),
                        recorded("alphavantage/news_sentiment_AAPL.json"))
    assert len(alphavantage.parse_news(answer).articles) == 2
    assert [r.url.params["apikey"] for r in send.replay.requests] == [KEY, KEY]


def test_the_feed_parses_with_sentiment_and_relevance() -> None:
    first, second = alphavantage.parse_news(body("alphavantage/news_sentiment_AAPL.json")).articles
    assert first.published_at == dt.datetime(2024, 5, 2, 20, 41, 35, tzinfo=dt.UTC)
    assert first.raw_sentiment == pytest.approx(0.312845) and first.raw_sentiment_label == "Somewhat-Bullish"
    assert first.symbols == ("AAPL", "MSFT")
    aapl, msft = first.mention("AAPL"), first.mention("msft")
    assert (aapl.relevance, aapl.sentiment) == (pytest.approx(0.912345), pytest.approx(0.401234))
    assert msft.relevance == pytest.approx(0.081234)
    assert second.summary is None and second.source == "Example News"
    eastern = alphavantage.parse_news(body("alphavantage/news_sentiment_AAPL.json"),
                                      published_tz=dt.timezone(dt.timedelta(hours=-4))).articles[0]
    assert eastern.published_at == dt.datetime(2024, 5, 3, 0, 41, 35, tzinfo=dt.UTC)


def test_request_params_and_key_redaction() -> None:
    request = alphavantage.news_request(api_key=KEY, tickers="aapl,msft", topics=["Earnings"],
                                        start=dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
                                        limit=200)
    assert request.params_dict() == {"function": "NEWS_SENTIMENT", "tickers": "AAPL,MSFT", "topics": "earnings",
                                     "time_from": "20240501T1330", "sort": "LATEST", "limit": "200", "apikey": KEY}
    assert KEY not in repr(request) and "'apikey', '***'" in repr(request)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"topics": ["crypto"]}, "topics"), ({"limit": 1001}, "limit"), ({"sort": "NEWEST"}, "sort"),
    ({"tickers": ["AA PL"]}, "tickers"), ({"api_key": ""}, "api_key"), ({"end": dt.datetime(2024, 1, 1)}, "end"),
])
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(NtUserError, match=field):
        alphavantage.news_request(**{"api_key": KEY, **kwargs})
