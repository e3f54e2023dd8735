"""Alembic environment: runs on the connection :mod:`neural_trader.services.storage` hands over.

One environment serves every migration branch: the configuration's ``branch`` attribute (a
:class:`~neural_trader.services.branches.MigrationBranch`, the core's when absent) says which
revisions run (``version_locations``), which version table records them and which metadata
autogenerate compares with. The other branches' tables and version tables are left out of
autogenerate, so a branch never proposes to drop what another owns.

Storage takes the migration lock (``pg_advisory_xact_lock`` / SQLite ``BEGIN IMMEDIATE``) on that
connection and opens the transaction itself, so a migration runs atomically and two processes
migrating at once take turns. Without a connection (the ``alembic`` command line), one is made
from ``sqlalchemy.url``; ``--sql`` (offline) mode prints the SQL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from neural_trader.services.branches import CORE, MigrationBranch

config = context.config
branch: MigrationBranch = config.attributes.get("branch", CORE)


def _configure(**kwargs: object) -> None:
    options: dict[str, object] = {}
    if "all_branches" in config.attributes:
        from neural_trader.services.storage import _only_branch_objects

        options["include_object"] = _only_branch_objects(branch, config.attributes["all_branches"])
    context.configure(
        target_metadata=branch.load_metadata(),
        version_table=branch.version_table,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead. Harmless elsewhere.
        render_as_batch=True,
        **options,  # type: ignore[arg-type]
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
