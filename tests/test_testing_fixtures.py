"""The pytest plugin for plugin authors (``neural_trader.testing``): its fixtures, used as an author would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host
from neural_trader.ops import Context, Operation
from neural_trader.testing import CliRunner, HostFactory


@attrs.frozen(kw_only=True)
class _Numbers:
    values: list[int]


@attrs.frozen(kw_only=True)
class _Total:
    total: int


class _AddPlugin:
    """A plugin object registered directly, as ``nt_host_factory(plugins=[...])`` allows."""

    name = "adder"

    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        def add(params: _Numbers, ctx: Context) -> _Total:
            return _Total(total=sum(params.values))

        register(Operation(name="adder.add", summary="Add integers.", params=_Numbers, result=_Total,
                           handler=add, examples=[{"values": [1, 2]}]))


def test_each_host_has_its_own_data_dir_and_ignores_the_shell(
    nt_host_factory: HostFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NT_DATABASE_URL", "postgresql://someone@elsewhere/db")
    monkeypatch.setenv("NT_BLOCK_PLUGINS", "system")
    first, second = nt_host_factory(), nt_host_factory()
    assert first.settings.data_dir != second.settings.data_dir
    assert first.settings.data_dir.is_dir()
    assert first.settings.database_url is None
    assert first.settings.config_file is None
    assert "system.ping" in first.operations


def test_the_factory_takes_plugins_switches_and_settings(nt_host_factory: HostFactory) -> None:
    host = nt_host_factory(plugins=[_AddPlugin()], autoload=False, auth=False)
    assert [op.name for op in host.operations] == ["adder.add"]
    assert host.settings.auth is False
    assert host.call("adder.add", {"values": [2, 3]}) == {"total": 5}

    blocked = nt_host_factory(env={"NT_BLOCK_PLUGINS": "system"})
    assert blocked.plugin_infos["system"].status == "blocked"
    assert "system.ping" not in blocked.operations


class _LifecycleRecorder:
    """Records ``nt_startup``/``nt_shutdown`` calls."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def nt_startup(self, host: Host) -> None:
        self.events.append("startup")

    @hookimpl
    def nt_shutdown(self, host: Host) -> None:
        self.events.append("shutdown")


@pytest.fixture
def recorder() -> Iterator[_LifecycleRecorder]:
    # Set up before nt_host_factory, so torn down after it: by then every host must be shut down.
    plugin = _LifecycleRecorder()
    yield plugin
    assert plugin.events == ["startup", "shutdown"]  # a host never started has nothing to shut down


def test_hosts_are_started_and_closed_after_the_test(recorder: _LifecycleRecorder,
                                                     nt_host_factory: HostFactory) -> None:
    nt_host_factory(plugins=[recorder], autoload=False)
    nt_host_factory(plugins=[recorder], autoload=False, start=False)
    assert recorder.events == ["startup"]


def test_nt_cli_runs_commands_against_nt_host(nt_cli: CliRunner, nt_host: Host) -> None:
    assert nt_cli.host is nt_host
    result = nt_cli.invoke("system", "ping", "--echo", "hello", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["echo"] == "hello"
    result = nt_cli.invoke("system", "ping", "--echo", "x" * 1001, "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "validation_error"


async def test_nt_cli_works_inside_async_tests(nt_cli: CliRunner) -> None:
    result = nt_cli.invoke("system", "ping", "--echo", "async", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["echo"] == "async"


async def test_nt_mcp_is_a_connected_session(nt_mcp: Any) -> None:
    tools = {tool.name for tool in (await nt_mcp.list_tools()).tools}
    assert {"system_ping", "system_info"} <= tools
    result = await nt_mcp.call_tool("system_ping", {"echo": "over mcp"})
    assert not result.is_error
    assert result.structured_content["echo"] == "over mcp"


async def test_nt_rest_is_an_admin_client_on_loopback(nt_rest: Any) -> None:
    assert str(nt_rest.base_url) == "http://127.0.0.1"
    response = await nt_rest.post("/v1/system/ping", json={"echo": "over rest"})
    assert response.status_code == 200, response.text
    assert response.json()["echo"] == "over rest"
    assert "/v1/system/ping" in (await nt_rest.get("/openapi.json")).json()["paths"]


async def test_all_async_fixtures_together(nt_mcp: Any, nt_rest: Any, nt_cli: CliRunner) -> None:
    mcp_result = await nt_mcp.call_tool("system_ping", {"echo": "same"})
    rest_result = (await nt_rest.post("/v1/system/ping", json={"echo": "same"})).json()
    cli_result = json.loads(nt_cli.invoke("system", "ping", "--echo", "same", "--json").stdout)
    assert mcp_result.structured_content == rest_result == cli_result
