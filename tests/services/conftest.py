"""Fixtures for the service tests: the same suite on SQLite and on the real PostgreSQL, on memory
and on the real Redis.

The servers are found at ``NT_TEST_POSTGRES_URL`` / ``NT_TEST_REDIS_URL`` (defaults: the local
ones). When one cannot be reached its tests are skipped with the reason, except under CI (``CI`` is
set), where that is a failure: CI provides both servers.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from neural_trader.services.cache import RedisCache
from neural_trader.services.storage import Storage, normalize_url

POSTGRES_URL = os.environ.get("NT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unreachable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)


@functools.cache
def _postgres_problem() -> str | None:
    engine = sa.create_engine(normalize_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


@functools.cache
def _redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the test PostgreSQL whose ``search_path`` is a fresh, empty schema (dropped after)."""
    problem = _postgres_problem()
    if problem:
        _unreachable(f"PostgreSQL at {POSTGRES_URL}", problem)
    schema = f"nt_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'neural-trader.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    with Storage(db_url) as storage:
        yield storage


@pytest.fixture
def redis_url() -> str:
    problem = _redis_problem()
    if problem:
        _unreachable(f"Redis at {REDIS_URL}", problem)
    return REDIS_URL


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[RedisCache]:
    """A RedisCache on the shared Redis under a prefix of its own, whose keys are deleted after."""
    cache = RedisCache.from_url(redis_url, prefix=f"nt:test:{uuid.uuid4().hex[:12]}:")
    try:
        yield cache
    finally:
        leftovers = list(cache.client.scan_iter(match=f"{cache.prefix}*"))
        if leftovers:
            cache.client.delete(*leftovers)
        cache.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of our own on a free port, to stop, pause and restart at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (it is paused first if need be, so SIGTERM is handled)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """Freeze the server: connections stay open but nothing answers (a hung Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server (never the shared one on 6379), started; stopped after the test."""
    if shutil.which("redis-server") is None:
        _unreachable("redis-server", "the executable is not on PATH")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
