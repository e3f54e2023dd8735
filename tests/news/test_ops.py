"""The news operations: news.sources, news.fetch (local feeds and NewsAPI through the host's HTTP
layer on recorded answers), de-duplication across sources, news.analyze's decayed score held to a
hand computation, news.sentiment through every frontend, and bad input."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from neural_trader.errors import NtUserError
from neural_trader.host import Host
from neural_trader.services.http import HttpService
from neural_trader.testing import HostFactory, call_everywhere

from .conftest import FIXTURES, Replay, recorded

WINDOW = {"start": "2024-04-01T00:00:00Z", "end": "2024-05-31T00:00:00Z"}


@pytest.fixture
def feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(FIXTURES / "rss" / "sample_rss2.xml", folder / "AAPL.xml")  # AAPL's own feed
    shutil.copy(FIXTURES / "rss" / "sample_atom.xml", folder / "markets.xml")  # a general feed: cashtags only
    monkeypatch.setenv("NT_RSS_DIR", str(folder))
    return folder


@pytest.fixture
def replay(nt_host: Host) -> Replay:
    """NewsAPI (and any network source) answered from recordings through the host's real HTTP layer."""
    answers = Replay()

    async def no_sleep(_seconds: float) -> None:
        return None

    nt_host.services._http = HttpService(nt_host.settings, transport=httpx.MockTransport(answers), sleep=no_sleep)
    return answers


def test_sources_say_what_is_configured(nt_host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "secret-news-key")
    got = nt_host.call("news.sources", {})
    by = {s["name"]: s for s in got["sources"]}
    assert set(by) == {"rss", "newsapi", "finnhub", "alphavantage", "alpaca"}
    assert by["newsapi"]["configured"] and not by["finnhub"]["configured"]
    assert "NT_FINNHUB_API_KEY" in by["finnhub"]["reason"] and by["rss"]["network"] is False
    assert "secret-news-key" not in str(got)
    assert [m["name"] for m in got["models"]] == ["loughran_mcdonald", "onnx_classifier", "vader_finance"]


def test_fetch_reads_local_feeds_by_symbol_and_cashtag(nt_host: Host, feeds: Path) -> None:
    aapl = nt_host.call("news.fetch", {"symbols": ["AAPL"], "sources": ["rss"], **WINDOW})
    titles = [a["title"] for a in aapl["articles"]]
    assert titles[0].startswith("Apple beats quarterly revenue estimates")
    assert all("AAPL" in a["symbols"] for a in aapl["articles"])
    apple = aapl["articles"][0]
    assert apple["sentiment"] > 0.05 and apple["label"] in ("bullish", "very bullish")
    assert apple["published_at"] == "2024-05-02T20:50:00Z"  # -0400 in the feed
    tesla = nt_host.call("news.fetch", {"symbols": ["TSLA"], "sources": ["rss"], **WINDOW})
    assert any("recalls" in a["title"] and a["sentiment"] < 0 for a in tesla["articles"])


def test_the_same_story_from_two_sources_is_one_article(nt_host: Host, feeds: Path, replay: Replay,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "secret-news-key")
    replay.answers = [recorded("newsapi/everything.json")]
    got = nt_host.call("news.fetch", {"symbols": ["AAPL"], "sources": ["newsapi", "rss"], **WINDOW})
    reuters = [a for a in got["articles"] if "reuters.com/technology/apple-results-2024-05-02" in (a["url"] or "")]
    assert len(reuters) == 1 and got["duplicates"] >= 1
    assert reuters[0]["published_at"] == "2024-05-02T20:41:35Z"  # the earliest copy (NewsAPI's) is kept
    (request,) = replay.requests
    assert request.headers["X-Api-Key"] == "secret-news-key" and "secret-news-key" not in str(request.url)
    assert "secret-news-key" not in str(got)


def test_a_failing_source_is_reported_and_the_others_still_answer(nt_host: Host, feeds: Path, replay: Replay,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_NEWSAPI_API_KEY", "wrong-key")
    replay.answers = [recorded("newsapi/error_401_api_key_invalid.json")]
    got = nt_host.call("news.fetch", {"symbols": ["AAPL"], "sources": ["newsapi", "rss"], **WINDOW})
    (failed,) = got["failed"]
    assert failed["source"] == "newsapi" and "wrong-key" not in failed["message"]
    assert got["articles"]  # the feeds still answered
    with pytest.raises(NtUserError, match="newsapi"):
        nt_host.call("news.fetch", {"symbols": ["AAPL"], "sources": ["newsapi"], **WINDOW})


def test_analyze_decays_each_article_by_its_age(nt_host: Host, feeds: Path) -> None:
    end = dt.datetime(2024, 5, 3, 20, 50, tzinfo=dt.UTC)
    got = nt_host.call("news.analyze", {"symbol": "AAPL", "sources": ["rss"], "start": "2024-04-01T00:00:00Z",
                                        "end": end.isoformat(), "half_life_hours": 24})
    used = [a for a in got["articles"]]
    assert got["articles_used"] == len(used) >= 2
    weights = [0.5 ** ((end - dt.datetime.fromisoformat(a["published_at"])).total_seconds() / 86_400) for a in used]
    expected = sum(w * a["sentiment"] for w, a in zip(weights, used, strict=True)) / sum(weights)
    assert got["score"] == pytest.approx(expected, rel=1e-9)
    assert got["label"] is not None and math.isfinite(got["days"][-1]["score"])


async def test_sentiment_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any, nt_rest: Any) -> None:
    got = await call_everywhere("news.sentiment", {"texts": ["Company beats estimates and raises guidance",
                                                            "Analysts downgrade the stock after a guidance cut"]},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert got["scores"][0]["score"] > 0 > got["scores"][1]["score"]


@pytest.mark.parametrize(("name", "params", "words"), [
    ("news.sentiment", {"texts": [""]}, "texts\\[0\\]"),
    ("news.sentiment", {"texts": ["fine"], "model": "astrology"}, "model must name a sentiment model"),
    ("news.fetch", {"sources": ["rss"]}, "name symbols or a query"),
    ("news.fetch", {"symbols": ["AAPL"], "sources": ["gossip"]}, "sources names gossip"),
    ("news.fetch", {"symbols": ["AAPL"], "start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
     "after end"),
])
def test_bad_input_names_the_field(nt_host: Host, name: str, params: dict[str, Any], words: str) -> None:
    with pytest.raises(NtUserError, match=words):
        nt_host.call(name, params)


def test_a_pack_can_add_a_source(nt_host_factory: HostFactory) -> None:
    from neural_trader.hookspecs import hookimpl
    from neural_trader_plugins.news.articles import Article
    from neural_trader_plugins.news.common import NewsPage
    from neural_trader_plugins.news.sources import NewsSource

    async def fetch(ctx: Any, q: Any) -> NewsPage:
        article = Article.create(title="ACME raises guidance", url="https://acme.example/1", source="acme",
                                 published_at=q.end - dt.timedelta(hours=1), symbols=q.symbols, provider="acme")
        return NewsPage(provider="acme", articles=(article,))

    class Acme:
        @hookimpl
        def nt_register_news_sources(self, register: Any) -> None:
            register(NewsSource(name="acme", summary="a test source", network=False,
                                status=lambda ctx: (True, None), fetch=fetch))

    host = nt_host_factory(plugins=[Acme()])
    got = host.call("news.fetch", {"symbols": ["ACME"], "sources": ["acme"]})
    assert got["articles"][0]["provider"] == "acme" and got["articles"][0]["sentiment"] > 0
