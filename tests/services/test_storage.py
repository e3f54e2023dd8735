"""Storage on SQLite and PostgreSQL: migrations, sessions, locking, URLs, UTC times."""

from __future__ import annotations

import datetime as dt
import sqlite3
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
from sqlmodel import select

from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader.ops import Scope
from neural_trader.services import Services
from neural_trader.services import storage as storage_module
from neural_trader.services.storage import Storage, head_revision, normalize_url, upgrade_database
from neural_trader.services.tables import ApiKeyRow, metadata
from neural_trader.settings import Settings, load_settings

HEAD = head_revision()


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


def test_upgrade_database_reports_the_revisions(db_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, data_dir=tmp_path / "data", database_url=db_url)
    assert upgrade_database(settings) == (None, HEAD)
    assert upgrade_database(settings) == (HEAD, HEAD)


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


def test_models_and_migrations_agree(storage: Storage) -> None:
    storage.upgrade()
    with storage.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_every_migration_goes_down_and_up_again(storage: Storage) -> None:
    assert storage.upgrade() == (None, HEAD)
    with storage.session() as session:
        session.add(_row())
    assert storage.downgrade("base") == (HEAD, None)
    assert "api_keys" not in _tables(storage)
    assert storage.upgrade() == (None, HEAD)
    with storage.session() as session:
        assert session.exec(select(ApiKeyRow)).all() == []


def test_an_unknown_target_revision_is_a_user_error(storage: Storage) -> None:
    with pytest.raises(NtUserError, match="cannot migrate to 'nope'"):
        storage.upgrade("nope")


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
    monkeypatch.setattr(storage_module, "head_revision", lambda: "0999")
    monkeypatch.setattr(storage_module, "_known", lambda revision: True)
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
