"""NewsAPI against its recorded answers: /everything and /top-headlines with nullable fields,
its error codes through the host's HTTP layer, request building and key handling."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neural_trader.errors import NtLimitExceeded, NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError
from neural_trader_plugins.news import newsapi

from .conftest import body, recorded

KEY = "newsapi-key-0123456789"


def test_everything_parses_with_nullable_fields() -> None:
    page = newsapi.parse_articles(body("newsapi/everything.json"), symbols=["aapl"])
    assert page.total == 1312 and page.provider == "newsapi"
    first, second = page.articles
    assert first.title == "Apple beats quarterly revenue estimates on strong iPhone demand"
    assert first.source == "Reuters" and first.symbols == ("AAPL",)
    assert first.published_at == dt.datetime(2024, 5, 2, 20, 41, 35, tzinfo=dt.UTC)
    assert first.summary is not None and first.summary.startswith("Apple Inc on Thursday")
    # source.id, author, description, urlToImage and content are all null in the second item
    assert second.source == "Yahoo Entertainment" and second.summary is None
    assert second.published_at == dt.datetime(2024, 5, 2, 21, 5, tzinfo=dt.UTC)
    assert second.url == "https://finance.yahoo.com/news/apple-shares-jump-203000000.html"


def test_top_headlines_parse() -> None:
    (article,) = newsapi.parse_articles(body("newsapi/top_headlines.json")).articles
    assert article.symbols == () and article.provider == "newsapi"


def test_withdrawn_items_are_dropped_and_a_broken_item_is_the_providers_error() -> None:
    removed = {"status": "ok", "totalResults": 1, "articles": [
        {"source": {"id": None, "name": "[Removed]"}, "author": None, "title": "[Removed]", "description": "[Removed]",
         "url": "https://removed.com", "urlToImage": None, "publishedAt": "1970-01-01T00:00:00Z", "content": "[Removed]"}]}
    assert newsapi.parse_articles(removed).articles == ()
    broken = {"status": "ok", "articles": [{"title": "x", "source": {}, "publishedAt": "yesterday"}]}
    with pytest.raises(Exception, match="article 0") as caught:
        newsapi.parse_articles(broken)
    assert type(caught.value).__name__ == "NtProviderError"


@pytest.mark.parametrize(("name", "error"), [
    ("newsapi/error_401_api_key_invalid.json", NtProviderAuthError),
    ("newsapi/error_429_rate_limited.json", NtRateLimited),
    ("newsapi/error_426_maximum_results_reached.json", NtLimitExceeded),
])
def test_error_bodies_are_named(name: str, error: type[Exception]) -> None:
    assert isinstance(newsapi.classify(recorded(name)), error)
    with pytest.raises(error):
        newsapi.parse_articles(body(name))


async def test_through_the_http_layer(send: Any) -> None:
    request = newsapi.everything_request(api_key=KEY, q="apple", search_in=["title", "description"], page_size=2,
                                         start=dt.datetime(2024, 5, 1, 22, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    page = newsapi.parse_articles(await send(request, newsapi.classify, recorded("newsapi/everything.json")))
    assert len(page.articles) == 2
    (sent,) = send.replay.requests
    assert sent.url.path == "/v2/everything" and sent.headers["X-Api-Key"] == KEY
    assert KEY not in str(sent.url)
    assert dict(sent.url.params) == {"q": "apple", "from": "2024-05-01T20:00:00Z", "language": "en",
                                     "sortBy": "publishedAt", "searchIn": "title,description", "pageSize": "2",
                                     "page": "1"}


async def test_errors_through_the_http_layer(send: Any) -> None:
    request = newsapi.everything_request(api_key=KEY, q="apple")
    with pytest.raises(NtProviderAuthError, match="NT_NEWSAPI_API_KEY") as caught:
        await send(request, newsapi.classify, recorded("newsapi/error_401_api_key_invalid.json"))
    assert KEY not in str(caught.value)
    with pytest.raises(NtLimitExceeded, match="earlier page"):
        await send(request, newsapi.classify, recorded("newsapi/error_426_maximum_results_reached.json"))
    with pytest.raises(NtRateLimited):
        await send(request, newsapi.classify, recorded("newsapi/error_429_rate_limited.json"))


def test_the_key_never_shows_in_a_request_repr() -> None:
    request = newsapi.top_headlines_request(api_key=KEY, country="US", category="business")
    assert KEY not in repr(request) and "X-Api-Key" in repr(request)
    assert request.params_dict() == {"country": "us", "category": "business", "pageSize": "20", "page": "1"}


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"q": None}, "q"), ({"q": "apple", "page_size": 101}, "page_size"), ({"q": "apple", "page": 0}, "page"),
    ({"q": "apple", "sort_by": "newest"}, "sort_by"), ({"q": "apple", "search_in": ["body"]}, "search_in"),
    ({"q": "apple", "start": dt.datetime(2024, 5, 1)}, "start"),
    ({"q": "apple", "start": dt.datetime(2024, 5, 2, tzinfo=dt.UTC), "end": dt.datetime(2024, 5, 1, tzinfo=dt.UTC)}, "start"),
    ({"q": "apple", "api_key": ""}, "api_key"),
])
def test_bad_everything_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(NtUserError, match=field):
        newsapi.everything_request(**{"api_key": KEY, **kwargs})


def test_top_headlines_refuses_sources_with_country() -> None:
    with pytest.raises(NtUserError, match="sources cannot be combined with country"):
        newsapi.top_headlines_request(api_key=KEY, country="us", sources=["reuters"])
    with pytest.raises(NtUserError, match="category"):
        newsapi.top_headlines_request(api_key=KEY, category="finance")
