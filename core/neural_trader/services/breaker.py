"""A circuit breaker per provider: closed, open, then half-open with exactly one probe.

Written here rather than taken from a library (docs/adr/0004-http-resilience.md): the maintained
Python breakers either hold a lock across the call (pybreaker, whose async support needs Tornado),
let every caller through while half-open (purgatory, circuitbreaker), or read the wall clock
directly, so none gives "one probe, everyone else refused" with a clock a test can drive. The state
machine is small; it is guarded by a ``threading.Lock`` and never awaits while holding it, so one
breaker serves every thread and event loop of the process.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import attrs

from neural_trader.errors import NtUnavailable

__all__ = ["BreakerPolicy", "BreakerStatus", "CircuitBreaker", "CircuitOpen", "Outcome"]

BreakerState = Literal["closed", "open", "half_open"]


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """Open after ``failures`` consecutive failed attempts; probe again after ``cooldown`` seconds."""

    failures: int = attrs.field(default=5)
    cooldown: float = attrs.field(default=30.0)
    enabled: bool = True

    @failures.validator
    def _check_failures(self, _attribute: attrs.Attribute, value: int) -> None:
        if value < 1:
            raise ValueError(f"breaker failures must be >= 1, not {value!r}")

    @cooldown.validator
    def _check_cooldown(self, _attribute: attrs.Attribute, value: float) -> None:
        if value < 0:
            raise ValueError(f"breaker cooldown must be >= 0 seconds, not {value!r}")


@attrs.frozen(kw_only=True)
class BreakerStatus:
    """A provider's breaker right now. ``opened_at`` is UTC; ``next_probe_in`` is seconds."""

    state: BreakerState
    failures: int
    threshold: int
    cooldown: float
    opened_at: datetime | None = None
    next_probe_in: float | None = None


class Outcome(enum.Enum):
    SUCCESS = "success"  # the provider answered: closes the breaker
    FAILURE = "failure"  # 5xx, timeout, connection error: counts towards opening
    NEUTRAL = "neutral"  # says nothing about health (429, cancelled, refused locally)


class CircuitOpen(NtUnavailable):
    """The provider's breaker is open; no request was sent. ``retry_after`` is the next probe."""

    def __init__(self, message: str, *, retry_after: float, details: object = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class CircuitBreaker:
    """Tracks one provider's health. Call :meth:`admit`, send, then :meth:`record` the outcome.

    :param clock: monotonic seconds (tests pass a fake one).
    :param wall_clock: epoch seconds, only for reporting ``opened_at``.
    """

    def __init__(self, provider: str, policy: BreakerPolicy, *, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self.policy = policy
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._open = False
        self._opened_at = 0.0  # on self._clock
        self._opened_wall: float | None = None
        self._failures = 0
        self._probing = False

    def admit(self) -> bool:
        """Let a request through, or raise :class:`CircuitOpen`. Returns whether it is the probe."""
        if not self.policy.enabled:
            return False
        with self._lock:
            if not self._open:
                return False
            wait = self._opened_at + self.policy.cooldown - self._clock()
            if wait <= 0 and not self._probing:
                self._probing = True
                return True
        why = "a probe request is in flight" if wait <= 0 else f"next probe in {math.ceil(wait)} s"
        raise CircuitOpen(
            f"provider {self.provider} is failing; circuit open, {why}",
            retry_after=wait if wait > 0 else 1.0, details={"provider": self.provider})

    def record(self, outcome: Outcome, *, probe: bool) -> None:
        """Report how an admitted request went (``probe``: what :meth:`admit` returned)."""
        if not self.policy.enabled:
            return
        with self._lock:
            if probe:
                self._probing = False
            if outcome is Outcome.SUCCESS:
                self._open, self._failures, self._opened_wall = False, 0, None
            elif outcome is Outcome.FAILURE:
                self._failures += 1
                # A failed probe re-opens at once; a request admitted before the breaker opened
                # and failing afterwards leaves the cooldown alone.
                if probe or (not self._open and self._failures >= self.policy.failures):
                    self._open = True
                    self._opened_at = self._clock()
                    self._opened_wall = self._wall()

    def status(self) -> BreakerStatus:
        p = self.policy
        with self._lock:
            opened_at = (datetime.fromtimestamp(self._opened_wall, UTC)
                         if self._opened_wall is not None and self._open else None)
            if not self._open:
                return BreakerStatus(state="closed", failures=self._failures, threshold=p.failures,
                                     cooldown=p.cooldown)
            wait = max(0.0, self._opened_at + p.cooldown - self._clock())
            state: BreakerState = "half_open" if self._probing or wait == 0 else "open"
            return BreakerStatus(state=state, failures=self._failures, threshold=p.failures,
                                 cooldown=p.cooldown, opened_at=opened_at, next_probe_in=wait)
