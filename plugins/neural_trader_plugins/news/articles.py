"""The :class:`Article` value every news source produces, its stable id, and de-duplication.

Definitions:

* **canonical URL**: the URL with the scheme folded (``http`` and ``https`` are the same page), the
  host lower-cased without a leading ``www.`` or a default port, the fragment dropped, tracking
  parameters dropped (``utm_*``, ``fbclid``, ``gclid`` and the others in :data:`TRACKING_PARAMS`),
  the remaining parameters sorted, and trailing slashes removed from the path. It is written
  ``host/path?query`` (no scheme).
* **id**: the first 32 hex digits of SHA-256 over ``url:<canonical URL>``; an article without a URL
  hashes ``text:<source>|<normalised title>|<published_at, RFC 3339>`` instead.
* **normalised title**: NFKC, lower case, punctuation replaced by spaces, whitespace collapsed,
  and a trailing `` - <source>`` / `` | <source>`` (as NewsAPI appends) removed.
* **duplicates**: two articles with the same canonical URL, or with the same normalised title
  published within ``window`` of the earliest article of the group (default 24 hours).
  :func:`deduplicate` keeps the earliest article of each group (ties: the first given) and merges
  the symbols and per-symbol mentions of the others into it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Any

import attrs

from neural_trader.errors import NtUserError

#: Query parameters that identify a campaign or a click, not a page.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi",
    "ocid", "cmpid", "soc_src", "soc_trk", "guccounter", "guce_referrer", "guce_referrer_sig",
    "ncid", "sr_share", "taid", "ito", "cid_source", "smid", "smtyp", "__twitter_impression",
})
_TRACKING_PREFIXES = ("utm_", "mkt_", "pk_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """``url`` in canonical form (see the module doc); raises :class:`NtUserError` if it is not an
    absolute http(s) URL."""
    if not isinstance(url, str) or not url.strip():
        raise NtUserError("url must be an absolute http(s) URL, got an empty value")
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise NtUserError(f"url must be an absolute http(s) URL, got {url!r}")
    host = parts.hostname.lower().rstrip(".")
    host = host.removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        raise NtUserError(f"url has a bad port: {url!r}") from None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)]
    query.sort()
    text = host + path
    if query:
        text += "?" + urllib.parse.urlencode(query)
    return text


def normalise_title(title: str, source: str | None = None) -> str:
    """``title`` normalised for comparison (see the module doc)."""
    text = unicodedata.normalize("NFKC", title).casefold()
    if source:
        suffix = unicodedata.normalize("NFKC", source).casefold().strip()
        for sep in (" - ", " | ", " \u2014 ", " \u2013 "):
            if suffix and text.rstrip().endswith(sep + suffix):
                text = text.rstrip()[: -len(sep + suffix)]
                break
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def article_id(*, url: str | None, source: str, title: str, published_at: dt.datetime) -> str:
    """The stable id of an article (see the module doc)."""
    if url:
        key = "url:" + canonical_url(url)
    else:
        stamp = published_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = f"text:{source.casefold()}|{normalise_title(title, source)}|{stamp}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _utc(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise NtUserError(f"published_at must be a datetime with a time zone, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NtUserError(f"published_at must carry a time zone; it was naive: {value.isoformat()}")
    return value.astimezone(dt.UTC)


def _symbols(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise NtUserError(f"symbols must be a list of tickers, not the string {value!r}")
    return tuple(sorted({s.strip().upper() for s in value if s and s.strip()}))


@attrs.frozen(kw_only=True)
class Mention:
    """What a provider says about one symbol in one article.

    ``relevance`` is the provider's 0..1 relevance of the article to the symbol (Alpha Vantage's
    ``relevance_score``), ``sentiment`` its per-symbol score on its own scale; ``None`` when the
    provider gives none.
    """

    symbol: str = attrs.field(converter=lambda s: str(s).strip().upper())
    relevance: float | None = attrs.field(default=None)
    sentiment: float | None = None

    @relevance.validator
    def _check(self, _a: attrs.Attribute, value: float | None) -> None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise NtUserError(f"relevance of {self.symbol} must be within 0..1, got {value!r}")


def _mentions(value: Iterable[Mention]) -> tuple[Mention, ...]:
    return tuple(sorted(value, key=lambda m: m.symbol))


@attrs.frozen(kw_only=True)
class Article:
    """One news item, whatever its source.

    ``published_at`` is aware UTC. ``symbols`` are the tickers the provider tagged (sorted, upper
    case; empty when it tags none). ``provider`` is the adapter that fetched it (``newsapi``,
    ``finnhub``...), ``source`` the publisher it names. ``raw_sentiment`` / ``raw_sentiment_label``
    are the provider's own overall sentiment (Alpha Vantage: -1..1 and its five labels) or ``None``.
    Build one with :meth:`create`, which computes ``id``.
    """

    id: str
    title: str = attrs.field()
    summary: str | None = None
    url: str | None = None
    source: str
    published_at: dt.datetime = attrs.field(converter=_utc)
    symbols: tuple[str, ...] = attrs.field(default=(), converter=_symbols)
    provider: str
    raw_sentiment: float | None = None
    raw_sentiment_label: str | None = None
    mentions: tuple[Mention, ...] = attrs.field(default=(), converter=_mentions)

    @title.validator
    def _check_title(self, _a: attrs.Attribute, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise NtUserError("title must be non-empty text")

    @classmethod
    def create(cls, *, title: str, source: str, published_at: dt.datetime, provider: str,
               url: str | None = None, summary: str | None = None, symbols: Iterable[str] = (),
               raw_sentiment: float | None = None, raw_sentiment_label: str | None = None,
               mentions: Iterable[Mention] = ()) -> Article:
        """An article with its id computed from ``url`` (or source, title and time)."""
        when = _utc(published_at)
        if not isinstance(title, str) or not title.strip():
            raise NtUserError("title must be non-empty text")
        mentions = tuple(mentions)
        tagged = {*symbols, *(m.symbol for m in mentions)}
        return cls(id=article_id(url=url, source=source, title=title, published_at=when),
                   title=" ".join(title.split()), summary=summary, url=url, source=source, published_at=when,
                   symbols=tagged, provider=provider, raw_sentiment=raw_sentiment,
                   raw_sentiment_label=raw_sentiment_label, mentions=mentions)

    def mention(self, symbol: str) -> Mention | None:
        """The provider's mention of ``symbol``, or ``None``."""
        symbol = symbol.upper()
        return next((m for m in self.mentions if m.symbol == symbol), None)

    def canonical_url(self) -> str | None:
        return canonical_url(self.url) if self.url else None


def _merge(keep: Article, other: Article) -> Article:
    mentions = {m.symbol: m for m in keep.mentions}
    for m in other.mentions:
        if m.symbol not in mentions:
            mentions[m.symbol] = m
    return attrs.evolve(keep, symbols=(*keep.symbols, *other.symbols), mentions=mentions.values())


def deduplicate(articles: Iterable[Article], *, window: dt.timedelta = dt.timedelta(hours=24)) -> list[Article]:
    """One article per story, earliest first (see the module doc for what counts as the same story).

    The kept article is the earliest of its group; the symbols and mentions of the others are merged
    into it. ``window`` bounds how far apart two same-title articles may be (same URL: any distance).
    """
    if not isinstance(window, dt.timedelta) or window < dt.timedelta(0):
        raise NtUserError(f"window must be a non-negative timedelta, got {window!r}")
    ordered = sorted(enumerate(articles), key=lambda pair: (pair[1].published_at, pair[0]))
    kept: list[Article] = []
    by_url: dict[str, int] = {}
    by_title: dict[str, list[int]] = {}
    for _, article in ordered:
        url = article.canonical_url()
        title = normalise_title(article.title, article.source)
        slot = by_url.get(url) if url else None
        if slot is None:
            for candidate in by_title.get(title, ()):
                if article.published_at - kept[candidate].published_at <= window:
                    slot = candidate
                    break
        if slot is None:
            slot = len(kept)
            kept.append(article)
            by_title.setdefault(title, []).append(slot)
        else:
            kept[slot] = _merge(kept[slot], article)
        if url:
            by_url.setdefault(url, slot)
    return kept
