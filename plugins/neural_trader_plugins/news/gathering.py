"""Fetch from several sources at once, as ``news.fetch``, ``news.trends`` and the collectors do: pick
the sources, ask each, keep each one's failure apart, record successes and errors in :mod:`.health`,
and merge copies of one story (:func:`~.articles.deduplicate`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import attrs

from neural_trader.errors import NtError, NtUserError

from .articles import Article, deduplicate
from .health import health_of
from .sources import NewsQuery, SourceContext

__all__ = ["Gathered", "choose_sources", "gather"]

log = logging.getLogger("neural_trader.news")


@attrs.frozen(kw_only=True)
class Gathered:
    """Articles from the sources asked, one per story, newest first; ``failures`` the sources that
    could not answer with their error; ``notes`` what the sources said besides."""

    articles: list[Article]
    duplicates: int
    failures: list[tuple[str, NtError]]
    notes: list[str]


def choose_sources(host: Any, sc: SourceContext, names: Sequence[str] | None) -> list[Any]:
    """The sources ``names`` (in order, without repeats), or every configured one."""
    registry = host.registry("news_sources")
    if names is None:
        return [s for s in registry if s.status(sc)[0]]
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NtUserError(f"sources names {', '.join(unknown)}, not among {', '.join(registry.names())}")
    return [registry.get(n) for n in dict.fromkeys(names)]


async def gather(sc: SourceContext, sources: Sequence[Any], query: NewsQuery) -> Gathered:
    """Ask each of ``sources`` for ``query`` (one after another: they share no quota, but a server
    should not open five connections for one call)."""
    health = health_of(sc.host)
    found: list[Article] = []
    failures: list[tuple[str, NtError]] = []
    notes: list[str] = []
    for source in sources:
        configured, reason = source.status(sc)
        if reason and configured:
            notes.append(f"{source.name}: {reason}")
        try:
            found.extend((await source.fetch(sc, query)).articles)
        except NtError as exc:
            health.error(source.name, sc.now(), exc.type, exc.message)
            failures.append((source.name, exc))
            continue
        health.success(source.name, sc.now())
    unique = deduplicate(found)
    unique.sort(key=lambda a: a.published_at, reverse=True)
    return Gathered(articles=unique, duplicates=len(found) - len(unique), failures=failures, notes=notes)


def window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end]`` with the defaults: now, and 7 days before end."""
    last = end or dt.datetime.now(dt.UTC)
    first = start or last - dt.timedelta(days=7)
    if first > last:
        raise NtUserError(f"start {first.isoformat()} is after end {last.isoformat()}; swap them")
    return first, last
