"""Alembic revisions of this pack's migration branch (a package, so they ship in the wheel)."""
