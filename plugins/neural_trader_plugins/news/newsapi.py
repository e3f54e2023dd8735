"""NewsAPI (newsapi.org): ``/v2/everything`` and ``/v2/top-headlines``.

Key: sent as the ``X-Api-Key`` header (never a query parameter, so it stays out of URLs and logs).
Nullable fields (``source.id``, ``author``, ``description``, ``urlToImage``, ``content``) become
``None``; ``publishedAt`` is RFC 3339 UTC. Items NewsAPI has withdrawn (title ``[Removed]``) are
dropped. NewsAPI tags no tickers: ``symbols`` given to the parser are attached to every article
(the symbols the caller searched for), otherwise articles carry none.

Errors arrive as ``{"status": "error", "code": ..., "message": ...}``; :func:`classify` maps the
documented codes (newsapi.org/docs/errors): ``apiKeyInvalid``/``apiKeyMissing``/``apiKeyDisabled``
-> :class:`NtProviderAuthError`, ``rateLimited``/``apiKeyExhausted`` -> :class:`NtRateLimited`,
``maximumResultsReached`` -> :class:`NtLimitExceeded` (the free plan serves the first 100 results),
``parameterInvalid``/``parametersMissing``/``sourcesTooMany``/``sourceDoesNotExist`` ->
:class:`NtUserError`, ``unexpectedError`` -> :class:`NtUnavailable`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import httpx

from neural_trader.errors import NtError, NtLimitExceeded, NtRateLimited, NtUnavailable, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError

from .articles import Article
from .common import NewsPage, NewsRequest, as_utc, pairs, text_or_none, unreadable, utc_from_iso

PROVIDER = "newsapi"
BASE_URL = "https://newsapi.org"
MAX_PAGE_SIZE = 100
SORT_BY = ("relevancy", "popularity", "publishedAt")
SEARCH_IN = ("title", "description", "content")
CATEGORIES = ("business", "entertainment", "general", "health", "science", "sports", "technology")
_REMOVED = "[Removed]"


def _key_header(api_key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(api_key, str) or not api_key.strip():
        raise NtUserError("api_key is missing: set NT_NEWSAPI_API_KEY (a free key from https://newsapi.org)")
    return (("X-Api-Key", api_key.strip()),)


def _paging(page_size: int, page: int) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise NtUserError(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise NtUserError(f"page must be a whole number >= 1, got {page!r}")


def _csv(values: Iterable[str] | None, field: str) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split(",")
    items = [v.strip() for v in values if v and v.strip()]
    if not items:
        raise NtUserError(f"{field} is empty: leave it out or give at least one value")
    return ",".join(items)


def everything_request(*, api_key: str, q: str | None = None, sources: Iterable[str] | None = None,
                       domains: Iterable[str] | None = None, start: dt.datetime | None = None,
                       end: dt.datetime | None = None, language: str | None = "en",
                       sort_by: str = "publishedAt", search_in: Iterable[str] | None = None,
                       page_size: int = 100, page: int = 1) -> NewsRequest:
    """``GET /v2/everything``: articles matching ``q`` (NewsAPI's query syntax) and/or from
    ``sources`` / ``domains``, published from ``start`` to ``end`` (aware datetimes)."""
    if not (q and q.strip()) and sources is None and domains is None:
        raise NtUserError("q is missing: /v2/everything needs q, sources or domains (for example q='apple')")
    if sort_by not in SORT_BY:
        raise NtUserError(f"sort_by must be one of {', '.join(SORT_BY)}, got {sort_by!r}")
    scope = _csv(search_in, "search_in")
    if scope is not None and (bad := [s for s in scope.split(",") if s not in SEARCH_IN]):
        raise NtUserError(f"search_in may hold {', '.join(SEARCH_IN)}, not {', '.join(bad)}")
    _paging(page_size, page)
    start_utc = as_utc(start, "start") if start is not None else None
    end_utc = as_utc(end, "end") if end is not None else None
    if start_utc and end_utc and start_utc > end_utc:
        raise NtUserError(f"start ({start_utc.isoformat()}) is after end ({end_utc.isoformat()})")
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    params = {"q": q.strip() if q else None, "sources": _csv(sources, "sources"), "domains": _csv(domains, "domains"),
              "from": start_utc.strftime(stamp) if start_utc else None,
              "to": end_utc.strftime(stamp) if end_utc else None, "language": language, "sortBy": sort_by,
              "searchIn": scope, "pageSize": page_size, "page": page}
    return NewsRequest(provider=PROVIDER, base_url=BASE_URL, path="/v2/everything", params=pairs(params),
                       headers=_key_header(api_key))


def top_headlines_request(*, api_key: str, q: str | None = None, country: str | None = None,
                          category: str | None = None, sources: Iterable[str] | None = None,
                          page_size: int = 20, page: int = 1) -> NewsRequest:
    """``GET /v2/top-headlines``: breaking headlines by ``country``/``category`` or by ``sources``
    (NewsAPI refuses sources mixed with country or category)."""
    source_list = _csv(sources, "sources")
    if source_list and (country or category):
        raise NtUserError("sources cannot be combined with country or category on /v2/top-headlines: "
                          "give sources alone, or country/category without sources")
    if category is not None and category not in CATEGORIES:
        raise NtUserError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    if country is not None and (not isinstance(country, str) or len(country) != 2 or not country.isalpha()):
        raise NtUserError(f"country must be a two-letter ISO 3166 code such as 'us', got {country!r}")
    if not (q or country or category or source_list):
        raise NtUserError("q is missing: /v2/top-headlines needs q, country, category or sources")
    _paging(page_size, page)
    params = {"q": q, "country": country.lower() if country else None, "category": category,
              "sources": source_list, "pageSize": page_size, "page": page}
    return NewsRequest(provider=PROVIDER, base_url=BASE_URL, path="/v2/top-headlines", params=pairs(params),
                       headers=_key_header(api_key))


def error_for(body: Any, status: int | None = None) -> NtError | None:
    """The error a NewsAPI error body stands for, or ``None`` if ``body`` is not one."""
    if not isinstance(body, dict) or body.get("status") != "error":
        return None
    code = str(body.get("code") or "")
    said = " ".join(str(body.get("message") or "").split())
    details = {"provider": PROVIDER, "status": status, "code": code}
    if code in ("apiKeyInvalid", "apiKeyMissing", "apiKeyDisabled"):
        return NtProviderAuthError(f"provider newsapi rejected the key ({code}): check NT_NEWSAPI_API_KEY ({said})",
                                   details=details)
    if code in ("rateLimited", "apiKeyExhausted"):
        return NtRateLimited(f"provider newsapi is rate limiting requests ({code}): {said}", details=details)
    if code == "maximumResultsReached":
        return NtLimitExceeded(f"provider newsapi serves no results past its plan's limit ({code}): ask for "
                               f"an earlier page or narrow the query (q, start, end); {said}", details=details)
    if code in ("parameterInvalid", "parametersMissing", "sourcesTooMany", "sourceDoesNotExist"):
        return NtUserError(f"provider newsapi refused the query ({code}): {said}", details=details)
    if code == "unexpectedError":
        return NtUnavailable(f"provider newsapi failed ({code}): {said}", details=details)
    return NtProviderError(f"provider newsapi answered with an error ({code or 'no code'}): {said}", details=details)


def classify(response: httpx.Response) -> NtError | None:
    """NewsAPI's error bodies named for the host's HTTP layer (see the module doc)."""
    if response.status_code < 400 and b'"error"' not in response.content[:200]:
        return None
    return error_for(response.json(), response.status_code)


def parse_articles(body: Any, *, symbols: Iterable[str] = ()) -> NewsPage:
    """The articles of an ``/v2/everything`` or ``/v2/top-headlines`` answer."""
    if (error := error_for(body)) is not None:
        raise error
    if not isinstance(body, dict) or body.get("status") != "ok" or not isinstance(body.get("articles"), list):
        raise NtProviderError("provider newsapi sent an unexpected answer: no status 'ok' with an articles list")
    tags = tuple(symbols)
    out = []
    for i, item in enumerate(body["articles"]):
        try:
            title = text_or_none(item.get("title"))
            url = text_or_none(item.get("url"))
            if title is None or title == _REMOVED:
                continue
            source = item.get("source") or {}
            out.append(Article.create(
                title=title, summary=text_or_none(item.get("description")) or text_or_none(item.get("content")),
                url=url, source=text_or_none(source.get("name")) or text_or_none(source.get("id")) or "unknown",
                published_at=utc_from_iso(item.get("publishedAt")), provider=PROVIDER, symbols=tags))
        except (AttributeError, TypeError, ValueError) as exc:
            raise unreadable(PROVIDER, f"article {i}", exc) from None
    total = body.get("totalResults")
    return NewsPage(provider=PROVIDER, articles=tuple(out), total=total if isinstance(total, int) else None)
