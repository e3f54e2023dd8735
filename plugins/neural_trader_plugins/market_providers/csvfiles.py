"""``csv``: bars from CSV (and Parquet, with pyarrow) files in a folder, one symbol per file.

The folder is ``[plugins.csv] dir`` / ``NT_CSV_DIR`` (default ``<data_dir>/csv``). A file serves the
symbol its name starts with: ``orcl-1995-2014.txt`` and ``ORCL.csv`` both serve ``ORCL``; several
files of one symbol may hold different timeframes. Options: ``tz`` (the zone of naive times,
default UTC), ``bad_rows`` (``reject`` or ``drop``), ``adjusted`` (scale by Adj Close). Parsed files
are kept in memory until they change on disk.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import anyio.to_thread

from neural_trader.domain.market import BadRowPolicy, Bars, Timeframe
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.market.files import BAR_FILE_SUFFIXES, read_bars, symbol_from_filename
from neural_trader.market.provider import BaseProvider, ProviderContext, ProviderHealth
from neural_trader_plugins.market_providers import CAPABILITIES


class CsvProvider(BaseProvider):
    name = "csv"
    capabilities = CAPABILITIES["csv"]

    def __init__(self, ctx: ProviderContext) -> None:
        values = ctx.plugin_settings("csv")
        self.folder = Path(values.get("dir") or Path(ctx.settings.data_dir) / "csv").expanduser()
        self.tz = values.get("tz") or None
        try:
            self.bad_rows = BadRowPolicy(str(values.get("bad_rows", "reject")).lower())
        except ValueError:
            raise NtUserError(f"csv setting bad_rows must be reject or drop, got {values.get('bad_rows')!r}") from None
        self.adjusted = str(values.get("adjusted", "false")).strip().lower() in ("1", "true", "yes", "on")
        self._parsed: dict[Path, tuple[tuple[int, int], Bars]] = {}
        self._lock = threading.Lock()

    def status(self) -> ProviderHealth:
        if not self.folder.is_dir():
            return ProviderHealth(configured=False, reason=f"no folder {self.folder}; create it and put files "
                                  "named after their symbol there, or set NT_CSV_DIR")
        return ProviderHealth(configured=True)

    def files(self, symbol: str) -> list[Path]:
        if not self.folder.is_dir():
            return []
        wanted = symbol.upper()
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.suffix.lower() in BAR_FILE_SUFFIXES
                      and wanted in (p.stem.upper(), symbol_from_filename(p)))

    def read(self, path: Path, symbol: str) -> Bars:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._parsed.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        bars = read_bars(path, symbol=symbol, tz=self.tz, bad_rows=self.bad_rows, adjusted=self.adjusted)
        with self._lock:
            self._parsed[path] = (stamp, bars)
        return bars

    def _find(self, symbol: str, timeframe: Timeframe) -> Bars:
        paths = self.files(symbol)
        if not paths:
            raise NtNotFound(f"no file for {symbol} in {self.folder} (name it {symbol}.csv, or "
                             f"{symbol.lower()}-<anything>.csv)")
        seen = []
        for path in paths:
            bars = self.read(path, symbol)
            if bars.timeframe is timeframe:
                return bars
            seen.append(f"{path.name}: {bars.timeframe.value}")
        raise NtNotFound(f"no {timeframe.value} file for {symbol} in {self.folder} ({'; '.join(seen)})")

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        found = await anyio.to_thread.run_sync(self._find, symbol, timeframe)
        return found.between(start, end)

    def bar_count(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> int | None:
        try:
            return len(self._find(symbol, timeframe).between(start, end))  # parsed once, kept until it changes
        except NtNotFound:
            return None

    async def bars_tail(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime,
                        limit: int) -> Bars:
        return (await self.bars(symbol, timeframe, start, end)).tail(limit)
