"""Alpaca /v1beta1/news: the page body is constructed from the documentation (see the manifest),
the 401/429 error bodies are Alpaca's recorded ones, sent through the host's HTTP layer."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest

from neural_trader.errors import NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError
from neural_trader_plugins.news import alpaca

from .conftest import body, recorded

KEY, SECRET = "alpaca-key-id", "alpaca-secret-value"


def test_a_page_parses_with_its_token() -> None:
    page = alpaca.parse_news(body("alpaca/news_AAPL.json"))
    assert page.next_page == "MTcxNDY1NTEwMDAwMDAwMDAwMHwzODU2MDAxMg=="
    first, second = page.articles
    assert first.published_at == dt.datetime(2024, 5, 2, 20, 45, 10, tzinfo=dt.UTC)
    assert first.summary is None and first.symbols == ("AAPL",) and first.source == "benzinga"
    # url null: the id falls back to source, title and time
    assert second.url is None and second.symbols == ("AAPL", "MSFT")
    expected = "text:benzinga|apple microsoft lead tech higher ahead of earnings|2024-05-02T13:05:00Z"
    assert second.id == hashlib.sha256(expected.encode()).hexdigest()[:32]


def test_the_last_page_has_no_token_and_a_broken_item_is_the_providers_error() -> None:
    assert alpaca.parse_news({"news": [], "next_page_token": None}).next_page is None
    with pytest.raises(NtProviderError, match="news item 0"):
        alpaca.parse_news({"news": [{"headline": "x", "created_at": "2024-05-02"}]})
    with pytest.raises(NtProviderError, match="'news'"):
        alpaca.parse_news({"message": "oops"})


async def test_request_through_the_http_layer(send: Any) -> None:
    request = alpaca.news_request(api_key=KEY, api_secret=SECRET, symbols=["aapl", "MSFT"], limit=2,
                                  start=dt.datetime(2024, 5, 2, tzinfo=dt.UTC), page_token="abc")
    page = alpaca.parse_news(await send(request, alpaca.classify, recorded("alpaca/news_AAPL.json")))
    assert len(page.articles) == 2
    (sent,) = send.replay.requests
    assert sent.url.path == "/v1beta1/news"
    assert sent.headers["APCA-API-KEY-ID"] == KEY and sent.headers["APCA-API-SECRET-KEY"] == SECRET
    assert dict(sent.url.params) == {"symbols": "AAPL,MSFT", "start": "2024-05-02T00:00:00Z", "limit": "2",
                                     "sort": "desc", "page_token": "abc"}
    assert KEY not in repr(request) and SECRET not in repr(request)


async def test_errors_through_the_http_layer(send: Any) -> None:
    request = alpaca.news_request(api_key=KEY, api_secret=SECRET)
    with pytest.raises(NtProviderAuthError) as caught:
        await send(request, alpaca.classify, recorded("alpaca/error_401_unauthorized.json"))
    assert SECRET not in str(caught.value)
    with pytest.raises(NtRateLimited):
        await send(request, alpaca.classify, recorded("alpaca/error_429_rate_limited.json"))
    bad = httpx.Response(422, json={"code": 42210000, "message": "invalid limit"})
    with pytest.raises(NtUserError, match="invalid limit"):
        await send(request, alpaca.classify, bad)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"limit": 51}, "limit"), ({"sort": "newest"}, "sort"), ({"api_secret": ""}, "api_secret"),
    ({"start": dt.datetime(2024, 5, 2)}, "start"), ({"symbols": ["A A"]}, "symbols"),
    ({"start": dt.datetime(2024, 5, 3, tzinfo=dt.UTC), "end": dt.datetime(2024, 5, 2, tzinfo=dt.UTC)}, "start"),
])
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(NtUserError, match=field):
        alpaca.news_request(**{"api_key": KEY, "api_secret": SECRET, **kwargs})
