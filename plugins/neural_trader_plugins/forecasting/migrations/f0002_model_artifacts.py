"""forecast_models: where a version's files are (artifact_dir, relative to the data dir) and the
SHA-256 of its ONNX graph and safetensors weights, so a changed file is refused, not served.

Revision ID: f0002
Revises: f0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f0002"
down_revision: str | Sequence[str] | None = "f0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_models") as batch:
        batch.add_column(sa.Column("artifact_dir", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("onnx_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("weights_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_models") as batch:
        batch.drop_column("weights_sha256")
        batch.drop_column("onnx_sha256")
        batch.drop_column("artifact_dir")
