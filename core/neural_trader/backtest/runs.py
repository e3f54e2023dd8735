"""Stored backtests: deterministic run ids, the ``backtest_runs`` table, listing, fetching, reproducing.

A run is determined by its :class:`RunSpec` (strategy, full parameters, symbols, provider,
timeframe, config, engine, benchmark), the data it read (:func:`~neural_trader.backtest.data.
fingerprint`) and the code that computed it (:func:`code_version`). Its id is the SHA-256 of those
three, so the same backtest on the same data and code is one row: :func:`run_or_fetch` returns the
stored row when there is one and stores a new one otherwise (concurrent writers converge on one
row: the insert skips an id already there). ``backtest.get`` with ``reproduce`` fetches the data
again, re-runs, and compares both fingerprints.

The table belongs to the backtest plugin (its models and its migration branch); this module reaches
it by name through :meth:`Storage.table <neural_trader.services.storage.Storage.table>`, so the core
never imports the plugin.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import importlib.util
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    import sqlalchemy as sa

    from neural_trader.backtest.data import RunData
    from neural_trader.services.storage import Storage

__all__ = [
    "RUNS_TABLE", "RunSpec", "StoredRun", "TradeRow", "code_inputs", "code_version", "fetch_run", "list_runs",
    "pack_results", "result_fingerprint", "run_or_fetch", "trade_rows", "unpack_results",
]

#: The stored runs, a table of the backtest plugin (``neural_trader_plugins.backtest.tables``).
RUNS_TABLE = "backtest_runs"

#: Where the engine starts; the modules they import inside :data:`COMPUTING_PACKAGES` follow.
ENGINE_MODULES: tuple[str, ...] = (
    "neural_trader.backtest.config", "neural_trader.backtest.engine", "neural_trader.backtest.event",
    "neural_trader.backtest.result", "neural_trader.backtest.vectorized",
)
#: Packages whose code computes a backtest: the engines, the kernels' wrappers and numpy twins, the
#: strategies (and the strategy's own top-level package, for a plugin's strategy).
COMPUTING_PACKAGES: tuple[str, ...] = ("neural_trader.backtest", "neural_trader.native", "neural_trader.strategies")


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _inside(name: str, packages: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _import_statements(body: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``body``, nested ones (in functions, ``if``, ``try``) included;
    only statements are visited, not expressions, which is most of a module's nodes."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _import_statements(inner)


def _imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every module name an import in ``tree`` may load (``from a import b``: ``a`` and ``a.b``)."""
    for node in _import_statements(tree.body):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


@functools.cache
def _inputs(roots: tuple[str, ...], packages: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each module's file (source, or the compiled extension) for ``roots`` and every
    module they import, transitively, inside ``packages``."""
    digests: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in digests or not name:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        if spec is None or not origin or not spec.has_location:
            continue
        data = _read(origin)
        digests[name] = hashlib.sha256(data).hexdigest()
        if origin.endswith(".py"):
            tree = ast.parse(data, filename=origin)
            is_package = spec.submodule_search_locations is not None
            todo.extend(m for m in _imports(tree, name, is_package) if _inside(m, packages) and m not in digests)
    return digests


@functools.cache
def _kernel_inputs() -> dict[str, str]:
    """Which implementation each native family runs: the compiled module's file hash and build
    version, or the numpy twin (whose source :func:`_inputs` covers)."""
    from neural_trader.native import FAMILIES, load_native

    found: dict[str, str] = {}
    for family in FAMILIES:
        native = load_native(family)
        key = f"kernel:{family}"
        if not native.compiled:
            found[key] = "numpy twin"
            continue
        spec = importlib.util.find_spec(native.module_name)
        origin = spec.origin if spec is not None else None
        digest = hashlib.sha256(_read(origin)).hexdigest() if origin else "unknown file"
        found[key] = f"{native.built_version} {digest}"
    return found


def code_inputs(strategy: Any) -> dict[str, str]:
    """Everything whose change can change a backtest's result, each with its fingerprint: the
    package version, the engine's modules, the strategy's class and base classes and what they
    import (the strategies an ensemble composes, the ``_signals`` helpers, the kernels' wrappers
    and numpy twins), and which compiled kernel (by file hash and build) or twin runs."""
    classes = [c for c in type(strategy).__mro__ if c.__module__ not in ("builtins", "typing")]
    modules = tuple(dict.fromkeys(c.__module__ for c in classes))
    outside = tuple(dict.fromkeys(m.split(".")[0] for m in modules
                                  if not _inside(m, COMPUTING_PACKAGES)
                                  and m.split(".")[0] not in sys.stdlib_module_names))
    inputs = {"version": __version__}
    inputs.update(_inputs((*ENGINE_MODULES, *modules), (*COMPUTING_PACKAGES, *outside)))
    inputs.update(_kernel_inputs())
    return dict(sorted(inputs.items()))


def code_version(strategy: Any) -> str:
    """``<package version>+<hash>``: the hash covers :func:`code_inputs`, so editing anything a
    result depends on gives new run ids (and a reproduction says the code changed)."""
    digest = hashlib.sha256(_canonical(code_inputs(strategy)).encode()).hexdigest()[:12]
    return f"{__version__}+{digest}"


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
    def from_row(cls, row: Any) -> StoredRun:
        """From a row of the table (a SQLAlchemy row or the plugin's model: the same attributes)."""
        return cls(id=row.id, spec=RunSpec.from_json(json.loads(row.spec)), provider=row.provider,
                   first_bar=row.first_bar, last_bar=row.last_bar, n_bars=row.n_bars,
                   data_fingerprint=row.data_fingerprint, result_fingerprint=row.result_fingerprint,
                   code_version=row.code_version, metrics=json.loads(row.metrics), created_at=row.created_at,
                   blob=row.results)

    @functools.cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """``equity``, ``trades`` and ``ts`` of the run."""
        return unpack_results(self.blob)


def _table(storage: Storage) -> sa.Table:
    return storage.table(RUNS_TABLE)


def fetch_run(storage: Storage, run_id: str) -> StoredRun:
    """The stored run ``run_id`` (a unique prefix of at least 6 digits also finds it)."""
    import sqlalchemy as sa

    table = _table(storage)
    with storage.session() as session:
        row = session.execute(sa.select(table).where(table.c.id == run_id)).first()
        if row is None and len(run_id) >= 6:
            found = session.execute(sa.select(table).where(table.c.id.startswith(run_id, autoescape=True))
                                    .limit(2)).all()
            row = found[0] if len(found) == 1 else None
    if row is None:
        raise NtNotFound(f"no stored backtest run {run_id!r}; `backtest list` shows the stored runs")
    return StoredRun.from_row(row)


def list_runs(storage: Storage, *, strategy: str | None = None, symbol: str | None = None,
              limit: int = 20, offset: int = 0) -> tuple[list[StoredRun], int]:
    """Newest first (ties by id); returns (a page of runs, how many match in all)."""
    import sqlalchemy as sa

    table = _table(storage)
    conditions: list[sa.ColumnElement[bool]] = []
    if strategy:
        conditions.append(table.c.strategy == strategy)
    if symbol:
        # symbols is "A,B,C": match a whole name, not a substring of one; '%' and '_' are letters.
        padded = sa.literal(",") + table.c.symbols + sa.literal(",")
        conditions.append(padded.contains(f",{symbol},", autoescape=True))
    query = (sa.select(table).where(*conditions)
             .order_by(table.c.created_at.desc(), table.c.id).offset(offset).limit(limit))
    count = sa.select(sa.func.count()).select_from(table).where(*conditions)
    with storage.session() as session:
        rows = session.execute(query).all()
        total = int(session.execute(count).scalar_one())
    return [StoredRun.from_row(r) for r in rows], total


def _insert(storage: Storage, values: Mapping[str, Any]) -> bool:
    """Store a run unless its id is stored already (same id, same content); True if this stored it."""
    return storage.insert_new(_table(storage), values) == 1


def run_or_fetch(storage: Storage, spec: RunSpec, data: RunData, strategy: Any,
                 compute: Callable[[], BacktestResult]) -> tuple[StoredRun, BacktestResult | None]:
    """The stored run for ``spec`` on ``data`` with this code, computing and storing it if new.

    ``compute()`` runs the backtest and returns its :class:`BacktestResult`; it is called only when
    the run is not stored yet. Returns the stored run and the fresh result (None when it was stored).
    Any number of callers may run this at once, for the same run or others: each gets the one row.
    """
    import sqlalchemy as sa

    from neural_trader.services.tables import utcnow

    code = code_version(strategy)
    run_id = spec.run_id(data.fingerprint, code)
    table = _table(storage)
    with storage.session() as session:
        existing = session.execute(sa.select(table).where(table.c.id == run_id)).first()
    if existing is not None:
        return StoredRun.from_row(existing), None
    result = compute()
    ts = np.asarray(data.bars[0].ts)
    _insert(storage, {
        "id": run_id, "strategy": spec.strategy, "symbols": ",".join(spec.symbols), "provider": data.provider,
        "timeframe": spec.timeframe, "engine": spec.engine, "first_bar": data.first, "last_bar": data.last,
        "n_bars": data.n, "spec": _canonical(spec.to_json()), "data_fingerprint": data.fingerprint,
        "result_fingerprint": result_fingerprint(result.equity, result.trades), "code_version": code,
        "metrics": metrics_json(result), "results": pack_results(result, ts), "created_at": utcnow()})
    return fetch_run(storage, run_id), result
