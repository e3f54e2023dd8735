"""The paper sportsbook's tables: ``sports_bets`` (one row per bet, single or multiple, keyed by the
client bet id) and ``sports_bet_legs`` (one row per selection of a bet: its event, market, odds,
closing odds and result).

Stakes, odds and payouts are Decimals stored exactly as text (:class:`DecimalText`). The tables live
on this plugin's own metadata and are created by its migration branch (``migrations/``, version
table ``alembic_version_sportsbook``).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata, utcnow
from neural_trader.services.tables_orders import DecimalText

__all__ = ["BetLegRow", "BetRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the sportsbook plugin's tables."""


class BetRow(Table, table=True):
    """One paper bet; ``id`` is the client bet id (the idempotency key)."""

    __tablename__ = "sports_bets"

    id: str = Field(primary_key=True, max_length=64)
    account: str = Field(max_length=64, index=True)
    #: ``single`` or ``multiple`` (an accumulator: every leg must win).
    kind: str = Field(max_length=10)
    stake: decimal.Decimal = Field(sa_type=DecimalText)
    #: The product of the legs' odds (a single's own odds).
    odds: decimal.Decimal = Field(sa_type=DecimalText)
    #: ``open``, ``won``, ``lost`` or ``void``.
    status: str = Field(max_length=10, index=True)
    #: What the bet returned (stake included) once settled; None while open.
    payout: decimal.Decimal | None = Field(default=None, sa_type=DecimalText, nullable=True)
    #: The request as placed (legs, stake, account): what idempotency compares.
    fingerprint: dict[str, Any] = Field(sa_type=sa.JSON)
    owner: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    settled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class BetLegRow(Table, table=True):
    """One selection of a bet."""

    __tablename__ = "sports_bet_legs"

    bet_id: str = Field(primary_key=True, max_length=64, foreign_key="sports_bets.id")
    leg: int = Field(primary_key=True)
    event_id: str = Field(max_length=200, index=True)
    sport: str = Field(max_length=64, index=True)
    #: ``h2h`` (1X2) or ``totals`` (over/under ``line`` goals).
    market: str = Field(max_length=20)
    #: ``home``, ``draw``, ``away`` (h2h) or ``over``, ``under`` (totals).
    selection: str = Field(max_length=10)
    line: decimal.Decimal | None = Field(default=None, sa_type=DecimalText, nullable=True)
    odds: decimal.Decimal = Field(sa_type=DecimalText)
    #: The selection's closing odds, when settlement found them (for closing-line value).
    closing_odds: decimal.Decimal | None = Field(default=None, sa_type=DecimalText, nullable=True)
    #: ``open``, ``won``, ``lost`` or ``void``.
    status: str = Field(max_length=10)
    #: The final score as ``home-away`` once known.
    score: str | None = Field(default=None, max_length=20)
