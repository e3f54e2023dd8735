"""RSS 2.0 and Atom (RFC 4287) feeds from files or bytes, with the standard library's
``xml.etree`` only: the offline default news source.

RSS items: ``title``, ``link`` (else a permalink ``guid``), ``description``, ``pubDate`` (RFC 822,
read with :func:`email.utils.parsedate_to_datetime`; a date without a zone is refused), and the
channel ``title`` as the source. Atom entries: ``title``, the ``alternate`` (or first) ``link``
``href``, ``summary`` (else ``content``), ``published`` (else ``updated``, RFC 3339), the feed
``title`` as the source. HTML in descriptions is stripped to text. Symbols come from the caller
(``symbols``: the feed is about them) and from cashtags (``$AAPL``) in the title.

Documents with a DOCTYPE or entity declarations are refused: feeds have no use for them, and
they are how XML parsers are attacked (entity expansion).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from neural_trader.errors import NtUserError

from .articles import Article
from .common import NewsPage, text_or_none, utc_from_iso

PROVIDER = "rss"
ATOM = "{http://www.w3.org/2005/Atom}"
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,5}(?:\.[A-Z])?)\b")
_TAG = re.compile(r"<[^>]+>")


def _text(node: ET.Element | None) -> str | None:
    if node is None:
        return None
    raw = "".join(node.itertext())
    return text_or_none(html.unescape(_TAG.sub(" ", raw)))


def cashtags(text: str) -> tuple[str, ...]:
    """Tickers written as cashtags (``$AAPL``, ``$BRK.B``) in ``text``."""
    return tuple(dict.fromkeys(_CASHTAG.findall(text)))


def _rss_date(value: str | None, where: str) -> dt.datetime:
    if not value:
        raise NtUserError(f"{where} has no pubDate: an article needs its publication time")
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        raise NtUserError(f"{where} has a pubDate that is not an RFC 822 date: {value!r}") from None
    if when.tzinfo is None:
        raise NtUserError(f"{where} has a pubDate without a time zone: {value!r}")
    return when.astimezone(dt.UTC)


def _atom_date(value: str | None, where: str) -> dt.datetime:
    if not value:
        raise NtUserError(f"{where} has neither published nor updated: an article needs its time")
    try:
        return utc_from_iso(value)
    except (TypeError, ValueError):
        raise NtUserError(f"{where} has a time that is not RFC 3339: {value!r}") from None


def parse_feed(data: bytes | str, *, symbols: Iterable[str] = (), name: str = "feed") -> NewsPage:
    """The articles of an RSS 2.0 or Atom document; ``name`` (a file name) appears in errors."""
    raw = data.encode() if isinstance(data, str) else data
    outside_cdata = re.sub(rb"<!\[CDATA\[.*?\]\]>", b"", raw, flags=re.DOTALL)
    if re.search(rb"<!(DOCTYPE|ENTITY)", outside_cdata, re.IGNORECASE):
        raise NtUserError(f"{name} declares a DOCTYPE or entities; news feeds are read without them")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise NtUserError(f"{name} is not well-formed XML ({exc})") from None
    tags = tuple(symbols)
    if root.tag == f"{ATOM}feed":
        return _atom(root, tags, name)
    if root.tag == "rss":
        return _rss(root, tags, name)
    raise NtUserError(f"{name} is neither RSS 2.0 (<rss>) nor Atom (<feed xmlns=\"{ATOM[1:-1]}\">); "
                      f"its root is <{root.tag}>")


def _rss(root: ET.Element, tags: tuple[str, ...], name: str) -> NewsPage:
    channel = root.find("channel")
    if channel is None:
        raise NtUserError(f"{name} is RSS without a <channel>")
    source = _text(channel.find("title")) or name
    out = []
    for i, item in enumerate(channel.findall("item")):
        where = f"{name} item {i}"
        title = _text(item.find("title"))
        if title is None:
            continue  # RSS allows an item with a description only: nothing to score as a headline
        link = _text(item.find("link"))
        guid = item.find("guid")
        if link is None and guid is not None and guid.get("isPermaLink", "true") == "true":
            link = _text(guid)
        out.append(Article.create(title=title, summary=_text(item.find("description")), url=link,
                                  source=_text(item.find("source")) or source,
                                  published_at=_rss_date(_text(item.find("pubDate")), where),
                                  provider=PROVIDER, symbols=(*tags, *cashtags(title))))
    return NewsPage(provider=PROVIDER, articles=tuple(out))


def _atom(root: ET.Element, tags: tuple[str, ...], name: str) -> NewsPage:
    source = _text(root.find(f"{ATOM}title")) or name
    out = []
    for i, entry in enumerate(root.findall(f"{ATOM}entry")):
        where = f"{name} entry {i}"
        title = _text(entry.find(f"{ATOM}title"))
        if title is None:
            raise NtUserError(f"{where} has no title (Atom requires one)")
        links = entry.findall(f"{ATOM}link")
        chosen = next((lk for lk in links if lk.get("rel", "alternate") == "alternate"), links[0] if links else None)
        summary = _text(entry.find(f"{ATOM}summary")) or _text(entry.find(f"{ATOM}content"))
        when = _text(entry.find(f"{ATOM}published")) or _text(entry.find(f"{ATOM}updated"))
        out.append(Article.create(title=title, summary=summary, url=chosen.get("href") if chosen is not None else None,
                                  source=source, published_at=_atom_date(when, where), provider=PROVIDER,
                                  symbols=(*tags, *cashtags(title))))
    return NewsPage(provider=PROVIDER, articles=tuple(out))


def read_feed(path: str | Path, *, symbols: Iterable[str] = ()) -> NewsPage:
    """The articles of the feed file at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise NtUserError(f"path {str(p)!r} cannot be read as a feed file ({exc.strerror or exc})") from None
    return parse_feed(data, symbols=symbols, name=p.name)
