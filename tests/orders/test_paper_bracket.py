"""Bracket orders in the paper broker: the entry fills, its fill opens a take-profit limit and a
stop-loss stop on the other side (each its own order under ``<entry>.tp`` / ``<entry>.sl``), one
cancels the other, and the order manager stores the legs, books their fills and reconciles them as
ours. Every price and amount below is worked by hand."""

from __future__ import annotations

import decimal

import pytest
from sqlmodel import select

from neural_trader.domain.orders import OrderRequest, OrderStatus, bracket_leg_ids
from neural_trader.errors import NtUserError
from neural_trader.services.orders import OrderManager, PriceRef
from neural_trader.services.tables_orders import OrderRow
from neural_trader_plugins.brokers.paper import MarketTick, PaperBroker

from .conftest import T0, Clock, fixed_quotes

D = decimal.Decimal
S = OrderStatus


def req(coid: str, side: str = "buy", qty: str = "10", **kw: object) -> OrderRequest:
    return OrderRequest(client_order_id=coid, symbol="AAPL", side=side, qty=qty, **kw)  # type: ignore[arg-type]


def bracket(coid: str, side: str = "buy", **kw: object) -> OrderRequest:
    if side == "buy":
        kw = {"take_profit": "110", "stop_loss": "95", **kw}
    else:
        kw = {"take_profit": "90", "stop_loss": "105", **kw}
    return req(coid, side=side, **kw)


def bar(open: str, high: str, low: str, close: str) -> MarketTick:
    return MarketTick.from_bar("AAPL", T0, D(open), D(high), D(low), D(close))


def paper(storage, **kw) -> PaperBroker:  # type: ignore[no-untyped-def]
    kw.setdefault("quotes", fixed_quotes(AAPL=("99.90", "100.10")))
    return PaperBroker(storage, clock=Clock(), initial_cash=D(10_000), **kw)


async def traded(make_manager, broker: PaperBroker) -> OrderManager:  # type: ignore[no-untyped-def]
    manager = make_manager(broker, initial_cash=D(10_000))
    report = await manager.start()
    assert report.ok, report
    return manager


async def show(manager: OrderManager, broker: PaperBroker, *ticks: MarketTick) -> dict[str, S]:
    """Show the broker ``ticks`` and record what changed, as the live runner does."""
    changed = await broker.process_market(list(ticks))
    for answer in changed:
        manager.record(answer, actor="broker:paper")
    return {a.client_order_id: a.status for a in changed}


def statuses(manager: OrderManager) -> dict[str, S]:
    return {o.client_order_id: o.status for o in manager.list_orders()}


def test_leg_ids_derive_from_the_entry_and_stay_within_128_characters() -> None:
    assert bracket_leg_ids("b1") == ("b1.tp", "b1.sl")
    long = "x" * 128
    tp, sl = bracket_leg_ids(long)
    assert len(tp) == len(sl) == 127 and tp.endswith(".tp") and sl.endswith(".sl")
    assert bracket_leg_ids("x" * 127 + "y") != (tp, sl)  # the hash keeps two long ids apart
    req(tp), req(sl)  # valid client order ids


async def test_a_buy_bracket_fills_then_the_take_profit_fills_and_cancels_the_stop(make_manager, storage) -> None:
    broker = paper(storage, commission_per_share=D("0.01"))
    manager = await traded(make_manager, broker)
    entry = await manager.submit(bracket("b1"), actor="alice")
    assert entry.status is S.FILLED and entry.avg_fill_price == D("100.10") and entry.legs == ("b1.tp", "b1.sl")
    tp, sl = manager.get("b1.tp"), manager.get("b1.sl")
    assert (tp.request.side.value, tp.request.type.value, tp.request.limit_price, tp.request.qty) == \
        ("sell", "limit", D(110), D(10))
    assert (sl.request.side.value, sl.request.type.value, sl.request.stop_price) == ("sell", "stop", D(95))
    assert tp.status is sl.status is S.ACCEPTED and tp.parent == sl.parent == "b1"
    assert statuses(manager) == {"b1": S.FILLED, "b1.tp": S.ACCEPTED, "b1.sl": S.ACCEPTED}
    # A bar inside both: nothing. A bar up through 110 (opening below it): the limit fills at 110.
    assert await show(manager, broker, bar("101", "105", "99", "104")) == {}
    assert await show(manager, broker, bar("104", "112", "103", "111")) == {"b1.tp": S.FILLED, "b1.sl": S.CANCELED}
    assert manager.get("b1.tp").avg_fill_price == D(110)
    assert "b1.tp filled" in (manager.get("b1.sl").reason or "")
    assert manager.positions()[0].qty == 0
    assert manager.positions()[0].realized_pnl == D("99.0")  # (110 - 100.10) x 10
    # 10,000 - 1,001.00 - 0.10 + 1,100.00 - 0.10
    assert manager.cash() == (await broker.account()).cash == D("10098.80")
    # A later bar through the stop finds nothing working.
    assert await show(manager, broker, bar("96", "97", "80", "81")) == {}
    assert [(f.client_order_id, f.qty) for f in manager.fills()] == [("b1", D(10)), ("b1.tp", D(10))]


async def test_a_buy_bracket_stops_out_and_a_gap_down_fills_the_stop_at_the_open(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1"), actor="t")
    assert await show(manager, broker, bar("97", "98", "94", "96")) == {"b1.sl": S.FILLED, "b1.tp": S.CANCELED}
    assert manager.get("b1.sl").avg_fill_price == D(95)  # the stop, the bar opening above it
    await manager.submit(bracket("b2"), actor="t")
    # Gap down: the bar opens at 90, below the 95 stop: the stop fills at the open.
    assert await show(manager, broker, bar("90", "92", "88", "91")) == {"b2.sl": S.FILLED, "b2.tp": S.CANCELED}
    assert manager.get("b2.sl").avg_fill_price == D(90)
    assert manager.positions()[0].qty == 0
    # 10,000 - 1,001 + 950 - 1,001 + 900
    assert manager.cash() == (await broker.account()).cash == D("9848.0")


async def test_a_bar_reaching_both_legs_stops_out_unless_it_opens_through_the_take_profit(storage) -> None:
    broker = paper(storage)
    await broker.submit(bracket("b1"))
    changed = {a.client_order_id: (a.status, a.avg_fill_price) for a in
               await broker.process_market([bar("100", "111", "94", "100")])}
    assert changed == {"b1.sl": (S.FILLED, D(95)), "b1.tp": (S.CANCELED, None)}
    await broker.submit(bracket("b2"))
    changed = {a.client_order_id: (a.status, a.avg_fill_price) for a in
               await broker.process_market([bar("112", "113", "94", "100")])}
    assert changed == {"b2.tp": (S.FILLED, D(112)), "b2.sl": (S.CANCELED, None)}


async def test_a_sell_bracket_covers_at_the_take_profit_and_a_stop_limit_leg(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    entry = await manager.submit(bracket("s1", side="sell"), actor="t")
    assert entry.status is S.FILLED and entry.avg_fill_price == D("99.90")
    tp = manager.get("s1.tp")
    assert (tp.request.side.value, tp.request.limit_price) == ("buy", D(90))
    assert manager.positions()[0].qty == D(-10)
    assert await show(manager, broker, bar("95", "96", "89", "92")) == {"s1.tp": S.FILLED, "s1.sl": S.CANCELED}
    assert manager.get("s1.tp").avg_fill_price == D(90)
    assert manager.positions()[0].qty == 0 and manager.positions()[0].realized_pnl == D("99.0")
    # With stop_loss_limit the stop becomes a buy limit at 106 once the ask reaches 105.
    await manager.submit(bracket("s2", side="sell", stop_loss_limit="106"), actor="t")
    sl = manager.get("s2.sl")
    assert (sl.request.type.value, sl.request.stop_price, sl.request.limit_price) == ("stop_limit", D(105), D(106))
    assert await show(manager, broker, bar("104", "105.5", "103", "105")) == {"s2.sl": S.FILLED, "s2.tp": S.CANCELED}
    assert manager.get("s2.sl").avg_fill_price == D(105)
    # 10,000 + 999 - 900 + 999 - 1,050
    assert manager.cash() == (await broker.account()).cash == D("10048.0")


async def test_a_limit_entry_opens_its_legs_when_it_fills_later(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    entry = await manager.submit(bracket("b1", type="limit", limit_price="99"), actor="t")
    assert entry.status is S.ACCEPTED and statuses(manager) == {"b1": S.ACCEPTED}
    # The bar fills the entry at 99; the legs see the prices after it (this bar's 94 is not a stop).
    assert await show(manager, broker, bar("100", "101", "94", "98")) == {"b1": S.FILLED}
    assert statuses(manager) == {"b1": S.FILLED, "b1.tp": S.ACCEPTED, "b1.sl": S.ACCEPTED}
    assert await show(manager, broker, bar("98", "99", "94", "95")) == {"b1.sl": S.FILLED, "b1.tp": S.CANCELED}
    assert manager.cash() == D(10_000) - D(990) + D(950)


async def test_cancelling_the_entry_before_it_fills_leaves_no_legs_and_a_leg_cancels_alone(make_manager,
                                                                                          storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1", type="limit", limit_price="90"), actor="t")
    assert (await manager.cancel("b1", actor="t")).status is S.CANCELED
    assert await show(manager, broker, bar("89", "90", "80", "85")) == {}
    assert statuses(manager) == {"b1": S.CANCELED} and (await broker.open_orders()) == []
    # After the entry filled, cancelling the take profit leaves the stop loss working.
    await manager.submit(bracket("b2"), actor="t")
    assert (await manager.cancel("b2.tp", actor="t")).status is S.CANCELED
    assert manager.get("b2.sl").status is S.ACCEPTED
    assert await show(manager, broker, bar("112", "113", "111", "112")) == {}
    assert await show(manager, broker, bar("96", "97", "93", "94")) == {"b2.sl": S.FILLED}
    assert manager.positions()[0].qty == 0


async def test_leg_ids_cannot_be_taken_by_other_orders(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(req("x.tp", type="limit", limit_price="50"), actor="t")
    refused = await manager.submit(bracket("x"), actor="t")
    assert refused.status is S.REJECTED and "x.tp" in (refused.reason or "")
    await manager.submit(bracket("y", type="limit", limit_price="50"), actor="t")
    refused = await manager.submit(req("y.sl", type="limit", limit_price="50"), actor="t")
    assert refused.status is S.REJECTED and "exit leg" in (refused.reason or "")
    with pytest.raises(NtUserError):
        await broker.submit(req("y.sl", type="limit", limit_price="50"))


async def test_a_restart_keeps_the_legs_working_and_reconciles_them_as_ours(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1"), actor="alice")
    await manager.submit(bracket("b2", type="limit", limit_price="99"), actor="alice")
    # Down: the limit entry fills on a bar nobody records; then a new broker and manager start.
    await broker.process_market([bar("100", "101", "98.5", "99.5")])
    broker2 = paper(storage)
    restarted = await traded(make_manager, broker2)
    assert not restarted.last_reconcile.adopted  # type: ignore[union-attr]
    kinds = {(d.kind, d.target) for d in restarted.last_reconcile.discrepancies}  # type: ignore[union-attr]
    assert {("bracket_leg", "b2.tp"), ("bracket_leg", "b2.sl")} <= kinds
    with restarted.storage.session() as session:
        owners = {r.client_order_id: (r.owner, r.adopted) for r in session.exec(select(OrderRow)).all()}
    assert owners["b2.tp"] == owners["b1.sl"] == ("alice", False)
    assert {o.client_order_id for o in await broker2.open_orders()} == {"b1.tp", "b1.sl", "b2.tp", "b2.sl"}
    assert await show(restarted, broker2, bar("111", "112", "109", "111")) == {
        "b1.tp": S.FILLED, "b1.sl": S.CANCELED, "b2.tp": S.FILLED, "b2.sl": S.CANCELED}
    assert restarted.positions()[0].qty == 0
    # 10,000 - 1,001 - 990 + 1,110 + 1,110 (both take profits fill at the 111 open)
    assert restarted.cash() == (await broker2.account()).cash == D("10229.0")
    assert (await restarted.reconcile()).ok


async def test_legs_filled_while_nobody_listened_are_booked_by_reconciliation(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1", type="limit", limit_price="99"), actor="t")
    await broker.process_market([bar("100", "101", "98.5", "99.5")])  # entry fills, unrecorded
    await broker.process_market([bar("96", "97", "93", "94")])  # the stop fills at 95 (the bar opens above it)
    report = await manager.reconcile()
    assert report.ok, report
    assert statuses(manager) == {"b1": S.FILLED, "b1.tp": S.CANCELED, "b1.sl": S.FILLED}
    assert manager.get("b1.sl").avg_fill_price == D(95)
    assert manager.cash() == D(10_000) - D(990) + D(950)


async def test_a_quote_tick_triggers_legs_like_limits_and_stops(storage) -> None:
    broker = paper(storage)
    entry = await broker.submit(bracket("b1"))
    assert [leg.client_order_id for leg in entry.legs] == ["b1.tp", "b1.sl"]
    assert {leg.parent for leg in entry.legs} == {"b1"}
    tick = MarketTick.from_quote("AAPL", T0, PriceRef(bid=D("110.0"), ask=D("110.2")))
    (tp, sl) = sorted(await broker.process_market([tick]), key=lambda a: a.client_order_id, reverse=True)
    assert (tp.client_order_id, tp.status, tp.avg_fill_price) == ("b1.tp", S.FILLED, D(110))
    assert (sl.client_order_id, sl.status) == ("b1.sl", S.CANCELED)
    assert await broker.positions() == []  # flat
    assert (await broker.account()).cash == D(10_000) - D("1001.0") + D(1100)


# -- through the operations, on REST -------------------------------------------------------------------
@pytest.fixture
def trading_host(monkeypatch: pytest.MonkeyPatch, nt_host_factory):  # type: ignore[no-untyped-def]
    from .test_trading_ops import FixedQuotes, TestPlugin

    monkeypatch.setattr(FixedQuotes, "PRICES", {"AAPL": (99.9, 100.1)})
    monkeypatch.setenv("NT_MARKET_CHAIN", "fixed")
    monkeypatch.delenv("NT_BROKER", raising=False)
    monkeypatch.delenv("NT_ENABLE_LIVE_TRADING", raising=False)
    return nt_host_factory(plugins=[TestPlugin()])


async def test_trade_execute_over_rest_places_a_bracket_whose_legs_its_owner_sees(trading_host) -> None:  # type: ignore[no-untyped-def]
    from neural_trader.ops import Identity, Scope

    from .test_trading_ops import rest_client

    alice = Identity(name="alice", scopes=frozenset({Scope.TRADE}))
    bob = Identity(name="bob", scopes=frozenset({Scope.TRADE}))
    body = {"client_order_id": "br-1", "symbol": "AAPL", "side": "buy", "qty": "10", "take_profit": "110",
            "stop_loss": "95", "confirm": True}
    async with rest_client(trading_host, alice) as client:
        placed = await client.post("/v1/trade/execute", json=body)
        assert placed.status_code == 200, placed.text
        assert placed.json()["status"] == "filled" and D(placed.json()["avg_fill_price"]) == D("100.1")
        again = await client.post("/v1/trade/execute", json=body)
        assert again.json() == placed.json()  # idempotent: no second entry, no second pair of legs
        listed = (await client.get("/v1/orders/list")).json()["orders"]
        assert [(o["client_order_id"], o["side"], o["type"], o["status"]) for o in listed] == [
            ("br-1", "buy", "market", "filled"), ("br-1.tp", "sell", "limit", "accepted"),
            ("br-1.sl", "sell", "stop", "accepted")]
        positions = (await client.get("/v1/positions/list")).json()["positions"]
        assert [(p["symbol"], D(p["qty"])) for p in positions] == [("AAPL", D(10))]
    async with rest_client(trading_host, bob) as client:
        assert (await client.get("/v1/orders/list")).json()["orders"] == []
    async with rest_client(trading_host, alice) as client:
        cancelled = await client.post("/v1/orders/cancel", json={"client_order_id": "br-1.sl", "confirm": True})
        assert cancelled.status_code == 200, cancelled.text
        listed = {o["client_order_id"]: o["status"] for o in (await client.get("/v1/orders/list")).json()["orders"]}
        assert listed == {"br-1": "filled", "br-1.tp": "accepted", "br-1.sl": "canceled"}


async def test_reconciliation_books_the_legs_of_an_entry_whose_fill_came_without_them(make_manager, storage) -> None:
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1", type="limit", limit_price="99"), actor="t")
    (filled,) = await broker.process_market([bar("100", "101", "98.5", "99.5")])
    (fill,) = filled.fills
    assert manager.apply_fill(fill, actor="broker:paper")  # a pushed fill: the entry filled, no legs seen
    assert statuses(manager) == {"b1": S.FILLED}
    await broker.process_market([bar("112", "113", "111", "112")])  # the take profit fills at the open
    report = await manager.reconcile()
    assert report.ok, report
    assert statuses(manager) == {"b1": S.FILLED, "b1.tp": S.FILLED, "b1.sl": S.CANCELED}
    assert manager.positions()[0].qty == 0 and manager.cash() == D(10_000) - D(990) + D(1120)


async def test_legs_stored_before_orders_legs_existed_are_named_after_one_reconciliation(make_manager,
                                                                                         storage) -> None:
    """A database from before migration 0007 holds the legs but not the entry's list of them: one
    reconciliation fills it in, and the next one has no leg left to look up."""
    broker = paper(storage)
    manager = await traded(make_manager, broker)
    await manager.submit(bracket("b1"), actor="alice")
    with storage.session(write=True) as session:
        entry = session.exec(select(OrderRow).where(OrderRow.client_order_id == "b1")).one()
        assert entry.legs == ["b1.tp", "b1.sl"]
        entry.legs = None
        session.add(entry)
    assert manager._unseen_legs() == ["b1"]
    assert (await manager.reconcile()).ok
    assert manager._unseen_legs() == []
    assert manager.get("b1").stored_legs == ("b1.tp", "b1.sl")
    assert statuses(manager) == {"b1": S.FILLED, "b1.tp": S.ACCEPTED, "b1.sl": S.ACCEPTED}
