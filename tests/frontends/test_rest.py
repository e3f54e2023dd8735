"""The REST frontend: routes, errors, auth, GET coercion, jobs, OpenAPI and docs.

Most tests go through httpx's ASGI transport; ``TestRealServer`` runs the same app under uvicorn on
a free port, and one test starts two worker processes through :func:`rest.serve`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import pytest
from openapi_spec_validator import validate
from servers import serve_in_thread

from neural_trader.errors import NtConflict, NtNotFound, NtRateLimited, NtUnauthorized
from neural_trader.frontends import rest
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.ops import Context, Identity, Operation, Scope
from neural_trader.schema import param
from neural_trader.serde import wire
from neural_trader.services.jobs import JobManager
from neural_trader.settings import load_settings

# -- a test plugin: one operation per behaviour under test --------------------------------------


@attrs.frozen(kw_only=True)
class OrderParams:
    symbol: str = param(min_len=1, description="ticker")
    qty: int = param(ge=1, description="shares")


@attrs.frozen(kw_only=True)
class OrderResult:
    accepted: bool
    symbol: str
    qty: int


async def place(params: OrderParams, ctx: Context) -> OrderResult:
    return OrderResult(accepted=True, symbol=params.symbol, qty=params.qty)


@attrs.frozen(kw_only=True)
class Leg:
    symbol: str
    qty: int = param(ge=1)


@attrs.frozen(kw_only=True)
class TypedParams:
    n: int = param(default=0, ge=0, le=100, description="a bounded integer")
    x: float = 1.5
    flag: bool = False
    tags: list[str] = param(factory=list)
    nums: list[int] = param(factory=list)
    mode: Literal["a", "b"] = "a"
    level: Literal[1, 2, 3] = 1
    opt: int | None = None
    price: decimal.Decimal = decimal.Decimal("0")
    when: dt.date | None = None
    limits: dict[str, int] = param(factory=dict)
    legs: list[Leg] = param(factory=list)


@attrs.frozen(kw_only=True)
class Echo:
    params: dict[str, Any]


async def typed(params: TypedParams, ctx: Context) -> Echo:
    return Echo(params=wire.unstructure(params))


@attrs.frozen(kw_only=True)
class FailParams:
    kind: Literal["boom", "conflict", "limited", "missing"]


@attrs.frozen(kw_only=True)
class Nothing:
    pass


SECRET = "password=hunter2 at /srv/internal/module.py"


def fail(params: FailParams, ctx: Context) -> Nothing:
    if params.kind == "conflict":
        raise NtConflict("order id 7 already exists")
    if params.kind == "limited":
        raise NtRateLimited("slow down", retry_after=2.5)
    if params.kind == "missing":
        raise NtNotFound("no symbol ZZZZ")
    raise RuntimeError(SECRET)


@attrs.frozen(kw_only=True)
class WorkParams:
    steps: int = param(ge=1, le=100_000)
    delay: float = 0.0


@attrs.frozen(kw_only=True)
class WorkResult:
    steps_done: int


async def work(params: WorkParams, ctx: Context) -> WorkResult:
    for i in range(params.steps):
        ctx.progress(i, params.steps, f"step {i}")
        await asyncio.sleep(params.delay)
    ctx.progress(params.steps, params.steps, "finished")
    return WorkResult(steps_done=params.steps)


def grind(params: WorkParams, ctx: Context) -> WorkResult:
    """A sync handler (runs in a worker thread): stops through ctx.progress raising NtCancelled."""
    for i in range(params.steps):
        ctx.progress(i, params.steps, None)
        time.sleep(params.delay)
    return WorkResult(steps_done=params.steps)


class RestTestPlugin:
    name = "rest_test"

    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        register(Operation(name="trade.place", summary="Place a pretend order.", params=OrderParams,
                           result=OrderResult, handler=place, scope=Scope.TRADE, read_only=False,
                           idempotent=False))
        register(Operation(name="test.typed", summary="Echo typed params.", params=TypedParams,
                           result=Echo, handler=typed))
        register(Operation(name="test.fail", summary="Fail on purpose.", params=FailParams,
                           result=Nothing, handler=fail))
        register(Operation(name="test.work", summary="Work in steps.", params=WorkParams,
                           result=WorkResult, handler=work, read_only=False))
        register(Operation(name="test.grind", summary="Work in steps, in a thread.", params=WorkParams,
                           result=WorkResult, handler=grind, read_only=False))


# -- keys: an injected authenticator (token -> identity) -----------------------------------------

IDENTITIES = {
    "read-key": Identity(name="reader", scopes=frozenset({Scope.READ}), key_id="k-read"),
    "trade-key": Identity(name="trader", scopes=frozenset({Scope.TRADE}), key_id="k-trade"),
    "admin-key": Identity(name="admin", scopes=frozenset({Scope.ADMIN}), key_id="k-admin"),
}


def authenticate(header: str | None) -> Identity:
    if not header:
        raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    scheme, _, token = header.partition(" ")
    identity = IDENTITIES.get(token.strip()) if scheme.lower() == "bearer" else None
    if identity is None:
        raise NtUnauthorized("that API key is not valid")
    return identity


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


READ, TRADE, ADMIN = bearer("read-key"), bearer("trade-key"), bearer("admin-key")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with make_host(settings=load_settings(env={}, data_dir=tmp_path), plugins=[RestTestPlugin()],
                   strict=True) as h:
        yield h


@pytest.fixture
def jobs(host: Host) -> JobManager:
    return JobManager(host)


@pytest.fixture
async def client(host: Host, jobs: JobManager) -> AsyncIterator[httpx.AsyncClient]:
    app = rest.build_app(host, authenticate=authenticate, jobs=jobs)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        yield c
    await app.state.jobs.aclose()


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]  # type: ignore[no-any-return]


def paths_of(response: httpx.Response) -> list[str]:
    return [d["path"] for d in error_of(response)["details"]]


# -- OpenAPI and docs ----------------------------------------------------------------------------


async def test_openapi_is_a_valid_3_1_document_matching_the_registry(client: httpx.AsyncClient, host: Host) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "an API key from `neural-trader keys create`"}
    for op in host.operations.for_frontend("rest"):
        item = doc["paths"][op.http_path]
        post = item["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"] == op.input_schema
        assert post["responses"]["200"]["content"]["application/json"]["schema"] == op.output_schema
        assert post["operationId"] == op.tool_name
        assert post["tags"] == [op.group]
        assert post["x-scope"] == op.scope.value
        assert post["responses"]["422"] == {"$ref": "#/components/responses/ValidationError"}
        assert ("get" in item) == op.read_only
        if op.read_only:
            assert [p["name"] for p in item["get"]["parameters"]] == list(op.input_schema["properties"])
    error = doc["components"]["responses"]["ValidationError"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert doc["paths"]["/healthz"]["get"]["security"] == []


async def test_openapi_get_parameters_say_how_values_are_written(client: httpx.AsyncClient) -> None:
    params = {p["name"]: p for p in (await client.get("/openapi.json")).json()["paths"]["/v1/test/typed"]["get"]["parameters"]}
    assert params["n"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 100,
                                     "description": "a bounded integer", "default": 0}
    assert params["tags"]["explode"] is True and params["tags"]["schema"]["type"] == "array"
    assert "content" in params["legs"] and "content" in params["limits"]  # JSON text


async def test_openapi_and_docs_need_no_key_but_operations_do(client: httpx.AsyncClient) -> None:
    for path in ("/openapi.json", "/docs", "/healthz"):
        assert (await client.get(path)).status_code == 200
    response = await client.post("/v1/system/ping", json={})
    assert response.status_code == 401
    assert error_of(response)["type"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_docs_page_lists_every_operation_with_its_parameters(client: httpx.AsyncClient, host: Host) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page and "https://" not in page  # self-contained: no CDN
    for op in host.operations.for_frontend("rest"):
        assert op.name in page and op.http_path in page
    assert "scope: trade" in page
    # parameters table of test.typed: name, type, default, bounds, description
    assert "a bounded integer" in page and "≥ 0, ≤ 100" in page
    assert "array of integer" in page and "array of object Leg" in page
    assert "one of &quot;a&quot;, &quot;b&quot;" in page


# -- calling operations ----------------------------------------------------------------------------


async def test_ping_by_post_and_by_get(client: httpx.AsyncClient) -> None:
    post = await client.post("/v1/system/ping", json={"echo": "hi"}, headers=READ)
    assert post.status_code == 200
    assert post.json()["pong"] is True and post.json()["echo"] == "hi"
    assert len(post.headers["x-request-id"]) >= 8
    get = await client.get("/v1/system/ping", params={"echo": "hé llo"}, headers=READ)
    assert get.status_code == 200 and get.json()["echo"] == "hé llo"
    empty = await client.post("/v1/system/ping", headers=READ)  # no body at all = no parameters
    assert empty.status_code == 200 and empty.json()["echo"] == ""


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/system/ping", headers={**READ, "X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    response = await client.get("/v1/system/ping", headers={**READ, "X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/system/ping", content=b'{"echo": ', headers=READ)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "bad_request" and "not valid JSON" in error["message"]
    assert (await client.post("/v1/system/ping", content=b'{"echo": NaN}', headers=READ)).status_code == 400


async def test_body_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/system/ping", json=[1, 2], headers=READ)
    assert response.status_code == 422
    assert paths_of(response) == ["$"]


async def test_extra_field_and_wrong_type_are_422_with_paths(client: httpx.AsyncClient) -> None:
    extra = await client.post("/v1/system/ping", json={"echo": "x", "bogus": 1}, headers=READ)
    assert extra.status_code == 422
    assert error_of(extra)["type"] == "validation_error"
    assert paths_of(extra) == ["$.bogus"]
    wrong = await client.post("/v1/trade/place", json={"symbol": "AAPL", "qty": "ten"}, headers=TRADE)
    assert wrong.status_code == 422
    assert paths_of(wrong) == ["$.qty"]
    bound = await client.post("/v1/trade/place", json={"symbol": "AAPL", "qty": 0}, headers=TRADE)
    assert bound.status_code == 422 and paths_of(bound) == ["$.qty"]


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"echo": "' + b"x" * (rest.MAX_BODY_BYTES + 10) + b'"}'
    response = await client.post("/v1/system/ping", content=big, headers=READ)
    assert response.status_code == 413
    assert error_of(response)["type"] == "payload_too_large"


async def test_trade_scope_needs_a_trade_key(client: httpx.AsyncClient) -> None:
    order = {"symbol": "AAPL", "qty": 3}
    assert (await client.post("/v1/trade/place", json=order)).status_code == 401
    assert (await client.post("/v1/trade/place", json=order, headers=bearer("nope"))).status_code == 401
    forbidden = await client.post("/v1/trade/place", json=order, headers=READ)
    assert forbidden.status_code == 403
    assert "trade" in error_of(forbidden)["message"]
    ok = await client.post("/v1/trade/place", json=order, headers=TRADE)
    assert ok.status_code == 200 and ok.json() == {"accepted": True, "symbol": "AAPL", "qty": 3}
    assert (await client.post("/v1/trade/place", json=order, headers=ADMIN)).status_code == 200


async def test_write_operations_do_not_answer_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/trade/place", params={"symbol": "A", "qty": 1}, headers=TRADE)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_of(response)["type"] == "method_not_allowed"


async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    for path in ("/v1/system/nope", "/nowhere", "/v1"):
        response = await client.get(path, headers=READ)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "not_found"


@pytest.mark.parametrize(("kind", "status", "kind_name"), [
    ("conflict", 409, "conflict"), ("missing", 404, "not_found"), ("limited", 429, "rate_limited")])
async def test_operation_errors_map_to_statuses(client: httpx.AsyncClient, kind: str, status: int, kind_name: str) -> None:
    response = await client.post("/v1/test/fail", json={"kind": kind}, headers=READ)
    assert response.status_code == status
    assert error_of(response)["type"] == kind_name
    if status == 429:
        assert response.headers["retry-after"] == "3"


async def test_unexpected_error_is_500_without_internals(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR"):
        response = await client.post("/v1/test/fail", json={"kind": "boom"}, headers=READ)
    assert response.status_code == 500
    error = error_of(response)
    request_id = response.headers["x-request-id"]
    assert error["type"] == "internal_error" and error["request_id"] == request_id
    assert request_id in error["message"]
    for leak in ("hunter2", "Traceback", "RuntimeError", "/srv/internal", ".py"):
        assert leak not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback goes to the log instead


async def test_host_and_origin_not_allowed_are_403(client: httpx.AsyncClient) -> None:
    rebound = await client.post("/v1/system/ping", json={}, headers={**READ, "Host": "evil.example"})
    assert rebound.status_code == 403
    assert "evil.example" in error_of(rebound)["message"]
    assert (await client.get("/docs", headers={"Host": "evil.example"})).status_code == 403
    origin = await client.post("/v1/system/ping", json={}, headers={**READ, "Origin": "http://evil.example"})
    assert origin.status_code == 403
    same = await client.post("/v1/system/ping", json={}, headers={**READ, "Origin": "http://localhost:3000"})
    assert same.status_code == 200


# -- GET query parameters -> JSON types ------------------------------------------------------------


async def typed_get(client: httpx.AsyncClient, query: Any) -> httpx.Response:
    return await client.get("/v1/test/typed", params=query, headers=READ)


async def test_get_coerces_query_parameters_by_schema(client: httpx.AsyncClient) -> None:
    response = await typed_get(client, [
        ("n", "7"), ("x", "2.25"), ("flag", "true"), ("tags", "a"), ("tags", "b,c"), ("nums", "1"),
        ("nums", "-2"), ("mode", "b"), ("level", "3"), ("opt", "null"), ("price", "1.10"),
        ("when", "2024-01-31"), ("limits", '{"AAPL": 5}'), ("legs", '[{"symbol": "MSFT", "qty": 2}]'),
    ])
    assert response.status_code == 200, response.text
    assert response.json()["params"] == {
        "n": 7, "x": 2.25, "flag": True, "tags": ["a", "b,c"], "nums": [1, -2], "mode": "b", "level": 3,
        "opt": None, "price": "1.10", "when": "2024-01-31", "limits": {"AAPL": 5},
        "legs": [{"symbol": "MSFT", "qty": 2}],
    }


async def test_get_accepts_json_arrays_and_single_objects_for_arrays(client: httpx.AsyncClient) -> None:
    response = await typed_get(client, {"nums": "[4, 5]", "legs": '{"symbol": "A", "qty": 1}', "x": "3"})
    assert response.status_code == 200, response.text
    assert response.json()["params"]["nums"] == [4, 5]
    assert response.json()["params"]["legs"] == [{"symbol": "A", "qty": 1}]
    assert response.json()["params"]["x"] == 3
    repeated = await typed_get(client, [("legs", '{"symbol": "A", "qty": 1}'), ("legs", '{"symbol": "B", "qty": 2}')])
    assert [leg["symbol"] for leg in repeated.json()["params"]["legs"]] == ["A", "B"]


@pytest.mark.parametrize(("query", "path"), [
    ({"n": "abc"}, "$.n"),
    ({"n": "1.5"}, "$.n"),
    ({"x": "nan"}, "$.x"),
    ({"flag": "maybe"}, "$.flag"),
    ([("nums", "1"), ("nums", "x")], "$.nums[1]"),
    ([("n", "1"), ("n", "2")], "$.n"),
    ({"legs": "[{not json"}, "$.legs"),
    ({"n": "101"}, "$.n"),           # coerced, then the schema's bound
    ({"level": "4"}, "$.level"),     # not one of the Literal's values
    ({"legs": '[{"symbol": "A", "qty": 0}]'}, "$.legs[0].qty"),
    ({"zzz": "1"}, "$.zzz"),         # unknown parameter
])
async def test_get_coercion_errors_are_422_naming_the_parameter(client: httpx.AsyncClient, query: Any, path: str) -> None:
    response = await typed_get(client, query)
    assert response.status_code == 422, response.text
    assert path in paths_of(response)


async def test_post_rejects_query_parameters_other_than_async(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/system/ping?echo=x", json={}, headers=READ)
    assert response.status_code == 400
    assert "JSON body" in error_of(response)["message"]


# -- jobs ------------------------------------------------------------------------------------------


async def poll(client: httpx.AsyncClient, location: str, until: set[str], headers: dict[str, str],
               timeout: float = 10.0) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get(location, headers=headers)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in until:
            return seen
        await asyncio.sleep(0.01)
    raise AssertionError(f"job never reached {until}: {seen[-1]}")


async def test_job_runs_reports_progress_and_returns_the_result(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/test/work?async=true", json={"steps": 20, "delay": 0.01}, headers=READ)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and job["operation"] == "test.work"
    location = response.headers["location"]
    assert location == f"/v1/jobs/{job['job_id']}"
    seen = await poll(client, location, {"done", "failed"}, READ)
    final = seen[-1]
    assert final["status"] == "done", final
    assert final["result"] == {"steps_done": 20} and final["error"] is None
    assert final["progress"] == {"done": 20, "total": 20, "message": "finished"}
    assert any(s["status"] == "running" and s["progress"] for s in seen[:-1])
    assert final["finished_at"] >= final["started_at"] >= final["created_at"]


async def test_prefer_respond_async_starts_a_job(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/system/ping", json={"echo": "later"},
                                 headers={**READ, "Prefer": "respond-async"})
    assert response.status_code == 202
    assert response.headers["preference-applied"] == "respond-async"
    final = (await poll(client, response.headers["location"], {"done"}, READ))[-1]
    assert final["result"]["echo"] == "later"


@pytest.mark.parametrize("op", ["work", "grind"])
async def test_job_can_be_cancelled(client: httpx.AsyncClient, jobs: JobManager, op: str) -> None:
    """A running job stops when cancelled, whether the handler is async or in a worker thread."""
    response = await client.post(f"/v1/test/{op}?async=1", json={"steps": 100_000, "delay": 0.01}, headers=READ)
    location = response.headers["location"]
    # Wait until the handler itself has reported a step: "running" comes first, and a worker
    # thread may start late on a busy machine.
    seen = await poll(client, location, {"running"}, READ)
    deadline = time.monotonic() + 30
    while seen[-1]["progress"] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        seen = await poll(client, location, {"running"}, READ)
    assert seen[-1]["status"] == "running" and seen[-1]["progress"] is not None, seen[-1]
    job = jobs.get(location.rsplit("/", 1)[1], identity=IDENTITIES["read-key"])
    cancelled = await client.delete(location, headers=READ)
    assert cancelled.status_code in (200, 202) and cancelled.json()["cancel_requested"] is True
    # DELETE means gone, whether or not the job had stopped yet ...
    assert (await client.get(location, headers=READ)).status_code == 404
    assert (await client.delete(location, headers=READ)).status_code == 404
    # ... and it does stop: the job object the manager held ends cancelled, short of its 100,000 steps.
    deadline = time.monotonic() + 60
    while not job.state.finished:
        assert time.monotonic() < deadline, "the cancelled job kept running"
        await asyncio.sleep(0.01)
    assert job.state.value == "cancelled" and job.result is None and job.error["type"] == "cancelled"
    assert job.progress["done"] < 100_000


async def test_job_errors_and_checks_happen_at_the_right_time(client: httpx.AsyncClient) -> None:
    # scope and validation fail at once, not as a failed job
    assert (await client.post("/v1/trade/place?async=true", json={"symbol": "A", "qty": 1},
                              headers=READ)).status_code == 403
    bad = await client.post("/v1/test/work?async=true", json={"steps": 0}, headers=READ)
    assert bad.status_code == 422 and paths_of(bad) == ["$.steps"]
    # an unexpected error inside the job is a failed job without internals
    response = await client.post("/v1/test/fail?async=true", json={"kind": "boom"}, headers=READ)
    final = (await poll(client, response.headers["location"], {"failed", "done"}, READ))[-1]
    assert final["status"] == "failed" and final["error"]["type"] == "internal_error"
    assert "hunter2" not in json.dumps(final)


async def test_jobs_belong_to_their_caller(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/test/work?async=true", json={"steps": 1}, headers=READ)
    location = response.headers["location"]
    assert (await client.get(location, headers=TRADE)).status_code == 404  # someone else's
    assert (await client.get(location, headers=ADMIN)).status_code == 200  # admins see all
    assert (await client.get(location)).status_code == 401
    assert (await client.get("/v1/jobs/doesnotexist", headers=READ)).status_code == 404


async def test_job_manager_bounds_what_it_keeps(host: Host) -> None:
    jobs = JobManager(host, max_concurrent=1, max_pending=2, max_finished=3)
    op = host.operations.get("test.work")
    me = IDENTITIES["read-key"]
    running = [jobs.submit(op, {"steps": 1000, "delay": 0.01}, identity=me) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert [j.state.value for j in running] == ["running", "queued"]  # one at a time
    with pytest.raises(NtRateLimited):
        jobs.submit(op, {"steps": 1}, identity=me)
    await jobs.aclose()
    assert {j.state.value for j in running} == {"cancelled"}
    for _ in range(5):
        job = jobs.submit(op, {"steps": 1}, identity=me)
        while not job.state.finished:
            await asyncio.sleep(0.001)
    jobs.get(job.id, identity=me)  # the newest finished job is still there...
    assert len(jobs) == 3  # ...and only max_finished of them are kept

    forgetful = JobManager(host, ttl=0)
    job = forgetful.submit(op, {"steps": 1}, identity=me)
    while not job.state.finished:
        await asyncio.sleep(0.001)
    with pytest.raises(NtNotFound):
        forgetful.get(job.id, identity=me)


# -- real API keys ---------------------------------------------------------------------------------


async def test_default_authenticator_uses_the_key_store(host: Host) -> None:
    _, read_token = host.services.keys.create("rest-reader", frozenset({Scope.READ}))
    _, trade_token = host.services.keys.create("rest-trader", frozenset({Scope.TRADE}))
    app = rest.build_app(host)  # settings.auth is on by default: API keys from host.services.keys
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        order = {"symbol": "AAPL", "qty": 1}
        assert (await c.get("/v1/system/ping", headers=bearer(read_token))).status_code == 200
        assert (await c.get("/v1/system/ping")).status_code == 401
        assert (await c.get("/v1/system/ping", headers=bearer(read_token + "x"))).status_code == 401
        assert (await c.get("/v1/system/ping", headers={"Authorization": read_token})).status_code == 401
        assert (await c.post("/v1/trade/place", json=order, headers=bearer(read_token))).status_code == 403
        assert (await c.post("/v1/trade/place", json=order, headers=bearer(trade_token))).status_code == 200


# -- health ----------------------------------------------------------------------------------------


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    # probes from anywhere: no Host check on health endpoints
    assert (await client.get("/healthz", headers={"Host": "10.0.0.7:8000"})).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_readyz_is_503_with_the_reason_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path, database_url="postgresql://nt:pw@127.0.0.1:9/nt")
    host = make_host(settings=settings, autoload=True)
    app = rest.build_app(host, authenticate=authenticate, ready_timeout=10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        response = await c.get("/readyz")
    host.close()
    assert response.status_code == 503
    error = error_of(response)
    assert error["type"] == "unavailable" and "database" in error["message"]
    assert error["details"]["database"]["ok"] is False
    assert "pw" not in response.text


# -- create_app (the worker factory) ----------------------------------------------------------------


async def test_create_app_reads_auth_and_scopes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_AUTH", "0")
    monkeypatch.setenv(rest.ENV_ANON_SCOPES, "read")
    app = rest.create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        assert (await c.get("/v1/system/ping", params={"echo": "anon"})).json()["echo"] == "anon"
    app.state.host.close()


# -- a real server ----------------------------------------------------------------------------------


@pytest.fixture
def server(host: Host) -> Iterator[str]:
    with serve_in_thread(rest.build_app(host, authenticate=authenticate)) as url:
        yield url


def test_real_server_answers_over_tcp(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as c:
        post = c.post("/v1/system/ping", json={"echo": "tcp"}, headers=READ)
        assert post.status_code == 200 and post.json()["echo"] == "tcp"
        assert post.headers["x-request-id"]
        assert c.get("/v1/system/ping", params={"echo": "g"}, headers=READ).json()["echo"] == "g"
        assert c.post("/v1/trade/place", json={"symbol": "A", "qty": 1}, headers=READ).status_code == 403
        assert c.get("/v1/nope", headers=READ).json()["error"]["type"] == "not_found"
        bad = c.post("/v1/system/ping", content=b"{", headers={**READ, "Content-Type": "application/json"})
        assert bad.status_code == 400
        validate(c.get("/openapi.json").json())
        started = c.post("/v1/test/work", params={"async": "true"}, json={"steps": 5, "delay": 0.01}, headers=READ)
        assert started.status_code == 202
        deadline = time.monotonic() + 10
        while (job := c.get(started.headers["location"], headers=READ).json())["status"] != "done":
            assert time.monotonic() < deadline, job
            time.sleep(0.01)
        assert job["result"] == {"steps_done": 5}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_two_workers(tmp_path: Path) -> None:
    port = _free_port()
    script = textwrap.dedent(f"""
        from neural_trader.frontends import rest
        from neural_trader.host import make_host
        from neural_trader.ops import Scope
        from neural_trader.settings import load_settings
        host = make_host(settings=load_settings(data_dir={str(tmp_path)!r}))
        rest.serve(host, port={port}, workers=2, anonymous_scopes=frozenset({{Scope.READ}}),
                   log_level="warning")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            while True:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "workers did not start"
                try:
                    response = c.get("/v1/system/ping", params={"echo": "w"})
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                assert response.status_code == 200, response.text
                break
            info = c.get("/v1/system/info")  # no key needed: anonymous read
            assert info.status_code == 200 and info.json()["operations"] >= 2
            assert c.get("/readyz").status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
