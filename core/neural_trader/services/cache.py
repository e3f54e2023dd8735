"""A byte cache with TTLs: in-process memory, or Redis shared by every replica.

One interface, :class:`Cache`, three implementations:

* :class:`MemoryCache`: a size-bounded LRU with per-entry expiry (``cachetools``); the default.
* :class:`RedisCache`: Redis through redis-py, every key under the ``nt:`` prefix.
* :class:`FallbackCache`: what :func:`make_cache` returns when ``NT_REDIS_URL`` is set. If Redis stops
  answering, calls go to a memory cache instead, with one warning per outage and no failed request;
  after ``retry_after`` seconds the next call tries Redis again, and once it answers it is used
  again. Short socket timeouts keep a dead Redis to milliseconds per probe.

Keys are plain strings; values are bytes (``get_json``/``set_json`` for JSON). All are thread-safe.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import cachetools
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from neural_trader.errors import NtUserError

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = ["Cache", "FallbackCache", "MemoryCache", "RedisCache", "make_cache"]

log = logging.getLogger("neural_trader.cache")

Bytes = bytes | bytearray | memoryview


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")


def _check(value: object, ttl: float | None) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"cache values are bytes, not {type(value).__name__}; use set_json for objects")
    _check_ttl(ttl)
    return bytes(value)


class Cache(abc.ABC):
    """A byte cache. ``ttl`` is in seconds; ``None`` keeps the entry until it is evicted or deleted."""

    #: Which store answers: "memory" or "redis".
    backend: str
    #: Lookups answered and missed since start (read by ``stats()``, exported by ``/metrics``).
    _hits: int = 0
    _misses: int = 0

    def _counted(self, value: bytes | None) -> bytes | None:
        # ``+=`` on an int attribute may lose a count under threads; the figures are for monitoring.
        if value is None:
            self._misses += 1
        else:
            self._hits += 1
        return value

    def stats(self) -> dict[str, int]:
        """Lookups since start: ``{"hits": n, "misses": m}``."""
        return {"hits": self._hits, "misses": self._misses}

    @abc.abstractmethod
    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` on a miss (absent or expired)."""

    @abc.abstractmethod
    def set(self, key: str, value: Bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing what was there (and its TTL)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are fine."""

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    @abc.abstractmethod
    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to the integer at ``key`` (0 when absent) and return the new value.

        ``ttl`` applies only when this call creates the counter, so ``incr(k, ttl=60)`` counts in
        fixed 60-second windows (rate limits). A value that is not an integer raises ``ValueError``.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The cache is not used afterwards."""

    def get_json(self, key: str, default: Any = None) -> Any:
        """The JSON value at ``key``, or ``default`` on a miss."""
        raw = self.get(key)
        return default if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.set(key, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), ttl)

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Entry(NamedTuple):
    data: bytes
    expires: float  # on the cache's timer; math.inf when the entry has no TTL


def _entry_expiry(_key: str, entry: _Entry, _now: float) -> float:
    return entry.expires


def _entry_size(entry: _Entry) -> int:
    return len(entry.data) + 64  # rough per-entry overhead, so many tiny entries still count


class MemoryCache(Cache):
    """An in-process cache bounded by ``max_bytes`` of values, least recently used out first.

    :param timer: the monotonic clock expiry is measured on (tests may pass a fake one).
    """

    backend = "memory"

    def __init__(self, max_bytes: int = 64 * 2**20, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._timer = timer
        self._lock = threading.Lock()
        self._data: cachetools.TLRUCache[str, _Entry] = cachetools.TLRUCache(
            maxsize=max_bytes, ttu=_entry_expiry, timer=timer, getsizeof=_entry_size)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
        return self._counted(None if entry is None else entry.data)

    def set(self, key: str, value: Bytes, ttl: float | None = None) -> None:
        data = _check(value, ttl)
        with self._lock:
            expires = math.inf if ttl is None else self._timer() + ttl
            self._store(key, _Entry(data, expires))

    def _store(self, key: str, entry: _Entry) -> None:
        try:
            self._data[key] = entry
        except ValueError:  # larger than the whole cache: not cached, and no stale value left behind
            self._data.pop(key, None)
            log.debug("value for %r (%d bytes) exceeds the memory cache size; not cached", key, len(entry.data))

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        _check_ttl(ttl)
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                value, expires = amount, (math.inf if ttl is None else self._timer() + ttl)
            else:
                try:
                    value, expires = int(entry.data) + amount, entry.expires
                except ValueError:
                    raise ValueError(f"cache value at {key!r} is not an integer") from None
            self._store(key, _Entry(str(value).encode(), expires))
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            self._data.expire()
            return len(self._data)

    def close(self) -> None:
        self.clear()


class RedisCache(Cache):
    """A cache in Redis. Every key is stored as ``prefix + key`` so a shared Redis stays tidy."""

    backend = "redis"

    def __init__(self, client: redis.Redis, *, prefix: str = "nt:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "nt:", socket_timeout: float = 0.25,
                 connect_timeout: float = 0.25) -> RedisCache:
        """A client with short timeouts: a cache that waits seconds for a dead server is worse than
        a miss (Redis answers in well under a millisecond when healthy).

        A broken connection is retried once at once, so a pooled connection that a Redis restart
        closed reconnects instead of reporting an outage; a timeout is not retried, so a hung
        Redis costs one ``socket_timeout`` per probe, not two.
        """
        try:
            client = redis.Redis.from_url(
                url, socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            )
        except ValueError as exc:
            raise NtUserError(f"NT_REDIS_URL is not a Redis URL ({exc}); expected e.g. "
                              "'redis://localhost:6379/0'") from None
        return cls(client, prefix=prefix)

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> bytes | None:
        return self._counted(self.client.get(self._k(key)))  # type: ignore[arg-type]

    def set(self, key: str, value: Bytes, ttl: float | None = None) -> None:
        data = _check(value, ttl)
        if ttl is None:
            self.client.set(self._k(key), data)
        else:
            self.client.set(self._k(key), data, px=max(1, math.ceil(ttl * 1000)))

    def delete(self, key: str) -> None:
        self.client.delete(self._k(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        names = [self._k(k) for k in keys]
        for start in range(0, len(names), 1000):  # keep one command's size reasonable
            self.client.delete(*names[start:start + 1000])

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        _check_ttl(ttl)
        name = self._k(key)
        try:
            if ttl is None:
                return int(self.client.incrby(name, amount))
            # MULTI/EXEC: create-with-TTL and increment in one atomic round trip, so a window that
            # expires in between cannot leave a counter without a TTL.
            pipe = self.client.pipeline(transaction=True)
            pipe.set(name, 0, nx=True, px=max(1, math.ceil(ttl * 1000)))
            pipe.incrby(name, amount)
            return int(pipe.execute()[-1])
        except redis.ResponseError as exc:
            if "not an integer" in str(exc):
                raise ValueError(f"cache value at {key!r} is not an integer") from None
            raise

    def close(self) -> None:
        self.client.close()


#: What "Redis is not answering" looks like; anything else (a wrong command, a full Redis) is a bug
#: or a configuration problem and is raised, not hidden behind the fallback.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)


class FallbackCache(Cache):
    """``primary`` (Redis) while it answers, ``fallback`` (memory) while it does not.

    Keys written or deleted during an outage are deleted from the primary when it returns, so Redis
    does not serve a value older than one this process wrote meanwhile (up to ``max_dirty`` keys;
    beyond that a warning says some entries may be stale until they expire). The memory used during
    the outage is emptied then too.

    :param retry_after: seconds between attempts to reach a primary that failed.
    :param name: how log messages call the primary (``"Redis at redis://host:6379/0"``).
    """

    def __init__(self, primary: Cache, fallback: MemoryCache | None = None, *, retry_after: float = 1.0,
                 max_dirty: int = 10_000, clock: Callable[[], float] = time.monotonic,
                 name: str | None = None) -> None:
        self.primary = primary
        self.fallback = fallback if fallback is not None else MemoryCache()
        self.retry_after = retry_after
        self.max_dirty = max_dirty
        self._clock = clock
        self.name = name or primary.backend
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None while the primary is healthy
        self._dirty: set[str] = set()
        self._dirty_overflow = False

    @property
    def backend(self) -> str:  # type: ignore[override]
        return self.fallback.backend if self._down_until is not None else self.primary.backend

    @property
    def degraded(self) -> bool:
        """Whether calls are being answered from memory because the primary is not answering."""
        return self._down_until is not None

    def _call(self, method: str, *args: Any, dirty: Iterable[str] = ()) -> Any:
        down_until = self._down_until
        if down_until is None or self._clock() >= down_until:
            try:
                result = getattr(self.primary, method)(*args)
            except _OUTAGE_ERRORS as exc:
                self._went_down(exc)
            else:
                if down_until is not None:
                    self._came_back()
                return result
        if dirty:
            self._remember(dirty)
        return getattr(self.fallback, method)(*args)

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock() + self.retry_after
        if first:
            log.warning("%s is not answering (%s); using the in-process memory cache until it does",
                        self.name, exc)

    def _came_back(self) -> None:
        with self._lock:
            if self._down_until is None:
                return
            self._down_until = None
            dirty, self._dirty = self._dirty, set()
            overflow, self._dirty_overflow = self._dirty_overflow, False
        self.fallback.clear()
        log.info("%s answers again; using it again", self.name)
        if overflow:
            log.warning("more than %d keys changed while %s was down; some of its entries may be stale "
                        "until they expire", self.max_dirty, self.name)
        if dirty:
            try:
                self.primary.delete_many(dirty)
            except _OUTAGE_ERRORS as exc:
                self._went_down(exc)
                self._remember(dirty)

    def _remember(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if len(self._dirty) >= self.max_dirty:
                    self._dirty_overflow = True
                    return
                self._dirty.add(key)

    def get(self, key: str) -> bytes | None:
        return self._call("get", key)

    def stats(self) -> dict[str, int]:
        """The primary's and the fallback's lookups together."""
        primary, fallback = self.primary.stats(), self.fallback.stats()
        return {name: primary[name] + fallback[name] for name in ("hits", "misses")}

    def set(self, key: str, value: Bytes, ttl: float | None = None) -> None:
        self._call("set", key, value, ttl, dirty=(key,))

    def delete(self, key: str) -> None:
        self._call("delete", key, dirty=(key,))

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._call("delete_many", keys, dirty=keys)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return self._call("incr", key, amount, ttl, dirty=(key,))

    def close(self) -> None:
        try:
            self.primary.close()
        finally:
            self.fallback.close()


def make_cache(settings: Settings) -> Cache:
    """Memory, or Redis with a memory fallback when ``settings.redis_url`` is set.

    Nothing connects here: a Redis that is down at start-up shows as one warning on first use.
    """
    if not settings.redis_url:
        return MemoryCache()
    from neural_trader.settings import _mask_url

    return FallbackCache(RedisCache.from_url(settings.redis_url),
                         name=f"Redis at {_mask_url(settings.redis_url)}")
