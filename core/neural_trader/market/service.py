"""The market data service of a host: providers, the fallback chain, the cache and the local store.

:meth:`MarketData.for_host` gives each host one instance (made on first use, dropped with the host).
A request names a provider, or lets the chain pick: each provider of the symbol's class in order,
skipping those that are not configured (no API key) or cannot serve the request, falling through
on any provider error (an open breaker, a 5xx after retries, a rate limit, an unknown symbol), and
failing with every provider's reason when none answers. Answers are cached per request (see
:mod:`neural_trader.market.caching`) and always carry the name of the provider that served them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from neural_trader import bounds
from neural_trader.domain.market import BadRowPolicy, Bars, Quote, Timeframe, Trade, from_ns, to_ns
from neural_trader.errors import (
    NtCancelled,
    NtError,
    NtLimitExceeded,
    NtNotFound,
    NtUnavailable,
    NtUserError,
)
from neural_trader.market.caching import CachePolicy, MarketCache
from neural_trader.market.provider import (
    DataProvider,
    ProviderContext,
    ProviderHealth,
    ProviderSpec,
    bar_count,
    tail,
)
from neural_trader.market.routing import asset_class, chains_from_settings
from neural_trader.market.store import LocalStore, StoredSeries
from neural_trader.serde import clip

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.services.cache import Cache
    from neural_trader.services.http import HttpService
    from neural_trader.settings import Settings

__all__ = ["DEFAULT_LOOKBACK", "LOCAL_FRONTENDS", "Attempt", "MarketData", "synthetic_warning", "window_warnings"]

#: Frontends whose callers are the user of this machine: they may name any file they can read.
#: Every other caller (REST, MCP, anything unknown) may read files only in the csv folder.
LOCAL_FRONTENDS = frozenset({"python", "cli"})

T = TypeVar("T")
_DAY = dt.timedelta(days=1)

#: How far back ``bars`` looks when no start is given.
DEFAULT_LOOKBACK: dict[Timeframe, dt.timedelta] = {
    Timeframe.MIN_1: 2 * _DAY, Timeframe.MIN_5: 7 * _DAY, Timeframe.MIN_15: 14 * _DAY,
    Timeframe.MIN_30: 30 * _DAY, Timeframe.HOUR_1: 60 * _DAY, Timeframe.HOUR_4: 180 * _DAY,
    Timeframe.DAY_1: 365 * _DAY, Timeframe.WEEK_1: 5 * 365 * _DAY, Timeframe.MONTH_1: 10 * 365 * _DAY,
}

_instances: weakref.WeakKeyDictionary[Host, MarketData] = weakref.WeakKeyDictionary()
_instances_lock = threading.Lock()


@attrs.frozen(kw_only=True)
class Attempt:
    """One provider the chain tried or skipped, and why it did not answer."""

    provider: str
    reason: str
    error: str | None = None  # the error type, when it failed rather than being skipped


class MarketData:
    """Market data for one host. Thread-safe; usable from any event loop.

    :param specs: the registered providers, by name.
    :param http: the HTTP layer for network providers (built on first use when omitted).
    :param environ: where API keys are read from (default ``os.environ``).
    :param clock: epoch seconds (tests pass a fixed one).
    """

    def __init__(self, *, settings: Settings, specs: Mapping[str, ProviderSpec], cache: Cache,
                 http: HttpService | Callable[[], HttpService] | None = None,
                 store: LocalStore | None = None, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.specs = dict(specs)
        self.clock = clock
        self.store = store or LocalStore(Path(settings.data_dir) / "bars")
        values = settings.plugin("market", environ)
        self.chains = chains_from_settings(values)
        self.cache = MarketCache(cache, _policy(values))
        self._http_instance: HttpService | None = None
        self._http_factory: Callable[[], HttpService] = lambda: _default_http(settings)
        if hasattr(http, "client"):  # an HttpService (not imported here: it is heavy)
            self._http_instance = cast("HttpService", http)
        elif http is not None:
            self._http_factory = cast("Callable[[], HttpService]", http)
        self._http_lock = threading.Lock()
        self.context = ProviderContext(settings=settings, store=self.store, http=self._get_http,
                                       environ=environ, clock=clock)
        self._providers: dict[str, DataProvider] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_host(cls, host: Host, **overrides: Any) -> MarketData:
        """The host's instance, made on first use (``overrides`` apply only then: tests pass ``http``)."""
        with _instances_lock:
            found = _instances.get(host)
            if found is None:
                specs = {spec.name: spec for spec in host.registry("data_providers")}
                owner = weakref.ref(host)  # the instance must not keep its host alive (weak-keyed map)
                overrides.setdefault("http", lambda: owner().services.http)  # type: ignore[union-attr]
                cache = overrides.pop("cache", None)
                if cache is None:  # not `or`: an empty cache is falsy (it has a __len__)
                    cache = host.services.cache
                found = cls(settings=host.settings, specs=specs, cache=cache, **overrides)
                _instances[host] = found
            return found

    @classmethod
    def forget(cls, host: Host) -> None:
        """Drop the host's instance (its services are closing); the next use makes a fresh one."""
        with _instances_lock:
            _instances.pop(host, None)

    def _get_http(self) -> HttpService:
        with self._http_lock:
            if self._http_instance is None:
                self._http_instance = self._http_factory()
            return self._http_instance

    # -- providers ------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.specs)

    def spec(self, name: str) -> ProviderSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise NtNotFound(f"no data provider named {name!r}; available: {', '.join(self.names()) or 'none'}",
                             details={"available": self.names()}) from None

    def provider(self, name: str) -> DataProvider:
        spec = self.spec(name)
        with self._lock:
            found = self._providers.get(name)
            if found is None:
                found = spec.create(self.context)
                self._providers[name] = found
            return found

    def status(self, name: str) -> ProviderHealth:
        return self.provider(name).status()

    def chain(self, symbol: str) -> tuple[str, ...]:
        return self.chains.get(asset_class(symbol)) or self.chains["*"]

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    # -- bars ---------------------------------------------------------------------------------------------
    def window(self, timeframe: Timeframe, start: dt.datetime | None, end: dt.datetime | None,
               *, lookback: dt.timedelta | None = None) -> tuple[dt.datetime, dt.datetime]:
        """The concrete ``[start, end]`` of a request (defaults: now, and a lookback per timeframe)."""
        end = end or self.now()
        start = start or end - (lookback or DEFAULT_LOOKBACK[timeframe])
        if start > end:
            raise NtUserError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
        return start, end

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime | None = None,
                   end: dt.datetime | None = None, *, provider: str | None = None,
                   exclude: Sequence[str] = (), use_cache: bool = True, limit: int | None = None) -> Bars:
        """Bars starting in ``[start, end]`` from ``provider``, or from the first provider of the chain
        that answers; with ``limit``, only the last ``limit`` of them (and only those are fetched or
        generated).

        :raises NtLimitExceeded: the request would fetch more than ``max_bars`` (counted before any
            fetch: exactly where the provider can count, else in bar lengths of the window).
        """
        lo, hi = self.window(timeframe, start, end)
        if limit is not None:
            bounds.check(self.settings, "max_bars", limit, f"limit of {timeframe.value} bars of {symbol}")
        key = self.cache.key("bars", provider or "auto", symbol, timeframe.value,
                             "default" if start is None else to_ns(start), "now" if end is None else to_ns(hi),
                             "all" if limit is None else limit)
        if use_cache and self._cacheable(provider) and (hit := self.cache.get_bars(key)) is not None:
            return hit
        kind = f"{timeframe.value} bars of {symbol}"

        async def fetch(p: DataProvider) -> Bars:
            if limit is not None:
                cut = getattr(p, "bars_tail", None)
                found = await (cut(symbol, timeframe, lo, hi, limit) if cut is not None
                               else tail(p, symbol, timeframe, lo, hi, limit))
                return found.between(lo, hi).tail(limit)
            n, exact = bar_count(p, symbol, timeframe, lo, hi)
            how = "" if exact else " (counted in bar lengths: the source cannot count before fetching)"
            bounds.check(self.settings, "max_bars", n,
                         f"{kind} from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} from {p.name}{how}")
            return (await p.bars(symbol, timeframe, lo, hi)).between(lo, hi)

        result = await self._first(provider, symbol, "bars", kind, fetch, timeframe=timeframe, exclude=exclude)
        if self._cacheable(result.provider):
            self.cache.put_bars(key, result, self.cache.policy.bars_ttl(timeframe, to_ns(hi), to_ns(self.now())))
        return result

    def bar_count(self, provider: str, symbol: str, timeframe: Timeframe, start: dt.datetime,
                  end: dt.datetime) -> int | None:
        """Bars ``provider`` has in ``[start, end]`` if it can count them without fetching, else None."""
        if provider not in self.specs:
            return None
        counter = getattr(self.provider(provider), "bar_count", None)
        return None if counter is None else counter(symbol, timeframe, start, end)

    def file_bars(self, path: str | Path, symbol: str | None, timeframe: Timeframe, start: dt.datetime | None = None,
                  end: dt.datetime | None = None, *, frontend: str | None, limit: int | None = None) -> Bars:
        """Bars of a CSV or Parquet file named by the caller (the ``file`` parameter of the market
        and backtest operations), with the csv provider's options (tz, bad_rows, adjusted).

        Callers on :data:`LOCAL_FRONTENDS` (the CLI, Python) may name any file the user can read;
        every other caller (REST, MCP) only a file in the csv folder.
        """
        from neural_trader.market.files import read_bars, symbol_from_filename

        values = self.settings.plugin("csv", self.context.environ)
        folder = Path(values.get("dir") or Path(self.settings.data_dir) / "csv").expanduser().resolve()
        local = frontend in LOCAL_FRONTENDS
        # Over the network a message names the file as the caller gave it, never the server's folders.
        shown = clip(str(path), 120)
        try:
            target = Path(path).expanduser()
            if not local:
                target = (folder / target).resolve()  # an absolute path stays itself
                if not target.is_relative_to(folder):
                    raise NtUserError(f"over {frontend or 'this frontend'} a file must lie in the csv folder "
                                      "(NT_CSV_DIR); give its name there, or use the CLI for files elsewhere")
            found_file = target.is_file()
        except OSError as exc:  # a name too long, a loop of links ...
            raise NtUserError(f"cannot use file {shown}: {exc.strerror or exc}") from None
        if not found_file:
            raise NtNotFound(f"no such file: {clip(str(target), 300) if local else shown}")
        if start is not None and end is not None:
            self.window(timeframe, start, end)  # start after end is an error, as everywhere
        try:
            bad_rows = BadRowPolicy(str(values.get("bad_rows", "reject")).lower())
        except ValueError:
            raise NtUserError(f"csv setting bad_rows must be reject or drop, got {values.get('bad_rows')!r}") from None
        adjusted = str(values.get("adjusted", "false")).strip().lower() in ("1", "true", "yes", "on")
        found = read_bars(target, symbol=symbol or symbol_from_filename(target), tz=values.get("tz") or None,
                          bad_rows=bad_rows, adjusted=adjusted)
        if found.timeframe is not timeframe:
            raise NtUserError(f"{target.name} holds {found.timeframe.value} bars, not {timeframe.value}; "
                              f"ask for timeframe {found.timeframe.value}")
        found = found.between(start, end)
        if limit is not None:
            return found.tail(limit)
        # The file is the user's (or, over the network, the operator's): the parse is its size; what
        # is bounded is the work on the bars.
        bounds.check(self.settings, "max_bars", len(found), f"{timeframe.value} bars of {target.name}")
        return found

    async def quote(self, symbol: str, *, provider: str | None = None, as_of: dt.datetime | None = None) -> Quote:
        return await self._point("quotes", Quote, symbol, provider, as_of)

    async def trade(self, symbol: str, *, provider: str | None = None, as_of: dt.datetime | None = None) -> Trade:
        return await self._point("trades", Trade, symbol, provider, as_of)

    async def _point(self, kind: str, cls: type[Any], symbol: str, provider: str | None,
                     as_of: dt.datetime | None) -> Any:
        key = self.cache.key(kind, provider or "auto", symbol, "now" if as_of is None else to_ns(as_of))
        if self._cacheable(provider) and (hit := self.cache.get_value(key, cls)) is not None:
            return hit

        async def fetch(p: DataProvider) -> Any:
            method = p.quote if kind == "quotes" else p.trade
            return await method(symbol, as_of=as_of)

        result = await self._first(provider, symbol, kind, f"a {kind[:-1]} of {symbol}", fetch,
                                   point_in_time=as_of is not None)
        if self._cacheable(result.provider):
            self.cache.put_value(key, result, self.cache.policy.point_ttl(as_of is not None))
        return result

    def _cacheable(self, provider: str | None) -> bool:
        """Whether answers of ``provider`` (``None``: the chain) go through the cache."""
        spec = self.specs.get(provider) if provider is not None else None
        return spec is None or spec.capabilities.cacheable

    async def _first(self, provider: str | None, symbol: str, kind: str, what: str,
                     fetch: Callable[[DataProvider], Any], *, timeframe: Timeframe | None = None,
                     point_in_time: bool = False, exclude: Sequence[str] = ()) -> Any:
        if provider is not None:
            spec = self.spec(provider)
            why = spec.capabilities.serves(kind, timeframe=timeframe, asset_class=asset_class(symbol))
            if why is not None:
                raise NtUserError(f"provider {provider} {why}")
            if point_in_time and not spec.capabilities.point_in_time:
                raise NtUserError(f"provider {provider} answers only the latest {kind[:-1]}; as_of is "
                                  f"supported by {', '.join(self._point_in_time()) or 'no provider'}")
            p = self.provider(provider)
            health = p.status()
            if not health.configured:
                raise NtUnavailable(f"provider {provider} is not configured: {health.reason}")
            return await fetch(p)
        attempts: list[Attempt] = []
        cls = asset_class(symbol)
        for name in self.chain(symbol):
            if name in exclude:
                continue
            if name not in self.specs:
                attempts.append(Attempt(provider=name, reason="not installed"))
                continue
            spec = self.specs[name]
            why = spec.capabilities.serves(kind, timeframe=timeframe, asset_class=cls)
            failed = [a.provider for a in attempts if a.error is not None and a.provider in self.specs
                      and self.specs[a.provider].capabilities.network]
            if why is None and spec.capabilities.synthetic and failed:
                # Generated numbers stand in only where no real source is set up, never for one that failed.
                why = f"stands in only when no network provider is configured, and {', '.join(failed)} failed"
            if why is None and point_in_time and not spec.capabilities.point_in_time:
                why = "answers only the latest value (no as_of)"
            if why is not None:
                attempts.append(Attempt(provider=name, reason=why))
                continue
            try:
                p = self.provider(name)
                health = p.status()
                if not health.configured:
                    attempts.append(Attempt(provider=name, reason=f"not configured: {health.reason}"))
                    continue
                return await fetch(p)
            except (NtCancelled, NtLimitExceeded):
                raise  # a bound is the host's, not the provider's: the next provider would hit it too
            except NtError as exc:
                attempts.append(Attempt(provider=name, reason=exc.message, error=exc.type))
        raise _exhausted(what, cls, self.chain(symbol), attempts)

    def _point_in_time(self) -> list[str]:
        return [n for n, s in sorted(self.specs.items()) if s.capabilities.point_in_time]

    # -- the local store ----------------------------------------------------------------------------------
    async def download(self, symbol: str, timeframe: Timeframe, start: dt.datetime | None = None,
                       end: dt.datetime | None = None, *, provider: str | None = None) -> tuple[Bars, StoredSeries]:
        """Fetch bars (never from the store itself) and save them in the local store."""
        ((_, outcome),) = await self.download_many([symbol], timeframe, start, end, provider=provider)
        if isinstance(outcome, NtError):
            raise outcome
        return outcome

    async def download_many(
        self, symbols: Sequence[str], timeframe: Timeframe, start: dt.datetime | None = None,
        end: dt.datetime | None = None, *, provider: str | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> list[tuple[str, tuple[Bars, StoredSeries] | NtError]]:
        """Download each symbol (one request for all where the named provider fetches several
        symbols at once); a symbol that fails gets its error, the others are still saved."""
        if provider == "local":
            raise NtUserError("download copies bars into the local store; name another provider")
        bounds.check(self.settings, "max_symbols", len(symbols), "symbols to download")
        lookback = DEFAULT_LOOKBACK[timeframe] * (5 if not timeframe.intraday else 15)
        lo, hi = self.window(timeframe, start, end, lookback=lookback)
        fetched: dict[str, Bars] = {}
        if provider is not None and len(symbols) > 1 and self.spec(provider).capabilities.multi_symbol:
            p = self.provider(provider)
            if p.status().configured and self.spec(provider).capabilities.serves("bars", timeframe=timeframe) is None:
                fetched = await p.bars_many(symbols, timeframe, lo, hi)
        out: list[tuple[str, tuple[Bars, StoredSeries] | NtError]] = []
        for i, symbol in enumerate(symbols):
            if progress is not None:
                progress(i, len(symbols), f"downloading {symbol}")
            try:
                bars = fetched[symbol].between(lo, hi) if symbol in fetched else await self.bars(
                    symbol, timeframe, lo, hi, provider=provider, exclude=("local",), use_cache=False)
                if not len(bars):
                    raise NtNotFound(f"provider {bars.provider} has no {timeframe.value} bars of {symbol} between "
                                     f"{lo.date()} and {hi.date()}; nothing was saved")
                out.append((symbol, (bars, self.store.save(bars))))
            except NtCancelled:
                raise
            except NtError as exc:
                out.append((symbol, exc))
        return out


def synthetic_warning(symbols: Sequence[str], *, from_chain: bool = False) -> str:
    """The warning every answer built on generated bars carries."""
    why = ("; no configured provider of the fallback chain served them: configure one (market.providers) "
           "or set NT_MARKET_CHAIN") if from_chain else ""
    return f"synthetic data: the bars of {', '.join(symbols)} are generated, not observed prices{why}"


def window_warnings(bars: Bars, start: dt.datetime, end: dt.datetime, *, start_given: bool = True,
                    truncated: bool = False, named_provider: bool = True, synthetic: bool = True) -> list[str]:
    """What a caller should know about bars served for ``[start, end]``: that they are synthetic
    (unless ``synthetic=False``: the caller says it once for all its series), and that the data
    covers only part of the window (beyond the gaps markets have: more than four days or two bars at
    either end). ``truncated``: a limit cut the start on purpose."""
    out: list[str] = []
    if bars.synthetic and synthetic:
        out.append(synthetic_warning([bars.symbol], from_chain=not named_provider))
    what = "the window asked" if start_given else "the default window"
    if not len(bars):
        out.append(f"no {bars.timeframe.value} bars of {bars.symbol} in {what} {start:%Y-%m-%d %H:%M} to "
                   f"{end:%Y-%m-%d %H:%M}")
        return out
    slack = max(dt.timedelta(days=4), dt.timedelta(seconds=2 * bars.timeframe.seconds))
    first, last = from_ns(int(bars.ts[0])), from_ns(int(bars.ts[-1]))
    if not truncated and first - start > slack:
        out.append(f"the data starts later than {what}: first bar {first:%Y-%m-%d %H:%M}, asked from "
                   f"{start:%Y-%m-%d %H:%M}")
    if end - last > slack + dt.timedelta(seconds=bars.timeframe.seconds):
        out.append(f"the data ends earlier than {what}: last bar {last:%Y-%m-%d %H:%M}, asked to "
                   f"{end:%Y-%m-%d %H:%M}")
    return out


def _default_http(settings: Settings) -> HttpService:
    from neural_trader.services.http import HttpService

    return HttpService(settings)


def _exhausted(what: str, cls: str, chain: Sequence[str], attempts: list[Attempt]) -> NtError:
    lines = "; ".join(f"{a.provider}: {a.reason}" for a in attempts) or "the chain is empty"
    details = {"asset_class": cls, "chain": list(chain), "attempts": [attrs.asdict(a) for a in attempts]}
    tried = [a for a in attempts if a.error is not None]
    if tried and all(a.error == "not_found" for a in tried):
        return NtNotFound(f"no provider has {what} ({lines})", details=details)
    hint = ("; configure a provider (e.g. NT_ALPACA_API_KEY/NT_ALPACA_API_SECRET), run market.download "
            "to fill the local store, or put 'synthetic' in the chain (NT_MARKET_CHAIN)") if not tried else ""
    return NtUnavailable(f"no provider could serve {what} ({lines}){hint}", details=details)


def _policy(values: Mapping[str, Any]) -> CachePolicy:
    def number(key: str, default: float) -> float:
        raw = values.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise NtUserError(f"market setting {key} must be a number of seconds, got {raw!r}") from None
        if not value > 0:
            raise NtUserError(f"market setting {key} must be > 0, got {raw!r}")
        return value

    enabled = str(values.get("cache", "true")).strip().lower() not in ("0", "false", "no", "off")
    return CachePolicy(quote_ttl=number("quote_ttl", 5.0), history_ttl=number("history_ttl", 30 * 86_400.0),
                       settle=number("settle", 3600.0), enabled=enabled)
