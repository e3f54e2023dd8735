"""The database: one SQLAlchemy engine, SQLModel sessions and Alembic migrations run from code.

SQLite in the data directory is the zero-set-up default; ``NT_DATABASE_URL`` points every replica at
one PostgreSQL instead. The schema belongs to migrations: the core's in ``neural_trader/migrations``
and each plugin's own branch (:class:`~neural_trader.services.branches.MigrationBranch`, registered
through ``nt_register_migrations``), each branch with a version table of its own. No
``alembic.ini`` is needed, :meth:`Storage.alembic_config` builds the configuration in code.

When a branch is brought up to date:

* an **empty branch** (a new database, or a plugin installed since) is migrated on first use, on any
  backend, so nothing needs setting up;
* on an **embedded SQLite database** a branch that is behind is migrated on first use too: it
  belongs to this user, and an upgrade of a package should not need a second command;
* on a **PostgreSQL database** a branch that is behind is not touched on first use: it is shared by
  replicas that may still run the old code, so it is upgraded on purpose (``neural-trader db
  upgrade``, that is :func:`upgrade_database`) and until then every session fails with a message
  saying so.

A version row this code does not know (a newer version wrote it) is refused. A branch of a plugin
that is not loaded now is left alone: its tables and version table stay, untouched.

Two processes may migrate at once (two replicas starting, a CLI next to a server): the migration runs
in one transaction under a lock, ``pg_advisory_xact_lock`` on PostgreSQL and ``BEGIN IMMEDIATE`` on
SQLite, so the second waits, then finds the schema at head and does nothing.

Writers on SQLite: :meth:`Storage.session` with ``write=True`` begins ``IMMEDIATE``, taking the
write lock before the first read, so a read-then-write transaction waits its turn (up to the busy
timeout) instead of failing with "database is locked" when another writer committed in between.
A SQLite file this module creates is readable by its owner only (0600, and its ``-wal``/``-shm``
files with it), in a directory it creates 0700: it holds API key hashes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

import neural_trader.migrations
from neural_trader.errors import NtPluginError, NtUnavailable, NtUserError
from neural_trader.services.branches import CORE, MigrationBranch

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = [
    "MIGRATIONS_DIR", "BranchRevision", "Storage", "head_revision", "normalize_url", "upgrade_database",
]

log = logging.getLogger("neural_trader.storage")

MIGRATIONS_DIR = Path(neural_trader.migrations.__file__).parent

#: Key of the PostgreSQL advisory lock that serialises migrations ("NTMIGRAT" as a 64-bit integer).
#: Advisory locks are per database, not per schema; two schemas of one database merely take turns.
_PG_MIGRATION_LOCK = int.from_bytes(b"NTMIGRAT", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: How long a migration waits for the lock or for a table another session holds.
_MIGRATION_LOCK_TIMEOUT_S = 60
#: Execution option that makes the SQLite ``begin`` handler emit ``BEGIN IMMEDIATE``.
_SQLITE_BEGIN = "nt_sqlite_begin"

#: (revision before, revision after) of one branch.
Migrated = tuple[str | None, str | None]


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


def _base_config(branch: MigrationBranch) -> Config:
    # One env.py (the core's) runs every branch; the branch decides the revisions, the version
    # table and the metadata (env.py reads the last two from the config's attributes).
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(branch.versions))
    cfg.attributes["branch"] = branch
    return cfg


@functools.cache
def _script_directory(versions: Path) -> ScriptDirectory:
    # Parsing the version files is the slow part of alembic; they do not change while we run.
    return ScriptDirectory.from_config(_base_config(attrs.evolve(CORE, versions=versions)))


def head_revision(branch: MigrationBranch = CORE) -> str:
    """The newest migration of ``branch`` (the core's by default) this code knows."""
    head = _script_directory(branch.versions).get_current_head()
    if head is None:
        raise NtPluginError(f"migration branch {branch.name!r} has no revisions in {branch.versions}")
    return head


def _known(branch: MigrationBranch, revision: str) -> bool:
    try:
        return _script_directory(branch.versions).get_revision(revision) is not None
    except CommandError:
        return False


@attrs.frozen(kw_only=True)
class BranchRevision:
    """Where one migration branch of a database is, and where this code would take it."""

    branch: str
    #: The revision in the branch's version table; ``None``: the branch was never migrated.
    current: str | None
    head: str
    #: ``current`` is a revision of the core's table that this branch took over (not migrated yet).
    legacy: bool = False
    #: The revision is one this code does not know (a newer version wrote it).
    unknown: bool = False

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.legacy


def _ordered(branches: Iterable[MigrationBranch]) -> tuple[MigrationBranch, ...]:
    """The core first, then the plugins' branches by name (never by registration order)."""
    seen: dict[str, MigrationBranch] = {}
    for branch in branches:
        if branch.name == CORE.name:
            raise NtPluginError("migration branch name 'core' is the host's own; name the branch after the plugin")
        if branch.name in seen:
            raise NtPluginError(f"migration branch {branch.name!r} is given twice")
        seen[branch.name] = branch
    return (CORE, *(seen[name] for name in sorted(seen)))


class Storage:
    """One database: an engine, sessions and its migrations. Thread-safe; close it when done.

    :param url: a SQLAlchemy URL; ``postgresql://`` is normalised to psycopg 3.
    :param branches: the plugins' migration branches (``host.migration_branches``); the core's is
        always there.
    :param auto_upgrade: bring the schema up to date on the first :meth:`session` (see the module
        docstring for when that happens). Off for tools that only inspect, such as ``db current``.
    :param busy_timeout_s: SQLite only: how long a writer waits for another writer before failing.
    :param ping_after_idle_s: server databases only: a pooled connection idle at least this long is
        tested (``SELECT 1``) before it is lent, and replaced if it is dead (:meth:`_ping_idle_connections`).
    """

    def __init__(self, url: str | URL, *, branches: Iterable[MigrationBranch] = (), auto_upgrade: bool = True,
                 busy_timeout_s: float = 10.0, ping_after_idle_s: float = 1.0, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.backend: str = self.url.get_backend_name()
        self.branches = _ordered(branches)
        self.auto_upgrade = auto_upgrade
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._ping_after_idle_s = ping_after_idle_s
        self._schema_ready = False
        self._schema_lock = threading.RLock()  # ensure_schema -> upgrade re-enters
        self._tables: dict[str, sa.Table] | None = None
        self.engine: Engine = self._make_engine(echo)
        # Writers on SQLite take the write lock at BEGIN; elsewhere a writer is a plain session.
        self._write_engine = (self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
                              if self.backend == "sqlite" else self.engine)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Storage:
        """The database ``settings`` name (``effective_database_url``): SQLite in ``data_dir`` unless
        ``NT_DATABASE_URL`` says otherwise. Creates the directory a SQLite file lives in."""
        return cls(settings.effective_database_url, **kwargs)

    def branch(self, name: str) -> MigrationBranch:
        for branch in self.branches:
            if branch.name == name:
                return branch
        known = ", ".join(b.name for b in self.branches)
        raise NtUserError(f"no migration branch {name!r}; this host has: {known}")

    # -- engine ------------------------------------------------------------------------------------
    def _make_engine(self, echo: bool) -> Engine:
        if self.backend == "sqlite":
            return self._make_sqlite_engine(echo)
        try:
            engine = sa.create_engine(self.url, echo=echo)
        except ModuleNotFoundError as exc:
            raise NtUnavailable(
                f"the database driver for {self.url.drivername} is not installed ({exc.name}); "
                "for PostgreSQL run: pip install 'neural-trader[postgres]'"
            ) from None
        self._ping_idle_connections(engine)
        return engine

    def _ping_idle_connections(self, engine: Engine) -> None:
        """Replicas outlive database restarts and load-balancer idle cuts: a pooled connection that
        has been idle for ``ping_after_idle_s`` is tested before it is lent, and a dead one is replaced
        (the pool retries with a fresh connection). One in steady use is not: a ping on every
        checkout is a round trip more for every transaction (3 of the 29 of a batch of orders, about
        a tenth of the order path's throughput on PostgreSQL). A connection that dies while in use
        fails its statement (:class:`NtUnavailable`, 503: try again), and the pool then drops every
        connection older than that failure."""
        after = self._ping_after_idle_s

        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
            record.info["checked_in_at"] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            returned = record.info.get("checked_in_at")
            if returned is None or time.monotonic() - returned < after:
                return  # just connected, or in steady use
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:
                raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc

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
            _create_private_file(Path(database))
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
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises.

        ``write=True`` for a unit that writes after it reads: on SQLite it begins ``IMMEDIATE``, so
        it queues for the write lock (up to the busy timeout) before its first read, rather than
        failing when another writer commits between its read and its write. (A unit that only
        writes, or only reads, needs neither.)

        Objects stay readable after the block (``expire_on_commit=False``). The first session of a
        Storage makes sure the schema is current (see the module docstring). A database that cannot
        be reached or stays locked raises :class:`NtUnavailable` (HTTP 503: try again), chained to
        the driver's error.
        """
        if self.auto_upgrade:
            self.ensure_schema()
        with Session(self._write_engine if write else self.engine, expire_on_commit=False) as session:
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

    def insert_new(self, table: sa.Table, values: Mapping[str, Any]) -> int:
        """Insert a row unless one with its primary key is stored already; returns 1 if this call
        stored it, 0 if it was there.

        One statement (``INSERT ... ON CONFLICT DO NOTHING``) rather than a read and then a write:
        two writers storing the same row at once store it once and neither fails, and on SQLite
        nothing is read before the write lock is taken. For rows whose key is a content hash.
        """
        key = [column.name for column in table.primary_key]
        if self.backend in ("sqlite", "postgresql"):
            dialect = importlib.import_module(f"sqlalchemy.dialects.{self.backend}")
            statement = (dialect.insert(table).values(dict(values)).on_conflict_do_nothing(index_elements=key)
                         .returning(*table.primary_key.columns))
            with self.session() as session:
                # Count what RETURNING gives back: psycopg reports no rowcount for this statement.
                return len(session.connection().execute(statement).all())
        try:
            with self.session() as session:
                session.connection().execute(sa.insert(table).values(dict(values)))
            return 1
        except IntegrityError:
            return 0  # another writer stored the same key first

    def table(self, name: str) -> sa.Table:
        """The table ``name`` as one of this storage's branches defines it (imports their models).

        How code outside a plugin reaches a table the plugin owns without importing the plugin.
        """
        if self._tables is None:
            tables: dict[str, sa.Table] = {}
            for branch in self.branches:
                tables.update(branch.load_metadata().tables)
            self._tables = tables
        try:
            return self._tables[name]
        except KeyError:
            raise NtPluginError(
                f"no table {name!r}: the plugin that owns it is not loaded (see `neural-trader plugins`)"
            ) from None

    def ensure_schema(self) -> None:
        """Migrate empty (or embedded, outdated) branches; refuse a database this code cannot use."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            revisions = self.revisions()
            unknown = [r for r in revisions if r.unknown]
            if unknown:
                raise NtUnavailable(
                    f"database {_masked(self.url)} is at schema revision "
                    + ", ".join(f"{r.current!r} of {r.branch}" for r in unknown)
                    + ", which this version of neural-trader or its plugins does not know (a newer version "
                      "wrote it, or a plugin that is not loaded now); upgrade neural-trader and its plugins"
                )
            behind = [r for r in revisions if not r.up_to_date]
            if behind:
                started = [r for r in behind if r.current is not None]
                if started and self.backend != "sqlite":
                    raise NtUnavailable(
                        f"database {_masked(self.url)} is at schema revision "
                        + ", ".join(f"{r.current!r} of {r.branch}" for r in started)
                        + "; this version of neural-trader needs "
                        + ", ".join(f"{r.head!r} of {r.branch}" for r in started)
                        + "; run `neural-trader db upgrade`"
                    )
                for name, (before, after) in self.upgrade().items():
                    if before != after:
                        log.info("migrated %s of database %s from %s to %s", name, _masked(self.url),
                                 before or "empty", after)
            self._schema_ready = True

    # -- migrations --------------------------------------------------------------------------------
    def alembic_config(self, connection: sa.Connection | None = None, *, branch: str = "core") -> Config:
        """An Alembic configuration for one branch of this database, for ``alembic.command``
        functions (``command.revision(cfg, autogenerate=True, ...)`` writes into the branch's
        versions directory).

        With ``connection``, env.py migrates on it (inside the caller's transaction and lock);
        without, it connects to :attr:`url` itself.
        """
        cfg = _base_config(self.branch(branch))
        # Config values go through configparser interpolation: a '%' in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url",
                            self.url.render_as_string(hide_password=False).replace("%", "%%"))
        # env.py leaves the other branches' tables and version tables out of autogenerate.
        cfg.attributes["all_branches"] = self.branches
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

    def upgrade(self, revision: str = "head", *, branch: str | None = None) -> dict[str, Migrated]:
        """Run migrations: every branch to its head (the core first), or ``branch`` to ``revision``.

        Returns each branch's (revision before, revision after). A database whose core version
        table holds a revision a plugin's branch took over (:attr:`MigrationBranch.legacy`) is
        moved over first.
        """
        if branch is None and revision != "head":
            raise NtUserError(f"name the branch to migrate to {revision!r} (--branch)")
        targets = self.branches if branch is None else (self.branch(branch),)
        with self._migration_transaction() as connection:
            before = self._adopt_legacy(connection)
            for target in targets:
                self._run(command.upgrade, connection, target, revision)
            after = {b.name: _revision_on(connection, b) for b in targets}
        self._refresh_ready()
        return {name: (before[name], after[name]) for name in after}

    def downgrade(self, revision: str = "base", *, branch: str | None = None) -> dict[str, Migrated]:
        """Undo migrations of ``branch`` down to ``revision`` (``"base"``: none of its tables), or of
        every branch down to base (the plugins' first, the core's last)."""
        if branch is None and revision != "base":
            raise NtUserError(f"name the branch to migrate to {revision!r} (--branch)")
        targets = tuple(reversed(self.branches)) if branch is None else (self.branch(branch),)
        with self._migration_transaction() as connection:
            before = self._adopt_legacy(connection)
            for target in targets:
                self._run(command.downgrade, connection, target, revision)
            after = {b.name: _revision_on(connection, b) for b in targets}
        self._refresh_ready()
        return {name: (before[name], after[name]) for name in after}

    def _run(self, run: Any, connection: sa.Connection, branch: MigrationBranch, revision: str) -> None:
        try:
            run(self.alembic_config(connection, branch=branch.name), revision)
        except CommandError as exc:
            raise NtUserError(f"cannot migrate {branch.name} to {revision!r}: {exc}") from None

    def _adopt_legacy(self, connection: sa.Connection) -> dict[str, str | None]:
        """Move revisions a plugin's branch took over out of the core's version table (inside the
        migration transaction); returns every branch's revision as it was before."""
        before = {b.name: _revision_on(connection, b) for b in self.branches}
        core = before[CORE.name]
        if core is None or _known(CORE, core):
            return before
        for branch in self.branches[1:]:
            if core in branch.legacy and before[branch.name] is None:
                stands_for = branch.legacy[core]
                version = sa.table(CORE.version_table, sa.column("version_num"))
                connection.execute(sa.update(version).values(version_num=stands_for))
                command.stamp(self.alembic_config(connection, branch=branch.name), core)
                log.info("moved revision %s from the core's version table to branch %s (the core is at %s)",
                         core, branch.name, stands_for)
                break
        return before

    def _refresh_ready(self) -> None:
        with self._schema_lock:
            self._schema_ready = all(r.up_to_date for r in self.revisions())

    def revisions(self) -> list[BranchRevision]:
        """Every branch's current and head revision (``db current``)."""
        try:
            with self.engine.connect() as connection:
                current = {b.name: _revision_on(connection, b) for b in self.branches}
        except OperationalError as exc:
            raise NtUnavailable(
                f"cannot reach database {_masked(self.url)}: {str(exc.orig).strip()}"
            ) from exc
        adopted: dict[str, str] = {}
        core = current[CORE.name]
        if core is not None and not _known(CORE, core):
            for branch in self.branches[1:]:
                if core in branch.legacy and current[branch.name] is None:
                    adopted = {CORE.name: branch.legacy[core], branch.name: core}
                    break
        result = []
        for branch in self.branches:
            legacy = branch.name in adopted
            revision = adopted.get(branch.name, current[branch.name])
            result.append(BranchRevision(
                branch=branch.name, current=revision, head=head_revision(branch), legacy=legacy,
                unknown=revision is not None and not _known(branch, revision)))
        return result

    def current_revision(self, branch: str = "core") -> str | None:
        """The revision ``branch`` is at, as its version table says; ``None`` when never migrated."""
        target = self.branch(branch)
        try:
            with self.engine.connect() as connection:
                return _revision_on(connection, target)
        except OperationalError as exc:
            raise NtUnavailable(
                f"cannot reach database {_masked(self.url)}: {str(exc.orig).strip()}"
            ) from exc

    def model_differences(self, branch: str = "core") -> list[Any]:
        """What autogenerate would change to make the database match ``branch``'s models (the
        other branches' tables aside): ``[]`` when its models and its migrations agree."""
        from alembic.autogenerate import compare_metadata

        target = self.branch(branch)
        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "version_table": target.version_table,
                "include_object": _only_branch_objects(target, self.branches)})
            return list(compare_metadata(context, target.load_metadata()))

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


def _only_branch_objects(branch: MigrationBranch, branches: Iterable[MigrationBranch]) -> Any:
    """An autogenerate ``include_object`` that leaves out the other branches' tables and every
    branch's version table, so each branch compares and generates only its own schema."""
    others: set[str] = set()
    for other in branches:
        others.add(other.version_table)
        if other.name != branch.name:
            others.update(other.load_metadata().tables)
    others.discard(branch.version_table)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return not (reflected and compare_to is None and table in others)

    return include_object


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its directory) readable by its owner only, before SQLite does.

    SQLite gives the ``-wal``, ``-shm`` and journal files the database file's permissions. A file
    or directory that already exists keeps the permissions it has.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
        parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)  # an empty file is an empty SQLite database


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


def _revision_on(connection: sa.Connection, branch: MigrationBranch = CORE) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": branch.version_table}
                                      ).get_current_revision()


def upgrade_database(settings: Settings, branches: Iterable[MigrationBranch] = ()) -> dict[str, Migrated]:
    """``neural-trader db upgrade``: migrate every branch of the configured database to its head.

    Returns each branch's (revision before, revision after); before is ``None`` for a branch never
    migrated, and the two are equal when there was nothing to do.
    """
    with Storage.from_settings(settings, branches=branches, auto_upgrade=False) as storage:
        migrated = storage.upgrade()
    for name, (before, after) in migrated.items():
        if before != after:
            log.info("migrated %s from %s to %s", name, before or "empty", after)
    return migrated
