"""syndicates and syndicate_ledger: each syndicate with its ledger head, and the hash-chained records.

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
        "syndicates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syndicates")),
    )
    op.create_table(
        "syndicate_ledger",
        sa.Column("syndicate_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["syndicate_id"], ["syndicates.id"],
                                name=op.f("fk_syndicate_ledger_syndicate_id_syndicates")),
        sa.PrimaryKeyConstraint("syndicate_id", "seq", name=op.f("pk_syndicate_ledger")),
        sa.UniqueConstraint("syndicate_id", "key", name="uq_syndicate_ledger_key"),
    )


def downgrade() -> None:
    op.drop_table("syndicate_ledger")
    op.drop_table("syndicates")
