"""The trading operations through the host, the CLI, MCP and REST: orders on the paper broker against
fixed quotes (a test data provider, so market orders have a price reference and fill), idempotency,
the kill switch from every frontend, scopes, the audit log, rebalancing and execution analytics."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from neural_trader.domain.market import Quote
from neural_trader.domain.orders import BrokerSpec
from neural_trader.frontends import mcp, rest
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host
from neural_trader.market.provider import BaseProvider, Capabilities, ProviderSpec
from neural_trader.ops import Identity, Scope
from neural_trader.testing import CliRunner, HostFactory

D = decimal.Decimal
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
ADMIN = Identity(name="admin", scopes=frozenset({Scope.ADMIN}))
READER = Identity(name="reader", scopes=frozenset({Scope.READ}))


class FixedQuotes(BaseProvider):
    """Observed (not synthetic) quotes the test sets: ``PRICES[symbol] = (bid, ask)``."""

    name = "fixed"
    capabilities = Capabilities(bars=False, quotes=True, cacheable=False)
    PRICES: dict[str, tuple[float, float]] = {}

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        from neural_trader.errors import NtNotFound

        if symbol not in self.PRICES:
            raise NtNotFound(f"no fixed quote for {symbol}")
        bid, ask = self.PRICES[symbol]
        return Quote(symbol=symbol, time=T0, bid=bid, ask=ask, provider=self.name)


class TestPlugin:
    @hookimpl
    def nt_register_data_providers(self, register: Any) -> None:
        register(ProviderSpec(name="fixed", summary="fixed test quotes", capabilities=FixedQuotes.capabilities,
                              create=lambda ctx: FixedQuotes()))

    @hookimpl
    def nt_register_brokers(self, register: Any) -> None:
        def never(host: Any) -> Any:
            raise AssertionError("a live broker must be refused before it is built")

        register(BrokerSpec(name="livefake", summary="moves real money", live=True, create=never))


@pytest.fixture(autouse=True)
def _quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    FixedQuotes.PRICES = {"AAPL": (99.9, 100.1), "MSFT": (199.0, 201.0)}
    monkeypatch.setenv("NT_MARKET_CHAIN", "fixed")
    monkeypatch.delenv("NT_BROKER", raising=False)
    monkeypatch.delenv("NT_ENABLE_LIVE_TRADING", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def nt_host(request: pytest.FixtureRequest, nt_host_factory: HostFactory) -> Host:
    """Every installed plugin plus the fixed quotes, on SQLite and on the real PostgreSQL (nt_cli,
    nt_mcp and nt_rest use this host)."""
    overrides = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    return nt_host_factory(plugins=[TestPlugin()], **overrides)


def buy(coid: str, qty: str = "10", symbol: str = "AAPL", **extra: Any) -> dict[str, Any]:
    return {"client_order_id": coid, "symbol": symbol, "side": "buy", "qty": qty, "confirm": True, **extra}


async def call(host: Host, name: str, params: dict[str, Any] | None = None,
               identity: Identity = ADMIN) -> dict[str, Any]:
    return await host.acall(name, params or {}, identity=identity)


def rest_client(host: Host, identity: Identity = ADMIN) -> httpx.AsyncClient:
    app = rest.build_app(host, authenticate=lambda _header: identity)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


# -- orders through the host -----------------------------------------------------------------------------
async def test_a_market_order_fills_at_the_ask_and_books_the_portfolio(nt_host: Host) -> None:
    order = await call(nt_host, "trade.execute", buy("o-1"))
    assert order["status"] == "filled" and D(order["avg_fill_price"]) == D("100.1")
    assert order["broker"] == "paper" and order["reason_code"] is None

    positions = (await call(nt_host, "positions.list"))["positions"]
    assert [(p["symbol"], D(p["qty"]), D(p["avg_price"])) for p in positions] == [("AAPL", D(10), D("100.1"))]

    # Marks at the quote's mid (100.0): worked by hand.
    status = await call(nt_host, "portfolio.status")
    assert D(status["cash"]) == D(100_000) - D("1001")
    (holding,) = status["holdings"]
    assert D(holding["mark"]) == D("100") and holding["mark_source"] == "quote"
    assert D(holding["market_value"]) == D(1000) and D(holding["unrealized_pnl"]) == D(-1)
    assert D(status["equity"]) == D(99_999)
    assert D(status["gross_exposure"]) == D(status["net_exposure"]) == D(1000)
    assert D(holding["weight"]) == (D(1000) / D(99_999)).quantize(D("0.000001"))

    account = await call(nt_host, "account.get")
    assert D(account["cash"]) == D(account["broker_cash"]) == D(98_999)
    assert account["trading_state"] == "active"

    detail = await call(nt_host, "orders.get", {"client_order_id": "o-1"})
    assert detail["order"] == order and [D(f["price"]) for f in detail["fills"]] == [D("100.1")]


async def test_without_an_observed_quote_a_market_order_is_rejected_and_never_sent(nt_host: Host) -> None:
    order = await call(nt_host, "trade.execute", buy("o-1", symbol="ZZZ"))
    assert order["status"] == "rejected" and order["reason_code"] == "no_price_reference"
    assert order["broker_order_id"] is None


async def test_simulate_says_what_would_happen_and_changes_nothing(nt_host: Host) -> None:
    await call(nt_host, "risk.limits.set", {"max_order_qty": "50"})
    before = await call(nt_host, "audit.verify")
    ok = await call(nt_host, "trade.simulate", {"symbol": "AAPL", "side": "buy", "qty": "10"})
    assert ok["allowed"] and ok["fills_now"] and D(ok["fill_price"]) == D("100.1")
    assert ok["quote_source"] == "market" and D(ok["notional"]) == D("1001.0")
    too_big = await call(nt_host, "trade.simulate", {"symbol": "AAPL", "side": "sell", "qty": "60"})
    assert not too_big["allowed"] and too_big["reason_code"] == "max_order_qty"
    given = await call(nt_host, "trade.simulate", {"symbol": "AAPL", "side": "sell", "qty": "1", "bid": "90",
                                                   "ask": "91"})
    assert given["quote_source"] == "given" and D(given["fill_price"]) == D(90)
    resting = await call(nt_host, "trade.simulate", {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit",
                                                     "limit_price": "95"})
    assert resting["allowed"] and not resting["fills_now"] and resting["fill_price"] is None
    assert (await call(nt_host, "orders.list"))["orders"] == []
    assert (await call(nt_host, "audit.verify"))["records"] == before["records"]


async def test_cancel_replace_and_cancel_all(nt_host: Host) -> None:
    resting = {"type": "limit", "limit_price": "95"}
    await call(nt_host, "trade.execute", buy("o-1", **resting))
    await call(nt_host, "trade.execute", buy("o-2", **resting))
    replaced = await call(nt_host, "orders.replace", {"client_order_id": "o-1", "limit_price": "96", "confirm": True})
    assert replaced["client_order_id"] == "o-1.r1" and D(replaced["limit_price"]) == D(96)
    assert replaced["status"] == "accepted"
    again = await call(nt_host, "orders.replace", {"client_order_id": "o-1", "limit_price": "96", "confirm": True})
    assert again == replaced
    canceled = await call(nt_host, "orders.cancel", {"client_order_id": "o-2", "confirm": True})
    assert canceled["status"] == "canceled"
    rest_of_them = (await call(nt_host, "orders.cancel_all", {"confirm": True}))["orders"]
    assert [o["client_order_id"] for o in rest_of_them] == ["o-1.r1"]
    listed = (await call(nt_host, "orders.list"))["orders"]
    assert {o["client_order_id"]: o["status"] for o in listed} == {"o-1": "canceled", "o-2": "canceled",
                                                                    "o-1.r1": "canceled"}
    assert (await call(nt_host, "orders.list", {"open_only": True}))["orders"] == []


async def test_a_basket_is_sent_whole_or_not_at_all(nt_host: Host) -> None:
    await call(nt_host, "risk.limits.set", {"max_order_qty": "100"})
    basket = [buy("b1.AAPL", "10"), buy("b1.MSFT", "5", symbol="MSFT")]
    for order in basket:
        order.pop("confirm")
    sent = await call(nt_host, "trade.multi", {"orders": basket, "confirm": True})
    assert sent["admitted"] and [o["status"] for o in sent["orders"]] == ["filled", "filled"]
    assert await call(nt_host, "trade.multi", {"orders": basket, "confirm": True}) == sent  # a retry: the same

    bad = [{**basket[0], "client_order_id": "b2.AAPL"}, {**basket[1], "client_order_id": "b2.MSFT", "qty": "500"}]
    refused = await call(nt_host, "trade.multi", {"orders": bad, "confirm": True})
    assert not refused["admitted"]
    assert [(o["status"], o["reason_code"], o["broker_order_id"]) for o in refused["orders"]] == [
        ("rejected", "basket", None), ("rejected", "max_order_qty", None)]
    positions = {p["symbol"]: D(p["qty"]) for p in (await call(nt_host, "positions.list"))["positions"]}
    assert positions == {"AAPL": D(10), "MSFT": D(5)}  # the first basket only


async def test_the_order_rate_counts_the_basket_itself(nt_host: Host) -> None:
    await call(nt_host, "risk.limits.set", {"max_orders_per_minute": 2})
    basket = [{"client_order_id": f"r.{i}", "symbol": "AAPL", "side": "buy", "qty": "1"} for i in range(3)]
    refused = await call(nt_host, "trade.multi", {"orders": basket, "confirm": True})
    assert not refused["admitted"] and refused["orders"][2]["reason_code"] == "order_rate"


async def test_risk_limits_round_trip_and_reject_with_their_code(nt_host: Host) -> None:
    assert (await call(nt_host, "risk.limits.get"))["limits"] == []
    stored = await call(nt_host, "risk.limits.set", {"max_order_notional": "5000", "restricted_symbols": ["msft"]})
    (limits,) = stored["limits"]
    assert D(limits["max_order_notional"]) == D(5000) and limits["restricted_symbols"] == ["MSFT"]
    assert await call(nt_host, "risk.limits.get") == stored
    assert (await call(nt_host, "trade.execute", buy("o-1", "100")))["reason_code"] == "max_order_notional"
    assert (await call(nt_host, "trade.execute", buy("o-2", "1", symbol="MSFT")))["reason_code"] == "restricted_symbol"


async def test_a_live_broker_is_refused_unless_live_trading_is_enabled(
        nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader.errors import NtForbidden

    monkeypatch.setenv("NT_BROKER", "livefake")
    with pytest.raises(NtForbidden, match="NT_ENABLE_LIVE_TRADING=1"):
        await call(nt_host, "trade.execute", buy("o-1"))


# -- rebalancing: worked by hand ------------------------------------------------------------------------
async def test_rebalance_dry_run_computes_the_orders(nt_host: Host) -> None:
    await call(nt_host, "trade.execute", buy("o-1"))  # 10 AAPL at 100.1: cash 98,999
    params = {"targets": {"MSFT": "0.25"}, "prices": {"AAPL": "100", "MSFT": "200"}, "confirm": True}
    plan = await call(nt_host, "portfolio.rebalance", params)
    # equity = 98,999 + 10 x 100 = 99,999; MSFT: 0.25 x 99,999 / 200 = 124.99875 -> 124 shares;
    # AAPL is not a target: sell all 10 (1,000 >= 1% of equity, 999.99). Sells first.
    assert plan["dry_run"] and D(plan["equity"]) == D(99_999)
    assert [(line["symbol"], line["side"], D(line["qty"]), D(line["notional"]), line["order"])
            for line in plan["lines"]] == [("AAPL", "sell", D(10), D(1000), None), ("MSFT", "buy", D(124), D(24_800), None)]
    assert D(plan["lines"][0]["current_weight"]) == D("0.010000")
    assert (await call(nt_host, "orders.list"))["orders"][1:] == []  # nothing sent

    under = await call(nt_host, "portfolio.rebalance", {**params, "threshold": "0.02"})
    assert under["lines"][0]["side"] is None and "threshold" in under["lines"][0]["skipped"]


async def test_rebalance_that_trades_goes_through_the_order_path_once(nt_host: Host) -> None:
    from neural_trader.errors import NtUserError

    params = {"targets": {"AAPL": "0.5"}, "dry_run": False, "confirm": True}
    with pytest.raises(NtUserError, match="rebalance_id"):
        await call(nt_host, "portfolio.rebalance", params)
    done = await call(nt_host, "portfolio.rebalance", {**params, "rebalance_id": "rb-1"})
    (line,) = done["lines"]
    # equity 100,000 at the AAPL mid of 100: 500 shares, bought at the ask.
    assert line["client_order_id"] == "rb-1.AAPL" and D(line["qty"]) == D(500)
    assert line["order"]["status"] == "filled" and D(line["order"]["avg_fill_price"]) == D("100.1")
    again = await call(nt_host, "portfolio.rebalance", {**params, "rebalance_id": "rb-1"})
    assert len((await call(nt_host, "orders.list"))["orders"]) == 1
    assert again["lines"][0]["side"] is None  # now at target (up to the rounding)


# -- execution analytics --------------------------------------------------------------------------------
async def test_execution_analytics_measure_against_the_arrival_quote(nt_host: Host) -> None:
    await call(nt_host, "trade.execute", buy("o-1"))
    await call(nt_host, "trade.execute", buy("o-2", "5", type="limit", limit_price="95"))  # rests
    await call(nt_host, "trade.execute", buy("o-3", symbol="ZZZ"))  # rejected: not counted
    found = await call(nt_host, "execution.analytics")
    assert found["orders"] == 2 and found["filled_orders"] == 1
    assert D(found["fill_ratio"]) == (D(10) / D(15)).quantize(D("0.000001"))
    first, second = found["executions"]
    assert D(first["arrival_price"]) == D("100.1") and D(first["slippage_bps"]) == 0
    assert first["latency_s"] is not None and first["latency_s"] >= 0
    assert second["filled_qty"] == "0" and second["slippage_bps"] is None
    assert D(found["slippage_bps"]) == 0


# -- the audit log -----------------------------------------------------------------------------------------
async def test_audit_verifies_after_trading_and_detects_tampering(nt_host: Host) -> None:
    for i in range(3):
        await call(nt_host, "trade.execute", buy(f"o-{i}"))
    await call(nt_host, "trade.execute", buy("rest", type="limit", limit_price="90"))
    await call(nt_host, "trading.halt", {"reason": "test", "confirm": True})
    verified = await call(nt_host, "audit.verify")
    assert verified["ok"] and verified["records"] >= 10 and verified["problem"] is None
    engine = nt_host.services.storage.engine
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET result = :r WHERE seq = 3"), {"r": '"edited"'})
    tampered = await call(nt_host, "audit.verify")
    assert not tampered["ok"] and tampered["problem"] == "edited" and tampered["first_bad_seq"] == 3


# -- through the frontends --------------------------------------------------------------------------------
async def test_the_same_client_order_id_over_rest_is_one_order_and_another_payload_a_conflict(
        nt_rest: httpx.AsyncClient, nt_host: Host) -> None:
    first = await nt_rest.post("/v1/trade/execute", json=buy("o-1"))
    second = await nt_rest.post("/v1/trade/execute", json=buy("o-1"))
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    other = await nt_rest.post("/v1/trade/execute", json=buy("o-1", "11"))
    assert other.status_code == 409 and "qty" in other.json()["error"]["message"]
    unconfirmed = await nt_rest.post("/v1/trade/execute", json={**buy("o-2"), "confirm": False})
    assert unconfirmed.status_code == 422
    assert len((await call(nt_host, "orders.list"))["orders"]) == 1


async def test_a_read_scope_caller_is_refused_before_anything_runs(nt_host: Host) -> None:
    async with rest_client(nt_host, READER) as client:
        response = await client.post("/v1/trade/execute", json=buy("o-1"))
        assert response.status_code == 403
        assert (await client.post("/v1/trading/halt", json={"confirm": True})).status_code == 403
        assert (await client.get("/v1/orders/list")).status_code == 200
    async with mcp.in_memory_client(nt_host, identity=READER) as session:
        called = await session.call_tool("trade_execute", buy("o-2"))
        assert called.is_error and "scope" in called.content[0].text  # type: ignore[union-attr]
    assert (await call(nt_host, "orders.list"))["orders"] == []
    with nt_host.services.storage.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM paper_orders")).scalar() == 0


async def _halt_cli(cli: CliRunner, name: str, params: dict[str, Any]) -> dict[str, Any]:
    group, verb = name.split(".", 1)
    result = cli.invoke(group, verb.replace("_", "-"), "--params", json.dumps(params), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


async def test_halted_cancels_open_orders_and_refuses_new_ones_from_every_frontend(
        nt_host: Host, nt_cli: CliRunner, nt_mcp: Any, nt_rest: httpx.AsyncClient) -> None:
    async def via_mcp(name: str, params: dict[str, Any]) -> dict[str, Any]:
        called = await nt_mcp.call_tool(name.replace(".", "_"), params)
        assert not called.is_error, called.content
        return called.structured_content  # type: ignore[no-any-return]

    async def via_rest(name: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await nt_rest.post("/v1/" + name.replace(".", "/"), json=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def via_cli(name: str, params: dict[str, Any]) -> dict[str, Any]:
        return await _halt_cli(nt_cli, name, params)

    for frontend, run in (("cli", via_cli), ("mcp", via_mcp), ("rest", via_rest)):
        resting = await run("trade.execute", buy(f"{frontend}-rest", type="limit", limit_price="90"))
        assert resting["status"] == "accepted"
        halted = await run("trading.halt", {"reason": f"halt from {frontend}", "confirm": True})
        assert halted["state"] == "halted"
        assert [(o["client_order_id"], o["status"]) for o in halted["canceled"]] == [(f"{frontend}-rest", "canceled")]
        status = await run("trading.status", {})
        assert status["state"] == "halted" and status["reason"] == f"halt from {frontend}" and status["open_orders"] == 0
        refused = await run("trade.execute", buy(f"{frontend}-new"))
        assert refused["status"] == "rejected" and refused["reason_code"] == "trading_halted"
        assert (await run("trading.resume", {"confirm": True}))["state"] == "active"
        assert (await run("trade.execute", buy(f"{frontend}-after")))["status"] == "filled"


async def test_the_trading_loop_keeps_the_rest_loop_free(nt_host: Host) -> None:
    import threading

    seen: list[str] = []
    trading = nt_host.services.trading
    await trading.call(lambda m: seen.append(threading.current_thread().name))
    assert seen == ["neural_trader.trading"]
