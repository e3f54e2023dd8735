"""The MCP frontend: tools generated from the registry, in memory, over stdio and over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import httpx2  # the SDK's HTTP client (a dependency of mcp)
import pytest
import uvicorn
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from neural_trader.domain.media import Image
from neural_trader.errors import NtUnauthorized
from neural_trader.frontends.mcp import build_http_app, build_server, in_memory_client
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.ops import Context, Identity, Operation, Scope
from neural_trader.schema import param
from neural_trader.settings import load_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
READ_ONLY = Identity(name="agent", scopes=frozenset({Scope.READ}))


# -- a test plugin -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class NoParams:
    """No parameters."""


@attrs.frozen(kw_only=True)
class OrderParams:
    """Parameters of ``test.order``."""

    symbol: str = param(description="ticker", min_len=1)
    qty: int = param(gt=0, description="shares")
    note: str | None = param(default=None, description="free text")


@attrs.frozen(kw_only=True)
class OrderResult:
    accepted: bool
    caller: str


@attrs.frozen(kw_only=True)
class StepsParams:
    steps: int = param(default=3, ge=1, le=50)


@attrs.frozen(kw_only=True)
class StepsResult:
    done: int


@attrs.frozen(kw_only=True)
class ChartResult:
    title: str
    chart: Image
    thumbnail: Image | None = None
    missing: Image | None = None


@attrs.frozen(kw_only=True)
class WhoResult:
    name: str
    scopes: list[str]


class Recorder:
    """A plugin object: its operations and what they observed."""

    def __init__(self) -> None:
        self.saw_cancel = threading.Event()
        self.started = threading.Event()

    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        register(Operation(name="test.order", summary="Place a pretend order.", params=OrderParams,
                           result=OrderResult, handler=self.order, scope=Scope.TRADE, read_only=False,
                           destructive=True, idempotent=False, open_world=True,
                           description="Only for tests."))
        register(Operation(name="test.steps_sync", summary="Count steps in a worker thread.",
                           params=StepsParams, result=StepsResult, handler=self.steps_sync))
        register(Operation(name="test.steps_async", summary="Count steps on the event loop.",
                           params=StepsParams, result=StepsResult, handler=self.steps_async))
        register(Operation(name="test.chart", summary="Draw a chart.", params=NoParams, result=ChartResult,
                           handler=self.chart))
        register(Operation(name="test.boom", summary="Fail unexpectedly.", params=NoParams, result=StepsResult,
                           handler=self.boom))
        register(Operation(name="test.whoami", summary="Who is calling.", params=NoParams, result=WhoResult,
                           handler=self.whoami))
        register(Operation(name="test.wait", summary="Wait until cancelled.", params=NoParams,
                           result=StepsResult, handler=self.wait))
        register(Operation(name="test.cli_only", summary="Not for MCP.", params=NoParams, result=StepsResult,
                           handler=self.steps_sync, frontends={"cli"}))

    def order(self, params: OrderParams, ctx: Context) -> OrderResult:
        return OrderResult(accepted=True, caller=ctx.identity.name)

    def steps_sync(self, params: Any, ctx: Context) -> StepsResult:
        n = getattr(params, "steps", 1)
        for i in range(n):
            ctx.progress(i + 1, n, f"step {i + 1}")
        return StepsResult(done=n)

    async def steps_async(self, params: StepsParams, ctx: Context) -> StepsResult:
        for i in range(params.steps):
            ctx.progress(i + 1, params.steps, f"step {i + 1}")
            await asyncio.sleep(0)
        return StepsResult(done=params.steps)

    async def chart(self, params: NoParams, ctx: Context) -> ChartResult:
        return ChartResult(title="equity", chart=Image.png(PNG),
                           thumbnail=Image(media_type="image/jpeg", data=b"\xff\xd8\xff"))

    def boom(self, params: NoParams, ctx: Context) -> StepsResult:
        raise RuntimeError("secret internals: password=hunter2")

    async def whoami(self, params: NoParams, ctx: Context) -> WhoResult:
        return WhoResult(name=ctx.identity.name, scopes=sorted(s.value for s in ctx.identity.scopes))

    def wait(self, params: NoParams, ctx: Context) -> StepsResult:
        self.started.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ctx.cancel.cancelled:
                self.saw_cancel.set()
                ctx.cancel.raise_if_cancelled()
            time.sleep(0.005)
        return StepsResult(done=0)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def host(tmp_path: Path, recorder: Recorder) -> Iterator[Host]:
    settings = load_settings(env={"NT_DATA_DIR": str(tmp_path), "NT_CONFIG": str(tmp_path / "none.toml")},
                             data_dir=tmp_path)
    h = make_host(settings=settings, plugins=[recorder], autoload=True, env={}, strict=True)
    yield h
    h.close()


def text_of(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


# -- in memory -------------------------------------------------------------------------------------
async def test_tools_mirror_the_registry(host: Host) -> None:
    async with in_memory_client(host) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
    expected = {op.tool_name: op for op in host.operations.for_frontend("mcp")}
    assert set(listed) == set(expected)
    assert "system_ping" in listed and "test_cli_only" not in listed
    for name, op in expected.items():
        tool = listed[name]
        assert tool.input_schema == op.input_schema
        assert tool.output_schema == op.output_schema
    order = listed["test_order"]
    assert order.title == "Place a pretend order."
    assert order.description is not None and "Only for tests." in order.description
    assert order.annotations is not None
    assert (order.annotations.read_only_hint, order.annotations.destructive_hint,
            order.annotations.idempotent_hint, order.annotations.open_world_hint) == (False, True, False, True)
    ping = listed["system_ping"].annotations
    assert ping is not None and ping.read_only_hint is True and ping.open_world_hint is False


async def test_ping_returns_structured_and_text_content(host: Host) -> None:
    async with in_memory_client(host) as session:
        result = await session.call_tool("system_ping", {"echo": "hello"})
    assert not result.is_error
    assert result.structured_content["pong"] is True
    assert result.structured_content["echo"] == "hello"
    assert json.loads(text_of(result)) == result.structured_content


async def test_invalid_argument_is_a_tool_error_naming_the_field(host: Host) -> None:
    async with in_memory_client(host) as session:
        wrong_type = await session.call_tool("system_ping", {"echo": 5})
        unknown = await session.call_tool("system_ping", {"ehco": "x"})
        nested = await session.call_tool("test_order", {"symbol": "AAPL", "qty": 0})
    assert wrong_type.is_error
    assert text_of(wrong_type).startswith("invalid parameters:")
    assert "$.echo" in text_of(wrong_type) and "string" in text_of(wrong_type)
    assert unknown.is_error and "ehco" in text_of(unknown)
    assert nested.is_error and "$.qty" in text_of(nested)


async def test_unknown_tool_is_a_protocol_error(host: Host) -> None:
    async with in_memory_client(host) as session:
        with pytest.raises(MCPError, match="unknown tool 'system_pong'"):
            await session.call_tool("system_pong", {})


async def test_read_only_identity_cannot_trade(host: Host) -> None:
    async with in_memory_client(host, identity=READ_ONLY) as session:
        result = await session.call_tool("test_order", {"symbol": "AAPL", "qty": 1})
        ping = await session.call_tool("system_ping", {})
    assert result.is_error
    assert "needs scope 'trade'" in text_of(result)
    assert not ping.is_error
    async with in_memory_client(host, identity=Identity(name="trader", scopes=frozenset({Scope.TRADE}))) as s:
        allowed = await s.call_tool("test_order", {"symbol": "AAPL", "qty": 1})
    assert not allowed.is_error
    assert allowed.structured_content == {"accepted": True, "caller": "trader"}


async def test_unexpected_errors_do_not_leak(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    async with in_memory_client(host) as session:
        result = await session.call_tool("test_boom", {})
    assert result.is_error
    text = text_of(result)
    assert "hunter2" not in text and "secret" not in text
    assert "internal error" in text and "request id" in text
    request_id = text.split("request id ")[1].split()[0]
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize("tool", ["test_steps_sync", "test_steps_async"])
async def test_progress_notifications_arrive_before_the_result(host: Host, tool: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with in_memory_client(host) as session:
        result = await session.call_tool(tool, {"steps": 4}, progress_callback=on_progress)
        assert not result.is_error
        assert seen == [(1.0, 4.0, "step 1"), (2.0, 4.0, "step 2"), (3.0, 4.0, "step 3"), (4.0, 4.0, "step 4")]
        # Without a progress token the same handler runs and nothing is sent.
        seen.clear()
        again = await session.call_tool(tool, {"steps": 2})
    assert again.structured_content == {"done": 2} and seen == []


async def test_cancelling_a_call_sets_ctx_cancel(host: Host, recorder: Recorder) -> None:
    async with in_memory_client(host) as session:
        with anyio.move_on_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(session.call_tool, "test_wait", {})
                await anyio.to_thread.run_sync(recorder.started.wait, 5)
                tg.cancel_scope.cancel()  # the client sends notifications/cancelled
            saw = await anyio.to_thread.run_sync(recorder.saw_cancel.wait, 5)
        assert saw
        assert not (await session.call_tool("system_ping", {})).is_error  # the session still works


async def test_images_come_back_as_image_content(host: Host) -> None:
    import base64

    async with in_memory_client(host) as session:
        result = await session.call_tool("test_chart", {})
    assert not result.is_error
    images = [c for c in result.content if c.type == "image"]
    assert [(i.mime_type, base64.b64decode(i.data)) for i in images] == [
        ("image/png", PNG), ("image/jpeg", b"\xff\xd8\xff")]
    assert result.structured_content["chart"] == {"media_type": "image/png",
                                                  "data": base64.b64encode(PNG).decode()}
    assert result.structured_content["missing"] is None
    shown = json.loads(text_of(result))  # the text block leaves the base64 out
    assert shown["title"] == "equity" and base64.b64encode(PNG).decode() not in text_of(result)


async def test_modern_in_process_client(host: Host, recorder: Recorder) -> None:
    """``mcp.Client(server)`` speaks protocol 2026-07-28 in process (no JSON-RPC, no handshake)."""
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(build_server(host, identity=READ_ONLY)) as client:
        result = await client.call_tool("test_steps_sync", {"steps": 2}, progress_callback=on_progress)
        assert result.structured_content == {"done": 2} and seen == [1.0, 2.0]
        denied = await client.call_tool("test_order", {"symbol": "A", "qty": 1})
        assert denied.is_error and "needs scope 'trade'" in text_of(denied)
        with anyio.move_on_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "test_wait", {})
                await anyio.to_thread.run_sync(recorder.started.wait, 5)
                tg.cancel_scope.cancel()
            assert await anyio.to_thread.run_sync(recorder.saw_cancel.wait, 5)


# -- stdio, a real client in another process -------------------------------------------------------
async def test_stdio_subprocess(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "neural_trader.frontends.mcp", "--scopes", "read"],
        env={"NT_DATA_DIR": str(tmp_path), "NT_CONFIG": str(tmp_path / "none.toml")},
    )
    with anyio.fail_after(60):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            assert {"system_ping", "system_info"} <= names
            pong = await session.call_tool("system_ping", {"echo": "over stdio"})
            assert not pong.is_error and pong.structured_content["echo"] == "over stdio"
            bad = await session.call_tool("system_ping", {"echo": ["x"]})
            assert bad.is_error and "$.echo" in text_of(bad)


# -- streamable HTTP on a real uvicorn -------------------------------------------------------------
TOKENS = {
    "reader-token": Identity(name="reader", scopes=frozenset({Scope.READ}), key_id="k1"),
    "trader-token": Identity(name="trader", scopes=frozenset({Scope.TRADE}), key_id="k2"),
}


def dict_authenticator(header: str | None) -> Identity:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    return TOKENS[token]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(host: Host) -> Iterator[LiveServer]:
    with LiveServer(build_http_app(host, authenticate=dict_authenticator)) as server:
        yield server


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_refuses_foreign_origin_and_missing_key(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        evil = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example",
                                                      "Authorization": "Bearer reader-token"})
        assert evil.status_code == 403
        assert "evil.example" in evil.json()["error"]["message"]
        rebound = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
        assert rebound.status_code == 403
        anonymous = client.post("/mcp", json=INIT, headers=MCP_HEADERS)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["type"] == "unauthorized"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        local = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Origin": f"http://localhost:{live.port}",
                                                        "Authorization": "Bearer reader-token"})
        assert local.status_code == 200


async def _http_session_calls(url: str, token: str) -> dict[str, Any]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        return {
            "tools": {t.name for t in (await session.list_tools()).tools},
            "who": (await session.call_tool("test_whoami", {})).structured_content,
            "order": await session.call_tool("test_order", {"symbol": "MSFT", "qty": 2}),
            "steps": await session.call_tool("test_steps_sync", {"steps": 3}, progress_callback=on_progress),
            "progress": progress,
        }


async def test_http_with_a_key_reaches_the_tools_as_that_caller(live: LiveServer) -> None:
    with anyio.fail_after(30):
        reader = await _http_session_calls(live.url, "reader-token")
        trader = await _http_session_calls(live.url, "trader-token")
    assert "system_ping" in reader["tools"]
    assert reader["who"] == {"name": "reader", "scopes": ["read"]}
    assert reader["order"].is_error and "needs scope 'trade'" in text_of(reader["order"])
    assert trader["who"] == {"name": "trader", "scopes": ["trade"]}
    assert trader["order"].structured_content == {"accepted": True, "caller": "trader"}
    assert reader["steps"].structured_content == {"done": 3}
    assert reader["progress"] == [1.0, 2.0, 3.0]


async def test_http_modern_protocol(live: LiveServer) -> None:
    """A client that negotiates protocol 2026-07-28 over HTTP gets the same identity and progress."""
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer trader-token"}, timeout=30) as http,
            Client(streamable_http_client(f"{live.url}/mcp", http_client=http)) as client,
        ):
            who = await client.call_tool("test_whoami", {})
            steps = await client.call_tool("test_steps_sync", {"steps": 2}, progress_callback=on_progress)
            chart = await client.call_tool("test_chart", {})
    assert who.structured_content == {"name": "trader", "scopes": ["trade"]}
    assert steps.structured_content == {"done": 2} and seen == [1.0, 2.0]
    assert [c.type for c in chart.content] == ["text", "image", "image"]


async def test_http_with_the_real_key_store(host: Host) -> None:
    record, token = host.services.keys.create("agent", frozenset({Scope.READ}))
    with LiveServer(build_http_app(host)) as server:  # the default authenticator: the key store
        with httpx.Client(base_url=server.url) as client:
            assert client.post("/mcp", json=INIT, headers=MCP_HEADERS).status_code == 401
            forged = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer ntk_x_y"})
            assert forged.status_code == 401
        with anyio.fail_after(30):
            calls = await _http_session_calls(server.url, token)
        assert calls["who"] == {"name": "agent", "scopes": ["read"]}
        assert calls["order"].is_error and "needs scope 'trade'" in text_of(calls["order"])
        host.services.keys.revoke(record.key_id)
        with httpx.Client(base_url=server.url) as client:
            revoked = client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
