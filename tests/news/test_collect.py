"""Background collection: a collector on a fake clock against recorded answers (schedule, storage,
throttling back-off, quota headers), and news.collect.start/status/stop on the real loop with a
short-lived run, stopping cleanly when asked and when the host closes. No test sleeps over ~1 s."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.host import Host
from neural_trader.services.http import HttpService
from neural_trader.testing import HostFactory, call_everywhere
from neural_trader_plugins.news import store
from neural_trader_plugins.news.collector import Collector, Collectors, CollectSpec

from .conftest import FIXTURES, Replay, recorded

T0 = dt.datetime(2024, 5, 3, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """Time that moves only when the collector waits (and by exactly what it waits)."""

    def __init__(self, start: dt.datetime) -> None:
        self.t = start
        self.waits: list[float] = []

    def now(self) -> dt.datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += dt.timedelta(seconds=seconds)
        await anyio.sleep(0)


@pytest.fixture
def feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(FIXTURES / "rss" / "sample_rss2.xml", folder / "AAPL.xml")
    monkeypatch.setenv("NT_RSS_DIR", str(folder))
    return folder


@pytest.fixture
def replay(nt_host: Host) -> Replay:
    answers = Replay()

    async def no_sleep(_seconds: float) -> None:
        return None

    nt_host.services._http = HttpService(nt_host.settings, transport=httpx.MockTransport(answers), sleep=no_sleep)
    return answers


def with_headers(name: str, **headers: str) -> httpx.Response:
    answer = recorded(name)
    return httpx.Response(answer.status_code, headers={**answer.headers, **headers}, content=answer.content)


async def test_a_collector_runs_on_schedule_and_stores_once(nt_host: Host, feeds: Path) -> None:
    clock = FakeClock(dt.datetime(2024, 5, 3, 0, 0, tzinfo=dt.UTC))
    spec = CollectSpec(symbols=("AAPL",), sources=("rss",), interval=3600, lookback=7 * 86_400, max_runs=3)
    collector = Collector(spec=spec, host=nt_host, clock=clock)
    await collector.run()
    assert collector.state == "finished" and collector.runs == 3
    assert clock.waits == [3600, 3600]  # run, wait an interval, run, wait, run
    assert collector.last_run_at == clock.t and collector.next_run_at is None
    stored = store.load(nt_host.services.storage, symbols=["AAPL"])
    assert collector.stored_new == len(stored) > 0
    assert collector.stored_known == 2 * len(stored) and collector.fetched == 3 * len(stored)
    assert collector.sources["rss"].requests == 3 and collector.failures == 0


async def test_a_throttled_source_is_paused_for_its_retry_after_while_the_others_go_on(
        nt_host: Host, feeds: Path, replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "secret-news-key")
    monkeypatch.setenv("NT_NEWSAPI_MAX_RETRIES", "0")
    clock = FakeClock(T0)
    spec = CollectSpec(symbols=("AAPL",), sources=("newsapi", "rss"), interval=60, lookback=30 * 86_400, max_runs=4)
    collector = Collector(spec=spec, host=nt_host, clock=clock)
    # Run 1 (T0) answers news; run 2 (T0+60) is throttled for 120 s; runs 3 (T0+120) and 4 (T0+180)
    # come after: 3 is inside the pause (no request), 4 is at its end (asked again).
    replay.answers = [recorded("newsapi/everything.json"),
                      with_headers("newsapi/error_429_rate_limited.json", **{"Retry-After": "120"}),
                      recorded("newsapi/everything.json")]
    await collector.run()
    newsapi, rss = collector.sources["newsapi"], collector.sources["rss"]
    assert len(replay.requests) == 3 and newsapi.requests == 3 and rss.requests == 4
    assert newsapi.throttled == 1 and newsapi.paused_until == T0 + dt.timedelta(seconds=180)
    assert collector.failures == 1 and "rate limiting" in (collector.last_error or "")
    assert newsapi.last_error is None  # it answered again at run 4
    assert "secret-news-key" not in str(collector.last_error)


async def test_without_retry_after_the_pause_doubles_with_each_throttle(nt_host: Host, replay: Replay,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "k" * 32)
    monkeypatch.setenv("NT_NEWSAPI_MAX_RETRIES", "0")
    replay.answers = [recorded("newsapi/error_429_rate_limited.json")]
    clock = FakeClock(T0)
    collector = Collector(spec=CollectSpec(symbols=("AAPL",), sources=("newsapi",), interval=60, max_runs=8),
                          host=nt_host, clock=clock)
    await collector.run()
    # Runs every 60 s at T0 + 0, 60, ..., 420. Throttled at 0 (pause 60), 60 (120: until 180), 180 (240: until 420),
    # 420 (480); the runs between are skipped.
    assert len(replay.requests) == 4 and collector.sources["newsapi"].throttled == 4
    assert collector.sources["newsapi"].paused_until == T0 + dt.timedelta(seconds=420 + 480)


async def test_a_source_whose_quota_is_used_up_is_not_asked_until_its_reset(
        nt_host: Host, replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_FINNHUB_API_KEY", "f" * 20)
    reset = T0 + dt.timedelta(seconds=150)
    replay.answers = [with_headers("finnhub/company_news_AAPL.json", **{
        "X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(int(reset.timestamp()))})]
    clock = FakeClock(T0)
    collector = Collector(spec=CollectSpec(symbols=("AAPL",), sources=("finnhub",), interval=60, max_runs=4),
                          host=nt_host, clock=clock)
    await collector.run()
    # Asked at T0 (the answer says none left until T0+150), skipped at 60 and 120, asked at 180.
    assert len(replay.requests) == 2 and collector.sources["finnhub"].paused_until == reset
    got = await nt_host.acall("news.sources", {})
    finnhub = next(s for s in got["sources"] if s["name"] == "finnhub")
    assert finnhub["quota"] == {"limit": 60, "remaining": 0, "resets_at": "2024-05-03T12:02:30Z",
                                "seen_at": "2024-05-03T12:03:00Z"}
    assert finnhub["requests"] == 2 and finnhub["rate_limit"]["limit"] == 60 and finnhub["last_error"] is None


async def test_news_sources_shows_the_last_error(nt_host: Host, replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "wrong-key-123")
    replay.answers = [recorded("newsapi/error_401_api_key_invalid.json")]
    await nt_host.acall("news.fetch", {"symbols": ["AAPL"], "sources": ["newsapi", "rss"]})
    newsapi = next(s for s in (await nt_host.acall("news.sources", {}))["sources"] if s["name"] == "newsapi")
    assert newsapi["last_error"] and newsapi["last_error_at"] and "wrong-key-123" not in newsapi["last_error"]
    assert newsapi["rate_limit"] == {"limit": 100, "per_seconds": 86_400.0, "remaining": 9}


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


async def test_start_status_stop(nt_host: Host, feeds: Path) -> None:
    params = {"symbols": ["AAPL"], "sources": ["rss"], "interval_seconds": 60, "lookback_hours": 24 * 2000}
    started = await nt_host.acall("news.collect.start", params)
    assert started["state"] == "running" and started["collector_id"].startswith("nc-")
    cid = started["collector_id"]
    collector = Collectors.for_host(nt_host).get(cid)
    await anyio.to_thread.run_sync(wait_until, lambda: collector.runs == 1 and collector.next_run_at is not None)
    assert (await nt_host.acall("news.collect.start", params))["collector_id"] == cid  # the same, still running
    (status,) = (await nt_host.acall("news.collect.status", {"collector_id": cid}))["collectors"]
    assert status["state"] == "running" and status["runs"] == 1 and status["stored_new"] > 0
    last = dt.datetime.fromisoformat(status["last_run_at"])
    assert dt.datetime.fromisoformat(status["next_run_at"]) == last + dt.timedelta(seconds=60)
    began = time.monotonic()
    (stopped,) = (await nt_host.acall("news.collect.stop", {"collector_id": cid}))["collectors"]
    assert time.monotonic() - began < 1.0  # it was waiting for its next run: cancelled at once
    assert stopped["state"] == "stopped" and stopped["next_run_at"] is None and stopped["stopped_at"]
    assert (await nt_host.acall("news.collect.stop", {"all": True}))["collectors"] == []
    restarted = await nt_host.acall("news.collect.start", {**params, "max_runs": 1, "wait": True})
    assert restarted["state"] == "finished" and restarted["stored_known"] == stopped["stored_new"]


def test_closing_the_host_stops_its_collectors(nt_host_factory: HostFactory, feeds: Path) -> None:
    host = nt_host_factory()
    host.call("news.collect.start", {"symbols": ["AAPL"], "sources": ["rss"], "interval_seconds": 3600})
    collectors = Collectors.for_host(host)
    (collector,) = collectors.collectors.values()
    wait_until(lambda: collector.runs == 1)
    thread = collectors._loop._thread  # this host's loop thread (other tests' hosts have their own)
    assert thread is not None and thread.is_alive()
    host.close()
    assert collector.state == "stopped" and collector.done.done()
    assert not thread.is_alive()


async def test_collect_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any, nt_rest: Any, feeds: Path) -> None:
    params = {"symbols": ["AAPL"], "sources": ["rss"], "max_runs": 1, "wait": True, "lookback_hours": 24 * 2000}
    first = await nt_host.acall("news.collect.start", params)
    got = await call_everywhere("news.collect.start", params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert got["state"] == "finished" and got["runs"] == 1 and got["fetched"] == first["stored_new"] > 0
    assert got["stored_known"] == got["fetched"]  # each run again: the stories are stored already
    listed = await call_everywhere("news.collect.status", {}, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert [c["collector_id"] for c in listed["collectors"]] == [got["collector_id"]]
    forever = {"symbols": ["AAPL"], "sources": ["rss"], "wait": True}
    response = await nt_rest.post("/v1/news/collect/start", json=forever)
    assert response.status_code == 422 and "max_runs" in response.text
    called = await nt_mcp.call_tool("news_collect_start", forever)
    assert called.is_error and "max_runs" in called.content[0].text


@pytest.mark.parametrize(("name", "params", "error", "words"), [
    ("news.collect.start", {"sources": ["rss"]}, NtUserError, "symbols or a query"),
    ("news.collect.start", {"symbols": ["AAPL"], "sources": ["gossip"]}, NtUserError, "sources names gossip"),
    ("news.collect.start", {"symbols": ["AAPL"], "model": "astrology"}, NtUserError, "sentiment model"),
    ("news.collect.stop", {}, NtUserError, "collector_id, or all"),
    ("news.collect.stop", {"collector_id": "nc-000000000000"}, NtNotFound, "no news collector"),
    ("news.collect.status", {"collector_id": "nc-000000000000"}, NtNotFound, "no news collector"),
])
def test_bad_input_names_the_field(nt_host: Host, name: str, params: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        nt_host.call(name, params)


async def test_alpha_vantages_daily_limit_notice_pauses_it_until_utc_midnight(
        nt_host: Host, replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_ALPHAVANTAGE_API_KEY", "a" * 16)
    replay.answers = [recorded("alphavantage/information_daily_limit.json")]  # an HTTP 200 with a notice
    real_now = dt.datetime.now(dt.UTC)
    clock = FakeClock(real_now)
    collector = Collector(spec=CollectSpec(symbols=("AAPL",), sources=("alphavantage",), interval=600, max_runs=3),
                          host=nt_host, clock=clock)
    await collector.run()
    midnight = (real_now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    source = collector.sources["alphavantage"]
    assert len(replay.requests) == 1 and source.throttled == 1  # never asked again the same day
    assert source.paused_until is not None and abs((source.paused_until - midnight).total_seconds()) < 5
    assert "daily request quota" in (source.last_error or "")


async def test_a_source_answering_garbage_is_a_failure_not_a_crash(nt_host: Host, replay: Replay,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "n" * 16)
    replay.answers = [httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<html>maintenance</html>")]
    got = await nt_host.acall("news.fetch", {"symbols": ["AAPL"], "sources": ["newsapi", "rss"]})
    (failed,) = got["failed"]
    assert failed["source"] == "newsapi" and failed["error"] == "provider_error" and "malformed JSON" in failed["message"]


def test_quota_headers_in_seconds_or_epoch() -> None:
    from neural_trader_plugins.news.health import quota_from_headers

    now = T0
    epoch = quota_from_headers({"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "199",
                                "X-RateLimit-Reset": str(int(T0.timestamp()) + 30)}, now)
    assert epoch is not None and (epoch.limit, epoch.remaining) == (200, 199)
    assert epoch.resets_at == T0 + dt.timedelta(seconds=30)
    relative = quota_from_headers({"x-ratelimit-remaining": "5", "x-ratelimit-reset": "42"}, now)
    assert relative is not None and relative.resets_at == T0 + dt.timedelta(seconds=42) and relative.limit is None
    assert quota_from_headers({"Content-Type": "application/json"}, now) is None
