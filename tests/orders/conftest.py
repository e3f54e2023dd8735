"""Fixtures for the order tests: storage on SQLite and the real PostgreSQL, the audit log, a fake
broker that counts its calls, and an order manager over them."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections.abc import Callable

import pytest

from neural_trader.domain.orders import Account, BrokerOrder, Fill, OrderRequest, OrderStatus, Position
from neural_trader.errors import NtNotFound, NtUnavailable
from neural_trader.services.audit import AuditLog
from neural_trader.services.orders import OrderManager, PriceRef
from neural_trader.services.storage import Storage

D = decimal.Decimal
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def audit(storage: Storage) -> AuditLog:
    return AuditLog(storage, b"test-secret-for-the-order-tests", checkpoint_every=50)


class Clock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class FakeBroker:
    """An in-memory broker that records every call. ``fill_at``: market orders fill at once at that
    price; ``lose_next``: the next submit stores the order and then raises NtUnavailable (the
    answer lost on the way back)."""

    live = False

    def __init__(self, name: str = "fake", fill_at: D | None = None) -> None:
        self.name = name
        self.fill_at = fill_at
        self.lose_next = 0
        self.orders: dict[str, BrokerOrder] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def submits(self, client_order_id: str | None = None) -> int:
        return sum(1 for c, coid in self.calls if c == "submit" and client_order_id in (None, coid))

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        with self._lock:
            self.calls.append(("submit", request.client_order_id))
            if request.client_order_id in self.orders:
                return self.orders[request.client_order_id]
            bo = BrokerOrder(client_order_id=request.client_order_id, broker_order_id=f"b-{len(self.orders) + 1}",
                             status=OrderStatus.ACCEPTED, request=request)
            if self.fill_at is not None and request.type.value == "market":
                fill = Fill(fill_id=f"{bo.broker_order_id}-1", client_order_id=request.client_order_id,
                            symbol=request.symbol, side=request.side, qty=request.qty, price=self.fill_at, time=T0)
                bo = BrokerOrder(client_order_id=bo.client_order_id, broker_order_id=bo.broker_order_id,
                                 status=OrderStatus.FILLED, filled_qty=request.qty, avg_fill_price=self.fill_at,
                                 fills=(fill,), request=request)
            self.orders[request.client_order_id] = bo
            if self.lose_next:
                self.lose_next -= 1
                raise NtUnavailable("timed out reading the broker's answer")
            return bo

    async def lookup(self, client_order_id: str) -> BrokerOrder | None:
        self.calls.append(("lookup", client_order_id))
        return self.orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> BrokerOrder:
        self.calls.append(("cancel", client_order_id))
        bo = self.orders.get(client_order_id)
        if bo is None:
            raise NtNotFound(client_order_id)
        if not bo.status.terminal:
            bo = BrokerOrder(client_order_id=bo.client_order_id, broker_order_id=bo.broker_order_id,
                             status=OrderStatus.CANCELED, filled_qty=bo.filled_qty,
                             avg_fill_price=bo.avg_fill_price, fills=bo.fills, request=bo.request)
            self.orders[client_order_id] = bo
        return bo

    async def open_orders(self) -> list[BrokerOrder]:
        self.calls.append(("open_orders", ""))
        return [b for b in self.orders.values() if not b.status.terminal]

    async def positions(self) -> list[Position]:
        held: dict[str, Position] = {}
        for bo in self.orders.values():
            for f in bo.fills:
                held[f.symbol] = held.get(f.symbol, Position(symbol=f.symbol)).apply(f)
        return list(held.values())

    async def account(self) -> Account:
        return Account(broker=self.name, cash=D(0), equity=D(0), buying_power=D(0))


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker(fill_at=D("100"))


def fixed_quotes(**prices: tuple[str | None, str | None]) -> Callable[[str], object]:
    """A price source: ``AAPL=("99.9", "100.1")`` (bid, ask)."""

    async def quote(symbol: str) -> PriceRef | None:
        if symbol not in prices:
            return None
        bid, ask = prices[symbol]
        return PriceRef(bid=None if bid is None else D(bid), ask=None if ask is None else D(ask))

    return quote


@pytest.fixture
def make_manager(storage: Storage, audit: AuditLog, clock: Clock) -> Callable[..., OrderManager]:
    def make(broker: object, **kwargs: object) -> OrderManager:
        kwargs.setdefault("quotes", fixed_quotes(AAPL=("99.9", "100.1"), MSFT=("199", "201")))
        kwargs.setdefault("initial_cash", D(100_000))
        return OrderManager(storage, broker, audit=audit, clock=clock, **kwargs)  # type: ignore[arg-type]

    return make
