"""``news.collect.start``, ``news.collect.stop`` and ``news.collect.status``: background collection
(:mod:`.collector`). Three operations rather than one with an ``action``: each has its own
parameters, scope hints and CLI help (``neural-trader news collect-start --help``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Literal

import anyio.to_thread
import attrs

from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param

from .api import _NAME, _model, _symbols
from .collector import Collector, Collectors, CollectSpec

_ID = "a collector's id, from news.collect.start (nc- and 12 hex digits)"


@attrs.frozen(kw_only=True)
class StartParams:
    """Parameters of ``news.collect.start``."""

    symbols: list[str] = param(factory=list, max_len=20, item_pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                               description="instruments to collect news about, e.g. [\"AAPL\"]")
    query: str | None = param(default=None, min_len=1, max_len=200, description="words to search for instead "
                                                                               "of (or with) symbols")
    sources: list[str] | None = param(default=None, max_len=20, item_pattern=_NAME, description=(
        "news sources by name; default every configured one at each run"))
    interval_seconds: float = param(default=900.0, ge=1, le=86_400, description="seconds from one run's start "
                                                                                "to the next")
    lookback_hours: float = param(default=24.0, gt=0, le=24 * 3650, description="each run fetches what was "
                                                                              "published this long before it")
    limit: int = param(default=50, ge=1, le=500, description="articles per source and run at most")
    model: str = param(default="vader_finance", pattern=_NAME, description="the sentiment model that scores them")
    max_runs: int | None = param(default=None, ge=1, le=1_000_000, description="stop after this many runs "
                                                                               "(default: until stopped)")
    name: str = param(default="", max_len=100, pattern=r"^[\w .-]*$", description=(
        "tells apart two collectors of the same settings"))
    wait: bool = param(default=False, description="answer when the collector ends (max_runs, or a stop); over "
                                                  "REST and MCP only with max_runs; a CLI run without it "
                                                  "collects until interrupted")


@attrs.frozen(kw_only=True)
class Started:
    """A collector and, with ``wait``, how it ended (news.collect.status adds the times)."""

    collector_id: str = param(description=_ID)
    state: Literal["running", "finished", "stopped", "failed"]
    symbols: list[str]
    sources: list[str] | None
    interval_seconds: float
    runs: int = param(description="collections done")
    fetched: int = param(description="articles fetched, over all runs (one per story and run)")
    stored_new: int = param(description="articles stored for the first time")
    stored_known: int = param(description="articles fetched again (merged into their stored row)")
    failures: int = param(description="source requests that failed")
    last_error: str | None


@attrs.frozen(kw_only=True)
class SourceView:
    name: str
    requests: int = param(description="times this collector asked it")
    articles: int = param(description="articles it gave (after merging copies)")
    throttled: int = param(description="times it said to slow down")
    paused_until: dt.datetime | None = param(description="not asked again before this (its rate limit or quota)")
    last_error: str | None


@attrs.frozen(kw_only=True)
class CollectorStatus:
    collector_id: str = param(description=_ID)
    state: Literal["running", "finished", "stopped", "failed"]
    symbols: list[str]
    query: str | None
    sources: list[str] | None
    interval_seconds: float
    max_runs: int | None
    runs: int
    fetched: int
    stored_new: int
    stored_known: int
    failures: int
    last_error: str | None
    started_at: dt.datetime | None
    last_run_at: dt.datetime | None
    next_run_at: dt.datetime | None = param(description="when the next run starts (null: not running)")
    stopped_at: dt.datetime | None
    source_states: list[SourceView]


@attrs.frozen(kw_only=True)
class StatusParams:
    collector_id: str | None = param(default=None, max_len=40, description=f"{_ID}; default every collector")


@attrs.frozen(kw_only=True)
class StopParams:
    collector_id: str | None = param(default=None, max_len=40, description=_ID)
    all: bool = param(default=False, description="stop every running collector")


@attrs.frozen(kw_only=True)
class CollectorList:
    collectors: list[CollectorStatus]


def _started(c: Collector) -> Started:
    return Started(collector_id=c.collector_id, state=c.state, symbols=list(c.spec.symbols),
                   sources=None if c.spec.sources is None else list(c.spec.sources),
                   interval_seconds=c.spec.interval, runs=c.runs, fetched=c.fetched, stored_new=c.stored_new,
                   stored_known=c.stored_known, failures=c.failures, last_error=c.last_error)


def _status(c: Collector) -> CollectorStatus:
    return CollectorStatus(
        collector_id=c.collector_id, state=c.state, symbols=list(c.spec.symbols), query=c.spec.query,
        sources=None if c.spec.sources is None else list(c.spec.sources), interval_seconds=c.spec.interval,
        max_runs=c.spec.max_runs, runs=c.runs, fetched=c.fetched, stored_new=c.stored_new,
        stored_known=c.stored_known, failures=c.failures, last_error=c.last_error, started_at=c.started_at,
        last_run_at=c.last_run_at, next_run_at=c.next_run_at, stopped_at=c.stopped_at,
        source_states=[SourceView(name=s.name, requests=s.requests, articles=s.articles, throttled=s.throttled,
                                  paused_until=s.paused_until, last_error=s.last_error)
                       for s in sorted(c.sources.values(), key=lambda s: s.name)])


async def start(params: StartParams, ctx: Context) -> Started:
    symbols = _symbols(params.symbols)
    if not symbols and not params.query:
        raise NtUserError("name symbols or a query to collect news about", details={"path": "$.symbols"})
    if params.wait and params.max_runs is None and ctx.frontend in ("rest", "mcp"):
        raise NtUserError("wait without max_runs would hold this request until the collector is stopped: give "
                          "max_runs, or start it without wait and follow news.collect.status",
                          details={"path": "$.max_runs"})
    _model(ctx, params.model)
    if params.sources is not None:
        from .gathering import choose_sources
        from .sources import SourceContext

        choose_sources(ctx.host, SourceContext(ctx.host), params.sources)  # unknown names fail now
    spec = CollectSpec(symbols=symbols, query=params.query,
                       sources=None if params.sources is None else tuple(dict.fromkeys(params.sources)),
                       interval=params.interval_seconds, lookback=params.lookback_hours * 3600, limit=params.limit,
                       model=params.model, max_runs=params.max_runs, name=params.name)
    collector = Collectors.for_host(ctx.host).start(spec)
    if params.wait:
        await asyncio.shield(asyncio.wrap_future(collector.done))
    return _started(collector)


def status(params: StatusParams, ctx: Context) -> CollectorList:
    collectors = Collectors.for_host(ctx.host)
    if params.collector_id is not None:
        return CollectorList(collectors=[_status(collectors.get(params.collector_id))])
    return CollectorList(collectors=[_status(c) for c in collectors.collectors.values()])


async def stop(params: StopParams, ctx: Context) -> CollectorList:
    if (params.collector_id is None) == (not params.all):
        raise NtUserError("give collector_id, or all: true", details={"path": "$.collector_id"})
    collectors = Collectors.for_host(ctx.host)
    chosen = [collectors.get(params.collector_id)] if params.collector_id is not None else [
        c for c in collectors.collectors.values() if c.state == "running"]
    stopped = [await anyio.to_thread.run_sync(collectors.stop, c.collector_id) for c in chosen]
    return CollectorList(collectors=[_status(c) for c in stopped])
