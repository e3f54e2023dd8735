"""What the host has learnt about each news source in this process: its last success and last error,
and the quota the source reported in its answers' headers.

Quotas "where the source tells": Finnhub and Alpaca send ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (UNIX seconds) on every answer, read here
case-insensitively; NewsAPI and Alpha Vantage send none (Alpha Vantage says it only in its HTTP-200
notices, which become :class:`~neural_trader.errors.NtRateLimited`). The host's own token bucket per
provider (``services.http``) is reported next to them by ``news.sources``.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Quota", "SourceHealth", "SourceRecord", "health_of", "quota_from_headers"]


@attrs.frozen(kw_only=True)
class Quota:
    """The source's own count of our requests: ``limit`` per its period, ``remaining`` now, and
    when the count resets (``None`` where it did not say)."""

    limit: int | None
    remaining: int | None
    resets_at: dt.datetime | None
    seen_at: dt.datetime


@attrs.frozen(kw_only=True)
class SourceRecord:
    last_success_at: dt.datetime | None = None
    last_error_at: dt.datetime | None = None
    last_error_type: str | None = None
    last_error: str | None = None
    quota: Quota | None = None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def quota_from_headers(headers: Mapping[str, str], now: dt.datetime) -> Quota | None:
    """The quota in ``headers`` (case-insensitive ``X-RateLimit-*``), or ``None`` if they carry none."""
    lower = {k.lower(): v for k, v in headers.items()}
    limit, remaining = _int(lower.get("x-ratelimit-limit")), _int(lower.get("x-ratelimit-remaining"))
    reset = _int(lower.get("x-ratelimit-reset"))
    if limit is None and remaining is None:
        return None
    resets_at = None
    if reset is not None and reset > 1_000_000_000:  # epoch seconds
        resets_at = dt.datetime.fromtimestamp(reset, dt.UTC)
    elif reset is not None and reset >= 0:  # seconds from now
        resets_at = now + dt.timedelta(seconds=reset)
    return Quota(limit=limit, remaining=remaining, resets_at=resets_at, seen_at=now)


class SourceHealth:
    """Thread-safe records by source name (collectors run on a loop of their own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, SourceRecord] = {}

    def get(self, source: str) -> SourceRecord:
        with self._lock:
            return self._records.get(source, SourceRecord())

    def _update(self, source: str, **changes: Any) -> None:
        with self._lock:
            self._records[source] = attrs.evolve(self._records.get(source, SourceRecord()), **changes)

    def success(self, source: str, at: dt.datetime) -> None:
        self._update(source, last_success_at=at)

    def error(self, source: str, at: dt.datetime, kind: str, message: str) -> None:
        self._update(source, last_error_at=at, last_error_type=kind, last_error=message)

    def quota(self, source: str, quota: Quota) -> None:
        self._update(source, quota=quota)


_HEALTH: weakref.WeakKeyDictionary[Any, SourceHealth] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def health_of(host: Any) -> SourceHealth:
    """The records of ``host`` (one per host, dropped with it)."""
    with _LOCK:
        found = _HEALTH.get(host)
        if found is None:
            found = _HEALTH[host] = SourceHealth()
        return found
