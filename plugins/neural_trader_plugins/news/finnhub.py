"""Finnhub company news: ``GET /api/v1/company-news?symbol=&from=&to=``.

Key: the ``X-Finnhub-Token`` header (as the market adapter sends it). The answer is a bare JSON
array; ``datetime`` is UNIX seconds (UTC); ``summary`` and ``image`` may be ``''`` (read as absent);
``related`` is a comma-separated ticker list (the requested symbol when empty). ``url`` is Finnhub's
redirect to the publisher, unique per item. ``from`` and ``to`` are calendar dates (UTC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from neural_trader.errors import NtError, NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError, NtProviderForbidden

from .articles import Article
from .common import NewsPage, NewsRequest, symbol_list, text_or_none, unreadable

PROVIDER = "finnhub"
BASE_URL = "https://finnhub.io/api/v1"


def company_news_request(*, api_key: str, symbol: str, start: dt.date, end: dt.date) -> NewsRequest:
    """News about ``symbol`` published on the calendar days ``start`` .. ``end`` (UTC, inclusive)."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise NtUserError("api_key is missing: set NT_FINNHUB_API_KEY (a free key from https://finnhub.io)")
    if not isinstance(symbol, str):
        raise NtUserError(f"symbol must be one ticker such as 'AAPL', got {symbol!r}")
    ticker = symbol_list([symbol], "symbol", required=True)[0]
    days = []
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise NtUserError(f"{name} must be a date, or a datetime with a time zone")
            value = value.astimezone(dt.UTC).date()
        if not isinstance(value, dt.date):
            raise NtUserError(f"{name} must be a date such as 2024-04-01, got {value!r}")
        days.append(value)
    if days[0] > days[1]:
        raise NtUserError(f"start ({days[0]}) is after end ({days[1]})")
    return NewsRequest(provider=PROVIDER, base_url=BASE_URL, path="/company-news",
                       params=(("symbol", ticker), ("from", days[0].isoformat()), ("to", days[1].isoformat())),
                       headers=(("X-Finnhub-Token", api_key.strip()),))


def error_for(body: Any, status: int) -> NtError | None:
    """The error a Finnhub ``{"error": ...}`` body stands for, or ``None``."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    said = " ".join(body["error"].split())
    lower = said.lower()
    details = {"provider": PROVIDER, "status": status}
    if status == 429 or "limit reached" in lower:
        return NtRateLimited(f"provider finnhub is rate limiting requests: {said}", details=details)
    if status == 401 or "api key" in lower or "token" in lower:
        return NtProviderAuthError(f"provider finnhub rejected the key: check NT_FINNHUB_API_KEY ({said})",
                                   details=details)
    if status == 403 or "access" in lower:
        return NtProviderForbidden(f"provider finnhub: your plan does not include this news request ({said})",
                                   details=details)
    if status >= 400:
        return NtUserError(f"provider finnhub refused the news request: {said}", details=details)
    return NtProviderError(f"provider finnhub answered with an error instead of news: {said}", details=details)


def classify(response: httpx.Response) -> NtError | None:
    """Finnhub's ``{"error": ...}`` bodies, named for the host's HTTP layer."""
    if not response.content.lstrip().startswith(b"{"):
        return None
    return error_for(response.json(), response.status_code)


def parse_company_news(body: Any, *, symbol: str | None = None) -> NewsPage:
    """Articles of a company-news answer; ``symbol`` (the one asked for) tags items whose
    ``related`` is empty."""
    if (error := error_for(body, 200)) is not None:
        raise error
    if not isinstance(body, list):
        raise NtProviderError(f"provider finnhub sent an unexpected answer: company news is a list, "
                              f"not {type(body).__name__}")
    asked = symbol_list([symbol] if symbol else [], "symbol")
    out = []
    for i, item in enumerate(body):
        try:
            stamp = item["datetime"]
            if isinstance(stamp, bool) or not isinstance(stamp, int | float) or stamp <= 0:
                raise ValueError(f"datetime {stamp!r} is not a UNIX time")
            related = [s for s in str(item.get("related") or "").split(",") if s.strip()]
            out.append(Article.create(
                title=item["headline"], summary=text_or_none(item.get("summary")), url=text_or_none(item.get("url")),
                source=text_or_none(item.get("source")) or "unknown",
                published_at=dt.datetime.fromtimestamp(stamp, dt.UTC), provider=PROVIDER,
                symbols=related or asked))
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise unreadable(PROVIDER, f"news item {i}", exc) from None
    return NewsPage(provider=PROVIDER, articles=tuple(out))
