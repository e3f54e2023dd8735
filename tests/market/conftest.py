"""Fixtures for the market data tests: recorded provider answers replayed through
``httpx.MockTransport`` on fake time, a market service wired to them, hosts with the market plugin,
and the real Redis (skipped when absent, except under CI).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from neural_trader.host import Host, make_host
from neural_trader.market.service import MarketData
from neural_trader.services.cache import MemoryCache
from neural_trader.services.http import HttpService
from neural_trader.settings import Settings, load_settings
from neural_trader_plugins import market as market_plugin
from neural_trader_plugins.market_providers import SPECS

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures"
DATA = TESTS / "data"
#: A fixed "now" for the market service: 2024-06-03 (a Monday) 15:00 UTC.
NOW = 1_717_426_800.0

_KEY_VARIABLES = ("NT_ALPACA_API_KEY", "NT_ALPACA_API_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY",
                  "NT_FINNHUB_API_KEY", "FINNHUB_API_KEY", "NT_ALPHAVANTAGE_API_KEY", "ALPHAVANTAGE_API_KEY",
                  "ALPHA_VANTAGE_API_KEY", "NT_CSV_DIR", "NT_MARKET_CHAIN", "NT_ALPACA_FEED")


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real API keys must not change what these tests see."""
    for name in _KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    entries = json.loads((FIXTURES / "MANIFEST.market.json").read_text())
    return {e["file"]: e for e in entries}


def recorded(name: str, *, status: int | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """The recorded answer ``name`` (``alpaca/bars_AAPL_page1.json``) with its status and headers."""
    entry = manifest()[name]
    merged = {**entry.get("headers", {}), **(headers or {})}
    merged.setdefault("Content-Type", "application/json")
    return httpx.Response(status or entry["status"], headers=merged, content=(FIXTURES / name).read_bytes())


class Replay:
    """A mock server: per path, a queue of answers (the last one repeats); records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]]] = {}
        self.requests: list[httpx.Request] = []

    def add(self, path: str, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.routes.setdefault(path, []).extend(answers)

    def hits(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get(request.url.path)
        if not queue:
            return httpx.Response(599, json={"message": f"no route for {request.url.path} in this test"})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


class FakeTime:
    """A monotonic clock, a wall clock moving with it, and a sleep that advances both."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return NOW + self.now - 1000.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


KEYS = {"NT_ALPACA_API_KEY": "alpaca-key-id", "NT_ALPACA_API_SECRET": "alpaca-secret-value",
        "NT_FINNHUB_API_KEY": "finnhub-token-value", "NT_ALPHAVANTAGE_API_KEY": "av-key-value"}


@pytest.fixture
def replay() -> Replay:
    return Replay()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, data_dir=tmp_path / "data")


MarketFactory = Callable[..., MarketData]


@pytest.fixture
def make_market(settings: Settings, replay: Replay, fake_time: FakeTime) -> Iterator[MarketFactory]:
    """``make(environ=KEYS, plugins=None, cache=None) -> MarketData`` over the replayed providers."""
    made: list[HttpService] = []

    def make(environ: dict[str, str] | None = None, plugins: dict[str, dict[str, Any]] | None = None,
             cache: Any = None, specs: Any = SPECS) -> MarketData:
        s = attrs.evolve(settings, plugins=plugins) if plugins else settings
        http = HttpService(s, transport=httpx.MockTransport(replay), clock=fake_time.clock,
                           sleep=fake_time.sleep, wall_clock=fake_time.wall)
        made.append(http)
        return MarketData(settings=s, specs={spec.name: spec for spec in specs}, cache=MemoryCache() if cache is None else cache,
                          http=http, environ=KEYS if environ is None else environ, clock=fake_time.wall)

    yield make
    for http in made:
        http.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """A host with only the market and system plugins, its own data dir, memory cache."""
    from neural_trader_plugins import system

    h = make_host(autoload=False, plugins=[market_plugin, system], strict=True,
                  settings=load_settings(env={}, data_dir=tmp_path / "host-data"))
    yield h
    h.close()
