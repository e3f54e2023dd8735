"""The order manager's tables: orders, fills, positions, trading accounts (cash and trading state),
risk limits, and the paper broker's own book.

Core tables (on :data:`neural_trader.services.tables.metadata`, created by the core's migration
``0004``), since several packs trade through them. Money and quantities are stored as decimal text
(:class:`DecimalText`): exact on every backend, where SQLite's ``NUMERIC`` would round through a
double. Only :mod:`neural_trader.services.orders` (and the paper broker, for ``paper_orders``)
writes them.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from neural_trader.services.tables import Table, UTCDateTime, utcnow

__all__ = ["DecimalText", "FillRow", "OrderRow", "PaperOrderRow", "PositionRow", "RiskLimitRow",
           "TradingAccountRow"]


class DecimalText(sa.types.TypeDecorator[decimal.Decimal]):
    """A :class:`~decimal.Decimal` stored exactly, as its plain decimal text (no exponent)."""

    impl = sa.String(48)
    cache_ok = True

    def process_bind_param(self, value: decimal.Decimal | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, decimal.Decimal):
            raise TypeError(f"store Decimals in a decimal column, not {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"cannot store {value}: not finite")
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> decimal.Decimal | None:
        return None if value is None else decimal.Decimal(value)


def _dec(*, nullable: bool = False, default: Any = None) -> Any:
    if nullable:
        return Field(default=default, sa_type=DecimalText, nullable=True)
    return Field(default=decimal.Decimal(0) if default is None else default, sa_type=DecimalText)


class OrderRow(Table, table=True):
    """One order as the manager holds it; ``client_order_id`` is the idempotency key."""

    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(max_length=128, unique=True)
    account: str = Field(max_length=64, index=True)
    broker: str = Field(max_length=64)
    broker_order_id: str | None = Field(default=None, max_length=128)
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=8)
    qty: decimal.Decimal = _dec()
    type: str = Field(max_length=16)
    time_in_force: str = Field(max_length=8)
    limit_price: decimal.Decimal | None = _dec(nullable=True)
    stop_price: decimal.Decimal | None = _dec(nullable=True)
    trail_price: decimal.Decimal | None = _dec(nullable=True)
    trail_percent: decimal.Decimal | None = _dec(nullable=True)
    take_profit: decimal.Decimal | None = _dec(nullable=True)
    stop_loss: decimal.Decimal | None = _dec(nullable=True)
    stop_loss_limit: decimal.Decimal | None = _dec(nullable=True)
    status: str = Field(max_length=20, index=True)
    filled_qty: decimal.Decimal = _dec()
    avg_fill_price: decimal.Decimal | None = _dec(nullable=True)
    #: A :class:`~neural_trader.services.risk_gate.RejectCode` (or ``broker``) when rejected.
    reason_code: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=500)
    #: :meth:`OrderRequest.fingerprint` plus the account and broker: what idempotency compares.
    fingerprint: dict[str, Any] = Field(sa_type=sa.JSON)
    strategy: str | None = Field(default=None, max_length=128)
    #: Who asked (the identity's name or API key id).
    owner: str = Field(max_length=200)
    #: ``orders.replace``: the order this one replaced, and the one that replaced this.
    replaces: str | None = Field(default=None, max_length=128)
    replaced_by: str | None = Field(default=None, max_length=128)
    #: A bracket entry's exit legs (client order ids) once stored; ``None`` until then.
    legs: list[str] | None = Field(default=None, sa_type=sa.JSON)
    #: True for an order placed outside the system and adopted by reconciliation.
    adopted: bool = Field(default=False)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FillRow(Table, table=True):
    """One execution, applied once: ``(broker, fill_id)`` is unique."""

    __tablename__ = "order_fills"
    __table_args__ = (sa.UniqueConstraint("broker", "fill_id", name="uq_order_fills_broker_fill_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broker: str = Field(max_length=64)
    fill_id: str = Field(max_length=160)
    client_order_id: str = Field(max_length=128, index=True)
    account: str = Field(max_length=64)
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=8)
    qty: decimal.Decimal = _dec()
    price: decimal.Decimal = _dec()
    commission: decimal.Decimal = _dec()
    time: dt.datetime = Field(sa_type=UTCDateTime)


class PositionRow(Table, table=True):
    """A holding of one account; ``last_price`` is the latest mark (a fill or a quote)."""

    __tablename__ = "positions"

    account: str = Field(max_length=64, primary_key=True)
    symbol: str = Field(max_length=32, primary_key=True)
    qty: decimal.Decimal = _dec()
    avg_price: decimal.Decimal = _dec()
    realized_pnl: decimal.Decimal = _dec()
    last_price: decimal.Decimal | None = _dec(nullable=True)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TradingAccountRow(Table, table=True):
    """An account's cash, its trading state and its last reconciliation."""

    __tablename__ = "trading_accounts"

    account: str = Field(max_length=64, primary_key=True)
    broker: str = Field(max_length=64)
    cash: decimal.Decimal = _dec()
    currency: str = Field(default="USD", max_length=8)
    #: ``active``, ``reducing`` or ``halted`` (:class:`~neural_trader.domain.orders.TradingState`).
    trading_state: str = Field(default="active", max_length=16)
    state_reason: str | None = Field(default=None, max_length=500)
    state_changed_by: str | None = Field(default=None, max_length=200)
    state_changed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The UTC day ``day_start_equity`` belongs to (the daily-loss limit's reference).
    day: dt.date | None = Field(default=None)
    day_start_equity: decimal.Decimal | None = _dec(nullable=True)
    reconciled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    reconcile_ok: bool = Field(default=False)
    reconcile_error: str | None = Field(default=None, max_length=2000)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RiskLimitRow(Table, table=True):
    """Risk limits of an account (``strategy`` empty) or of one strategy in it; ``None``: no limit."""

    __tablename__ = "risk_limits"
    __table_args__ = (sa.UniqueConstraint("account", "strategy", name="uq_risk_limits_account_strategy"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=64)
    strategy: str = Field(default="", max_length=128)
    max_order_qty: decimal.Decimal | None = _dec(nullable=True)
    max_order_notional: decimal.Decimal | None = _dec(nullable=True)
    max_position_qty: decimal.Decimal | None = _dec(nullable=True)
    max_gross_exposure: decimal.Decimal | None = _dec(nullable=True)
    max_daily_loss: decimal.Decimal | None = _dec(nullable=True)
    max_orders_per_minute: int | None = Field(default=None)
    #: Largest distance of a limit or stop price from the last quote, as a fraction (0.05 = 5%).
    price_collar: decimal.Decimal | None = _dec(nullable=True)
    #: Symbols this account (or strategy) may not trade.
    restricted_symbols: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PaperOrderRow(Table, table=True):
    """The paper broker's book: an order it accepted, its trigger state and its executions."""

    __tablename__ = "paper_orders"

    id: int | None = Field(default=None, primary_key=True)
    #: Which paper broker instance (its name): two paper brokers keep separate books.
    broker: str = Field(max_length=64)
    client_order_id: str = Field(max_length=128, unique=True)
    broker_order_id: str = Field(max_length=64, unique=True)
    #: The request (:meth:`OrderRequest.fingerprint`), to rebuild it.
    request: dict[str, Any] = Field(sa_type=sa.JSON)
    status: str = Field(max_length=20, index=True)
    filled_qty: decimal.Decimal = _dec()
    avg_fill_price: decimal.Decimal | None = _dec(nullable=True)
    #: A stop that has triggered (a stop-limit then works as a limit).
    triggered: bool = Field(default=False)
    #: A trailing stop's best price so far (highest for a sell, lowest for a buy).
    trail_anchor: decimal.Decimal | None = _dec(nullable=True)
    #: Executions: ``[{fill_id, qty, price, commission, time}]``.
    fills: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    reason: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
