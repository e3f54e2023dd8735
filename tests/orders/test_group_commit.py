"""Group commit (SQLite and PostgreSQL): orders arriving together are admitted in one transaction, each
checked against the ones before it; a stored id, a conflict and a rejection in one batch are each
settled on their own; the paper broker's batch answers as its orders would one by one; a batch's
answers are recorded in the commit that admits the next, and that commit, if it fails, is redone as
its two parts."""

from __future__ import annotations

import asyncio
import decimal
from typing import Any

import pytest

from neural_trader.domain.orders import OrderRequest, OrderStatus
from neural_trader.errors import NtConflict
from neural_trader.services.orders import OrderManager
from neural_trader.services.risk_gate import RiskLimits
from neural_trader_plugins.brokers.paper import PaperBroker

from .conftest import Clock, FakeBroker, fixed_quotes

D = decimal.Decimal


def buy(coid: str, qty: str = "1", **kw: Any) -> OrderRequest:
    return OrderRequest(client_order_id=coid, symbol="AAPL", side="buy", qty=qty, **kw)


def batch_sizes(manager: OrderManager, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the manager admits from now on."""
    sizes: list[int] = []
    admit = manager._admit_batch

    def spy(batch: Any, **kw: Any) -> Any:
        sizes.append(len(batch))
        return admit(batch, **kw)

    monkeypatch.setattr(manager, "_admit_batch", spy)
    return sizes


async def test_a_batch_checks_each_order_against_the_ones_before_it(make_manager, monkeypatch) -> None:
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker)
    await manager.start()
    manager.set_limits(RiskLimits(account="default", max_position_qty=D(10)), actor="admin")
    sizes = batch_sizes(manager, monkeypatch)
    orders = await asyncio.gather(*(manager.submit(buy(f"b-{i}"), actor="t") for i in range(16)))
    assert max(sizes) > 1  # they did go together
    filled = [o for o in orders if o.status is OrderStatus.FILLED]
    rejected = [o for o in orders if o.status is OrderStatus.REJECTED]
    # In arrival order: the first ten fit the limit, the other six would take the position past it.
    assert [o.client_order_id for o in filled] == [f"b-{i}" for i in range(10)]
    assert len(rejected) == 6 and {manager.reason_code(o.client_order_id) for o in rejected} == {"max_position"}
    assert broker.submits() == 10
    assert [(p.symbol, p.qty) for p in manager.positions()] == [("AAPL", D(10))]


async def test_a_stored_id_a_conflict_and_new_orders_in_one_batch_are_each_settled(make_manager, monkeypatch) -> None:
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker)
    await manager.start()
    first = await manager.submit(buy("s-1", qty="2"), actor="t")
    assert first.status is OrderStatus.FILLED
    sizes = batch_sizes(manager, monkeypatch)
    outcomes = await asyncio.gather(
        manager.submit(buy("s-2"), actor="t"),
        manager.submit(buy("s-1", qty="2"), actor="t"),    # the stored order, not a second one
        manager.submit(buy("s-1", qty="3"), actor="t"),    # the same id, another order: a conflict
        manager.submit(buy("s-3"), actor="t"),
        return_exceptions=True)
    assert max(sizes) > 1
    new, again, conflict, other = outcomes
    assert isinstance(conflict, NtConflict) and "differs in qty" in conflict.message
    assert again.client_order_id == "s-1" and again.filled_qty == D(2)  # type: ignore[union-attr]
    assert new.status is other.status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert broker.submits("s-1") == 1 and broker.submits() == 3
    assert [(p.symbol, p.qty) for p in manager.positions()] == [("AAPL", D(4))]


async def test_the_paper_brokers_batch_answers_as_its_orders_one_by_one(storage) -> None:
    quotes = fixed_quotes(AAPL=("99.90", "100.10"))

    def orders(prefix: str) -> list[OrderRequest]:
        return [buy(f"{prefix}-1", qty="3"),
                OrderRequest(client_order_id=f"{prefix}-2", symbol="AAPL", side="sell", qty="1"),
                buy(f"{prefix}-3", type="limit", limit_price="99"),
                buy(f"{prefix}-4", type="limit", limit_price="101", time_in_force="ioc"),
                buy(f"{prefix}-5", type="limit", limit_price="99", time_in_force="ioc")]

    together = PaperBroker(storage, name="together", clock=Clock(), quotes=quotes, commission_per_share=D("0.01"))
    alone = PaperBroker(storage, name="alone", clock=Clock(), quotes=quotes, commission_per_share=D("0.01"))
    requests = orders("t")
    batch = await together.submit_many(requests)
    single = [await alone.submit(r) for r in orders("a")]

    def seen(answer: Any) -> tuple[Any, ...]:
        return (answer.client_order_id[2:], answer.status, answer.filled_qty, answer.avg_fill_price,
                [(f.qty, f.price, f.commission) for f in answer.fills])

    assert [seen(a) for a in batch] == [seen(a) for a in single]
    assert [a.status for a in batch] == [OrderStatus.FILLED, OrderStatus.FILLED, OrderStatus.ACCEPTED,
                                         OrderStatus.FILLED, OrderStatus.CANCELED]
    assert batch[0].fills[0].price == D("100.10") and batch[1].fills[0].price == D("99.90")
    # the same batch again is the same orders, never second ones
    assert [seen(a) for a in await together.submit_many(requests)] == [seen(a) for a in batch]


class GatedBroker(FakeBroker):
    """A FakeBroker whose answers wait for ``gate``: a batch stays at the broker while the next queues."""

    def __init__(self) -> None:
        super().__init__(fill_at=D(100))
        self.gate = asyncio.Event()

    async def submit(self, request: OrderRequest) -> Any:
        await self.gate.wait()
        return await super().submit(request)


def commits(manager: OrderManager, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Per commit of the drain from now on: (answers recorded, orders admitted)."""
    seen: list[tuple[int, int]] = []
    commit = manager._commit

    def spy(answered: Any, batch: Any) -> Any:
        seen.append((len(answered), len(batch)))
        return commit(answered, batch)

    monkeypatch.setattr(manager, "_commit", spy)
    return seen


async def _two_batches(manager: OrderManager, broker: GatedBroker) -> list[Any]:
    first = [asyncio.ensure_future(manager.submit(buy(f"a-{i}"), actor="t")) for i in range(4)]
    await asyncio.sleep(0.05)  # admitted, at the broker
    second = [asyncio.ensure_future(manager.submit(buy(f"b-{i}"), actor="t")) for i in range(3)]
    await asyncio.sleep(0.05)  # queued behind it
    assert not any(f.done() for f in first + second)
    broker.gate.set()
    return list(await asyncio.gather(*first, *second))


async def test_a_batchs_answers_are_recorded_in_the_commit_that_admits_the_next(make_manager, audit, storage,
                                                                                monkeypatch) -> None:
    broker = GatedBroker()
    manager = make_manager(broker)
    await manager.start()
    seen = commits(manager, monkeypatch)
    orders = await _two_batches(manager, broker)
    assert [o.status for o in orders] == [OrderStatus.FILLED] * 7
    assert seen == [(0, 4), (4, 3), (3, 0)]  # one commit records the first batch and admits the second
    assert broker.submits() == 7
    assert [(p.symbol, p.qty) for p in manager.positions()] == [("AAPL", D(7))]
    with storage.session() as session:
        assert audit.verify(session).ok


async def test_a_combined_commit_that_fails_is_redone_as_its_two_parts(make_manager, audit, storage,
                                                                       monkeypatch) -> None:
    broker = GatedBroker()
    manager = make_manager(broker)
    await manager.start()
    admit, failed = manager._admit_into, []

    def failing_once(book: Any, batch: Any, **kw: Any) -> Any:
        if book._orders and not failed:  # the book holds the first batch's answers: the combined commit
            failed.append(len(batch))
            raise RuntimeError("the database went away mid-commit")
        return admit(book, batch, **kw)

    monkeypatch.setattr(manager, "_admit_into", failing_once)
    orders = await _two_batches(manager, broker)
    assert failed == [3]
    assert [o.status for o in orders] == [OrderStatus.FILLED] * 7  # recorded, then admitted, on their own
    assert sorted(c for kind, c in broker.calls if kind == "submit") == [*(f"a-{i}" for i in range(4)),
                                                                         *(f"b-{i}" for i in range(3))]
    assert [(p.symbol, p.qty) for p in manager.positions()] == [("AAPL", D(7))]
    with storage.session() as session:
        assert audit.verify(session).ok
