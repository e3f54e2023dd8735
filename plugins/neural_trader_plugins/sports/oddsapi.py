"""The Odds API v4 (the-odds-api.com): request builders, the error classifier for the host's HTTP
layer, and parsers into :mod:`.events` values.

Endpoints: ``GET /v4/sports`` (free), ``GET /v4/sports/{sport}/events`` (free: events without
odds), ``GET /v4/sports/{sport}/odds`` and ``GET /v4/sports/{sport}/events/{id}/odds`` (cost: one
credit per region and market). The key travels as the ``apiKey`` query parameter, which the HTTP
layer redacts from every message and log; it never appears in an answer.

Every answer carries ``x-requests-remaining``, ``x-requests-used`` and ``x-requests-last`` (the
cost of that call); an empty list of events costs nothing and is not an error. Errors come as
``{"message", "error_code", "details_url"}``; :func:`classify` maps the codes (match on
``error_code``, not the message): ``INVALID_KEY``/``MISSING_KEY``/``DEACTIVATED_KEY`` ->
:class:`NtProviderAuthError`; ``OUT_OF_USAGE_CREDITS`` -> :class:`OddsApiQuotaExhausted` (not
retried; the credits come back when the plan's month restarts); ``EXCEEDED_FREQ_LIMIT`` ->
:class:`NtRateLimited` (retried with backoff); ``INVALID_MARKET``, ``INVALID_REGION``,
``INVALID_ODDS_FORMAT``, ``INVALID_BOOKMAKERS``, ``UNKNOWN_SPORT``... -> :class:`NtUserError`
naming our field; ``EVENT_NOT_FOUND`` -> :class:`NtNotFound`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs
import httpx

from neural_trader.errors import NtError, NtNotFound, NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError
from neural_trader_plugins.sports.events import (
    BookmakerOdds,
    Event,
    Market,
    Price,
    Sport,
    check_markets,
    check_sport_key,
)

__all__ = ["BASE_URL", "ODDS_FORMATS", "PROVIDER", "REGIONS", "OddsApiQuotaExhausted", "OddsApiRequest",
           "classify", "error_for", "event_odds_request", "events_request", "odds_request", "parse_event",
           "parse_events", "parse_sports", "sports_request"]

PROVIDER = "oddsapi"
BASE_URL = "https://api.the-odds-api.com"
REGIONS: tuple[str, ...] = ("us", "us2", "uk", "au", "eu", "us_ex")
ODDS_FORMATS: tuple[str, ...] = ("decimal", "american")
KEY_HINT = "NT_ODDS_API_KEY (or ODDS_API_KEY)"
_SECRET_PARAM = "apiKey"

#: error_code -> the field of ours the provider refused.
_FIELD_ERRORS = {"INVALID_MARKET": "markets", "INVALID_MARKETS": "markets", "INVALID_REGION": "regions",
                 "INVALID_REGIONS": "regions", "MISSING_REGION": "regions", "INVALID_ODDS_FORMAT": "odds_format",
                 "INVALID_BOOKMAKERS": "bookmakers", "INVALID_DATE_FORMAT": "date_format",
                 "INVALID_EVENT_ID": "event", "INVALID_EVENT_IDS": "event_ids", "UNKNOWN_SPORT": "sport",
                 "INVALID_SPORT": "sport", "INVALID_COMMENCE_TIME_FROM": "commence_from",
                 "INVALID_COMMENCE_TIME_TO": "commence_to"}


class OddsApiQuotaExhausted(NtError):
    """The plan's usage credits are spent (``OUT_OF_USAGE_CREDITS``): not retried, since nothing
    changes before the credits are reset."""

    exit_code: ClassVar[int] = 6
    http_status: ClassVar[int] = 429
    type: ClassVar[str] = "quota_exhausted"


@attrs.frozen(kw_only=True)
class OddsApiRequest:
    """One GET: ``path`` with query ``params``; ``repr`` hides the key."""

    path: str
    params: tuple[tuple[str, str], ...] = attrs.field(
        repr=lambda pairs: repr(tuple((k, "***" if k == _SECRET_PARAM else v) for k, v in pairs)))

    def params_dict(self) -> dict[str, str]:
        return dict(self.params)


def _key(api_key: str) -> tuple[str, str]:
    if not isinstance(api_key, str) or not api_key.strip():
        raise NtUserError(f"the oddsapi source needs an API key: set {KEY_HINT} (a free key from "
                          "https://the-odds-api.com)")
    return (_SECRET_PARAM, api_key.strip())


def _csv(values: Iterable[str] | None, allowed: tuple[str, ...] | None, field: str) -> str | None:
    if values is None:
        return None
    items = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if not items:
        raise NtUserError(f"{field} is empty: leave it out or give at least one value")
    if allowed is not None and (bad := [v for v in items if v not in allowed]):
        raise NtUserError(f"{field} may hold {', '.join(allowed)}, not {', '.join(bad)}")
    return ",".join(items)


def _iso(value: dt.datetime | None, field: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise NtUserError(f"{field} must carry a time zone, e.g. 2024-05-02T20:00:00Z")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sports_request(*, api_key: str, all_sports: bool = False) -> OddsApiRequest:
    """``GET /v4/sports``: in-season sports (every sport with ``all_sports``). Costs nothing."""
    params = [_key(api_key)] + ([("all", "true")] if all_sports else [])
    return OddsApiRequest(path="/v4/sports", params=tuple(params))


def events_request(*, api_key: str, sport: str, commence_from: dt.datetime | None = None,
                   commence_to: dt.datetime | None = None) -> OddsApiRequest:
    """``GET /v4/sports/{sport}/events``: upcoming and live events without odds. Costs nothing."""
    sport = check_sport_key(sport)
    params = [_key(api_key), ("dateFormat", "iso")]
    for name, value in (("commenceTimeFrom", _iso(commence_from, "commence_from")),
                        ("commenceTimeTo", _iso(commence_to, "commence_to"))):
        if value:
            params.append((name, value))
    return OddsApiRequest(path=f"/v4/sports/{sport}/events", params=tuple(params))


def _odds_params(api_key: str, regions: Iterable[str] | None, markets: Iterable[str], odds_format: str,
                 bookmakers: Iterable[str] | None) -> list[tuple[str, str]]:
    if odds_format not in ODDS_FORMATS:
        raise NtUserError(f"odds_format must be one of {', '.join(ODDS_FORMATS)}, got {odds_format!r}")
    books = _csv(bookmakers, None, "bookmakers")
    region = _csv(regions, REGIONS, "regions")
    if books is None and region is None:
        raise NtUserError(f"regions is empty: give regions (e.g. ['uk']; any of {', '.join(REGIONS)}) or bookmakers")
    params = [_key(api_key)]
    # The provider takes bookmakers over regions when both are sent; send one, so the cost is clear.
    params.append(("bookmakers", books) if books else ("regions", region or ""))
    params += [("markets", ",".join(check_markets(markets))), ("oddsFormat", odds_format), ("dateFormat", "iso")]
    return params


def odds_request(*, api_key: str, sport: str, regions: Iterable[str] | None = ("uk",),
                 markets: Iterable[str] = ("h2h",), odds_format: str = "decimal",
                 bookmakers: Iterable[str] | None = None, event_ids: Iterable[str] | None = None,
                 commence_from: dt.datetime | None = None, commence_to: dt.datetime | None = None) -> OddsApiRequest:
    """``GET /v4/sports/{sport}/odds``: every event's odds (one credit per region and market)."""
    sport = check_sport_key(sport)
    params = _odds_params(api_key, regions, markets, odds_format, bookmakers)
    for name, value in (("eventIds", _csv(event_ids, None, "event_ids")),
                        ("commenceTimeFrom", _iso(commence_from, "commence_from")),
                        ("commenceTimeTo", _iso(commence_to, "commence_to"))):
        if value:
            params.append((name, value))
    return OddsApiRequest(path=f"/v4/sports/{sport}/odds", params=tuple(params))


def event_odds_request(*, api_key: str, sport: str, event_id: str, regions: Iterable[str] | None = ("uk",),
                       markets: Iterable[str] = ("h2h",), odds_format: str = "decimal",
                       bookmakers: Iterable[str] | None = None) -> OddsApiRequest:
    """``GET /v4/sports/{sport}/events/{id}/odds``: one event's odds."""
    sport = check_sport_key(sport)
    if not isinstance(event_id, str) or not event_id.isalnum():
        raise NtUserError(f"event must be an oddsapi event id (letters and digits, see sports.events), got {event_id!r}")
    return OddsApiRequest(path=f"/v4/sports/{sport}/events/{event_id}/odds",
                          params=tuple(_odds_params(api_key, regions, markets, odds_format, bookmakers)))


# -- errors ---------------------------------------------------------------------------------------------
def error_for(body: Any, status: int | None = None) -> NtError | None:
    """The error an Odds API error body stands for, or None if ``body`` is not one."""
    if not isinstance(body, dict) or ("error_code" not in body and "message" not in body):
        return None
    code = str(body.get("error_code") or "")
    said = " ".join(str(body.get("message") or "").split())[:300]
    details = {"provider": PROVIDER, "status": status, "code": code}
    if code in ("INVALID_KEY", "MISSING_KEY", "DEACTIVATED_KEY", "INVALID_API_KEY") or (status == 401 and not code):
        return NtProviderAuthError(f"provider oddsapi rejected the key ({code or 'HTTP 401'}): check {KEY_HINT} "
                                   f"({said})", details=details)
    if code == "OUT_OF_USAGE_CREDITS":
        return OddsApiQuotaExhausted(
            f"provider oddsapi: the usage quota is spent ({code}: {said}); the credits are reset when the plan's "
            "monthly period restarts (see your account at https://the-odds-api.com), or upgrade the plan. "
            "Calls that return no events cost nothing; sports.list shows x-requests-remaining.",
            details=details)
    if code in ("EXCEEDED_FREQ_LIMIT", "RATE_LIMITED") or status == 429:
        return NtRateLimited(f"provider oddsapi is limiting how often requests are sent ({code or 'HTTP 429'}): "
                             f"{said}; wait a second between calls", details=details)
    if code in ("EVENT_NOT_FOUND",):
        return NtNotFound(f"provider oddsapi has no such event ({code}): {said}; list events with sports.events",
                          details=details)
    if code in _FIELD_ERRORS:
        field = _FIELD_ERRORS[code]
        return NtUserError(f"{field}: provider oddsapi refused it ({code}): {said}", details={**details, "field": field})
    if status is not None and status >= 500:
        return None  # the HTTP layer's default: unavailable, retried
    return NtProviderError(f"provider oddsapi answered with an error ({code or f'HTTP {status}'}): {said}",
                           details=details)


def classify(response: httpx.Response) -> NtError | None:
    """Odds API error bodies named for the host's HTTP layer (see the module doc)."""
    if response.status_code < 400:
        return None
    return error_for(response.json(), response.status_code)


# -- parsing ----------------------------------------------------------------------------------------------
def _unreadable(what: str, exc: Exception) -> NtProviderError:
    return NtProviderError(f"provider oddsapi sent {what} this adapter cannot read ({type(exc).__name__}: {exc})")


def _time(value: Any) -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)   # dateFormat=unix
    if not isinstance(value, str):
        raise TypeError(f"expected a timestamp, got {value!r}")
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(dt.UTC)


def _decimal(price: Any, odds_format: str) -> float:
    from neural_trader_plugins.sports import odds

    if isinstance(price, bool) or not isinstance(price, int | float):
        raise TypeError(f"expected a price, got {price!r}")
    value = float(odds.american_to_decimal(price)) if odds_format == "american" else float(price)
    if not value > 1.0:
        raise ValueError(f"price {price!r} is not {odds_format} odds")
    return value


def parse_sports(body: Any) -> tuple[Sport, ...]:
    """The sports of a ``/v4/sports`` answer."""
    if not isinstance(body, list):
        raise NtProviderError("provider oddsapi sent an unexpected answer for /v4/sports: not a list of sports")
    out = []
    for i, item in enumerate(body):
        try:
            out.append(Sport(key=str(item["key"]), group=str(item.get("group") or ""), title=str(item.get("title") or ""),
                             description=str(item.get("description") or ""), active=bool(item.get("active", True)),
                             has_outrights=bool(item.get("has_outrights", False))))
        except (KeyError, TypeError, AttributeError) as exc:
            raise _unreadable(f"sport {i}", exc) from None
    return tuple(out)


def parse_event(item: Any, odds_format: str = "decimal") -> Event:
    """One event object (with or without ``bookmakers``); american prices become decimal."""
    try:
        books = []
        for b in item.get("bookmakers") or ():
            markets = []
            for m in b.get("markets") or ():
                outcomes = tuple(Price(name=str(o["name"]), price=_decimal(o["price"], odds_format),
                                       point=None if o.get("point") is None else float(o["point"]))
                                 for o in m.get("outcomes") or ())
                markets.append(Market(key=str(m["key"]), outcomes=outcomes,
                                      last_update=_time(m["last_update"]) if m.get("last_update") else None))
            books.append(BookmakerOdds(key=str(b["key"]), title=str(b.get("title") or b["key"]), markets=tuple(markets),
                                       last_update=_time(b["last_update"]) if b.get("last_update") else None))
        return Event(id=str(item["id"]), sport_key=str(item["sport_key"]), sport_title=str(item.get("sport_title") or ""),
                     commence_time=_time(item["commence_time"]), home_team=str(item.get("home_team") or ""),
                     away_team=str(item.get("away_team") or ""), bookmakers=tuple(books), stage="live")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _unreadable("an event", exc) from None


def parse_events(body: Any, odds_format: str = "decimal") -> tuple[Event, ...]:
    """The events of a ``/odds`` or ``/events`` answer (an empty list is no events, not an error)."""
    if isinstance(body, dict) and (error := error_for(body)) is not None:
        raise error
    if not isinstance(body, list):
        raise NtProviderError("provider oddsapi sent an unexpected answer: not a list of events")
    return tuple(parse_event(item, odds_format) for item in body)
