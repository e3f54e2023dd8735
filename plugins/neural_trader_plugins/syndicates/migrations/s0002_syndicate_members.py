"""syndicate_members: each member's identity, role and state, filled from the ledgers already written
(whose member records name no identity: a member id that is an identity's name is it).

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-10
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "s0002"
down_revision: str | Sequence[str] | None = "s0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IDENTITY = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_MEMBER_KINDS = ("member_added", "member_updated", "member_removed")


def upgrade() -> None:
    members = op.create_table(
        "syndicate_members",
        sa.Column("syndicate_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["syndicate_id"], ["syndicates.id"],
                                name=op.f("fk_syndicate_members_syndicate_id_syndicates")),
        sa.PrimaryKeyConstraint("syndicate_id", "member_id", name=op.f("pk_syndicate_members")),
    )
    op.create_index(op.f("ix_syndicate_members_identity"), "syndicate_members", ["identity"], unique=False)
    ledger = sa.table("syndicate_ledger", sa.column("syndicate_id", sa.String), sa.column("seq", sa.Integer),
                      sa.column("kind", sa.String), sa.column("data", sa.Text))
    rows = op.get_bind().execute(sa.select(ledger.c.syndicate_id, ledger.c.kind, ledger.c.data)
                                 .where(ledger.c.kind.in_(_MEMBER_KINDS))
                                 .order_by(ledger.c.syndicate_id, ledger.c.seq))
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for syndicate_id, kind, text in rows:
        data = json.loads(text)
        member_id = data["member_id"]
        row = state.setdefault((syndicate_id, member_id), {
            "syndicate_id": syndicate_id, "member_id": member_id,
            "identity": member_id if _IDENTITY.match(member_id) else None, "role": "member", "active": True})
        if "identity" in data:
            row["identity"] = data["identity"]
        if kind != "member_updated":
            row["active"] = kind == "member_added"
        if data.get("role") is not None:
            row["role"] = data["role"]
    if state:
        op.bulk_insert(members, list(state.values()))


def downgrade() -> None:
    op.drop_index(op.f("ix_syndicate_members_identity"), table_name="syndicate_members")
    op.drop_table("syndicate_members")
