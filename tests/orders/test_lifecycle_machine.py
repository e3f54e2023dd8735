"""Reliability test 5: a hypothesis state machine over the order lifecycle through the paper broker,
with restarts (a new manager and a new broker on the same database), on SQLite and on the real
PostgreSQL (a fresh schema per example). Invariants: positions equal the
sum of the fills, cash equals the start minus what the fills cost, every order is in one state and
its state is one the machine allowed, and the broker's book agrees with ours."""

from __future__ import annotations

import contextlib
import decimal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import servers
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlmodel import select

from neural_trader.domain.orders import TRANSITIONS, OrderRequest, OrderStatus
from neural_trader.services.audit import AuditLog
from neural_trader.services.orders import OrderManager
from neural_trader.services.storage import Storage
from neural_trader.services.tables_orders import OrderRow
from neural_trader_plugins.brokers.paper import PaperBroker

from .conftest import Clock, fixed_quotes
from .test_paper_broker import quote

D = decimal.Decimal
CASH = D(1_000_000)


@contextlib.contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'nt.db'}"


class Lifecycle(RuleBasedStateMachine):
    database = staticmethod(sqlite_file)

    def __init__(self) -> None:
        super().__init__()
        self.database_scope = contextlib.ExitStack()
        self.storage = Storage(self.database_scope.enter_context(self.database()))
        self.audit = AuditLog(self.storage, b"lifecycle-test-secret-123", checkpoint_every=25)
        self.clock = Clock()
        self.n = 0
        self.seen: dict[str, OrderStatus] = {}
        self.boot()

    def boot(self) -> None:
        self.broker = PaperBroker(self.storage, quotes=fixed_quotes(AAPL=("99.9", "100.1")), clock=self.clock,
                                  initial_cash=CASH, commission_per_share=D("0.01"))
        self.manager = OrderManager(self.storage, self.broker, audit=self.audit, clock=self.clock,
                                    quotes=fixed_quotes(AAPL=("99.9", "100.1")), initial_cash=CASH)
        report = anyio.run(self.manager.start)
        assert report.ok, report

    def teardown(self) -> None:
        self.storage.close()
        self.database_scope.close()

    @rule(side=st.sampled_from(["buy", "sell"]), qty=st.integers(1, 50),
          kind=st.sampled_from(["market", "limit", "stop"]), offset=st.integers(-3, 3))
    def submit(self, side: str, qty: int, kind: str, offset: int) -> None:
        self.n += 1
        extra: dict[str, object] = {}
        if kind == "limit":
            extra["limit_price"] = D(100 + offset)
        elif kind == "stop":
            extra["stop_price"] = D(100 + offset)
        request = OrderRequest(client_order_id=f"o{self.n}", symbol="AAPL", side=side, qty=qty, type=kind,
                               **extra)  # type: ignore[arg-type]
        order = anyio.run(lambda: self.manager.submit(request, actor="machine"))
        again = anyio.run(lambda: self.manager.submit(request, actor="machine"))  # a retry changes nothing
        assert again.client_order_id == order.client_order_id

    @rule(bid=st.integers(95, 105))
    def market_moves(self, bid: int) -> None:
        for answer in anyio.run(lambda: self.broker.process_market([quote(str(bid), str(bid + D("0.2")))])):
            self.manager.record(answer, actor="broker:paper")

    @rule(bid=st.integers(95, 105))
    def market_moves_while_down(self, bid: int) -> None:
        # The broker fills while we do not listen: the next reconciliation must find it.
        anyio.run(lambda: self.broker.process_market([quote(str(bid), str(bid + D("0.2")))]))

    @precondition(lambda self: self.n > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        coid = f"o{data.draw(st.integers(1, self.n))}"
        order = self.manager.get(coid)
        if order.status.open:
            anyio.run(lambda: self.manager.cancel(coid, actor="machine"))

    @rule()
    def restart(self) -> None:
        self.clock.advance(seconds=1)
        self.boot()

    @invariant()
    def positions_are_the_sum_of_fills(self) -> None:
        fills = self.manager.fills()
        held = sum((f.signed_qty for f in fills), D(0))
        positions = self.manager.positions()
        assert sum((p.qty for p in positions), D(0)) == held
        assert self.manager.cash() == CASH - sum((f.signed_qty * f.price + f.commission for f in fills), D(0))
        assert len({f.fill_id for f in fills}) == len(fills)

    @invariant()
    def every_order_moved_only_as_the_machine_allows(self) -> None:
        with self.storage.session() as session:
            rows = session.exec(select(OrderRow)).all()
        assert len({r.client_order_id for r in rows}) == len(rows)
        for row in rows:
            status = OrderStatus(row.status)
            before = self.seen.get(row.client_order_id)
            assert before is None or status is before or status in TRANSITIONS[before], (before, status)
            assert row.filled_qty <= row.qty
            assert (status is OrderStatus.FILLED) == (row.filled_qty == row.qty)
            self.seen[row.client_order_id] = status


class LifecyclePostgres(Lifecycle):
    database = staticmethod(servers.postgres_schema)


SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TestLifecycleSqlite = Lifecycle.TestCase
TestLifecycleSqlite.settings = SETTINGS
TestLifecyclePostgres = pytest.mark.postgres(LifecyclePostgres.TestCase)
TestLifecyclePostgres.settings = settings(SETTINGS, max_examples=8)
