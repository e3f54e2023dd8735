"""forecast_models: one row per trained model version (config, metrics, data fingerprint, weights).

Revision ID: f0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("architecture", sa.String(length=50), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("timeframe", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("first_bar", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_bar", sa.DateTime(timezone=True), nullable=False),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_models")),
    )
    op.create_index(op.f("ix_forecast_models_architecture"), "forecast_models", ["architecture"], unique=False)
    op.create_index(op.f("ix_forecast_models_created_at"), "forecast_models", ["created_at"], unique=False)
    op.create_index(op.f("ix_forecast_models_symbol"), "forecast_models", ["symbol"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_forecast_models_symbol"), table_name="forecast_models")
    op.drop_index(op.f("ix_forecast_models_created_at"), table_name="forecast_models")
    op.drop_index(op.f("ix_forecast_models_architecture"), table_name="forecast_models")
    op.drop_table("forecast_models")
