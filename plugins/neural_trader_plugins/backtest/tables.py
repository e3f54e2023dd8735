"""The backtest plugin's tables: ``backtest_runs``, every backtest stored so it can be listed,
fetched and reproduced.

They live on this plugin's own metadata and are created by this plugin's migration branch
(``migrations/``, version table ``alembic_version_backtest``); the host knows nothing of them.
:mod:`neural_trader.backtest.runs` reads and writes the table through ``Storage.table``.

A run's id is a content hash of what determines it (the request, the data's fingerprint and the
code version), so running the same thing twice stores one row.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata, utcnow

__all__ = ["BacktestRunRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the backtest plugin's tables."""


class BacktestRunRow(Table, table=True):
    """One stored backtest: what was asked, on which data and code, and what came out."""

    __tablename__ = "backtest_runs"

    #: Content hash (hex) of the request, the data fingerprint and the code version.
    id: str = Field(primary_key=True, max_length=40)
    strategy: str = Field(max_length=100, index=True)
    #: Comma-separated symbols, in the order the strategy received them.
    symbols: str = Field(max_length=500)
    provider: str = Field(max_length=100)
    timeframe: str = Field(max_length=20)
    engine: str = Field(max_length=20)
    #: First and last bar of the data the run used.
    first_bar: dt.datetime = Field(sa_type=UTCDateTime)
    last_bar: dt.datetime = Field(sa_type=UTCDateTime)
    n_bars: int
    #: The full request as JSON: strategy parameters with every default, config, dates, benchmark.
    spec: str = Field(sa_type=sa.Text)
    #: SHA-256 (hex) of the bar arrays the run read (see ``runs.data_fingerprint``).
    data_fingerprint: str = Field(max_length=64)
    #: SHA-256 (hex) of the equity curve and the trades the run produced.
    result_fingerprint: str = Field(max_length=64)
    code_version: str = Field(max_length=100)
    #: Metrics as JSON (non-finite values as null).
    metrics: str = Field(sa_type=sa.Text)
    #: Equity, trades and bar times as a compressed numpy archive (``runs.pack_results``).
    results: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
