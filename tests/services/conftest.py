"""Fixtures for the service tests: the same suite on SQLite and on the real PostgreSQL, on memory
and on the real Redis.

``postgres_url`` and ``redis_url`` come from ``tests/conftest.py`` (see ``tests/servers.py`` for how
the servers are found and what happens when one does not answer).
"""

from __future__ import annotations

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
from servers import unreachable

from neural_trader.services.cache import RedisCache


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
        unreachable("redis-server", "the executable is not on PATH")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
