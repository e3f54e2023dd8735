"""News sources by name (hook ``nt_register_news_sources``): each one builds its request with its
adapter module, sends it through the host's HTTP layer (rate limits, retries, breaker, redaction)
and parses the answer into a :class:`~.common.NewsPage`.

A source is anything with ``name``, ``summary``, ``network`` (it reaches the internet),
``status(ctx) -> (configured, reason)`` and ``async fetch(ctx, query) -> NewsPage``. The built-in
ones: ``rss`` (feed files in a local folder, the offline default), ``newsapi``, ``finnhub``,
``alphavantage`` and ``alpaca``. Keys come from ``[plugins.<name>]`` or the environment
(``NT_<NAME>_API_KEY`` and the provider's usual variable); they never appear in answers or logs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from neural_trader.errors import NtUserError
from neural_trader.services.ratelimit import RateLimit
from neural_trader_plugins.news import alpaca, alphavantage, finnhub, newsapi, rss
from neural_trader_plugins.news.articles import Article
from neural_trader_plugins.news.common import NewsPage, NewsRequest

__all__ = ["BUILTIN", "NewsQuery", "NewsSource", "SourceContext"]


@attrs.frozen(kw_only=True)
class NewsQuery:
    """What to fetch: articles about ``symbols`` (or matching ``query``) published in ``[start, end]``."""

    symbols: tuple[str, ...] = ()
    query: str | None = None
    start: dt.datetime
    end: dt.datetime
    limit: int = 50


#: Each network source's published free-plan quota, as the host's token bucket for it (the operator's
#: ``NT_<PROVIDER>_RATE_*`` settings override them; the market adapters of the same provider share it).
DEFAULT_RATES: Mapping[str, RateLimit] = {
    "newsapi": RateLimit(limit=100, per=86_400.0, burst=10),  # Developer plan: 100 requests a day
    "finnhub": RateLimit.per_minute(60),
    "alphavantage": RateLimit(limit=5, per=60.0, burst=2),  # as the market adapter
    "alpaca": RateLimit.per_minute(200),
}


class SourceContext:
    """What a source needs from the host: its settings, its environment and the HTTP layer (which
    rate-limits each provider and whose answers' quota headers are recorded in :mod:`.health`)."""

    def __init__(self, host: Any, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.host = host
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.now = clock or (lambda: dt.datetime.now(dt.UTC))

    def setting(self, source: str, key: str, *env_names: str) -> str | None:
        """``[plugins.<source>] <key>``, ``NT_<SOURCE>_<KEY>`` or the first of ``env_names`` set."""
        values = self.host.settings.plugin(source, self.environ)
        found = values.get(key)
        if found:
            return str(found)
        for name in env_names:
            if self.environ.get(name):
                return self.environ[name]
        return None

    def client(self, request: NewsRequest, classify: Any) -> Any:
        return self.host.services.http.client(request.provider, base_url=request.base_url,
                                              headers=request.headers_dict(), classify=classify,
                                              rate=DEFAULT_RATES.get(request.provider))

    async def get(self, request: NewsRequest, classify: Any) -> Any:
        """The decoded JSON answer to ``request``; the quota headers it carried are recorded."""
        from neural_trader.services.http import NtProviderError
        from neural_trader_plugins.news.health import health_of, quota_from_headers

        response = await self.client(request, classify).request("GET", request.path, params=request.params_dict())
        quota = quota_from_headers(response.headers, self.now())
        if quota is not None:
            health_of(self.host).quota(request.provider, quota)
        try:
            return response.json()
        except ValueError:
            raise NtProviderError(f"provider {request.provider} returned malformed JSON for GET {request.path} "
                                  f"(HTTP {response.status_code})") from None


Fetch = Callable[[SourceContext, NewsQuery], Awaitable[NewsPage]]
Status = Callable[[SourceContext], tuple[bool, str | None]]


@attrs.frozen(kw_only=True)
class NewsSource:
    name: str
    summary: str
    network: bool
    status: Status = attrs.field(repr=False)
    fetch: Fetch = attrs.field(repr=False)


def _key_status(source: str, hint: str, *env: str) -> Status:
    def status(ctx: SourceContext) -> tuple[bool, str | None]:
        return (True, None) if ctx.setting(source, "api_key", *env) else (False, f"set {hint}")
    return status


def _key(ctx: SourceContext, source: str, hint: str, *env: str) -> str:
    key = ctx.setting(source, "api_key", *env)
    if not key:
        raise NtUserError(f"news source {source} needs an API key: set {hint}")
    return key


# -- rss: local feed files (the offline default) -------------------------------------------------------
def rss_folder(ctx: SourceContext) -> Path:
    """``[plugins.rss] dir`` / ``NT_RSS_DIR``, default ``<data_dir>/news``."""
    configured = ctx.setting("rss", "dir")
    return Path(configured).expanduser() if configured else Path(ctx.host.settings.data_dir) / "news"


def _rss_status(ctx: SourceContext) -> tuple[bool, str | None]:
    folder = rss_folder(ctx)
    # The folder's path is the server's business: the note names the setting, not the path.
    return (True, None) if folder.is_dir() else (True, "no feed folder yet: put RSS/Atom files in NT_RSS_DIR "
                                                       "(default <data_dir>/news)")


def _feed_symbol(path: Path) -> str | None:
    """A file named for a symbol (``AAPL.xml``, ``aapl-reuters.rss``) is that symbol's feed."""
    from neural_trader.domain.market import SYMBOL_PATTERN

    name = path.stem.split("-")[0].upper()
    return name if re.match(SYMBOL_PATTERN, name) and name != "NEWS" else None


def read_folder(folder: Path) -> list[Article]:
    """Every ``.xml``/``.rss``/``.atom`` file of ``folder``: a symbol's own feed (named for it) tags its
    items with the symbol; any feed's items also carry the cashtags of their titles (``$TSLA``)."""
    articles: list[Article] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".xml", ".rss", ".atom") and path.is_file():
                own = _feed_symbol(path)
                articles.extend(rss.read_feed(path, symbols=(own,) if own else ()).articles)
    return articles


async def _rss_fetch(ctx: SourceContext, q: NewsQuery) -> NewsPage:
    """The feed files' items about the query's symbols or words (:func:`read_folder`)."""
    import anyio.to_thread

    folder = rss_folder(ctx)

    def read() -> NewsPage:
        articles = read_folder(folder)
        wanted = set(q.symbols)
        text = (q.query or "").lower()
        keep = [a for a in articles if q.start <= a.published_at <= q.end
                and (not wanted or wanted & set(a.symbols))
                and (not text or text in f"{a.title} {a.summary or ''}".lower())]
        keep.sort(key=lambda a: a.published_at, reverse=True)
        return NewsPage(provider="rss", articles=tuple(keep[:q.limit]), next_page=None, total=len(keep))

    return await anyio.to_thread.run_sync(read)


# -- network sources ------------------------------------------------------------------------------------
async def _newsapi_fetch(ctx: SourceContext, q: NewsQuery) -> NewsPage:
    key = _key(ctx, "newsapi", "NT_NEWSAPI_API_KEY (or NEWSAPI_KEY)", "NEWSAPI_KEY")
    words = q.query or " OR ".join(q.symbols)
    if not words:
        raise NtUserError("newsapi needs symbols or query to search for")
    request = newsapi.everything_request(api_key=key, q=words, start=q.start, end=q.end,
                                         page_size=min(q.limit, 100))
    return newsapi.parse_articles(await ctx.get(request, newsapi.classify), symbols=q.symbols)


async def _finnhub_fetch(ctx: SourceContext, q: NewsQuery) -> NewsPage:
    key = _key(ctx, "finnhub", "NT_FINNHUB_API_KEY (or FINNHUB_API_KEY)", "FINNHUB_API_KEY")
    if not q.symbols:
        raise NtUserError("finnhub company news needs symbols")
    pages = []
    for symbol in q.symbols:
        request = finnhub.company_news_request(api_key=key, symbol=symbol, start=q.start.date(), end=q.end.date())
        pages.append(finnhub.parse_company_news(await ctx.get(request, finnhub.classify), symbol=symbol))
    articles = [a for p in pages for a in p.articles]
    return NewsPage(provider="finnhub", articles=tuple(articles[:q.limit]), next_page=None, total=len(articles))


async def _alphavantage_fetch(ctx: SourceContext, q: NewsQuery) -> NewsPage:
    key = _key(ctx, "alphavantage", "NT_ALPHAVANTAGE_API_KEY (or ALPHA_VANTAGE_API_KEY)", "ALPHA_VANTAGE_API_KEY")
    request = alphavantage.news_request(api_key=key, tickers=q.symbols or None, start=q.start, end=q.end,
                                        limit=min(q.limit, 1000))
    return alphavantage.parse_news(await ctx.get(request, alphavantage.classify))


def _alpaca_status(ctx: SourceContext) -> tuple[bool, str | None]:
    ok = ctx.setting("alpaca", "api_key", "APCA_API_KEY_ID") and ctx.setting("alpaca", "api_secret",
                                                                              "APCA_API_SECRET_KEY")
    return (True, None) if ok else (False, "set NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")


async def _alpaca_fetch(ctx: SourceContext, q: NewsQuery) -> NewsPage:
    key = ctx.setting("alpaca", "api_key", "APCA_API_KEY_ID")
    secret = ctx.setting("alpaca", "api_secret", "APCA_API_SECRET_KEY")
    if not key or not secret:
        raise NtUserError("news source alpaca needs keys: set NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")
    request = alpaca.news_request(api_key=key, api_secret=secret, symbols=q.symbols or None, start=q.start,
                                  end=q.end, limit=min(q.limit, 50))
    return alpaca.parse_news(await ctx.get(request, alpaca.classify))


BUILTIN: tuple[NewsSource, ...] = (
    NewsSource(name="rss", network=False, status=_rss_status, fetch=_rss_fetch,
               summary="RSS 2.0 and Atom feed files in a local folder (NT_RSS_DIR, default <data_dir>/news): "
                       "the offline default"),
    NewsSource(name="newsapi", network=True, fetch=_newsapi_fetch,
               status=_key_status("newsapi", "NT_NEWSAPI_API_KEY", "NEWSAPI_KEY"),
               summary="NewsAPI /v2/everything: articles from many publishers matching the symbols or a query"),
    NewsSource(name="finnhub", network=True, fetch=_finnhub_fetch,
               status=_key_status("finnhub", "NT_FINNHUB_API_KEY", "FINNHUB_API_KEY"),
               summary="Finnhub company news, per symbol"),
    NewsSource(name="alphavantage", network=True, fetch=_alphavantage_fetch,
               status=_key_status("alphavantage", "NT_ALPHAVANTAGE_API_KEY", "ALPHA_VANTAGE_API_KEY"),
               summary="Alpha Vantage NEWS_SENTIMENT: articles with the provider's own sentiment and relevance"),
    NewsSource(name="alpaca", network=True, fetch=_alpaca_fetch, status=_alpaca_status,
               summary="Alpaca news (Benzinga), by symbol"),
)
