"""Every registered operation, through the CLI, MCP and REST: the three answers and schemas agree.

Adding an operation needs no new test here: it is picked up from the registry and called with its
first ``examples`` entry (an operation with required parameters must declare one).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from examples import setup_chain

from neural_trader.frontends import mcp, rest
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Operation, Scope
from neural_trader_cli.main import make_cli

ADMIN = Identity(name="test-admin", scopes=frozenset({Scope.ADMIN}))


# Collected once to parametrize (this host only lists; it never runs an operation, so it never
# touches the user's data dir). Each test gets a fresh host in an isolated data dir.
OPERATIONS = list(make_host(strict=True).operations)


#: Operations whose example acts on something another operation's first example makes (an order to
#: get, cancel or replace): that operation runs first, on the same fresh host.
def _example(op: Operation) -> dict[str, Any]:
    if op.examples:
        return dict(op.examples[0])
    assert not op.input_schema.get("required"), (
        f"{op.name} has required parameters: give the Operation an `examples=` entry")
    return {}


async def _cli(host: Host, args: list[str]) -> Any:
    """The CLI runs its own event loop, so it gets a thread of its own (as in a real terminal)."""
    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(make_cli(host), args))


@pytest.fixture
def host() -> Host:
    return make_host(strict=True)


def test_the_registry_is_not_empty() -> None:
    assert {"system.ping", "system.info"} <= {op.name for op in OPERATIONS}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
async def test_cli_mcp_and_rest_agree(op: Operation, host: Host) -> None:
    params = _example(op)
    for name in setup_chain(op.name):
        setup = host.operation(name)
        await setup.call(_example(setup), host.context(identity=ADMIN))
    direct = await op.call(params, host.context(identity=ADMIN))

    cli = await _cli(host, [op.group, op.verb, "--params", json.dumps(params), "--json"])
    assert cli.exit_code == 0, cli.output
    via_cli = json.loads(cli.output)

    async with mcp.in_memory_client(host, identity=ADMIN) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        tool = tools[op.tool_name]
        assert tool.input_schema == op.input_schema
        assert tool.output_schema == op.output_schema
        called = await session.call_tool(op.tool_name, params)
        assert not called.is_error, called.content
        via_mcp = called.structured_content

    app = rest.build_app(host, authenticate=lambda _header: ADMIN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        response = await client.post(op.http_path, json=params)
        assert response.status_code == 200, response.text
        via_rest = response.json()
        spec = (await client.get("/openapi.json")).json()
    body = spec["paths"][op.http_path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == op.input_schema

    assert via_cli == via_mcp == via_rest == direct


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
async def test_invalid_input_is_refused_the_same_way_everywhere(op: Operation, host: Host) -> None:
    bad = {**_example(op), "no_such_parameter": 1}
    expected = "$.no_such_parameter"

    cli = await _cli(host, [op.group, op.verb, "--params", json.dumps(bad), "--json"])
    assert cli.exit_code == 2 and expected in cli.output

    async with mcp.in_memory_client(host, identity=ADMIN) as session:
        called = await session.call_tool(op.tool_name, bad)
        assert called.is_error and expected in called.content[0].text  # type: ignore[union-attr]

    app = rest.build_app(host, authenticate=lambda _header: ADMIN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        response = await client.post(op.http_path, json=bad)
    assert response.status_code == 422
    assert expected in [d["path"] for d in response.json()["error"]["details"]]
