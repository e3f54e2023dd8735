"""news_articles and news_article_symbols: stored stories, de-duplicated, with their symbols and scores.

Revision ID: n0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "n0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news_articles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("publisher", sa.String(length=200), nullable=False),
        sa.Column("providers", sa.String(length=500), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_sentiment", sa.Float(), nullable=True),
        sa.Column("provider_sentiment_label", sa.String(length=50), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_articles")),
    )
    op.create_index(op.f("ix_news_articles_first_seen_at"), "news_articles", ["first_seen_at"], unique=False)
    op.create_index(op.f("ix_news_articles_published_at"), "news_articles", ["published_at"], unique=False)
    op.create_index(op.f("ix_news_articles_title_key"), "news_articles", ["title_key"], unique=False)
    op.create_table(
        "news_article_symbols",
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=True),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["news_articles.id"],
                                name=op.f("fk_news_article_symbols_article_id_news_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "symbol", name=op.f("pk_news_article_symbols")),
    )
    op.create_index(op.f("ix_news_article_symbols_symbol"), "news_article_symbols", ["symbol"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_news_article_symbols_symbol"), table_name="news_article_symbols")
    op.drop_table("news_article_symbols")
    op.drop_index(op.f("ix_news_articles_title_key"), table_name="news_articles")
    op.drop_index(op.f("ix_news_articles_published_at"), table_name="news_articles")
    op.drop_index(op.f("ix_news_articles_first_seen_at"), table_name="news_articles")
    op.drop_table("news_articles")
