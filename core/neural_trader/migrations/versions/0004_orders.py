"""orders, order_fills, positions, trading_accounts, risk_limits, paper_orders: the order manager's
book (decimals as exact text), the accounts' cash and trading state, risk limits per account and
strategy, and the paper broker's own book.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("fill_id", sa.String(length=160), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.String(length=48), nullable=False),
        sa.Column("price", sa.String(length=48), nullable=False),
        sa.Column("commission", sa.String(length=48), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_fills")),
        sa.UniqueConstraint("broker", "fill_id", name="uq_order_fills_broker_fill_id")
    )
    with op.batch_alter_table("order_fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_fills_client_order_id"), ["client_order_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("broker_order_id", sa.String(length=128), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("qty", sa.String(length=48), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("limit_price", sa.String(length=48), nullable=True),
        sa.Column("stop_price", sa.String(length=48), nullable=True),
        sa.Column("trail_price", sa.String(length=48), nullable=True),
        sa.Column("trail_percent", sa.String(length=48), nullable=True),
        sa.Column("take_profit", sa.String(length=48), nullable=True),
        sa.Column("stop_loss", sa.String(length=48), nullable=True),
        sa.Column("stop_loss_limit", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_qty", sa.String(length=48), nullable=False),
        sa.Column("avg_fill_price", sa.String(length=48), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("replaces", sa.String(length=128), nullable=True),
        sa.Column("replaced_by", sa.String(length=128), nullable=True),
        sa.Column("adopted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id"))
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "paper_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_qty", sa.String(length=48), nullable=False),
        sa.Column("avg_fill_price", sa.String(length=48), nullable=True),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.Column("trail_anchor", sa.String(length=48), nullable=True),
        sa.Column("fills", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_orders")),
        sa.UniqueConstraint("broker_order_id", name=op.f("uq_paper_orders_broker_order_id")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_paper_orders_client_order_id"))
    )
    with op.batch_alter_table("paper_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_orders_status"), ["status"], unique=False)

    op.create_table(
        "positions",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("qty", sa.String(length=48), nullable=False),
        sa.Column("avg_price", sa.String(length=48), nullable=False),
        sa.Column("realized_pnl", sa.String(length=48), nullable=False),
        sa.Column("last_price", sa.String(length=48), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "symbol", name=op.f("pk_positions"))
    )
    op.create_table(
        "risk_limits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("max_order_qty", sa.String(length=48), nullable=True),
        sa.Column("max_order_notional", sa.String(length=48), nullable=True),
        sa.Column("max_position_qty", sa.String(length=48), nullable=True),
        sa.Column("max_gross_exposure", sa.String(length=48), nullable=True),
        sa.Column("max_daily_loss", sa.String(length=48), nullable=True),
        sa.Column("max_orders_per_minute", sa.Integer(), nullable=True),
        sa.Column("price_collar", sa.String(length=48), nullable=True),
        sa.Column("restricted_symbols", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_limits")),
        sa.UniqueConstraint("account", "strategy", name="uq_risk_limits_account_strategy")
    )
    op.create_table(
        "trading_accounts",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("cash", sa.String(length=48), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.String(length=500), nullable=True),
        sa.Column("state_changed_by", sa.String(length=200), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("day_start_equity", sa.String(length=48), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconcile_ok", sa.Boolean(), nullable=False),
        sa.Column("reconcile_error", sa.String(length=2000), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_trading_accounts"))
    )


def downgrade() -> None:
    op.drop_table("trading_accounts")
    op.drop_table("risk_limits")
    op.drop_table("positions")
    with op.batch_alter_table("paper_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_orders_status"))

    op.drop_table("paper_orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_account"))

    op.drop_table("orders")
    with op.batch_alter_table("order_fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_fills_client_order_id"))

    op.drop_table("order_fills")
