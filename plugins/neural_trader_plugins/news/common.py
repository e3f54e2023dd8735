"""What the news adapters share: the request value they build, the page they parse, time parsing.

An adapter never sends anything itself: it builds a :class:`NewsRequest` that the caller passes to
the host's HTTP layer (``services.http.client(provider, base_url=..., headers=dict(req.headers),
classify=<adapter>.classify)`` then ``client.get_json(req.path, dict(req.params))``), and parses
the decoded body into a :class:`NewsPage`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from neural_trader.errors import NtUserError
from neural_trader.services.http import NtProviderError

from .articles import Article

#: Parameter names whose values are credentials (the HTTP layer redacts the same words).
_SECRET = re.compile(r"(key|secret|token|password|signature)", re.IGNORECASE)


def _redacted(pairs: tuple[tuple[str, str], ...]) -> str:
    shown = [(k, "***" if _SECRET.search(k) else v) for k, v in pairs]
    return repr(tuple(shown))


@attrs.frozen(kw_only=True)
class NewsRequest:
    """One GET to a news provider: ``base_url`` + ``path`` with query ``params`` and ``headers``.

    Credentials travel where the provider wants them (a header, or a query parameter for Alpha
    Vantage); ``repr`` shows every header value and every secret-looking parameter as ``***`` so a
    request can be logged.
    """

    provider: str
    base_url: str
    path: str
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=_redacted)
    headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), repr=lambda pairs: repr(tuple((k, "***") for k, _ in pairs)))

    def params_dict(self) -> dict[str, str]:
        return dict(self.params)

    def headers_dict(self) -> dict[str, str]:
        return dict(self.headers)


@attrs.frozen(kw_only=True)
class NewsPage:
    """The articles of one answer, in the provider's order, plus its paging hints.

    ``next_page`` is the provider's cursor for the next page (Alpaca's ``next_page_token``) or
    ``None``; ``total`` is the provider's count of all matches (NewsAPI's ``totalResults``) or
    ``None`` when it does not say.
    """

    provider: str
    articles: tuple[Article, ...]
    next_page: str | None = None
    total: int | None = None


def pairs(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query pairs from ``values``, dropping ``None`` (the provider's default applies)."""
    return tuple((k, str(v)) for k, v in values.items() if v is not None)


def text_or_none(value: Any) -> str | None:
    """A provider's nullable text: ``None``, ``''`` and whitespace all mean absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    value = " ".join(value.split())
    return value or None


def utc_from_iso(value: Any) -> dt.datetime:
    """An RFC 3339 timestamp (``2024-05-02T20:41:35Z``) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 timestamp, got {value!r}")
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(dt.UTC)


def rfc3339(value: dt.datetime, field: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ``; a naive datetime is the caller's error, named by ``field``."""
    return as_utc(value, field).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_utc(value: Any, field: str) -> dt.datetime:
    """``value`` (an aware datetime) in UTC; anything else raises :class:`NtUserError` naming ``field``."""
    if not isinstance(value, dt.datetime):
        raise NtUserError(f"{field} must be a datetime with a time zone, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NtUserError(f"{field} must carry a time zone (for example 2024-05-02T20:00:00Z); "
                          f"it was naive: {value.isoformat()}")
    return value.astimezone(dt.UTC)


def symbol_list(symbols: Iterable[str] | str | None, field: str, *, required: bool = False) -> tuple[str, ...]:
    """Upper-case ticker symbols from a list or a comma-separated string, without repeats."""
    if symbols is None:
        items: list[str] = []
    elif isinstance(symbols, str):
        items = symbols.split(",")
    else:
        items = list(symbols)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise NtUserError(f"{field} must hold ticker symbols as text, got {item!r}")
        s = item.strip().upper()
        if not s:
            continue
        if not re.fullmatch(r"[A-Z0-9.:\-/^=]{1,32}", s):
            raise NtUserError(f"{field} has {item!r}, which is not a ticker symbol (letters, digits, . : - /)")
        if s not in out:
            out.append(s)
    if required and not out:
        raise NtUserError(f"{field} must name at least one symbol, for example ['AAPL']")
    return tuple(out)


def unreadable(provider: str, what: str, exc: Exception) -> NtProviderError:
    return NtProviderError(f"provider {provider} sent {what} this adapter cannot read "
                           f"({type(exc).__name__}: {exc})")
