"""What an attacker (or a careless client) sends, on every frontend: every answer is a clear 4xx that
names the field, small, and never a 500, a hang, or work that goes on for nobody.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from servers import serve_in_thread

from neural_trader.errors import NtCancelled, NtUnauthorized, NtValidationError
from neural_trader.frontends import rest
from neural_trader.frontends.mcp import in_memory_client
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.ops import MAX_PROBLEMS, Context, Identity, Operation, Scope
from neural_trader.schema import param
from neural_trader.serde import MAX_DEPTH
from neural_trader.settings import load_settings

# -- a test plugin ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProbeParams:
    text: str = param(default="", max_len=100, description="some text")
    code: str = param(default="AB", pattern=r"^[A-Z]{2}$", pattern_hint="two capital letters, such as AB")
    when: dt.datetime | None = None
    items: list[int] = param(factory=list, max_len=100_000)
    blob: dict[str, Any] = param(factory=dict, description="free-form JSON")


@attrs.frozen(kw_only=True)
class ProbeResult:
    ok: bool


def probe(params: ProbeParams, ctx: Context) -> ProbeResult:
    return ProbeResult(ok=True)


@attrs.frozen(kw_only=True)
class GrindParams:
    steps: int = param(ge=1, le=10_000_000)
    marker: str = param(default="", description="a name for GRIND_LOG; an absolute path is also created "
                                                "as a file when the work starts (for other processes)")


@attrs.frozen(kw_only=True)
class GrindResult:
    steps_done: int


#: What the grind handler saw, by marker: how far it got and whether it was told to stop.
GRIND_LOG: dict[str, dict[str, Any]] = {}


def grind(params: GrindParams, ctx: Context) -> GrindResult:
    """A sync handler that only stops when its cancel token is set (through ``ctx.progress``)."""
    seen = GRIND_LOG.setdefault(params.marker, {"steps": 0, "cancelled": threading.Event()})
    if params.marker.startswith("/"):
        Path(params.marker).touch()
    try:
        for i in range(params.steps):
            ctx.progress(i, params.steps)
            seen["steps"] = i
            time.sleep(0.001)
    except NtCancelled:
        seen["cancelled"].set()
        raise
    return GrindResult(steps_done=params.steps)


class HostilePlugin:
    name = "hostile_test"

    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        register(Operation(name="test.probe", summary="Validate and do nothing.", params=ProbeParams,
                           result=ProbeResult, handler=probe))
        register(Operation(name="test.grind", summary="Work until cancelled.", params=GrindParams,
                           result=GrindResult, handler=grind, read_only=False))
        register(Operation(name="test.trade", summary="A trade-scope operation.", params=ProbeParams,
                           result=ProbeResult, handler=probe, scope=Scope.TRADE, read_only=False))


READER = Identity(name="reader", scopes=frozenset({Scope.READ}), key_id="k-read")


def authenticate(header: str | None) -> Identity:
    if header != "Bearer read-key":
        raise NtUnauthorized("an API key is required")
    return READER


READ = {"Authorization": "Bearer read-key"}


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with make_host(settings=load_settings(env={}, data_dir=tmp_path), plugins=[HostilePlugin()],
                   strict=True) as h:
        yield h


@pytest.fixture
async def client(host: Host) -> AsyncIterator[httpx.AsyncClient]:
    app = rest.build_app(host, authenticate=authenticate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        yield c
    await app.state.jobs.aclose()


async def post(client: httpx.AsyncClient, body: bytes | str, path: str = "/v1/test/probe") -> httpx.Response:
    return await client.post(path, content=body, headers={**READ, "Content-Type": "application/json"})


def error(response: httpx.Response) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


# -- bodies that are not what they should be -------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "words"), [
    ("null", 422, "must be a JSON object"),
    ("[1, 2]", 422, "must be a JSON object"),
    ('"text"', 422, "must be a JSON object"),
    ('{"blob": ' + "[" * 5000 + "]" * 5000 + "}", 400, "nested too deeply"),
    ('{"blob": {"a": ' + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "}}", 400, "nested too deeply"),
    ('{"items": [1e999]}', 400, "too large"),
    ('{"items": [NaN]}', 400, "not valid JSON"),
    ('{"text": Infinity}', 400, "not valid JSON"),
])
async def test_bodies_that_are_not_parameters_are_refused(client: httpx.AsyncClient, body: str, status: int,
                                                          words: str) -> None:
    response = await post(client, body)
    assert response.status_code == status, response.text
    assert words in error(response)["message"]


async def test_an_empty_body_means_no_parameters(client: httpx.AsyncClient) -> None:
    assert (await post(client, b"")).json() == {"ok": True}


async def test_a_huge_bad_value_is_not_echoed_back(client: httpx.AsyncClient) -> None:
    response = await post(client, json.dumps({"text": "x" * 900_000}))
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert error(response)["details"] == [{"path": "$.text",
                                           "message": "is 900000 characters long; at most 100 allowed"}]


async def test_a_million_bad_items_give_a_short_list_of_problems(client: httpx.AsyncClient) -> None:
    response = await post(client, json.dumps({"items": ["x"] * 150_000}))  # under the 1 MiB body limit
    assert response.status_code == 422
    details = error(response)["details"]
    assert len(details) == MAX_PROBLEMS + 1 and "more problems" in details[-1]["message"]
    assert len(response.content) < 10_000


@pytest.mark.parametrize("when", ["1677-09-22", "1677-09-22T00:00:00Z", "2262-05-01", "9999-12-31T23:59:59+05:00",
                                  "0001-01-01T00:00:00-05:00"])
async def test_times_outside_the_nanosecond_span_are_refused(client: httpx.AsyncClient, when: str) -> None:
    response = await post(client, json.dumps({"when": when}))
    assert response.status_code == 422, response.text
    assert "from 1678 to 2261" in error(response)["message"]


@pytest.mark.parametrize("value", ["1677-12-30T00:00:00Z", "2262-01-03", -9_300_000_000, 9_300_000_000.0, "0001-01-01T00:00:00-05:00"])
def test_the_wire_refuses_times_outside_the_span_whatever_the_schema_says(value: Any) -> None:
    from neural_trader.serde import parse_datetime

    with pytest.raises(ValueError, match="between 1678-01-01 and 2261-12-31"):
        parse_datetime(value)


async def test_times_inside_the_span_are_accepted(client: httpx.AsyncClient) -> None:
    for when in ("1678-01-01", "1678-01-01T00:00:00+14:00", "2261-12-31T23:59:59-12:00", "2024-01-02"):
        assert (await post(client, json.dumps({"when": when}))).status_code == 200, when


@pytest.mark.parametrize(("body", "expected"), [
    ({"when": "yesterday"}, '"yesterday" is not a date or ISO 8601 date-time from 1678 to 2261, such as 2024-01-02'),
    ({"when": 5.5e20}, "expected a date (2024-01-02) or an ISO 8601 date-time (2024-01-02T15:30:00Z) or null, got a number"),
    ({"code": "a b"}, '"a b" is not two capital letters, such as AB'),
    ({"items": ["one"]}, "expected an integer, got a string"),
])
async def test_messages_say_what_form_is_expected_without_internals(client: httpx.AsyncClient, body: Any,
                                                                  expected: str) -> None:
    response = await post(client, json.dumps(body))
    assert response.status_code == 422
    message = error(response)["message"]
    assert expected in message
    for internal in ("datetime.datetime", "| None", "^[A-Z]", "{2}$", "Traceback"):
        assert internal not in message


# -- who may even be parsed --------------------------------------------------------------------------


async def test_scope_is_checked_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    # A reader posting garbage to a trade operation learns only that it may not.
    response = await post(client, b"{not json", path="/v1/test/trade")
    assert response.status_code == 403 and "needs scope 'trade'" in error(response)["message"]


@pytest.mark.parametrize("host_header", ["[::1]evil.com", "127.0.0.1:80:80", "evil.com", "localhost.evil.com",
                                         "127.0.0.1@evil.com", "[::1", "local host", "127.0.0.1:99999999"])
async def test_host_headers_that_are_not_an_allowed_host_are_refused(client: httpx.AsyncClient,
                                                                    host_header: str) -> None:
    for path in ("/v1/test/probe", "/readyz", "/openapi.json"):
        response = await client.get(path, headers={**READ, "Host": host_header})
        assert response.status_code == 403, (path, host_header, response.text)


@pytest.mark.parametrize("host_header", ["127.0.0.1", "localhost:8000", "[::1]:8000", "LOCALHOST", "[::1]"])
async def test_allowed_hosts_with_or_without_a_port_pass(client: httpx.AsyncClient, host_header: str) -> None:
    response = await client.get("/v1/test/probe", headers={**READ, "Host": host_header})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("origin", ["http://127.0.0.1.evil.com", "http://[::1]evil.com", "http://user@127.0.0.1",
                                    "javascript://127.0.0.1", "null"])
async def test_origins_that_only_look_allowed_are_refused(client: httpx.AsyncClient, origin: str) -> None:
    response = await client.get("/v1/test/probe", headers={**READ, "Origin": origin})
    assert response.status_code == 403, (origin, response.text)


# -- the same rules whichever parser produced the parameters (MCP, Python) ---------------------------


async def test_parameters_from_any_frontend_are_checked_for_depth_and_finiteness(host: Host) -> None:
    deep: Any = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(NtValidationError, match="nested too deeply"):
        await host.acall("test.probe", {"blob": {"x": deep}})
    with pytest.raises(NtValidationError, match="finite") as caught:
        await host.acall("test.probe", {"blob": {"x": [1.0, float("inf")]}})
    assert caught.value.details == [{"path": "$.blob.x[1]", "message": caught.value.details[0]["message"]}]
    with pytest.raises(NtValidationError, match="must be a JSON object"):
        await host.operation("test.probe").call(None, host.context())
    async with in_memory_client(host) as session:
        answer = await session.call_tool("test_probe", {"blob": {"x": deep}})
    assert answer.is_error and "nested too deeply" in answer.content[0].text  # type: ignore[union-attr]


def _mcp_stdio(lines: list[str], tmp_path: Path, answers: int) -> list[dict[str, Any]]:
    """Send ``lines`` to a stdio server and read ``answers`` replies (stdin stays open meanwhile:
    at end of input the server stops, and would drop what it had not answered yet)."""
    env = {**os.environ, "NT_DATA_DIR": str(tmp_path), "NT_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "neural_trader.frontends.mcp", "--scopes", "read"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    timer = threading.Timer(120, proc.kill)  # a server that answers nothing must not hang the suite
    timer.start()
    try:
        proc.stdin.write("".join(line + "\n" for line in lines))
        proc.stdin.flush()
        replies = [json.loads(proc.stdout.readline()) for _ in range(answers)]
    finally:
        timer.cancel()
        proc.stdin.close()
        proc.wait(30)
    return replies


@pytest.mark.slow
def test_mcp_stdio_answers_malformed_lines_with_json_rpc_errors(tmp_path: Path) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "test", "version": "1"}}}
    answers = _mcp_stdio([json.dumps(initialize), "{not json", '{"hello": "world"}',
                          json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                          json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})], tmp_path, answers=4)
    by_id = {a.get("id"): a for a in answers if a.get("id") is not None}
    errors = [a["error"] for a in answers if a.get("id") is None]
    assert [e["code"] for e in errors] == [-32700, -32600]
    assert "result" in by_id[1] and by_id[2]["result"]["tools"]  # the session goes on


# -- settings never print credentials -------------------------------------------------------------------


def test_config_show_masks_credentials_inside_plugin_values(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(textwrap.dedent("""
        [plugins.alpaca]
        base_url = "https://user:hunter2@paper-api.example.com/v2"
        feed = "iex"
        [plugins.custom]
        endpoints = ["https://tok3n@api.example.com", "https://api.example.com/q?apiKey=s3cret&x=1"]
        nested = { url = "redis://:pw0rd@cache:6379/0", api_token = "abc" }
    """))
    settings = load_settings(env={"NT_CONFIG": str(config), "NT_DATA_DIR": str(tmp_path)})
    shown = json.dumps(settings.public())
    for secret in ("hunter2", "tok3n", "s3cret", "pw0rd", '"abc"'):
        assert secret not in shown
    assert "paper-api.example.com" in shown and '"feed": "iex"' in shown and "x=1" in shown


# -- work stops when nobody waits for it ---------------------------------------------------------------


@pytest.fixture
def server(host: Host) -> Iterator[str]:
    with serve_in_thread(rest.build_app(host, authenticate=authenticate)) as url:
        yield url


def test_a_client_that_goes_away_cancels_its_operation(server: str) -> None:
    marker = "disconnect"
    with httpx.Client(base_url=server, timeout=httpx.Timeout(30, read=0.5)) as c, \
            pytest.raises(httpx.ReadTimeout):
        c.post("/v1/test/grind", json={"steps": 10_000_000, "marker": marker}, headers=READ)
    # The client is gone: the handler must be told, whatever the machine's speed.
    seen = GRIND_LOG[marker]
    assert seen["cancelled"].wait(60), "the operation kept running after its client left"
    assert seen["steps"] < 10_000_000 - 1


def _raw_request(server: str, request: bytes) -> tuple[bytes, dict[str, Any]]:
    address = server.removeprefix("http://")
    host, port = address.split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(request.replace(b"{address}", address.encode()))
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return head, json.loads(body)["error"]


def test_a_url_too_long_to_parse_is_answered_in_json(server: str) -> None:
    """httptools cannot parse a URL of 64 KiB or more: 414 in JSON (never uvicorn's plain text),
    pointing at POST."""
    head, error = _raw_request(server, b"GET /v1/test/probe?text=" + b"a" * 70_000 + b" HTTP/1.1\r\n"
                                       b"Host: {address}\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert error["type"] == "uri_too_long" and "POST" in error["message"] and error["request_id"]
    assert error["details"] == {"limit_bytes": 65_535}


def test_a_request_that_is_not_http_is_answered_in_json(server: str) -> None:
    head, error = _raw_request(server, b"GET /v1/test/probe HTTP/1.1\r\nHost {address}\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert error["type"] == "bad_request" and error["message"].startswith("the request cannot be read")


@pytest.mark.slow
def test_sigterm_drains_within_the_grace_period(tmp_path: Path) -> None:
    """A server with a request that would run for hours stops on SIGTERM after the grace period."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    progress = tmp_path / "progress"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[1])!r}]
        from test_hostile_input import HostilePlugin
        from neural_trader.frontends import rest
        from neural_trader.host import make_host
        from neural_trader.ops import Scope
        from neural_trader.settings import load_settings
        host = make_host(settings=load_settings(env={{}}, data_dir={str(tmp_path)!r}, shutdown_grace=1),
                         plugins=[HostilePlugin()])
        rest.serve(host, port={port}, anonymous_scopes=frozenset({{Scope.READ}}), log_level="warning")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        request = threading.Thread(target=_long_request, args=(port, progress), daemon=True)
        request.start()
        deadline = time.monotonic() + 60
        while not progress.exists():
            assert time.monotonic() < deadline, "the long request did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        # The grace period is 1 s; everything else (cancelling, closing the host) is bounded too.
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


def _long_request(port: int, marker: Path) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{port}/v1/test/grind", json={"steps": 10_000_000, "marker": str(marker)},
                   timeout=120)


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/v1/market/quote", {"symbol": "AAPL", "as_of": "1784-11-03T03:46:00Z"}, 404),  # before any data
    ("/v1/market/bars", {"file": "0" * 4000}, 404),  # a name too long for the file system
    ("/v1/market/bars", {"file": "../../etc/passwd"}, 422),  # outside the csv folder
])
async def test_market_requests_nothing_can_serve_are_4xx_naming_no_server_paths(
        client: httpx.AsyncClient, host: Host, path: str, body: dict[str, Any], status: int) -> None:
    response = await post(client, json.dumps(body), path=path)
    assert response.status_code == status, response.text
    assert str(host.settings.data_dir) not in response.text and len(response.content) < 4000
