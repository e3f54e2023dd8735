"""Alembic revisions of the sportsbook plugin's branch (``alembic_version_sportsbook``)."""
