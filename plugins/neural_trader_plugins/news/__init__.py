"""News and sentiment: articles from NewsAPI, Finnhub, Alpha Vantage, Alpaca and RSS/Atom files,
de-duplicated across sources, scored by VADER with a finance overlay, stored, collected in the
background, aggregated per symbol with exponential decay and no look-ahead, and traded on.

The modules are plain: ``articles`` (the :class:`~.articles.Article` value and de-duplication),
one module per source (``newsapi``, ``finnhub``, ``alphavantage``, ``alpaca``: a request builder,
a body parser and a ``classify(response)`` for the host's HTTP layer; ``rss``: feed files),
``sources`` (the registry's entries), ``gathering`` (several sources at once), ``health`` (what the
sources said: errors, quotas), ``sentiment`` (the default scorer), ``loughran_mcdonald`` and
``onnx_classifier`` (optional scorers), ``aggregate`` (decayed per-symbol series), ``trends``
(windows, slope, volume spikes), ``tables``/``store`` (stored articles), ``collector`` (background
collection) and ``strategy`` (``news_sentiment``). The operations' types and handlers are in
``api``, ``api_trends`` and ``api_collect``. Bad input raises
:class:`~neural_trader.errors.NtUserError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation
from neural_trader.services.branches import MigrationBranch

#: The plugin's tables (``news_articles``, ``news_article_symbols``) and their migrations.
MIGRATIONS = MigrationBranch(name="news", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.news.tables:metadata")


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


@hookimpl
def nt_register_news_sources(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.news.sources import BUILTIN

    for source in BUILTIN:
        register(source)


@hookimpl
def nt_register_sentiment_models(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.news.loughran_mcdonald import LoughranMcDonaldScorer
    from neural_trader_plugins.news.onnx_classifier import OnnxTextClassifier
    from neural_trader_plugins.news.sentiment import default_scorer

    register(default_scorer())
    register(LoughranMcDonaldScorer())  # listed as not configured until NT_LM_DICTIONARY names the file
    register(OnnxTextClassifier())  # likewise NT_SENTIMENT_ONNX_MODEL


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.news import api, api_collect, api_trends

    register(Operation(
        name="news.sources", summary="News sources (configured? why not; requests, quota left, last error) and the sentiment models.",
        params=api.NoParams, result=api.SourcesResult, handler=api.sources))
    register(Operation(
        name="news.fetch", summary="Articles about symbols or a query from every configured source, "
                                   "de-duplicated across them and scored for sentiment.",
        description="The offline default is `rss`: RSS/Atom files in NT_RSS_DIR (default <data_dir>/news). "
                    "Article text is the publishers' data, returned in its own fields. The articles are "
                    "stored (store: false skips it): the same story again is merged, never a second row.",
        params=api.FetchParams, result=api.FetchResult, handler=api.fetch, open_world=True, read_only=False,
        examples=({"symbols": ["AAPL"], "sources": ["rss"], "start": "2024-04-26T00:00:00Z",
                   "end": "2024-05-03T00:00:00Z"},)))
    register(Operation(
        name="news.analyze", summary="A symbol's news sentiment: scored articles, the decay-weighted score, its "
                                     "label and trend by day.",
        params=api.AnalyzeParams, result=api.AnalyzeResult, handler=api.analyze, open_world=True,
        examples=({"symbol": "AAPL", "sources": ["rss"], "half_life_hours": 12, "start": "2024-04-26T00:00:00Z",
                   "end": "2024-05-03T00:00:00Z"},)))
    register(Operation(
        name="news.sentiment", summary="Score headlines or sentences: -1 (bearish) to 1 (bullish), with a label.",
        params=api.SentimentParams, result=api.SentimentResult, handler=api.sentiment,
        examples=({"texts": ["Apple beats estimates and raises guidance", "Tesla misses deliveries, shares fall"]},)))
    register(Operation(
        name="news.trends", summary="Symbols ranked by their news: decayed sentiment per window, its change and "
                                    "slope, and article-volume spikes, over stored (or freshly fetched) articles.",
        description="Windows of window_hours end at end: the last is the current one, the baseline_windows before "
                    "it the baseline. change is the current window's decayed score less the previous one's; slope "
                    "the least-squares slope of the windows' scores; volume_z = (count - baseline mean) / "
                    "max(baseline std, 1), a spike when it reaches spike_z (docs/news.md).",
        params=api_trends.TrendsParams, result=api_trends.TrendsResult, handler=api_trends.trends, open_world=True,
        read_only=False,
        examples=({"symbols": ["AAPL", "TSLA"], "end": "2024-05-03T00:00:00Z", "window_hours": 24,
                   "baseline_windows": 7},)))
    register(Operation(
        name="news.collect.start", summary="Collect news in the background: fetch, score and store the symbols' "
                                           "news every interval, within each source's rate limits.",
        description="Runs in this process (a server's, or with wait a CLI's until interrupted) and stops with it. "
                    "Each source goes through the host's HTTP layer and its rate limit; a source that throttles "
                    "is paused for the time it gave (or the interval, doubled at each throttle in a row) while the "
                    "others go on. The same settings while they run are the same collector.",
        params=api_collect.StartParams, result=api_collect.Started, handler=api_collect.start, read_only=False,
        open_world=True,
        examples=({"symbols": ["AAPL"], "sources": ["rss"], "max_runs": 1, "wait": True},
                  {"symbols": ["AAPL", "TSLA"], "interval_seconds": 900})))
    register(Operation(
        name="news.collect.status", summary="News collectors: runs, articles fetched and stored, the last error, "
                                            "the next run, and each source's throttling.",
        params=api_collect.StatusParams, result=api_collect.CollectorList, handler=api_collect.status))
    register(Operation(
        name="news.collect.stop", summary="Stop a news collector (or all): the run in progress is abandoned, what "
                                          "it stored stays.",
        params=api_collect.StopParams, result=api_collect.CollectorList, handler=api_collect.stop, read_only=False,
        examples=({"all": True},)))


@hookimpl
def nt_register_strategies(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.news.strategy import NewsSentiment

    register(NewsSentiment())  # one per host: nt_startup binds it to its host


@hookimpl
def nt_startup(host: Any) -> None:
    from neural_trader_plugins.news.strategy import NewsSentiment

    strategies = host.registry("strategies")
    if "news_sentiment" in strategies and isinstance(strategies.get("news_sentiment"), NewsSentiment):
        strategies.get("news_sentiment").bind(host)


@hookimpl
def nt_shutdown(host: Any) -> None:
    from neural_trader_plugins.news.collector import Collectors

    Collectors.forget(host)
