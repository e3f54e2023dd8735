"""Alpha Vantage news with sentiment: ``GET /query?function=NEWS_SENTIMENT``
(https://www.alphavantage.co/documentation/#news-sentiment).

Key: the ``apikey`` query parameter (Alpha Vantage accepts no header); :class:`NewsRequest` and
the HTTP layer redact it. Each feed item carries Alpha Vantage's own sentiment: the overall score
(-1..1, labels Bearish, Somewhat-Bearish, Neutral, Somewhat-Bullish, Bullish) becomes
``raw_sentiment``/``raw_sentiment_label``, and each ``ticker_sentiment`` entry a
:class:`~.articles.Mention` with its ``relevance_score`` (0..1) and ``ticker_sentiment_score``.

``time_published`` is ``YYYYMMDDTHHMMSS`` with no zone; the documentation does not name one, and
this adapter reads it as UTC unless the caller passes ``published_tz``.

Alpha Vantage reports throttling, plan limits and bad calls as HTTP 200 with an ``Information``,
``Note`` or ``Error Message`` key. :func:`classify` (for the HTTP layer) and :func:`parse_news`
both turn those into errors, never an empty feed: throttling -> :class:`NtRateLimited` (burst: retry
in 1 s; legacy per-minute ``Note``: 60 s; daily quota: at the next UTC midnight), the demo key ->
:class:`NtProviderAuthError`, a premium feature -> :class:`NtProviderForbidden`, invalid inputs or
``Error Message`` -> :class:`NtUserError` naming tickers/topics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import httpx

from neural_trader.errors import NtError, NtUserError
from neural_trader.services.http import NtProviderError
from neural_trader_plugins.market_providers.alphavantage import notice_error

from .articles import Article, Mention
from .common import NewsPage, NewsRequest, as_utc, pairs, symbol_list, text_or_none, unreadable

PROVIDER = "alphavantage"
BASE_URL = "https://www.alphavantage.co"
TOPICS = ("blockchain", "earnings", "ipo", "mergers_and_acquisitions", "financial_markets", "economy_fiscal",
          "economy_monetary", "economy_macro", "energy_transportation", "finance", "life_sciences",
          "manufacturing", "real_estate", "retail_wholesale", "technology")
SORTS = ("LATEST", "EARLIEST", "RELEVANCE")
MAX_LIMIT = 1000


def news_request(*, api_key: str, tickers: Iterable[str] | None = None, topics: Iterable[str] | None = None,
                 start: dt.datetime | None = None, end: dt.datetime | None = None, sort: str = "LATEST",
                 limit: int = 50) -> NewsRequest:
    """``NEWS_SENTIMENT`` for ``tickers`` (articles mentioning all of them) and/or ``topics``,
    published from ``start`` to ``end`` (aware datetimes, sent to the minute in UTC)."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise NtUserError("api_key is missing: set NT_ALPHAVANTAGE_API_KEY (a free key from "
                          "https://www.alphavantage.co/support/#api-key)")
    ticker_list = symbol_list(tickers, "tickers")
    topic_list = [t.strip().lower() for t in (topics or ()) if t and t.strip()]
    if bad := [t for t in topic_list if t not in TOPICS]:
        raise NtUserError(f"topics may hold {', '.join(TOPICS)}; not {', '.join(bad)}")
    if sort not in SORTS:
        raise NtUserError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise NtUserError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    start_utc = as_utc(start, "start") if start is not None else None
    end_utc = as_utc(end, "end") if end is not None else None
    if start_utc and end_utc and start_utc > end_utc:
        raise NtUserError(f"start ({start_utc.isoformat()}) is after end ({end_utc.isoformat()})")
    params = {"function": "NEWS_SENTIMENT", "tickers": ",".join(ticker_list) or None,
              "topics": ",".join(topic_list) or None,
              "time_from": start_utc.strftime("%Y%m%dT%H%M") if start_utc else None,
              "time_to": end_utc.strftime("%Y%m%dT%H%M") if end_utc else None, "sort": sort, "limit": limit,
              "apikey": api_key.strip()}
    return NewsRequest(provider=PROVIDER, base_url=BASE_URL, path="/query", params=pairs(params))


def _seconds_to_utc_midnight(now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def error_for(body: Any) -> NtError | None:
    """The error an HTTP-200 notice body stands for, or ``None`` if ``body`` is not one."""
    if not isinstance(body, dict) or "feed" in body:
        return None
    if isinstance(body.get("Error Message"), str):
        said = " ".join(body["Error Message"].split())
        return NtUserError(f"provider alphavantage rejected the news request (check tickers and topics): {said}")
    text = body.get("Note") or body.get("Information")
    if not isinstance(text, str):
        return None
    return notice_error(text, "news", invalid="provider alphavantage refused the news request (check tickers, "
                                              "topics, start and end)")


def classify(response: httpx.Response) -> NtError | None:
    """Alpha Vantage's HTTP-200 notices, named for the host's HTTP layer (see the module doc)."""
    if response.status_code != 200:
        return None
    return error_for(response.json())


def _score(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError(f"{what} {value!r} is not a number")
    return float(value)


def parse_news(body: Any, *, published_tz: dt.tzinfo = dt.UTC) -> NewsPage:
    """The articles of a ``NEWS_SENTIMENT`` answer; a notice body raises its error (module doc)."""
    if (error := error_for(body)) is not None:
        raise error
    if not isinstance(body, dict) or not isinstance(body.get("feed"), list):
        keys = ", ".join(list(body)[:5]) if isinstance(body, dict) else type(body).__name__
        raise NtProviderError(f"provider alphavantage sent an unexpected answer: no 'feed' list (keys: {keys})")
    out = []
    for i, item in enumerate(body["feed"]):
        try:
            when = dt.datetime.strptime(item["time_published"], "%Y%m%dT%H%M%S").replace(tzinfo=published_tz)
            mentions = [Mention(symbol=t["ticker"], relevance=_score(t.get("relevance_score"), "relevance_score"),
                                sentiment=_score(t.get("ticker_sentiment_score"), "ticker_sentiment_score"))
                        for t in item.get("ticker_sentiment") or ()]
            out.append(Article.create(
                title=item["title"], summary=text_or_none(item.get("summary")), url=text_or_none(item.get("url")),
                source=text_or_none(item.get("source")) or text_or_none(item.get("source_domain")) or "unknown",
                published_at=when, provider=PROVIDER,
                raw_sentiment=_score(item.get("overall_sentiment_score"), "overall_sentiment_score"),
                raw_sentiment_label=text_or_none(item.get("overall_sentiment_label")), mentions=mentions))
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise unreadable(PROVIDER, f"feed item {i}", exc) from None
    return NewsPage(provider=PROVIDER, articles=tuple(out))
