"""The audit log's tables: the hash-chained records and the signed checkpoints over them.

Core tables (on :data:`neural_trader.services.tables.metadata`, created by the core's migration
``0003``): every state-changing operation is recorded here whatever plugin performed it. How a row
is written and checked is :mod:`neural_trader.services.audit`'s job; nothing else should write them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field

from neural_trader.services.tables import Table, UTCDateTime

__all__ = ["AuditCheckpointRow", "AuditRecordRow"]


class AuditRecordRow(Table, table=True):
    """One record of the audit log: who did what to what, when, and with what result.

    ``hash`` is SHA-256 over ``prev_hash`` and the canonical serialisation of the other fields, and
    ``prev_hash`` is the previous record's ``hash`` (64 zeros for the first): editing, deleting or
    reordering a row breaks the chain. ``seq`` is assigned by the writer (the tail's plus one, under
    a lock), never by a database sequence, so that it has no gaps a rolled-back transaction left.
    """

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime = Field(sa_type=UTCDateTime)
    #: Who: the identity's name or API key id.
    actor: str = Field(max_length=200)
    #: What: the operation's name or the event.
    action: str = Field(max_length=200)
    #: On what, when it names one thing (a client order id); ``None`` otherwise.
    target: str | None = Field(default=None, max_length=200)
    #: Canonical JSON (:func:`neural_trader.services.audit.canonical_json`).
    payload: str = Field(sa_type=sa.Text)
    result: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditCheckpointRow(Table, table=True):
    """A signature over the log's tail at one moment: HMAC-SHA256 of (seq, hash) under the server's
    audit secret. Without the secret a rewritten chain cannot be given checkpoints that verify, and a
    log shorter than a checkpoint says was truncated."""

    __tablename__ = "audit_checkpoints"

    #: The record it covers (the tail when it was signed).
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    #: That record's hash.
    hash: str = Field(max_length=64)
    signature: str = Field(max_length=64)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    #: Which secret signed it (a fingerprint of the secret, not the secret).
    key_id: str = Field(max_length=32)
