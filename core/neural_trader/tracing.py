"""OpenTelemetry spans: one per operation call, with the frontend, the caller and the outcome.

Spans go through the OpenTelemetry API only, so nothing is exported unless a tracer provider is
installed: :func:`configure_tracing` installs one for the servers when ``tracing`` is ``console`` or
``otlp`` (the default, ``none``, exports nothing), and tests install an SDK provider with an
in-memory exporter. Code below the frontends (services, brokers, providers) opens child spans with
:func:`span`; they nest under the operation's span through the context OpenTelemetry carries.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = ["TRACER_NAME", "configure_tracing", "span"]

log = logging.getLogger("neural_trader.tracing")

TRACER_NAME = "neural_trader"
_configured = False


_TRACER: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """The host's tracer (a proxy until a provider is installed, then that provider's)."""
    global _TRACER
    if _TRACER is None:
        _TRACER = trace.get_tracer(TRACER_NAME)
    return _TRACER


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span named ``name`` (e.g. ``operation orders.execute``, ``broker paper.submit``), child of the
    current one. Exceptions are recorded on it and re-raised. Until a tracer provider is installed there
    is nothing to record: the current span is yielded as it is (the no-op tracer's span would cost a
    context switch in and out on every call, for nothing)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        yield trace.get_current_span()
        return
    clean = {k: v for k, v in attributes.items() if isinstance(v, str | bool | int | float)}
    with tracer().start_as_current_span(name, attributes=clean) as current:
        yield current


def configure_tracing(settings: Settings) -> None:
    """Install the exporter ``settings.tracing`` names, once per process (servers call this)."""
    global _configured
    if _configured or settings.tracing == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    exporter: Any
    if settings.tracing == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("tracing = otlp needs `pip install opentelemetry-exporter-otlp-proto-http`; no spans "
                        "are exported")
            return
        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "neural-trader"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
