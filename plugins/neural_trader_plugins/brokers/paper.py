"""The paper broker: the embedded default. Its book lives in the database (``paper_orders``), so it
survives restarts, and it fills from market data only, so the same prices give the same fills.

* A **market** order fills at once at the latest quote, the ask when buying and the bid when
  selling (the last trade when the side's price is missing), moved against the order by the
  slippage model; with no quote it waits for the next price (:meth:`PaperBroker.process_market`).
* **limit / stop / stop-limit / trailing-stop** orders are checked against each later price
  (:meth:`process_market`, one :class:`MarketTick` per symbol: a quote or a bar):

  - a buy limit fills when the ask (a bar's low) reaches the limit, at the better of the two
    (a bar opening through the limit fills at its open); a sell limit mirrors it;
  - a stop triggers when the ask (a bar's high) reaches the stop for a buy, the bid (a bar's low)
    for a sell, and then fills like a market order (a bar gapping through fills at its open);
  - a stop-limit becomes its limit when triggered;
  - a trailing stop follows the best price since it was placed (the highest bid for a sell, the
    lowest ask for a buy) by ``trail_price`` or ``trail_percent`` and triggers like a stop; on bars
    the stop from the earlier bars is tested before the bar moves it.
* ``ioc`` / ``fok`` orders that cannot fill at once are cancelled. Orders fill whole (no volume
  model).
* A **bracket** order's entry (market or limit) fills like any order; its fill opens two exit legs on
  the other side for the filled quantity, each its own order under its own client order id
  (:func:`~neural_trader.domain.orders.bracket_leg_ids`): a take-profit limit at ``take_profit`` and a
  stop-loss stop at ``stop_loss`` (a stop-limit with ``stop_loss_limit``). They see the prices after the
  one that filled the entry and trigger like any limit / stop. One cancels the other: when one fills,
  the other is cancelled. A bar that reaches both fills the take profit only when it opens through
  it, else the stop loss (what happened inside the bar is unknown: the cautious side). Cancelling the
  entry before it fills leaves no legs; cancelling a leg cancels that leg only.
* Commission: ``commission_per_share`` x qty plus ``commission_bps`` of the notional, at least
  ``commission_min``, rounded to the cent. Slippage: ``slippage_bps`` against the order on market and triggered-stop
  fills (on every fill, limits included, with ``slip_limits``: the event-driven backtest's rule, which a
  live strategy run replaying bars uses for parity). Fill prices are rounded to ``price_increment``,
  against the order.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from neural_trader.domain.orders import (
    Account,
    BrokerOrder,
    Fill,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
    bracket_leg_ids,
)
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.services.orders import PriceRef, PriceSource
from neural_trader.services.storage import Storage
from neural_trader.services.tables import utcnow
from neural_trader.services.tables_orders import PaperOrderRow

__all__ = ["MarketTick", "PaperBroker"]

_PAPER: sa.Table = PaperOrderRow.__table__
# Built once (building a statement costs more than running it on SQLite).
_BOOKED = sa.select(_PAPER).where(_PAPER.c.broker == sa.bindparam("book"),
                                  _PAPER.c.client_order_id.in_(sa.bindparam("ids", expanding=True)))
_BOOK = sa.insert(_PAPER)

D = decimal.Decimal
_OPEN = (OrderStatus.ACCEPTED.value, OrderStatus.PARTIALLY_FILLED.value)
_REQUEST_FIELDS = frozenset(f.name for f in attrs.fields(OrderRequest))


@attrs.frozen(kw_only=True)
class MarketTick:
    """One price of one symbol: a quote (bid / ask / last) or a bar (open / high / low / close)."""

    symbol: str
    time: dt.datetime
    bid: D | None = None
    ask: D | None = None
    last: D | None = None
    open: D | None = None
    high: D | None = None
    low: D | None = None
    close: D | None = None

    @property
    def is_bar(self) -> bool:
        return self.high is not None and self.low is not None

    @classmethod
    def from_bar(cls, symbol: str, time: dt.datetime, open: Any, high: Any, low: Any, close: Any) -> MarketTick:
        return cls(symbol=symbol, time=time, open=_d(open), high=_d(high), low=_d(low), close=_d(close),
                   last=_d(close))

    @classmethod
    def from_quote(cls, symbol: str, time: dt.datetime, ref: PriceRef) -> MarketTick:
        return cls(symbol=symbol, time=time, bid=ref.bid, ask=ref.ask, last=ref.last)

    def near(self, side: OrderSide) -> D | None:
        """A quote's price for ``side`` (ask to buy, bid to sell, else the last trade)."""
        price = self.ask if side is OrderSide.BUY else self.bid
        return price if price is not None else self.last


def _d(value: Any) -> D:
    return value if isinstance(value, D) else D(repr(value)) if isinstance(value, float) else D(value)


def _request(data: dict[str, Any]) -> OrderRequest:
    # A leg's stored request also holds its entry's client order id ("parent").
    return OrderRequest(**{k: v for k, v in data.items() if v is not None and k in _REQUEST_FIELDS})


def _parent_of(row: Any) -> str | None:
    """The entry order of a bracket leg's row; ``None`` for any other."""
    parent: str | None = row.request.get("parent")
    return parent


def _clashing(request: OrderRequest) -> tuple[str, ...]:
    """Client order ids ``request`` must not meet in the book: a bracket's legs, or for an id shaped
    like a leg's, the bracket it would be a leg of."""
    if request.is_bracket:
        return bracket_leg_ids(request.client_order_id)
    coid = request.client_order_id
    return (coid[:-3],) if coid.endswith((".tp", ".sl")) and len(coid) > 3 else ()


def _leg_requests(entry: OrderRequest, qty: D) -> tuple[OrderRequest, OrderRequest]:
    """A filled bracket entry's exits for ``qty``: the take-profit limit and the stop-loss stop
    (stop-limit when the entry has ``stop_loss_limit``)."""
    tp_id, sl_id = bracket_leg_ids(entry.client_order_id)
    side = OrderSide.SELL if entry.side is OrderSide.BUY else OrderSide.BUY
    common: dict[str, Any] = {"symbol": entry.symbol, "side": side, "qty": qty,
                              "time_in_force": entry.time_in_force, "strategy": entry.strategy}
    take = OrderRequest(client_order_id=tp_id, type=OrderType.LIMIT, limit_price=entry.take_profit, **common)
    if entry.stop_loss_limit is not None:
        stop = OrderRequest(client_order_id=sl_id, type=OrderType.STOP_LIMIT, stop_price=entry.stop_loss,
                            limit_price=entry.stop_loss_limit, **common)
    else:
        stop = OrderRequest(client_order_id=sl_id, type=OrderType.STOP, stop_price=entry.stop_loss, **common)
    return take, stop


class PaperBroker:
    """A simulated broker on the host's database; see the module docstring."""

    live = False
    #: Bracket legs come back with their entry (``BrokerOrder.legs``) under ``bracket_leg_ids``: the
    #: order manager's reconciliation looks up a filled entry whose legs it has not stored.
    reports_legs = True

    def __init__(self, storage: Storage, *, name: str = "paper", quotes: PriceSource | None = None,
                 initial_cash: D = D(100_000), slippage_bps: D = D(0), commission_per_share: D = D(0),
                 commission_bps: D = D(0), commission_min: D = D(0), price_increment: D = D("0.0001"),
                 slip_limits: bool = False, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.storage = storage
        self.name = name
        #: Whose book (``paper_orders.broker``): the name, or one per account (:meth:`for_account`).
        self.book = name
        self.quotes = quotes
        self.initial_cash = D(initial_cash)
        self.slippage_bps = D(slippage_bps)
        self.commission_per_share = D(commission_per_share)
        self.commission_bps = D(commission_bps)
        self.commission_min = D(commission_min)
        self.price_increment = D(price_increment)
        self.slip_limits = slip_limits
        self.clock = clock

    def for_account(self, account: str) -> PaperBroker:
        """This broker (same name, prices and costs) with a book of its own for ``account``: two
        accounts of one host trading on one paper broker never see each other's orders or fills."""
        book = f"{self.name}/{account}"
        if len(book) > 64:  # the column's width; '#' is in no account name, so no clash with a plain one
            book = f"{self.name}/#{hashlib.sha256(account.encode()).hexdigest()[:24]}"
        clone = copy.copy(self)
        clone.book = book
        return clone

    # -- the Broker protocol ---------------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> BrokerOrder:
        (answer,) = await self.submit_many([request])
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def submit_many(self, requests: Sequence[OrderRequest]) -> list[BrokerOrder | BaseException]:
        """Several orders in one transaction (the order manager's group commit), each answered as
        :meth:`submit` answers it, or with the error it raises. An order is accepted and evaluated
        at the latest quote in the same transaction; the same client order id again is the order it
        already is, never a second one."""
        now = self.clock()
        out: list[BrokerOrder | BaseException | None] = [None] * len(requests)
        ticks: dict[str, MarketTick | None] = {}
        for request in requests:
            if request.symbol not in ticks:
                ref = None if self.quotes is None else await self.quotes(request.symbol)
                ticks[request.symbol] = None if ref is None else MarketTick.from_quote(request.symbol, now, ref)
        try:
            with self.storage.session(write=True) as session:
                connection = session.connection()
                wanted = [c for r in requests for c in (r.client_order_id, *_clashing(r))]
                known: dict[str, Any] = {row.client_order_id: row for row in connection.execute(
                    _BOOKED, {"book": self.book, "ids": wanted})}
                fresh: list[Any] = []
                for i, request in enumerate(requests):
                    if out[i] is not None:
                        continue
                    row = known.get(request.client_order_id)
                    if row is None:
                        if (clash := self._clash(request, known)) is not None:
                            out[i] = clash
                            continue
                        row = known[request.client_order_id] = self._accepted(request, now)
                        self._evaluate(row, ticks[request.symbol], now, immediate=True)
                        fresh.append(row)
                        for leg in self._open_legs(row, now):
                            known[leg.client_order_id] = leg
                            fresh.append(leg)
                    out[i] = self._answer(row, self._legs_in(row, known))
                if fresh:
                    connection.execute(_BOOK, [
                        vars(row) for row in fresh])
        except IntegrityError:
            # Another caller stored one of them meanwhile: one at a time, each finding its own.
            if len(requests) > 1:
                return [answer for request in requests for answer in await self.submit_many([request])]
            found = await self.lookup(requests[0].client_order_id)
            if found is None:
                raise
            return [found]
        return [answer for answer in out if answer is not None]

    def _clash(self, request: OrderRequest, known: dict[str, Any]) -> NtUserError | None:
        """Refuse a bracket whose leg ids are taken, and an order under a working bracket's leg id."""
        for coid in _clashing(request):
            row = known.get(coid)
            if row is None:
                continue
            if request.is_bracket and _parent_of(row) != request.client_order_id:
                return NtUserError(f"client order id {coid!r}, which the bracket {request.client_order_id!r} needs "
                                   "for an exit leg, is already used; give the bracket another client order id")
            if not request.is_bracket and _request(row.request).is_bracket:
                return NtUserError(f"client order id {request.client_order_id!r} is the id of an exit leg of the "
                                   f"bracket {coid!r}; use another client order id")
        return None

    def _open_legs(self, row: Any, now: dt.datetime) -> list[Any]:
        """A bracket entry that has just filled: its two exit legs, new rows to store."""
        entry = _request(row.request)
        if not entry.is_bracket or row.status != OrderStatus.FILLED.value:
            return []
        legs = []
        for leg in _leg_requests(entry, row.filled_qty):
            new = self._accepted(leg, now)
            new.request = {**new.request, "parent": entry.client_order_id}
            legs.append(new)
        return legs

    @staticmethod
    def _legs_in(row: Any, rows: dict[str, Any]) -> list[Any]:
        if not row.request.get("take_profit"):
            return []
        return [rows[c] for c in bracket_leg_ids(row.client_order_id) if c in rows]

    def _leg_rows(self, session: Any, rows: Iterable[Any]) -> dict[str, Any]:
        """The stored legs of the bracket entries among ``rows``, by client order id (one query)."""
        ids = [c for r in rows if r.request.get("take_profit") for c in bracket_leg_ids(r.client_order_id)]
        if not ids:
            return {}
        return {r.client_order_id: r for r in session.exec(select(PaperOrderRow).where(
            PaperOrderRow.broker == self.book, col(PaperOrderRow.client_order_id).in_(ids))).all()}

    def _accepted(self, request: OrderRequest, now: dt.datetime) -> Any:
        """A new ``paper_orders`` row (every column but the id), as the simulation reads and moves it."""
        broker_order_id = "paper-" + hashlib.sha256(f"{self.book}:{request.client_order_id}".encode()).hexdigest()[:20]
        return SimpleNamespace(broker=self.book, client_order_id=request.client_order_id,
                               broker_order_id=broker_order_id, request=request.fingerprint(),
                               status=OrderStatus.ACCEPTED.value, filled_qty=D(0), avg_fill_price=None,
                               triggered=False, trail_anchor=None, fills=[], reason=None, created_at=now,
                               updated_at=now)

    async def lookup(self, client_order_id: str) -> BrokerOrder | None:
        with self.storage.session() as session:
            row = session.exec(select(PaperOrderRow).where(PaperOrderRow.broker == self.book,
                                                           PaperOrderRow.client_order_id == client_order_id)).first()
            legs = {} if row is None else self._leg_rows(session, [row])
        return None if row is None else self._answer(row, self._legs_in(row, legs))

    async def cancel(self, client_order_id: str) -> BrokerOrder:
        with self.storage.session(write=True) as session:
            row = self._row(session, client_order_id)
            if row.status in _OPEN:
                row.status, row.updated_at = OrderStatus.CANCELED.value, self.clock()
                session.add(row)
            return self._answer(row, self._legs_in(row, self._leg_rows(session, [row])))

    async def open_orders(self) -> list[BrokerOrder]:
        with self.storage.session() as session:
            rows = session.exec(select(PaperOrderRow).where(PaperOrderRow.broker == self.book,
                                                            col(PaperOrderRow.status).in_(_OPEN))
                                .order_by(col(PaperOrderRow.id))).all()
        return [self._answer(r) for r in rows]

    async def positions(self) -> list[Position]:
        return list(self._book()[0].values())

    async def account(self) -> Account:
        positions, cash, marks = self._book()
        equity = cash + sum((p.qty * marks[s] for s, p in positions.items()), D(0))
        return Account(broker=self.name, cash=cash, equity=equity, buying_power=cash)

    # -- prices ----------------------------------------------------------------------------------------
    async def process_market(self, ticks: Iterable[MarketTick], *,
                             only: Collection[str] | None = None) -> list[BrokerOrder]:
        """Check every working order against the new prices (one tick per symbol, in order); the
        orders that changed, as they now stand. ``only``: check just these client order ids (a
        caller that must decide the order in which orders see a bar, like the live strategy runner)."""
        by_symbol: dict[str, list[MarketTick]] = {}
        for tick in ticks:
            by_symbol.setdefault(tick.symbol, []).append(tick)
        changed: list[PaperOrderRow] = []
        with self.storage.session(write=True) as session:
            rows = session.exec(select(PaperOrderRow).where(PaperOrderRow.broker == self.book,
                                                            col(PaperOrderRow.status).in_(_OPEN))
                                .order_by(col(PaperOrderRow.id))).all()
            by_id = {row.client_order_id: row for row in rows}
            if only is not None:  # a bracket's legs go together (one cancels the other)
                only = set(only) | {c for r in rows if (p := _parent_of(r)) is not None and r.client_order_id in only
                                    for c in bracket_leg_ids(p)}
            done: set[str] = set()
            for row in rows:
                if row.client_order_id in done:
                    continue
                if only is not None and row.client_order_id not in only:
                    continue
                parent = _parent_of(row)
                sibling = None
                if parent is not None:
                    sibling = by_id.get(next(c for c in bracket_leg_ids(parent) if c != row.client_order_id))
                    if sibling is not None and sibling.status not in _OPEN:
                        sibling = None
                group = [row] if sibling is None else [row, sibling]
                done.update(r.client_order_id for r in group)
                before = {r.client_order_id: (r.status, r.triggered, r.trail_anchor) for r in group}
                for tick in by_symbol.get(row.request["symbol"], ()):
                    if all(r.status not in _OPEN for r in group):
                        break
                    self._evaluate_group(group, tick)
                for r in group:
                    if (r.status, r.triggered, r.trail_anchor) != before[r.client_order_id]:
                        session.add(r)
                        if r.status != before[r.client_order_id][0]:
                            changed.append(r)
            legs: dict[str, Any] = {}
            for r in changed:
                for leg in self._open_legs(r, r.updated_at):
                    stored = PaperOrderRow(**vars(leg))
                    session.add(stored)
                    legs[leg.client_order_id] = stored
            session.flush()
            return [self._answer(r, self._legs_in(r, legs)) for r in changed]

    def _evaluate_group(self, group: Sequence[Any], tick: MarketTick) -> None:
        """One tick for an order, or for a bracket's two working legs (one cancels the other): the
        take profit goes first only when a bar opens through it (else the stop loss, the cautious
        reading of a bar that reaches both)."""
        if len(group) == 2:
            take, stop = sorted(group, key=lambda r: r.request["type"] != OrderType.LIMIT.value)
            limit = D(take.request["limit_price"])
            opens_through = tick.is_bar and tick.open is not None and (
                tick.open >= limit if take.request["side"] == OrderSide.SELL.value else tick.open <= limit)
            group = [take, stop] if opens_through else [stop, take]
        for r in group:
            if r.status not in _OPEN:
                continue
            self._evaluate(r, tick, tick.time, immediate=False)
            if r.status == OrderStatus.FILLED.value:
                for other in group:
                    if other is not r and other.status in _OPEN:
                        other.status, other.reason = OrderStatus.CANCELED.value, \
                            f"one-cancels-other: {r.client_order_id} filled"
                        other.updated_at = tick.time
                break

    # -- the simulation ----------------------------------------------------------------------------------
    def _evaluate(self, row: Any, tick: MarketTick | None, now: dt.datetime, *, immediate: bool) -> None:
        request = _request(row.request)
        price = None if tick is None else self._fill_price(row, request, tick)
        if price is not None:
            self._fill(row, request, price, now)
        elif immediate and request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            row.status, row.reason = OrderStatus.CANCELED.value, "ioc/fok: not fillable at once"
        row.updated_at = now

    def _fill_price(self, row: Any, request: OrderRequest, tick: MarketTick) -> D | None:
        side = request.side
        buy = side is OrderSide.BUY
        kind = request.type
        if kind is OrderType.MARKET:
            ref = tick.open if tick.is_bar else tick.near(side)
            return None if ref is None else self._slipped(ref, side)
        if kind is OrderType.TRAILING_STOP:
            return self._trailing(row, request, tick)
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and not row.triggered:
            stop = request.stop_price
            assert stop is not None
            if tick.is_bar:
                assert tick.high is not None and tick.low is not None and tick.open is not None
                hit = tick.high >= stop if buy else tick.low <= stop
                at = max(tick.open, stop) if buy else min(tick.open, stop)
            else:
                near = tick.near(side)
                if near is None:
                    return None
                hit = near >= stop if buy else near <= stop
                at = near
            if not hit:
                return None
            row.triggered = True
            if kind is OrderType.STOP:
                return self._slipped(at, side)
            limit = request.limit_price
            assert limit is not None
            if (at <= limit) if buy else (at >= limit):
                return self._limit_fill(at, side)
            return None
        limit = request.limit_price
        assert limit is not None
        if tick.is_bar:
            assert tick.high is not None and tick.low is not None and tick.open is not None
            if buy and tick.low <= limit:
                return self._limit_fill(min(tick.open, limit), side)
            if not buy and tick.high >= limit:
                return self._limit_fill(max(tick.open, limit), side)
            return None
        near = tick.near(side)
        if near is None:
            return None
        if (near <= limit) if buy else (near >= limit):
            return self._limit_fill(near, side)
        return None

    def _limit_fill(self, price: D, side: OrderSide) -> D:
        return self._slipped(price, side) if self.slip_limits else self._rounded(price, side)

    def _trailing(self, row: Any, request: OrderRequest, tick: MarketTick) -> D | None:
        buy = request.side is OrderSide.BUY

        def stop_of(anchor: D) -> D:
            if request.trail_price is not None:
                return anchor + request.trail_price if buy else anchor - request.trail_price
            assert request.trail_percent is not None
            share = request.trail_percent / 100
            return anchor * (1 + share) if buy else anchor * (1 - share)

        if tick.is_bar:
            assert tick.high is not None and tick.low is not None and tick.open is not None
            if row.trail_anchor is not None:
                stop = stop_of(row.trail_anchor)
                if (tick.high >= stop) if buy else (tick.low <= stop):
                    return self._slipped(max(tick.open, stop) if buy else min(tick.open, stop), request.side)
            best = tick.low if buy else tick.high
        else:
            # A sell trails the bid (what it would get), a buy the ask.
            near = tick.near(request.side)
            if near is None:
                return None
            if row.trail_anchor is not None:
                stop = stop_of(row.trail_anchor)
                if (near >= stop) if buy else (near <= stop):
                    return self._slipped(near, request.side)
            best = near
        anchor = row.trail_anchor
        if anchor is None or (best < anchor if buy else best > anchor):
            row.trail_anchor = best
        return None

    def _slipped(self, price: D, side: OrderSide) -> D:
        return self._rounded(price * (1 + side.sign * self.slippage_bps / 10_000), side)

    def _rounded(self, price: D, side: OrderSide) -> D:
        rounding = decimal.ROUND_CEILING if side is OrderSide.BUY else decimal.ROUND_FLOOR
        return price.quantize(self.price_increment, rounding=rounding)

    def _commission(self, qty: D, price: D) -> D:
        fee = self.commission_per_share * qty + price * qty * self.commission_bps / 10_000
        return max(fee, self.commission_min).quantize(D("0.01"), rounding=decimal.ROUND_HALF_EVEN)

    def _fill(self, row: Any, request: OrderRequest, price: D, now: dt.datetime) -> None:
        qty = request.qty - row.filled_qty
        fills = list(row.fills)
        fills.append({"fill_id": f"{row.broker_order_id}-{len(fills) + 1}", "qty": format(qty, "f"),
                      "price": format(price, "f"), "commission": format(self._commission(qty, price), "f"),
                      "time": now.isoformat()})
        paid = (row.avg_fill_price or D(0)) * row.filled_qty + price * qty
        row.filled_qty += qty
        row.avg_fill_price = paid / row.filled_qty
        row.fills = fills
        row.status = OrderStatus.FILLED.value

    # -- the book ----------------------------------------------------------------------------------------
    def _row(self, session: Any, client_order_id: str) -> PaperOrderRow:
        row: PaperOrderRow | None = session.exec(
            select(PaperOrderRow).where(PaperOrderRow.broker == self.book,
                                        PaperOrderRow.client_order_id == client_order_id)).first()
        if row is None:
            raise NtNotFound(f"the paper broker {self.book!r} has no order {client_order_id!r}")
        return row

    def _fills_of(self, row: Any) -> tuple[Fill, ...]:
        side = row.request["side"]
        return tuple(Fill(fill_id=f["fill_id"], client_order_id=row.client_order_id, symbol=row.request["symbol"],
                          side=side, qty=D(f["qty"]), price=D(f["price"]), commission=D(f["commission"]),
                          time=dt.datetime.fromisoformat(f["time"])) for f in row.fills)

    def _answer(self, row: Any, legs: Iterable[Any] = ()) -> BrokerOrder:
        return BrokerOrder(client_order_id=row.client_order_id, broker_order_id=row.broker_order_id,
                           status=row.status, filled_qty=row.filled_qty, avg_fill_price=row.avg_fill_price,
                           reason=row.reason, fills=self._fills_of(row), request=_request(row.request),
                           legs=tuple(self._answer(leg) for leg in legs), parent=_parent_of(row))

    def _book(self) -> tuple[dict[str, Position], D, dict[str, D]]:
        with self.storage.session() as session:
            rows = session.exec(select(PaperOrderRow).where(PaperOrderRow.broker == self.book)
                                .order_by(col(PaperOrderRow.id))).all()
        fills = sorted((f for r in rows for f in self._fills_of(r)), key=lambda f: (f.time, f.fill_id))
        positions: dict[str, Position] = {}
        marks: dict[str, D] = {}
        cash = self.initial_cash
        for fill in fills:
            positions[fill.symbol] = positions.get(fill.symbol, Position(symbol=fill.symbol)).apply(fill)
            marks[fill.symbol] = fill.price
            cash -= fill.signed_qty * fill.price + fill.commission
        return {s: p for s, p in positions.items() if p.qty != 0}, cash, marks
