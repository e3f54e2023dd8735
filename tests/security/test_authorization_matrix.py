"""The authorization matrix, generated from the registry: every role x every operation x every
network frontend (REST, MCP over HTTP) and MCP with a fixed caller (stdio's way), deny by default.

Each call carries an unknown parameter, so no handler runs: a caller the operation's scope does not
allow must get 403 (or the MCP tool error saying so), *before* validation; a caller it allows gets
the validation error (422) instead, which proves the scope check let it through. Without a token every
call is 401. The CLI is not in the matrix: it runs as the local user with every scope (docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest
from starlette.testclient import TestClient

from neural_trader.frontends import mcp
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Operation, Scope
from neural_trader.services.identity import ROLES, scopes_for_roles

from .conftest import claims, hs256, mcp_call, mcp_result, rest_client, settings_for

PROBE = {"__authz_probe__": 1}
#: The roles of the matrix, and a caller with none (deny by default).
ROLE_SETS: dict[str, tuple[str, ...]] = {**{role: (role,) for role in ROLES}, "no role": ()}


@pytest.fixture(scope="module")
def matrix_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    host = make_host(settings=settings_for(tmp_path_factory.mktemp("authz")))
    yield host
    host.close()


def _allowed(roles: tuple[str, ...], op: Operation) -> bool:
    return Identity(name="x", scopes=scopes_for_roles(roles)).allows(op.scope)


def test_every_operation_declares_a_scope_and_writes_need_more_than_nothing(matrix_host: Host) -> None:
    """The schema-level half: every operation names a scope, and nothing is reachable without one."""
    ops = list(matrix_host.operations)
    assert ops
    for op in ops:
        assert isinstance(op.scope, Scope), op.name
        assert not Identity(name="none", scopes=frozenset()).allows(op.scope), op.name
    acting = [op for op in ops if op.confirm]
    assert acting and all(op.scope in (Scope.TRADE, Scope.ADMIN) for op in acting), \
        [op.name for op in acting if op.scope is Scope.READ]


async def test_rest_matrix(matrix_host: Host) -> None:
    ops = matrix_host.operations.for_frontend("rest")
    wrong: list[str] = []
    async with rest_client(matrix_host) as client:
        for op in ops:
            response = await client.post(op.http_path, json=PROBE)
            if response.status_code != 401:
                wrong.append(f"anonymous {op.name}: {response.status_code}")
        for label, roles in ROLE_SETS.items():
            token = hs256(claims("m-" + label.replace(" ", "-"), roles=roles))
            headers = {"Authorization": f"Bearer {token}"}
            for op in ops:
                response = await client.post(op.http_path, json=PROBE, headers=headers)
                expected = 422 if _allowed(roles, op) else 403
                if response.status_code != expected:
                    wrong.append(f"{label} {op.name}: {response.status_code}, expected {expected}")
    assert not wrong, wrong


def _verdict(result: dict[str, object]) -> str:
    text = json.dumps(result.get("content"))
    if not result.get("isError"):
        return "ran"
    if "needs scope" in text:
        return "forbidden"
    return "invalid" if "invalid parameters" in text or "unknown field" in text else f"other: {text[:200]}"


def test_mcp_http_matrix(matrix_host: Host) -> None:
    ops = matrix_host.operations.for_frontend("mcp")
    wrong: list[str] = []
    with TestClient(mcp.build_http_app(matrix_host), base_url="http://127.0.0.1") as client:
        assert mcp_call(client, ops[0].tool_name, PROBE, None).status_code == 401
        for label, roles in ROLE_SETS.items():
            token = hs256(claims("h-" + label.replace(" ", "-"), roles=roles))
            for op in ops:
                got = _verdict(mcp_result(mcp_call(client, op.tool_name, PROBE, token)))
                expected = "invalid" if _allowed(roles, op) else "forbidden"
                if got != expected:
                    wrong.append(f"{label} {op.name}: {got}, expected {expected}")
    assert not wrong, wrong


async def test_mcp_fixed_caller_matrix(matrix_host: Host) -> None:
    """MCP over stdio gives every call one identity (``--scopes``): the same rules hold."""
    ops = matrix_host.operations.for_frontend("mcp")
    wrong: list[str] = []
    for label, roles in ROLE_SETS.items():
        identity = Identity(name=f"stdio-{label}", scopes=scopes_for_roles(roles))
        async with mcp.in_memory_client(matrix_host, identity=identity) as session:
            for op in ops:
                with anyio.fail_after(30):
                    answer = await session.call_tool(op.tool_name, PROBE)
                got = _verdict({"isError": answer.is_error,
                                "content": [c.model_dump(mode="json") for c in answer.content]})
                expected = "invalid" if _allowed(roles, op) else "forbidden"
                if got != expected:
                    wrong.append(f"{label} {op.name}: {got}, expected {expected}")
    assert not wrong, wrong


def test_matrix_covers_the_whole_registry(matrix_host: Host) -> None:
    """Every operation is in at least one frontend of the matrix (nothing escapes it)."""
    covered = {op.name for op in matrix_host.operations.for_frontend("rest")} | \
        {op.name for op in matrix_host.operations.for_frontend("mcp")}
    cli_only = [op.name for op in matrix_host.operations if op.name not in covered]
    assert not cli_only or all(matrix_host.operation(n).frontends == {"cli"} for n in cli_only)
