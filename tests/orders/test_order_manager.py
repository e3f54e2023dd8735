"""The order manager on SQLite and PostgreSQL: idempotency (reliability test 1), a lost broker answer
(test 2), fills into positions and cash, cancel / replace, HALTED and REDUCING, the audit trail."""

from __future__ import annotations

import asyncio
import decimal
import threading

import anyio
import pytest
from sqlmodel import select

from neural_trader.domain.orders import BrokerOrder, Fill, OrderRequest, OrderStatus, TradingState
from neural_trader.errors import NtConflict, NtUnavailable
from neural_trader.services.audit import AuditLog
from neural_trader.services.storage import Storage
from neural_trader.services.tables_audit import AuditRecordRow
from neural_trader.services.tables_orders import FillRow, OrderRow

from .conftest import Clock, FakeBroker

D = decimal.Decimal


def buy(coid: str = "o-1", qty: str = "10", symbol: str = "AAPL", **kw: object) -> OrderRequest:
    return OrderRequest(client_order_id=coid, symbol=symbol, side="buy", qty=qty, **kw)  # type: ignore[arg-type]


def rows(storage: Storage) -> list[OrderRow]:
    with storage.session() as session:
        return list(session.exec(select(OrderRow)).all())


async def test_trading_is_refused_until_reconciliation_succeeds(make_manager, broker: FakeBroker) -> None:
    manager = make_manager(broker)
    with pytest.raises(NtUnavailable, match="reconciliation"):
        await manager.submit(buy(), actor="t")
    assert broker.calls == [] and rows(manager.storage) == []
    assert (await manager.start()).ok
    assert (await manager.submit(buy(), actor="t")).status is OrderStatus.FILLED


async def test_the_same_order_ten_times_in_sequence_is_one_order_and_one_broker_call(make_manager, broker) -> None:
    manager = make_manager(broker)
    await manager.start()
    answers = [await manager.submit(buy(qty="10.00"), actor="t") for _ in range(10)]
    assert {a.client_order_id for a in answers} == {"o-1"}
    assert broker.submits() == 1
    assert len(rows(manager.storage)) == 1
    with pytest.raises(NtConflict, match="differs in qty"):
        await manager.submit(buy(qty="11"), actor="t")
    assert broker.submits() == 1


async def test_ten_concurrent_duplicates_in_tasks_make_one_order_and_one_broker_call(make_manager, broker) -> None:
    manager = make_manager(broker)
    await manager.start()
    answers = await asyncio.gather(*(manager.submit(buy(), actor="t") for _ in range(10)))
    assert len({a.client_order_id for a in answers}) == 1
    assert broker.submits() == 1 and len(rows(manager.storage)) == 1


def test_ten_concurrent_duplicates_in_threads_make_one_order_and_one_broker_call(make_manager, broker) -> None:
    manager = make_manager(broker)
    anyio.run(manager.start)
    barrier = threading.Barrier(10)
    results: list[object] = []

    def one() -> None:
        barrier.wait()
        try:
            results.append(anyio.run(lambda: manager.submit(buy(), actor="t")).status)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, OrderStatus) for r in results), results
    assert broker.submits() == 1 and len(rows(manager.storage)) == 1
    (fill,) = manager.fills()
    assert fill.qty == 10 and manager.positions()[0].qty == 10


async def test_a_lost_answer_leaves_the_order_unknown_and_a_lookup_resolves_it(make_manager, broker, clock) -> None:
    manager = make_manager(broker)
    await manager.start()
    broker.lose_next = 1
    order = await manager.submit(buy(), actor="t")
    assert order.status is OrderStatus.UNKNOWN
    # Retrying the request does not send it again.
    assert (await manager.submit(buy(), actor="t")).status is OrderStatus.UNKNOWN
    assert broker.submits() == 1
    (resolved,) = await manager.resolve_unknown()
    assert resolved.status is OrderStatus.FILLED and resolved.filled_qty == 10
    assert broker.submits() == 1 and ("lookup", "o-1") in broker.calls
    assert manager.positions()[0].qty == 10


async def test_an_unknown_order_the_broker_never_got_is_cancelled_once_stale_never_resent(
        make_manager, broker: FakeBroker, clock: Clock) -> None:
    manager = make_manager(broker)
    await manager.start()
    broker.lose_next = 1
    await manager.submit(buy(), actor="t")
    del broker.orders["o-1"]  # the request never arrived after all
    (still,) = await manager.resolve_unknown()
    assert still.status is OrderStatus.UNKNOWN  # too early to conclude
    clock.advance(seconds=31)
    (gone,) = await manager.resolve_unknown()
    assert gone.status is OrderStatus.CANCELED and broker.submits() == 1


async def test_fills_move_position_and_cash_once_each(make_manager, storage) -> None:
    broker = FakeBroker(fill_at=None)
    manager = make_manager(broker, initial_cash=D("10000"))
    await manager.start()
    await manager.submit(buy(qty="10"), actor="t")
    t = manager.clock()
    f1 = Fill(fill_id="x1", client_order_id="o-1", symbol="AAPL", side="buy", qty="4", price="100", commission="1",
              time=t)
    f2 = Fill(fill_id="x2", client_order_id="o-1", symbol="AAPL", side="buy", qty="6", price="110", time=t)
    assert manager.apply_fill(f1, actor="b") and not manager.apply_fill(f1, actor="b")
    assert manager.get("o-1").status is OrderStatus.PARTIALLY_FILLED
    assert manager.apply_fill(f2, actor="b")
    order = manager.get("o-1")
    # 4 @ 100 + 6 @ 110 = 1060 over 10 = 106
    assert order.status is OrderStatus.FILLED and order.avg_fill_price == D("106")
    (pos,) = manager.positions()
    assert (pos.qty, pos.avg_price) == (D(10), D(106))
    assert manager.cash() == D("10000") - D("400") - D("1") - D("660")
    await manager.submit(OrderRequest(client_order_id="o-2", symbol="AAPL", side="sell", qty="5", type="limit",
                                      limit_price="120"), actor="t")
    manager.apply_fill(Fill(fill_id="x3", client_order_id="o-2", symbol="AAPL", side="sell", qty="5", price="120",
                            time=t), actor="b")
    (pos,) = manager.positions()
    assert (pos.qty, pos.avg_price, pos.realized_pnl) == (D(5), D(106), D(70))  # (120 - 106) x 5
    assert manager.cash() == D("8939") + D("600")
    with storage.session() as session:
        assert len(session.exec(select(FillRow)).all()) == 3


async def test_every_state_change_is_in_the_audit_log_and_it_verifies(make_manager, broker, storage, audit) -> None:
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy(), actor="alice")
    with storage.session() as session:
        actions = [(r.actor, r.action, r.target) for r in session.exec(select(AuditRecordRow)
                                                                        .order_by(AuditRecordRow.seq)).all()]
        assert audit.verify(session).ok
    assert ("alice", "order.submit", "o-1") in actions
    assert ("broker:fake", "order.fill", "o-1") in actions
    assert actions.index(("alice", "order.submit", "o-1")) < actions.index(("broker:fake", "order.fill", "o-1"))


async def test_halted_cancels_open_orders_and_refuses_new_ones(make_manager) -> None:
    broker = FakeBroker(fill_at=None)
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", type="limit", limit_price="99"), actor="t")
    await manager.submit(buy("o-2", type="limit", limit_price="98"), actor="t")
    canceled = await manager.set_trading_state(TradingState.HALTED, actor="admin", reason="test")
    assert sorted(o.status for o in canceled) == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert manager.list_orders(open_only=True) == []
    refused = await manager.submit(buy("o-3"), actor="t")
    assert refused.status is OrderStatus.REJECTED and manager.reason_code("o-3") == "trading_halted"
    assert broker.submits("o-3") == 0
    await manager.set_trading_state(TradingState.ACTIVE, actor="admin")
    assert (await manager.submit(buy("o-4", type="limit", limit_price="99"), actor="t")).status is OrderStatus.ACCEPTED


async def test_reducing_lets_only_orders_that_shrink_the_position_through(make_manager, broker) -> None:
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", qty="10"), actor="t")
    await manager.set_trading_state(TradingState.REDUCING, actor="admin")
    assert (await manager.submit(buy("o-2", qty="1"), actor="t")).status is OrderStatus.REJECTED
    assert manager.reason_code("o-2") == "reducing_only"
    sell = OrderRequest(client_order_id="o-3", symbol="AAPL", side="sell", qty="11")
    assert (await manager.submit(sell, actor="t")).status is OrderStatus.REJECTED  # would flip to short
    sell = OrderRequest(client_order_id="o-4", symbol="AAPL", side="sell", qty="10")
    assert (await manager.submit(sell, actor="t")).status is OrderStatus.FILLED
    assert manager.positions()[0].qty == 0
    assert broker.submits("o-2") == broker.submits("o-3") == 0


async def test_reducing_counts_the_open_orders_on_the_reducing_side(make_manager, broker) -> None:
    """Reduce-only looks at the open orders as well as the position (read only when a rule needs
    them: here the trading state does)."""
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", qty="10"), actor="t")
    await manager.set_trading_state(TradingState.REDUCING, actor="admin")
    resting = OrderRequest(client_order_id="o-2", symbol="AAPL", side="sell", qty="6", type="limit",
                           limit_price="150")
    assert (await manager.submit(resting, actor="t")).status is OrderStatus.ACCEPTED
    five = OrderRequest(client_order_id="o-3", symbol="AAPL", side="sell", qty="5")
    assert (await manager.submit(five, actor="t")).status is OrderStatus.REJECTED  # 6 + 5 > 10
    assert manager.reason_code("o-3") == "reducing_only"
    four = OrderRequest(client_order_id="o-4", symbol="AAPL", side="sell", qty="4")
    assert (await manager.submit(four, actor="t")).status is OrderStatus.FILLED
    assert broker.submits("o-3") == 0


async def test_replace_cancels_and_links_a_new_order(make_manager) -> None:
    broker = FakeBroker(fill_at=None)
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", type="limit", limit_price="99"), actor="t")
    new = await manager.replace("o-1", actor="t", limit_price=D("99.5"))
    assert new.client_order_id == "o-1.r1" and new.request.limit_price == D("99.5")
    assert manager.get("o-1").status is OrderStatus.CANCELED
    again = await manager.replace("o-1", actor="t", limit_price=D("99.5"))
    assert again.client_order_id == "o-1.r1" and broker.submits() == 2
    assert (await manager.replace("o-1.r1", actor="t")).client_order_id == "o-1.r2"
    with manager.storage.session() as session:
        row = session.exec(select(OrderRow).where(OrderRow.client_order_id == "o-1.r2")).one()
        assert row.replaces == "o-1.r1"


async def test_a_broker_refusal_is_a_rejected_order_with_the_reason(make_manager) -> None:
    class Refusing(FakeBroker):
        async def submit(self, request: OrderRequest):  # type: ignore[no-untyped-def]
            from neural_trader.errors import NtUserError

            self.calls.append(("submit", request.client_order_id))
            raise NtUserError("insufficient buying power")

    broker = Refusing()
    manager = make_manager(broker)
    await manager.start()
    order = await manager.submit(buy(), actor="t")
    assert order.status is OrderStatus.REJECTED and "insufficient buying power" in (order.reason or "")
    assert manager.reason_code("o-1") == "broker"


def test_audit_is_appended_in_the_same_transaction(storage: Storage, audit: AuditLog) -> None:
    # A failure after the order row is written leaves neither the row nor its audit record.
    class Failing:
        def append(self, session, **kw):  # type: ignore[no-untyped-def]
            audit.append(session, **kw)
            raise RuntimeError("boom")

    from neural_trader.services.orders import OrderManager

    manager = OrderManager(storage, FakeBroker(), audit=Failing())
    manager.reconciled = True
    with pytest.raises(RuntimeError):
        anyio.run(lambda: manager.submit(OrderRequest(client_order_id="z", symbol="AAPL", side="buy", qty="1",
                                                      type="limit", limit_price="1"), actor="t"))
    assert rows(storage) == []
    with storage.session() as session:
        assert session.exec(select(AuditRecordRow)).all() == []


async def test_fills_that_restate_applied_ones_are_booked_from_the_brokers_totals(make_manager) -> None:
    """A broker that reports "the fill since" a baseline it was not told (Alpaca's lookup of an order
    partly filled before a restart: one fill for the whole cumulative quantity, under a new id) must
    not book the first part twice: the broker's total decides, at the price that keeps its average."""
    broker = FakeBroker(fill_at=None)
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", qty="100", type="limit", limit_price="110"), actor="t")
    at = manager.clock()

    def answer(status: str, filled: str, avg: str, fill_id: str, qty: str, price: str) -> BrokerOrder:
        fill = Fill(fill_id=fill_id, client_order_id="o-1", symbol="AAPL", side="buy", qty=qty, price=price, time=at)
        return BrokerOrder(client_order_id="o-1", broker_order_id="b-1", status=status, filled_qty=D(filled),
                           avg_fill_price=D(avg), fills=(fill,))

    manager.record(answer("partially_filled", "50", "100", "b-1:50", "50", "100"), actor="broker")
    cash = manager.cash()
    restated = answer("filled", "100", "101", "b-1:100", "100", "101")  # from 0, not from the 50 we hold
    order = manager.record(restated, actor="broker")
    assert order.status is OrderStatus.FILLED and order.filled_qty == 100 and order.avg_fill_price == 101
    assert manager.positions()[0].qty == 100
    assert sum(f.qty for f in manager.fills()) == 100
    assert [f.price for f in manager.fills()] == [D(100), D(102)]  # 50 at 102 keeps the average of 101
    assert manager.cash() == cash - 50 * D(102)
    manager.record(restated, actor="broker")  # the same report again changes nothing
    assert sum(f.qty for f in manager.fills()) == 100 and manager.cash() == cash - 50 * D(102)


async def test_news_of_another_broker_order_under_our_client_order_id_is_refused_not_booked(
        make_manager, clock: Clock) -> None:
    broker = FakeBroker()  # accepts, never fills by itself
    manager = make_manager(broker)
    await manager.start()
    await manager.submit(buy("o-1", type="limit", limit_price="99"), actor="t")
    assert manager.get("o-1").broker_order_id == "b-1"
    # The broker (keys changed to another account, or a reset book) knows o-1 as another order,
    # filled: its fill is not ours.
    fill = Fill(fill_id="other-1", client_order_id="o-1", symbol="AAPL", side="buy", qty=D(10), price=D("98"),
                time=clock())
    other = BrokerOrder(client_order_id="o-1", broker_order_id="b-other", status=OrderStatus.FILLED,
                        filled_qty=D(10), avg_fill_price=D("98"), fills=(fill,), request=buy("o-1"))
    with pytest.raises(NtConflict, match="'b-other', but it gave us 'b-1'") as caught:
        manager.record(other, actor="broker:fake")
    assert caught.value.details["broker_order_id"] == "b-1"
    broker.orders["o-1"] = other
    restarted = make_manager(broker)
    report = await restarted.start()
    assert not report.ok
    assert [(d.kind, d.target, d.repaired) for d in report.discrepancies if d.kind == "broker_order_id"] == \
        [("broker_order_id", "o-1", False)]
    assert "broker_order_id o-1" in (report.error or "")
    order = restarted.get("o-1")
    assert (order.status, order.filled_qty, order.broker_order_id) == (OrderStatus.ACCEPTED, D(0), "b-1")
    assert restarted.positions() == [] and restarted.fills() == []
    with pytest.raises(NtUnavailable, match="reconciliation"):
        await restarted.submit(buy("o-2"), actor="t")
