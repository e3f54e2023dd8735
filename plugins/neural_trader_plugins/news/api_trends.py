"""``news.trends``: per-symbol sentiment trends and volume spikes over stored (or freshly fetched)
articles, symbols ranked (definitions in :mod:`.trends`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Literal

import anyio.to_thread
import attrs

from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param

from .aggregate import ScoredArticle
from .api import _NAME, FetchParams, SourceError, _fetch, _model, _symbols, store_scored
from .sentiment import label_for

#: Symbols one call may rank (each costs a pass over its articles).
MAX_SYMBOLS = 50
#: Stored articles one call reads at most (the newest; a note says when there were more).
MAX_ARTICLES = 20_000


@attrs.frozen(kw_only=True)
class TrendsParams:
    """Parameters of ``news.trends``."""

    symbols: list[str] = param(factory=list, max_len=MAX_SYMBOLS, item_pattern=SYMBOL_PATTERN,
                               pattern_hint=SYMBOL_HINT, description=(
                                   "the symbols to rank; default the most-mentioned stored ones (up to limit)"))
    articles: Literal["stored", "fetch"] = param(default="stored", description=(
        "stored: the articles news.fetch and news.collect stored; fetch: fetch from the sources now (and "
        "store them), then use the stored ones"))
    sources: list[str] | None = param(default=None, max_len=20, item_pattern=_NAME, description=(
        "with articles=fetch: the sources (default every configured one)"))
    model: str = param(default="vader_finance", pattern=_NAME, description="with articles=fetch: the model that "
                                                                           "scores them")
    end: dt.datetime | None = param(default=None, description="the end of the current window (UTC); default now")
    window_hours: float = param(default=24.0, ge=1, le=24 * 90, description="length of each window, hours")
    baseline_windows: int = param(default=7, ge=1, le=90, description=(
        "windows before the current one: the baseline of volume spikes and the span of the slope"))
    half_life_hours: float = param(default=24.0, gt=0, le=24 * 365, description=(
        "an article's weight halves every this many hours"))
    lookback_hours: float = param(default=24.0 * 7, gt=0, le=24 * 365, description=(
        "articles older than this at a window's end do not count in its score"))
    min_relevance: float = param(default=0.0, ge=0, le=1, description=(
        "skip articles whose source rates their relevance to the symbol lower"))
    spike_z: float = param(default=2.0, gt=0, le=100, description=(
        "a window is a volume spike when (count - baseline mean) / max(baseline std, 1) reaches this"))
    rank_by: Literal["score", "change", "slope", "volume_z"] = param(default="change", description=(
        "order of the answer, highest first (missing values last)"))
    limit: int = param(default=20, ge=1, le=MAX_SYMBOLS, description="symbols in the answer at most")


@attrs.frozen(kw_only=True)
class TrendWindow:
    start: dt.datetime
    end: dt.datetime
    count: int = param(description="relevant articles published in the window")
    score: float | None = param(description="decayed sentiment at the window's end (null: no article seen)")


@attrs.frozen(kw_only=True)
class SymbolTrendView:
    rank: int = param(description="1 is the highest by rank_by")
    symbol: str
    score: float | None = param(description="decayed sentiment at end, -1..1 (null: no article)")
    label: str | None
    change: float | None = param(description="the current window's score less the previous window's")
    slope: float | None = param(description="least-squares slope of the windows' scores, per window")
    count: int = param(description="articles in the current window")
    baseline_mean: float = param(description="mean articles per baseline window")
    volume_z: float = param(description="(count - baseline mean) / max(baseline std, 1)")
    spike: bool = param(description="volume_z >= spike_z")
    windows: list[TrendWindow] = param(description="oldest first; the last is the current window")


@attrs.frozen(kw_only=True)
class TrendsResult:
    """Symbols ranked by their news trend."""

    end: dt.datetime
    rank_by: str
    trends: list[SymbolTrendView]
    articles_used: int = param(description="stored articles read")
    failed: list[SourceError] = param(description="with articles=fetch: sources that could not answer")
    notes: list[str]


def _choose_symbols(items: list[ScoredArticle], limit: int) -> list[str]:
    counts = Counter(s for i in items for s in i.article.symbols)
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


async def trends(params: TrendsParams, ctx: Context) -> TrendsResult:
    from . import store
    from .trends import rank, symbol_trend

    end = (params.end or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    window = dt.timedelta(hours=params.window_hours)
    lookback = dt.timedelta(hours=params.lookback_hours)
    first = end - window * (params.baseline_windows + 1) - lookback
    symbols = list(_symbols(params.symbols))
    failed: list[SourceError] = []
    notes: list[str] = []
    if params.articles == "fetch":
        if not symbols:
            raise NtUserError("articles=fetch needs symbols to fetch news about", details={"path": "$.symbols"})
        model = _model(ctx, params.model)
        fetched = FetchParams(symbols=symbols, sources=params.sources, start=first, end=end, limit=100,
                              model=params.model)
        articles, _dupes, failed, notes = await _fetch(fetched, ctx, tuple(symbols))
        if articles:
            await store_scored(ctx.host, params.model, [(a, model.score_article(a)) for a in articles])
    items = await anyio.to_thread.run_sync(lambda: store.load(ctx.host.services.storage, symbols=symbols,
                                                              start=first, end=end, limit=MAX_ARTICLES))
    if len(items) == MAX_ARTICLES:
        notes.append(f"only the newest {MAX_ARTICLES} stored articles were read: the oldest windows may miss some; "
                     "ask for fewer symbols or shorter windows")
    if not symbols:
        symbols = _choose_symbols(items, params.limit)
        if not symbols:
            notes.append("no stored articles in the windows: news.fetch or news.collect stores some")
    found = [symbol_trend(items, s, end=end, window=window, baseline=params.baseline_windows,
                          half_life=dt.timedelta(hours=params.half_life_hours), lookback=lookback,
                          min_relevance=params.min_relevance, spike_z=params.spike_z) for s in symbols]
    views = [SymbolTrendView(
        rank=k + 1, symbol=t.symbol, score=t.score, label=None if t.score is None else label_for(t.score).value,
        change=t.change, slope=t.slope, count=t.count, baseline_mean=t.baseline_mean, volume_z=t.volume_z,
        spike=t.spike, windows=[TrendWindow(start=w.start, end=w.end, count=w.count, score=w.score) for w in t.windows])
        for k, t in enumerate(rank(found, params.rank_by)[:params.limit])]
    return TrendsResult(end=end, rank_by=params.rank_by, trends=views, articles_used=len(items), failed=failed,
                        notes=notes)
