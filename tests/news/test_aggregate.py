"""Decayed per-symbol sentiment against hand computations, relevance filtering on the Alpha Vantage
feed's relevance scores, windows and trend, and bar alignment with no look-ahead (checked against a
brute-force loop written from the definition)."""

from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.news import alphavantage
from neural_trader_plugins.news.aggregate import (
    ScoredArticle,
    align_to_bars,
    decayed_score,
    is_relevant,
    window_series,
)
from neural_trader_plugins.news.articles import Article, Mention

from .conftest import body

T = dt.datetime(2024, 5, 2, 20, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def scored(hours_before: float, score: float, symbols: tuple[str, ...] = ("AAPL",), title: str | None = None,
           at: dt.datetime = T, mentions: tuple[Mention, ...] = ()) -> ScoredArticle:
    when = at - dt.timedelta(hours=hours_before)
    article = Article.create(title=title or f"story {hours_before} {score}", source="Wire", published_at=when,
                             provider="rss", symbols=symbols, mentions=mentions)
    return ScoredArticle(article=article, score=score)


def test_decay_matches_a_hand_computation() -> None:
    # w = 0.5 ** (age / 2h): ages 1h and 3h weigh 2**-0.5 and 2**-1.5, so the mean is (2*0.8 - 0.4)/3 = 0.4
    point = decayed_score([scored(1, 0.8), scored(3, -0.4)], "AAPL", at=T, half_life=2 * H)
    assert point.score == pytest.approx(0.4, abs=1e-12)
    assert point.weight == pytest.approx(2 ** -0.5 + 2 ** -1.5, abs=1e-12) and point.count == 2
    items = [scored(2, 0.5), scored(4, 1.0), scored(6, -1.0)]  # weights 1/2, 1/4, 1/8
    assert decayed_score(items, "AAPL", at=T, half_life=2 * H).score == pytest.approx(3 / 7, abs=1e-12)
    # the lookback keeps ages <= 5h; a lookback of exactly 4h still keeps the 4h-old article
    assert decayed_score(items, "AAPL", at=T, half_life=2 * H, lookback=5 * H).score == pytest.approx(2 / 3)
    assert decayed_score(items, "AAPL", at=T, half_life=2 * H, lookback=4 * H).count == 2


def test_only_articles_strictly_before_the_time_count_and_none_seen_is_missing() -> None:
    items = [scored(0, 1.0), scored(-1, 1.0), scored(1, -0.5)]
    point = decayed_score(items, "AAPL", at=T, half_life=H)
    assert (point.score, point.count) == (-0.5, 1)
    empty = decayed_score(items, "AAPL", at=T - 2 * H, half_life=H)
    assert empty.score is None and empty.count == 0 and empty.weight == 0.0


def test_relevance_uses_the_providers_scores_when_it_gives_them() -> None:
    first, second = alphavantage.parse_news(body("alphavantage/news_sentiment_AAPL.json")).articles
    assert is_relevant(first, "MSFT", min_relevance=0.05) and not is_relevant(first, "MSFT", min_relevance=0.3)
    assert is_relevant(second, "AAPL", min_relevance=0.1) and not is_relevant(second, "AAPL", min_relevance=0.3)
    assert not is_relevant(first, "TSLA")
    items = [ScoredArticle(article=first, score=0.4), ScoredArticle(article=second, score=-0.25)]
    at = dt.datetime(2024, 5, 3, tzinfo=dt.UTC)
    assert decayed_score(items, "aapl", at=at, half_life=24 * H, min_relevance=0.3).count == 1
    assert decayed_score(items, "AAPL", at=at, half_life=24 * H, min_relevance=0.1).count == 2


def test_without_scores_an_article_is_relevant_if_tagged_or_named() -> None:
    def art(title: str, symbols: tuple[str, ...] = (), summary: str | None = None) -> Article:
        return Article.create(title=title, summary=summary, source="W", published_at=T, provider="rss", symbols=symbols)

    assert is_relevant(art("Quarterly results", ("AAPL",)), "AAPL")
    assert is_relevant(art("AAPL rises"), "AAPL") and is_relevant(art("Buy $AAPL now"), "AAPL")
    assert is_relevant(art("Results", summary="Analysts on AAPL."), "AAPL")
    assert not is_relevant(art("Apple rises"), "AAPL") and not is_relevant(art("AAPLX fund"), "AAPL")
    low = Article.create(title="AAPL mentioned", source="W", published_at=T, provider="alphavantage",
                         mentions=[Mention(symbol="AAPL", relevance=0.1)])
    assert not is_relevant(low, "AAPL", min_relevance=0.5)  # a provider score below the bar wins over the tag
    with pytest.raises(NtUserError, match="min_relevance"):
        is_relevant(low, "AAPL", min_relevance=1.5)


def test_windows_counts_scores_and_trend() -> None:
    d0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    items = [scored(-12, 0.6, at=d0), scored(-36, -0.6, at=d0)]  # day 0 and day 1 at noon
    w = window_series(items, "AAPL", start=d0, end=d0 + dt.timedelta(days=3), step=dt.timedelta(days=1),
                      half_life=12 * H)
    assert [x.count for x in w] == [1, 1, 0]
    # end of day 1: weights 2**-3 (36 h) and 2**-1 (12 h): (0.075 - 0.3) / 0.625 = -0.36
    assert [x.score for x in w] == pytest.approx([0.6, -0.36, -0.36])
    assert w[0].trend is None and w[1].trend == pytest.approx(-0.96) and w[2].trend == pytest.approx(0.0)
    # without news the decayed mean holds and only the weight fades, by 2**-2 per day
    assert w[2].weight == pytest.approx(w[1].weight / 4)
    cut = window_series(items, "AAPL", start=d0, end=d0 + dt.timedelta(days=3), step=dt.timedelta(days=1),
                        half_life=12 * H, lookback=36 * H)
    assert cut[2].score == pytest.approx(-0.6) and cut[2].trend == pytest.approx(-0.24)
    partial = window_series(items, "AAPL", start=d0, end=d0 + dt.timedelta(hours=30), step=dt.timedelta(days=1),
                            half_life=12 * H)
    assert [x.end for x in partial] == [d0 + dt.timedelta(days=1), d0 + dt.timedelta(hours=30)]


def _brute(items: list[ScoredArticle], cutoff: dt.datetime, half_life: dt.timedelta) -> tuple[float, int]:
    num = den = 0.0
    n = 0
    for item in items:
        if item.article.published_at < cutoff:
            w = math.pow(0.5, (cutoff - item.article.published_at) / half_life)
            num, den, n = num + w * item.score, den + w, n + 1
    return (num / den if n else math.nan), n


def test_bars_see_only_earlier_news() -> None:
    rng = random.Random(14)
    d0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    items = [scored(-rng.uniform(0, 24 * 30), round(rng.uniform(-1, 1), 3), at=d0) for _ in range(200)]
    # daily bars stamped 00:00 UTC, available at 21:00 UTC (after the US close)
    bars = [d0 + dt.timedelta(days=k) for k in range(30)]
    delay = 21 * H
    aligned = align_to_bars(items, "AAPL", bars, half_life=36 * H, delay=delay)
    for k, bar in enumerate(bars):
        expected, count = _brute(items, bar + delay, 36 * H)
        assert aligned.count[k] == count
        assert (math.isnan(expected) and math.isnan(aligned.score[k])) or aligned.score[k] == pytest.approx(expected, abs=1e-12)
    # news published at or after a bar's cutoff never changes that bar
    late = [scored(-(24 * k + 21), -1.0, at=d0) for k in range(0, 30, 3)]  # exactly at cutoffs 0, 3, 6 ...
    later = [scored(-(24 * k + 22.5), 1.0, at=d0) for k in range(30)]
    again = align_to_bars([*items, *late, *later], "AAPL", bars, half_life=36 * H, delay=delay)
    assert np.array_equal(again.score[0], aligned.score[0], equal_nan=True)
    for k in range(1, 30):
        past = [x for x in [*items, *late, *later] if x.article.published_at < bars[k] + delay]
        assert again.score[k] == pytest.approx(_brute(past, bars[k] + delay, 36 * H)[0], abs=1e-12)
    # ... and the same bars as int64 nanoseconds (Bars.ts) give the same answer
    ns = np.array([int(b.timestamp()) * 1_000_000_000 for b in bars], dtype=np.int64)
    as_ns = align_to_bars(items, "AAPL", ns, half_life=36 * H, delay=delay)
    assert np.array_equal(as_ns.score, aligned.score, equal_nan=True) and np.array_equal(as_ns.ts, ns)


def test_a_single_late_article_leaves_every_earlier_bar_unchanged() -> None:
    d0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    items = [scored(-6, 0.5, at=d0), scored(-30, -0.2, at=d0)]
    bars = [d0 + dt.timedelta(days=k) for k in range(4)]
    before = align_to_bars(items, "AAPL", bars, half_life=24 * H, delay=24 * H)
    news = scored(-48, -1.0, at=d0)  # published exactly at bar 1's cutoff (d0 + 2 days)
    after = align_to_bars([*items, news], "AAPL", bars, half_life=24 * H, delay=24 * H)
    assert np.array_equal(after.score[:2], before.score[:2]) and np.array_equal(after.count[:2], before.count[:2])
    assert after.count[2] == before.count[2] + 1 and after.score[2] < before.score[2]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"half_life": dt.timedelta(0)}, "half_life"), ({"half_life": 3600}, "half_life"),
    ({"lookback": dt.timedelta(hours=-1)}, "lookback"), ({"at": dt.datetime(2024, 5, 2)}, "at"),
    ({"min_relevance": -0.1}, "min_relevance"), ({"symbol": ""}, "symbol"),
])
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {"symbol": "AAPL", "at": T, "half_life": H, **kwargs}
    with pytest.raises(NtUserError, match=field):
        decayed_score([scored(1, 0.1)], args.pop("symbol"), **args)


def test_bad_bars_and_windows_are_refused() -> None:
    with pytest.raises(NtUserError, match="strictly increasing"):
        align_to_bars([], "AAPL", [T, T], half_life=H)
    with pytest.raises(NtUserError, match=r"bar_times\[1\]"):
        align_to_bars([], "AAPL", [T, dt.datetime(2024, 5, 3)], half_life=H)
    with pytest.raises(NtUserError, match="end"):
        window_series([], "AAPL", start=T, end=T, step=H, half_life=H)
    with pytest.raises(NtUserError, match="score"):
        scored(1, 1.5)
