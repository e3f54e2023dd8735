"""Finnhub company news against its recorded answers: UNIX times to UTC, empty strings as absent,
``related`` as symbols, and its error bodies through the host's HTTP layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neural_trader.errors import NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError, NtProviderForbidden
from neural_trader_plugins.news import finnhub

from .conftest import body, recorded

KEY = "finnhub-token-value"


def test_company_news_parses() -> None:
    first, second = finnhub.parse_company_news(body("finnhub/company_news_AAPL.json"), symbol="AAPL").articles
    # 1713106815 and 1649611504 are these instants (date -u -d @1713106815)
    assert first.published_at == dt.datetime(2024, 4, 14, 15, 0, 15, tzinfo=dt.UTC)
    assert second.published_at == dt.datetime(2022, 4, 10, 17, 25, 4, tzinfo=dt.UTC)
    assert first.symbols == ("AAPL",) and first.source == "Yahoo" and first.provider == "finnhub"
    assert first.title.startswith("Antitrust fervor") and first.summary.startswith("Antitrust lawsuits")


def test_empty_strings_are_absent_and_empty_related_takes_the_asked_symbol() -> None:
    items = [{"category": "company", "datetime": 1713106815, "headline": "Apple news", "id": 1, "image": "",
              "related": "", "source": "", "summary": "", "url": ""}]
    (article,) = finnhub.parse_company_news(items, symbol="aapl").articles
    assert article.summary is None and article.url is None and article.source == "unknown"
    assert article.symbols == ("AAPL",)
    with pytest.raises(NtProviderError, match="news item 0"):
        finnhub.parse_company_news([{**items[0], "datetime": "2024-04-14"}])


@pytest.mark.parametrize(("name", "error"), [
    ("finnhub/error_401_invalid_token.json", NtProviderAuthError),
    ("finnhub/error_403_no_access.json", NtProviderForbidden),
    ("finnhub/error_429_limit.json", NtRateLimited),
])
async def test_error_bodies(name: str, error: type[Exception], send: Any) -> None:
    assert isinstance(finnhub.classify(recorded(name)), error)
    request = finnhub.company_news_request(api_key=KEY, symbol="AAPL", start=dt.date(2024, 4, 1), end=dt.date(2024, 4, 15))
    with pytest.raises(error) as caught:
        await send(request, finnhub.classify, recorded(name))
    assert KEY not in str(caught.value)


async def test_request_through_the_http_layer(send: Any) -> None:
    request = finnhub.company_news_request(api_key=KEY, symbol="aapl", start=dt.date(2024, 4, 1),
                                           end=dt.datetime(2024, 4, 15, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    answer = await send(request, finnhub.classify, recorded("finnhub/company_news_AAPL.json"))
    assert len(finnhub.parse_company_news(answer, symbol="AAPL").articles) == 2
    (sent,) = send.replay.requests
    assert sent.url.path == "/api/v1/company-news" and sent.headers["X-Finnhub-Token"] == KEY
    assert dict(sent.url.params) == {"symbol": "AAPL", "from": "2024-04-01", "to": "2024-04-16"}
    assert KEY not in repr(request)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"symbol": ""}, "symbol"), ({"symbol": ["AAPL"]}, "symbol"), ({"start": "2024-04-01"}, "start"),
    ({"start": dt.date(2024, 5, 1)}, "start"), ({"api_key": " "}, "api_key"),
])
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    base = {"api_key": KEY, "symbol": "AAPL", "start": dt.date(2024, 4, 1), "end": dt.date(2024, 4, 15)}
    with pytest.raises(NtUserError, match=field):
        finnhub.company_news_request(**{**base, **kwargs})
