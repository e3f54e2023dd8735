"""Fixtures for the news tests: recorded and constructed answers (provenance in
``fixtures/MANIFEST.news.json``), replayed through the host's real HTTP layer on a mock transport
with a fake sleep, so no test reaches the internet or waits."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neural_trader.services.http import HttpService, ProviderClient
from neural_trader.settings import load_settings
from neural_trader_plugins.news.common import NewsRequest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    return {e["file"]: e for e in json.loads((FIXTURES / "MANIFEST.news.json").read_text())}


def body(name: str) -> Any:
    """The decoded JSON of fixture ``name`` (``newsapi/everything.json``)."""
    manifest()[name]  # every fixture used must have its provenance entry
    return json.loads((FIXTURES / name).read_text())


def recorded(name: str) -> httpx.Response:
    """Fixture ``name`` as an HTTP response with its recorded status and headers."""
    entry = manifest()[name]
    headers = {"Content-Type": "application/json", **entry.get("headers", {})}
    return httpx.Response(entry["status"], headers=headers, content=(FIXTURES / name).read_bytes(),
                          request=httpx.Request("GET", entry["url"] or "https://example.invalid/"))


class Replay:
    """A mock server answering every request with the next of ``answers`` (the last repeats)."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


Send = Callable[[NewsRequest, Callable[[httpx.Response], Any], "list[httpx.Response]"], Any]


@pytest.fixture
def http(tmp_path: Path) -> Iterator[tuple[HttpService, Replay, list[float]]]:
    """An :class:`HttpService` over a :class:`Replay`; the list collects the (fake) sleeps."""
    replay, sleeps = Replay(), []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    service = HttpService(load_settings(env={}, data_dir=tmp_path / "data"), transport=httpx.MockTransport(replay),
                          sleep=sleep)
    yield service, replay, sleeps
    service.close()


@pytest.fixture
def send(http: tuple[HttpService, Replay, list[float]]) -> Callable[..., Any]:
    """``await send(request, classify, *answers)``: the decoded JSON the host's HTTP layer returns
    for ``request`` when the provider answers ``answers`` in turn."""
    service, replay, _ = http

    async def run(request: NewsRequest, classify: Any, *answers: httpx.Response) -> Any:
        replay.answers = list(answers)
        client: ProviderClient = service.client(request.provider, base_url=request.base_url,
                                                headers=request.headers_dict(), classify=classify)
        return await client.get_json(request.path, request.params_dict())

    run.replay = replay  # type: ignore[attr-defined]
    return run
