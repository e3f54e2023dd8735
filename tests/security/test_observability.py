"""Observability: /metrics (admin scope unless public), request ids in and out, JSON logs carrying
them, OpenTelemetry spans operation -> service, and readiness of the database, cache and brokers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.logs import JsonFormatter, bound_request_id, handler_for
from neural_trader.ops import Context, NoParams, Operation, Scope
from neural_trader.tracing import span

from .conftest import claims, hs256, mcp_call, rest_client, settings_for

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _tracer_provider() -> Iterator[None]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))  # type: ignore[union-attr]
    yield
    EXPORTER.shutdown()  # later tests' spans are dropped, not kept in memory


@attrs.frozen(kw_only=True)
class Traced:
    ok: bool


def traced(params: NoParams, ctx: Context) -> Traced:
    """A handler that, like a service, opens a span of its own and logs a line."""
    with span("service test.work", **{"nt.detail": "inside"}):
        ctx.logger.warning("working on it")
    return Traced(ok=True)


class TracedPlugin:
    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        register(Operation(name="obs.traced", summary="Open a service span.", params=NoParams, result=Traced,
                           handler=traced, scope=Scope.READ))


@pytest.fixture
def obs_host(tmp_path: Path, rsa_key: Any) -> Host:
    host = make_host(settings=settings_for(tmp_path, rsa_key), plugins=[TracedPlugin()])
    yield host  # type: ignore[misc]
    host.close()


def _auth(roles: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {hs256(claims('obs', roles=roles))}"}


async def test_metrics_need_admin_and_count_requests(obs_host: Host) -> None:
    admin = _auth(("admin",))
    async with rest_client(obs_host) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=_auth(("viewer",)))).status_code == 403
        for _ in range(3):
            assert (await client.get("/v1/system/ping", headers=admin)).status_code == 200
        assert (await client.post("/v1/system/ping", json={"nope": 1}, headers=admin)).status_code == 422
        assert (await client.post("/v1/trade/execute", json={}, headers=_auth(("viewer",)))).status_code == 403
        cache = obs_host.services.cache
        cache.set("probe", b"1")
        cache.get("probe"), cache.get("probe"), cache.get("absent")
        placed = await client.post("/v1/trade/execute", headers=admin, json={
            "client_order_id": "m-1", "symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit",
            "limit_price": "0.50", "confirm": True})
        assert placed.status_code == 200, placed.text
        response = await client.get("/metrics", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'nt_requests_total{frontend="rest",operation="system.ping",status="200"} 3.0' in text
    assert 'nt_requests_total{frontend="rest",operation="system.ping",status="422"} 1.0' in text
    assert 'nt_requests_total{frontend="rest",operation="trade.execute",status="403"} 1.0' in text
    assert 'nt_request_duration_seconds_count{frontend="rest",operation="system.ping"} 4.0' in text
    assert 'nt_orders_total{status="accepted"} 1.0' in text or 'nt_orders_total{status="new"} 1.0' in text, text
    assert "nt_order_fills_total 0.0" in text
    assert "nt_native_kernel_compiled{" in text and "nt_cache_degraded" in text
    hits, misses = (float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"nt_cache_{n}_total ")))
                    for n in ("hits", "misses"))
    assert hits >= 2 and misses >= 1


async def test_metrics_can_be_public(tmp_path: Path) -> None:
    host = make_host(settings=settings_for(tmp_path, metrics_public=True))
    async with rest_client(host) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/metrics", headers={"Host": "evil.example"})).status_code == 403
    host.close()


async def test_request_ids_travel_in_and_out_and_into_json_logs(obs_host: Host, mcp_http: TestClient) -> None:
    stream = io.StringIO()
    handler = handler_for(obs_host.settings.__class__(**{**attrs.asdict(obs_host.settings, recurse=False),
                                                         "log_format": "json"}), stream)
    logger = logging.getLogger("neural_trader")
    logger.addHandler(handler)
    try:
        async with rest_client(obs_host) as client:
            response = await client.get("/v1/obs/traced", headers={**_auth(("viewer",)), "X-Request-ID": "req-42"})
            bad = await client.get("/v1/obs/traced", headers={"X-Request-ID": "req-43"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    assert bad.headers["x-request-id"] == "req-43" and bad.json()["error"]["request_id"] == "req-43"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line["message"] == "working on it"]
    assert mine and mine[0]["request_id"] == "req-42" and mine[0]["level"] == "WARNING"
    assert mine[0]["logger"] == "neural_trader.op"
    answer = mcp_call(mcp_http, "system_ping", {}, hs256(claims()), **{"X-Request-ID": "mcp-7"})
    assert answer.headers["x-request-id"] == "mcp-7"


def test_json_formatter_keeps_exceptions_short() -> None:
    record = logging.LogRecord("neural_trader.x", logging.ERROR, __file__, 1, "failed %s", ("it",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    with bound_request_id("r-1"):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed it" and line["request_id"] == "r-1"
    assert line["exception"] == "ValueError: boom"


async def test_spans_nest_operation_then_service(obs_host: Host) -> None:
    EXPORTER.clear()
    async with rest_client(obs_host) as client:
        assert (await client.get("/v1/obs/traced", headers=_auth(("viewer",)))).status_code == 200
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    op, service = spans["operation obs.traced"], spans["service test.work"]
    assert service.parent is not None and service.parent.span_id == op.context.span_id
    assert op.attributes["nt.frontend"] == "rest" and op.attributes["http.response.status_code"] == 200
    assert op.attributes["nt.caller"] == "obs"


async def test_readiness_reports_database_cache_and_brokers(obs_host: Host) -> None:
    async with rest_client(obs_host) as client:
        before = (await client.get("/readyz")).json()
        assert before["status"] == "ready"
        assert set(before["checks"]) == {"database", "cache", "brokers"}
        assert before["checks"]["brokers"]["detail"] == "no broker in use yet"
        await client.post("/v1/orders/list", json={}, headers=_auth(("admin",)))
        after = (await client.get("/readyz")).json()
    assert after["checks"]["brokers"]["ok"] and "reconciled" in after["checks"]["brokers"]["detail"]


async def test_readiness_is_degraded_while_redis_is_down(tmp_path: Path) -> None:
    host = make_host(settings=settings_for(tmp_path, redis_url="redis://127.0.0.1:9/0"))
    host.services.cache.get("anything")  # the cache is in use, and Redis does not answer
    async with rest_client(host) as client:
        ready = await client.get("/readyz")
    host.close()
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"]["ok"] is False


async def test_an_order_spans_operation_then_trading_then_broker(obs_host: Host) -> None:
    EXPORTER.clear()
    order = {"client_order_id": "span-1", "symbol": "AAPL", "side": "buy", "qty": "1", "confirm": True}
    async with rest_client(obs_host) as client:
        answer = await client.post("/v1/trade/execute", json=order, headers=_auth(("trader",)))
        assert answer.status_code == 200, answer.text
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    op, trading, broker = spans["operation trade.execute"], spans["trading"], spans["broker paper.submit"]
    # The trading loop's thread carries the caller's context: one trace, nested.
    assert trading.parent is not None and trading.parent.span_id == op.context.span_id
    assert broker.parent is not None and broker.context.trace_id == op.context.trace_id
    assert broker.attributes["client_order_id"] == "span-1"


async def test_a_provider_request_is_a_span_of_its_own(tmp_path: Path, rsa_key: Any) -> None:
    import httpx

    from neural_trader.services.http import HttpService

    EXPORTER.clear()
    settings = settings_for(tmp_path, rsa_key)
    service = HttpService(settings, transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})))
    with span("operation probe"):
        await service.client("probe", base_url="https://example.test").get_json("/v1/thing")
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    provider = spans["provider probe"]
    assert provider.parent is not None and provider.parent.span_id == spans["operation probe"].context.span_id
    assert provider.attributes["method"] == "GET" and provider.attributes["path"] == "/v1/thing"
