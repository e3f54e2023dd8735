"""The news plugin's tables: ``news_articles``, one row per story (de-duplicated across sources and
fetches), and ``news_article_symbols``, the symbols each story is about.

A row's key is the article's stable id (:func:`~.articles.article_id`: a hash of the canonical URL);
``title_key`` (the normalised title) lets a later fetch find the same story under another URL. The
score and label are the sentiment model's at the time the row was last stored, with the model's name.
The tables live on this plugin's own metadata and are created by its migration branch
(``migrations/``, version table ``alembic_version_news``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from neural_trader.services.tables import UTCDateTime, new_metadata, utcnow

__all__ = ["ArticleRow", "ArticleSymbolRow", "metadata"]

metadata = new_metadata()


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the news plugin's tables."""


class ArticleRow(Table, table=True):
    """One story."""

    __tablename__ = "news_articles"

    #: The article's stable id (32 hex digits).
    id: str = Field(primary_key=True, max_length=32)
    title: str = Field(sa_type=sa.Text)
    #: :func:`~.articles.normalise_title` of the title: the same story under another URL.
    title_key: str = Field(max_length=500, index=True)
    summary: str | None = Field(default=None, sa_type=sa.Text)
    url: str | None = Field(default=None, sa_type=sa.Text)
    #: The publisher the first source named.
    publisher: str = Field(max_length=200)
    #: The news sources that served it, sorted, comma-separated (``newsapi,rss``).
    providers: str = Field(max_length=500)
    published_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    provider_sentiment: float | None = None
    provider_sentiment_label: str | None = Field(default=None, max_length=50)
    score: float
    label: str = Field(max_length=20)
    #: The sentiment model that gave ``score``.
    model: str = Field(max_length=100)
    first_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ArticleSymbolRow(Table, table=True):
    """A symbol a story is about, with the source's relevance and sentiment for it when it gave them."""

    __tablename__ = "news_article_symbols"

    article_id: str = Field(primary_key=True, max_length=32, foreign_key="news_articles.id", ondelete="CASCADE")
    symbol: str = Field(primary_key=True, max_length=64, index=True)
    relevance: float | None = None
    sentiment: float | None = None
