"""Orders, fills, positions and accounts: the values the order manager, the risk gate and every broker
share. Money and quantities are :class:`~decimal.Decimal` (a ledger, not math); times are aware UTC.

An order's life is an explicit state machine (:data:`TRANSITIONS`): :meth:`Order.transition` refuses a
move the table does not allow, so no code path can, say, fill a cancelled order or reopen a filled
one. ``unknown`` is where an order goes when we sent it and could not learn the broker's answer (a
timeout, a 5xx after the request left): it leaves ``unknown`` only through a lookup at the broker.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from neural_trader.errors import NtConflict, NtUserError

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "TERMINAL",
    "TRANSITIONS",
    "Account",
    "Broker",
    "BrokerOrder",
    "BrokerSpec",
    "Fill",
    "IllegalTransition",
    "Order",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "TimeInForce",
    "TradingState",
    "bracket_leg_ids",
    "to_decimal",
]

#: A client order id: what makes a trade request idempotent. Alpaca allows up to 128 characters.
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID_PATTERN)


def bracket_leg_ids(parent: str) -> tuple[str, str]:
    """The client order ids of a bracket order's exit legs: ``<parent>.tp`` (take profit) and
    ``<parent>.sl`` (stop loss); a parent id too long for that keeps its first 101 characters and a
    hash of the whole (still unique, still at most 128 characters)."""
    if len(parent) <= 125:
        return f"{parent}.tp", f"{parent}.sl"
    base = f"{parent[:101]}.{hashlib.sha256(parent.encode()).hexdigest()[:22]}"
    return f"{base}.tp", f"{base}.sl"


class OrderSide(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is OrderSide.BUY else -1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(enum.StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class TradingState(enum.StrEnum):
    """Whether an account may trade: the kill switch and the reduce-only mode."""

    ACTIVE = "active"
    #: Only orders that reduce an existing position pass the risk gate.
    REDUCING = "reducing"
    #: Open orders are cancelled and new ones refused.
    HALTED = "halted"


class OrderStatus(enum.StrEnum):
    NEW = "new"  # persisted, not yet acknowledged by the broker
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PENDING_CANCEL = "pending_cancel"
    UNKNOWN = "unknown"  # sent, answer lost: resolve by looking it up at the broker

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def open(self) -> bool:
        """Working at the broker (or possibly so): it can still fill."""
        return not self.terminal


TERMINAL: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

_S = OrderStatus
#: Every allowed move. Staying in the same state is allowed where a new fill or a repeated report
#: can arrive (partially filled -> partially filled); terminal states allow nothing.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    _S.NEW: frozenset({_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.REJECTED, _S.CANCELED, _S.EXPIRED,
                       _S.UNKNOWN}),
    _S.UNKNOWN: frozenset({_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.REJECTED, _S.CANCELED, _S.EXPIRED,
                           _S.PENDING_CANCEL}),
    _S.ACCEPTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.PENDING_CANCEL,
                            _S.REJECTED, _S.UNKNOWN}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED,
                                    _S.PENDING_CANCEL, _S.UNKNOWN}),
    _S.PENDING_CANCEL: frozenset({_S.CANCELED, _S.FILLED, _S.PARTIALLY_FILLED, _S.EXPIRED, _S.UNKNOWN}),
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}
del _S


class IllegalTransition(NtConflict):
    """An order was asked to move where its state machine does not allow (a bug, or a broker report
    out of order); nothing changed."""

    type = "illegal_transition"


def to_decimal(value: Any, *, field: str) -> decimal.Decimal:
    """A finite Decimal from a Decimal, an int or decimal text (never from a float's binary digits)."""
    if isinstance(value, decimal.Decimal):
        out = value
    elif isinstance(value, int) and not isinstance(value, bool):
        out = decimal.Decimal(value)
    elif isinstance(value, float):
        out = decimal.Decimal(repr(value))
    elif isinstance(value, str):
        try:
            out = decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            raise NtUserError(f"{field} must be a decimal number, got {value[:40]!r}") from None
    else:
        raise NtUserError(f"{field} must be a decimal number, got {type(value).__name__}")
    if not out.is_finite():
        raise NtUserError(f"{field} must be finite, got {out}")
    return out


def _positive(field: str) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: decimal.Decimal | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"{field} must be > 0, got {value}")
    return check


def _optional_amount(field: str) -> Any:
    """An optional Decimal field > 0 (a price, a trail, a bracket leg), converted from text or numbers."""
    return attrs.field(default=None, converter=attrs.converters.optional(lambda v: to_decimal(v, field=field)),
                       validator=_positive(field))


@attrs.frozen(kw_only=True)
class OrderRequest:
    """What a caller asks for. Its :meth:`fingerprint` is what idempotency compares: the same client
    order id with the same request returns the same order; with a different one it is a conflict."""

    client_order_id: str = attrs.field()
    symbol: str
    side: OrderSide = attrs.field(converter=OrderSide)
    qty: decimal.Decimal = attrs.field(converter=lambda v: to_decimal(v, field="qty"), validator=_positive("qty"))
    type: OrderType = attrs.field(default=OrderType.MARKET, converter=OrderType)
    time_in_force: TimeInForce = attrs.field(default=TimeInForce.DAY, converter=TimeInForce)
    limit_price: decimal.Decimal | None = _optional_amount("limit_price")
    stop_price: decimal.Decimal | None = _optional_amount("stop_price")
    trail_price: decimal.Decimal | None = _optional_amount("trail_price")
    trail_percent: decimal.Decimal | None = _optional_amount("trail_percent")
    #: Bracket legs: a take-profit limit and a stop-loss stop (optionally stop-limit) for the exit.
    take_profit: decimal.Decimal | None = _optional_amount("take_profit")
    stop_loss: decimal.Decimal | None = _optional_amount("stop_loss")
    stop_loss_limit: decimal.Decimal | None = _optional_amount("stop_loss_limit")
    #: Who asked (a strategy's name, an agent's key id): the risk gate's per-strategy limits use it.
    strategy: str | None = None

    @client_order_id.validator
    def _check_id(self, _: Any, value: str) -> None:
        if not _CLIENT_ORDER_ID.match(value):
            raise ValueError("client_order_id must be 1 to 128 letters, digits and . _ : - (starting with a "
                             "letter or digit)")

    def __attrs_post_init__(self) -> None:
        needs = {
            OrderType.MARKET: ((), ("limit_price", "stop_price", "trail_price", "trail_percent")),
            OrderType.LIMIT: (("limit_price",), ("stop_price", "trail_price", "trail_percent")),
            OrderType.STOP: (("stop_price",), ("limit_price", "trail_price", "trail_percent")),
            OrderType.STOP_LIMIT: (("limit_price", "stop_price"), ("trail_price", "trail_percent")),
            OrderType.TRAILING_STOP: ((), ("limit_price", "stop_price")),
        }
        required, forbidden = needs[self.type]
        missing = [f for f in required if getattr(self, f) is None]
        extra = [f for f in forbidden if getattr(self, f) is not None]
        if missing:
            raise NtUserError(f"a {self.type.value} order needs {' and '.join(missing)}")
        if extra:
            raise NtUserError(f"a {self.type.value} order takes no {', '.join(extra)}")
        if self.type is OrderType.TRAILING_STOP and (self.trail_price is None) == (self.trail_percent is None):
            raise NtUserError("a trailing_stop order needs exactly one of trail_price and trail_percent")
        bracket = self.take_profit is not None or self.stop_loss is not None
        if self.stop_loss_limit is not None and self.stop_loss is None:
            raise NtUserError("stop_loss_limit needs stop_loss")
        if bracket:
            if self.take_profit is None or self.stop_loss is None:
                raise NtUserError("a bracket order needs both take_profit and stop_loss")
            if self.type not in (OrderType.MARKET, OrderType.LIMIT):
                raise NtUserError("a bracket order's entry must be market or limit")
            if self.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
                raise NtUserError("a bracket order's time_in_force must be day or gtc")
            low, high = (self.stop_loss, self.take_profit) if self.side is OrderSide.BUY else \
                (self.take_profit, self.stop_loss)
            if not low < high:
                raise NtUserError("for a buy, stop_loss must be below take_profit; for a sell, above")

    @property
    def is_bracket(self) -> bool:
        return self.take_profit is not None

    def fingerprint(self) -> dict[str, str | None]:
        """The request as plain text fields, for comparing two requests under one client order id
        (Decimals normalised: ``10`` and ``10.00`` are the same quantity)."""
        out: dict[str, str | None] = {}
        for field in attrs.fields(OrderRequest):
            value = getattr(self, field.name)
            if isinstance(value, decimal.Decimal):
                value = format(value.normalize(), "f")
            elif isinstance(value, enum.Enum):
                value = value.value
            out[field.name] = value
        return out


@attrs.frozen(kw_only=True)
class Fill:
    """One execution: ``qty`` at ``price`` (both > 0), with its commission. ``fill_id`` is unique per
    broker, so a fill reported twice is applied once."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: OrderSide = attrs.field(converter=OrderSide)
    qty: decimal.Decimal = attrs.field(converter=lambda v: to_decimal(v, field="qty"), validator=_positive("qty"))
    price: decimal.Decimal = attrs.field(converter=lambda v: to_decimal(v, field="price"),
                                         validator=_positive("price"))
    commission: decimal.Decimal = attrs.field(default=decimal.Decimal(0),
                                              converter=lambda v: to_decimal(v, field="commission"))
    time: dt.datetime

    @property
    def signed_qty(self) -> decimal.Decimal:
        return self.qty * self.side.sign

    @property
    def notional(self) -> decimal.Decimal:
        return self.qty * self.price


@attrs.frozen(kw_only=True)
class Order:
    """An order as we hold it: the request, where it stands, and what has filled."""

    request: OrderRequest
    status: OrderStatus = attrs.field(default=OrderStatus.NEW, converter=OrderStatus)
    broker: str
    broker_order_id: str | None = None
    filled_qty: decimal.Decimal = decimal.Decimal(0)
    avg_fill_price: decimal.Decimal | None = None
    #: Why it was rejected, cancelled or is unknown, in words.
    reason: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: A bracket leg's entry order (its client order id); ``None`` for any other order.
    parent: str | None = None
    #: A bracket entry's exit legs as stored, in the order the broker opened them; ``None`` until
    #: they are (:attr:`legs` then names the ids a broker that names them after the entry will use).
    stored_legs: tuple[str, ...] | None = None

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def legs(self) -> tuple[str, ...]:
        """A bracket entry's exit legs (take profit, stop loss) by client order id, working once the
        entry fills: the stored ones (a broker such as Alpaca names them itself), else the ids
        :func:`bracket_leg_ids` gives them; ``()`` for any other order."""
        if not self.request.is_bracket:
            return ()
        return self.stored_legs if self.stored_legs is not None else bracket_leg_ids(self.client_order_id)

    @property
    def remaining_qty(self) -> decimal.Decimal:
        return self.request.qty - self.filled_qty

    def transition(self, status: OrderStatus, *, at: dt.datetime, **changes: Any) -> Order:
        """This order in ``status`` (with ``changes``), or :class:`IllegalTransition`."""
        status = OrderStatus(status)
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"order {self.client_order_id} cannot go from {self.status.value} to {status.value}")
        return attrs.evolve(self, status=status, updated_at=at, **changes)

    def with_fill(self, fill: Fill) -> Order:
        """This order after ``fill``: quantities and the average price updated, the status partially
        filled or filled. Refuses a fill of another order, side or symbol, and an overfill."""
        if fill.client_order_id != self.client_order_id or fill.symbol != self.request.symbol \
                or fill.side is not self.request.side:
            raise IllegalTransition(f"fill {fill.fill_id} does not belong to order {self.client_order_id}")
        filled = self.filled_qty + fill.qty
        if filled > self.request.qty:
            raise IllegalTransition(f"fill {fill.fill_id} of {fill.qty} would overfill order "
                                    f"{self.client_order_id} ({self.filled_qty} of {self.request.qty} filled)")
        paid = (self.avg_fill_price or decimal.Decimal(0)) * self.filled_qty + fill.price * fill.qty
        status = OrderStatus.FILLED if filled == self.request.qty else OrderStatus.PARTIALLY_FILLED
        return self.transition(status, at=fill.time, filled_qty=filled, avg_fill_price=paid / filled)


@attrs.frozen(kw_only=True)
class Position:
    """A holding: signed quantity (short < 0), its average cost, and the P&L realised so far."""

    symbol: str
    qty: decimal.Decimal = decimal.Decimal(0)
    avg_price: decimal.Decimal = decimal.Decimal(0)
    realized_pnl: decimal.Decimal = decimal.Decimal(0)

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill`` (average cost on the way in, P&L realised on the way out;
        a fill through zero closes the old side and opens the new one at the fill's price)."""
        change = fill.signed_qty
        qty = self.qty + change
        if self.qty == 0 or (self.qty > 0) == (change > 0):
            avg = (self.avg_price * abs(self.qty) + fill.price * fill.qty) / abs(qty)
            return attrs.evolve(self, qty=qty, avg_price=avg)
        closed = min(abs(change), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        realized = self.realized_pnl + (fill.price - self.avg_price) * closed * direction
        if qty == 0:
            avg = decimal.Decimal(0)
        elif (qty > 0) == (self.qty > 0):
            avg = self.avg_price
        else:
            avg = fill.price
        return attrs.evolve(self, qty=qty, avg_price=avg, realized_pnl=realized)

    def market_value(self, price: decimal.Decimal) -> decimal.Decimal:
        return self.qty * price

    def unrealized_pnl(self, price: decimal.Decimal) -> decimal.Decimal:
        return (price - self.avg_price) * self.qty


@attrs.frozen(kw_only=True)
class Account:
    """Cash and what it is worth: equity = cash + the market value of the positions."""

    broker: str
    cash: decimal.Decimal
    equity: decimal.Decimal
    buying_power: decimal.Decimal
    currency: str = "USD"


@attrs.frozen(kw_only=True)
class BrokerOrder:
    """What a broker says about one order (its own id, status, fills so far)."""

    client_order_id: str
    broker_order_id: str
    status: OrderStatus = attrs.field(converter=OrderStatus)
    filled_qty: decimal.Decimal = decimal.Decimal(0)
    avg_fill_price: decimal.Decimal | None = None
    reason: str | None = None
    fills: tuple[Fill, ...] = ()
    #: The order as the broker holds it, when the broker says (symbol, side, quantity, type...):
    #: what reconciliation needs to adopt an order placed outside the system.
    request: OrderRequest | None = None
    #: A bracket entry's exit legs as the broker holds them (once the entry has filled), each under
    #: its own client order id (:func:`bracket_leg_ids`).
    legs: tuple[BrokerOrder, ...] = ()
    #: For a bracket leg: its entry order's client order id.
    parent: str | None = None


@runtime_checkable
class Broker(Protocol):
    """Where orders go (``nt_register_brokers``). Every method may raise :class:`NtError`; a method
    that sent a request and did not learn its outcome raises :class:`NtUnavailable` and the caller
    treats the order as ``unknown`` (never as rejected, never re-sent blindly)."""

    name: str
    #: True when orders move real money: refused unless ``NT_ENABLE_LIVE_TRADING`` is set.
    live: bool

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Send ``request`` (its client order id goes to the broker). A duplicate client order id is
        answered with the existing order, not an error."""
        ...

    async def lookup(self, client_order_id: str) -> BrokerOrder | None:
        """The order the broker holds under ``client_order_id``, or ``None`` if it has none."""
        ...

    async def cancel(self, client_order_id: str) -> BrokerOrder:
        """Ask the broker to cancel; returns the order as it then stands."""
        ...

    async def open_orders(self) -> list[BrokerOrder]:
        ...

    async def positions(self) -> list[Position]:
        ...

    async def account(self) -> Account:
        ...


@attrs.frozen(kw_only=True)
class BrokerSpec:
    """What ``nt_register_brokers`` registers: a named factory. ``create(host)`` builds the broker
    from the host's services (storage, market data, HTTP) and settings."""

    name: str
    summary: str
    #: True when its orders move real money.
    live: bool = False
    create: Callable[[Any], Broker] = attrs.field(repr=False)
