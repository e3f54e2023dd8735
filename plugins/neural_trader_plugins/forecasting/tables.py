"""The forecasting plugin's table: ``forecast_models``, one row per trained model version, with its
architecture, hyper-parameters, the data it saw, its honest metrics, its weights, and where its files
(safetensors, ONNX, config) are in the data dir.

The table lives on this plugin's own metadata and is created by its migration branch
(``migrations/``, version table ``alembic_version_forecasting``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata, utcnow

__all__ = ["ForecastModelRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the forecasting plugin's tables."""


class ForecastModelRow(Table, table=True):
    """One trained model version."""

    __tablename__ = "forecast_models"

    #: Random hex id of the version.
    id: str = Field(primary_key=True, max_length=40)
    architecture: str = Field(max_length=50, index=True)
    symbol: str = Field(max_length=64, index=True)
    timeframe: str = Field(max_length=20)
    provider: str = Field(max_length=100)
    #: Hyper-parameters, training settings, features, scaler and conformal calibration, as JSON.
    config: str = Field(sa_type=sa.Text)
    #: Test-part metrics of the model and of the baselines, as JSON (non-finite values as null).
    metrics: str = Field(sa_type=sa.Text)
    #: SHA-256 (hex) of the feature matrix the model was trained on.
    data_fingerprint: str = Field(max_length=64)
    first_bar: dt.datetime = Field(sa_type=UTCDateTime)
    last_bar: dt.datetime = Field(sa_type=UTCDateTime)
    #: The best epoch's weights (``torch.save`` of the state dict).
    weights: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    #: The folder of its files (safetensors, ONNX, config.json; :mod:`.artifacts`) relative to the data
    #: dir; None for a version trained before the files existed (``neural.export`` writes them).
    artifact_dir: str | None = Field(default=None, max_length=500)
    #: SHA-256 (hex) of ``model.onnx`` and ``weights.safetensors`` as written: a changed file is refused.
    onnx_sha256: str | None = Field(default=None, max_length=64)
    weights_sha256: str | None = Field(default=None, max_length=64)
