"""sports_bets and sports_bet_legs: the paper sportsbook's bets and their selections.

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
        "sports_bets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("stake", sa.String(length=48), nullable=False),
        sa.Column("odds", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payout", sa.String(length=48), nullable=True),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sports_bets")),
    )
    op.create_index(op.f("ix_sports_bets_account"), "sports_bets", ["account"], unique=False)
    op.create_index(op.f("ix_sports_bets_created_at"), "sports_bets", ["created_at"], unique=False)
    op.create_index(op.f("ix_sports_bets_status"), "sports_bets", ["status"], unique=False)
    op.create_table(
        "sports_bet_legs",
        sa.Column("bet_id", sa.String(length=64), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("sport", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=20), nullable=False),
        sa.Column("selection", sa.String(length=10), nullable=False),
        sa.Column("line", sa.String(length=48), nullable=True),
        sa.Column("odds", sa.String(length=48), nullable=False),
        sa.Column("closing_odds", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("score", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["bet_id"], ["sports_bets.id"], name=op.f("fk_sports_bet_legs_bet_id_sports_bets")),
        sa.PrimaryKeyConstraint("bet_id", "leg", name=op.f("pk_sports_bet_legs")),
    )
    op.create_index(op.f("ix_sports_bet_legs_event_id"), "sports_bet_legs", ["event_id"], unique=False)
    op.create_index(op.f("ix_sports_bet_legs_sport"), "sports_bet_legs", ["sport"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sports_bet_legs_sport"), table_name="sports_bet_legs")
    op.drop_index(op.f("ix_sports_bet_legs_event_id"), table_name="sports_bet_legs")
    op.drop_table("sports_bet_legs")
    op.drop_index(op.f("ix_sports_bets_status"), table_name="sports_bets")
    op.drop_index(op.f("ix_sports_bets_created_at"), table_name="sports_bets")
    op.drop_index(op.f("ix_sports_bets_account"), table_name="sports_bets")
    op.drop_table("sports_bets")
