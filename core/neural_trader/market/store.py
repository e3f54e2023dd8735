"""The local bar store: history downloaded once, read back offline at memory speed.

One ``.npy`` file per symbol and timeframe under ``<data_dir>/bars/<SYMBOL>/<timeframe>.npy``: a
C-ordered ``(6, n)`` int64 array whose row 0 is the timestamps and rows 1-5 are the float64 columns'
bits (``open high low close volume``). One standard file, every column contiguous, exact to the bit;
loading a million bars is one 48 MB read. A JSON file beside it records where the bars came from.
Writes go to a temporary file renamed over the old one, so a reader never sees half a file.

Why not Parquet: it would make pyarrow a requirement of the embedded default, and a numpy file is
both exact and as fast to read (docs/market-data.md has the numbers).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote, unquote

import attrs
import numpy as np

from neural_trader.domain.market import COLUMNS, Bars, Timeframe, from_ns, merge_bars
from neural_trader.errors import NtConflict, NtUserError

__all__ = ["LocalStore", "StoredSeries"]


@attrs.frozen(kw_only=True)
class StoredSeries:
    """What the store holds for one symbol and timeframe."""

    symbol: str
    timeframe: Timeframe
    rows: int
    first: dt.datetime | None
    last: dt.datetime | None
    #: The provider(s) the bars were downloaded from, latest last.
    sources: tuple[str, ...]
    synthetic: bool
    saved_at: dt.datetime


class LocalStore:
    """Bars on disk. Thread-safe for writers in one process; readers never block."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _dir(self, symbol: str) -> Path:
        name = quote(symbol, safe="")
        if not name or name.startswith("."):
            raise NtUserError(f"{symbol!r} is not a symbol the store can hold")
        return self.root / name

    def _paths(self, symbol: str, timeframe: Timeframe) -> tuple[Path, Path]:
        base = self._dir(symbol) / timeframe.value
        return base.with_suffix(".npy"), base.with_suffix(".json")

    # -- reading ------------------------------------------------------------------------------------
    def load(self, symbol: str, timeframe: Timeframe | str, *, mmap: bool = False) -> Bars | None:
        """All stored bars of ``symbol`` at ``timeframe``, labelled ``local``; ``None`` if absent.

        ``mmap=True`` maps the file instead of reading it (pages load on first touch).
        """
        tf = Timeframe.parse(timeframe)
        data_path, meta_path = self._paths(symbol, tf)
        try:
            table = np.load(data_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except FileNotFoundError:
            return None
        meta = self._meta(meta_path)
        floats = table[1:].view(np.float64)
        return Bars(symbol=symbol, timeframe=tf, provider="local", ts=table[0],
                    synthetic=bool(meta.get("synthetic", False)),
                    **{c: floats[i] for i, c in enumerate(COLUMNS)})

    @staticmethod
    def _meta(path: Path) -> dict[str, object]:
        try:
            found: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
            return found
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def series(self) -> list[StoredSeries]:
        """Everything stored, by symbol then timeframe."""
        out: list[StoredSeries] = []
        if not self.root.is_dir():
            return out
        order = {tf: i for i, tf in enumerate(Timeframe)}
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            symbol = unquote(folder.name)
            found = []
            for data_path in folder.glob("*.npy"):
                try:
                    tf = Timeframe(data_path.stem)
                except ValueError:
                    continue
                found.append(tf)
            for tf in sorted(found, key=order.__getitem__):
                info = self.describe(symbol, tf)
                if info is not None:
                    out.append(info)
        return out

    def describe(self, symbol: str, timeframe: Timeframe) -> StoredSeries | None:
        data_path, meta_path = self._paths(symbol, timeframe)
        try:
            table = np.load(data_path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None
        n = table.shape[1]
        meta = self._meta(meta_path)
        saved = meta.get("saved_at")
        return StoredSeries(
            symbol=symbol, timeframe=timeframe, rows=n,
            first=from_ns(int(table[0, 0])) if n else None, last=from_ns(int(table[0, -1])) if n else None,
            sources=tuple(meta.get("sources", ())),  # type: ignore[arg-type]
            synthetic=bool(meta.get("synthetic", False)),
            saved_at=dt.datetime.fromisoformat(saved) if isinstance(saved, str)
            else dt.datetime.fromtimestamp(data_path.stat().st_mtime, dt.UTC),
        )

    # -- writing ------------------------------------------------------------------------------------
    def save(self, bars: Bars, *, merge: bool = True) -> StoredSeries:
        """Store ``bars`` (merged with what is there unless ``merge=False``; new bars win)."""
        tf = bars.timeframe
        data_path, meta_path = self._paths(bars.symbol, tf)
        with self._lock:
            old = self.load(bars.symbol, tf) if merge else None
            if old is not None and len(old) and old.synthetic != bars.synthetic:
                kinds = ("synthetic", "observed") if old.synthetic else ("observed", "synthetic")
                raise NtConflict(
                    f"the store holds {kinds[0]} {bars.symbol} {tf.value} bars; {kinds[1]} bars must not "
                    "mix with them. Delete the stored series first (or use another symbol)")
            meta = self._meta(meta_path) if old is not None else {}
            combined = merge_bars(old, bars) if old is not None else bars
            sources = [s for s in meta.get("sources", []) if s != bars.provider] + [bars.provider]  # type: ignore[attr-defined]
            synthetic = bars.synthetic
            table = np.empty((6, len(combined)), dtype=np.int64)
            table[0] = combined.ts
            floats = table[1:].view(np.float64)
            for i, c in enumerate(COLUMNS):
                floats[i] = getattr(combined, c)
            data_path.parent.mkdir(parents=True, exist_ok=True)
            now = dt.datetime.now(dt.UTC)
            _atomic_write(meta_path, json.dumps({"symbol": bars.symbol, "timeframe": tf.value,
                                                 "sources": sources, "synthetic": synthetic,
                                                 "saved_at": now.isoformat()}, indent=1).encode())
            with tempfile.NamedTemporaryFile(dir=data_path.parent, suffix=".tmp", delete=False) as fh:
                np.save(fh, table, allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(fh.name, data_path)
        info = self.describe(bars.symbol, tf)
        assert info is not None
        return info

    def delete(self, symbol: str, timeframe: Timeframe | str) -> bool:
        data_path, meta_path = self._paths(symbol, Timeframe.parse(timeframe))
        with self._lock:
            existed = data_path.exists()
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
        return existed


def _atomic_write(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as fh:
        fh.write(data)
    os.replace(fh.name, path)
