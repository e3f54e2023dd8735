"""The data-provider contract: what a plugin registers through ``nt_register_data_providers``.

A plugin registers a :class:`ProviderSpec`: a name, what it can do (:class:`Capabilities`) and a
factory. The host's :class:`~neural_trader.market.service.MarketData` calls the factory once, with a
:class:`ProviderContext` (settings, the HTTP layer, the local store, the environment, a clock), and
uses the :class:`DataProvider` it returns for every request::

    @hookimpl
    def nt_register_data_providers(register):
        register(ProviderSpec(name="mydata", summary="My data vendor",
                              capabilities=Capabilities(quotes=True, network=True),
                              create=MyProvider))

Subclass :class:`BaseProvider` to get defaults for what a source does not serve. Every answer
carries the provider's name (``Bars.provider``, ``Quote.provider``) so callers know who served it.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from neural_trader.domain.market import Bars, Quote, Timeframe, Trade
from neural_trader.errors import NtUserError

if TYPE_CHECKING:
    from neural_trader.market.store import LocalStore
    from neural_trader.services.http import HttpService, ProviderStatus
    from neural_trader.settings import Settings

__all__ = [
    "ANY_ASSET_CLASS",
    "BaseProvider",
    "Capabilities",
    "DataProvider",
    "ProviderContext",
    "ProviderHealth",
    "ProviderSpec",
    "bar_count",
    "nominal_bars",
    "tail",
]

#: In :attr:`Capabilities.asset_classes`: serves whatever symbols it has (files, the store, synthetic).
ANY_ASSET_CLASS = "any"


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a provider serves. The fallback chain skips a provider that cannot serve a request."""

    bars: bool = True
    quotes: bool = False
    trades: bool = False
    timeframes: frozenset[Timeframe] = attrs.field(default=frozenset(Timeframe), converter=frozenset)
    #: ``equity``, ``crypto`` ... or :data:`ANY_ASSET_CLASS`.
    asset_classes: frozenset[str] = attrs.field(default=frozenset({ANY_ASSET_CLASS}), converter=frozenset)
    #: Reaches the internet (rate limits, keys, breakers apply).
    network: bool = False
    #: Answers quotes/trades "as of" a past moment.
    point_in_time: bool = False
    #: Fetches several symbols in one request.
    multi_symbol: bool = False
    #: Generates numbers rather than observing them.
    synthetic: bool = False
    #: Answers may be kept in the host cache. ``False`` for sources that are already local and can
    #: change under us (the store after a download, an edited file): they are read fresh each time.
    cacheable: bool = True

    def serves(self, kind: str, *, timeframe: Timeframe | None = None, asset_class: str | None = None) -> str | None:
        """``None`` if the provider can serve ``kind`` (bars/quotes/trades), else why not."""
        if not getattr(self, kind):
            return f"does not serve {kind}"
        if timeframe is not None and timeframe not in self.timeframes:
            return f"has no {timeframe.value} bars"
        if asset_class is not None and ANY_ASSET_CLASS not in self.asset_classes \
                and asset_class not in self.asset_classes:
            return f"does not cover {asset_class} symbols"
        return None


@attrs.frozen(kw_only=True)
class ProviderHealth:
    """Whether a provider can be used now, and its rate-limit and breaker state."""

    configured: bool
    #: Why it is not configured or not usable (missing key, missing package ...).
    reason: str | None = None
    #: The HTTP layer's view (rate limit, breaker, last error); ``None`` for local providers.
    http: ProviderStatus | None = None


class ProviderContext:
    """What a provider factory gets from the host. ``http`` is built on first use."""

    def __init__(self, *, settings: Settings, store: LocalStore, http: Callable[[], HttpService],
                 environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self._http = http
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.clock = clock

    @property
    def http(self) -> HttpService:
        return self._http()

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """``[plugins.<name>]`` overlaid by ``NT_<NAME>_<KEY>`` from this context's environment."""
        return self.settings.plugin(name, self.environ)

    def first_env(self, *names: str) -> str | None:
        """The first of ``names`` set (non-empty) in the environment."""
        for name in names:
            value = self.environ.get(name)
            if value:
                return value
        return None


@runtime_checkable
class DataProvider(Protocol):
    """A source of bars, quotes and trades. Times are aware UTC datetimes; ``end`` is inclusive."""

    name: str
    capabilities: Capabilities

    def status(self) -> ProviderHealth:
        """Configured? Rate limit, breaker and last error. Must not touch the network."""
        ...

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        """Bars of ``symbol`` starting in ``[start, end]``, oldest first (empty when there are none)."""
        ...

    async def bars_many(self, symbols: Sequence[str], timeframe: Timeframe, start: dt.datetime,
                        end: dt.datetime) -> dict[str, Bars]:
        """Bars of several symbols; one request where the source allows it."""
        ...

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        """The latest quote (or the one in force at ``as_of`` where :attr:`Capabilities.point_in_time`)."""
        ...

    async def trade(self, symbol: str, *, as_of: dt.datetime | None = None) -> Trade:
        """The latest trade (or the last one at or before ``as_of``)."""
        ...


class BaseProvider:
    """Defaults for a :class:`DataProvider`: refuse what the capabilities do not list."""

    name: str = ""
    capabilities: Capabilities = Capabilities()

    def status(self) -> ProviderHealth:
        return ProviderHealth(configured=True)

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        raise NtUserError(f"provider {self.name} does not serve bars")

    async def bars_many(self, symbols: Sequence[str], timeframe: Timeframe, start: dt.datetime,
                        end: dt.datetime) -> dict[str, Bars]:
        return {s: await self.bars(s, timeframe, start, end) for s in symbols}

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        raise NtUserError(f"provider {self.name} does not serve quotes")

    async def trade(self, symbol: str, *, as_of: dt.datetime | None = None) -> Trade:
        raise NtUserError(f"provider {self.name} does not serve trades")

    def bar_count(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> int | None:
        """How many bars :meth:`bars` would return, if the source can tell without fetching them;
        ``None`` when it cannot (the host then bounds the request by :func:`nominal_bars`)."""
        return None

    async def bars_tail(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime,
                        limit: int) -> Bars:
        """The last ``limit`` bars of ``[start, end]``; override where the source can cut exactly."""
        return await tail(self, symbol, timeframe, start, end, limit)

    def _no_as_of(self, as_of: dt.datetime | None) -> None:
        if as_of is not None:
            raise NtUserError(f"provider {self.name} answers only the latest quote or trade; as_of is "
                              "supported by synthetic and local")


def nominal_bars(timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> int:
    """Bar starts that fit in ``[start, end]`` at one bar length apart: an upper bound of what any
    source returns (markets close; the calendar does not)."""
    span = (end - start).total_seconds()
    return 0 if span < 0 else int(span // timeframe.seconds) + 1


def bar_count(provider: DataProvider, symbol: str, timeframe: Timeframe, start: dt.datetime,
              end: dt.datetime) -> tuple[int, bool]:
    """(bars, exact): the provider's own count where it has one, else :func:`nominal_bars`."""
    counter = getattr(provider, "bar_count", None)
    found = counter(symbol, timeframe, start, end) if counter is not None else None
    if found is not None:
        return int(found), True
    return nominal_bars(timeframe, start, end), False


async def tail(provider: DataProvider, symbol: str, timeframe: Timeframe, start: dt.datetime,
               end: dt.datetime, limit: int) -> Bars:
    """The last ``limit`` bars of ``[start, end]`` from any provider, fetching a window that ends at
    ``end`` and doubles until it holds ``limit`` bars or reaches ``start``. Each fetch is at most
    twice the bar lengths of the one before, so the work follows ``limit``, not the window."""
    span = dt.timedelta(seconds=timeframe.seconds * limit * 2)
    while True:
        lo = start if span >= end - start else end - span
        found = await provider.bars(symbol, timeframe, lo, end)
        if len(found) >= limit or lo <= start:
            return found.tail(limit)
        span *= 2


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """What ``nt_register_data_providers`` registers: a named factory and what it can do."""

    name: str
    summary: str
    capabilities: Capabilities
    create: Callable[[ProviderContext], DataProvider] = attrs.field(repr=False)
    #: Environment variables or settings that configure it, for messages and docs.
    configure_hint: str | None = None
