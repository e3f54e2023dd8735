"""The order manager: the one way an order reaches a broker.

The write path of one order (:meth:`OrderManager.submit`):

1. **Idempotency.** The client order id is the key. A stored order under it with the same request
   fingerprint is returned as it stands (no second broker call); a different request is
   :class:`~neural_trader.errors.NtConflict`. Concurrent duplicates are decided by the unique
   constraint on ``orders.client_order_id``: exactly one insert wins, and only the winner sends.
2. **Risk gate** (:mod:`neural_trader.services.risk_gate`) in the transaction that stores the order,
   under the account's row lock (PostgreSQL ``FOR UPDATE``, SQLite ``BEGIN IMMEDIATE``), so two
   orders cannot both pass a limit only one of them fits in. A rejected order is stored as
   ``rejected`` with its reason code and never reaches the broker.
3. **Persist, then send.** The order is committed as ``new`` before the broker is called. A broker
   answer is recorded when it comes; :class:`~neural_trader.errors.NtUnavailable` from the broker
   ("sent, outcome unknown") leaves the order ``unknown``: it is never sent again, only looked up by
   its client order id (:meth:`resolve_unknown`, :meth:`reconcile`).

A fill is applied to the order, the position and the cash in one transaction, once per
``(broker, fill_id)``, and every change of state writes an audit record in the same transaction.
Until a reconciliation (:meth:`reconcile`, run by :meth:`start`) has succeeded in this process, new
orders are refused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import datetime as dt
import decimal
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from neural_trader.domain.orders import (
    TERMINAL,
    TRANSITIONS,
    Broker,
    BrokerOrder,
    Fill,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TradingState,
    bracket_leg_ids,
)
from neural_trader.errors import NtConflict, NtError, NtNotFound, NtUnavailable, NtUserError
from neural_trader.ops import Identity
from neural_trader.services.identity import bound_caller, current_caller, may_see_owner, owner_clause
from neural_trader.services.risk_gate import (
    RejectCode,
    RiskContext,
    RiskGate,
    RiskLimits,
    RiskRejection,
    order_price,
)
from neural_trader.services.storage import Storage
from neural_trader.services.tables import utcnow
from neural_trader.services.tables_orders import (
    FillRow,
    OrderRow,
    PositionRow,
    RiskLimitRow,
    TradingAccountRow,
)

__all__ = ["AuditSink", "Discrepancy", "OrderManager", "PriceRef", "PriceSource", "ReconcileReport",
           "quotes_from_market"]

log = logging.getLogger("neural_trader.orders")

D = decimal.Decimal
_OPEN = tuple(s.value for s in OrderStatus if s not in TERMINAL)
_PRICE_FIELDS = ("limit_price", "stop_price", "trail_price", "trail_percent", "take_profit", "stop_loss",
                 "stop_loss_limit")
_REPLACED = re.compile(r"^(.*)\.r(\d+)$")


class AuditSink(Protocol):
    """What the manager records to (:class:`neural_trader.services.audit.AuditLog`)."""

    def append(self, session: Session, *, actor: str, action: str, target: str | None = None,
               payload: Any = None, result: Any = None, at: dt.datetime | None = None) -> Any: ...


@attrs.frozen(kw_only=True)
class PriceRef:
    """The latest quote of a symbol as the manager uses it (Decimals; any may be missing)."""

    bid: D | None = None
    ask: D | None = None
    last: D | None = None
    #: The quote was generated (synthetic data), not observed: only a simulated broker trades on it.
    synthetic: bool = False

    def for_side(self, side: OrderSide) -> D | None:
        """What an order of ``side`` would trade at now: the ask for a buy, the bid for a sell, else
        the last trade."""
        near = self.ask if side is OrderSide.BUY else self.bid
        return near if near is not None else self.last


#: ``await quotes(symbol)``: the latest quote, or ``None`` when none is known.
PriceSource = Callable[[str], Awaitable[PriceRef | None]]


def quotes_from_market(market: Any, *, allow_synthetic: bool = False) -> PriceSource:
    """A :data:`PriceSource` over :class:`~neural_trader.market.service.MarketData` (its fallback
    chain). The chain ends in generated data: a synthetic quote counts as no quote (``None``) unless
    ``allow_synthetic`` (a paper account trading on synthetic data may want it)."""

    def dec(value: float | None) -> D | None:
        return None if value is None else D(repr(value))

    async def quote(symbol: str) -> PriceRef | None:
        q = await market.quote(symbol)
        if q.synthetic and not allow_synthetic:
            return None
        return PriceRef(bid=dec(q.bid), ask=dec(q.ask), last=dec(q.last), synthetic=bool(q.synthetic))

    return quote


@attrs.frozen(kw_only=True)
class Discrepancy:
    """One thing reconciliation found different at the broker, and whether it was repaired."""

    kind: str
    target: str
    detail: str
    repaired: bool


@attrs.frozen(kw_only=True)
class ReconcileReport:
    ok: bool
    discrepancies: tuple[Discrepancy, ...] = ()
    #: Client order ids of orders placed outside the system and adopted.
    adopted: tuple[str, ...] = ()
    error: str | None = None
    at: dt.datetime


def _fingerprint(request: OrderRequest, *, account: str, broker: str) -> dict[str, Any]:
    return {**request.fingerprint(), "account": account, "broker": broker}


def _request_of(row: Any) -> OrderRequest:
    return OrderRequest(
        client_order_id=row.client_order_id, symbol=row.symbol, side=row.side, qty=row.qty, type=row.type,
        time_in_force=row.time_in_force, strategy=row.strategy,
        **{name: getattr(row, name) for name in _PRICE_FIELDS})


def _order_of(row: Any) -> Order:
    """The order a stored row (an ORM object, a Core row, a :class:`_Book`'s namespace) holds."""
    return Order(request=_request_of(row), status=row.status, broker=row.broker,
                 broker_order_id=row.broker_order_id, filled_qty=row.filled_qty,
                 avg_fill_price=row.avg_fill_price, reason=row.reason, created_at=row.created_at,
                 updated_at=row.updated_at, parent=(row.fingerprint or {}).get("parent"),
                 stored_legs=tuple(row.legs) if row.legs else None)


def _store(row: Any, order: Order) -> None:
    row.status = order.status.value
    row.filled_qty = order.filled_qty
    row.avg_fill_price = order.avg_fill_price
    row.broker_order_id = order.broker_order_id
    row.reason = None if order.reason is None else order.reason[:500]
    row.updated_at = order.updated_at


def _limits_of(row: Any) -> RiskLimits:
    return RiskLimits(
        account=row.account, strategy=row.strategy, max_order_qty=row.max_order_qty,
        max_order_notional=row.max_order_notional, max_position_qty=row.max_position_qty,
        max_gross_exposure=row.max_gross_exposure, max_daily_loss=row.max_daily_loss,
        max_orders_per_minute=row.max_orders_per_minute, price_collar=row.price_collar,
        restricted_symbols=row.restricted_symbols or [])


def _state(row: Any) -> dict[str, Any]:
    return {"status": row.status, "filled_qty": row.filled_qty, "avg_fill_price": row.avg_fill_price,
            "broker_order_id": row.broker_order_id, "reason_code": row.reason_code, "reason": row.reason}


def _is_leg_of(entry: Any, leg: BrokerOrder) -> bool:
    """Whether ``leg`` is an exit leg of the stored bracket entry ``entry``: under its
    :func:`bracket_leg_ids` (the paper broker), or one the broker nests under it (``parent``, ids
    the broker made up: Alpaca) that is its take profit or its stop loss (the same symbol, the other
    side, no more than its quantity, at its prices)."""
    if leg.client_order_id in bracket_leg_ids(entry.client_order_id):
        return True
    r = leg.request
    if r is None or leg.parent != entry.client_order_id or entry.take_profit is None or r.is_bracket \
            or r.symbol != entry.symbol or r.side.value == entry.side or r.qty > entry.qty:
        return False
    if r.type is OrderType.LIMIT:
        return r.limit_price == entry.take_profit
    if r.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return r.stop_price == entry.stop_loss and r.limit_price == entry.stop_loss_limit
    return False


# -- the write path's tables, in SQLAlchemy Core (no ORM objects on the hot path) ----------------------
_ORDERS: sa.Table = OrderRow.__table__  # type: ignore[attr-defined]
_FILLS: sa.Table = FillRow.__table__  # type: ignore[attr-defined]
_POSITIONS: sa.Table = PositionRow.__table__  # type: ignore[attr-defined]
_ACCOUNTS: sa.Table = TradingAccountRow.__table__  # type: ignore[attr-defined]
_LIMITS: sa.Table = RiskLimitRow.__table__  # type: ignore[attr-defined]
#: What a transaction may change of a stored order, of a position and of an account.
_ORDER_CHANGES = ("status", "filled_qty", "avg_fill_price", "broker_order_id", "reason", "reason_code",
                  "replaced_by", "legs", "updated_at")
_POSITION_CHANGES = ("qty", "avg_price", "realized_pnl", "last_price", "updated_at")
_ACCOUNT_CHANGES = ("cash", "day", "day_start_equity", "updated_at")
#: The most orders one commit admits (the rest wait for the next).
_BATCH = 64


def _update(table: sa.Table, keys: Sequence[str], changes: Sequence[str]) -> sa.Update:
    """``UPDATE table SET changes WHERE keys`` with bound parameters ``k_<key>`` / ``v_<change>``, for
    executemany."""
    where = [table.c[k] == sa.bindparam(f"k_{k}", type_=table.c[k].type) for k in keys]
    return sa.update(table).where(*where).values(
        {c: sa.bindparam(f"v_{c}", type_=table.c[c].type) for c in changes})


def _ids(name: str = "ids") -> sa.BindParameter[Any]:
    return sa.bindparam(name, expanding=True)


# The statements of the write path, built once: on SQLite, building a statement (and its cache key)
# costs more than running it.
_ACCOUNT = sa.select(_ACCOUNTS).where(_ACCOUNTS.c.account == sa.bindparam("account"))
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update()
_ORDERS_LOCKED = sa.select(_ORDERS).where(_ORDERS.c.client_order_id.in_(_ids())).with_for_update()
_ORDER_BY_ID = sa.select(_ORDERS).where(_ORDERS.c.client_order_id == sa.bindparam("coid"))
_TAKEN = sa.select(_ORDERS.c.client_order_id).where(_ORDERS.c.client_order_id.in_(_ids()))
_POSITIONS_OF = sa.select(_POSITIONS).where(_POSITIONS.c.account == sa.bindparam("account"))
_FILLS_SEEN = sa.select(_FILLS.c.fill_id).where(_FILLS.c.broker == sa.bindparam("broker"),
                                                 _FILLS.c.fill_id.in_(_ids()))
_OPEN_QTY = sa.select(_ORDERS.c.symbol, _ORDERS.c.side, _ORDERS.c.qty, _ORDERS.c.filled_qty).where(
    _ORDERS.c.account == sa.bindparam("account"), _ORDERS.c.symbol.in_(_ids("symbols")),
    _ORDERS.c.status.in_(_OPEN))
_RECENT = sa.select(_ORDERS.c.strategy, sa.func.count()).where(
    _ORDERS.c.account == sa.bindparam("account"),
    _ORDERS.c.created_at >= sa.bindparam("since", type_=_ORDERS.c.created_at.type),
    _ORDERS.c.status != OrderStatus.REJECTED.value).group_by(_ORDERS.c.strategy)
_RECENT_ROWS = sa.select(_ORDERS.c.id, _ORDERS.c.strategy, _ORDERS.c.created_at, _ORDERS.c.status).where(
    _ORDERS.c.account == sa.bindparam("account"),
    _ORDERS.c.created_at >= sa.bindparam("since", type_=_ORDERS.c.created_at.type)).order_by(_ORDERS.c.id)
_ROWS_AFTER = sa.select(_ORDERS.c.id, _ORDERS.c.strategy, _ORDERS.c.created_at, _ORDERS.c.status).where(
    _ORDERS.c.account == sa.bindparam("account"), _ORDERS.c.id > sa.bindparam("after")).order_by(_ORDERS.c.id)
_LIMITS_OF = sa.select(_LIMITS).where(_LIMITS.c.account == sa.bindparam("account"))
_INSERT_ORDERS = sa.insert(_ORDERS)
_INSERT_FILLS = sa.insert(_FILLS)
_INSERT_POSITIONS = sa.insert(_POSITIONS)
_UPDATE_ORDERS = _update(_ORDERS, ["id"], _ORDER_CHANGES)
_UPDATE_POSITIONS = _update(_POSITIONS, ["account", "symbol"], _POSITION_CHANGES)
_UPDATE_ACCOUNT = _update(_ACCOUNTS, ["account"], _ACCOUNT_CHANGES)


class _Book:
    """One write transaction's view of an account: its row (locked first: one lock order, no
    deadlocks, and nothing the risk gate read can go stale before the transaction commits), the
    orders, positions and fills it touches, and the audit records it makes. The changes are kept in
    memory and written together by :meth:`write`: one statement per table for the whole batch."""

    def __init__(self, manager: OrderManager, session: Session, *, lock: bool = True) -> None:
        self.manager = manager
        self.session = session
        self.conn = session.connection()
        self.locked = lock
        row = self.conn.execute(_ACCOUNT_LOCKED if lock else _ACCOUNT, {"account": manager.account}).one()
        self._account_was = dict(row._mapping)
        self.account = SimpleNamespace(**self._account_was)
        self._orders: dict[str, SimpleNamespace] = {}
        self._orders_was: dict[str, dict[str, Any]] = {}
        self._new_orders: list[SimpleNamespace] = []
        self._positions: dict[str, SimpleNamespace] | None = None
        self._positions_was: dict[str, dict[str, Any]] = {}
        self._fills: list[dict[str, Any]] = []
        self._fills_known: set[str] = set()
        self._fills_checked: set[str] = set()
        self._audit: list[dict[str, Any]] = []

    # -- orders
    def load_orders(self, client_order_ids: Iterable[str]) -> None:
        wanted = [c for c in dict.fromkeys(client_order_ids) if c not in self._orders]
        if not wanted:
            return
        for row in self.conn.execute(_ORDERS_LOCKED, {"ids": wanted}):
            data = dict(row._mapping)
            self._orders_was[data["client_order_id"]] = data
            self._orders[data["client_order_id"]] = SimpleNamespace(**data)

    def order(self, client_order_id: str) -> SimpleNamespace:
        self.load_orders([client_order_id])
        row = self._orders.get(client_order_id)
        if row is None or row.account != self.manager.account:
            raise NtNotFound(f"no order {client_order_id!r} in account {self.manager.account!r}")
        return row

    def add_order(self, values: dict[str, Any]) -> SimpleNamespace:
        row = SimpleNamespace(**values)
        self._orders[row.client_order_id] = row
        self._new_orders.append(row)
        return row

    # -- positions and fills
    def positions(self) -> dict[str, SimpleNamespace]:
        if self._positions is None:
            self._positions = {}
            for row in self.conn.execute(_POSITIONS_OF, {"account": self.manager.account}):
                data = dict(row._mapping)
                self._positions_was[data["symbol"]] = data
                self._positions[data["symbol"]] = SimpleNamespace(**data)
        return self._positions

    def position(self, symbol: str) -> SimpleNamespace:
        positions = self.positions()
        if symbol not in positions:
            positions[symbol] = SimpleNamespace(account=self.manager.account, symbol=symbol, qty=D(0), avg_price=D(0),
                                                realized_pnl=D(0), last_price=None, updated_at=self.manager.clock())
        return positions[symbol]

    def check_fills(self, fill_ids: Iterable[str], *, unfilled: Iterable[str] = ()) -> None:
        """Look up which of ``fill_ids`` are applied already (one query for a batch's fills). None is
        when each of the loaded orders ``unfilled`` names has nothing filled: a fill is applied with
        its order's filled quantity, in one transaction, so then there is nothing to look up."""
        wanted = [f for f in dict.fromkeys(fill_ids) if f not in self._fills_checked]
        if not wanted:
            return
        rows = [self._orders.get(c) for c in unfilled]
        if rows and all(row is not None and row.filled_qty == 0 for row in rows):
            self._fills_checked.update(wanted)
            return
        self._fills_known.update(self.conn.execute(_FILLS_SEEN, {"broker": self.manager.broker.name,
                                                                  "ids": wanted}).scalars())
        self._fills_checked.update(wanted)

    def applied(self, fill_id: str) -> bool:
        self.check_fills([fill_id])
        return fill_id in self._fills_known

    def add_fill(self, values: dict[str, Any]) -> None:
        self._fills.append(values)
        self._fills_known.add(values["fill_id"])
        self._fills_checked.add(values["fill_id"])

    def audit(self, **entry: Any) -> None:
        self._audit.append(entry)

    # -- writing
    def write(self) -> None:
        """Write every change, new orders first (their unique client order ids decide between racing
        duplicates before anything else is written), the audit records last."""
        conn = self.conn
        if self._new_orders:
            conn.execute(_INSERT_ORDERS, [{k: v for k, v in vars(r).items() if k != "id"}
                                              for r in self._new_orders])
        changed = []
        for coid, was in self._orders_was.items():
            now = vars(self._orders[coid])
            if any(now[c] != was[c] for c in _ORDER_CHANGES):
                changed.append({"k_id": was["id"], **{f"v_{c}": now[c] for c in _ORDER_CHANGES}})
        if changed:
            conn.execute(_UPDATE_ORDERS, changed)
        if self._fills:
            conn.execute(_INSERT_FILLS, self._fills)
        if self._positions:
            fresh: list[dict[str, Any]] = []
            moved: list[dict[str, Any]] = []
            for symbol, row in self._positions.items():
                now, known = vars(row), self._positions_was.get(symbol)
                if known is None:
                    if now["qty"] != 0 or now["last_price"] is not None:
                        fresh.append(dict(now))
                elif any(now[c] != known[c] for c in _POSITION_CHANGES):
                    moved.append({"k_account": row.account, "k_symbol": symbol,
                                  **{f"v_{c}": now[c] for c in _POSITION_CHANGES}})
            if fresh:
                conn.execute(_INSERT_POSITIONS, fresh)
            if moved:
                conn.execute(_UPDATE_POSITIONS, moved)
        account = vars(self.account)
        if any(account[c] != self._account_was[c] for c in _ACCOUNT_CHANGES):
            conn.execute(_UPDATE_ACCOUNT, {"k_account": self.manager.account,
                                           **{f"v_{c}": account[c] for c in _ACCOUNT_CHANGES}})
        if self._audit:
            sink = self.manager.audit
            many = getattr(sink, "append_many", None)
            if many is not None:
                many(self.session, self._audit)
            else:
                for entry in self._audit:
                    sink.append(self.session, **entry)


class _OrderRate:
    """An account's orders of the last minute, by strategy (the order-rate limit), kept up to date
    from the orders committed since the last look rather than counted whole on every commit: at
    500 orders a second the minute holds 30,000. An account's orders are inserted under its row lock,
    so their ids grow in commit order and "after the last id seen" misses none. An order the broker
    rejects after it was counted stays counted until it is a minute old (the limit errs strict)."""

    def __init__(self) -> None:
        self._window: collections.deque[tuple[dt.datetime, str | None]] = collections.deque()
        self._counts: dict[str | None, int] = {}
        self._last_id: int | None = None

    def counts(self, book: _Book, now: dt.datetime) -> dict[str | None, int]:
        since = now - dt.timedelta(minutes=1)
        account = book.manager.account
        if not book.locked:
            # Without the lock, a later commit may hold a smaller id: count, and remember nothing.
            recent = book.conn.execute(_RECENT, {"account": account, "since": since})
            return {strategy: int(n) for strategy, n in recent}
        if self._last_id is None:
            rows = book.conn.execute(_RECENT_ROWS, {"account": account, "since": since})
        else:
            rows = book.conn.execute(_ROWS_AFTER, {"account": account, "after": self._last_id})
        for order_id, strategy, created_at, status in rows:
            self._last_id = order_id
            if status != OrderStatus.REJECTED.value and created_at >= since:
                self._window.append((created_at, strategy))
                self._counts[strategy] = self._counts.get(strategy, 0) + 1
        while self._window and self._window[0][0] < since:
            _, strategy = self._window.popleft()
            self._counts[strategy] -= 1
        return {strategy: n for strategy, n in self._counts.items() if n}


class _RiskView:
    """What the risk gate needs to know of an account, read once for a batch of orders and brought up
    to date as each is admitted: the orders before it in the batch count as open orders (quantity,
    order rate) and as exposure, as they would have had they been sent one by one."""

    def __init__(self, book: _Book, requests: Sequence[OrderRequest], now: dt.datetime) -> None:
        account = book.manager.account
        self.book = book
        self.positions = book.positions()
        self.limit_rows = [_limits_of(r) for r in book.conn.execute(_LIMITS_OF, {"account": account})]
        # The open quantities and the last minute's orders are read only when a rule looks at them:
        # with no limit that does, the gate's answer is the same whatever they are (a round trip
        # each, on every commit).
        self.pending: dict[tuple[str, str], D] = {}
        if book.account.trading_state == TradingState.REDUCING.value or any(
                limits.max_position_qty is not None or limits.max_gross_exposure is not None
                or limits.max_daily_loss is not None for limits in self.limit_rows):
            symbols = sorted({r.symbol for r in requests})
            for symbol, side, qty, filled in book.conn.execute(_OPEN_QTY, {"account": account, "symbols": symbols}):
                self.pending[(symbol, side)] = self.pending.get((symbol, side), D(0)) + qty - filled
        self.recent_by_strategy: dict[str | None, int] = {}
        if any(limits.max_orders_per_minute is not None for limits in self.limit_rows):
            self.recent_by_strategy = book.manager._order_rate.counts(book, now)
        self.recent = sum(self.recent_by_strategy.values())
        self.extra_gross = D(0)

    def context(self, request: OrderRequest, quote: PriceRef | None, now: dt.datetime) -> RiskContext:
        near = quote.for_side(request.side) if quote is not None else None
        position = D(0)
        gross = D(0)
        account = self.book.account
        equity = account.cash
        for p in self.positions.values():
            mark = near if (p.symbol == request.symbol and near is not None) else p.last_price
            if p.symbol == request.symbol:
                position = p.qty
            if mark is not None:
                gross += abs(p.qty) * mark
                equity += p.qty * mark
        today = now.date()
        if account.day != today or account.day_start_equity is None:
            account.day, account.day_start_equity = today, equity
        return RiskContext(trading_state=TradingState(account.trading_state), position=position,
                           pending_buy=self.pending.get((request.symbol, OrderSide.BUY.value), D(0)),
                           pending_sell=self.pending.get((request.symbol, OrderSide.SELL.value), D(0)),
                           gross_exposure=gross + self.extra_gross, daily_pnl=equity - account.day_start_equity,
                           recent_orders=self.recent,
                           recent_strategy_orders=self.recent_by_strategy.get(request.strategy, 0)
                           if request.strategy else 0, quote=near)

    def limits(self, request: OrderRequest) -> list[RiskLimits]:
        return [limits for limits in self.limit_rows if limits.strategy in ("", request.strategy or "")]

    def admit(self, request: OrderRequest, quote: PriceRef | None) -> None:
        """Count ``request`` as open for the orders after it."""
        key = (request.symbol, request.side.value)
        self.pending[key] = self.pending.get(key, D(0)) + request.qty
        self.recent += 1
        self.recent_by_strategy[request.strategy] = self.recent_by_strategy.get(request.strategy, 0) + 1
        price = order_price(request, quote.for_side(request.side) if quote is not None else None)
        self.extra_gross += request.qty * price if price is not None else D(0)


@attrs.define(kw_only=True, eq=False)
class _Pending:
    """An order waiting for the next commit: what was asked, by whom, the quote it arrived at, and the
    future its caller awaits (``None`` in a basket, which is decided whole)."""

    request: OrderRequest
    fingerprint: dict[str, Any]
    actor: str
    quote: PriceRef | None
    replaces: str | None = None
    caller: Identity | None = None
    trace: Any = None
    future: asyncio.Future[Order] | None = None

    def settle(self, outcome: Order | BaseException) -> None:
        if self.future is None or self.future.done():
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


class OrderManager:
    """Orders of one account at one broker; see the module docstring.

    :param storage: the database holding the order tables.
    :param broker: where the orders go.
    :param audit: where every state change is recorded (in the same transaction).
    :param quotes: the latest quote of a symbol, for the risk gate (``None``: no references, so
        market orders are rejected with ``no_price_reference``).
    :param initial_cash: the cash a new account starts with.
    :param stale_after: how old a ``new`` or ``unknown`` order must be before a lookup that does not
        find it at the broker may conclude it never arrived.
    :param clock: now, as aware UTC (tests move it).
    """

    def __init__(self, storage: Storage, broker: Broker, *, audit: AuditSink, account: str = "default",
                 quotes: PriceSource | None = None, gate: RiskGate | None = None,
                 initial_cash: D = D(0), stale_after: dt.timedelta = dt.timedelta(seconds=30),
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.storage = storage
        self.broker = broker
        self.audit = audit
        self.account = account
        self.quotes = quotes
        self.gate = gate or RiskGate()
        self.initial_cash = D(initial_cash)
        self.stale_after = stale_after
        self.clock = clock
        #: Set by a successful :meth:`reconcile`; while False, :meth:`submit` refuses new orders.
        self.reconciled = False
        self.last_reconcile: ReconcileReport | None = None
        #: Per event loop: the orders waiting for its next group commit (:meth:`_drain`).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Pending]] = \
            weakref.WeakKeyDictionary()
        self._drainers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = \
            weakref.WeakKeyDictionary()
        self._order_rate = _OrderRate()
        self._ensure_account()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> ReconcileReport:
        """Reconcile with the broker (new orders are refused until this succeeds)."""
        return await self.reconcile(actor="system:startup")

    def _ensure_account(self) -> None:
        now = self.clock()
        self.storage.insert_new(TradingAccountRow.__table__, {  # type: ignore[attr-defined]
            "account": self.account, "broker": self.broker.name, "cash": self.initial_cash,
            "currency": "USD", "trading_state": TradingState.ACTIVE.value, "reconcile_ok": False,
            "updated_at": now})
        with self.storage.session() as session:
            row = session.get(TradingAccountRow, self.account)
            if row is not None and row.broker != self.broker.name:
                raise NtConflict(f"account {self.account!r} trades at broker {row.broker!r}, not "
                                 f"{self.broker.name!r}; use another account name")

    def _lock_account(self, session: Session) -> TradingAccountRow:
        # Every write transaction takes the account's row first: one lock order, no deadlocks, and
        # the risk gate's reads cannot go stale before the order is stored.
        row = session.exec(select(TradingAccountRow).where(TradingAccountRow.account == self.account)
                           .with_for_update()).one()
        return row

    # -- reading -----------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> Order:
        with self.storage.session() as session:
            row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
        # Object-level check: another identity's order reads exactly like one that does not exist.
        if row is None or row.account != self.account or not may_see_owner(row.owner):
            raise NtNotFound(f"no order {client_order_id!r} in account {self.account!r}; orders.list shows them")
        return _order_of(row)

    def reason_code(self, client_order_id: str) -> str | None:
        with self.storage.session() as session:
            row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
        return None if row is None else row.reason_code

    def list_orders(self, *, status: Iterable[OrderStatus] | None = None, symbol: str | None = None,
             open_only: bool = False, limit: int = 1000) -> list[Order]:
        """Orders of the account the caller may see (:func:`may_see_owner`), oldest first."""
        return self._orders(status=status, symbol=symbol, open_only=open_only, limit=limit, visible_only=True)

    def _orders(self, *, status: Iterable[OrderStatus] | None = None, symbol: str | None = None,
                open_only: bool = False, limit: int = 1000, visible_only: bool = False) -> list[Order]:
        """Orders of the account, oldest first; every caller's unless ``visible_only``."""
        query = select(OrderRow).where(OrderRow.account == self.account)
        mine = owner_clause(OrderRow.owner) if visible_only else None
        if mine is not None:
            query = query.where(mine)
        if open_only:
            query = query.where(col(OrderRow.status).in_(_OPEN))
        if status is not None:
            query = query.where(col(OrderRow.status).in_([OrderStatus(s).value for s in status]))
        if symbol is not None:
            query = query.where(OrderRow.symbol == symbol)
        with self.storage.session() as session:
            rows = session.exec(query.order_by(col(OrderRow.id)).limit(limit)).all()
        return [_order_of(r) for r in rows if not visible_only or may_see_owner(r.owner)]

    def positions(self) -> list[Position]:
        with self.storage.session() as session:
            rows = session.exec(select(PositionRow).where(PositionRow.account == self.account)
                                .order_by(col(PositionRow.symbol))).all()
        return [Position(symbol=r.symbol, qty=r.qty, avg_price=r.avg_price, realized_pnl=r.realized_pnl)
                for r in rows]

    def marks(self) -> dict[str, D | None]:
        """The latest price of each held symbol the manager knows (its last fill), by symbol."""
        with self.storage.session() as session:
            rows = session.exec(select(PositionRow).where(PositionRow.account == self.account)).all()
        return {r.symbol: r.last_price for r in rows}

    def fills(self) -> list[Fill]:
        with self.storage.session() as session:
            rows = session.exec(select(FillRow).where(FillRow.account == self.account)
                                .order_by(col(FillRow.id))).all()
        return [Fill(fill_id=r.fill_id, client_order_id=r.client_order_id, symbol=r.symbol, side=r.side,
                     qty=r.qty, price=r.price, commission=r.commission, time=r.time) for r in rows]

    def cash(self) -> D:
        with self.storage.session() as session:
            row = session.get(TradingAccountRow, self.account)
        assert row is not None
        return row.cash

    def trading_state(self) -> tuple[TradingState, str | None]:
        with self.storage.session() as session:
            row = session.get(TradingAccountRow, self.account)
        assert row is not None
        return TradingState(row.trading_state), row.state_reason

    # -- submit ------------------------------------------------------------------------------------
    async def submit(self, request: OrderRequest, *, actor: str) -> Order:
        """Check, store, then send ``request``; see the module docstring. A rejected order comes back
        with status ``rejected`` (its code: :meth:`reason_code`)."""
        return await self._submit(request, actor=actor, replaces=None)

    async def _submit(self, request: OrderRequest, *, actor: str, replaces: str | None) -> Order:
        fingerprint = _fingerprint(request, account=self.account, broker=self.broker.name)
        if not self.reconciled:
            # A stored order still answers a retry; a new one waits for reconciliation.
            if (found := self._stored(request.client_order_id, fingerprint)) is not None:
                return found
            self._refuse_unreconciled()
        quote = await self._quote(request.symbol)
        from opentelemetry import context as otel_context

        loop = asyncio.get_running_loop()
        pending = _Pending(request=request, fingerprint=fingerprint, actor=actor, quote=quote, replaces=replaces,
                           caller=current_caller(), trace=otel_context.get_current(), future=loop.create_future())
        self._queues.setdefault(loop, []).append(pending)
        drainer = self._drainers.get(loop)
        if drainer is None or drainer.done():
            # Its own context: the batch belongs to no one caller (each order keeps its own).
            self._drainers[loop] = loop.create_task(self._drain(loop), context=contextvars.Context())
        assert pending.future is not None
        # Shielded: a caller that goes away does not take its order out of the commit.
        return await asyncio.shield(pending.future)

    def _refuse_unreconciled(self) -> None:
        if not self.reconciled:
            detail = self.last_reconcile.error if self.last_reconcile is not None else "it has not run yet"
            raise NtUnavailable(f"trading is refused until reconciliation with broker {self.broker.name!r} "
                                f"succeeds ({detail}); run the reconciliation again")

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Group commit: the orders that arrived (on ``loop``) while the last batch was at the broker
        are admitted in one transaction and sent together; the broker's answers are recorded in the
        next transaction, with the admission of the orders that arrived meanwhile (one commit, not
        two), and their callers answered once it is committed."""
        queue = self._queues[loop]
        answered: list[tuple[_Pending, Order, BrokerOrder | BaseException]] = []
        while queue or answered:
            batch: list[_Pending] = []
            held: list[_Pending] = []
            ids: set[str] = set()
            for pending in queue[:_BATCH]:
                # The same client order id twice: the second waits for the next commit, where it
                # finds the first stored.
                (held if pending.request.client_order_id in ids else batch).append(pending)
                ids.add(pending.request.client_order_id)
            queue[:] = held + queue[_BATCH:]
            recording = [pending for pending, _, _ in answered]
            try:
                recorded, decided = self._commit(answered, batch)
                answered = []
                for pending, result in zip(recording, recorded, strict=True):
                    pending.settle(result)
                to_send: list[tuple[_Pending, Order]] = []
                for pending, outcome in zip(batch, decided, strict=True):
                    if isinstance(outcome, tuple):
                        order, rejection = outcome
                        if rejection is None:
                            to_send.append((pending, order))  # this commit stored it: only it sends it
                            continue
                        outcome = order
                    pending.settle(outcome)
                if to_send:
                    answers = await self._ask_broker(to_send)
                    answered = [(pending, order, answer) for (pending, order), answer in zip(to_send, answers,
                                                                                             strict=True)]
            except BaseException as exc:  # never leave a caller waiting
                for pending in [*recording, *batch]:
                    pending.settle(exc)
                answered = []
                if not isinstance(exc, Exception):
                    raise

    def _commit(self, answered: Sequence[tuple[_Pending, Order, BrokerOrder | BaseException]],
                batch: Sequence[_Pending]) -> tuple[list[Order | BaseException],
                                                    list[tuple[Order, RiskRejection | None] | Order | BaseException]]:
        """One transaction: the broker's ``answered`` recorded, then ``batch`` admitted (the gate sees
        the fills just booked). Per answered order, what it now is (or its caller's error); per order
        of the batch, as :meth:`_admit_each`. If the transaction fails, each part on its own."""
        sent = [(pending.actor, order, answer) for pending, order, answer in answered]
        if not sent:
            return [], self._admit_each(batch)
        if not batch:
            return self._record_each(sent), []
        try:
            with self.storage.session(write=True) as session:
                book = _Book(self, session)
                recorded = self._record_into(book, sent)
                decided = self._admit_into(book, batch, basket=False)
                book.write()
        except Exception:
            return self._record_each(sent), self._admit_each(batch)
        return recorded, self._with_stored(batch, decided)

    def _admit_each(self, batch: Sequence[_Pending]) -> list[tuple[Order, RiskRejection | None] | Order | BaseException]:
        """The batch admitted in one transaction: per order, what the gate decided, or for a client
        order id stored before, the order stored under it (never sent again) or the conflict. If the
        transaction fails (a duplicate another caller stored meanwhile, a database error), each order
        on its own, so that one order's failure is its own."""
        try:
            decided = self._admit_batch(batch)
        except Exception as exc:
            if len(batch) > 1:
                return [outcome for pending in batch for outcome in self._admit_each([pending])]
            if isinstance(exc, IntegrityError):
                return [self._stored_for(batch[0], exc)]
            return [exc]
        return self._with_stored(batch, decided)

    def _with_stored(self, batch: Sequence[_Pending], decided: Sequence[tuple[Order, RiskRejection | None] | None]
                     ) -> list[tuple[Order, RiskRejection | None] | Order | BaseException]:
        """What admission decided per order, with the stored order (or the conflict) in place of each
        ``None``: a client order id stored before."""
        return [self._stored_for(p) if d is None else d for p, d in zip(batch, decided, strict=True)]

    def _stored_for(self, pending: _Pending, error: BaseException | None = None) -> Order | BaseException:
        """The order stored under ``pending``'s client order id, as its caller may see it (or the
        conflict, or ``error`` when there is none after all)."""
        try:
            with contextlib.ExitStack() as stack:
                if pending.caller is not None:
                    stack.enter_context(bound_caller(pending.caller))
                found = self._stored(pending.request.client_order_id, pending.fingerprint)
        except NtError as conflict:
            return conflict
        if found is not None:
            return found
        return error or NtConflict(f"client order id {pending.request.client_order_id!r} was stored and is gone")

    def _stored(self, client_order_id: str, fingerprint: dict[str, Any]) -> Order | None:
        with self.storage.session() as session:
            row = session.connection().execute(_ORDER_BY_ID, {"coid": client_order_id}).first()
        if row is None:
            return None
        if not may_see_owner(row.owner):
            raise NtConflict(f"client order id {client_order_id!r} is already used; use a new client order id")
        if row.fingerprint != fingerprint:
            differ = sorted(k for k in set(row.fingerprint) | set(fingerprint)
                            if row.fingerprint.get(k) != fingerprint.get(k))
            raise NtConflict(f"client order id {client_order_id!r} is already used by a different order "
                             f"(differs in {', '.join(differ)}); use a new client order id",
                             details={"client_order_id": client_order_id, "differs": differ})
        return _order_of(row)

    async def _quote(self, symbol: str) -> PriceRef | None:
        if self.quotes is None:
            return None
        try:
            return await self.quotes(symbol)
        except NtError as exc:
            # No reference is not a made-up price: the gate rejects what needs one.
            log.info("no quote for %s: %s", symbol, exc)
            return None

    def _new_order(self, request: OrderRequest, fingerprint: dict[str, Any], *, owner: str, now: dt.datetime,
                   rejection: RiskRejection | None = None, replaces: str | None = None,
                   adopted: bool = False) -> dict[str, Any]:
        """Every column of a new ``orders`` row."""
        return {
            "id": None, "client_order_id": request.client_order_id, "account": self.account,
            "broker": self.broker.name, "broker_order_id": None, "symbol": request.symbol,
            "side": request.side.value, "qty": request.qty, "type": request.type.value,
            "time_in_force": request.time_in_force.value,
            **{name: getattr(request, name) for name in _PRICE_FIELDS},
            "status": (OrderStatus.REJECTED if rejection else OrderStatus.NEW).value, "filled_qty": D(0),
            "avg_fill_price": None, "reason_code": rejection.code.value if rejection else None,
            "reason": rejection.message[:500] if rejection else None, "fingerprint": fingerprint,
            "strategy": request.strategy, "owner": owner[:200], "replaces": replaces, "replaced_by": None,
            "legs": None,
            "adopted": adopted, "created_at": now, "updated_at": now}

    @staticmethod
    def _arrival(request: OrderRequest, quote: PriceRef | None) -> dict[str, D | None] | None:
        # The market when the order arrived, kept in its audit record: execution analytics measure
        # slippage against it.
        if quote is None:
            return None
        return {"bid": quote.bid, "ask": quote.ask, "last": quote.last, "price": quote.for_side(request.side)}

    def _admit_batch(self, batch: Sequence[_Pending], *,
                     basket: bool = False) -> list[tuple[Order, RiskRejection | None] | None]:
        """Check ``batch`` against the risk gate and store it, in one transaction (:meth:`_admit_into`)."""
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            decided = self._admit_into(book, batch, basket=basket)
            book.write()
        return decided

    def _admit_into(self, book: _Book, batch: Sequence[_Pending], *,
                    basket: bool) -> list[tuple[Order, RiskRejection | None] | None]:
        """Check ``batch`` against the risk gate, in order, and add it to ``book``. Each order is
        checked against the account and the orders before it (:class:`_RiskView`); ``None`` for one
        whose client order id is stored already (left as it is). In a ``basket`` it is all or none:
        one rejection stores every order ``rejected`` (the others with reason code ``basket``)."""
        now = self.clock()
        taken = set(book.conn.execute(_TAKEN, {"ids": [p.request.client_order_id for p in batch]}).scalars())
        if taken and basket:
            raise IntegrityError("a basket's client order id is stored already", None, ValueError())
        stored = [p.request.client_order_id in taken for p in batch]
        batch = [p for p in batch if p.request.client_order_id not in taken]
        if not batch:
            return [None] * len(stored)
        view = _RiskView(book, [p.request for p in batch], now)
        rejections: list[RiskRejection | None] = []
        for pending in batch:
            rejection = self.gate.check(pending.request, view.context(pending.request, pending.quote, now),
                                        view.limits(pending.request))
            rejections.append(rejection)
            if basket or rejection is None:
                view.admit(pending.request, pending.quote)
        first = next(((p, r) for p, r in zip(batch, rejections, strict=True) if r is not None), None)
        rows = []
        for pending, rejection in zip(batch, rejections, strict=True):
            values = self._new_order(pending.request, pending.fingerprint, owner=pending.actor, now=now,
                                     rejection=rejection, replaces=pending.replaces)
            if basket and first is not None and rejection is None:
                culprit, why = first
                values.update(status=OrderStatus.REJECTED.value, reason_code="basket", reason=(
                    f"not sent: order {culprit.request.client_order_id} of the basket was rejected "
                    f"({why.code.value})")[:500])
            rows.append(book.add_order(values))
            if pending.replaces is not None:
                book.order(pending.replaces).replaced_by = pending.request.client_order_id
        names = [p.request.client_order_id for p in batch]
        for pending, row in zip(batch, rows, strict=True):
            payload = {**pending.fingerprint, "basket": names} if basket else pending.fingerprint
            book.audit(actor=pending.actor, action="order.submit", target=row.client_order_id, payload=payload,
                       result={**_state(row), "arrival": self._arrival(pending.request, pending.quote)}, at=now)
        out: list[tuple[Order, RiskRejection | None] | None] = []
        decided = iter(zip(rows, rejections, strict=True))
        for was_stored in stored:
            if was_stored:
                out.append(None)
            else:
                row, rejection = next(decided)
                out.append((_order_of(row), rejection))
        return out

    # -- previews and baskets ------------------------------------------------------------------------
    async def simulate(self, request: OrderRequest, *, quote: PriceRef | None = None) -> tuple[RiskRejection | None,
                                                                                               PriceRef | None]:
        """What the risk gate would say of ``request`` now, and the quote it used; nothing is kept."""
        if quote is None:
            quote = await self._quote(request.symbol)
        now = self.clock()
        with self.storage.session() as session:
            book = _Book(self, session, lock=False)
            view = _RiskView(book, [request], now)
            rejection = self.gate.check(request, view.context(request, quote, now), view.limits(request))
        return rejection, quote

    async def submit_many(self, requests: Sequence[OrderRequest], *, actor: str) -> tuple[list[Order], bool]:
        """A basket, all or none: every order passes the risk gate in one transaction, each seeing the
        orders of the basket before it (open quantity, order rate, gross exposure), before any is sent.
        If one is rejected, every order of the basket is stored ``rejected`` (the others with reason
        code ``basket``) and none reaches the broker. Returns the orders and whether they were admitted;
        retrying the same basket returns the same orders."""
        ids = [r.client_order_id for r in requests]
        if not ids:
            raise NtUserError("a basket needs at least one order")
        if len(set(ids)) != len(ids):
            raise NtUserError("every order of a basket needs its own client order id")
        prints = [_fingerprint(r, account=self.account, broker=self.broker.name) for r in requests]
        stored = [self._stored(coid, fp) for coid, fp in zip(ids, prints, strict=True)]
        if all(o is not None for o in stored):
            return [o for o in stored if o is not None], self._basket_admitted(ids)
        if any(o is not None for o in stored):
            used = [coid for coid, o in zip(ids, stored, strict=True) if o is not None]
            raise NtConflict(f"client order ids {', '.join(used[:5])} are already used and the others are not: a "
                             "basket is stored whole; use new client order ids for all of it",
                             details={"used": used})
        self._refuse_unreconciled()
        quotes = {s: await self._quote(s) for s in dict.fromkeys(r.symbol for r in requests)}
        basket = [_Pending(request=r, fingerprint=fp, actor=actor, quote=quotes[r.symbol])
                  for r, fp in zip(requests, prints, strict=True)]
        try:
            decided = self._admit_batch(basket, basket=True)
        except IntegrityError:
            again = [self._stored(coid, fp) for coid, fp in zip(ids, prints, strict=True)]
            if any(o is None for o in again):
                raise
            return [o for o in again if o is not None], self._basket_admitted(ids)
        admitted = [d for d in decided if d is not None]  # none was stored: a stored one raises above
        orders = [order for order, _ in admitted]
        if any(rejection is not None for _, rejection in admitted):
            return orders, False
        sent = await self._send_batch(list(zip(basket, orders, strict=True)))
        for outcome in sent:
            if isinstance(outcome, BaseException):
                raise outcome
        return [o for o in sent if isinstance(o, Order)], True

    def _basket_admitted(self, ids: Sequence[str]) -> bool:
        """Whether a stored basket passed the gate (a broker's later refusal does not undo that)."""
        gate = {code.value for code in RejectCode} | {"basket"}
        return not any(self.reason_code(coid) in gate for coid in ids)

    # -- sending -------------------------------------------------------------------------------------
    async def _send_batch(self, sent: Sequence[tuple[_Pending, Order]]) -> list[Order | BaseException]:
        """Send admitted orders and record the answers in one transaction; per order, what it now is
        or the error its caller gets."""
        answers = await self._ask_broker(sent)
        return self._record_each([(p.actor, order, answer) for (p, order), answer in zip(sent, answers, strict=True)])

    async def _ask_broker(self, sent: Sequence[tuple[_Pending, Order]]) -> list[BrokerOrder | BaseException]:
        """Send admitted orders (together, where the broker takes several at once); per order, the
        broker's answer or what it raised."""
        from opentelemetry import context as otel_context

        from neural_trader.tracing import span

        requests = [order.request for _, order in sent]
        many = getattr(self.broker, "submit_many", None)
        token = otel_context.attach(sent[0][0].trace) if sent[0][0].trace is not None else None
        try:
            with span(f"broker {self.broker.name}.submit", client_order_id=requests[0].client_order_id,
                      orders=len(requests)):
                if many is not None and len(requests) > 1:
                    try:
                        return list(await many(requests))
                    except Exception as exc:
                        return [exc] * len(requests)
                return list(await asyncio.gather(*(self.broker.submit(r) for r in requests), return_exceptions=True))
        finally:
            if token is not None:
                otel_context.detach(token)

    def _record_each(self, sent: Sequence[tuple[str, Order, BrokerOrder | BaseException]]) -> list[Order | BaseException]:
        """The broker's answers recorded in one transaction; if that fails, each on its own."""
        try:
            with self.storage.session(write=True) as session:
                book = _Book(self, session)
                out = self._record_into(book, sent)
                book.write()
            return out
        except Exception as exc:
            if len(sent) > 1:
                return [outcome for one in sent for outcome in self._record_each([one])]
            return [exc]

    def _record_into(self, book: _Book, sent: Sequence[tuple[str, Order, BrokerOrder | BaseException]]
                     ) -> list[Order | BaseException]:
        """The broker's answers recorded in ``book``: per order, what it now is or its caller's error."""
        book.load_orders(order.client_order_id for _, order, _ in sent)
        book.check_fills((f.fill_id for _, order, a in sent if isinstance(a, BrokerOrder) for f in a.fills),
                         unfilled=[order.client_order_id for _, order, _ in sent])
        return [self._answered(book, actor, order, answer) for actor, order, answer in sent]

    def _answered(self, book: _Book, actor: str, order: Order, answer: BrokerOrder | BaseException) -> Order | BaseException:
        coid, name = order.client_order_id, self.broker.name
        if isinstance(answer, BrokerOrder):
            return self._sync(book, book.order(coid), answer, actor=f"broker:{name}")[0]
        if isinstance(answer, NtUnavailable):
            return self._mark_in(book, coid, OrderStatus.UNKNOWN, actor=actor, action="order.unknown",
                                 reason=f"sent to {name}, answer lost: {answer.message}")
        if isinstance(answer, NtError):
            return self._mark_in(book, coid, OrderStatus.REJECTED, actor=actor, action="order.reject",
                                 reason=f"{name} refused it: {answer.message}", reason_code="broker")
        # Whatever went wrong, the request may have left: unknown, resolved only by lookup.
        self._mark_in(book, coid, OrderStatus.UNKNOWN, actor=actor, action="order.unknown",
                      reason=f"sending to {name} failed: {type(answer).__name__}: {answer}")
        return answer

    def _mark(self, client_order_id: str, status: OrderStatus, *, actor: str, action: str, reason: str,
              reason_code: str | None = None) -> Order:
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            order = self._mark_in(book, client_order_id, status, actor=actor, action=action, reason=reason,
                                  reason_code=reason_code)
            book.write()
        return order

    def _mark_in(self, book: _Book, client_order_id: str, status: OrderStatus, *, actor: str, action: str,
                 reason: str, reason_code: str | None = None) -> Order:
        now = self.clock()
        row = book.order(client_order_id)
        current = _order_of(row)
        if current.status is status:
            return current
        updated = current.transition(status, at=now, reason=reason)
        _store(row, updated)
        if reason_code is not None:
            row.reason_code = reason_code
        book.audit(actor=actor, action=action, target=client_order_id, payload={"from": current.status.value},
                   result=_state(row), at=now)
        return updated

    # -- broker answers and fills --------------------------------------------------------------------
    def record(self, answer: BrokerOrder, *, actor: str) -> Order:
        """Bring the stored order up to what the broker says (``answer``): its id, its new fills (each
        applied once), and its status. A stale report that would move the order backwards changes
        nothing; one transaction."""
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            order, _notes = self._sync(book, self._row_for(book, answer, actor=actor), answer, actor=actor)
            book.write()
        return order

    def _row_for(self, book: _Book, answer: BrokerOrder, *, actor: str) -> SimpleNamespace:
        """The stored order ``answer`` is about; a bracket leg the broker reports for the first time is
        stored first, under its entry's owner (:meth:`_store_leg`)."""
        try:
            return book.order(answer.client_order_id)
        except NtNotFound:
            if answer.parent is None:
                raise
            return self._store_leg(book, book.order(answer.parent), answer, actor=actor)

    def _store_leg(self, book: _Book, entry: SimpleNamespace, leg: BrokerOrder, *, actor: str) -> SimpleNamespace:
        """A bracket leg the broker opened when the entry ``entry`` filled, stored as a new order of the
        entry's owner, linked to it (``parent`` in its fingerprint). It is the broker's order: never
        sent, never checked by the risk gate (it only reduces the entry's position)."""
        coid = leg.client_order_id
        if leg.request is None or not _is_leg_of(entry, leg):
            raise NtConflict(f"broker {self.broker.name!r} reports {coid!r} as a leg of {entry.client_order_id!r}, "
                             "which it is not; reconcile and check the broker")
        fingerprint = {**_fingerprint(leg.request, account=self.account, broker=self.broker.name),
                       "parent": entry.client_order_id}
        now = self.clock()
        row = book.add_order(self._new_order(leg.request, fingerprint, owner=entry.owner, now=now))
        entry.legs = [*(entry.legs or []), coid]
        book.audit(actor=actor, action="order.leg", target=coid, payload=fingerprint, result=_state(row), at=now)
        return row

    def _sync(self, book: _Book, row: SimpleNamespace, answer: BrokerOrder, *, actor: str) -> tuple[Order, list[str]]:
        now = self.clock()
        notes: list[str] = []
        if (clash := self._other_broker_order(row, answer)) is not None:
            raise NtConflict(clash, details={"client_order_id": row.client_order_id,
                                             "broker_order_id": row.broker_order_id,
                                             "reported_broker_order_id": answer.broker_order_id})
        order = _order_of(row)
        before = _state(row)
        if answer.broker_order_id and order.broker_order_id != answer.broker_order_id:
            order = attrs.evolve(order, broker_order_id=answer.broker_order_id, updated_at=now)
        fresh = [fill for fill in answer.fills if not book.applied(fill.fill_id)]
        if answer.filled_qty > 0 and order.filled_qty + sum(f.qty for f in fresh) > answer.filled_qty:
            # The new fills add up past the broker's own total: they restate fills we hold (a broker
            # that reports "the fill since" a baseline it was not told, as Alpaca's lookup does for an
            # order partly filled before a restart). The total decides: what it adds is booked below.
            notes.append(f"fills {', '.join(f.fill_id for f in fresh)} restate fills already applied; booked "
                         "from the broker's totals")
            fresh = []
        for fill in fresh:
            if (applied := self._apply_fill(book, order, fill, actor=actor)) is not None:
                order = applied
                notes.append(f"fill {fill.fill_id} applied")
        missing = answer.filled_qty - order.filled_qty
        if missing > 0 and answer.avg_fill_price is not None:
            # The broker reports more filled than the fills it listed: book the difference as one
            # fill whose price keeps the broker's average (its id makes a repeat a no-op).
            paid = answer.avg_fill_price * answer.filled_qty - (order.avg_fill_price or D(0)) * order.filled_qty
            price = paid / missing if paid > 0 else answer.avg_fill_price
            fill = Fill(fill_id=f"{answer.broker_order_id}:filled:{format(answer.filled_qty.normalize(), 'f')}",
                        client_order_id=order.client_order_id, symbol=order.request.symbol,
                        side=order.request.side, qty=missing, price=price, time=now)
            if (applied := self._apply_fill(book, order, fill, actor=actor)) is not None:
                order = applied
                notes.append(f"{missing} filled at {price} (from the broker's totals)")
        target = answer.status
        if target is not order.status and not (target is OrderStatus.PARTIALLY_FILLED and order.filled_qty == 0):
            if target in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
                if order.status not in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
                    notes.append(f"broker says {target.value} but reported no fills we could apply")
            elif target in TRANSITIONS[order.status]:
                order = order.transition(target, at=now, reason=answer.reason or order.reason)
                notes.append(f"{order.client_order_id}: now {target.value}")
            else:
                log.info("order %s: ignored a stale %s report (it is %s)", order.client_order_id, target.value,
                         order.status.value)
        _store(row, order)
        if _state(row) != before:
            book.audit(actor=actor, action="order.update", target=row.client_order_id,
                       payload={"broker": answer.status.value, "from": before}, result=_state(row), at=now)
        for leg in answer.legs:
            # A bracket's exit legs, working once the entry filled: stored the first time they are seen.
            book.load_orders([leg.client_order_id])
            known = book._orders.get(leg.client_order_id)
            if known is not None and (known.fingerprint or {}).get("parent") != row.client_order_id:
                raise NtConflict(f"client order id {leg.client_order_id!r} is used by another order, and broker "
                                 f"{self.broker.name!r} reports it as a leg of {row.client_order_id!r}")
            if known is None:
                leg_row = self._store_leg(book, row, leg, actor=actor)
            else:
                leg_row = known
                if known.client_order_id not in (row.legs or ()):  # stored before orders.legs existed
                    row.legs = [*(row.legs or []), known.client_order_id]
            _, leg_notes = self._sync(book, leg_row, leg, actor=actor)
            notes.extend(leg_notes)
        if answer.legs and row.legs:
            order = attrs.evolve(order, stored_legs=tuple(row.legs))
        return order, notes

    def apply_fill(self, fill: Fill, *, actor: str) -> bool:
        """Apply one fill a broker pushed (order, position and cash in one transaction); False when
        it was applied before."""
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            row = book.order(fill.client_order_id)
            applied = self._apply_fill(book, _order_of(row), fill, actor=actor)
            if applied is not None:
                _store(row, applied)
            book.write()
        return applied is not None

    def _apply_fill(self, book: _Book, order: Order, fill: Fill, *, actor: str) -> Order | None:
        if book.applied(fill.fill_id):
            return None
        updated = order.with_fill(fill)
        book.add_fill({"broker": self.broker.name, "fill_id": fill.fill_id, "client_order_id": fill.client_order_id,
                       "account": self.account, "symbol": fill.symbol, "side": fill.side.value, "qty": fill.qty,
                       "price": fill.price, "commission": fill.commission, "time": fill.time})
        prow = book.position(fill.symbol)
        position = Position(symbol=fill.symbol, qty=prow.qty, avg_price=prow.avg_price,
                            realized_pnl=prow.realized_pnl).apply(fill)
        prow.qty, prow.avg_price, prow.realized_pnl = position.qty, position.avg_price, position.realized_pnl
        prow.last_price, prow.updated_at = fill.price, fill.time
        account = book.account
        account.cash = account.cash - fill.signed_qty * fill.price - fill.commission
        account.updated_at = self.clock()
        book.audit(actor=actor, action="order.fill", target=fill.client_order_id, payload=fill,
                   result={"position": position, "cash": account.cash, "status": updated.status.value},
                   at=self.clock())
        return updated

    # -- cancel and replace --------------------------------------------------------------------------
    async def cancel(self, client_order_id: str, *, actor: str) -> Order:
        """Ask the broker to cancel; the order as it then stands (a filled order stays filled)."""
        order = self.get(client_order_id)
        if order.status is OrderStatus.CANCELED:
            return order
        if order.status.terminal:
            raise NtConflict(f"order {client_order_id!r} is {order.status.value}; only an open order can be "
                             "cancelled")
        try:
            answer = await self.broker.cancel(client_order_id)
        except NtUnavailable as exc:
            if OrderStatus.PENDING_CANCEL in TRANSITIONS[order.status]:
                return self._mark(client_order_id, OrderStatus.PENDING_CANCEL, actor=actor, action="order.cancel",
                                  reason=f"cancel sent, answer lost: {exc.message}")
            raise
        except NtNotFound:
            found = await self.broker.lookup(client_order_id)
            if found is None:
                if order.status in (OrderStatus.NEW, OrderStatus.UNKNOWN) and self._stale(order):
                    return self._mark(client_order_id, OrderStatus.CANCELED, actor=actor, action="order.cancel",
                                      reason=f"never reached {self.broker.name}")
                raise
            answer = found
        return self.record(answer, actor=actor)

    async def cancel_all(self, *, actor: str) -> list[Order]:
        """Cancel every open order of the account; each as it then stands."""
        out = []
        for order in self.list_orders(open_only=True):
            try:
                out.append(await self.cancel(order.client_order_id, actor=actor))
            except NtError as exc:
                log.warning("could not cancel %s: %s", order.client_order_id, exc)
                out.append(self.get(order.client_order_id))
        return out

    async def replace(self, client_order_id: str, *, actor: str, new_client_order_id: str | None = None,
                      **changes: Any) -> Order:
        """Cancel ``client_order_id`` and submit it again with ``changes`` (qty, prices, time in force)
        under a new client order id (default: ``<old>.r1``, ``.r2``...), linked to the old one.
        Retrying a replace returns the order that replaced it."""
        with self.storage.session() as session:
            row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
        if row is None or row.account != self.account or not may_see_owner(row.owner):
            raise NtNotFound(f"no order {client_order_id!r} in account {self.account!r}")
        if row.replaced_by is not None:
            return self.get(row.replaced_by)
        old = _order_of(row)
        canceled = await self.cancel(client_order_id, actor=actor)
        if canceled.status is not OrderStatus.CANCELED:
            raise NtConflict(f"order {client_order_id!r} is {canceled.status.value}, not cancelled; it was not "
                             "replaced")
        if new_client_order_id is None:
            match = _REPLACED.match(client_order_id)
            base, n = (match.group(1), int(match.group(2)) + 1) if match else (client_order_id, 1)
            suffix = f".r{n}"
            new_client_order_id = base[:128 - len(suffix)] + suffix
        changes.setdefault("qty", old.request.qty - canceled.filled_qty)
        request = attrs.evolve(old.request, client_order_id=new_client_order_id, **changes)
        return await self._submit(request, actor=actor, replaces=client_order_id)

    # -- unknown orders, reconciliation ----------------------------------------------------------------
    def _stale(self, order: Order) -> bool:
        return self.clock() - order.updated_at >= self.stale_after

    async def resolve_unknown(self, *, actor: str = "system:resolve") -> list[Order]:
        """Look every ``unknown`` order (and every ``new`` one left by a stopped process) up at the
        broker by its client order id and record the answer. One the broker does not have, once it is
        stale, never arrived: it is cancelled (it was never sent twice, and is not sent now)."""
        out = []
        for order in self._orders(status=[OrderStatus.UNKNOWN, OrderStatus.NEW]):
            if order.status is OrderStatus.NEW and not self._stale(order):
                continue  # being sent right now
            found = await self.broker.lookup(order.client_order_id)
            if found is not None:
                out.append(self.record(found, actor=actor))
            elif self._stale(order):
                out.append(self._mark(order.client_order_id, OrderStatus.CANCELED, actor=actor,
                                      action="order.resolve", reason=f"never reached {self.broker.name}"))
            else:
                out.append(order)
        return out

    async def reconcile(self, *, actor: str = "system:reconcile") -> ReconcileReport:
        """Compare open orders, fills and positions with the broker and repair what can be repaired:
        missed fills applied, orders the broker closed closed, orders placed outside the system
        adopted. Anything left different fails it, and new orders are refused until one succeeds."""
        now = self.clock()
        found: list[Discrepancy] = []
        adopted: list[str] = []
        error: str | None = None
        try:
            broker_open = {b.client_order_id: b for b in await self.broker.open_orders()}
            # Our bracket entries' legs first: once the entry filled, the broker lists each leg as an
            # open order of its own (Alpaca under ids it made up), which must be stored as ours and
            # synced, never adopted as placed outside the system.
            looked_up: dict[str, BrokerOrder | None] = {}
            for entry in self._unseen_legs():
                answer = broker_open.get(entry)
                if answer is None:
                    answer = looked_up[entry] = await self.broker.lookup(entry)
                if answer is None or answer.filled_qty == 0:
                    continue
                if not answer.legs and callable(legs_of := getattr(self.broker, "legs", None)):
                    answer = attrs.evolve(answer, legs=tuple(await legs_of(entry)))
                new = [leg.client_order_id for leg in answer.legs if not self._holds(leg.client_order_id)]
                found.extend(self._repair(answer, actor=actor))
                found.extend(Discrepancy(kind="bracket_leg", target=coid, repaired=True,
                                         detail=f"an exit leg of our bracket {entry}: stored") for coid in new)
            for coid, brief in broker_open.items():
                with self.storage.session() as session:
                    row = session.exec(select(OrderRow).where(OrderRow.client_order_id == coid)).first()
                full = brief if brief.fills or brief.filled_qty == 0 else (await self.broker.lookup(coid) or brief)
                if row is None and full.parent is not None and self._holds(full.parent):
                    found.extend(self._repair(full, actor=actor))
                    found.append(Discrepancy(kind="bracket_leg", target=coid, repaired=True,
                                             detail=f"an exit leg of our bracket {full.parent}: stored"))
                    continue
                if row is None:
                    found.append(self._adopt(full, actor=actor))
                    if found[-1].repaired:
                        adopted.append(coid)
                    continue
                if OrderStatus(row.status).terminal:
                    found.append(Discrepancy(kind="open_at_broker", target=coid, repaired=False,
                                             detail=f"the broker still works it; we hold it {row.status}"))
                    continue
                found.extend(self._repair(full, actor=actor))
            for order in self._orders(open_only=True):
                if order.client_order_id in broker_open:
                    continue
                if order.client_order_id in looked_up:
                    answer = looked_up[order.client_order_id]
                else:
                    answer = await self.broker.lookup(order.client_order_id)
                if answer is not None:
                    found.extend(self._repair(answer, actor=actor))
                elif order.status in (OrderStatus.NEW, OrderStatus.UNKNOWN):
                    if self._stale(order):
                        self._mark(order.client_order_id, OrderStatus.CANCELED, actor=actor, action="order.resolve",
                                   reason=f"never reached {self.broker.name}")
                        found.append(Discrepancy(kind="never_sent", target=order.client_order_id, repaired=True,
                                                 detail="not at the broker: cancelled, not sent"))
                else:
                    found.append(Discrepancy(kind="missing_at_broker", target=order.client_order_id,
                                             repaired=False, detail=f"we hold it {order.status.value}; the "
                                                                    "broker does not know it"))
            ours = {p.symbol: p.qty for p in self.positions() if p.qty != 0}
            theirs = {p.symbol: p.qty for p in await self.broker.positions() if p.qty != 0}
            for symbol in sorted(set(ours) | set(theirs)):
                if ours.get(symbol, D(0)) != theirs.get(symbol, D(0)):
                    found.append(Discrepancy(kind="position", target=symbol, repaired=False,
                                             detail=f"we hold {ours.get(symbol, D(0))}, the broker "
                                                    f"{theirs.get(symbol, D(0))}"))
        except NtError as exc:
            error = f"{type(exc).__name__}: {exc.message}"
        unresolved = [d for d in found if not d.repaired]
        ok = error is None and not unresolved
        if error is None and unresolved:
            error = "; ".join(f"{d.kind} {d.target}: {d.detail}" for d in unresolved)
        report = ReconcileReport(ok=ok, discrepancies=tuple(found), adopted=tuple(adopted), error=error, at=now)
        with self.storage.session(write=True) as session:
            account = self._lock_account(session)
            account.reconciled_at, account.reconcile_ok = now, ok
            account.reconcile_error = None if error is None else error[:2000]
            session.add(account)
            self.audit.append(session, actor=actor, action="orders.reconcile", target=self.account,
                              payload={"broker": self.broker.name}, result=report, at=now)
        self.reconciled = ok
        self.last_reconcile = report
        return report

    def _other_broker_order(self, row: SimpleNamespace, answer: BrokerOrder) -> str | None:
        """Why ``answer`` is not news of the order stored in ``row``, if it is not: the broker knows
        our client order id as an order with another broker id than the one it gave us (its account
        is not the one we sent to, such as keys changed to another account, or its book was reset).
        Its fills are not ours to book."""
        if not (row.broker_order_id and answer.broker_order_id) or row.broker_order_id == answer.broker_order_id:
            return None
        return (f"broker {self.broker.name!r} reports client order id {row.client_order_id!r} as its order "
                f"{answer.broker_order_id!r}, but it gave us {row.broker_order_id!r} for it: another order at "
                "the broker uses this client order id (is this the account the order was sent to?); the order "
                "is left as stored")

    def _repair(self, answer: BrokerOrder, *, actor: str) -> list[Discrepancy]:
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            row = self._row_for(book, answer, actor=actor)
            if (clash := self._other_broker_order(row, answer)) is not None:
                return [Discrepancy(kind="broker_order_id", target=answer.client_order_id, detail=clash,
                                    repaired=False)]
            _, notes = self._sync(book, row, answer, actor=actor)
            book.write()
        return [Discrepancy(kind="order", target=answer.client_order_id, detail=n, repaired=True) for n in notes]

    def _unseen_legs(self) -> list[str]:
        """Our bracket entries that have filled or may have (filled, partially filled, or still open
        here: it may have filled at the broker while we did not listen) with fewer than their two
        legs stored (``orders.legs``): their client order ids, oldest first. The broker opened those
        legs, and perhaps closed them."""
        with self.storage.session() as session:
            rows = session.connection().execute(
                sa.select(_ORDERS.c.client_order_id, _ORDERS.c.status, _ORDERS.c.filled_qty, _ORDERS.c.legs).where(
                    _ORDERS.c.account == self.account, _ORDERS.c.take_profit.is_not(None),
                    _ORDERS.c.status != OrderStatus.REJECTED.value).order_by(_ORDERS.c.id))
            return [coid for coid, status, filled, legs in rows
                    if (status in _OPEN or filled > 0) and len(legs or ()) < len(bracket_leg_ids(coid))]

    def _holds(self, client_order_id: str) -> bool:
        with self.storage.session() as session:
            account = session.connection().execute(sa.select(_ORDERS.c.account).where(
                _ORDERS.c.client_order_id == client_order_id)).scalar()
        return account == self.account

    def _adopt(self, answer: BrokerOrder, *, actor: str) -> Discrepancy:
        coid = answer.client_order_id
        if answer.request is None:
            return Discrepancy(kind="outside_order", target=coid, repaired=False,
                               detail="placed outside the system and the broker does not say what it is")
        now = self.clock()
        fingerprint = _fingerprint(answer.request, account=self.account, broker=self.broker.name)
        with self.storage.session(write=True) as session:
            book = _Book(self, session)
            row = book.add_order(self._new_order(answer.request, fingerprint, owner="outside", now=now, adopted=True))
            book.audit(actor=actor, action="order.adopt", target=coid, payload=fingerprint, result=_state(row), at=now)
            order, _ = self._sync(book, row, answer, actor=actor)
            book.write()
        return Discrepancy(kind="outside_order", target=coid, repaired=True,
                           detail=f"placed outside the system; adopted ({order.status.value}, "
                                  f"{order.filled_qty} filled)")

    # -- trading state and limits ------------------------------------------------------------------------
    async def set_trading_state(self, state: TradingState, *, actor: str, reason: str | None = None) -> list[Order]:
        """Switch the account's trading state; HALTED also cancels every open order (returned)."""
        state = TradingState(state)
        now = self.clock()
        with self.storage.session(write=True) as session:
            account = self._lock_account(session)
            before = account.trading_state
            account.trading_state, account.state_reason = state.value, reason
            account.state_changed_by, account.state_changed_at = actor[:200], now
            session.add(account)
            self.audit.append(session, actor=actor, action=f"trading.{state.value}", target=self.account,
                              payload={"from": before, "reason": reason}, result={"state": state.value}, at=now)
        if state is TradingState.HALTED:
            return await self.cancel_all(actor=actor)
        return []

    def set_limits(self, limits: RiskLimits, *, actor: str) -> None:
        """Store one set of limits (the account's, or a strategy's), replacing the one before."""
        if limits.account != self.account:
            raise NtConflict(f"limits for account {limits.account!r} given to the manager of {self.account!r}")
        now = self.clock()
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = session.exec(select(RiskLimitRow).where(RiskLimitRow.account == self.account,
                                                          RiskLimitRow.strategy == limits.strategy)).first()
            if row is None:
                row = RiskLimitRow(account=self.account, strategy=limits.strategy)
            for field in attrs.fields(RiskLimits):
                if field.name not in ("account", "strategy"):
                    setattr(row, field.name, getattr(limits, field.name))
            row.restricted_symbols = sorted(limits.restricted_symbols)
            row.updated_at = now
            session.add(row)
            self.audit.append(session, actor=actor, action="risk.limits.set", target=self.account,
                              payload=limits, result="stored", at=now)

    def limits(self) -> list[RiskLimits]:
        with self.storage.session() as session:
            rows = session.exec(select(RiskLimitRow).where(RiskLimitRow.account == self.account)
                                .order_by(col(RiskLimitRow.strategy))).all()
        return [_limits_of(r) for r in rows]

