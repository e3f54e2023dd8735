"""Market answers in the host cache (memory or Redis), with lifetimes that fit what they are.

* quotes and trades: seconds (``quote_ttl``, default 5); a point-in-time answer never changes, so
  it keeps for ``history_ttl``;
* bars whose range reaches the present: minutes (one bar's length, at least 1 and at most 15 minutes);
* bars of a range that ended more than one bar plus ``settle`` seconds ago: ``history_ttl``
  (default 30 days; the past does not change).

Bars travel as :mod:`neural_trader.market.codec` bytes, quotes and trades as compact JSON. Values over
``max_bytes`` are not cached (long histories belong in the local store). An entry that does not
decode (another version wrote it) is a miss and is deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

from neural_trader.domain.market import Bars, Quote, Timeframe, Trade
from neural_trader.market.codec import decode_bars, encode_bars

if TYPE_CHECKING:
    from neural_trader.services.cache import Cache

__all__ = ["CachePolicy", "MarketCache"]

log = logging.getLogger("neural_trader.market")

T = TypeVar("T", Quote, Trade)
_NS = 1_000_000_000


class CachePolicy:
    """Lifetimes in seconds; built from ``[plugins.market]`` settings by the market service."""

    def __init__(self, *, quote_ttl: float = 5.0, history_ttl: float = 30 * 86_400, settle: float = 3600.0,
                 max_bytes: int = 16 * 2**20, enabled: bool = True) -> None:
        self.quote_ttl = quote_ttl
        self.history_ttl = history_ttl
        self.settle = settle
        self.max_bytes = max_bytes
        self.enabled = enabled

    def bars_ttl(self, timeframe: Timeframe, end_ns: int, now_ns: int) -> float:
        """How long bars ending at ``end_ns`` stay fresh, seen at ``now_ns``."""
        if end_ns + timeframe.nanoseconds + int(self.settle * _NS) <= now_ns:
            return self.history_ttl
        return float(min(900, max(60, timeframe.seconds)))

    def point_ttl(self, as_of_given: bool) -> float:
        return self.history_ttl if as_of_given else self.quote_ttl


class MarketCache:
    """Typed get/put of market answers over the host's byte cache."""

    def __init__(self, cache: Cache, policy: CachePolicy, *, prefix: str = "market:v1:") -> None:
        self.cache = cache
        self.policy = policy
        self.prefix = prefix

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join("" if p is None else str(p) for p in parts)

    def get_bars(self, key: str) -> Bars | None:
        if not self.policy.enabled:
            return None
        raw = self.cache.get(key)
        if raw is None:
            return None
        try:
            return decode_bars(raw)
        except (ValueError, KeyError) as exc:
            log.warning("dropping undecodable cached bars at %s: %s", key, exc)
            self.cache.delete(key)
            return None

    def put_bars(self, key: str, bars: Bars, ttl: float) -> None:
        if not self.policy.enabled or 48 * len(bars) > self.policy.max_bytes:
            return
        self.cache.set(key, encode_bars(bars), ttl)

    def get_value(self, key: str, cls: type[T]) -> T | None:
        if not self.policy.enabled:
            return None
        raw = self.cache.get_json(key)
        if raw is None:
            return None
        from neural_trader.serde import wire

        try:
            return wire.structure(raw, cls)
        except Exception as exc:  # cattrs raises its own validation group
            log.warning("dropping undecodable cached %s at %s: %s", cls.__name__, key, exc)
            self.cache.delete(key)
            return None

    def put_value(self, key: str, value: Any, ttl: float) -> None:
        if not self.policy.enabled:
            return
        from neural_trader.serde import wire

        self.cache.set_json(key, wire.unstructure(value), ttl)
