"""Storage on SQLite and PostgreSQL: migrations and plugins' migration branches, sessions, locking,
concurrent writers, URLs, UTC times, file permissions."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from branches import ALL_BRANCH_NAMES, PACK_BRANCH_NAMES, PACK_BRANCHES
from sqlmodel import select

from neural_trader.errors import NtPluginError, NtUnavailable, NtUserError
from neural_trader.ops import Scope
from neural_trader.services import Services
from neural_trader.services import storage as storage_module
from neural_trader.services.branches import CORE, MigrationBranch
from neural_trader.services.storage import Storage, head_revision, normalize_url, upgrade_database
from neural_trader.services.tables import ApiKeyRow
from neural_trader.settings import Settings, load_settings
from neural_trader_plugins.backtest import MIGRATIONS as BACKTEST

HEAD = head_revision()
BACKTEST_HEAD = head_revision(BACKTEST)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(env={"NT_CONFIG": str(tmp_path / "absent.toml")}, **overrides)


def _row(key_id: str = "k1", **kwargs: Any) -> ApiKeyRow:
    return ApiKeyRow(key_id=key_id, name="n", secret_hash="sha256$x", scopes="read", **kwargs)


def _tables(storage: Storage) -> set[str]:
    return set(sa.inspect(storage.engine).get_table_names())


def test_an_empty_database_is_migrated_on_first_use(storage: Storage) -> None:
    assert storage.current_revision() is None
    assert "api_keys" not in _tables(storage)
    with storage.session() as session:
        assert session.exec(select(ApiKeyRow)).all() == []
    assert storage.current_revision() == HEAD
    assert {"api_keys", "alembic_version"} <= _tables(storage)


def test_upgrade_database_reports_the_revisions_of_each_branch(db_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, data_dir=tmp_path / "data", database_url=db_url)
    assert upgrade_database(settings, [BACKTEST]) == {"core": (None, HEAD), "backtest": (None, BACKTEST_HEAD)}
    assert upgrade_database(settings, [BACKTEST]) == {"core": (HEAD, HEAD), "backtest": (BACKTEST_HEAD, BACKTEST_HEAD)}
    with Storage(db_url, branches=[BACKTEST]) as storage:
        assert {"api_keys", "backtest_runs", "alembic_version", "alembic_version_backtest"} <= _tables(storage)
        assert storage.current_revision("backtest") == BACKTEST_HEAD


def test_the_default_is_sqlite_in_the_data_dir_with_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    with Storage.from_settings(_settings(tmp_path, data_dir=data_dir), busy_timeout_s=7) as storage:
        assert storage.backend == "sqlite"
        with storage.session() as session:
            session.add(_row())
        with storage.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (data_dir / "neural-trader.db").is_file()
    # Another program sees the committed row: the file really is the database.
    with sqlite3.connect(data_dir / "neural-trader.db") as raw:
        assert raw.execute("SELECT key_id FROM api_keys").fetchall() == [("k1",)]


@pytest.mark.parametrize("branch", ALL_BRANCH_NAMES)
def test_models_and_migrations_agree_per_branch(db_url: str, branch: str) -> None:
    with Storage(db_url, branches=list(PACK_BRANCHES)) as storage:
        storage.upgrade()
        assert storage.model_differences(branch) == []


def test_a_model_its_migrations_lack_is_a_difference_of_its_branch_only(db_url: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pack = _pack(tmp_path, monkeypatch, "nt_probe_extra", extra_model_column=True)
    with Storage(db_url, branches=[BACKTEST, pack]) as storage:
        storage.upgrade()
        assert storage.model_differences("core") == []
        assert storage.model_differences("backtest") == []
        (diff,) = storage.model_differences(pack.name)
        assert diff[0] == "add_column" and diff[2] == "probe_items" and diff[3].name == "colour"
        # Alembic compares the same way (a plain compare_metadata of the pack's metadata sees it too).
        with storage.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "version_table": pack.version_table,
                "include_object": storage_module._only_branch_objects(pack, storage.branches)})
            assert [d[0] for d in compare_metadata(context, pack.load_metadata())] == ["add_column"]


def test_every_migration_goes_down_and_up_again(db_url: str) -> None:
    with Storage(db_url, branches=[BACKTEST]) as storage:
        assert storage.upgrade() == {"core": (None, HEAD), "backtest": (None, BACKTEST_HEAD)}
        with storage.session() as session:
            session.add(_row())
        assert storage.downgrade(branch="backtest") == {"backtest": (BACKTEST_HEAD, None)}
        assert "backtest_runs" not in _tables(storage) and "api_keys" in _tables(storage)
        assert storage.downgrade() == {"backtest": (None, None), "core": (HEAD, None)}
        assert "api_keys" not in _tables(storage)
        assert storage.upgrade() == {"core": (None, HEAD), "backtest": (None, BACKTEST_HEAD)}
        with storage.session() as session:
            assert session.exec(select(ApiKeyRow)).all() == []


def test_an_unknown_target_revision_or_branch_is_a_user_error(storage: Storage) -> None:
    with pytest.raises(NtUserError, match="cannot migrate core to 'nope'"):
        storage.upgrade("nope", branch="core")
    with pytest.raises(NtUserError, match="no migration branch 'orders'"):
        storage.upgrade(branch="orders")
    with pytest.raises(NtUserError, match="name the branch"):
        storage.upgrade("0001")


def test_a_session_commits_on_success_and_rolls_back_on_error(storage: Storage) -> None:
    with storage.session() as session:
        session.add(_row("kept"))
    with pytest.raises(RuntimeError), storage.session() as session:
        session.add(_row("dropped"))
        session.flush()
        raise RuntimeError("boom")
    with storage.session() as session:
        assert [r.key_id for r in session.exec(select(ApiKeyRow))] == ["kept"]


def test_times_are_stored_and_returned_as_aware_utc(storage: Storage) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    created = dt.datetime(2024, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    with storage.session() as session:
        session.add(_row(created_at=created))
    with storage.session() as session:
        row = session.exec(select(ApiKeyRow)).one()
        later = session.exec(select(ApiKeyRow).where(
            ApiKeyRow.created_at > dt.datetime(2024, 6, 1, 12, 30, 14, tzinfo=dt.UTC))).all()
    assert row.created_at == created
    assert row.created_at.tzinfo == dt.UTC
    assert len(later) == 1  # compared as instants, not as text


def test_naive_datetimes_are_refused(storage: Storage) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), storage.session() as session:
        session.add(_row(created_at=dt.datetime(2024, 1, 1)))


def test_a_database_from_a_newer_version_is_refused(db_url: str) -> None:
    with Storage(db_url) as storage:
        storage.upgrade()
        with storage.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    with Storage(db_url) as storage, pytest.raises(NtUnavailable, match="newer version"), \
            storage.session():
        pass


@pytest.mark.postgres
def test_an_outdated_shared_postgresql_is_upgraded_on_purpose_only(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Storage(postgres_url) as storage:
        storage.upgrade()
    # Pretend this code is one migration ahead of the database.
    monkeypatch.setattr(storage_module, "head_revision", lambda branch=CORE: "0999")
    monkeypatch.setattr(storage_module, "_known", lambda branch, revision: True)
    with Storage(postgres_url) as storage:
        with pytest.raises(NtUnavailable, match="run `neural-trader db upgrade`"), storage.session():
            pass
        assert storage.current_revision() == HEAD  # untouched


def test_an_unreachable_database_is_unavailable_not_a_crash() -> None:
    with Storage("postgresql://postgres:hunter2@127.0.0.1:1/none") as storage, \
            pytest.raises(NtUnavailable) as caught, storage.session():
        pass
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def _backend_pid(storage: Storage) -> int:
    with storage.session() as session:
        return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@pytest.mark.postgres
def test_a_connection_in_steady_use_is_not_pinged_and_an_idle_dead_one_is_replaced(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Storage(postgres_url, ping_after_idle_s=1.0) as storage:
        pings: list[object] = []
        ping = storage.engine.dialect.do_ping
        monkeypatch.setattr(storage.engine.dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
        first = _backend_pid(storage)
        for _ in range(5):  # lent again at once: no round trip to test it
            assert _backend_pid(storage) == first
        assert pings == []
        # The database drops the pooled connection (a restart, an idle cut by a proxy).
        with Storage(postgres_url) as admin, admin.session() as session:
            assert session.connection().exec_driver_sql(f"SELECT pg_terminate_backend({first})").scalar_one()
        time.sleep(1.1)
        second = _backend_pid(storage)  # idle long enough: tested, found dead, replaced
        assert second != first
        assert len(pings) == 1


@pytest.mark.postgres
def test_a_connection_that_dies_in_steady_use_fails_once_then_the_pool_recovers(postgres_url: str) -> None:
    with Storage(postgres_url, ping_after_idle_s=60) as storage:
        first = _backend_pid(storage)
        with Storage(postgres_url) as admin, admin.session() as session:
            session.connection().exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        with pytest.raises(NtUnavailable, match="unavailable"):
            _backend_pid(storage)
        assert _backend_pid(storage) != first


def test_postgresql_urls_are_normalised_to_psycopg_3() -> None:
    assert normalize_url("postgresql://u:pw@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u:pw@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    assert repr(Storage("postgresql://u:s3cret@h/db")) == "Storage('postgresql+psycopg://u:***@h/db')"
    with pytest.raises(NtUserError, match="not a database URL"):
        normalize_url("not a url")


_RACER = textwrap.dedent("""
    import sys, time
    from sqlmodel import select
    from neural_trader.services.storage import Storage
    from neural_trader.services.tables import ApiKeyRow
    url, start_at = sys.argv[1], float(sys.argv[2])
    storage = Storage(url)
    while time.time() < start_at:
        time.sleep(0.001)
    with storage.session() as session:
        session.exec(select(ApiKeyRow)).all()
    print(storage.current_revision())
""")


def test_processes_migrating_an_empty_database_at_once_take_turns(db_url: str) -> None:
    start_at = time.time() + 3  # after every interpreter has imported everything
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, db_url, str(start_at)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(4)]
    results = [racer.communicate(timeout=120) for racer in racers]
    for racer, (out, err) in zip(racers, results, strict=True):
        assert racer.returncode == 0, err
        assert out.strip() == HEAD
    with Storage(db_url) as storage:
        assert storage.current_revision() == HEAD


def test_services_open_storage_lazily_and_close_it(tmp_path: Path) -> None:
    services = Services(_settings(tmp_path, data_dir=tmp_path / "data"))
    assert not (tmp_path / "data").exists()
    record, _token = services.keys.create("ci", frozenset({Scope.READ}))
    assert services.keys.get(record.key_id) == record
    services.close()
    assert (tmp_path / "data" / "neural-trader.db").is_file()



def test_an_in_memory_database_is_one_database_shared_by_threads() -> None:
    with Storage("sqlite://") as storage:
        def add(prefix: str) -> None:
            for i in range(10):
                with storage.session() as session:
                    session.add(_row(f"{prefix}{i}"))

        threads = [threading.Thread(target=add, args=(p,)) for p in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with storage.session() as session:
            assert len(session.exec(select(ApiKeyRow)).all()) == 40


# -- plugins' migration branches ---------------------------------------------------------------------
_PACK_TABLES = """
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import new_metadata

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    pass


class ProbeItem(Table, table=True):
    __tablename__ = "probe_items"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=50, index=True)
{extra}"""

_PACK_REVISION_1 = '''
import sqlalchemy as sa
from alembic import op

revision = "{name}_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "probe_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_items")),
    )
    op.create_index(op.f("ix_probe_items_label"), "probe_items", ["label"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_probe_items_label"), table_name="probe_items")
    op.drop_table("probe_items")
'''

_PACK_REVISION_2 = '''
import sqlalchemy as sa
from alembic import op

revision = "{name}_0002"
down_revision = "{name}_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("probe_items") as batch:
        batch.add_column(sa.Column("colour", sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table("probe_items") as batch:
        batch.drop_column("colour")
'''


def _pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, *, revisions: int = 1,
          extra_model_column: bool = False) -> MigrationBranch:
    """A plugin's branch: a package ``name`` with one table and its first ``revisions`` revisions."""
    root = tmp_path / "packs"
    package = root / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    extra = '    colour: str | None = Field(default=None, max_length=20)\n' if extra_model_column or revisions > 1 else ""
    (package / "tables.py").write_text(_PACK_TABLES.format(extra=extra))
    versions = package / f"versions_{revisions}"
    versions.mkdir()
    for number, text in list(enumerate((_PACK_REVISION_1, _PACK_REVISION_2), start=1))[:revisions]:
        (versions / f"{name}_{number:04d}.py").write_text(text.format(name=name))
    monkeypatch.syspath_prepend(str(root))
    return MigrationBranch(name=name, versions=versions, metadata=f"{name}.tables:metadata")


def _version_rows(storage: Storage, table: str) -> list[str]:
    with storage.engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text(f"SELECT version_num FROM {table}"))]


def test_a_new_plugin_branch_is_migrated_on_first_use_on_any_backend(db_url: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with Storage(db_url) as storage:
        storage.upgrade()  # the database exists, at head, before the pack is installed
    pack = _pack(tmp_path, monkeypatch, "nt_probe_new")
    with Storage(db_url, branches=[pack]) as storage:
        with storage.session() as session:
            session.execute(sa.insert(storage.table("probe_items")).values(label="first"))
        with storage.session() as session:
            assert session.execute(sa.select(storage.table("probe_items").c.label)).scalars().all() == ["first"]
        assert _version_rows(storage, "alembic_version") == [HEAD]
        assert _version_rows(storage, "alembic_version_nt_probe_new") == ["nt_probe_new_0001"]


def test_a_plugin_branch_that_is_behind_is_upgraded_like_the_core(db_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    old = _pack(tmp_path, monkeypatch, "nt_probe_behind", revisions=1)
    with Storage(db_url, branches=[old]) as storage:
        storage.upgrade()
    new = _pack(tmp_path, monkeypatch, "nt_probe_behind", revisions=2)
    with Storage(db_url, branches=[new]) as storage:
        if storage.backend == "sqlite":
            with storage.session():
                pass  # embedded: migrated on first use
        else:
            with pytest.raises(NtUnavailable, match=r"'nt_probe_behind_0001' of nt_probe_behind.*db upgrade"), \
                    storage.session():
                pass
            assert storage.upgrade()["nt_probe_behind"] == ("nt_probe_behind_0001", "nt_probe_behind_0002")
        assert storage.current_revision("nt_probe_behind") == "nt_probe_behind_0002"
        assert "colour" in {c["name"] for c in sa.inspect(storage.engine).get_columns("probe_items")}
    # The older pack's code does not know 0002: refused, and it says what to do.
    with Storage(db_url, branches=[old]) as storage, \
            pytest.raises(NtUnavailable, match=r"of nt_probe_behind, which this version .* does not know"), \
            storage.session():
        pass


def test_the_tables_of_a_plugin_no_longer_loaded_are_left_alone(db_url: str) -> None:
    with Storage(db_url, branches=[BACKTEST]) as storage:
        storage.upgrade()
    with Storage(db_url) as storage:  # the backtest plugin is blocked or uninstalled
        with storage.session() as session:
            session.add(_row())
        assert [r.branch for r in storage.revisions()] == ["core"]
        assert "backtest_runs" in _tables(storage)
        assert _version_rows(storage, "alembic_version_backtest") == [BACKTEST_HEAD]
        with pytest.raises(NtPluginError, match="no table 'backtest_runs'"):
            storage.table("backtest_runs")


def _leave_as_an_older_version_did(db_url: str) -> None:
    """A database as versions before the backtest branch left it: both tables, with rows, and only
    the core's version table, at revision 0002."""
    with Storage(db_url, branches=[BACKTEST]) as storage:
        storage.upgrade()
        when = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        assert storage.insert_new(storage.table("backtest_runs"), {
            "id": "0123456789abcdef01234567", "strategy": "sma_crossover", "symbols": "SPY", "provider": "csv",
            "timeframe": "1Day", "engine": "vectorized", "first_bar": when, "last_bar": when, "n_bars": 1,
            "spec": "{}", "data_fingerprint": "d", "result_fingerprint": "r", "code_version": "0.1.0+old",
            "metrics": "{}", "results": b"", "created_at": when}) == 1
        with storage.session() as session:
            session.add(_row("old"))
        # Nor did it have the core's tables added after 0002 (the core went on from 0001).
        storage.downgrade("0001", branch="core")
        with storage.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
            connection.exec_driver_sql("DROP TABLE alembic_version_backtest")


def test_a_database_an_older_version_left_at_0002_moves_to_the_backtest_branch(db_url: str) -> None:
    _leave_as_an_older_version_did(db_url)
    with Storage(db_url, branches=[BACKTEST]) as storage:
        (core, backtest) = storage.revisions()
        assert (core.current, core.legacy, backtest.current, backtest.legacy) == ("0001", True, "0002", True)
        if storage.backend == "sqlite":
            with storage.session():
                pass  # embedded: moved over on first use
        else:
            # Replicas still running the older version read alembic_version: move it on purpose only.
            with pytest.raises(NtUnavailable, match="db upgrade"), storage.session():
                pass
            assert _version_rows(storage, "alembic_version") == ["0002"]
            assert storage.upgrade() == {"core": ("0002", HEAD), "backtest": (None, "0002")}
        assert _version_rows(storage, "alembic_version") == [HEAD]
        assert _version_rows(storage, "alembic_version_backtest") == ["0002"]
        assert all(r.up_to_date for r in storage.revisions())
        with storage.session() as session:
            ids = session.execute(sa.select(storage.table("backtest_runs").c.id)).scalars().all()
            keys = session.exec(select(ApiKeyRow.key_id)).all()
        assert ids == ["0123456789abcdef01234567"] and keys == ["old"]
        assert storage.model_differences("core") == [] and storage.model_differences("backtest") == []


def test_a_database_at_0002_without_the_backtest_plugin_says_why_it_is_refused(db_url: str) -> None:
    _leave_as_an_older_version_did(db_url)
    with Storage(db_url) as storage, pytest.raises(NtUnavailable, match="a plugin that is not loaded"), \
            storage.session():
        pass


def test_branches_are_ordered_core_first_and_names_are_checked(tmp_path: Path) -> None:
    a = MigrationBranch(name="zeta", versions=tmp_path, metadata="x.tables:metadata")
    b = MigrationBranch(name="alpha", versions=tmp_path, metadata="x.tables:metadata")
    assert [x.name for x in Storage("sqlite://", branches=[a, b]).branches] == ["core", "alpha", "zeta"]
    with pytest.raises(NtPluginError, match="given twice"):
        Storage("sqlite://", branches=[a, a])
    with pytest.raises(NtPluginError, match="the host's own"):
        Storage("sqlite://", branches=[CORE])
    with pytest.raises(ValueError, match="lower-case"):
        MigrationBranch(name="Orders; DROP", versions=tmp_path, metadata="x:y")
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        MigrationBranch(name="orders", versions=tmp_path, metadata="x.tables")


def test_the_host_hands_its_plugins_branches_to_storage_and_fails_a_bad_one() -> None:
    from neural_trader.hookspecs import hookimpl
    from neural_trader.host import make_host

    class Bad:
        @hookimpl
        def nt_register_migrations(self, register: Any) -> None:
            register(type("NotABranch", (), {"name": "bad"})())

    host = make_host(plugins=[Bad()])
    try:
        assert tuple(b.name for b in host.migration_branches) == PACK_BRANCH_NAMES
        assert host.plugin_infos["backtest"].contributions["migrations"] == ["backtest"]
        assert tuple(b.name for b in host.services.storage.branches) == ALL_BRANCH_NAMES
        bad = next(i for i in host.plugin_infos.values() if "NotABranch" in (i.reason or ""))
        assert bad.status == "failed" and "takes a MigrationBranch" in bad.reason
    finally:
        host.close()


# -- writers, upserts, files -------------------------------------------------------------------------
def test_insert_new_stores_a_key_once_and_never_fails_on_a_second(db_url: str) -> None:
    with Storage(db_url) as storage:
        table = ApiKeyRow.__table__  # type: ignore[attr-defined]
        values = {"id": 7, "key_id": "k7", "name": "n", "secret_hash": "h", "scopes": "read",
                  "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}
        assert storage.insert_new(table, values) == 1
        assert storage.insert_new(table, {**values, "name": "other"}) == 0
        with storage.session() as session:
            assert [(r.key_id, r.name) for r in session.exec(select(ApiKeyRow))] == [("k7", "n")]


def test_read_then_write_sessions_from_many_threads_all_commit(db_url: str) -> None:
    """Each unit reads how many rows there are, then writes the next: on SQLite a deferred
    transaction fails ("database is locked") when another writer commits between the two."""
    errors: list[BaseException] = []
    with Storage(db_url) as storage:
        storage.ensure_schema()
        start = threading.Barrier(8)

        def writer(prefix: str) -> None:
            start.wait()
            try:
                for i in range(10):
                    with storage.session(write=True) as session:
                        n = len(session.exec(select(ApiKeyRow)).all())
                        session.add(_row(f"{prefix}{i}-{n}"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(p,)) for p in "abcdefgh"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with storage.session() as session:
            assert len(session.exec(select(ApiKeyRow)).all()) == 80


def test_a_new_sqlite_database_is_private_to_its_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = data_dir / "neural-trader.db"
    old_umask = os.umask(0o022)  # a usual umask: without care the file would be 0644
    try:
        with Storage(f"sqlite:///{database}") as storage, storage.session() as session:
            session.add(_row())
            session.flush()
            files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    finally:
        os.umask(old_umask)
    assert modes == {"neural-trader.db": 0o600, "neural-trader.db-wal": 0o600, "neural-trader.db-shm": 0o600}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
