"""The ``news_sentiment`` strategy: long when a symbol's decayed news sentiment is bullish enough,
short (flat when shorts are off) when bearish enough, flat otherwise or without news.

Its sentiment series is :func:`~.aggregate.align_to_bars` over the symbol's articles, with each
bar's **cutoff** at the end of its period (``bar stamp + bar length``: daily bars are stamped at
00:00 UTC of their date) plus ``close_offset_minutes`` (zero or earlier: -240 cuts a daily bar at
20:00 UTC, the US close in summer). Only articles published strictly before the cutoff count, so an
article published after a bar's cutoff can only move later bars; the signal after bar ``i`` is
``+1`` if ``score >= long_above``, ``-1`` if ``score <= short_below`` (with at least
``min_articles`` seen), else ``0``.

Articles come from the host's stored articles (``news.fetch`` / ``news.collect`` store them; scores
as stored) or, with ``articles="feeds"``, straight from the RSS/Atom folder (``NT_RSS_DIR``), scored
by ``vader_finance``. A backtest run's id covers its parameters and bars, not the article set: to
make a stored run reproducible while articles keep arriving, pin ``stored_before``. With no article
about the symbol in the window, :meth:`NewsSentiment.missing_data` says so, and ``backtest.compare``
lists the strategy as skipped instead of ranking a run that cannot trade.

A strategy registered through ``nt_register_strategies`` gets no host; this one is bound to its host
at ``nt_startup`` (each host registers an instance of its own). A host that was never started (the
CLI's) reads the database and folder the process settings name, which are the same ones.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy

from .aggregate import ScoredArticle, align_to_bars

__all__ = ["NewsSentiment", "NewsSentimentParams"]


@attrs.frozen(kw_only=True)
class NewsSentimentParams:
    """Where the news comes from, how it decays, and the thresholds."""

    articles: Literal["stored", "feeds"] = param(default="stored", description=(
        "stored: the host's stored articles; feeds: the RSS/Atom files in NT_RSS_DIR"))
    long_above: float = param(default=0.2, ge=-1, le=1, description="go long when the decayed score is at least this")
    short_below: float = param(default=-0.2, ge=-1, le=1, description=(
        "go short (flat without shorts) when the decayed score is at most this"))
    half_life_hours: float = param(default=24.0, gt=0, le=24 * 365, description="an article's weight halves "
                                                                                "every this many hours")
    lookback_hours: float = param(default=24.0 * 7, gt=0, le=24 * 3650, description=(
        "articles older than this at a bar's cutoff do not count"))
    min_articles: int = param(default=1, ge=1, le=1000, description="articles seen within the lookback needed "
                                                                    "for a position")
    min_relevance: float = param(default=0.0, ge=0, le=1, description=(
        "skip articles whose source rates their relevance to the symbol lower"))
    close_offset_minutes: float = param(default=0.0, ge=-1440, le=0, description=(
        "each bar's cutoff: the end of its period plus this (zero or earlier)"))
    stored_before: str | None = param(default=None, max_len=40, description=(
        "stored articles: only those first stored by this RFC 3339 time (pins the article set of a stored "
        "backtest), e.g. 2024-06-01T00:00:00Z"))


def _stored_before(params: NewsSentimentParams) -> dt.datetime | None:
    if params.stored_before is None:
        return None
    from .common import utc_from_iso

    try:
        return utc_from_iso(params.stored_before)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class NewsSentiment(Strategy):
    """Trade on the decayed news sentiment seen at each bar's close (module doc)."""

    name = "news_sentiment"
    summary = "Long on bullish, short on bearish decayed news sentiment, aligned to bars without look-ahead"
    params_type = NewsSentimentParams

    def __init__(self) -> None:
        self._host: weakref.ref[Any] | None = None

    def bind(self, host: Any) -> None:
        """Read articles through ``host`` (its storage and settings)."""
        self._host = weakref.ref(host)

    def constraints(self, params: NewsSentimentParams) -> list[str]:
        problems = []
        if params.short_below >= params.long_above:
            problems.append(f"short_below ({params.short_below}) must be less than long_above ({params.long_above})")
        if params.stored_before is not None:
            try:
                _stored_before(params)
            except ValueError:
                problems.append(f"stored_before must be an RFC 3339 time with a zone such as 2024-06-01T00:00:00Z, "
                                f"got {params.stored_before!r}")
        return problems

    def warmup(self, params: NewsSentimentParams) -> int:
        return 0

    # -- articles -----------------------------------------------------------------------------------
    def _bound(self) -> Any:
        return self._host() if self._host is not None else None

    def articles(self, symbol: str, start: dt.datetime, end: dt.datetime,
                 params: NewsSentimentParams) -> list[ScoredArticle]:
        """The scored articles about ``symbol`` published in ``[start, end]``."""
        host = self._bound()
        if params.articles == "feeds":
            return self._from_feeds(host, symbol, start, end)
        from . import MIGRATIONS, store

        if host is not None:
            return store.load(host.services.storage, symbols=[symbol], start=start, end=end,
                              stored_before=_stored_before(params))
        from neural_trader.services.storage import Storage
        from neural_trader.settings import load_settings

        with Storage.from_settings(load_settings(), branches=[MIGRATIONS]) as storage:
            return store.load(storage, symbols=[symbol], start=start, end=end, stored_before=_stored_before(params))

    @staticmethod
    def _from_feeds(host: Any, symbol: str, start: dt.datetime, end: dt.datetime) -> list[ScoredArticle]:
        from neural_trader.settings import load_settings

        from .sentiment import default_scorer
        from .sources import SourceContext, read_folder, rss_folder

        holder = host if host is not None else type("SettingsOnly", (), {"settings": load_settings()})()
        scorer = default_scorer()
        return [ScoredArticle(article=a, score=scorer.score_article(a).compound)
                for a in read_folder(rss_folder(SourceContext(holder)))
                if symbol in a.symbols and start <= a.published_at <= end]

    # -- signals ------------------------------------------------------------------------------------
    def scores(self, bars: Any, params: NewsSentimentParams) -> Any:
        """The :class:`~.aggregate.AlignedSentiment` of ``bars`` (one symbol's :class:`Bars`)."""
        symbol = getattr(bars, "symbol", None)
        timeframe = getattr(bars, "timeframe", None)
        ts = getattr(bars, "ts", None)
        if not isinstance(symbol, str) or timeframe is None or ts is None:
            raise NtUserError("news_sentiment needs bars with a symbol, a timeframe and times (market data bars)")
        ts = np.asarray(ts, dtype=np.int64)
        delay = dt.timedelta(seconds=timeframe.seconds) + dt.timedelta(minutes=params.close_offset_minutes)
        if delay < dt.timedelta(0):
            raise NtUserError(f"close_offset_minutes ({params.close_offset_minutes}) reaches before the bar's start")
        lookback = dt.timedelta(hours=params.lookback_hours)
        if len(ts) == 0:
            items: list[ScoredArticle] = []
        else:
            first = dt.datetime.fromtimestamp(int(ts[0]) / 1e9, dt.UTC) - lookback
            last = dt.datetime.fromtimestamp(int(ts[-1]) / 1e9, dt.UTC) + delay
            items = self.articles(symbol.upper(), first, last, params)
        return align_to_bars(items, symbol, ts, half_life=dt.timedelta(hours=params.half_life_hours), delay=delay,
                             lookback=lookback, min_relevance=params.min_relevance)

    def missing_data(self, bars: Any, params: NewsSentimentParams) -> str | None:
        """Why no bar of ``bars`` sees an article (none about the symbol in the window), else None."""
        aligned = self.scores(bars, params)
        if aligned.count.size and int(aligned.count.max()) > 0:
            return None
        symbol, window = aligned.symbol.upper(), ""
        if aligned.ts.size:
            first, last = (dt.datetime.fromtimestamp(int(t) / 1e9, dt.UTC) for t in aligned.ts[[0, -1]])
            window = f" from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        if params.articles == "feeds":
            return f"no article about {symbol}{window} in the RSS/Atom folder (NT_RSS_DIR)"
        return f"no stored article about {symbol}{window}; news.fetch or news.collect stores some"

    def signals(self, bars: Any, params: NewsSentimentParams) -> np.ndarray:
        aligned = self.scores(bars, params)
        seen = aligned.count >= params.min_articles
        score = np.where(seen, aligned.score, np.nan)
        out = np.zeros(len(score), dtype=np.float64)
        out[score >= params.long_above] = 1.0
        out[score <= params.short_below] = -1.0
        return out
