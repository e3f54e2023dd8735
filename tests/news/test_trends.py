"""news.trends: the slope held to scipy's linregress, volume statistics and decayed window scores to
hand values, the ranking, and the operation over stored and freshly fetched articles everywhere."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from neural_trader.errors import NtUserError
from neural_trader.host import Host
from neural_trader.testing import call_everywhere
from neural_trader_plugins.news import store
from neural_trader_plugins.news.aggregate import ScoredArticle
from neural_trader_plugins.news.articles import Article
from neural_trader_plugins.news.trends import SymbolTrend, rank, slope, symbol_trend, volume_stats

from .conftest import FIXTURES

END = dt.datetime(2024, 5, 10, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def item(symbol: str, when: dt.datetime, score: float, k: int) -> ScoredArticle:
    article = Article.create(title=f"{symbol} story {k}", url=f"https://x.example/{symbol}/{k}", source="wire",
                             published_at=when, provider="rss", symbols=[symbol])
    return ScoredArticle(article=article, score=score)


def test_slope_is_linregress_over_the_windows_with_a_score() -> None:
    rng = np.random.default_rng(7)
    values: list[float | None] = list(rng.uniform(-1, 1, 12))
    values[3] = values[8] = None
    x = [k for k, v in enumerate(values) if v is not None]
    y = [v for v in values if v is not None]
    assert slope(values) == pytest.approx(stats.linregress(x, y).slope, rel=1e-12)
    assert slope([None, 0.2]) is None and slope([]) is None
    assert slope([0.1, None, 0.5]) == pytest.approx(0.2)  # (0.5 - 0.1) over two windows


def test_volume_z_floors_the_baseline_std_at_one_article() -> None:
    # baseline 0, 1, 2, 1: mean 1, population std sqrt(0.5) < 1, so z = (6 - 1) / 1
    assert volume_stats([0, 1, 2, 1, 6]) == pytest.approx((1.0, math.sqrt(0.5), 5.0))
    # baseline 2, 6, 2, 6: mean 4, std 2, z = (10 - 4) / 2
    assert volume_stats([2, 6, 2, 6, 10]) == pytest.approx((4.0, 2.0, 3.0))
    with pytest.raises(NtUserError, match="baseline"):
        volume_stats([3])


def test_a_symbols_trend_by_hand() -> None:
    # Two days of windows plus the current one, ending END; half-life one day, no lookback bound.
    items = [item("AAPL", END - dt.timedelta(hours=60), -0.5, 0),   # in window 0
             item("AAPL", END - dt.timedelta(hours=30), 0.25, 1),   # in window 1
             item("AAPL", END - dt.timedelta(hours=12), 0.75, 2),   # in the current window
             item("AAPL", END - dt.timedelta(hours=6), 0.5, 3),     # in the current window
             item("AAPL", END, 1.0, 4),                              # at END: not seen yet
             item("TSLA", END - dt.timedelta(hours=1), -0.9, 5)]     # another symbol
    got = symbol_trend(items, "aapl", end=END, window=DAY, baseline=2, half_life=DAY, lookback=None, spike_z=1.5)

    def decayed(at: dt.datetime, seen: list[tuple[float, float]]) -> float:
        w = [0.5 ** ((at - (END - dt.timedelta(hours=h))) / DAY) for h, _ in seen]
        return sum(wi * s for wi, (_, s) in zip(w, seen, strict=True)) / sum(w)

    s0 = decayed(END - 2 * DAY, [(60, -0.5)])
    s1 = decayed(END - DAY, [(60, -0.5), (30, 0.25)])
    s2 = decayed(END, [(60, -0.5), (30, 0.25), (12, 0.75), (6, 0.5)])
    assert [w.score for w in got.windows] == pytest.approx([s0, s1, s2], rel=1e-12)
    assert [w.count for w in got.windows] == [1, 1, 2]
    assert got.score == pytest.approx(s2) and got.change == pytest.approx(s2 - s1)
    assert got.slope == pytest.approx(stats.linregress([0, 1, 2], [s0, s1, s2]).slope)
    assert (got.count, got.baseline_mean, got.baseline_std, got.volume_z) == (2, 1.0, 0.0, 1.0)
    assert not got.spike  # 1.0 < 1.5
    # A lookback of one day leaves only what was published within a day of each window's end.
    short = symbol_trend(items, "AAPL", end=END, window=DAY, baseline=2, half_life=DAY, lookback=DAY)
    assert short.windows[1].score == pytest.approx(0.25)  # the -0.5 of 60 h ago is 36 h old there
    assert short.windows[2].score == pytest.approx(decayed(END, [(12, 0.75), (6, 0.5)]))


def trend(symbol: str, **values: Any) -> SymbolTrend:
    base = {"windows": (), "score": None, "change": None, "slope": None, "count": 0, "baseline_mean": 0.0,
            "baseline_std": 0.0, "volume_z": 0.0, "spike": False}
    return SymbolTrend(symbol=symbol, **{**base, **values})


def test_rank_puts_the_highest_first_and_missing_last() -> None:
    trends = [trend("A", change=0.1), trend("B", change=None), trend("C", change=0.4), trend("D", change=0.1)]
    assert [t.symbol for t in rank(trends, "change")] == ["C", "A", "D", "B"]
    with pytest.raises(NtUserError, match="rank_by"):
        rank(trends, "hype")  # type: ignore[arg-type]


def _store(host: Host, items: list[ScoredArticle]) -> None:
    store.save(host.services.storage, [store.Scored(article=i.article, score=i.score, label="x", model="m")
                                       for i in items])


async def test_trends_over_stored_articles_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                              nt_rest: Any) -> None:
    items = [item("AAPL", END - dt.timedelta(hours=30), -0.5, 0), item("AAPL", END - dt.timedelta(hours=2), 0.8, 1),
             item("TSLA", END - dt.timedelta(hours=30), 0.5, 2), item("TSLA", END - dt.timedelta(hours=3), -0.5, 3),
             *[item("NVDA", END - dt.timedelta(hours=h), 0.1, 10 + h) for h in (1, 2, 3, 4)]]
    _store(nt_host, items)
    params = {"end": END.isoformat(), "window_hours": 24, "baseline_windows": 3, "half_life_hours": 12}
    got = await call_everywhere("news.trends", params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    order = [t["symbol"] for t in got["trends"]]
    assert order[0] == "NVDA" or order.index("AAPL") < order.index("TSLA")
    by = {t["symbol"]: t for t in got["trends"]}
    assert by["AAPL"]["change"] > 0 > by["TSLA"]["change"]
    assert by["NVDA"]["change"] is None and order[-1] == "NVDA"  # no earlier score: nothing to change from
    assert by["NVDA"]["spike"] and by["NVDA"]["volume_z"] == 4.0 and by["NVDA"]["count"] == 4
    by_volume = await nt_host.acall("news.trends", {**params, "rank_by": "volume_z"})
    assert by_volume["trends"][0]["symbol"] == "NVDA"
    assert got["articles_used"] == len(items)


def test_trends_can_fetch_first(nt_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(FIXTURES / "rss" / "sample_rss2.xml", folder / "AAPL.xml")
    monkeypatch.setenv("NT_RSS_DIR", str(folder))
    params = {"symbols": ["AAPL"], "end": "2024-05-04T00:00:00Z", "baseline_windows": 3}
    assert nt_host.call("news.trends", params)["articles_used"] == 0
    fetched = nt_host.call("news.trends", {**params, "articles": "fetch", "sources": ["rss"]})
    assert fetched["articles_used"] > 0 and fetched["trends"][0]["score"] is not None
    assert nt_host.call("news.trends", params)["trends"] == fetched["trends"]  # now stored
    with pytest.raises(NtUserError, match="needs symbols"):
        nt_host.call("news.trends", {"articles": "fetch"})
