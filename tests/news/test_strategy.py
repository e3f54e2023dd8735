"""The news_sentiment strategy: its signals follow the decayed score at each bar's cutoff (a
brute-force loop is the oracle), an article at or after a bar's cutoff changes no earlier signal,
thresholds and min_articles, the RSS-folder mode, stored_before, and backtest.run with it from
every frontend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neural_trader.domain.market import Bars
from neural_trader.errors import NtUserError
from neural_trader.host import Host
from neural_trader.testing import call_everywhere
from neural_trader_plugins.news import store
from neural_trader_plugins.news.articles import Article
from neural_trader_plugins.news.strategy import NewsSentiment

DAY = dt.timedelta(days=1)
FIRST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
N = 40
#: (hours after FIRST, score): bullish news in the first week, bearish in the third.
NEWS = [(30, 0.6), (50, 0.4), (75, 0.2), (340, -0.7), (360, -0.5), (500, 0.1)]


def bars(symbol: str = "ACME", n: int = N) -> Bars:
    ts = np.array([int((FIRST + k * DAY).timestamp()) * 10**9 for k in range(n)], dtype=np.int64)
    close = 100 + np.arange(n, dtype=np.float64)
    return Bars.from_arrays(symbol=symbol, timeframe="1d", provider="test", ts=ts, open=close, high=close + 1,
                            low=close - 1, close=close)


def article(hours: float, k: int, symbol: str = "ACME") -> Article:
    return Article.create(title=f"{symbol} item {k}", url=f"https://x.example/{symbol}/{k}", source="wire",
                          published_at=FIRST + dt.timedelta(hours=hours), provider="rss", symbols=[symbol])


def save(host: Host, news: list[tuple[float, float]], symbol: str = "ACME", first: int = 0) -> None:
    store.save(host.services.storage, [store.Scored(article=article(h, first + k, symbol), score=s, label="x",
                                                    model="vader_finance") for k, (h, s) in enumerate(news)])


def strategy(host: Host) -> NewsSentiment:
    found = host.registry("strategies").get("news_sentiment")
    assert isinstance(found, NewsSentiment)
    return found


def brute_force(news: list[tuple[float, float]], cutoff: dt.datetime, half_life_h: float,
                lookback_h: float) -> tuple[float, int]:
    seen = [(h, s) for h, s in news if cutoff - dt.timedelta(hours=lookback_h) <= FIRST + dt.timedelta(hours=h) < cutoff]
    if not seen:
        return float("nan"), 0
    w = [0.5 ** ((cutoff - FIRST - dt.timedelta(hours=h)) / dt.timedelta(hours=half_life_h)) for h, _ in seen]
    return sum(wi * s for wi, (_, s) in zip(w, seen, strict=True)) / sum(w), len(seen)


def test_signals_follow_the_decayed_score_at_each_bars_close(nt_host: Host) -> None:
    save(nt_host, NEWS)
    s = strategy(nt_host)
    params = s.make_params({"long_above": 0.3, "short_below": -0.3, "half_life_hours": 24, "lookback_hours": 96})
    got = s.signals(bars(), params)
    for k in range(N):
        score, seen = brute_force(NEWS, FIRST + (k + 1) * DAY, 24, 96)  # a daily bar closes at the day's end
        want = 0.0 if seen == 0 else 1.0 if score >= 0.3 else -1.0 if score <= -0.3 else 0.0
        assert got[k] == want, k
    assert set(got) == {-1.0, 0.0, 1.0}
    assert got[0] == 0.0 and got[1] == 1.0  # the 06:00 article of day 2 first counts at day 2's close


def test_a_later_article_changes_no_earlier_signal(nt_host: Host) -> None:
    save(nt_host, NEWS)
    s = strategy(nt_host)
    params = s.make_params({"long_above": 0.05, "short_below": -0.05})
    before = s.signals(bars(), params)
    aligned_before = s.scores(bars(), params)
    k = 10  # bar 10 closes at FIRST + 11 days; an article exactly then, and one later, both very bearish
    cutoff_h = (k + 1) * 24
    save(nt_host, [(cutoff_h, -1.0), (cutoff_h + 30, -1.0)], first=100)
    after = s.signals(bars(), params)
    aligned_after = s.scores(bars(), params)
    np.testing.assert_array_equal(after[:k + 1], before[:k + 1])
    np.testing.assert_array_equal(aligned_after.score[:k + 1], aligned_before.score[:k + 1])
    assert after[k + 1] == -1.0 and not np.array_equal(after, before)
    # Changing the score of an article stored already, published after bar 10's close, moves nothing up to it.
    store.save(nt_host.services.storage, [store.Scored(article=article(cutoff_h + 30, 101), score=1.0, label="x",
                                                       model="vader_finance")])
    np.testing.assert_array_equal(s.signals(bars(), params)[:k + 2], after[:k + 2])


def test_min_articles_and_the_close_offset(nt_host: Host) -> None:
    save(nt_host, [(30, 0.9), (40, 0.9)])  # day 2, 06:00 and 16:00
    s = strategy(nt_host)
    assert s.signals(bars(n=4), s.make_params({"min_articles": 2}))[1] == 1.0
    assert s.signals(bars(n=4), s.make_params({"min_articles": 3}))[1] == 0.0
    # Cut day 2 at 12:00 (offset -12 h): only the 06:00 article is seen by then.
    aligned = s.scores(bars(n=4), s.make_params({"close_offset_minutes": -720}))
    assert aligned.count[1] == 1 and aligned.score[1] == pytest.approx(0.9)


def test_the_feeds_mode_reads_the_rss_folder(nt_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "ACME.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>ACME wire</title>'
        "<item><title>ACME beats estimates and raises guidance</title><link>https://x.example/a1</link>"
        "<pubDate>Tue, 02 Jan 2024 15:00:00 GMT</pubDate></item>"
        "<item><title>ACME plunges after guidance cut</title><link>https://x.example/a2</link>"
        "<pubDate>Tue, 16 Jan 2024 15:00:00 GMT</pubDate></item></channel></rss>")
    monkeypatch.setenv("NT_RSS_DIR", str(folder))
    s = strategy(nt_host)
    got = s.signals(bars(), s.make_params({"articles": "feeds", "lookback_hours": 72}))
    assert got[0] == 0.0 and got[1] == 1.0 and got[15] == -1.0 and got[30] == 0.0


def test_stored_before_pins_the_article_set(nt_host: Host) -> None:
    save(nt_host, [(30, 0.9)])
    cut = dt.datetime.now(dt.UTC).isoformat()
    save(nt_host, [(35, -0.9), (36, -0.9), (37, -0.9)], first=10)
    s = strategy(nt_host)
    assert s.signals(bars(n=3), s.make_params({}))[1] == -1.0
    assert s.signals(bars(n=3), s.make_params({"stored_before": cut}))[1] == 1.0


@pytest.mark.parametrize(("values", "words"), [
    ({"long_above": 0.1, "short_below": 0.2}, "short_below"),
    ({"stored_before": "yesterday"}, "RFC 3339"),
])
def test_bad_parameters_are_refused(nt_host: Host, values: dict[str, Any], words: str) -> None:
    with pytest.raises(NtUserError, match=words):
        strategy(nt_host).make_params(values)


async def test_backtest_run_with_news_sentiment_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                                   nt_rest: Any) -> None:
    # SPY on the synthetic provider through the first half of 2023; bullish news in February, bearish in May.
    base = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    hours = [((dt.datetime(2023, 2, d, 14, tzinfo=dt.UTC) - base).total_seconds() / 3600, 0.6) for d in (1, 3, 7)]
    hours += [((dt.datetime(2023, 5, d, 14, tzinfo=dt.UTC) - base).total_seconds() / 3600, -0.6) for d in (2, 4)]
    store.save(nt_host.services.storage, [store.Scored(
        article=Article.create(title=f"SPY item {k}", url=f"https://x.example/spy/{k}", source="wire",
                               published_at=base + dt.timedelta(hours=h), provider="rss", symbols=["SPY"]),
        score=s, label="x", model="vader_finance") for k, (h, s) in enumerate(hours)])
    params = {"symbol": "SPY", "provider": "synthetic", "start": "2023-01-02", "end": "2023-06-30",
              "strategy": "news_sentiment", "strategy_params": {"half_life_hours": 48, "lookback_hours": 24 * 10},
              "config": {"allow_short": True}}
    got = await call_everywhere("backtest.run", params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    trades = got["trades"]
    assert [t["side"] for t in trades] == ["long", "short"]
    long, short = trades
    # The first bullish story (Feb 1, 14:00) is seen at Feb 1's close; the position opens at the next bar's open.
    assert long["entry_time"].startswith("2023-02-02") and short["entry_time"].startswith("2023-05-03")
    assert long["exit_reason"] == "signal"
