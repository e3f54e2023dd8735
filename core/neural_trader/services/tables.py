"""The core's database tables, as SQLModel models on their own metadata, and the pieces plugins
build their own tables from (:func:`new_metadata`, :class:`UTCDateTime`, :func:`utcnow`).

The schema itself is created and changed only by Alembic migrations, the core's in
``neural_trader/migrations/versions``; these models are how code reads and writes it. The core
holds only what the host itself needs (API keys): a feature's tables (orders, runs...) belong to
the plugin that owns the feature, on metadata of its own, with a migration branch of its own
(:class:`~neural_trader.services.branches.MigrationBranch`; see docs/writing-plugins.md).
``tests/services/test_storage.py`` fails if the models and the migrations of a branch disagree.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = ["NAMING_CONVENTION", "ApiKeyRow", "Table", "UTCDateTime", "metadata", "new_metadata", "utcnow"]

#: Deterministic constraint and index names, identical on SQLite and PostgreSQL, so that later
#: migrations can alter or drop them by name (SQLite batch mode needs names, PostgreSQL would
#: otherwise invent its own).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def new_metadata() -> sa.MetaData:
    """Metadata for one migration branch's tables, with the shared naming convention.

    Each branch has its own rather than ``SQLModel.metadata``: a plugin or a test that defines a
    SQLModel table must not leak into another branch's migrations or autogenerate's comparison.
    A plugin's table base is then ``class Table(SQLModel, registry=registry(metadata=metadata))``.
    """
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


#: The core's tables.
metadata = new_metadata()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL's ``timestamptz`` keeps the zone, SQLite stores text without one; this type refuses
    naive datetimes on the way in (a naive time is a bug, not a convention) and hands back aware UTC
    datetimes on the way out, so callers never see the difference.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        # SQLite would store the offset as text ("+00:00") and then compare times as strings;
        # storing naive UTC there keeps ordering and comparisons right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of every Neural Trader table (``class Order(Table, table=True)``)."""


class ApiKeyRow(Table, table=True):
    """An API key. Only a hash of the secret is stored; see :mod:`neural_trader.services.keys`."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    #: The public part of the token (``ntk_<key_id>_<secret>``); safe to show and log.
    key_id: str = Field(max_length=32, index=True, unique=True)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=128, repr=False)
    #: Comma-separated :class:`neural_trader.ops.Scope` values, sorted.
    scopes: str = Field(max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


# Imported last so their models register on ``metadata`` (they import ``Table`` from here).
from neural_trader.services import tables_audit as _tables_audit  # noqa: E402,F401
from neural_trader.services import tables_orders as _tables_orders  # noqa: E402,F401
from neural_trader.services import tables_security as _tables_security  # noqa: E402,F401
