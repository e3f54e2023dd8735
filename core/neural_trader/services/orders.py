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

import datetime as dt
import decimal
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
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
    Position,
    TradingState,
)
from neural_trader.errors import NtConflict, NtError, NtNotFound, NtUnavailable, NtUserError
from neural_trader.services.identity import may_see_owner, owner_clause
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


def _request_of(row: OrderRow) -> OrderRequest:
    return OrderRequest(
        client_order_id=row.client_order_id, symbol=row.symbol, side=row.side, qty=row.qty, type=row.type,
        time_in_force=row.time_in_force, strategy=row.strategy,
        **{name: getattr(row, name) for name in _PRICE_FIELDS})


def _order_of(row: OrderRow) -> Order:
    return Order(request=_request_of(row), status=row.status, broker=row.broker,
                 broker_order_id=row.broker_order_id, filled_qty=row.filled_qty,
                 avg_fill_price=row.avg_fill_price, reason=row.reason, created_at=row.created_at,
                 updated_at=row.updated_at)


def _store(row: OrderRow, order: Order) -> None:
    row.status = order.status.value
    row.filled_qty = order.filled_qty
    row.avg_fill_price = order.avg_fill_price
    row.broker_order_id = order.broker_order_id
    row.reason = None if order.reason is None else order.reason[:500]
    row.updated_at = order.updated_at


def _limits_of(row: RiskLimitRow) -> RiskLimits:
    return RiskLimits(
        account=row.account, strategy=row.strategy, max_order_qty=row.max_order_qty,
        max_order_notional=row.max_order_notional, max_position_qty=row.max_position_qty,
        max_gross_exposure=row.max_gross_exposure, max_daily_loss=row.max_daily_loss,
        max_orders_per_minute=row.max_orders_per_minute, price_collar=row.price_collar,
        restricted_symbols=row.restricted_symbols or [])


def _state(row: OrderRow) -> dict[str, Any]:
    return {"status": row.status, "filled_qty": row.filled_qty, "avg_fill_price": row.avg_fill_price,
            "broker_order_id": row.broker_order_id, "reason_code": row.reason_code, "reason": row.reason}


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

    def _lock_order(self, session: Session, client_order_id: str) -> OrderRow:
        row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)
                           .with_for_update()).first()
        if row is None or row.account != self.account:
            raise NtNotFound(f"no order {client_order_id!r} in account {self.account!r}")
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
        # A stored order answers a retry at once; the decision between racing duplicates is the
        # insert below, never this read.
        if (found := self._stored(request.client_order_id, fingerprint)) is not None:
            return found
        if not self.reconciled:
            detail = self.last_reconcile.error if self.last_reconcile is not None else "it has not run yet"
            raise NtUnavailable(f"trading is refused until reconciliation with broker {self.broker.name!r} "
                                f"succeeds ({detail}); run the reconciliation again")
        quote = await self._quote(request.symbol)
        try:
            order, rejected = self._admit(request, fingerprint, actor=actor, quote=quote, replaces=replaces)
        except IntegrityError:
            found = self._stored(request.client_order_id, fingerprint)
            if found is None:
                raise
            return found
        if rejected:
            return order
        return await self._send(order, actor=actor)

    def _stored(self, client_order_id: str, fingerprint: dict[str, Any]) -> Order | None:
        with self.storage.session() as session:
            row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
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

    def _context(self, session: Session, account: TradingAccountRow, request: OrderRequest,
                 quote: PriceRef | None, now: dt.datetime) -> RiskContext:
        positions = session.exec(select(PositionRow).where(PositionRow.account == self.account)).all()
        near = quote.for_side(request.side) if quote is not None else None
        position = D(0)
        gross = D(0)
        equity = account.cash
        for p in positions:
            mark = near if (p.symbol == request.symbol and near is not None) else p.last_price
            if p.symbol == request.symbol:
                position = p.qty
            if mark is not None:
                gross += abs(p.qty) * mark
                equity += p.qty * mark
        today = now.date()
        if account.day != today or account.day_start_equity is None:
            account.day, account.day_start_equity = today, equity
            session.add(account)
        open_rows = session.exec(select(OrderRow).where(
            OrderRow.account == self.account, OrderRow.symbol == request.symbol,
            col(OrderRow.status).in_(_OPEN))).all()
        pending = {OrderSide.BUY: D(0), OrderSide.SELL: D(0)}
        for r in open_rows:
            pending[OrderSide(r.side)] += r.qty - r.filled_qty
        since = now - dt.timedelta(minutes=1)
        recent = select(sa.func.count()).select_from(OrderRow).where(
            OrderRow.account == self.account, col(OrderRow.created_at) >= since,
            OrderRow.status != OrderStatus.REJECTED.value)
        recent_orders = session.exec(recent).one()
        recent_strategy = session.exec(recent.where(OrderRow.strategy == request.strategy)).one() \
            if request.strategy else 0
        return RiskContext(trading_state=TradingState(account.trading_state), position=position,
                           pending_buy=pending[OrderSide.BUY], pending_sell=pending[OrderSide.SELL],
                           gross_exposure=gross, daily_pnl=equity - account.day_start_equity,
                           recent_orders=int(recent_orders), recent_strategy_orders=int(recent_strategy),
                           quote=near)

    def _check(self, session: Session, account: TradingAccountRow, request: OrderRequest, quote: PriceRef | None,
               now: dt.datetime, *, extra_gross: D = D(0)) -> RiskRejection | None:
        context = self._context(session, account, request, quote, now)
        if extra_gross:
            context = attrs.evolve(context, gross_exposure=context.gross_exposure + extra_gross)
        limit_rows = session.exec(select(RiskLimitRow).where(
            RiskLimitRow.account == self.account,
            col(RiskLimitRow.strategy).in_(["", request.strategy or ""]))).all()
        return self.gate.check(request, context, [_limits_of(r) for r in limit_rows])

    def _new_row(self, request: OrderRequest, fingerprint: dict[str, Any], *, actor: str,
                 rejection: RiskRejection | None, replaces: str | None, now: dt.datetime) -> OrderRow:
        status = OrderStatus.REJECTED if rejection else OrderStatus.NEW
        return OrderRow(
            client_order_id=request.client_order_id, account=self.account, broker=self.broker.name,
            symbol=request.symbol, side=request.side.value, qty=request.qty, type=request.type.value,
            time_in_force=request.time_in_force.value, status=status.value, filled_qty=D(0),
            reason_code=rejection.code.value if rejection else None,
            reason=rejection.message[:500] if rejection else None, fingerprint=fingerprint,
            strategy=request.strategy, owner=actor[:200], replaces=replaces, created_at=now, updated_at=now,
            **{name: getattr(request, name) for name in _PRICE_FIELDS})

    @staticmethod
    def _arrival(request: OrderRequest, quote: PriceRef | None) -> dict[str, D | None] | None:
        # The market when the order arrived, kept in its audit record: execution analytics measure
        # slippage against it.
        if quote is None:
            return None
        return {"bid": quote.bid, "ask": quote.ask, "last": quote.last, "price": quote.for_side(request.side)}

    def _admit(self, request: OrderRequest, fingerprint: dict[str, Any], *, actor: str, quote: PriceRef | None,
               replaces: str | None) -> tuple[Order, bool]:
        now = self.clock()
        with self.storage.session(write=True) as session:
            account = self._lock_account(session)
            rejection = self._check(session, account, request, quote, now)
            row = self._new_row(request, fingerprint, actor=actor, rejection=rejection, replaces=replaces, now=now)
            session.add(row)
            session.flush()  # the unique client order id decides between racing duplicates here
            if replaces is not None:
                old = self._lock_order(session, replaces)
                old.replaced_by = request.client_order_id
                session.add(old)
            self.audit.append(session, actor=actor, action="order.submit", target=request.client_order_id,
                              payload=fingerprint, result={**_state(row), "arrival": self._arrival(request, quote)},
                              at=now)
            return _order_of(row), rejection is not None

    # -- previews and baskets ------------------------------------------------------------------------
    async def simulate(self, request: OrderRequest, *, quote: PriceRef | None = None) -> tuple[RiskRejection | None,
                                                                                               PriceRef | None]:
        """What the risk gate would say about ``request`` now, and the quote it checked against
        (``quote``, else the latest); nothing is stored, sent or recorded."""
        if quote is None:
            quote = await self._quote(request.symbol)
        with self.storage.session() as session:
            account = session.get(TradingAccountRow, self.account)
            assert account is not None
            rejection = self._check(session, account, request, quote, self.clock())
            session.rollback()  # the check may have noted the day's starting equity: a preview keeps nothing
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
        if not self.reconciled:
            detail = self.last_reconcile.error if self.last_reconcile is not None else "it has not run yet"
            raise NtUnavailable(f"trading is refused until reconciliation with broker {self.broker.name!r} "
                                f"succeeds ({detail}); run the reconciliation again")
        quotes = {s: await self._quote(s) for s in dict.fromkeys(r.symbol for r in requests)}
        try:
            orders, admitted = self._admit_many(requests, prints, actor=actor, quotes=quotes)
        except IntegrityError:
            again = [self._stored(coid, fp) for coid, fp in zip(ids, prints, strict=True)]
            if any(o is None for o in again):
                raise
            return [o for o in again if o is not None], self._basket_admitted(ids)
        if not admitted:
            return orders, False
        return [await self._send(order, actor=actor) for order in orders], True

    def _basket_admitted(self, ids: Sequence[str]) -> bool:
        """Whether a stored basket passed the gate (a broker's later refusal does not undo that)."""
        gate = {code.value for code in RejectCode} | {"basket"}
        return not any(self.reason_code(coid) in gate for coid in ids)

    def _admit_many(self, requests: Sequence[OrderRequest], prints: Sequence[dict[str, Any]], *, actor: str,
                    quotes: dict[str, PriceRef | None]) -> tuple[list[Order], bool]:
        now = self.clock()
        with self.storage.session(write=True) as session:
            account = self._lock_account(session)
            rows: list[OrderRow] = []
            rejections: list[RiskRejection | None] = []
            extra = D(0)
            for request, fingerprint in zip(requests, prints, strict=True):
                quote = quotes[request.symbol]
                rejection = self._check(session, account, request, quote, now, extra_gross=extra)
                price = order_price(request, quote.for_side(request.side) if quote is not None else None)
                extra += request.qty * price if price is not None else D(0)
                row = self._new_row(request, fingerprint, actor=actor, rejection=None, replaces=None, now=now)
                session.add(row)
                session.flush()  # later orders of the basket see this one as open
                rows.append(row)
                rejections.append(rejection)
            first = next(((r, x) for r, x in zip(rows, rejections, strict=True) if x is not None), None)
            if first is not None:
                culprit, why = first
                for row, rejection in zip(rows, rejections, strict=True):
                    row.status = OrderStatus.REJECTED.value
                    if rejection is not None:
                        row.reason_code, row.reason = rejection.code.value, rejection.message[:500]
                    else:
                        row.reason_code = "basket"
                        row.reason = (f"not sent: order {culprit.client_order_id} of the basket was rejected "
                                      f"({why.code.value})")[:500]
                    session.add(row)
                session.flush()
            for row, request, fingerprint in zip(rows, requests, prints, strict=True):
                self.audit.append(session, actor=actor, action="order.submit", target=row.client_order_id,
                                  payload={**fingerprint, "basket": [r.client_order_id for r in rows]},
                                  result={**_state(row), "arrival": self._arrival(request, quotes[request.symbol])},
                                  at=now)
            return [_order_of(r) for r in rows], first is None

    async def _send(self, order: Order, *, actor: str) -> Order:
        from neural_trader.tracing import span

        try:
            with span(f"broker {self.broker.name}.submit", client_order_id=order.client_order_id):
                answer = await self.broker.submit(order.request)
        except NtUnavailable as exc:
            return self._mark(order.client_order_id, OrderStatus.UNKNOWN, actor=actor, action="order.unknown",
                              reason=f"sent to {self.broker.name}, answer lost: {exc.message}")
        except NtError as exc:
            return self._mark(order.client_order_id, OrderStatus.REJECTED, actor=actor, action="order.reject",
                              reason=f"{self.broker.name} refused it: {exc.message}", reason_code="broker")
        except Exception as exc:
            # Whatever went wrong, the request may have left: unknown, resolved only by lookup.
            self._mark(order.client_order_id, OrderStatus.UNKNOWN, actor=actor, action="order.unknown",
                       reason=f"sending to {self.broker.name} failed: {type(exc).__name__}: {exc}")
            raise
        return self.record(answer, actor=f"broker:{self.broker.name}")

    def _mark(self, client_order_id: str, status: OrderStatus, *, actor: str, action: str, reason: str,
              reason_code: str | None = None) -> Order:
        now = self.clock()
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = self._lock_order(session, client_order_id)
            current = _order_of(row)
            if current.status is status:
                return current
            updated = current.transition(status, at=now, reason=reason)
            _store(row, updated)
            if reason_code is not None:
                row.reason_code = reason_code
            session.add(row)
            self.audit.append(session, actor=actor, action=action, target=client_order_id,
                              payload={"from": current.status.value}, result=_state(row), at=now)
            return updated

    # -- broker answers and fills --------------------------------------------------------------------
    def record(self, answer: BrokerOrder, *, actor: str) -> Order:
        """Bring the stored order up to what the broker says (``answer``): its id, its new fills (each
        applied once), and its status. A stale report that would move the order backwards changes
        nothing; one transaction."""
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = self._lock_order(session, answer.client_order_id)
            order, _notes = self._sync(session, row, answer, actor=actor)
            return order

    def _sync(self, session: Session, row: OrderRow, answer: BrokerOrder, *, actor: str) -> tuple[Order, list[str]]:
        now = self.clock()
        notes: list[str] = []
        order = _order_of(row)
        before = _state(row)
        if answer.broker_order_id and order.broker_order_id != answer.broker_order_id:
            order = attrs.evolve(order, broker_order_id=answer.broker_order_id, updated_at=now)
        for fill in answer.fills:
            if (applied := self._apply_fill(session, row, order, fill, actor=actor)) is not None:
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
            if (applied := self._apply_fill(session, row, order, fill, actor=actor)) is not None:
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
        session.add(row)
        if _state(row) != before:
            self.audit.append(session, actor=actor, action="order.update", target=row.client_order_id,
                              payload={"broker": answer.status.value, "from": before}, result=_state(row), at=now)
        return order, notes

    def apply_fill(self, fill: Fill, *, actor: str) -> bool:
        """Apply one fill a broker pushed (order, position and cash in one transaction); False when
        it was applied before."""
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = self._lock_order(session, fill.client_order_id)
            applied = self._apply_fill(session, row, _order_of(row), fill, actor=actor)
            if applied is not None:
                _store(row, applied)
                session.add(row)
            return applied is not None

    def _apply_fill(self, session: Session, row: OrderRow, order: Order, fill: Fill, *, actor: str) -> Order | None:
        seen = session.exec(select(FillRow.id).where(FillRow.broker == self.broker.name,
                                                     FillRow.fill_id == fill.fill_id)).first()
        if seen is not None:
            return None
        updated = order.with_fill(fill)
        session.add(FillRow(broker=self.broker.name, fill_id=fill.fill_id, client_order_id=fill.client_order_id,
                            account=self.account, symbol=fill.symbol, side=fill.side.value, qty=fill.qty,
                            price=fill.price, commission=fill.commission, time=fill.time))
        prow = session.get(PositionRow, (self.account, fill.symbol))
        if prow is None:
            prow = PositionRow(account=self.account, symbol=fill.symbol, qty=D(0), avg_price=D(0),
                               realized_pnl=D(0))
        position = Position(symbol=fill.symbol, qty=prow.qty, avg_price=prow.avg_price,
                            realized_pnl=prow.realized_pnl).apply(fill)
        prow.qty, prow.avg_price, prow.realized_pnl = position.qty, position.avg_price, position.realized_pnl
        prow.last_price, prow.updated_at = fill.price, fill.time
        session.add(prow)
        account = session.get(TradingAccountRow, self.account)
        assert account is not None
        account.cash = account.cash - fill.signed_qty * fill.price - fill.commission
        account.updated_at = self.clock()
        session.add(account)
        session.flush()
        self.audit.append(session, actor=actor, action="order.fill", target=fill.client_order_id,
                          payload=fill, result={"position": position, "cash": account.cash,
                                                "status": updated.status.value}, at=self.clock())
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
            for coid, brief in broker_open.items():
                with self.storage.session() as session:
                    row = session.exec(select(OrderRow).where(OrderRow.client_order_id == coid)).first()
                full = brief if brief.fills or brief.filled_qty == 0 else (await self.broker.lookup(coid) or brief)
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

    def _repair(self, answer: BrokerOrder, *, actor: str) -> list[Discrepancy]:
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = self._lock_order(session, answer.client_order_id)
            _, notes = self._sync(session, row, answer, actor=actor)
        return [Discrepancy(kind="order", target=answer.client_order_id, detail=n, repaired=True) for n in notes]

    def _adopt(self, answer: BrokerOrder, *, actor: str) -> Discrepancy:
        coid = answer.client_order_id
        if answer.request is None:
            return Discrepancy(kind="outside_order", target=coid, repaired=False,
                               detail="placed outside the system and the broker does not say what it is")
        now = self.clock()
        request = answer.request
        with self.storage.session(write=True) as session:
            self._lock_account(session)
            row = OrderRow(
                client_order_id=coid, account=self.account, broker=self.broker.name, symbol=request.symbol,
                side=request.side.value, qty=request.qty, type=request.type.value,
                time_in_force=request.time_in_force.value, status=OrderStatus.NEW.value, filled_qty=D(0),
                fingerprint=_fingerprint(request, account=self.account, broker=self.broker.name),
                strategy=request.strategy, owner="outside", adopted=True, created_at=now, updated_at=now,
                **{name: getattr(request, name) for name in _PRICE_FIELDS})
            session.add(row)
            session.flush()
            self.audit.append(session, actor=actor, action="order.adopt", target=coid,
                              payload=row.fingerprint, result=_state(row), at=now)
            order, _ = self._sync(session, row, answer, actor=actor)
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

