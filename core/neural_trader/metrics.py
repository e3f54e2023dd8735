"""Prometheus metrics of a host: what the servers count, and what the host's state says at scrape time.

Counted by the frontends (:func:`metrics_of(host).observe <Metrics.observe>`), per process:

* ``nt_requests_total{operation, frontend, status}`` — calls by HTTP-equivalent status (an MCP tool
  error counts with its error's status);
* ``nt_request_duration_seconds{operation, frontend}`` — latency histogram.

Read at scrape time from the source of truth, so every replica reports the same shared totals:

* ``nt_orders_total{status}``, ``nt_order_fills_total``, ``nt_risk_rejections_total{reason}`` — from
  the order tables (only when the database is already open: a scrape never opens it);
* ``nt_breaker_state{provider, state}`` (1 for the current state) and
  ``nt_provider_{requests,attempts,retries,refused}_total{provider}`` — the HTTP layer's providers;
* ``nt_cache_degraded`` (1 while Redis is down and the cache runs in memory) and, when the cache keeps
  them, ``nt_cache_{hits,misses}_total``;
* ``nt_native_kernel_compiled{kernel}`` — 1 for compiled C, 0 for the numpy twin.

Counted by the kernel wrappers (:func:`neural_trader.native.kernel_timings`), per process, so every
host of a process reports the same:

* ``nt_native_kernel_seconds{kernel, function, impl}`` — time per kernel call (``impl`` ``c`` or
  ``numpy``), 1 µs to 10 s.

Each host has its own registry (no process-global state, so tests and embedded hosts never clash).
``/metrics`` needs the ``admin`` scope unless ``metrics_public`` is set (docs/observability.md).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["CONTENT_TYPE", "Metrics", "metrics_of"]

log = logging.getLogger("neural_trader.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BREAKER_STATES = ("closed", "open", "half_open")


class Metrics:
    """One host's metrics registry."""

    def __init__(self, host: Host) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("nt_requests", "Operation calls by operation, frontend and status",
                                ["operation", "frontend", "status"], registry=self.registry)
        self.latency = Histogram("nt_request_duration_seconds", "Operation call latency",
                                 ["operation", "frontend"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_HostCollector(host))
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, operation: str, frontend: str, status: int, seconds: float) -> None:
        # Label children are looked up once per (operation, frontend, status): the hot path is two adds.
        key = (operation, frontend, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(operation, frontend, str(status)),
                        self.latency.labels(operation, frontend))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _HostCollector:
    """Reads the host's state when scraped; a part that fails is skipped (and counted), never fatal."""

    def __init__(self, host: Host) -> None:
        self._host = weakref.ref(host)

    def describe(self) -> list[Metric]:
        return []  # dynamic: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        host = self._host()
        if host is None:
            return
        errors = GaugeMetricFamily("nt_scrape_errors", "Parts of this scrape that could not be read", labels=["part"])
        for part, read in (("orders", _orders), ("providers", _providers), ("cache", _cache), ("kernels", _kernels)):
            try:
                yield from read(host)
            except Exception as exc:  # a metrics scrape must answer even when a part is down
                log.warning("metrics: could not read %s: %s", part, exc)
                errors.add_metric([part], 1)
        yield errors


def _services(host: Host) -> Any:
    return getattr(host, "_services", None)  # never build services for a scrape


def _orders(host: Host) -> Iterator[Metric]:
    services = _services(host)
    storage = getattr(services, "_storage", None) if services is not None else None
    if storage is None:
        return
    import sqlalchemy as sa
    from sqlmodel import col, select

    from neural_trader.services.tables_orders import FillRow, OrderRow

    with storage.session() as session:
        by_status = session.exec(select(OrderRow.status, sa.func.count()).group_by(col(OrderRow.status))).all()
        rejected = session.exec(select(OrderRow.reason_code, sa.func.count()).where(OrderRow.status == "rejected")
                                .group_by(col(OrderRow.reason_code))).all()
        fills = session.exec(select(sa.func.count()).select_from(FillRow)).one()
    orders = CounterMetricFamily("nt_orders", "Orders by status (every replica's, from the database)",
                                 labels=["status"])
    for status, count in by_status:
        orders.add_metric([status], count)
    yield orders
    rejections = CounterMetricFamily("nt_risk_rejections", "Rejected orders by reason code", labels=["reason"])
    for reason, count in rejected:
        rejections.add_metric([reason or "unknown"], count)
    yield rejections
    yield CounterMetricFamily("nt_order_fills", "Fills applied", value=fills)


def _providers(host: Host) -> Iterator[Metric]:
    services = _services(host)
    http = getattr(services, "_http", None) if services is not None else None
    if http is None:
        return
    states = GaugeMetricFamily("nt_breaker_state", "Circuit breaker of each provider (1: the state it is in)",
                               labels=["provider", "state"])
    counters = {name: CounterMetricFamily(f"nt_provider_{name}", f"Provider {name}", labels=["provider"])
                for name in ("requests", "attempts", "retries", "refused")}
    for status in http.statuses():
        for state in _BREAKER_STATES:
            states.add_metric([status.provider, state], 1 if status.breaker.state == state else 0)
        for name, family in counters.items():
            family.add_metric([status.provider], getattr(status, name))
    yield states
    yield from counters.values()


def _cache(host: Host) -> Iterator[Metric]:
    services = _services(host)
    cache = getattr(services, "_cache", None) if services is not None else None
    if cache is None:
        return
    yield GaugeMetricFamily("nt_cache_degraded", "1 while the shared cache is down and memory answers",
                            value=1 if getattr(cache, "degraded", False) else 0)
    stats = getattr(cache, "stats", None)
    if callable(stats):
        values = stats()
        for name in ("hits", "misses"):
            if name in values:
                yield CounterMetricFamily(f"nt_cache_{name}", f"Cache {name}", value=values[name])


def _kernels(host: Host) -> Iterator[Metric]:
    family = GaugeMetricFamily("nt_native_kernel_compiled", "1: compiled C; 0: the numpy twin", labels=["kernel"])
    for kernel in host.kernels:
        family.add_metric([kernel.name], 1 if kernel.compiled else 0)
    yield family
    from neural_trader.native import TIMING_BUCKETS, kernel_timings

    timings = HistogramMetricFamily("nt_native_kernel_seconds",
                                    "Seconds per native kernel call in this process: kernel is the family, "
                                    "function the wrapper, impl c (compiled) or numpy (the twin)",
                                    labels=["kernel", "function", "impl"])
    bounds = [floatToGoString(b) for b in TIMING_BUCKETS]
    for t in kernel_timings():
        timings.add_metric([t.kernel, t.function, t.impl], [*zip(bounds, t.buckets, strict=True), ("+Inf", t.count)],
                           sum_value=t.seconds)
    yield timings


_METRICS: weakref.WeakKeyDictionary[Any, Metrics] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def metrics_of(host: Host) -> Metrics:
    """The host's metrics (built on first use)."""
    with _LOCK:
        found = _METRICS.get(host)
        if found is None:
            found = Metrics(host)
            _METRICS[host] = found
        return found
