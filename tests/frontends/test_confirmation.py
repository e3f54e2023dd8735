"""Operations that act for real need ``confirm: true`` on every frontend; over MCP the person is asked
(elicitation) when the client can be, and a caller without the scope is refused before anyone is asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import mcp_types as types
import pytest

from neural_trader.errors import NtConfirmationRequired, NtValidationError
from neural_trader.frontends import rest
from neural_trader.frontends.mcp import in_memory_client
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.ops import CONFIRM_FIELD, Context, Identity, Operation, Scope
from neural_trader.schema import param
from neural_trader.settings import load_settings
from neural_trader.testing import CliRunner

CALLS: list[str] = []


@attrs.frozen(kw_only=True)
class ActParams:
    symbol: str = param(default="AAPL", max_len=10)


@attrs.frozen(kw_only=True)
class ActResult:
    done: str


def act(params: ActParams, ctx: Context) -> ActResult:
    CALLS.append(params.symbol)
    return ActResult(done=params.symbol)


class ActPlugin:
    name = "confirm_test"

    @hookimpl
    def nt_register_operations(self, register: Any) -> None:
        register(Operation(name="test.act", summary="Act for real.", params=ActParams, result=ActResult,
                           handler=act, scope=Scope.TRADE, read_only=False, destructive=True, confirm=True))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    CALLS.clear()
    with make_host(settings=load_settings(env={}, data_dir=tmp_path), plugins=[ActPlugin()], strict=True) as h:
        yield h


def test_the_schema_gains_a_confirm_flag_and_nothing_runs_without_it(host: Host) -> None:
    op = host.operation("test.act")
    assert op.input_schema["properties"][CONFIRM_FIELD] == {
        "type": "boolean", "default": False, "description": op.input_schema["properties"][CONFIRM_FIELD]["description"]}
    with pytest.raises(NtConfirmationRequired, match="pass confirm: true"):
        host.call("test.act", {"symbol": "MSFT"})
    with pytest.raises(NtConfirmationRequired):
        host.call("test.act", {"symbol": "MSFT", "confirm": False})
    with pytest.raises(NtValidationError, match="expected true or false"):
        host.call("test.act", {"symbol": "MSFT", "confirm": "yes"})
    assert CALLS == []
    assert host.call("test.act", {"symbol": "MSFT", "confirm": True}) == {"done": "MSFT"}
    assert CALLS == ["MSFT"]


def test_an_operation_cannot_bring_its_own_confirm_field() -> None:
    @attrs.frozen(kw_only=True)
    class Own:
        confirm: bool = False

    op = Operation(name="test.own", summary="x", params=Own, result=ActResult, handler=act, confirm=True)
    with pytest.raises(TypeError, match="adds that parameter itself"):
        _ = op.input_schema


async def test_rest_needs_confirm_true(host: Host) -> None:
    app = rest.build_app(host, authenticate=lambda _h: Identity(name="t", scopes=frozenset({Scope.TRADE})))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        refused = await c.post("/v1/test/act", json={"symbol": "A"})
        assert refused.status_code == 422 and refused.json()["error"]["type"] == "confirmation_required"
        assert (await c.post("/v1/test/act", json={"symbol": "A", "confirm": True})).json() == {"done": "A"}
    assert CALLS == ["A"]


def test_cli_needs_the_confirm_flag(host: Host) -> None:
    cli = CliRunner(host)
    refused = cli.invoke("test", "act", "--symbol", "B")
    assert refused.exit_code == 2 and "--confirm" in refused.output and CALLS == []
    done = cli.invoke("test", "act", "--symbol", "B", "--confirm", "--json")
    assert done.exit_code == 0, done.output
    assert CALLS == ["B"]


def _answering(action: str, confirm: Any = True, asked: list[str] | None = None) -> Any:
    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        if asked is not None:
            asked.append(params.message)
        content = {"confirm": confirm} if action == "accept" else None
        return types.ElicitResult(action=action, content=content)  # type: ignore[arg-type]
    return callback


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_mcp_asks_the_person_and_runs_only_on_yes(host: Host) -> None:
    asked: list[str] = []
    async with in_memory_client(host, elicitation_callback=_answering("accept", asked=asked)) as session:
        answer = await session.call_tool("test_act", {"symbol": "C"})
    assert not answer.is_error and CALLS == ["C"]
    assert len(asked) == 1 and "test.act" in asked[0] and '"C"' in asked[0]

    for declined in (_answering("decline"), _answering("cancel"), _answering("accept", confirm=False)):
        async with in_memory_client(host, elicitation_callback=declined) as session:
            answer = await session.call_tool("test_act", {"symbol": "D"})
        assert answer.is_error and "declined" in _text(answer)
    assert CALLS == ["C"]


async def test_mcp_without_elicitation_needs_confirm_in_the_arguments(host: Host) -> None:
    async with in_memory_client(host) as session:
        refused = await session.call_tool("test_act", {"symbol": "E"})
        done = await session.call_tool("test_act", {"symbol": "E", "confirm": True})
    assert refused.is_error and "confirm: true" in _text(refused)
    assert not done.is_error and CALLS == ["E"]


async def test_a_reader_is_refused_before_anyone_is_asked(host: Host) -> None:
    asked: list[str] = []
    reader = Identity(name="agent", scopes=frozenset({Scope.READ}))
    async with in_memory_client(host, identity=reader,
                                elicitation_callback=_answering("accept", asked=asked)) as session:
        answer = await session.call_tool("test_act", {"symbol": "F", "confirm": True})
    assert answer.is_error and "needs scope 'trade'" in _text(answer)
    assert asked == [] and CALLS == []


@attrs.frozen(kw_only=True)
class PlanParams:
    dry_run: bool = param(default=True, description="only say what would happen")


def plan(params: PlanParams, ctx: Context) -> ActResult:
    CALLS.append("dry" if params.dry_run else "real")
    return ActResult(done="dry" if params.dry_run else "real")


def test_a_dry_run_needs_no_confirmation_but_the_real_thing_does(tmp_path: Path) -> None:
    class PlanPlugin:
        name = "plan_test"

        @hookimpl
        def nt_register_operations(self, register: Any) -> None:
            register(Operation(name="test.plan", summary="Plan, then maybe act.", params=PlanParams,
                               result=ActResult, handler=plan, scope=Scope.TRADE, read_only=False,
                               confirm=True, confirm_unless="dry_run"))

    CALLS.clear()
    with make_host(settings=load_settings(env={}, data_dir=tmp_path), plugins=[PlanPlugin()], strict=True) as h:
        assert h.call("test.plan", {}) == {"done": "dry"}
        assert h.call("test.plan", {"dry_run": True}) == {"done": "dry"}
        with pytest.raises(NtConfirmationRequired):
            h.call("test.plan", {"dry_run": False})
        assert h.call("test.plan", {"dry_run": False, "confirm": True}) == {"done": "real"}
    assert CALLS == ["dry", "dry", "real"]
    with pytest.raises(TypeError, match="boolean parameter"):
        Operation(name="test.bad", summary="x", params=ActParams, result=ActResult, handler=act, confirm=True,
                  confirm_unless="symbol")
