"""The database: one SQLAlchemy engine, SQLModel sessions and Alembic migrations run from code.

SQLite in the data directory is the zero-set-up default; ``NT_DATABASE_URL`` points every replica at
one PostgreSQL instead. The schema belongs to the migrations in ``neural_trader/migrations``; no
``alembic.ini`` is needed, :meth:`Storage.alembic_config` builds the configuration in code.

When the schema is brought up to date:

* an **empty database** is migrated on first use, on any backend, so nothing needs setting up;
* an **embedded SQLite database** that is behind is migrated on first use too: it belongs to this
  user, and an upgrade of the package should not need a second command;
* a **PostgreSQL database that is behind** is not touched on first use: it is shared by replicas
  that may still run the old code, so it is upgraded on purpose (``neural-trader db upgrade``, that
  is :func:`upgrade_database`) and until then every session fails with a message saying so.

Two processes may migrate at once (two replicas starting, a CLI next to a server): the migration runs
in one transaction under a lock, ``pg_advisory_xact_lock`` on PostgreSQL and ``BEGIN IMMEDIATE`` on
SQLite, so the second waits, then finds the schema at head and does nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

import neural_trader.migrations
from neural_trader.errors import NtUnavailable, NtUserError

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = ["MIGRATIONS_DIR", "Storage", "head_revision", "normalize_url", "upgrade_database"]

log = logging.getLogger("neural_trader.storage")

MIGRATIONS_DIR = Path(neural_trader.migrations.__file__).parent

#: Key of the PostgreSQL advisory lock that serialises migrations ("NTMIGRAT" as a 64-bit integer).
#: Advisory locks are per database, not per schema; two schemas of one database merely take turns.
_PG_MIGRATION_LOCK = int.from_bytes(b"NTMIGRAT", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: How long a migration waits for the lock or for a table another session holds.
_MIGRATION_LOCK_TIMEOUT_S = 60
#: Execution option that makes the SQLite ``begin`` handler emit ``BEGIN IMMEDIATE``.
_SQLITE_BEGIN = "nt_sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """A SQLAlchemy URL with the driver we support: ``postgresql://`` (and Heroku-style
    ``postgres://``) become ``postgresql+psycopg://`` (psycopg 3); other drivers are left alone."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise NtUserError(
                "NT_DATABASE_URL is not a database URL; expected e.g. "
                "'postgresql://user:password@host:5432/dbname' or 'sqlite:////path/to/file.db'"
            ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@functools.cache
def _script_directory() -> ScriptDirectory:
    # Parsing the version files is the slow part of alembic; they do not change while we run.
    return ScriptDirectory.from_config(_base_config())


def _base_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def head_revision() -> str:
    """The newest migration this version of the package knows."""
    head = _script_directory().get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


def _known(revision: str) -> bool:
    try:
        return _script_directory().get_revision(revision) is not None
    except CommandError:
        return False


class Storage:
    """One database: an engine, sessions and its migrations. Thread-safe; close it when done.

    :param url: a SQLAlchemy URL; ``postgresql://`` is normalised to psycopg 3.
    :param auto_upgrade: bring the schema up to date on the first :meth:`session` (see the module
        docstring for when that happens). Off for tools that only inspect, such as ``db current``.
    :param busy_timeout_s: SQLite only: how long a writer waits for another writer before failing.
    """

    def __init__(self, url: str | URL, *, auto_upgrade: bool = True, busy_timeout_s: float = 5.0,
                 echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.backend: str = self.url.get_backend_name()
        self.auto_upgrade = auto_upgrade
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._schema_ready = False
        self._schema_lock = threading.RLock()  # ensure_schema -> upgrade re-enters
        self.engine: Engine = self._make_engine(echo)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Storage:
        """The database ``settings`` name (``effective_database_url``): SQLite in ``data_dir`` unless
        ``NT_DATABASE_URL`` says otherwise. Creates the directory a SQLite file lives in."""
        return cls(settings.effective_database_url, **kwargs)

    # -- engine ------------------------------------------------------------------------------------
    def _make_engine(self, echo: bool) -> Engine:
        if self.backend == "sqlite":
            return self._make_sqlite_engine(echo)
        try:
            # Replicas outlive database restarts and load-balancer idle cuts: test before use.
            return sa.create_engine(self.url, echo=echo, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise NtUnavailable(
                f"the database driver for {self.url.drivername} is not installed ({exc.name}); "
                "for PostgreSQL run: pip install 'neural-trader[postgres]'"
            ) from None

    def _make_sqlite_engine(self, echo: bool) -> Engine:
        database = self.url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        kwargs: dict[str, Any] = {"echo": echo}
        if in_memory:
            # An in-memory database lives and dies with its one connection: keep exactly one, lent
            # to one session at a time (threads queue for it), or each would see its own empty one.
            # (So a thread must not open a second session inside its first: it would wait for itself.)
            kwargs.update(poolclass=QueuePool, pool_size=1, max_overflow=0,
                          connect_args={"check_same_thread": False})
        elif not self.url.query.get("uri"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(self.url, **kwargs)
        busy_ms = self._busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to SQLAlchemy: the sqlite3 module's legacy mode would run DDL
            # outside transactions and begin lazily, which makes migrations non-atomic and
            # read-then-write transactions racy. The "begin" handler below emits BEGIN instead.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
                if not in_memory:
                    # Readers do not block the writer nor it them; NORMAL is durable enough with WAL.
                    _enable_wal(cursor, database, busy_ms / 1000)
                    cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    # -- sessions ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises.

        Objects stay readable after the block (``expire_on_commit=False``). The first session of a
        Storage makes sure the schema is current (see the module docstring). A database that cannot
        be reached or stays locked raises :class:`NtUnavailable` (HTTP 503: try again), chained to
        the driver's error.
        """
        if self.auto_upgrade:
            self.ensure_schema()
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise NtUnavailable(
                    f"database {_masked(self.url)} is unavailable: {str(exc.orig).strip()}"
                ) from exc
            except BaseException:
                session.rollback()
                raise

    def ensure_schema(self) -> None:
        """Migrate an empty (or embedded, outdated) database; refuse one this code cannot use."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            current, head = self.current_revision(), head_revision()
            if current != head:
                if current is not None and not _known(current):
                    raise NtUnavailable(
                        f"database {_masked(self.url)} is at schema revision {current!r}, which this "
                        f"version of neural-trader does not know (a newer version wrote it); "
                        "upgrade neural-trader"
                    )
                if current is not None and self.backend != "sqlite":
                    raise NtUnavailable(
                        f"database {_masked(self.url)} is at schema revision {current!r}, this version "
                        f"of neural-trader needs {head!r}; run `neural-trader db upgrade`"
                    )
                before, after = self.upgrade()
                log.info("migrated database %s from %s to %s", _masked(self.url), before or "empty", after)
            self._schema_ready = True

    # -- migrations --------------------------------------------------------------------------------
    def alembic_config(self, connection: sa.Connection | None = None) -> Config:
        """An Alembic configuration for this database, for ``alembic.command`` functions.

        With ``connection``, env.py migrates on it (inside the caller's transaction and lock);
        without, it connects to :attr:`url` itself.
        """
        cfg = _base_config()
        # Config values go through configparser interpolation: a '%' in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url",
                            self.url.render_as_string(hide_password=False).replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    @contextlib.contextmanager
    def _migration_transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction that holds the migration lock until it commits."""
        try:
            with self.engine.connect() as connection:
                if self.backend == "sqlite":
                    # Wait as long as a migration may take, not a request's busy timeout.
                    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                        f"PRAGMA busy_timeout = {_MIGRATION_LOCK_TIMEOUT_S * 1000}")
                    connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
                try:
                    with connection.begin():
                        if self.backend == "postgresql":
                            connection.exec_driver_sql(
                                f"SET LOCAL lock_timeout = '{_MIGRATION_LOCK_TIMEOUT_S}s'")
                            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                               {"key": _PG_MIGRATION_LOCK})
                        yield connection
                finally:
                    if self.backend == "sqlite":
                        connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                            f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        except OperationalError as exc:
            raise NtUnavailable(
                f"could not migrate database {_masked(self.url)}: {str(exc.orig).strip()}"
            ) from exc

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Run migrations up to ``revision``; returns (revision before, revision after)."""
        return self._migrate(command.upgrade, revision)

    def downgrade(self, revision: str) -> tuple[str | None, str | None]:
        """Undo migrations down to ``revision`` (``"base"``: an empty database)."""
        return self._migrate(command.downgrade, revision)

    def _migrate(self, run: Any, revision: str) -> tuple[str | None, str | None]:
        with self._migration_transaction() as connection:
            before = _revision_on(connection)
            try:
                run(self.alembic_config(connection), revision)
            except CommandError as exc:
                raise NtUserError(f"cannot migrate to {revision!r}: {exc}") from None
            after = _revision_on(connection)
        with self._schema_lock:
            self._schema_ready = after == head_revision()
        return before, after

    def current_revision(self) -> str | None:
        """The schema revision the database is at; ``None`` when it is empty."""
        try:
            with self.engine.connect() as connection:
                return _revision_on(connection)
        except OperationalError as exc:
            raise NtUnavailable(
                f"cannot reach database {_masked(self.url)}: {str(exc.orig).strip()}"
            ) from exc

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every pooled connection. Sessions opened later reconnect."""
        self.engine.dispose()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Storage({_masked(self.url)!r})"


def _enable_wal(cursor: sqlite3.Cursor, database: str, timeout_s: float) -> None:
    """Switch the file to WAL, once per database (the mode is stored in the file).

    Switching needs an exclusive lock and SQLite does not wait for it through the busy handler, so
    processes opening a new database together get "database is locked" at once: retry for as long
    as the busy timeout. A file system without WAL support (some network mounts) keeps its mode.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
            continue
        if mode != "wal":
            log.warning("SQLite database %s stays in %s journal mode (WAL is not supported there); "
                        "concurrent readers and writers will wait for each other", database, mode)
        return


def _revision_on(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(settings: Settings) -> tuple[str | None, str | None]:
    """``neural-trader db upgrade``: migrate the configured database to head.

    Returns (revision before, revision after); before is ``None`` for an empty database, and the two
    are equal when there was nothing to do.
    """
    with Storage.from_settings(settings, auto_upgrade=False) as storage:
        before, after = storage.upgrade()
    if before != after:
        log.info("migrated database from %s to %s", before or "empty", after)
    return before, after
