"""Background news collection: every ``interval`` a collector fetches the news of the last
``lookback`` about its symbols from its sources, scores it and stores it (:mod:`.store`).

Rate-limit aware, in three layers: every request goes through the host's HTTP layer, whose token
bucket per provider holds each source to its free-plan quota (:data:`.sources.DEFAULT_RATES`,
overridable by ``NT_<PROVIDER>_RATE_*``) and which retries a 429 after ``Retry-After``; a source whose
own quota headers say nothing is left (``remaining`` 0 before ``resets_at``, :mod:`.health`) is not
asked until the reset; and a source that throttles anyway (:class:`~neural_trader.errors.NtRateLimited`:
a 429 after retries, Alpha Vantage's HTTP-200 notices, the bucket empty) is paused for the
``retry_after`` it gave, or else for the interval doubled at each throttle in a row (at most a day),
while the other sources go on.

Collectors live in the process that started them, on an event loop in a daemon thread of their own
(:class:`Collectors`), so a request that starts one returns at once and a server's loop never waits
on them; the host's shutdown (``nt_shutdown``) stops them: each is cancelled where it is (a store in
progress finishes its transaction first) and the loop's thread is joined. A collector is named by
its settings (``nc-`` and a hash): starting the same settings while they run returns the running one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Literal, Protocol

import anyio
import attrs

from neural_trader.errors import NtNotFound, NtRateLimited, NtUserError

__all__ = ["MAX_RUNNING", "Clock", "CollectSpec", "Collector", "Collectors", "SourceState", "SystemClock"]

log = logging.getLogger("neural_trader.news.collect")

#: Collectors one host runs at once.
MAX_RUNNING = 10
#: The longest a throttled source is paused without a Retry-After.
MAX_PAUSE = dt.timedelta(days=1)

State = Literal["running", "finished", "stopped", "failed"]


class Clock(Protocol):
    """Wall-clock time and waiting (tests pass a fake that advances itself instead of sleeping)."""

    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@attrs.frozen(kw_only=True)
class CollectSpec:
    """What a collector collects, and how often."""

    symbols: tuple[str, ...] = ()
    query: str | None = None
    sources: tuple[str, ...] | None = None
    interval: float = 900.0
    lookback: float = 86_400.0
    limit: int = 50
    model: str = "vader_finance"
    max_runs: int | None = None
    name: str = ""

    @property
    def collector_id(self) -> str:
        text = json.dumps(attrs.asdict(self), sort_keys=True, default=list)
        return "nc-" + hashlib.sha256(text.encode()).hexdigest()[:12]


@attrs.define(kw_only=True)
class SourceState:
    """One source as one collector sees it."""

    name: str
    requests: int = 0
    articles: int = 0
    throttled: int = 0
    #: Throttles in a row (the pause doubles with each).
    streak: int = 0
    paused_until: dt.datetime | None = None
    last_error: str | None = None


@attrs.define(kw_only=True, eq=False)
class Collector:
    """One collector's settings and counters. Its loop (:meth:`run`) is the only writer."""

    spec: CollectSpec
    host: Any = attrs.field(repr=False)
    clock: Clock = attrs.field(factory=SystemClock, repr=False)
    state: State = "running"
    runs: int = 0
    fetched: int = 0
    stored_new: int = 0
    stored_known: int = 0
    failures: int = 0
    started_at: dt.datetime | None = None
    last_run_at: dt.datetime | None = None
    next_run_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None
    last_error: str | None = None
    sources: dict[str, SourceState] = attrs.field(factory=dict)
    done: concurrent.futures.Future[str] = attrs.field(factory=concurrent.futures.Future, repr=False)

    @property
    def collector_id(self) -> str:
        return self.spec.collector_id

    def _source(self, name: str) -> SourceState:
        return self.sources.setdefault(name, SourceState(name=name))

    async def run(self) -> None:
        """Collect now, then every interval, until ``max_runs``, a cancel, or a failure."""
        self.started_at = self.clock.now()
        try:
            while True:
                began = self.clock.now()
                await self.run_once(began)
                if self.spec.max_runs is not None and self.runs >= self.spec.max_runs:
                    self.state = "finished"
                    break
                self.next_run_at = max(began + dt.timedelta(seconds=self.spec.interval), self.clock.now())
                await self.clock.sleep((self.next_run_at - self.clock.now()).total_seconds())
        except asyncio.CancelledError:
            self.state = "stopped"
        except Exception as exc:  # a collector's failure is its status, not the host's
            log.exception("news collector %s failed", self.collector_id)
            self.state, self.last_error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.next_run_at, self.stopped_at = None, self.clock.now()
            if not self.done.done():
                self.done.set_result(self.state)

    def _paused(self, source: SourceState, now: dt.datetime) -> bool:
        from .health import health_of

        quota = health_of(self.host).get(source.name).quota
        if (quota is not None and quota.remaining == 0 and quota.resets_at is not None and quota.resets_at > now
                and (source.paused_until is None or source.paused_until < quota.resets_at)):
            source.paused_until = quota.resets_at  # the source said it has nothing left until then
        return source.paused_until is not None and source.paused_until > now

    def _throttled(self, source: SourceState, exc: NtRateLimited, now: dt.datetime) -> None:
        source.throttled += 1
        source.streak += 1
        if exc.retry_after is not None and exc.retry_after > 0:
            pause = dt.timedelta(seconds=float(exc.retry_after))
        else:
            pause = dt.timedelta(seconds=self.spec.interval * 2 ** (source.streak - 1))
        source.paused_until = now + min(pause, MAX_PAUSE)

    async def run_once(self, now: dt.datetime) -> None:
        """One collection at ``now``: ask every source that is not paused, store what came."""
        from .api import store_scored
        from .gathering import choose_sources, gather
        from .sources import NewsQuery, SourceContext

        sc = SourceContext(self.host, clock=self.clock.now)
        model = self.host.registry("sentiment_models").get(self.spec.model)
        chosen = choose_sources(self.host, sc, self.spec.sources)
        ready = [s for s in chosen if not self._paused(self._source(s.name), now)]
        query = NewsQuery(symbols=self.spec.symbols, query=self.spec.query,
                          start=now - dt.timedelta(seconds=self.spec.lookback), end=now, limit=self.spec.limit)
        got = await gather(sc, ready, query)
        failed = {name: exc for name, exc in got.failures}
        for source in ready:
            state = self._source(source.name)
            state.requests += 1
            exc = failed.get(source.name)
            if exc is None:
                state.streak, state.last_error = 0, None
                continue
            self.failures += 1
            state.last_error = self.last_error = f"{source.name}: {exc.message}"
            if isinstance(exc, NtRateLimited):
                self._throttled(state, exc, now)
        for article in got.articles:
            self._source(article.provider).articles += 1
        if got.articles:
            saved = await store_scored(self.host, self.spec.model, [(a, model.score_article(a)) for a in got.articles])
            self.stored_new += saved.new
            self.stored_known += saved.known
        self.fetched += len(got.articles)
        self.runs += 1
        self.last_run_at = now


class _Loop:
    """An event loop in a daemon thread, started on first use (a daemon: an interpreter that exits
    without closing the host is not held up by a collector waiting for its next run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self.loop.run_forever, name="neural_trader.news.collect",
                                                daemon=True)
                self._thread.start()
            return self.loop

    def close(self) -> None:
        with self._lock:
            loop, thread, self.loop, self._thread = self.loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()


class Collectors:
    """The collectors of one host (:meth:`for_host`), by id; see the module doc."""

    _of: weakref.WeakKeyDictionary[Any, Collectors] = weakref.WeakKeyDictionary()
    _of_lock = threading.Lock()

    def __init__(self, host: Any, clock: Callable[[], Clock] = SystemClock) -> None:
        self._host = weakref.ref(host)
        self._clock = clock
        self._loop = _Loop()
        self._lock = threading.Lock()
        self.collectors: dict[str, Collector] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def for_host(cls, host: Any) -> Collectors:
        with cls._of_lock:
            found = cls._of.get(host)
            if found is None:
                found = cls._of[host] = cls(host)
            return found

    @classmethod
    def forget(cls, host: Any) -> None:
        """Stop the collectors of ``host`` (its shutdown) and drop them."""
        with cls._of_lock:
            found = cls._of.pop(host, None)
        if found is not None:
            found.close()

    def start(self, spec: CollectSpec) -> Collector:
        """Start ``spec`` (or return it while it runs)."""
        host = self._host()
        if host is None:
            raise RuntimeError("the host of these collectors is gone")
        host.registry("sentiment_models").get(spec.model)  # NtNotFound now, not a failed collector later
        with self._lock:
            running = self.collectors.get(spec.collector_id)
            if running is not None and running.state == "running":
                return running
            active = sum(1 for c in self.collectors.values() if c.state == "running")
            if active >= MAX_RUNNING:
                raise NtUserError(f"{active} news collectors are running already (at most {MAX_RUNNING}); stop one "
                                  "with news.collect.stop")
            collector = Collector(spec=spec, host=host, clock=self._clock())
            self.collectors[spec.collector_id] = collector
        loop = self._loop.running()

        def ended(_task: asyncio.Task[None]) -> None:
            # A task cancelled before its first step never runs run()'s finally: end it here.
            if not collector.done.done():
                collector.state, collector.stopped_at = "stopped", collector.clock.now()
                collector.done.set_result(collector.state)

        def launch() -> None:
            task = loop.create_task(collector.run(), name=f"nt-news-{spec.collector_id}")
            task.add_done_callback(ended)
            self._tasks[spec.collector_id] = task

        loop.call_soon_threadsafe(launch)
        return collector

    def get(self, collector_id: str) -> Collector:
        found = self.collectors.get(collector_id)
        if found is None:
            raise NtNotFound(f"no news collector {collector_id!r} in this process; news.collect.status lists them")
        return found

    def stop(self, collector_id: str, timeout: float = 10.0) -> Collector:
        """Cancel a collector where it is and wait (up to ``timeout`` s) until it has stopped. Blocks."""
        collector = self.get(collector_id)
        if collector.state == "running":
            loop = self._loop.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._cancel, collector_id)
            with contextlib.suppress(concurrent.futures.TimeoutError):
                collector.done.result(timeout=timeout)
        return collector

    def _cancel(self, collector_id: str) -> None:
        task = self._tasks.pop(collector_id, None)
        if task is not None:
            task.cancel()

    def close(self, timeout: float = 10.0) -> None:
        """Stop every collector, then the loop (the host's shutdown)."""
        running = [c for c in self.collectors.values() if c.state == "running"]
        loop = self._loop.loop
        if loop is not None and not loop.is_closed():
            for c in running:
                loop.call_soon_threadsafe(self._cancel, c.collector_id)
        concurrent.futures.wait([c.done for c in running], timeout=timeout)
        self._loop.close()

