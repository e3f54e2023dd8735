"""Alembic revisions of the sports plugin's branch (``alembic_version_sports``)."""
