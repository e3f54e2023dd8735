"""Caching market answers: hit, miss and expiry, in memory (on a fake clock) and in the real Redis
(under a unique key prefix); lifetimes by kind; compact bytes for bars."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import redis

from neural_trader.domain.market import Bars, Quote, Timeframe
from neural_trader.market.caching import CachePolicy
from neural_trader.market.provider import ProviderContext, ProviderSpec
from neural_trader.services.cache import MemoryCache, RedisCache
from neural_trader_plugins.market_providers import CAPABILITIES
from neural_trader_plugins.market_providers.synthetic import SyntheticProvider

from .conftest import NOW, MarketFactory

HOUR = 3600
START = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
END = dt.datetime(2024, 1, 31, tzinfo=dt.UTC)


class Counting(SyntheticProvider):
    """The synthetic provider under another name, counting the calls that reach it."""

    name = "counting"
    calls: dict[str, int]

    def __init__(self, ctx: ProviderContext) -> None:
        super().__init__(ctx)
        self.calls = {"bars": 0, "quote": 0}

    async def bars(self, *args: Any) -> Bars:
        self.calls["bars"] += 1
        return (await super().bars(*args)).relabel("counting")

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        self.calls["quote"] += 1
        return attrs.evolve(await super().quote(symbol, as_of=as_of), provider="counting")


SPEC = ProviderSpec(name="counting", summary="test", capabilities=CAPABILITIES["synthetic"], create=Counting)


class FakeTimer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lifetimes_fit_what_is_cached() -> None:
    policy = CachePolicy()
    now = int(NOW * 1e9)
    old_end = now - 3 * 86_400 * 10**9
    assert policy.bars_ttl(Timeframe.DAY_1, old_end, now) == 30 * 86_400  # finished history
    assert policy.bars_ttl(Timeframe.DAY_1, now, now) == 900  # today's bar is still forming
    assert policy.bars_ttl(Timeframe.MIN_1, now, now) == 60
    assert policy.bars_ttl(Timeframe.MIN_5, now - 10 * 60 * 10**9, now) == 300
    assert policy.point_ttl(as_of_given=False) == 5.0 and policy.point_ttl(as_of_given=True) == 30 * 86_400


async def test_memory_cache_hit_miss_and_expiry(make_market: MarketFactory) -> None:
    timer = FakeTimer()
    market = make_market(cache=MemoryCache(timer=timer), specs=[SPEC])
    counting: Counting = market.provider("counting")  # type: ignore[assignment]

    first = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    second = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    assert counting.calls["bars"] == 1 and second.equals(first) and second.provider == "counting"

    await market.quote("AAPL", provider="counting")
    await market.quote("AAPL", provider="counting")
    assert counting.calls["quote"] == 1
    timer.now += 6  # past the 5 s quote lifetime
    await market.quote("AAPL", provider="counting")
    assert counting.calls["quote"] == 2

    timer.now += 29 * 86_400  # finished history keeps for 30 days
    await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    assert counting.calls["bars"] == 1
    timer.now += 2 * 86_400
    await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    assert counting.calls["bars"] == 2


async def test_recent_bars_keep_for_minutes(make_market: MarketFactory) -> None:
    timer = FakeTimer()
    market = make_market(cache=MemoryCache(timer=timer), specs=[SPEC])
    counting: Counting = market.provider("counting")  # type: ignore[assignment]
    await market.bars("AAPL", Timeframe.MIN_5, None, None, provider="counting")  # up to "now"
    timer.now += 200
    await market.bars("AAPL", Timeframe.MIN_5, None, None, provider="counting")
    assert counting.calls["bars"] == 1
    timer.now += 200
    await market.bars("AAPL", Timeframe.MIN_5, None, None, provider="counting")
    assert counting.calls["bars"] == 2


async def test_bars_are_cached_as_compact_bytes(make_market: MarketFactory) -> None:
    cache = MemoryCache()
    market = make_market(cache=cache, specs=[SPEC])
    bars = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    key = market.cache.key("bars", "counting", "AAPL", "1Day", int(START.timestamp() * 1e9), int(END.timestamp() * 1e9), "all")
    raw = cache.get(key)
    assert raw is not None and raw[:4] == b"NTB1" and len(raw) < 48 * len(bars) + 200


async def test_an_undecodable_entry_is_a_miss(make_market: MarketFactory) -> None:
    cache = MemoryCache()
    market = make_market(cache=cache, specs=[SPEC])
    key = market.cache.key("bars", "counting", "AAPL", "1Day", int(START.timestamp() * 1e9), int(END.timestamp() * 1e9), "all")
    cache.set(key, b"written by another version")
    bars = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    assert len(bars) > 10 and cache.get(key)[:4] == b"NTB1"  # type: ignore[index]


async def test_caching_can_be_switched_off(make_market: MarketFactory) -> None:
    market = make_market(specs=[SPEC], plugins={"market": {"cache": "false"}})
    counting: Counting = market.provider("counting")  # type: ignore[assignment]
    await market.quote("AAPL", provider="counting")
    await market.quote("AAPL", provider="counting")
    assert counting.calls["quote"] == 2


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[RedisCache]:
    prefix = f"nt-test-market-{uuid.uuid4().hex[:10]}:"
    cache = RedisCache(redis.Redis.from_url(redis_url), prefix=prefix)
    yield cache
    keys = list(cache.client.scan_iter(match=prefix + "*"))
    if keys:
        cache.client.delete(*keys)
    cache.close()


@pytest.mark.redis
async def test_redis_cache_hit_miss_and_expiry(make_market: MarketFactory, redis_cache: RedisCache) -> None:
    market = make_market(cache=redis_cache, specs=[SPEC], plugins={"market": {"quote_ttl": "0.3"}})
    counting: Counting = market.provider("counting")  # type: ignore[assignment]

    first = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    second = await market.bars("AAPL", Timeframe.DAY_1, START, END, provider="counting")
    assert counting.calls["bars"] == 1 and second.equals(first)
    stored = [k for k in redis_cache.client.scan_iter(match=redis_cache.prefix + "market:v1:bars:*")]
    assert len(stored) == 1
    ttl = redis_cache.client.ttl(stored[0])
    assert 29 * 86_400 < ttl <= 30 * 86_400

    started = time.monotonic()
    quote = await market.quote("AAPL", provider="counting")
    again = await market.quote("AAPL", provider="counting")
    if time.monotonic() - started < 0.3:  # a stalled machine may have outlived the TTL already
        assert counting.calls["quote"] == 1 and again == quote
    calls = counting.calls["quote"]
    time.sleep(0.4)
    await market.quote("AAPL", provider="counting")
    assert counting.calls["quote"] == calls + 1
