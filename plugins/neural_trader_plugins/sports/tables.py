"""The sports plugin's table: ``sports_odds_snapshots``, one row per price as fetched (event,
market, line, bookmaker, outcome, decimal odds, when, from which source), so ``odds.movement`` can
show how a line moved between fetches.

The table lives on this plugin's own metadata and is created by its migration branch
(``migrations/``, version table ``alembic_version_sports``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata

__all__ = ["OddsSnapshotRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the sports plugin's tables."""


class OddsSnapshotRow(Table, table=True):
    """One bookmaker's decimal odds for one outcome of one market line, as fetched at ``fetched_at``."""

    __tablename__ = "sports_odds_snapshots"
    __table_args__ = (sa.Index("ix_sports_odds_snapshots_event", "source", "event_id", "market", "fetched_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)
    sport_key: str = Field(max_length=80)
    event_id: str = Field(max_length=120)
    home_team: str = Field(max_length=120)
    away_team: str = Field(max_length=120)
    commence_time: dt.datetime = Field(sa_type=UTCDateTime)
    market: str = Field(max_length=20)
    #: The line (total, or the home side's handicap); NULL for h2h.
    point: float | None = Field(default=None)
    bookmaker: str = Field(max_length=80)
    outcome: str = Field(max_length=120)
    #: Decimal odds (a price, not money).
    price: float
    #: When the bookmaker last changed the market, as the source said (NULL if it did not).
    updated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
