"""``market.*`` operations and the first-party data providers.

Operations: ``market.quote``, ``market.trade``, ``market.bars`` (optionally with a PNG chart),
``market.download`` (into the local bar store), ``market.providers`` (configured? rate limit,
breaker, last error) and ``market.symbols`` (what the local store holds). Requests without a
``provider`` go through the fallback chain (:mod:`neural_trader.market.routing`); every answer names
the provider that served it and says whether the numbers are synthetic.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

import attrs

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN, Quote, Timeframe, Trade
from neural_trader.domain.media import Image
from neural_trader.errors import NtError, NtUserError
from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Context, NoParams, Operation
from neural_trader.schema import param
from neural_trader_plugins.market_providers import SPECS

if TYPE_CHECKING:
    from neural_trader.domain.market import Bars
    from neural_trader.market.service import MarketData


_SYMBOL = "the instrument, e.g. AAPL (crypto as BTC/USD); case does not matter"
_PROVIDER = ("a provider by name (market.providers lists them); default: the fallback chain of the symbol's "
             "class, the same default as backtest.* (synthetic data ends it, and says so)")
_FILE = ("a CSV or Parquet file of bars to read instead of a provider (CLI: --file); over REST and MCP it must "
         "lie in the csv folder (NT_CSV_DIR)")
_EXAMPLE_AT = "2024-01-02T15:30:00Z"


def _market(ctx: Context) -> MarketData:
    from neural_trader.market.service import MarketData

    return MarketData.for_host(ctx.host)


def _upper(symbol: str) -> str:
    return symbol.strip().upper()


# -- market.quote / market.trade ------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class QuoteParams:
    """Parameters of ``market.quote`` and ``market.trade``."""

    symbol: str = param(description=_SYMBOL, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    provider: str | None = param(default=None, description=_PROVIDER, pattern=PROVIDER_PATTERN)
    as_of: dt.datetime | None = param(
        default=None, description="the moment to answer for (synthetic and local only); default now")


@attrs.frozen(kw_only=True)
class QuoteResult:
    """A quote, with the provider that served it."""

    symbol: str = param(description="the instrument")
    time: dt.datetime = param(description="when the source observed it (UTC)")
    bid: float | None = param(description="best bid; null when the source gives none")
    ask: float | None = param(description="best ask; null when the source gives none")
    bid_size: float | None = param(description="size at the bid (the source's unit)")
    ask_size: float | None = param(description="size at the ask (the source's unit)")
    last: float | None = param(description="last trade price, when the source gives it")
    mid: float | None = param(description="(bid + ask) / 2 when both are known")
    provider: str = param(description="which provider answered")
    synthetic: bool = param(description="true when the numbers were generated, not observed")

    @classmethod
    def of(cls, q: Quote) -> QuoteResult:
        return cls(symbol=q.symbol, time=q.time, bid=q.bid, ask=q.ask, bid_size=q.bid_size,
                   ask_size=q.ask_size, last=q.last, mid=q.mid, provider=q.provider, synthetic=q.synthetic)


async def quote(params: QuoteParams, ctx: Context) -> QuoteResult:
    answer = await _market(ctx).quote(_upper(params.symbol), provider=params.provider, as_of=params.as_of)
    return QuoteResult.of(answer)


async def trade(params: QuoteParams, ctx: Context) -> Trade:
    return await _market(ctx).trade(_upper(params.symbol), provider=params.provider, as_of=params.as_of)


# -- market.bars ------------------------------------------------------------------------------------------
class ChartKind(enum.StrEnum):
    NONE = "none"
    CANDLES = "candles"
    LINE = "line"


@attrs.frozen(kw_only=True)
class BarsParams:
    """Parameters of ``market.bars``."""

    symbol: str | None = param(default=None, description=_SYMBOL + "; required unless file is given (then "
                                                             "default: from the file name)",
                               pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    start: dt.datetime | None = param(
        default=None, description="first bar start (UTC); default a lookback that fits the timeframe "
                                  "(1Day: one year; with file: the whole file)")
    end: dt.datetime | None = param(default=None, description="last bar start, inclusive (UTC); default now")
    provider: str | None = param(default=None, description=_PROVIDER, pattern=PROVIDER_PATTERN)
    file: str | None = param(default=None, min_len=1, max_len=4096, description=_FILE)
    limit: int = param(default=5000, ge=1,
                       description="at most this many bars, the latest ones (only those are fetched or "
                                   "generated); at most the host's max_bars (NT_MAX_BARS)")
    chart: ChartKind = param(default=ChartKind.NONE,
                             description="add a PNG chart: candles or a close line (needs matplotlib)")


@attrs.frozen(kw_only=True)
class BarsResult:
    """OHLCV bars as columns, with the provider that served them."""

    symbol: str
    timeframe: Timeframe
    provider: str = param(description="which provider answered")
    synthetic: bool = param(description="true when the numbers were generated, not observed")
    count: int = param(description="bars in this answer")
    total: int | None = param(description="bars the provider has in the window (more than count when limit "
                                          "cut); null when it cannot count them without fetching them all")
    truncated: bool = param(description="true when limit left older bars out")
    first_bar: dt.datetime | None = param(description="start of the first bar returned (null: none)")
    last_bar: dt.datetime | None = param(description="start of the last bar returned (null: none)")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")
    time: list[dt.datetime] = param(description="bar start times (UTC), oldest first")
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float | None] = param(description="null where the source has no volume")
    # The explicit title lets the CLI see an optional picture (it looks for title "Image" on the property).
    chart: Image | None = attrs.field(default=None, metadata={
        "title": "Image", "description": "PNG chart when asked for (CLI: --plot FILE)"})


async def bars(params: BarsParams, ctx: Context) -> BarsResult:
    import anyio.to_thread

    from neural_trader.market.service import window_warnings

    market = _market(ctx)
    if params.file is None and params.symbol is None:
        raise NtUserError("name a symbol (or a file of bars)")
    symbol = None if params.symbol is None else _upper(params.symbol)
    lo, hi = market.window(params.timeframe, params.start, params.end)
    if params.file is not None:
        if params.provider is not None:
            raise NtUserError("give a provider or a file, not both")
        found = await anyio.to_thread.run_sync(lambda: market.file_bars(
            params.file, symbol, params.timeframe, params.start, params.end, frontend=ctx.frontend))  # type: ignore[arg-type]
        shown, total = found.tail(params.limit), len(found)
        lo = params.start or (found.first or lo)
        hi = params.end or (found.last or hi)
    else:
        assert symbol is not None
        shown = await market.bars(symbol, params.timeframe, params.start, params.end, provider=params.provider,
                                  limit=params.limit)
        total = market.bar_count(shown.provider, symbol, params.timeframe, lo, hi)
    truncated = total > len(shown) if total is not None else len(shown) >= params.limit
    warnings = window_warnings(shown, lo, hi, start_given=params.start is not None or params.file is not None,
                               truncated=truncated, named_provider=params.provider is not None or params.file is not None)
    chart = None
    if params.chart is not ChartKind.NONE:
        from neural_trader.market.chart import render_png

        png = await anyio.to_thread.run_sync(render_png, shown, params.chart.value)
        chart = Image.png(png)
    return _bars_result(shown, total=total, truncated=truncated, warnings=warnings, chart=chart)


def _bars_result(b: Bars, *, total: int | None, truncated: bool, warnings: list[str],
                 chart: Image | None) -> BarsResult:
    import numpy as np

    volume = [None if v != v else v for v in b.volume.tolist()]  # NaN is not JSON
    times = (b.ts // 1000).astype("datetime64[us]").astype(dt.datetime)
    return BarsResult(
        symbol=b.symbol, timeframe=b.timeframe, provider=b.provider, synthetic=b.synthetic, count=len(b),
        total=total, truncated=truncated, first_bar=b.first, last_bar=b.last, warnings=warnings,
        time=[t.replace(tzinfo=dt.UTC) for t in np.asarray(times)],
        open=b.open.tolist(), high=b.high.tolist(), low=b.low.tolist(), close=b.close.tolist(), volume=volume,
        chart=chart)


# -- market.download --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class DownloadParams:
    """Parameters of ``market.download``."""

    symbols: list[str] = param(description="instruments to download, e.g. [\"AAPL\", \"MSFT\"]",
                               min_len=1, max_len=100, item_pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    start: dt.datetime | None = param(default=None, description="first bar (UTC); default five lookbacks "
                                                                "(1Day: five years)")
    end: dt.datetime | None = param(default=None, description="last bar, inclusive (UTC); default now")
    provider: str | None = param(default=None, description=_PROVIDER + " (the store itself is never a source)",
                                 pattern=PROVIDER_PATTERN)



@attrs.frozen(kw_only=True)
class SavedSeries:
    """One symbol saved in the local store."""

    symbol: str
    timeframe: Timeframe
    provider: str = param(description="which provider served the bars")
    synthetic: bool = param(description="true when the numbers were generated, not observed")
    fetched: int = param(description="bars fetched now")
    stored: int = param(description="bars the store now holds for this symbol and timeframe")
    first: dt.datetime | None = param(description="first stored bar")
    last: dt.datetime | None = param(description="last stored bar")


@attrs.frozen(kw_only=True)
class FailedSymbol:
    symbol: str
    error: str = param(description="the error type")
    message: str


@attrs.frozen(kw_only=True)
class DownloadResult:
    """What was saved, and what failed."""

    saved: list[SavedSeries]
    failed: list[FailedSymbol] = param(description="symbols no provider could serve, and why")


async def download(params: DownloadParams, ctx: Context) -> DownloadResult:
    symbols = list(dict.fromkeys(_upper(s) for s in params.symbols))
    outcomes = await _market(ctx).download_many(symbols, params.timeframe, params.start, params.end,
                                                provider=params.provider, progress=ctx.progress)
    saved, failed, errors = [], [], []
    for symbol, outcome in outcomes:
        if isinstance(outcome, NtError):
            errors.append(outcome)
            failed.append(FailedSymbol(symbol=symbol, error=outcome.type, message=outcome.message))
            continue
        got, info = outcome
        saved.append(SavedSeries(symbol=symbol, timeframe=params.timeframe, provider=got.provider,
                                 synthetic=got.synthetic, fetched=len(got), stored=info.rows, first=info.first,
                                 last=info.last))
    ctx.progress(len(symbols), len(symbols), "done")
    if not saved:
        raise errors[0]
    return DownloadResult(saved=saved, failed=failed)


# -- market.providers -----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class CapabilityInfo:
    bars: bool
    quotes: bool
    trades: bool
    timeframes: list[Timeframe]
    asset_classes: list[str] = param(description="equity, crypto, fx ... or 'any'")
    network: bool = param(description="reaches the internet")
    point_in_time: bool = param(description="answers quotes as of a past moment")
    multi_symbol: bool
    synthetic: bool = param(description="generates numbers rather than observing them")
    cacheable: bool = param(description="answers go through the host cache (not for local sources)")


@attrs.frozen(kw_only=True)
class RateLimitInfo:
    limit: int = param(description="requests per period")
    per_seconds: float = param(description="the period")
    remaining: int = param(description="tokens left in the bucket now")
    backend: str = param(description="memory or redis")


@attrs.frozen(kw_only=True)
class BreakerInfo:
    state: str = param(description="closed, open or half_open")
    failures: int = param(description="consecutive failures counted")
    threshold: int = param(description="failures that open it")
    next_probe_in: float | None = param(description="seconds until an open breaker lets a probe through")


@attrs.frozen(kw_only=True)
class ErrorInfo:
    at: dt.datetime
    type: str
    message: str
    status: int | None = param(description="HTTP status, when there was one")


@attrs.frozen(kw_only=True)
class ProviderInfo:
    """One data provider and its state."""

    name: str
    summary: str
    plugin: str = param(description="the plugin that registered it")
    configured: bool = param(description="usable now (keys present, folder exists ...)")
    reason: str | None = param(description="why not, and how to fix it")
    capabilities: CapabilityInfo
    rate_limit: RateLimitInfo | None = param(description="the provider's token bucket (network providers)")
    breaker: BreakerInfo | None = param(description="the provider's circuit breaker (network providers)")
    last_error: ErrorInfo | None = param(description="the most recent error it gave")
    requests: int | None = param(description="requests sent since the host started (network providers)")


@attrs.frozen(kw_only=True)
class ProvidersResult:
    providers: list[ProviderInfo]
    chains: dict[str, list[str]] = param(description="fallback chain per asset class ('*': every other class)")


def providers(params: NoParams, ctx: Context) -> ProvidersResult:
    market = _market(ctx)
    registry = ctx.host.registry("data_providers")
    out = []
    for name in market.names():
        spec = market.spec(name)
        caps = spec.capabilities
        try:
            health = market.status(name)
            configured, reason, http = health.configured, health.reason, health.http
        except NtError as exc:  # a factory refusing its settings (a bad NT_ALPACA_FEED ...)
            configured, reason, http = False, exc.message, None
        rate = breaker = last = None
        if http is not None:
            if http.rate_limit is not None:
                r = http.rate_limit
                rate = RateLimitInfo(limit=r.limit, per_seconds=r.per, remaining=r.remaining, backend=r.backend)
            b = http.breaker
            breaker = BreakerInfo(state=b.state, failures=b.failures, threshold=b.threshold,
                                  next_probe_in=b.next_probe_in)
            if http.last_error is not None:
                e = http.last_error
                last = ErrorInfo(at=e.at, type=e.type, message=e.message, status=e.status)
        order = {tf: i for i, tf in enumerate(Timeframe)}
        out.append(ProviderInfo(
            name=name, summary=spec.summary, plugin=registry.owner(name) if name in registry else "",
            configured=configured, reason=reason,
            capabilities=CapabilityInfo(
                bars=caps.bars, quotes=caps.quotes, trades=caps.trades,
                timeframes=sorted(caps.timeframes, key=order.__getitem__),
                asset_classes=sorted(caps.asset_classes), network=caps.network,
                point_in_time=caps.point_in_time, multi_symbol=caps.multi_symbol, synthetic=caps.synthetic,
                cacheable=caps.cacheable),
            rate_limit=rate, breaker=breaker, last_error=last, requests=None if http is None else http.requests))
    return ProvidersResult(providers=out, chains={k: list(v) for k, v in sorted(market.chains.items())})


# -- market.symbols -------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SymbolsParams:
    """Parameters of ``market.symbols``."""

    symbol: str | None = param(default=None, description="only this instrument", pattern=SYMBOL_PATTERN,
                               pattern_hint=SYMBOL_HINT)


@attrs.frozen(kw_only=True)
class StoredInfo:
    symbol: str
    timeframe: Timeframe
    rows: int
    first: dt.datetime | None
    last: dt.datetime | None
    sources: list[str] = param(description="providers the bars came from, latest last")
    synthetic: bool = param(description="true when the numbers were generated, not observed")
    saved_at: dt.datetime


@attrs.frozen(kw_only=True)
class SymbolsResult:
    """What the local bar store holds."""

    series: list[StoredInfo]
    folder: str = param(description="where the store lives")


def symbols(params: SymbolsParams, ctx: Context) -> SymbolsResult:
    market = _market(ctx)
    wanted = _upper(params.symbol) if params.symbol else None
    series = [StoredInfo(symbol=s.symbol, timeframe=s.timeframe, rows=s.rows, first=s.first, last=s.last,
                         sources=list(s.sources), synthetic=s.synthetic, saved_at=s.saved_at)
              for s in market.store.series() if wanted is None or s.symbol == wanted]
    return SymbolsResult(series=series, folder=str(market.store.root))


# -- registration -----------------------------------------------------------------------------------------
_BARS_EXAMPLE = {"symbol": "AAPL", "timeframe": "1Day", "provider": "synthetic",
                 "start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"}


@hookimpl
def nt_shutdown(host):  # type: ignore[no-untyped-def]
    from neural_trader.market.service import MarketData

    MarketData.forget(host)


@hookimpl
def nt_register_data_providers(register):  # type: ignore[no-untyped-def]
    for spec in SPECS:
        register(spec)


@hookimpl
def nt_register_operations(register):  # type: ignore[no-untyped-def]
    register(Operation(
        name="market.quote", summary="The latest quote of a symbol (bid, ask, last), from a provider or the chain.",
        description="Without `provider` the symbol's fallback chain answers (market.providers shows it). "
                    "`as_of` asks synthetic or local data for a past moment. Quotes are cached for seconds.",
        params=QuoteParams, result=QuoteResult, handler=quote, open_world=True,
        examples=({"symbol": "AAPL", "provider": "synthetic", "as_of": _EXAMPLE_AT},
                  {"symbol": "AAPL"}),
    ))
    register(Operation(
        name="market.trade", summary="The last trade of a symbol (price, size), from a provider or the chain.",
        params=QuoteParams, result=Trade, handler=trade, open_world=True,
        examples=({"symbol": "MSFT", "provider": "synthetic", "as_of": _EXAMPLE_AT},),
    ))
    register(Operation(
        name="market.bars", summary="OHLCV bars of a symbol as columns, optionally with a PNG chart.",
        description="Without `provider` the symbol's fallback chain answers; the answer names who served it. "
                    "Completed history is cached for a long time, recent bars for minutes.",
        params=BarsParams, result=BarsResult, handler=bars, open_world=True,
        examples=(_BARS_EXAMPLE, {**_BARS_EXAMPLE, "chart": "candles"},
                  {"symbol": "SPY", "timeframe": "5Min", "provider": "synthetic",
                   "start": "2024-03-01T14:00:00Z", "end": "2024-03-01T16:00:00Z"}),
    ))
    register(Operation(
        name="market.download", summary="Fetch history once and keep it in the local bar store for offline use.",
        description="Bars are merged with what the store holds (new bars win). Later requests read them "
                    "through provider `local` at memory speed.",
        params=DownloadParams, result=DownloadResult, handler=download, read_only=False, idempotent=True,
        open_world=True,
        examples=({"symbols": ["DEMO"], "timeframe": "1Day", "provider": "synthetic",
                   "start": "2024-01-01T00:00:00Z", "end": "2024-03-29T00:00:00Z"},),
    ))
    register(Operation(
        name="market.providers",
        summary="Data providers: configured?, capabilities, rate limit, breaker, last error; and the chains.",
        params=NoParams, result=ProvidersResult, handler=providers,
    ))
    register(Operation(
        name="market.symbols", summary="What the local bar store holds: symbols, timeframes, ranges, sources.",
        params=SymbolsParams, result=SymbolsResult, handler=symbols,
    ))


__all__ = ["nt_register_data_providers", "nt_register_operations", "nt_shutdown"]
