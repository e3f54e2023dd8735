"""Per-provider token buckets: in-process by default, shared through Redis when ``NT_REDIS_URL`` is set.

The algorithm and its storage come from ``pyrate-limiter`` (``TokenBucket`` over a ``StateBucket``:
one timestamp of state per provider, and an atomic Lua script when the state lives in Redis, so N
replicas share one provider quota). This module adds what the HTTP layer needs around it: waiting
with an injectable ``sleep`` (tests run on fake time), a ``max_wait`` so a daily quota never parks a
request for hours, a status for ``market.providers``, and a fall back to memory while Redis is down.
See docs/adr/0004-http-resilience.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable

import attrs
import redis
from pyrate_limiter import (
    AbstractClock,
    InMemoryStateStore,
    Rate,
    RateItem,
    RedisStateStore,
    StateBucket,
    TokenBucket,
)

from neural_trader.errors import NtRateLimited

__all__ = ["RateLimit", "RateLimitStatus", "RateLimiter"]

log = logging.getLogger("neural_trader.http")

#: What "Redis is not answering" looks like (anything else is a bug and is raised).
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)


def _positive(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, not {value!r}")


@attrs.frozen(kw_only=True)
class RateLimit:
    """``limit`` requests per ``per`` seconds, with bursts of up to ``burst`` (default ``limit``).

    ``block``: wait for a token (up to ``max_wait`` seconds) or raise :class:`NtRateLimited` at once.
    """

    limit: int = attrs.field(validator=_positive)
    per: float = attrs.field(default=60.0, validator=_positive)
    burst: int | None = attrs.field(default=None)
    block: bool = True
    max_wait: float = attrs.field(default=60.0)

    @burst.validator
    def _check_burst(self, _attribute: attrs.Attribute, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"burst must be >= 1, not {value!r}")

    @classmethod
    def per_minute(cls, limit: int, **kwargs: object) -> RateLimit:
        return cls(limit=limit, per=60.0, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def per_second(cls, limit: int, **kwargs: object) -> RateLimit:
        return cls(limit=limit, per=1.0, **kwargs)  # type: ignore[arg-type]

    @property
    def capacity(self) -> int:
        return self.limit if self.burst is None else self.burst

    @property
    def refill_per_second(self) -> float:
        return self.limit / self.per

    def describe(self) -> str:
        per = "minute" if self.per == 60 else "second" if self.per == 1 else f"{self.per:g} s"
        return f"{self.limit} per {per}"


@attrs.frozen(kw_only=True)
class RateLimitStatus:
    """A provider's token bucket right now."""

    limit: int
    per: float
    capacity: int
    remaining: int
    refill_per_second: float
    block: bool
    #: "memory", "redis", or "memory (redis down)".
    backend: str


class _Clock(AbstractClock):
    """pyrate-limiter's clock interface over a float-seconds clock (milliseconds, as it expects)."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._seconds = seconds

    def now(self) -> int:
        return int(self._seconds() * 1000)


class RateLimiter:
    """One provider's token bucket. Thread-safe and usable from any event loop (no asyncio locks).

    :param redis_client: share the bucket through this Redis under ``key``; ``None`` keeps it in memory.
    :param clock: seconds; with Redis it must be wall-clock time, which is what replicas share.
    :param retry_redis_after: seconds between attempts to reach a Redis that failed.
    """

    def __init__(self, provider: str, policy: RateLimit, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], redis_client: redis.Redis | None = None,
                 key: str | None = None, retry_redis_after: float = 1.0) -> None:
        self.provider = provider
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        rates = [Rate(policy.limit, max(1, round(policy.per * 1000)), burst=policy.capacity)]
        self._memory = StateBucket(rates, algorithm=TokenBucket(), store=InMemoryStateStore(), clock=_Clock(clock))
        self._redis: StateBucket | None = None
        if redis_client is not None:
            store = RedisStateStore(redis_client, key or f"nt:ratelimit:{provider}")
            self._redis = StateBucket(rates, algorithm=TokenBucket(), store=store, clock=_Clock(clock))
        self._retry_redis_after = retry_redis_after
        self._redis_down_until: float | None = None
        self._lock = threading.Lock()

    def _bucket(self) -> StateBucket:
        if self._redis is None:
            return self._memory
        down_until = self._redis_down_until
        if down_until is not None and self._clock() < down_until:
            return self._memory
        return self._redis

    def _redis_failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self._redis_down_until is None
            self._redis_down_until = self._clock() + self._retry_redis_after
        if first:
            log.warning("Redis is not answering (%s); rate limiting provider %s in this process only "
                        "until it does", exc, self.provider)

    def _take(self) -> float:
        """Take a token now and return 0, or return the seconds until one is available."""
        bucket = self._bucket()
        item = RateItem(self.provider, bucket.now())
        try:
            decision = bucket.put_decision(item)
        except _OUTAGE_ERRORS as exc:
            self._redis_failed(exc)
            bucket = self._memory
            decision = bucket.put_decision(RateItem(self.provider, bucket.now()))
        else:
            if bucket is self._redis and self._redis_down_until is not None:
                self._redis_down_until = None
                log.info("Redis answers again; provider %s shares its rate limit again", self.provider)
        if decision.allowed:  # type: ignore[union-attr]
            return 0.0
        wait_ms = decision.retry_after_ms  # type: ignore[union-attr]
        return max(0.001, (wait_ms or 1) / 1000)

    async def acquire(self) -> float:
        """Take one token, waiting for it if the policy blocks. Returns the seconds waited.

        Raises :class:`NtRateLimited` when the policy does not block, or when the wait would pass
        ``max_wait`` (a per-day quota should fail fast, not hang a request until tomorrow).
        """
        waited = 0.0
        while True:
            wait = self._take()
            if wait == 0:
                return waited
            if not self.policy.block or waited + wait > self.policy.max_wait:
                raise NtRateLimited(
                    f"provider {self.provider} allows {self.policy.describe()} and that is used up; "
                    f"try again in {wait:.1f} s",
                    retry_after=wait, details={"provider": self.provider})
            await self._sleep(wait)
            waited += wait

    def status(self) -> RateLimitStatus:
        bucket = self._bucket()
        backend = "memory" if self._redis is None else "redis" if bucket is self._redis else "memory (redis down)"
        try:
            owed = bucket.count()
        except _OUTAGE_ERRORS as exc:
            self._redis_failed(exc)
            backend, owed = "memory (redis down)", self._memory.count()
        p = self.policy
        return RateLimitStatus(limit=p.limit, per=p.per, capacity=p.capacity,
                               remaining=max(0, p.capacity - int(owed)),  # type: ignore[arg-type]
                               refill_per_second=p.refill_per_second, block=p.block, backend=backend)
