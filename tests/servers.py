"""Where the test PostgreSQL and Redis are, and whether they answer.

``NT_TEST_POSTGRES_URL`` / ``NT_TEST_REDIS_URL`` override the local defaults. A server that cannot
be reached skips its tests with the reason, except under CI (``CI`` is set), where that is a failure:
CI provides both servers. The fixtures ``postgres_url`` and ``redis_url`` are in ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import os

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
