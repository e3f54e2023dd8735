"""Alpaca news (Benzinga's feed): ``GET https://data.alpaca.markets/v1beta1/news``
(https://docs.alpaca.markets/reference/news-3).

Keys: the ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` headers, as for market data. An answer is
``{"news": [...], "next_page_token": str | null}``; items carry ``headline``, ``summary`` (may be
``''``), ``created_at``/``updated_at`` (RFC 3339 UTC; ``created_at`` is the publication time),
``symbols``, ``source`` and ``url`` (may be null). Pages hold at most 50 items; pass the token
back as ``page_token`` for the next one. Errors are ``{"message": ...}`` with the HTTP status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import httpx

from neural_trader.errors import NtError, NtUserError
from neural_trader.services.http import NtProviderError

from .articles import Article
from .common import NewsPage, NewsRequest, pairs, rfc3339, symbol_list, text_or_none, unreadable, utc_from_iso

PROVIDER = "alpaca"
BASE_URL = "https://data.alpaca.markets"
MAX_LIMIT = 50


def news_request(*, api_key: str, api_secret: str, symbols: Iterable[str] | None = None,
                 start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int = 50,
                 sort: str = "desc", include_content: bool = False, page_token: str | None = None) -> NewsRequest:
    """News about any of ``symbols`` (all news when empty) from ``start`` to ``end`` (aware)."""
    for name, value in (("api_key", api_key), ("api_secret", api_secret)):
        if not isinstance(value, str) or not value.strip():
            raise NtUserError(f"{name} is missing: set NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise NtUserError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    if sort not in ("asc", "desc"):
        raise NtUserError(f"sort must be 'asc' or 'desc', got {sort!r}")
    first = rfc3339(start, "start") if start is not None else None
    last = rfc3339(end, "end") if end is not None else None
    if first is not None and last is not None and first > last:
        raise NtUserError(f"start ({first}) is after end ({last})")
    params = {"symbols": ",".join(symbol_list(symbols, "symbols")) or None, "start": first, "end": last,
              "limit": limit, "sort": sort, "include_content": "true" if include_content else None,
              "page_token": page_token or None}
    return NewsRequest(provider=PROVIDER, base_url=BASE_URL, path="/v1beta1/news", params=pairs(params),
                       headers=(("APCA-API-KEY-ID", api_key.strip()), ("APCA-API-SECRET-KEY", api_secret.strip())))


def classify(response: httpx.Response) -> NtError | None:
    """Alpaca's 400/422 answers say which parameter was wrong: the caller's error, with that message.
    Other statuses take the HTTP layer's default mapping (401 key, 403 plan, 429 rate limit)."""
    if response.status_code not in (400, 422):
        return None
    body = response.json()
    said = " ".join(str(body.get("message", "")).split()) if isinstance(body, dict) else ""
    return NtUserError(f"provider alpaca refused the news request (HTTP {response.status_code}): "
                       f"{said or 'no message'}; check symbols, start, end and limit (1..{MAX_LIMIT})",
                       details={"provider": PROVIDER, "status": response.status_code})


def parse_news(body: Any) -> NewsPage:
    """The articles of one ``/v1beta1/news`` page and its ``next_page_token``."""
    if not isinstance(body, dict) or not isinstance(body.get("news"), list):
        raise NtProviderError("provider alpaca sent an unexpected answer: no 'news' list")
    out = []
    for i, item in enumerate(body["news"]):
        try:
            out.append(Article.create(
                title=item["headline"], summary=text_or_none(item.get("summary")), url=text_or_none(item.get("url")),
                source=text_or_none(item.get("source")) or "unknown",
                published_at=utc_from_iso(item["created_at"]), provider=PROVIDER,
                symbols=[str(s) for s in item.get("symbols") or ()]))
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise unreadable(PROVIDER, f"news item {i}", exc) from None
    token = body.get("next_page_token")
    return NewsPage(provider=PROVIDER, articles=tuple(out), next_page=token if isinstance(token, str) and token else None)
