"""The syndicates plugin's tables: ``syndicates`` (one row per syndicate, with its ledger's head),
``syndicate_ledger`` (the append-only, hash-chained records every state of a syndicate is replayed
from) and ``syndicate_members`` (each member's identity and role as the ledger last set them: the
index that finds a caller's syndicates without replaying every ledger).

The tables live on this plugin's own metadata and are created by its migration branch
(``migrations/``, version table ``alembic_version_syndicates``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata

__all__ = ["LedgerRow", "MemberRow", "SyndicateRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the syndicates plugin's tables."""


class SyndicateRow(Table, table=True):
    """A syndicate and the head of its ledger (a ledger shorter than its head was truncated)."""

    __tablename__ = "syndicates"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    head_seq: int
    head_hash: str = Field(max_length=64)


class LedgerRow(Table, table=True):
    """One ledger record: ``hash`` = SHA-256 of ``prev_hash`` and the canonical JSON of the rest."""

    __tablename__ = "syndicate_ledger"
    __table_args__ = (sa.UniqueConstraint("syndicate_id", "key", name="uq_syndicate_ledger_key"),)

    syndicate_id: str = Field(primary_key=True, max_length=64, foreign_key="syndicates.id")
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    #: The member who acted (or ``system``).
    actor: str = Field(max_length=64)
    #: The idempotency key (``deposit:<id>``), unique in the syndicate; null when the record has none.
    key: str | None = Field(default=None, max_length=200)
    #: Canonical JSON of the record's data.
    data: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class MemberRow(Table, table=True):
    """A member as the ledger's replay leaves it (written with every record that changes members); the
    ledger stays the truth, so whatever this table lets through is checked again on the books."""

    __tablename__ = "syndicate_members"

    syndicate_id: str = Field(primary_key=True, max_length=64, foreign_key="syndicates.id")
    member_id: str = Field(primary_key=True, max_length=64)
    #: The identity that acts as the member (``access.default_identity``), or null: operators only.
    identity: str | None = Field(default=None, max_length=64, index=True)
    role: str = Field(max_length=20)
    active: bool
