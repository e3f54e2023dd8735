"""Alembic environment: runs on the connection :mod:`neural_trader.services.storage` hands over.

Storage takes the migration lock (``pg_advisory_xact_lock`` / SQLite ``BEGIN IMMEDIATE``) on that
connection and opens the transaction itself, so a migration runs atomically and two processes
migrating at once take turns. Without a connection (the ``alembic`` command line), one is made
from ``sqlalchemy.url``; ``--sql`` (offline) mode prints the SQL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from neural_trader.services.tables import metadata

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead. Harmless elsewhere.
        render_as_batch=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _run_online(connection: Connection) -> None:
    _configure(connection=connection)
    # Inside Storage's transaction this is a no-op; on a bare connection it opens one.
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
               dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run_online(given)
    else:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        try:
            with engine.connect() as connection:
                _run_online(connection)
                connection.commit()
        finally:
            engine.dispose()
