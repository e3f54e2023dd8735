"""Article ids, canonical URLs and de-duplication across sources, on the recorded NewsAPI answers
(the same Reuters story in /everything and /top-headlines) and the constructed Alpha Vantage feed
and RSS file that carry it again with tracking parameters, a fragment and plain http."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.news import alphavantage, newsapi, rss
from neural_trader_plugins.news.articles import Article, Mention, canonical_url, deduplicate, normalise_title

from .conftest import FIXTURES, body

T0 = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.reuters.com/technology/apple-results-2024-05-02/", "reuters.com/technology/apple-results-2024-05-02"),
    ("http://reuters.com/technology/apple-results-2024-05-02", "reuters.com/technology/apple-results-2024-05-02"),
    ("HTTPS://WWW.Reuters.com:443/technology/apple-results-2024-05-02//?utm_source=x&utm_campaign=y#top",
     "reuters.com/technology/apple-results-2024-05-02"),
    ("https://finance.yahoo.com/news/a.html?guccounter=1&fbclid=abc&gclid=def", "finance.yahoo.com/news/a.html"),
    ("https://finnhub.io/api/news?id=6fced1&utm_medium=rss", "finnhub.io/api/news?id=6fced1"),
    ("https://example.com/story?b=2&a=1", "example.com/story?a=1&b=2"),
    ("https://example.com:8443/story/", "example.com:8443/story"),
    ("https://example.com/", "example.com"),
])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", ["", "ftp://example.com/a", "/relative/path", "https://"])
def test_a_bad_url_names_the_field(url: str) -> None:
    with pytest.raises(NtUserError, match="url"):
        canonical_url(url)


def test_the_id_is_a_hash_of_the_canonical_url_or_of_source_title_and_time() -> None:
    a = Article.create(title="Apple beats", source="Reuters", published_at=T0, provider="newsapi",
                       url="http://www.reuters.com/x/?utm_source=feed")
    assert a.id == hashlib.sha256(b"url:reuters.com/x").hexdigest()[:32]
    b = Article.create(title="Apple beats!", source="Reuters", published_at=T0.astimezone(dt.timezone(dt.timedelta(hours=-4))),
                       provider="rss")
    assert b.id == hashlib.sha256(b"text:reuters|apple beats|2024-05-02T12:00:00Z").hexdigest()[:32]
    assert b.published_at == T0 and b.published_at.tzinfo is dt.UTC


def test_naive_times_and_empty_titles_are_refused_by_name() -> None:
    with pytest.raises(NtUserError, match="published_at"):
        Article.create(title="x", source="s", published_at=dt.datetime(2024, 5, 2), provider="rss")
    with pytest.raises(NtUserError, match="title"):
        Article.create(title="  ", source="s", published_at=T0, provider="rss")
    with pytest.raises(NtUserError, match="relevance"):
        Mention(symbol="AAPL", relevance=1.5)


def test_normalised_titles_drop_case_punctuation_and_the_source_suffix() -> None:
    assert normalise_title("Apple Beats Estimates! - Reuters", "Reuters") == "apple beats estimates"
    assert normalise_title("Apple beats estimates", "AP") == "apple beats estimates"
    assert normalise_title("Apple \u2014 beats   estimates", None) == "apple beats estimates"


def test_one_story_from_four_sources_is_one_article_keeping_the_earliest_and_every_symbol() -> None:
    everything = newsapi.parse_articles(body("newsapi/everything.json")).articles
    headlines = newsapi.parse_articles(body("newsapi/top_headlines.json")).articles
    av = alphavantage.parse_news(body("alphavantage/news_sentiment_AAPL.json")).articles
    feed = rss.read_feed(FIXTURES / "rss/sample_rss2.xml").articles
    story = [a for a in (*everything, *headlines, *av, *feed) if "beats quarterly revenue" in a.title]
    assert len(story) == 4 and len({a.id for a in story}) == 1  # one canonical URL, four spellings
    merged = deduplicate([*feed, *av, *headlines, *everything])
    (kept,) = [a for a in merged if a.id == story[0].id]
    # Alpha Vantage and NewsAPI both say 20:41:35Z; the RSS copy is 20:50Z; a tie keeps the first given.
    assert kept.published_at == dt.datetime(2024, 5, 2, 20, 41, 35, tzinfo=dt.UTC)
    assert kept.provider == "alphavantage"
    assert kept.symbols == ("AAPL", "MSFT")
    assert kept.mention("AAPL") is not None and kept.mention("AAPL").relevance == pytest.approx(0.912345)
    assert len(merged) == len({a.id for a in (*everything, *headlines, *av, *feed)})


def test_same_title_within_the_window_is_one_story_and_outside_it_two() -> None:
    def make(title: str, source: str, hours: float, url: str, symbols: tuple[str, ...]) -> Article:
        return Article.create(title=title, source=source, published_at=T0 + dt.timedelta(hours=hours),
                              provider="rss", url=url, symbols=symbols)

    a = make("Boeing cuts guidance", "Wire A", 2, "https://a.example/1", ("BA",))
    b = make("BOEING CUTS GUIDANCE - Wire B", "Wire B", 0, "https://b.example/2", ("SPY",))
    c = make("Boeing cuts guidance", "Wire C", 30, "https://c.example/3", ())
    out = deduplicate([a, b, c])
    assert [x.source for x in out] == ["Wire B", "Wire C"]
    assert out[0].symbols == ("BA", "SPY")
    assert [x.source for x in deduplicate([a, b, c], window=dt.timedelta(hours=48))] == ["Wire B"]
    assert [x.source for x in deduplicate([a, b, c], window=dt.timedelta(hours=1))] == ["Wire B", "Wire A", "Wire C"]
    with pytest.raises(NtUserError, match="window"):
        deduplicate([a], window=dt.timedelta(hours=-1))
