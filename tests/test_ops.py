"""The operation pipeline: validation with paths, structuring, scopes, sync/async, progress, cancel."""

from __future__ import annotations

import decimal
import threading
import types

import anyio
import attrs
import pytest

from neural_trader.errors import NtCancelled, NtForbidden, NtNotFound, NtPluginError, NtValidationError
from neural_trader.hookspecs import hookimpl
from neural_trader.host import make_host
from neural_trader.ops import Context, Identity, Operation, OperationRegistry, Scope
from neural_trader.schema import param


@attrs.frozen(kw_only=True)
class Order:
    symbol: str = param(min_len=1)
    qty: decimal.Decimal = param(gt=0)


@attrs.frozen(kw_only=True)
class Basket:
    orders: list[Order] = param(min_len=1)
    note: str = ""


@attrs.frozen(kw_only=True)
class Total:
    qty: decimal.Decimal
    legs: int


def total(params: Basket, ctx: Context) -> Total:
    assert threading.current_thread() is not threading.main_thread()  # sync handlers run in a worker
    for i, _ in enumerate(params.orders):
        ctx.progress(i + 1, len(params.orders), "summing")
    return Total(qty=sum((o.qty for o in params.orders), decimal.Decimal(0)), legs=len(params.orders))


async def atotal(params: Basket, ctx: Context) -> Total:
    return Total(qty=sum((o.qty for o in params.orders), decimal.Decimal(0)), legs=len(params.orders))


def _plugin(*ops: Operation) -> types.SimpleNamespace:
    class Plugin:
        name = "testops"

        @hookimpl
        def nt_register_operations(self, register):  # type: ignore[no-untyped-def]
            for op in ops:
                register(op)

    return Plugin()  # type: ignore[return-value]


def _host(*ops: Operation):  # type: ignore[no-untyped-def]
    return make_host(plugins=[_plugin(*ops)], autoload=False)


SUM = Operation(name="basket.total", summary="Sum a basket.", params=Basket, result=Total, handler=total)
ASUM = Operation(name="basket.atotal", summary="Sum a basket (async).", params=Basket, result=Total, handler=atotal)
BUY = Operation(name="basket.buy", summary="Trade.", params=Basket, result=Total, handler=atotal,
                scope=Scope.TRADE, read_only=False, idempotent=False)


def test_sync_and_async_handlers_give_plain_json() -> None:
    host = _host(SUM, ASUM)
    raw = {"orders": [{"symbol": "A", "qty": "1.1"}, {"symbol": "B", "qty": 2.2}]}
    assert host.call("basket.total", raw) == {"qty": "3.3", "legs": 2}
    assert host.call("basket_atotal", raw) == {"qty": "3.3", "legs": 2}


def test_validation_errors_name_every_bad_field_by_path() -> None:
    host = _host(SUM)
    raw = {"orders": [{"symbol": "A", "qty": "1"}, {"symbol": "B", "qty": "1"},
                      {"symbol": "", "qty": "-1", "side": "buy"}], "colour": "red"}
    with pytest.raises(NtValidationError) as info:
        host.call("basket.total", raw)
    paths = [p["path"] for p in info.value.details]
    assert paths == ["$.colour", "$.orders[2].qty", "$.orders[2].side", "$.orders[2].symbol"]
    assert "@ $.orders[2].qty" in info.value.message
    assert info.value.http_status == 422 and info.value.exit_code == 2


def test_missing_field_and_wrong_container() -> None:
    host = _host(SUM)
    with pytest.raises(NtValidationError) as info:
        host.call("basket.total", {})
    assert info.value.details == [{"path": "$.orders", "message": "is required"}]
    with pytest.raises(NtValidationError, match="must be a JSON object"):
        anyio.run(SUM.call, [1, 2], host.context())


def test_structuring_errors_after_schema_checks_keep_paths() -> None:
    # '1e999' passes the decimal pattern but is not finite: cattrs reports it with its path.
    host = _host(SUM)
    with pytest.raises(NtValidationError) as info:
        host.call("basket.total", {"orders": [{"symbol": "A", "qty": "1e999999999999"}]})
    assert info.value.details[0]["path"].startswith("$.orders")


def test_scope_is_enforced_before_input_is_read() -> None:
    host = _host(BUY)
    reader = Identity(name="agent", scopes=frozenset({Scope.READ}))
    with pytest.raises(NtForbidden, match="needs scope 'trade'"):
        host.call("basket.buy", {"nonsense": True}, identity=reader)
    trader = Identity(name="svc", scopes=frozenset({Scope.TRADE}))
    assert host.call("basket.buy", {"orders": [{"symbol": "A", "qty": 1}]}, identity=trader)["legs"] == 1
    admin = Identity(name="root", scopes=frozenset({Scope.ADMIN}))
    assert admin.allows(Scope.TRADE) and admin.allows(Scope.READ) and not reader.allows(Scope.TRADE)


def test_progress_reaches_the_frontend_callback() -> None:
    host = _host(SUM)
    seen: list[tuple[float, float | None, str | None]] = []
    host.call("basket.total", {"orders": [{"symbol": "A", "qty": 1}, {"symbol": "B", "qty": 1}]},
              on_progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen == [(1, 2, "summing"), (2, 2, "summing")]


def test_cancellation_stops_at_the_next_progress_report() -> None:
    host = _host(SUM)
    ctx = host.context()
    ctx.cancel.cancel()
    with pytest.raises(NtCancelled):
        anyio.run(SUM.call, {"orders": [{"symbol": "A", "qty": 1}]}, ctx)


def test_a_handler_returning_the_wrong_type_is_a_plugin_error() -> None:
    async def wrong(params: Basket, ctx: Context) -> dict:  # type: ignore[type-arg]
        return {"qty": 1}

    host = _host(Operation(name="basket.wrong", summary="x", params=Basket, result=Total, handler=wrong))
    with pytest.raises(NtPluginError, match="returned dict, expected Total"):
        host.call("basket.wrong", {"orders": [{"symbol": "A", "qty": 1}]})


def test_registry_rejects_collisions_naming_both_plugins() -> None:
    registry = OperationRegistry()
    registry.add(SUM, plugin="first")
    with pytest.raises(NtPluginError, match="plugin 'first' and again by plugin 'second'"):
        registry.add(SUM, plugin="second")


def test_unknown_operation_suggests_close_names() -> None:
    host = _host(SUM)
    with pytest.raises(NtNotFound, match=r"did you mean basket\.total"):
        host.operation("basket.totl")


@pytest.mark.parametrize("name", ["ping", "System.ping", "system..ping", "system.ping!"])
def test_operation_names_are_dotted_lowercase(name: str) -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        Operation(name=name, summary="x", params=Basket, result=Total, handler=atotal)


def test_naming_across_frontends() -> None:
    op = Operation(name="market.bars_daily", summary="x", params=Basket, result=Total, handler=atotal)
    assert (op.group, op.verb, op.tool_name, op.http_path) == (
        "market", "bars-daily", "market_bars_daily", "/v1/market/bars_daily")
