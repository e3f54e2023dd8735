"""Stored articles: :func:`save` upserts scored articles into ``news_articles`` and
``news_article_symbols``, :func:`load` reads them back as :class:`~.aggregate.ScoredArticle`.

The same story is one row whatever source served it and however often it is fetched: a row is
found by the article's id (its canonical URL's hash) or, for a copy under another URL, by its
normalised title published within 24 hours of the stored one (the rule of
:func:`~.articles.deduplicate`). Storing again merges: the row keeps its earliest publication time
and its first publisher, gains the new source and symbols, and takes the newest score (so a row's
``score``/``label``/``model`` are the model's at the last store). Storing the same articles twice
changes nothing but ``updated_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from neural_trader.services.tables import utcnow

from .aggregate import ScoredArticle
from .articles import Article, Mention, normalise_title

__all__ = ["SAME_TITLE_WINDOW", "SaveResult", "load", "save"]

#: How far apart two copies of one story under different URLs may be published (as deduplicate).
SAME_TITLE_WINDOW = dt.timedelta(hours=24)
#: Rows one load may return (a fuzzer cannot make a call read the whole table).
MAX_LOAD = 100_000


@attrs.frozen(kw_only=True)
class SaveResult:
    new: int
    known: int


@attrs.frozen(kw_only=True)
class Scored:
    """An article with its model score and label, as :func:`save` takes them."""

    article: Article
    score: float
    label: str
    model: str


def _providers(*groups: Iterable[str]) -> str:
    return ",".join(sorted({p for g in groups for p in g if p}))


def _find(session: Any, article: Article, title_key: str) -> Any:
    from sqlmodel import col, select

    from .tables import ArticleRow

    row = session.get(ArticleRow, article.id)
    if row is not None:
        return row
    near = select(ArticleRow).where(
        ArticleRow.title_key == title_key,
        col(ArticleRow.published_at) >= article.published_at - SAME_TITLE_WINDOW,
        col(ArticleRow.published_at) <= article.published_at + SAME_TITLE_WINDOW)
    return session.exec(near.order_by(col(ArticleRow.published_at))).first()


def _merge_symbols(session: Any, article_id: str, article: Article) -> None:
    from .tables import ArticleSymbolRow

    for symbol in article.symbols:
        mention = article.mention(symbol)
        row = session.get(ArticleSymbolRow, (article_id, symbol))
        if row is None:
            session.add(ArticleSymbolRow(article_id=article_id, symbol=symbol,
                                         relevance=mention.relevance if mention else None,
                                         sentiment=mention.sentiment if mention else None))
        elif mention is not None and row.relevance is None and mention.relevance is not None:
            row.relevance, row.sentiment = mention.relevance, mention.sentiment
            session.add(row)


def save(storage: Any, items: Sequence[Scored]) -> SaveResult:
    """Upsert ``items`` (see the module doc); one transaction, taking the write lock first.

    Two writers storing the same new story at once (a collector and a ``news.fetch``) on PostgreSQL:
    the second's insert fails on the key, and its transaction is run once more, finding the row.
    """
    from sqlalchemy.exc import IntegrityError

    try:
        return _save(storage, items)
    except IntegrityError:
        return _save(storage, items)


def _save(storage: Any, items: Sequence[Scored]) -> SaveResult:
    from .tables import ArticleRow

    new = known = 0
    now = utcnow()
    with storage.session(write=True) as session:
        for item in items:
            a = item.article
            title_key = normalise_title(a.title, a.source)[:500]
            row = _find(session, a, title_key)
            if row is None:
                row = ArticleRow(id=a.id, title=a.title, title_key=title_key, summary=a.summary, url=a.url,
                                 publisher=a.source[:200], providers=a.provider[:500], published_at=a.published_at,
                                 provider_sentiment=a.raw_sentiment,
                                 provider_sentiment_label=(a.raw_sentiment_label or '')[:50] or None,
                                 score=item.score, label=item.label, model=item.model, first_seen_at=now,
                                 updated_at=now)
                new += 1
            else:
                known += 1
                row.providers = _providers(row.providers.split(","), [a.provider])[:500]
                if a.published_at < row.published_at:
                    row.published_at = a.published_at
                row.summary = row.summary or a.summary
                row.url = row.url or a.url
                if row.provider_sentiment is None and a.raw_sentiment is not None:
                    row.provider_sentiment = a.raw_sentiment
                    row.provider_sentiment_label = (a.raw_sentiment_label or '')[:50] or None
                row.score, row.label, row.model, row.updated_at = item.score, item.label, item.model, now
            session.add(row)
            session.flush()
            _merge_symbols(session, row.id, a)
    return SaveResult(new=new, known=known)


def load(storage: Any, *, symbols: Sequence[str] = (), start: dt.datetime | None = None,
         end: dt.datetime | None = None, stored_before: dt.datetime | None = None,
         limit: int = MAX_LOAD) -> list[ScoredArticle]:
    """Stored articles about any of ``symbols`` (every article when empty) published in
    ``[start, end]`` and first stored at or before ``stored_before``, with the score they were
    stored with: the newest ``limit`` of them, oldest first."""
    from sqlmodel import col, select

    from .tables import ArticleRow, ArticleSymbolRow

    query = select(ArticleRow)
    if symbols:
        about = select(ArticleSymbolRow.article_id).where(col(ArticleSymbolRow.symbol).in_(list(symbols)))
        query = query.where(col(ArticleRow.id).in_(about))
    if start is not None:
        query = query.where(col(ArticleRow.published_at) >= start)
    if end is not None:
        query = query.where(col(ArticleRow.published_at) <= end)
    if stored_before is not None:
        query = query.where(col(ArticleRow.first_seen_at) <= stored_before)
    query = query.order_by(col(ArticleRow.published_at).desc(), col(ArticleRow.id).desc()).limit(
        max(0, min(limit, MAX_LOAD)))
    chosen = query.with_only_columns(col(ArticleRow.id))
    with storage.session() as session:
        rows = session.exec(query).all()
        tags: dict[str, list[Any]] = {}
        for tag in session.exec(select(ArticleSymbolRow).where(col(ArticleSymbolRow.article_id).in_(chosen))).all():
            tags.setdefault(tag.article_id, []).append(tag)
    out = []
    for row in reversed(rows):
        mine = tags.get(row.id, [])
        mentions = [Mention(symbol=t.symbol, relevance=t.relevance, sentiment=t.sentiment)
                    for t in mine if t.relevance is not None or t.sentiment is not None]
        article = Article(id=row.id, title=row.title, summary=row.summary, url=row.url, source=row.publisher,
                          published_at=row.published_at, symbols=tuple(t.symbol for t in mine),
                          provider=row.providers, raw_sentiment=row.provider_sentiment,
                          raw_sentiment_label=row.provider_sentiment_label, mentions=mentions)
        out.append(ScoredArticle(article=article, score=row.score))
    return out
