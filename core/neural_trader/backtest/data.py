"""The data a backtest reads: bars of one or more symbols (and a benchmark), aligned and fingerprinted.

:func:`load` asks the host's market data service (:class:`~neural_trader.market.service.MarketData`)
for each symbol, keeps the bar times every series has, and computes :func:`fingerprint`, the
SHA-256 of the exact arrays, which identifies the data in a stored run and lets a re-run prove it
read the same numbers. :func:`check_length` turns "too little data" into a message with the numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from neural_trader.domain.market import COLUMNS, Bars, Timeframe
from neural_trader.errors import NtUserError

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["DataRequest", "RunData", "check_length", "fingerprint", "load", "parse_symbols"]

#: Without a start, a backtest looks back this many times the market service's default window
#: (5 years of daily bars): long enough for the usual indicator windows to matter.
LOOKBACK_FACTOR = 5


def parse_symbols(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"ko, pep"`` or ``["KO", "PEP"]`` to ``("KO", "PEP")``: upper case (as the market operations
    read symbols), blanks dropped, order kept."""
    items = text.split(",") if isinstance(text, str) else [p for s in text for p in s.split(",")]
    symbols = tuple(s.strip().upper() for s in items if s.strip())
    if not symbols:
        raise NtUserError("name at least one symbol")
    if len(set(symbols)) != len(symbols):
        raise NtUserError(f"symbols repeat: {', '.join(symbols)}")
    return symbols


@attrs.frozen(kw_only=True)
class DataRequest:
    """Which bars: symbols, provider (None: the fallback chain), timeframe and the window."""

    symbols: tuple[str, ...]
    provider: str | None
    timeframe: Timeframe
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    benchmark: str | None = None
    #: A CSV/Parquet file to read the (one) series from instead of a provider.
    file: str | None = None
    #: The caller's frontend: which files ``file`` may name (see ``MarketData.file_bars``).
    frontend: str | None = None


@attrs.frozen(kw_only=True, eq=False)
class RunData:
    """Aligned bars (same times for every series), the aligned benchmark, and their fingerprint."""

    bars: tuple[Bars, ...]
    benchmark: Bars | None
    fingerprint: str
    #: Synthetic data, windows the data covers only in part (``market.service.window_warnings``).
    warnings: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        """True when any series (or the benchmark) was generated rather than observed."""
        return any(b.synthetic for b in (*self.bars, *(() if self.benchmark is None else (self.benchmark,))))

    @property
    def n(self) -> int:
        return len(self.bars[0])

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bars)

    @property
    def provider(self) -> str:
        """The providers that served the bars; generated bars a store or file served say so
        (``local (synthetic)``), so a stored run keeps the mark."""
        return ",".join(dict.fromkeys(
            f"{b.provider} (synthetic)" if b.synthetic and b.provider != "synthetic" else b.provider
            for b in self.bars))

    @property
    def first(self) -> dt.datetime:
        return self.bars[0].first  # type: ignore[return-value]

    @property
    def last(self) -> dt.datetime:
        return self.bars[0].last  # type: ignore[return-value]

    def strategy_input(self) -> Bars | tuple[Bars, ...]:
        """What the engine takes: one series, or the aligned tuple."""
        return self.bars[0] if len(self.bars) == 1 else self.bars

    def benchmark_close(self) -> np.ndarray | None:
        return None if self.benchmark is None else np.ascontiguousarray(self.benchmark.close)

    def slice(self, start: int, stop: int) -> RunData:
        """Bars ``[start, stop)`` of every series (views; the fingerprint is the parent's)."""
        bench = None if self.benchmark is None else self.benchmark[start:stop]
        return RunData(bars=tuple(b[start:stop] for b in self.bars), benchmark=bench,
                       fingerprint=self.fingerprint, warnings=self.warnings)


def fingerprint(bars: Sequence[Bars], benchmark: Bars | None = None) -> str:
    """SHA-256 (hex) of every series' symbol, timeframe, times and OHLCV bytes (little-endian)."""
    h = hashlib.sha256()
    for series in (*bars, *(() if benchmark is None else (benchmark,))):
        h.update(f"{series.symbol}|{series.timeframe.value}|{len(series)}|".encode())
        h.update(np.ascontiguousarray(series.ts, dtype="<i8").tobytes())
        for name in COLUMNS:
            h.update(np.ascontiguousarray(getattr(series, name), dtype="<f8").tobytes())
    return h.hexdigest()


def _align(series: list[Bars]) -> list[Bars]:
    """Every series restricted to the bar times all of them have."""
    if len(series) == 1 or all(np.array_equal(s.ts, series[0].ts) for s in series[1:]):
        return series
    common = series[0].ts
    for s in series[1:]:
        common = np.intersect1d(common, s.ts, assume_unique=True)
    out = []
    for s in series:
        keep = np.isin(s.ts, common)
        if keep.all():
            out.append(s)
            continue
        out.append(Bars(symbol=s.symbol, timeframe=s.timeframe, provider=s.provider, ts=s.ts[keep],
                        synthetic=s.synthetic, **{c: getattr(s, c)[keep] for c in COLUMNS}))
    return out


async def load(host: Host, request: DataRequest) -> RunData:
    """Fetch, align and fingerprint the bars of ``request``.

    :raises NtUserError: no bars at all in the window (with the window and the provider).
    """
    import anyio.to_thread

    from neural_trader import bounds
    from neural_trader.market.service import DEFAULT_LOOKBACK, MarketData, synthetic_warning, window_warnings

    market = MarketData.for_host(host)
    bounds.check(host.settings, "max_symbols", len(request.symbols) + (1 if request.benchmark else 0),
                 "symbols in one backtest (benchmark included)")
    start, end = market.window(request.timeframe, request.start, request.end,
                               lookback=DEFAULT_LOOKBACK[request.timeframe] * LOOKBACK_FACTOR)
    fetched: list[Bars] = []
    if request.file is not None:
        if request.provider is not None:
            raise NtUserError("give a provider or a file, not both")
        if len(request.symbols) > 1:
            raise NtUserError("a file holds one symbol; name at most one with file")
        label = request.symbols[0] if request.symbols else None
        found = await anyio.to_thread.run_sync(lambda: market.file_bars(
            request.file, label, request.timeframe, request.start, request.end,  # type: ignore[arg-type]
            frontend=request.frontend))
        fetched.append(found)
        if request.start is None and request.end is None and len(found):
            start, end = found.first or start, found.last or end  # a file's window is the whole file
    names = [b.symbol for b in fetched] + [s for s in request.symbols if not fetched] \
        + ([request.benchmark] if request.benchmark else [])
    fetched += [await market.bars(symbol, request.timeframe, start, end, provider=request.provider)
                for symbol in names[len(fetched):]]
    for symbol, bars in zip(names, fetched, strict=True):
        if not len(bars):
            raise NtUserError(
                f"provider {bars.provider} has no {request.timeframe.value} bars of {symbol} between "
                f"{start.isoformat()} and {end.isoformat()}; widen the window or pick another provider")
    aligned = _align(fetched)
    if not len(aligned[0]):
        raise NtUserError(f"{', '.join(names)} have no bar time in common between {start.date()} and "
                          f"{end.date()}; they cannot be traded together")
    n_series = len(names) - (1 if request.benchmark else 0)
    series = tuple(aligned[:n_series])
    bench = aligned[-1] if request.benchmark else None
    generated = [b.symbol for b in fetched if b.synthetic]
    warnings = [synthetic_warning(generated)] if generated else []
    warnings += [w for b in fetched for w in window_warnings(b, start, end, start_given=request.start is not None,
                                                             synthetic=False)]
    if len(aligned[0]) < len(fetched[0]):
        warnings.append(f"{', '.join(names)} share {len(aligned[0])} of {len(fetched[0])} bar times; the "
                        "backtest reads only the shared ones")
    return RunData(bars=series, benchmark=bench, fingerprint=fingerprint(series, bench),
                   warnings=tuple(dict.fromkeys(warnings)))


def check_length(data: RunData, needed: int, what: str) -> None:
    """Refuse data with fewer than ``needed`` bars, saying how many there are and what needs them."""
    if data.n < needed:
        raise NtUserError(
            f"{what} needs at least {needed} bars, but {', '.join(data.symbols)} has {data.n} "
            f"{data.bars[0].timeframe.value} bars between {data.first.date()} and {data.last.date()}; "
            "widen the date range or use a shorter timeframe")
