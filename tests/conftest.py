"""Shared test set-up: every host gets its own data dir, so no test touches the user's files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import servers

from neural_trader.services.storage import Storage


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'neural-trader.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    """A Storage on ``db_url`` (SQLite and the real PostgreSQL), closed after the test."""
    with Storage(db_url) as storage:
        yield storage


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default data and config locations at temporary directories for every test."""
    home = tmp_path_factory.mktemp("nt-home")
    monkeypatch.setenv("NT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("NT_CONFIG", str(home / "config.toml"))
    for name in ("NT_DATABASE_URL", "NT_REDIS_URL", "NT_DISABLE_PLUGIN_AUTOLOAD", "NT_LOAD_PLUGINS",
                 "NT_BLOCK_PLUGINS", "NT_AUTH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the test PostgreSQL whose ``search_path`` is a fresh, empty schema (dropped after)."""
    with servers.postgres_schema() as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """The URL of the test Redis (tests use their own key prefixes)."""
    problem = servers.redis_problem()
    if problem:
        servers.unreachable(f"Redis at {servers.REDIS_URL}", problem)
    return servers.REDIS_URL
