"""The database tables, as SQLModel models on their own metadata.

The schema itself is created and changed only by the Alembic migrations in
``neural_trader/migrations/versions``; these models are how code reads and writes it. To add a table
(orders, runs...): add its model here, subclassing :class:`Table`, then add a migration that creates
it (``alembic_config`` in :mod:`neural_trader.services.storage` drives ``alembic revision
--autogenerate`` against this metadata). ``tests/services/test_storage.py`` fails if the models and
the migrations disagree.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = ["ApiKeyRow", "Table", "UTCDateTime", "metadata", "utcnow"]

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

#: Our own metadata rather than ``SQLModel.metadata``: a plugin or a test that defines a SQLModel
#: table of its own must not leak into our migrations or into autogenerate's comparison.
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


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


# Tables defined in modules of their own register on ``metadata`` when imported; import them here so
# that whoever reads the schema through this module (migrations, autogenerate) sees every table.
from neural_trader.services import tables_backtest as _tables_backtest  # noqa: E402, F401
