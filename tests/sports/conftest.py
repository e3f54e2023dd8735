"""Shared set-up for the sports tests: the football-data source reads the two committed files
(tests/data/football-data_E0_*.csv), and The Odds API answers come from recorded fixtures
(tests/fixtures/oddsapi, provenance in tests/fixtures/MANIFEST.sports.json) through the host's real
HTTP layer on a mock transport, so no test reaches the internet."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _football_data_files(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NT_FOOTBALL_DATA_DIR", str(DATA))
    return DATA


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    return {e["file"]: e for e in json.loads((FIXTURES / "MANIFEST.sports.json").read_text())}


def recorded(name: str, **headers: str) -> httpx.Response:
    """Fixture ``oddsapi/<name>`` as the response it was recorded with (status and headers)."""
    entry = manifest()[f"oddsapi/{name}"]
    return httpx.Response(entry["status"], headers={**entry["headers"], **headers},
                          content=(FIXTURES / "oddsapi" / name).read_bytes())


class Replay:
    """A mock server: each request gets the next of ``answers`` (the last repeats)."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
