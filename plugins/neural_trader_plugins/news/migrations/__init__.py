"""Alembic revisions of the news plugin's branch (``alembic_version_news``)."""
