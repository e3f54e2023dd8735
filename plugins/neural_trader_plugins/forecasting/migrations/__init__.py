"""Alembic revisions of the forecasting plugin's branch (``alembic_version_forecasting``)."""
