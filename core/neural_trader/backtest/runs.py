"""Stored backtests: deterministic run ids, the ``backtest_runs`` table, listing, fetching, reproducing.

A run is determined by its :class:`RunSpec` (strategy, full parameters, symbols, provider,
timeframe, config, engine, benchmark), the data it read (:func:`~neural_trader.backtest.data.
fingerprint`) and the code that computed it (:func:`code_version`). Its id is the SHA-256 of those
three, so the same backtest on the same data and code is one row: :func:`run_or_fetch` returns the
stored row when there is one and stores a new one otherwise (concurrent writers converge on one
row). :func:`reproduce` fetches the data again, re-runs, and compares both fingerprints.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.util
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neural_trader import __version__
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.result import TRADES_DTYPE, BacktestResult
from neural_trader.domain.market import from_ns
from neural_trader.errors import NtNotFound
from neural_trader.native.simulate import ExitReason
from neural_trader.schema import param
from neural_trader.serde import wire

if TYPE_CHECKING:
    from neural_trader.backtest.data import RunData
    from neural_trader.services.storage import Storage
    from neural_trader.services.tables_backtest import BacktestRunRow

__all__ = [
    "RunSpec", "StoredRun", "TradeRow", "code_version", "fetch_run", "list_runs", "pack_results",
    "result_fingerprint", "run_or_fetch", "trade_rows", "unpack_results",
]

#: Modules whose source decides what a backtest computes; their hash is part of the code version.
ENGINE_MODULES: tuple[str, ...] = (
    "neural_trader.backtest.config", "neural_trader.backtest.engine", "neural_trader.backtest.event",
    "neural_trader.backtest.result", "neural_trader.backtest.vectorized",
    "neural_trader.native.simulate_numpy", "neural_trader.native.metrics_numpy",
    "neural_trader.native.indicators_numpy",
)


@functools.cache
def _source_digest(modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        h.update(name.encode())
        if origin and origin.endswith(".py"):
            with open(origin, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()[:12]


def code_version(strategy: Any) -> str:
    """``<package version>+<hash>``: the hash covers the engine's source and the strategy's module,
    so editing either gives new run ids (and :func:`reproduce` says the code changed)."""
    return f"{__version__}+{_source_digest((*ENGINE_MODULES, type(strategy).__module__))}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


@attrs.frozen(kw_only=True)
class RunSpec:
    """Everything a run was asked to do (the data window is captured by the data fingerprint)."""

    strategy: str
    params: dict[str, Any]
    symbols: tuple[str, ...]
    provider: str | None
    timeframe: str
    config: BacktestConfig
    engine: str
    benchmark: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "params": self.params, "symbols": list(self.symbols),
                "provider": self.provider, "timeframe": self.timeframe,
                "config": wire.unstructure(self.config), "engine": self.engine, "benchmark": self.benchmark}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunSpec:
        return cls(strategy=raw["strategy"], params=raw["params"], symbols=tuple(raw["symbols"]),
                   provider=raw["provider"], timeframe=raw["timeframe"],
                   config=wire.structure(raw["config"], BacktestConfig), engine=raw["engine"],
                   benchmark=raw.get("benchmark"))

    def run_id(self, data_fingerprint: str, code: str) -> str:
        """Hex SHA-256 (first 24 digits) of the spec, the data fingerprint and the code version."""
        text = _canonical({"spec": self.to_json(), "data": data_fingerprint, "code": code})
        return hashlib.sha256(text.encode()).hexdigest()[:24]


# -- compact results ------------------------------------------------------------------------------
def pack_results(result: BacktestResult, ts: np.ndarray) -> bytes:
    """Equity, trades and bar times as a compressed ``.npz`` (loadable without pickle)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, equity=np.ascontiguousarray(result.equity, dtype=np.float64),
                        trades=np.ascontiguousarray(result.trades, dtype=TRADES_DTYPE),
                        ts=np.ascontiguousarray(ts, dtype=np.int64))
    return buf.getvalue()


def unpack_results(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def result_fingerprint(equity: np.ndarray, trades: np.ndarray) -> str:
    """SHA-256 (hex) of the equity curve and the trades: equal iff the run computed the same."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(equity, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(trades, dtype=TRADES_DTYPE.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def metrics_json(result: BacktestResult) -> str:
    return json.dumps({k: _finite(v) for k, v in result.metrics.items()}, sort_keys=True)


# -- trades as rows -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class TradeRow:
    """One trade of a backtest."""

    symbol: str
    side: str = param(description="long or short")
    entry_time: dt.datetime
    exit_time: dt.datetime
    entry_price: float
    exit_price: float
    size: float = param(description="units (negative: short)")
    pnl: float = param(description="profit or loss net of both fills' costs")
    trade_return: float = param(description="pnl / (|size| * entry price)")
    fees: float
    exit_reason: str = param(description="signal, stop_loss, take_profit, trailing_stop, or open (still held)")


def trade_rows(trades: np.ndarray, ts: np.ndarray, symbols: Sequence[str], limit: int | None = None) -> list[TradeRow]:
    """The first ``limit`` trades (all when None) as rows with times."""
    rows: list[TradeRow] = []
    part = trades[:limit]
    columns = {name: part[name].tolist() for name in TRADES_DTYPE.names or ()}
    for k in range(part.shape[0]):
        t = {name: values[k] for name, values in columns.items()}
        size = t["size"]
        rows.append(TradeRow(
            symbol=symbols[t["symbol"]], side="long" if size > 0 else "short",
            entry_time=from_ns(int(ts[t["entry_idx"]])), exit_time=from_ns(int(ts[t["exit_idx"]])),
            entry_price=t["entry_price"], exit_price=t["exit_price"], size=size, pnl=t["pnl"],
            trade_return=t["ret"], fees=t["fees"], exit_reason=ExitReason(t["exit_reason"]).name.lower()))
    return rows


# -- the table ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True, eq=False)
class StoredRun:
    """A row of ``backtest_runs``, decoded."""

    id: str
    spec: RunSpec
    provider: str
    first_bar: dt.datetime
    last_bar: dt.datetime
    n_bars: int
    data_fingerprint: str
    result_fingerprint: str
    code_version: str
    metrics: dict[str, Any]
    created_at: dt.datetime
    blob: bytes = attrs.field(repr=False)

    @classmethod
    def from_row(cls, row: BacktestRunRow) -> StoredRun:
        return cls(id=row.id, spec=RunSpec.from_json(json.loads(row.spec)), provider=row.provider,
                   first_bar=row.first_bar, last_bar=row.last_bar, n_bars=row.n_bars,
                   data_fingerprint=row.data_fingerprint, result_fingerprint=row.result_fingerprint,
                   code_version=row.code_version, metrics=json.loads(row.metrics), created_at=row.created_at,
                   blob=row.results)

    @functools.cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """``equity``, ``trades`` and ``ts`` of the run."""
        return unpack_results(self.blob)


def fetch_run(storage: Storage, run_id: str) -> StoredRun:
    """The stored run ``run_id`` (a unique prefix of at least 6 digits also finds it)."""
    from sqlmodel import col, select

    from neural_trader.services.tables_backtest import BacktestRunRow

    with storage.session() as session:
        row = session.get(BacktestRunRow, run_id)
        if row is None and len(run_id) >= 6:
            found = session.exec(select(BacktestRunRow).where(col(BacktestRunRow.id).startswith(run_id))
                                 .limit(2)).all()
            row = found[0] if len(found) == 1 else None
    if row is None:
        raise NtNotFound(f"no stored backtest run {run_id!r}; `backtest list` shows the stored runs")
    return StoredRun.from_row(row)


def list_runs(storage: Storage, *, strategy: str | None = None, symbol: str | None = None,
              limit: int = 20, offset: int = 0) -> tuple[list[StoredRun], int]:
    """Newest first (ties by id); returns (a page of runs, how many match in all)."""
    import sqlalchemy as sa
    from sqlmodel import col, select

    from neural_trader.services.tables_backtest import BacktestRunRow

    conditions: list[sa.ColumnElement[bool]] = []
    if strategy:
        conditions.append(col(BacktestRunRow.strategy) == strategy)
    if symbol:
        # symbols is "A,B,C": match a whole name, not a substring of one.
        padded = sa.literal(",") + col(BacktestRunRow.symbols) + sa.literal(",")
        conditions.append(padded.contains(f",{symbol},"))
    query = (select(BacktestRunRow).where(*conditions)
             .order_by(col(BacktestRunRow.created_at).desc(), col(BacktestRunRow.id)).offset(offset).limit(limit))
    count = sa.select(sa.func.count()).select_from(BacktestRunRow).where(*conditions)
    with storage.session() as session:
        rows = session.exec(query).all()
        total = int(session.execute(count).scalar_one())
    return [StoredRun.from_row(r) for r in rows], total


def _insert(storage: Storage, row: BacktestRunRow) -> None:
    from sqlalchemy.exc import IntegrityError

    from neural_trader.services.tables_backtest import BacktestRunRow

    try:
        with storage.session() as session:
            if session.get(BacktestRunRow, row.id) is None:
                session.add(row)
    except IntegrityError:
        pass  # another process stored the same run first: same id, same content


def run_or_fetch(storage: Storage, spec: RunSpec, data: RunData, strategy: Any,
                 compute: Callable[[], BacktestResult]) -> tuple[StoredRun, BacktestResult | None]:
    """The stored run for ``spec`` on ``data`` with this code, computing and storing it if new.

    ``compute()`` runs the backtest and returns its :class:`BacktestResult`; it is called only when
    the run is not stored yet. Returns the stored run and the fresh result (None when it was stored).
    """
    from neural_trader.services.tables_backtest import BacktestRunRow

    code = code_version(strategy)
    run_id = spec.run_id(data.fingerprint, code)
    with storage.session() as session:
        existing = session.get(BacktestRunRow, run_id)
    if existing is not None:
        return StoredRun.from_row(existing), None
    result = compute()
    ts = np.asarray(data.bars[0].ts)
    _insert(storage, BacktestRunRow(
        id=run_id, strategy=spec.strategy, symbols=",".join(spec.symbols), provider=data.provider,
        timeframe=spec.timeframe, engine=spec.engine, first_bar=data.first, last_bar=data.last,
        n_bars=data.n, spec=_canonical(spec.to_json()), data_fingerprint=data.fingerprint,
        result_fingerprint=result_fingerprint(result.equity, result.trades), code_version=code,
        metrics=metrics_json(result), results=pack_results(result, ts)))
    return fetch_run(storage, run_id), result
