"""backtest_runs: every stored backtest (request, data and code fingerprints, metrics, results).

The first revision of the backtest plugin's branch. It was the core's revision 0002 while the table
was the core's; the id is kept, so a database an older version migrated to 0002 is moved to this
branch as it is (``MigrationBranch.legacy`` in the plugin).

Revision ID: 0002
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("symbols", sa.String(length=500), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("timeframe", sa.String(length=20), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("first_bar", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_bar", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_bars", sa.Integer(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("code_version", sa.String(length=100), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("results", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_runs")),
    )
    op.create_index(op.f("ix_backtest_runs_created_at"), "backtest_runs", ["created_at"], unique=False)
    op.create_index(op.f("ix_backtest_runs_strategy"), "backtest_runs", ["strategy"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_backtest_runs_strategy"), table_name="backtest_runs")
    op.drop_index(op.f("ix_backtest_runs_created_at"), table_name="backtest_runs")
    op.drop_table("backtest_runs")
