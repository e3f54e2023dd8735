"""Rate limits on callers: per identity and per operation class, shared by replicas through Redis.

Two classes, so a burst of quotes never uses up the calls that cancel orders and trading stays the
stricter: ``trade`` (an operation that is not read-only, or needs the ``trade``/``admin`` scope) and
``read`` (everything else); a caller with the ``admin`` scope has one bucket of its own
(``rate_limit_admin``, no limit by default: operators, and the harnesses that test every
operation). Each (class, identity) pair has a token bucket of
:class:`~neural_trader.services.ratelimit.RateLimiter` (``rate_limit_read`` / ``rate_limit_trade``,
``"N/SECONDS"``, ``0`` for none). With ``NT_REDIS_URL`` the buckets live in Redis under
``nt:calls:<class>:<identity>`` on wall-clock time, so N replicas enforce one limit; while Redis is
down each replica limits in memory (see :mod:`neural_trader.services.ratelimit`). A caller over its
limit gets :class:`~neural_trader.errors.NtRateLimited` (429 with ``Retry-After``) at once: a server
never parks a request waiting for a token.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import cachetools

from neural_trader.errors import NtRateLimited, NtUserError
from neural_trader.ops import Identity, Operation, Scope
from neural_trader.services.ratelimit import RateLimit, RateLimiter

if TYPE_CHECKING:
    import redis

    from neural_trader.host import Host
    from neural_trader.settings import Settings

__all__ = ["CallLimiter", "call_limiter_of", "operation_class", "parse_rate"]

_RATE_RE = re.compile(r"^\s*(\d{1,9})\s*(?:/\s*(\d+(?:\.\d+)?)\s*)?$")


def operation_class(op: Operation) -> str:
    """``trade`` for operations that act or need more than ``read``; ``read`` for the others."""
    return "trade" if not op.read_only or op.scope in (Scope.TRADE, Scope.ADMIN) else "read"


def parse_rate(text: str, *, setting: str) -> RateLimit | None:
    """``"60/60"`` (60 calls per 60 s), ``"10"`` (per minute), ``"0"`` (no limit: ``None``)."""
    match = _RATE_RE.match(str(text))
    if match is None:
        raise NtUserError(f"{setting}: expected 'CALLS/SECONDS' such as 60/60, or 0 for no limit; got {text!r}")
    calls, per = int(match.group(1)), float(match.group(2) or 60)
    if calls == 0:
        return None
    if per <= 0:
        raise NtUserError(f"{setting}: the period must be more than 0 seconds")
    return RateLimit(limit=calls, per=per, block=False)


async def _no_sleep(_seconds: float) -> None:  # policies never block, so this is never awaited
    await asyncio.sleep(0)


class CallLimiter:
    """The buckets of one host. Thread-safe; at most ``max_buckets`` callers are kept in memory."""

    def __init__(self, settings: Settings, *, redis_client: redis.Redis | None = None,
                 clock: Any = None, prefix: str = "nt:calls:", max_buckets: int = 10_000) -> None:
        self.policies = {"read": parse_rate(settings.rate_limit_read, setting="rate_limit_read"),
                         "trade": parse_rate(settings.rate_limit_trade, setting="rate_limit_trade"),
                         "admin": parse_rate(settings.rate_limit_admin, setting="rate_limit_admin")}
        self._redis = redis_client
        # Replicas share wall-clock time; one process may use the monotonic clock.
        self._clock = clock or (time.time if redis_client is not None else time.monotonic)
        self._prefix = prefix
        self._lock = threading.Lock()
        self._buckets: cachetools.LRUCache[tuple[str, str], RateLimiter] = cachetools.LRUCache(max_buckets)

    def _bucket(self, kind: str, who: str, policy: RateLimit) -> RateLimiter:
        key = (kind, who)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = RateLimiter(f"{kind} calls of {who}", policy, clock=self._clock, sleep=_no_sleep,
                                     redis_client=self._redis, key=f"{self._prefix}{kind}:{who}")
                self._buckets[key] = bucket
            return bucket

    async def admit(self, op: Operation, identity: Identity) -> None:
        """Take one call of ``op``'s class from ``identity``'s bucket, or raise :class:`NtRateLimited`."""
        kind = "admin" if identity.allows(Scope.ADMIN) else operation_class(op)
        policy = self.policies[kind]
        if policy is None:
            return
        who = f"{identity.name}:{identity.key_id}" if identity.key_id else identity.name
        bucket = self._bucket(kind, who, policy)
        try:
            await bucket.acquire()
        except NtRateLimited as exc:
            wait = exc.retry_after or policy.per / policy.limit
            raise NtRateLimited(
                f"{identity.name} may make {policy.describe()} {kind} calls and has used them up; try again "
                f"in {wait:.1f} s", retry_after=wait,
                details={"class": kind, "limit": policy.limit, "per_seconds": policy.per}) from None


_LIMITERS: weakref.WeakKeyDictionary[Any, CallLimiter] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def call_limiter_of(host: Host) -> CallLimiter:
    """The host's caller rate limits (one per services object; Redis when ``NT_REDIS_URL`` is set)."""
    services = host.services
    with _LOCK:
        limiter = _LIMITERS.get(services)
        if limiter is None:
            client = None
            if host.settings.redis_url:
                from neural_trader.services.cache import RedisCache

                client = RedisCache.from_url(host.settings.redis_url).client
                weakref.finalize(services, client.close)
            limiter = CallLimiter(host.settings, redis_client=client)
            _LIMITERS[services] = limiter
        return limiter
