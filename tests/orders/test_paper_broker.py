"""The paper broker: market fills at the quote's ask / bid with slippage and commission, limit, stop,
stop-limit and trailing stops on later quotes and bars, a book that survives a new instance, and the
order manager trading through it (plus start-up reconciliation, reliability test 4)."""

from __future__ import annotations

import decimal

import pytest

from neural_trader.domain.orders import OrderRequest, OrderStatus
from neural_trader.errors import NtUnavailable
from neural_trader.services.orders import PriceRef
from neural_trader_plugins.brokers.paper import MarketTick, PaperBroker

from .conftest import T0, Clock, fixed_quotes

D = decimal.Decimal


def req(coid: str, side: str = "buy", qty: str = "10", **kw: object) -> OrderRequest:
    return OrderRequest(client_order_id=coid, symbol="AAPL", side=side, qty=qty, **kw)  # type: ignore[arg-type]


def quote(bid: str, ask: str) -> MarketTick:
    return MarketTick.from_quote("AAPL", T0, PriceRef(bid=D(bid), ask=D(ask)))


def paper(storage, **kw) -> PaperBroker:  # type: ignore[no-untyped-def]
    kw.setdefault("quotes", fixed_quotes(AAPL=("99.90", "100.10")))
    return PaperBroker(storage, clock=Clock(), initial_cash=D(10_000), **kw)


async def test_a_market_buy_fills_at_the_ask_plus_slippage_with_commission(storage) -> None:
    broker = paper(storage, slippage_bps=D(10), commission_per_share=D("0.005"), commission_min=D(1))
    answer = await broker.submit(req("m1"))
    # 100.10 x (1 + 10 / 10,000) = 100.2001, rounded up to 0.0001 -> 100.2001
    assert answer.status is OrderStatus.FILLED and answer.avg_fill_price == D("100.2001")
    (fill,) = answer.fills
    assert fill.commission == D(1)  # 10 x 0.005 = 0.05 < the 1.00 minimum
    sell = await broker.submit(req("m2", side="sell", qty="400"))
    # 99.90 x 0.999 = 99.8001; commission 400 x 0.005 = 2.00
    assert sell.avg_fill_price == D("99.8001") and sell.fills[0].commission == D(2)
    (position,) = await broker.positions()
    assert position.qty == D(-390)
    account = await broker.account()
    assert account.cash == D(10_000) - D("1002.001") - 1 + D("39920.04") - 2


async def test_the_same_client_order_id_twice_is_one_order(storage) -> None:
    broker = paper(storage)
    first = await broker.submit(req("d"))
    second = await broker.submit(req("d"))
    assert first == second and len(await broker.positions()) == 1 and (await broker.positions())[0].qty == 10


async def test_limit_stop_and_stop_limit_trigger_on_later_quotes(storage) -> None:
    broker = paper(storage)
    limit = await broker.submit(req("l", type="limit", limit_price="99"))
    stop = await broker.submit(req("s", side="sell", type="stop", stop_price="98"))
    stop_limit = await broker.submit(req("sl", type="stop_limit", stop_price="101", limit_price="101.5"))
    assert {limit.status, stop.status, stop_limit.status} == {OrderStatus.ACCEPTED}
    assert await broker.process_market([quote("99.5", "99.6")]) == []
    changed = {b.client_order_id: b for b in await broker.process_market([quote("98.9", "99.0")])}
    assert changed["l"].avg_fill_price == D("99.0") and "s" not in changed
    changed = {b.client_order_id: b for b in await broker.process_market([quote("97.5", "97.6")])}
    assert changed["s"].avg_fill_price == D("97.5")  # the bid, once through the stop
    # The ask jumps through the stop to 102: triggered, but above the 101.5 limit: still working.
    assert await broker.process_market([quote("101.9", "102")]) == []
    changed = {b.client_order_id: b for b in await broker.process_market([quote("101.3", "101.4")])}
    assert changed["sl"].avg_fill_price == D("101.4")


async def test_bars_fill_limits_and_stops_at_the_open_when_they_gap(storage) -> None:
    broker = paper(storage, quotes=None)
    await broker.submit(req("l", type="limit", limit_price="99"))
    await broker.submit(req("s", type="stop", stop_price="105"))
    await broker.submit(req("m"))  # no quote: waits for the next price
    bar = MarketTick.from_bar("AAPL", T0, open=98, high=107, low=97, close=106)
    changed = {b.client_order_id: b.avg_fill_price for b in await broker.process_market([bar])}
    assert changed == {"l": D(98), "s": D(105), "m": D(98)}


async def test_a_trailing_stop_follows_the_best_bid_and_triggers(storage) -> None:
    broker = paper(storage)
    await broker.submit(req("t", side="sell", type="trailing_stop", trail_price="2"))
    for bid in ("100", "103", "102"):
        assert await broker.process_market([quote(bid, str(D(bid) + D("0.1")))]) == []
    # best bid 103 -> stop 101
    (filled,) = await broker.process_market([quote("100.9", "101")])
    assert filled.avg_fill_price == D("100.9")
    pct = await broker.submit(req("p", side="sell", type="trailing_stop", trail_percent="10"))
    assert pct.status is OrderStatus.ACCEPTED
    bars = [MarketTick.from_bar("AAPL", T0, 100, 120, 99, 118), MarketTick.from_bar("AAPL", T0, 110, 111, 107, 108)]
    (filled,) = await broker.process_market(bars)
    assert filled.avg_fill_price == D(108)  # 120 x 0.9, the open 110 above it


async def test_the_book_survives_a_new_instance_and_replays_the_same(storage) -> None:
    await paper(storage).submit(req("l", type="limit", limit_price="99"))
    again = paper(storage)
    (working,) = await again.open_orders()
    assert working.client_order_id == "l"
    (filled,) = await again.process_market([quote("98", "98.5")])
    assert filled.avg_fill_price == D("98.5")


async def test_an_ioc_limit_that_cannot_fill_at_once_is_cancelled(storage) -> None:
    answer = await paper(storage).submit(req("i", type="limit", limit_price="99", time_in_force="ioc"))
    assert answer.status is OrderStatus.CANCELED


async def test_the_order_manager_trades_through_the_paper_broker(make_manager, storage) -> None:
    broker = paper(storage)
    manager = make_manager(broker, initial_cash=D(10_000))
    await manager.start()
    assert (await manager.submit(req("a"), actor="t")).avg_fill_price == D("100.10")
    await manager.submit(req("b", side="sell", type="limit", limit_price="101"), actor="t")
    for answer in await broker.process_market([quote("101", "101.1")]):
        manager.record(answer, actor="broker:paper")
    assert manager.get("b").status is OrderStatus.FILLED
    assert manager.positions()[0].realized_pnl == D("9.0")  # (101 - 100.10) x 10
    assert manager.cash() == (await broker.account()).cash == D(10_000) - D("1001.0") + D("1010")


async def test_start_up_reconciliation_applies_missed_fills_and_adopts_an_outside_order(make_manager, storage) -> None:
    broker = paper(storage)
    manager = make_manager(broker, initial_cash=D(10_000))
    await manager.start()
    await manager.submit(req("ours", type="limit", limit_price="99"), actor="t")
    await manager.submit(req("ours-2", type="limit", limit_price="90"), actor="t")
    # While we were down: our first limit filled, the second was cancelled at the broker, and someone
    # placed an order at the broker directly.
    await broker.process_market([quote("98.8", "98.9")])
    await broker.cancel("ours-2")
    await broker.submit(req("outside", side="sell", qty="1", type="limit", limit_price="150"))
    restarted = make_manager(broker, initial_cash=D(10_000))
    with pytest.raises(NtUnavailable, match="reconciliation"):
        await restarted.submit(req("early"), actor="t")
    report = await restarted.start()
    assert report.ok, report
    assert report.adopted == ("outside",)
    kinds = {(d.kind, d.target) for d in report.discrepancies}
    assert {("outside_order", "outside"), ("order", "ours"), ("order", "ours-2")} <= kinds
    assert restarted.get("ours").status is OrderStatus.FILLED and restarted.get("ours").avg_fill_price == D("98.9")
    assert restarted.get("ours-2").status is OrderStatus.CANCELED
    assert restarted.get("outside").status is OrderStatus.ACCEPTED
    assert {p.symbol: p.qty for p in restarted.positions()} == {"AAPL": D(10)}
    assert restarted.cash() == D(10_000) - D("989.0")
    assert (await restarted.submit(req("after", type="limit", limit_price="50"), actor="t")).status \
        is OrderStatus.ACCEPTED


async def test_a_position_the_broker_holds_from_an_unseen_fill_fails_reconciliation(make_manager, storage) -> None:
    broker = paper(storage)
    await broker.submit(req("outside-filled", qty="3"))  # filled at once: never an open order we could adopt
    manager = make_manager(broker, initial_cash=D(10_000))
    report = await manager.start()
    assert not report.ok and "position AAPL: we hold 0, the broker 3" in (report.error or "")
    with pytest.raises(NtUnavailable, match="reconciliation"):
        await manager.submit(req("x", type="limit", limit_price="50"), actor="t")


def test_the_paper_broker_is_registered_through_the_hook(nt_host_factory) -> None:
    import neural_trader_plugins.brokers as brokers

    host = nt_host_factory(plugins=[brokers], autoload=False)
    spec = host.registry("brokers").get("paper")
    assert spec.live is False and host.registry("brokers").owner("paper")
    created = spec.create(host)
    assert isinstance(created, PaperBroker) and created.storage is host.services.storage
