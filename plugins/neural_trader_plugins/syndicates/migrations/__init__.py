"""Alembic revisions of the syndicates plugin's branch (``alembic_version_syndicates``)."""
