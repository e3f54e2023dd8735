"""Where the test PostgreSQL and Redis are, and whether they answer; a live uvicorn for an app.

``NT_TEST_POSTGRES_URL`` / ``NT_TEST_REDIS_URL`` override the local defaults. A server that cannot
be reached skips its tests with the reason, except under CI (``CI`` is set), where that is a failure:
CI provides both servers. The fixtures ``postgres_url`` and ``redis_url`` are in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from neural_trader.services.storage import normalize_url

POSTGRES_URL = os.environ.get("NT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unreachable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)


@functools.cache
def postgres_problem() -> str | None:
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
def redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of the test PostgreSQL whose ``search_path`` is a fresh, empty schema, dropped after.

    Skips (fails under CI) when the server does not answer."""
    problem = postgres_problem()
    if problem:
        unreachable(f"PostgreSQL at {POSTGRES_URL}", problem)
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


@contextlib.contextmanager
def serve_in_thread(app: Any, *, start_timeout: float = 60) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on a free loopback port, in a thread; yields its base URL.

    Real TCP, real lifespan: what a client of ``serve rest`` meets, disconnects included.
    """
    import uvicorn

    from neural_trader.frontends.http_protocol import HTTP_PROTOCOL

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", http=HTTP_PROTOCOL))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
