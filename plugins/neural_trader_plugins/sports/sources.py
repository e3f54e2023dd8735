"""Sports odds sources by name (hook ``nt_register_sports_markets``, host registry
``sports_markets``).

An odds source is anything with the :class:`OddsSource` shape: ``name``, ``summary``, ``network``
(it reaches the internet), ``stages`` (which prices it serves: ``live``, or football-data's
``opening``/``closing``), ``status(ctx)`` and the async ``sports``, ``events``, ``odds`` and
``event_odds``. The registry may also hold other sports markets (a paper sportsbook): callers pick
odds sources with :func:`odds_sources` / :func:`odds_source`.

Built in: ``football_data`` (football-data.co.uk CSV files in a local folder, ``[plugins.football_data]
dir`` / ``NT_FOOTBALL_DATA_DIR``, default ``<data_dir>/football-data``: the offline default) and
``oddsapi`` (The Odds API v4 through the host's HTTP layer; key from ``[plugins.oddsapi] api_key``,
``NT_ODDS_API_KEY``, ``NT_ODDSAPI_API_KEY`` or ``ODDS_API_KEY``; it never appears in answers or logs).
"""

from __future__ import annotations

import datetime as dt
import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader_plugins.sports import oddsapi
from neural_trader_plugins.sports.events import (
    Event,
    OddsPage,
    Quota,
    SportsPage,
    check_markets,
    check_sport_key,
)
from neural_trader_plugins.sports.football_data_events import FootballDataFiles

__all__ = ["BUILTIN", "EventsQuery", "FootballDataSource", "OddsApiSource", "OddsQuery", "OddsSource",
           "SourceContext", "last_quota", "odds_source", "odds_sources"]


@attrs.frozen(kw_only=True)
class EventsQuery:
    """Events of ``sport`` kicking off in ``[start, end]`` (either end open), at most ``limit``."""

    sport: str = attrs.field(validator=lambda _i, _a, v: check_sport_key(v))
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = 100


@attrs.frozen(kw_only=True)
class OddsQuery:
    """Odds of ``sport``'s events: ``markets``, from ``regions`` or named ``bookmakers``, in
    ``odds_format`` on the wire (answers are always decimal), at ``stage`` (None: the source's default)."""

    sport: str = attrs.field(validator=lambda _i, _a, v: check_sport_key(v))
    markets: tuple[str, ...] = attrs.field(default=("h2h",), converter=check_markets)
    regions: tuple[str, ...] = ("uk",)
    bookmakers: tuple[str, ...] | None = None
    odds_format: str = "decimal"
    stage: str | None = None
    event_ids: tuple[str, ...] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = 100


class SourceContext:
    """What a source needs from the host: its settings, the environment and the HTTP layer."""

    def __init__(self, host: Any, environ: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def setting(self, source: str, key: str, *env_names: str) -> str | None:
        """``[plugins.<source>] <key>``, ``NT_<SOURCE>_<KEY>`` or the first of ``env_names`` set."""
        found = self.host.settings.plugin(source, self.environ).get(key)
        if found:
            return str(found)
        return next((self.environ[n] for n in env_names if self.environ.get(n)), None)


@runtime_checkable
class OddsSource(Protocol):
    name: str
    summary: str
    network: bool
    stages: tuple[str, ...]

    def status(self, ctx: SourceContext) -> tuple[bool, str | None]: ...
    async def sports(self, ctx: SourceContext) -> SportsPage: ...
    async def events(self, ctx: SourceContext, query: EventsQuery) -> OddsPage: ...
    async def odds(self, ctx: SourceContext, query: OddsQuery) -> OddsPage: ...
    async def event_odds(self, ctx: SourceContext, event_id: str, query: OddsQuery) -> OddsPage: ...


def odds_sources(host: Any) -> list[OddsSource]:
    """The odds sources among the host's sports markets, by name."""
    return [m for m in host.registry("sports_markets") if isinstance(m, OddsSource)]


def odds_source(host: Any, name: str) -> OddsSource:
    """The odds source ``name``; NtNotFound naming the ones there are."""
    sources = {s.name: s for s in odds_sources(host)}
    if name not in sources:
        raise NtNotFound(f"source: no odds source named {name!r}; available: {', '.join(sorted(sources)) or 'none'}")
    return sources[name]


#: The last quota each host saw per source (sources are shared by hosts; quotas are not).
_QUOTAS: weakref.WeakKeyDictionary[Any, dict[str, Quota]] = weakref.WeakKeyDictionary()


def last_quota(host: Any, source: str) -> Quota | None:
    return _QUOTAS.get(host, {}).get(source)


def _note_quota(host: Any, source: str, quota: Quota | None) -> None:
    if quota is not None:
        _QUOTAS.setdefault(host, {})[source] = quota


def _check_stage(source: str, stages: tuple[str, ...], stage: str | None) -> str:
    chosen = stage or stages[0]
    if chosen not in stages:
        raise NtUserError(f"stage: source {source} serves {' or '.join(stages)} prices, not {chosen!r}"
                          + ("; stored snapshots of live odds are in odds.movement" if stages == ("live",) else ""))
    return chosen


# -- football_data: local files (the offline default) ----------------------------------------------------
#: football-data seasons shipped inside the package (by the sportsbook pack), read when nothing is configured.
EMBEDDED_DIR = Path(__file__).resolve().parent / "book" / "data"


@attrs.frozen(kw_only=True)
class FootballDataSource:
    name: str = "football_data"
    summary: str = ("football-data.co.uk results and opening/closing odds, CSV files in a local folder "
                    "(NT_FOOTBALL_DATA_DIR, default <data_dir>/football-data, else the seasons the package ships): "
                    "the offline default")
    network: bool = False
    stages: tuple[str, ...] = ("closing", "opening")
    files: FootballDataFiles = attrs.field(factory=FootballDataFiles, eq=False, repr=False)

    def folder(self, ctx: SourceContext) -> Path:
        """``NT_FOOTBALL_DATA_DIR``; else ``<data_dir>/football-data`` once it exists; else the seasons
        shipped in the package (the sportsbook's ``book/data``: E0 2018/19 and 2023/24), if any."""
        configured = ctx.setting("football_data", "dir")
        if configured:
            return Path(configured).expanduser()
        own = Path(ctx.host.settings.data_dir) / "football-data"
        return own if own.is_dir() or not EMBEDDED_DIR.is_dir() else EMBEDDED_DIR

    def _note(self, ctx: SourceContext, found: int) -> str:
        # The folder's path is the server's business: the note names the setting, not the path.
        if found or (self.folder(ctx).is_dir() and any(self.folder(ctx).glob("*.csv"))):
            return ""
        return ("no football-data files: put football-data.co.uk CSVs (e.g. E0.csv from "
                "https://www.football-data.co.uk/englandm.php) in NT_FOOTBALL_DATA_DIR (default <data_dir>/football-data)")

    def status(self, ctx: SourceContext) -> tuple[bool, str | None]:
        return True, self._note(ctx, 0) or None

    async def _run(self, fn: Any) -> Any:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn)

    def _events(self, ctx: SourceContext, sport: str, **filters: Any) -> tuple[Event, ...]:
        """The files' events of ``sport``; a sport no file has is the caller's error (with files there)."""
        folder = self.folder(ctx)
        known = {s.key for s in self.files.sports(folder)}
        if known and sport not in known:
            raise NtUserError(f"sport {sport!r} is not in the football-data files; they hold {', '.join(sorted(known))}")
        return self.files.events(folder, sport=sport, **filters)

    async def sports(self, ctx: SourceContext) -> SportsPage:
        found = await self._run(lambda: self.files.sports(self.folder(ctx)))
        return SportsPage(source=self.name, sports=found, note=self._note(ctx, len(found)))

    async def events(self, ctx: SourceContext, query: EventsQuery) -> OddsPage:
        found = await self._run(lambda: self._events(ctx, query.sport, start=query.start, end=query.end))
        events = tuple(attrs.evolve(e, bookmakers=()) for e in found[:query.limit])
        return OddsPage(source=self.name, events=events, note=self._note(ctx, len(found)))

    def _select(self, events: tuple[Event, ...], query: OddsQuery) -> tuple[Event, ...]:
        books = set(query.bookmakers) if query.bookmakers else None
        out = []
        for e in events:
            kept = []
            for b in e.bookmakers:
                if books is not None and b.key not in books:
                    continue
                markets = tuple(m for m in b.markets if m.key in query.markets)
                if markets:
                    kept.append(attrs.evolve(b, markets=markets))
            out.append(attrs.evolve(e, bookmakers=tuple(kept)))
        return tuple(out)

    async def odds(self, ctx: SourceContext, query: OddsQuery) -> OddsPage:
        stage = _check_stage(self.name, self.stages, query.stage)
        found = await self._run(lambda: self._events(ctx, query.sport, stage=stage, start=query.start, end=query.end,
                                                     ids=query.event_ids))
        return OddsPage(source=self.name, events=self._select(found[:query.limit], query),
                        note=self._note(ctx, len(found)))

    async def event_odds(self, ctx: SourceContext, event_id: str, query: OddsQuery) -> OddsPage:
        stage = _check_stage(self.name, self.stages, query.stage)
        found = await self._run(lambda: self._events(ctx, query.sport, stage=stage, ids=(event_id,)))
        if not found:
            raise NtNotFound(f"event: source football_data has no {query.sport} match {event_id!r}; list them with "
                             "sports.events (ids look like E0-20230811-burnley-man-city)")
        return OddsPage(source=self.name, events=self._select(found, query))


# -- oddsapi: The Odds API v4 ---------------------------------------------------------------------------
_KEY_ENV = ("NT_ODDS_API_KEY", "ODDS_API_KEY")


@attrs.frozen(kw_only=True)
class OddsApiSource:
    name: str = "oddsapi"
    summary: str = ("The Odds API v4: live odds (h2h, spreads, totals) from bookmakers by region; key in "
                    "NT_ODDS_API_KEY; x-requests-remaining tracked")
    network: bool = True
    stages: tuple[str, ...] = ("live",)

    def _key(self, ctx: SourceContext) -> str | None:
        return ctx.setting("oddsapi", "api_key", *_KEY_ENV)

    def status(self, ctx: SourceContext) -> tuple[bool, str | None]:
        return (True, None) if self._key(ctx) else (False, f"set {oddsapi.KEY_HINT}")

    def _api_key(self, ctx: SourceContext) -> str:
        key = self._key(ctx)
        if not key:
            raise NtUserError(f"source oddsapi needs an API key: set {oddsapi.KEY_HINT} (https://the-odds-api.com)")
        return key

    async def _get(self, ctx: SourceContext, request: oddsapi.OddsApiRequest) -> tuple[Any, Quota | None]:
        client = ctx.host.services.http.client(oddsapi.PROVIDER, base_url=oddsapi.BASE_URL, classify=oddsapi.classify,
                                               credential_hint=oddsapi.KEY_HINT)
        response = await client.request("GET", request.path, params=request.params_dict())
        quota = Quota.from_headers(dict(response.headers))
        _note_quota(ctx.host, self.name, quota)
        try:
            return response.json(), quota
        except ValueError:
            raise oddsapi.NtProviderError(f"provider oddsapi returned malformed JSON for GET {request.path}") from None

    async def sports(self, ctx: SourceContext) -> SportsPage:
        body, quota = await self._get(ctx, oddsapi.sports_request(api_key=self._api_key(ctx)))
        return SportsPage(source=self.name, sports=oddsapi.parse_sports(body), quota=quota)

    async def events(self, ctx: SourceContext, query: EventsQuery) -> OddsPage:
        body, quota = await self._get(ctx, oddsapi.events_request(api_key=self._api_key(ctx), sport=query.sport,
                                                                  commence_from=query.start, commence_to=query.end))
        return OddsPage(source=self.name, events=oddsapi.parse_events(body)[:query.limit], quota=quota)

    async def odds(self, ctx: SourceContext, query: OddsQuery) -> OddsPage:
        _check_stage(self.name, self.stages, query.stage)
        request = oddsapi.odds_request(api_key=self._api_key(ctx), sport=query.sport, regions=query.regions,
                                       markets=query.markets, odds_format=query.odds_format,
                                       bookmakers=query.bookmakers, event_ids=query.event_ids,
                                       commence_from=query.start, commence_to=query.end)
        body, quota = await self._get(ctx, request)
        events = oddsapi.parse_events(body, query.odds_format)
        return OddsPage(source=self.name, events=events[:query.limit], quota=quota,
                        note="" if events else "no events with odds for this query (an empty answer costs no credits)")

    async def event_odds(self, ctx: SourceContext, event_id: str, query: OddsQuery) -> OddsPage:
        _check_stage(self.name, self.stages, query.stage)
        request = oddsapi.event_odds_request(api_key=self._api_key(ctx), sport=query.sport, event_id=event_id,
                                             regions=query.regions, markets=query.markets,
                                             odds_format=query.odds_format, bookmakers=query.bookmakers)
        body, quota = await self._get(ctx, request)
        if isinstance(body, dict) and "id" in body:
            return OddsPage(source=self.name, events=(oddsapi.parse_event(body, query.odds_format),), quota=quota)
        return OddsPage(source=self.name, events=oddsapi.parse_events(body, query.odds_format), quota=quota)


BUILTIN: tuple[Any, ...] = (FootballDataSource(), OddsApiSource())
