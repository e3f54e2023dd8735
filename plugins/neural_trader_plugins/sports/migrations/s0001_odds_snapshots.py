"""sports_odds_snapshots: every fetched price (event, market, line, bookmaker, outcome, when, source).

Revision ID: s0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sports_odds_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("sport_key", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("home_team", sa.String(length=120), nullable=False),
        sa.Column("away_team", sa.String(length=120), nullable=False),
        sa.Column("commence_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("market", sa.String(length=20), nullable=False),
        sa.Column("point", sa.Float(), nullable=True),
        sa.Column("bookmaker", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=120), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sports_odds_snapshots")),
    )
    op.create_index("ix_sports_odds_snapshots_event", "sports_odds_snapshots",
                    ["source", "event_id", "market", "fetched_at"], unique=False)
    op.create_index(op.f("ix_sports_odds_snapshots_fetched_at"), "sports_odds_snapshots", ["fetched_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sports_odds_snapshots_fetched_at"), table_name="sports_odds_snapshots")
    op.drop_index("ix_sports_odds_snapshots_event", table_name="sports_odds_snapshots")
    op.drop_table("sports_odds_snapshots")
