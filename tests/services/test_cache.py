"""The cache suite on memory and on the real Redis; Redis outages fall back to memory and recover."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from neural_trader.services.cache import Cache, FallbackCache, MemoryCache, RedisCache, make_cache
from neural_trader.settings import load_settings

from .conftest import RedisServer

TICK = 0.25  # TTLs in the shared suite: long enough for a slow CI, short enough to wait out


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "memory":
        with MemoryCache() as memory:
            yield memory
    else:
        yield request.getfixturevalue("redis_cache")


def test_miss_hit_overwrite_delete(cache: Cache) -> None:
    assert cache.get("a") is None
    cache.set("a", b"1")
    assert cache.get("a") == b"1"
    cache.set("a", bytearray(b"\x00\xff"))
    assert cache.get("a") == b"\x00\xff"
    cache.delete("a")
    assert cache.get("a") is None
    cache.delete("a")  # absent: fine


def test_entries_expire_after_their_ttl(cache: Cache) -> None:
    started = time.monotonic()
    cache.set("short", b"s", ttl=TICK)
    cache.set("forever", b"f")
    cache.set("long", b"l", ttl=60)
    hit = cache.get("short")
    if time.monotonic() - started < TICK:  # a stalled machine may have outlived the TTL already
        assert hit == b"s"
    time.sleep(TICK * 1.6)
    assert cache.get("short") is None
    assert cache.get("forever") == b"f"
    assert cache.get("long") == b"l"


def test_setting_again_replaces_the_ttl(cache: Cache) -> None:
    cache.set("k", b"1", ttl=TICK)
    cache.set("k", b"2")
    time.sleep(TICK * 1.6)
    assert cache.get("k") == b"2"


def test_json_round_trip(cache: Cache) -> None:
    value = {"symbol": "AAPL", "bars": [1.5, 2, None], "ok": True, "name": "Zürich"}
    cache.set_json("j", value, ttl=60)
    assert cache.get_json("j") == value
    assert cache.get_json("missing") is None
    assert cache.get_json("missing", default=[]) == []


def test_delete_many(cache: Cache) -> None:
    for key in "abc":
        cache.set(key, key.encode())
    cache.delete_many(["a", "c", "zzz"])
    assert [cache.get(k) for k in "abc"] == [None, b"b", None]


def test_incr_counts_in_fixed_windows(cache: Cache) -> None:
    assert cache.incr("n") == 1
    assert cache.incr("n", 5) == 6
    assert cache.get("n") == b"6"
    started = time.monotonic()
    assert cache.incr("w", ttl=TICK) == 1
    second = cache.incr("w", ttl=TICK)
    if time.monotonic() - started < TICK:  # a stalled machine may have outlived the window already
        assert second == 2  # the window keeps its first TTL
    time.sleep(TICK * 1.6)
    assert cache.incr("w", ttl=TICK) == 1
    cache.set("text", b"abc")
    with pytest.raises(ValueError, match="not an integer"):
        cache.incr("text")


def test_concurrent_increments_are_not_lost(cache: Cache) -> None:
    def work() -> None:
        for _ in range(200):
            cache.incr("hits", ttl=60)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("hits") == b"1600"


def test_bad_values_and_ttls_are_refused(cache: Cache) -> None:
    with pytest.raises(TypeError, match="set_json"):
        cache.set("k", "text")  # type: ignore[arg-type]
    for ttl in (0, -1):
        with pytest.raises(ValueError, match="ttl"):
            cache.set("k", b"v", ttl=ttl)
        with pytest.raises(ValueError, match="ttl"):
            cache.incr("k", ttl=ttl)


# -- memory only ------------------------------------------------------------------------------------

def test_memory_cache_evicts_least_recently_used_within_its_byte_bound() -> None:
    cache = MemoryCache(max_bytes=10 * (100 + 64))
    for i in range(10):
        cache.set(f"k{i}", bytes(100))
    cache.get("k0")  # recently used: survives
    cache.set("new", bytes(100))
    assert cache.get("k0") is not None
    assert cache.get("k1") is None
    assert len(cache) == 10


def test_memory_cache_does_not_keep_a_stale_value_it_cannot_replace() -> None:
    cache = MemoryCache(max_bytes=1000)
    cache.set("k", b"small")
    cache.set("k", bytes(5000))
    assert cache.get("k") is None


# -- redis only -------------------------------------------------------------------------------------

@pytest.mark.redis
def test_redis_keys_carry_the_nt_prefix(redis_url: str) -> None:
    key = f"test-prefix-{uuid.uuid4().hex}"
    with RedisCache.from_url(redis_url) as cache:
        assert isinstance(cache, RedisCache)
        try:
            cache.set(key, b"v", ttl=60)
            assert cache.client.get(f"nt:{key}") == b"v"
            assert cache.client.get(key) is None
        finally:
            cache.client.delete(f"nt:{key}")


def test_redis_client_uses_short_timeouts() -> None:
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0")
    options = cache.client.connection_pool.connection_kwargs
    assert options["socket_timeout"] <= 0.5
    assert options["socket_connect_timeout"] <= 0.5
    cache.close()


def test_make_cache_follows_the_settings(tmp_path: Path) -> None:
    env = {"NT_CONFIG": str(tmp_path / "absent.toml")}
    with make_cache(load_settings(env=env, data_dir=tmp_path)) as memory:
        assert isinstance(memory, MemoryCache) and memory.backend == "memory"
    settings = load_settings(env=env, data_dir=tmp_path, redis_url="redis://:pw@127.0.0.1:6379/0")
    with make_cache(settings) as cache:
        assert isinstance(cache, FallbackCache)
        assert cache.backend == "redis"
        assert "pw" not in cache.name


# -- falling back to memory -------------------------------------------------------------------------

class Flaky(MemoryCache):
    """A primary that can be switched off: raises what redis-py raises for a dead server."""

    backend = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def __getattribute__(self, name: str) -> object:
        if name in ("get", "set", "delete", "delete_many", "incr") and object.__getattribute__(self, "down"):
            raise redis.ConnectionError("Connection refused")
        if name in ("get", "set", "delete", "delete_many", "incr"):
            object.__setattr__(self, "calls", object.__getattribute__(self, "calls") + 1)
        return object.__getattribute__(self, name)


def test_an_outage_falls_back_with_one_warning_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    primary = Flaky()
    cache = FallbackCache(primary, retry_after=1.0, clock=lambda: now[0], name="test redis")
    cache.set("stale", b"old")
    primary.down = True
    with caplog.at_level(logging.WARNING, logger="neural_trader.cache"):
        for i in range(5):
            cache.set(f"k{i}", b"v")
            assert cache.get(f"k{i}") == b"v"
        cache.set("stale", b"new")
        assert cache.get("stale") == b"new"
        assert cache.degraded and cache.backend == "memory"
        now[0] = 5.0  # past the backoff: probes, still down, no second warning
        assert cache.get("k0") == b"v"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "test redis is not answering" in warnings[0].getMessage()

    primary.down = False
    calls = primary.calls
    now[0] = 5.5  # within the backoff: memory still answers, Redis is not asked
    assert cache.get("k0") == b"v"
    assert primary.calls == calls
    now[0] = 7.0
    assert cache.get("k0") is None  # Redis again, which never saw k0
    assert not cache.degraded and cache.backend == "redis"
    # What changed during the outage is dropped from Redis rather than served stale...
    assert cache.get("stale") is None
    # ...and the memory used meanwhile is emptied for the next outage.
    assert len(cache.fallback) == 0

    caplog.clear()
    primary.down = True
    with caplog.at_level(logging.WARNING, logger="neural_trader.cache"):
        cache.get("x")
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1  # a new outage


def test_errors_that_are_not_outages_are_raised() -> None:
    class Broken(MemoryCache):
        def get(self, key: str) -> bytes | None:
            raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    cache = FallbackCache(Broken())
    with pytest.raises(redis.ResponseError):
        cache.get("k")
    assert not cache.degraded


@pytest.mark.redis
def test_a_real_redis_stopping_and_returning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    direct = redis.Redis.from_url(redis_server.url)
    cache = FallbackCache(RedisCache.from_url(redis_server.url), retry_after=0.2, name="private redis")
    try:
        cache.set("before", b"1")
        assert direct.get("nt:before") == b"1"

        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="neural_trader.cache"):
            started = time.monotonic()
            for i in range(20):
                cache.set(f"during{i}", b"2", ttl=60)
                assert cache.get(f"during{i}") == b"2"
                assert cache.incr("counter") == i + 1
                time.sleep(0.02)  # spans several backoff periods, so Redis is probed again
            elapsed = time.monotonic() - started
        assert cache.backend == "memory"
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "private redis is not answering" in warnings[0].getMessage()
        assert elapsed < 5  # no call waited for a dead server (redis-py's defaults would retry for seconds)

        redis_server.start()  # same port
        time.sleep(0.3)
        cache.set("after", b"3")
        assert cache.backend == "redis"
        assert direct.get("nt:after") == b"3"
        assert cache.get("during0") is None  # memory is no longer consulted
    finally:
        cache.close()
        direct.close()


@pytest.mark.redis
def test_a_hung_redis_costs_one_short_timeout(redis_server: RedisServer) -> None:
    cache = FallbackCache(RedisCache.from_url(redis_server.url), retry_after=60)
    try:
        cache.set("k", b"v")  # connection open and pooled
        redis_server.pause()
        started = time.monotonic()
        cache.set("k", b"w")  # times out once, then memory
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(100):
            assert cache.get("k") == b"w"
        rest = time.monotonic() - started
        assert cache.degraded
        assert first < 2, first  # one socket timeout (0.25 s), not redis-py's default 5 s
        assert rest < 1, rest  # within the backoff nobody waits for Redis
    finally:
        redis_server.resume()
        cache.close()


def test_lookups_are_counted_on_memory_and_through_the_fallback() -> None:
    from neural_trader.services.cache import FallbackCache, MemoryCache

    memory = MemoryCache()
    memory.set("a", b"1")
    assert [memory.get("a"), memory.get("a"), memory.get("b")] == [b"1", b"1", None]
    assert memory.stats() == {"hits": 2, "misses": 1}
    both = FallbackCache(MemoryCache(), MemoryCache())
    both.set("a", b"1")
    both.get("a"), both.get("z")
    assert both.stats() == {"hits": 1, "misses": 1}
