"""Stored articles (``news_articles``): one row per story across sources and fetches, upserts that
change nothing the second time, loads by symbol, window and storage time; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from neural_trader.host import Host
from neural_trader.services.storage import Storage
from neural_trader_plugins.news import MIGRATIONS, store
from neural_trader_plugins.news.articles import Article, Mention

T0 = dt.datetime(2024, 5, 2, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Storage]:
    with Storage(db_url, branches=[MIGRATIONS]) as storage:
        yield storage


def scored(article: Article, score: float = 0.5) -> store.Scored:
    return store.Scored(article=article, score=score, label="very bullish" if score >= 0.5 else "bullish",
                        model="vader_finance")


def story(**changes: object) -> Article:
    values: dict[str, object] = {"title": "Apple beats estimates", "source": "Reuters", "published_at": T0,
                                 "provider": "rss", "url": "https://www.reuters.com/apple-beats?utm_source=x",
                                 "symbols": ["AAPL"]}
    values.update(changes)
    return Article.create(**values)  # type: ignore[arg-type]


def count(storage: Storage, table: str) -> int:
    with storage.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_storing_the_same_articles_again_changes_no_row(db: Storage) -> None:
    items = [scored(story()), scored(story(title="Tesla recalls cars", url="https://x.example/t", symbols=["TSLA"]),
                                     -0.4)]
    assert store.save(db, items) == store.SaveResult(new=2, known=0)
    first = store.load(db)
    assert store.save(db, items) == store.SaveResult(new=0, known=2)
    assert store.load(db) == first
    assert count(db, "news_articles") == 2 and count(db, "news_article_symbols") == 2


def test_the_same_story_from_another_source_is_merged_into_one_row(db: Storage) -> None:
    store.save(db, [scored(story())])
    # NewsAPI's copy: another URL, the publisher appended to the title, published 10 minutes earlier,
    # tagged with a second symbol and a relevance.
    other = story(title="Apple beats estimates - Reuters", url="https://news.example/apple", provider="newsapi",
                  published_at=T0 - dt.timedelta(minutes=10), symbols=["AAPL", "MSFT"],
                  mentions=[Mention(symbol="MSFT", relevance=0.3)])
    assert store.save(db, [scored(other, 0.6)]) == store.SaveResult(new=0, known=1)
    (got,) = store.load(db)
    assert got.article.provider == "newsapi,rss" and got.article.symbols == ("AAPL", "MSFT")
    assert got.article.published_at == T0 - dt.timedelta(minutes=10)  # the earliest copy's time
    assert got.article.url == "https://www.reuters.com/apple-beats?utm_source=x"  # the first row's
    assert got.score == 0.6  # the newest score
    assert got.article.mention("MSFT") == Mention(symbol="MSFT", relevance=0.3)
    # The same title two days later is another story.
    later = story(url="https://news.example/apple-again", published_at=T0 + dt.timedelta(days=2))
    assert store.save(db, [scored(later)]) == store.SaveResult(new=1, known=0)


def test_load_filters_by_symbol_window_and_storage_time(db: Storage) -> None:
    aapl = [story(url=f"https://x.example/a{k}", title=f"Apple story {k}", published_at=T0 + dt.timedelta(hours=k))
            for k in range(4)]
    store.save(db, [scored(a) for a in aapl])
    cut = dt.datetime.now(dt.UTC)
    store.save(db, [scored(story(url="https://x.example/t", title="Tesla story", symbols=["TSLA"]))])
    assert [s.article.title for s in store.load(db, symbols=["AAPL"], start=T0 + dt.timedelta(hours=1),
                                                end=T0 + dt.timedelta(hours=2))] == ["Apple story 1", "Apple story 2"]
    assert {s.article.symbols for s in store.load(db, symbols=["TSLA"])} == {("TSLA",)}
    assert len(store.load(db)) == 5 and len(store.load(db, stored_before=cut)) == 4
    assert [s.article.title for s in store.load(db, symbols=["AAPL"], limit=2)] == ["Apple story 2", "Apple story 3"]


def test_news_fetch_stores_what_it_fetched_once(nt_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from .conftest import FIXTURES

    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(FIXTURES / "rss" / "sample_rss2.xml", folder / "AAPL.xml")
    monkeypatch.setenv("NT_RSS_DIR", str(folder))
    window = {"symbols": ["AAPL"], "sources": ["rss"], "start": "2024-04-01T00:00:00Z", "end": "2024-05-31T00:00:00Z"}
    first = nt_host.call("news.fetch", window)
    assert first["stored_new"] == len(first["articles"]) > 0 and first["stored_known"] == 0
    again = nt_host.call("news.fetch", window)
    assert again["stored_new"] == 0 and again["stored_known"] == len(first["articles"])
    rows = store.load(nt_host.services.storage, symbols=["AAPL"])
    assert sorted(r.article.id for r in rows) == sorted(a["id"] for a in first["articles"])
    assert {r.score for r in rows} == {a["sentiment"] for a in first["articles"]}
    assert nt_host.call("news.fetch", {**window, "store": False})["stored_new"] == 0


def test_two_writers_storing_the_same_new_story_at_once_store_it_once(db: Storage) -> None:
    import threading

    items = [scored(story(url=f"https://x.example/{k}", title=f"Story {k}")) for k in range(30)]
    barrier, results, errors = threading.Barrier(2), [], []

    def write() -> None:
        barrier.wait()
        try:
            results.append(store.save(db, items))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and count(db, "news_articles") == 30
    assert sum(r.new for r in results) == 30 and sum(r.known for r in results) == 30
