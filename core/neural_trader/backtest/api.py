"""What the ``strategies.*`` and ``backtest.*`` operations do, with their parameter and result types.

Handlers are async: they fetch bars on the event loop, then run the backtest, the storage and the
charts in a worker thread. Every backtest is stored (:mod:`neural_trader.backtest.runs`) under a
content-hash id, so asking again for the same run on the same data returns the stored row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
import attrs
import numpy as np

from neural_trader import bounds
from neural_trader.backtest import engine
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import RunData, check_length, load
from neural_trader.backtest.params import (
    describe_params,
    get_strategy,
    params_dict,
    strategies_of,
    validate_params,
)
from neural_trader.backtest.requests import DataSelection, EngineName, StrategySelection, effective_config
from neural_trader.backtest.result import BacktestResult, closed_trades
from neural_trader.backtest.robustness import MonteCarloSummary, bootstrap_run
from neural_trader.backtest.runs import (
    RunSpec,
    StoredRun,
    TradeRow,
    code_version,
    fetch_run,
    list_runs,
    result_fingerprint,
    run_or_fetch,
    trade_rows,
)
from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN, Timeframe, from_ns
from neural_trader.domain.media import Image
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.schema import param

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Context
    from neural_trader.services.storage import Storage

__all__ = [
    "CompareParams",
    "CompareResult",
    "GetParams",
    "ListParams",
    "ListResult",
    "RunParams",
    "RunReport",
    "StrategiesListParams",
    "StrategiesListResult",
    "StrategyDescribeParams",
    "StrategyDescription",
    "compare",
    "describe_strategy",
    "get",
    "list_stored",
    "list_strategies",
    "run",
]

ChartKind = Literal["equity", "drawdown", "trades"]


# -- strategies.list / strategies.describe ------------------------------------------------------
@attrs.frozen(kw_only=True)
class StrategiesListParams:
    """Parameters of ``strategies.list`` (none)."""


@attrs.frozen(kw_only=True)
class StrategyInfo:
    name: str
    summary: str
    styles: list[str] = param(description="vectorized (signals) and/or event (orders bar by bar)")
    symbols_required: int = param(description="1, or 2 for a pair")
    plugin: str = param(description="the plugin that registered it")


@attrs.frozen(kw_only=True)
class StrategiesListResult:
    strategies: list[StrategyInfo]


def _styles(strategy: Any) -> list[str]:
    return [s for s, ok in (("vectorized", getattr(strategy, "has_signals", True)),
                            ("event", getattr(strategy, "has_events", False))) if ok]


def list_strategies(params: StrategiesListParams, ctx: Context) -> StrategiesListResult:
    registry = ctx.host.registry("strategies")
    return StrategiesListResult(strategies=[
        StrategyInfo(name=s.name, summary=s.summary, styles=_styles(s),
                     symbols_required=int(getattr(s, "symbols_required", 1)), plugin=registry.owner(s.name))
        for s in strategies_of(ctx.host)])


@attrs.frozen(kw_only=True)
class StrategyDescribeParams:
    name: str = param(max_len=100, description="strategy name")


@attrs.frozen(kw_only=True)
class ParamDescription:
    name: str
    type: str = param(description="integer, number, boolean or string")
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = param(default=False, description="the minimum itself is not allowed")
    exclusive_maximum: bool = param(default=False, description="the maximum itself is not allowed")
    choices: list[Any] | None = None
    description: str = ""


@attrs.frozen(kw_only=True)
class StrategyDescription:
    name: str
    summary: str
    description: str
    styles: list[str]
    symbols_required: int
    plugin: str
    warmup: int = param(description="bars without a signal at the default parameters (the longest window)")
    parameters: list[ParamDescription]
    params_schema: dict[str, Any] = param(description="JSON Schema of strategy_params")


def describe_strategy(params: StrategyDescribeParams, ctx: Context) -> StrategyDescription:
    from neural_trader.schema import schema_for

    s = get_strategy(ctx.host, params.name)
    defaults = s.make_params({})
    return StrategyDescription(
        name=s.name, summary=s.summary, description=getattr(s, "description", "") or s.summary,
        styles=_styles(s), symbols_required=int(getattr(s, "symbols_required", 1)),
        plugin=ctx.host.registry("strategies").owner(s.name), warmup=int(s.warmup(defaults)),
        parameters=[ParamDescription(name=i.name, type=i.type, default=i.default, minimum=i.minimum,
                                     maximum=i.maximum, exclusive_minimum=i.exclusive_minimum,
                                     exclusive_maximum=i.exclusive_maximum,
                                     choices=None if i.choices is None else list(i.choices),
                                     description=i.description)
                    for i in describe_params(s.params_type)],
        params_schema=schema_for(s.params_type))


# -- the report of one run ---------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class EquityPoint:
    time: dt.datetime
    equity: float


@attrs.frozen(kw_only=True)
class Reproduction:
    """A stored run computed again from its spec: did the data and the result come out the same?"""

    reproduced: bool = param(description="true when the data and the result match the stored ones")
    data_matches: bool
    result_matches: bool
    code_matches: bool = param(description="whether the code version is the stored one")
    data_fingerprint: str = param(description="fingerprint of the data fetched now")
    result_fingerprint: str = param(description="fingerprint of the result computed now")
    code_version: str = param(description="the code version now")


@attrs.frozen(kw_only=True)
class RunReport:
    """A stored backtest: what ran, on which data and code, and what came out."""

    run_id: str = param(description="content hash of the request, the data and the code version")
    created_at: dt.datetime = param(description="when this run was first stored")
    strategy: str
    params: dict[str, Any] = param(description="the strategy's parameters, defaults filled in")
    symbols: list[str]
    provider: str = param(description="the provider(s) that served the bars")
    synthetic: bool = param(description="true when the bars were generated, not observed prices")
    warnings: list[str] = param(factory=list, description="synthetic data, or a window the data covers only "
                                                          "in part (first_bar/last_bar say what it covers)")
    timeframe: str
    engine: str
    config: BacktestConfig
    benchmark: str | None
    first_bar: dt.datetime
    last_bar: dt.datetime
    bars: int
    data_fingerprint: str = param(description="SHA-256 of the bars the run read")
    result_fingerprint: str = param(description="SHA-256 of the equity curve and the trades")
    code_version: str = param(description="package version + hash of the engine's and the strategy's source")
    metrics: dict[str, float | None] = param(description="performance metrics (null where undefined)")
    n_trades: int = param(description="closed trades (a position still open at the last bar is listed in "
                                      "trades with exit_reason open, and counted in metrics.open_trades)")
    trades: list[TradeRow] = param(description="the first max_trades trades")
    equity: list[EquityPoint] = param(factory=list, description="equity_points points of the equity curve")
    monte_carlo: MonteCarloSummary | None = param(default=None, description="bootstrap of the trades, if asked")
    reproduction: Reproduction | None = param(default=None, description="the reproduce check, if asked")
    # The explicit title lets the CLI see an optional picture (it looks for title "Image" on the property).
    chart: Image | None = attrs.field(default=None, metadata={
        "title": "Image", "description": "the PNG chart, when asked for (CLI: --plot FILE)"})


def _equity_points(arrays: dict[str, np.ndarray], points: int) -> list[EquityPoint]:
    equity, ts = arrays["equity"], arrays["ts"]
    if points <= 0 or equity.shape[0] == 0:
        return []
    idx = np.unique(np.linspace(0, equity.shape[0] - 1, min(points, equity.shape[0])).round().astype(np.int64))
    return [EquityPoint(time=from_ns(int(ts[i])), equity=float(equity[i])) for i in idx]


def _monte_carlo(stored: StoredRun, n_sims: int, seed: int) -> MonteCarloSummary | None:
    if n_sims <= 0:
        return None
    return bootstrap_run(stored.arrays["trades"], n_sims=n_sims, seed=seed, init_cash=stored.spec.config.init_cash)


def report(stored: StoredRun, *, max_trades: int = 20, equity_points: int = 0, monte_carlo: int = 0,
           seed: int = 0, chart: Image | None = None, reproduction: Reproduction | None = None,
           data: RunData | None = None) -> RunReport:
    """The answer for a stored run (the same whether it was computed now or long ago). ``data``: the
    bars it was computed on now, when they were fetched (their synthetic mark and warnings); a run
    fetched by id alone is synthetic when its provider label says so (``synthetic``, ``local (synthetic)``)."""
    from neural_trader.market.service import synthetic_warning

    arrays = stored.arrays
    spec = stored.spec
    synthetic = data.synthetic if data is not None else any(
        "synthetic" in p for p in stored.provider.split(","))
    warnings = list(data.warnings) if data is not None else (
        [synthetic_warning([*spec.symbols, *([spec.benchmark] if spec.benchmark else [])])] if synthetic else [])
    return RunReport(
        run_id=stored.id, created_at=stored.created_at, strategy=spec.strategy, params=spec.params,
        symbols=list(spec.symbols), provider=stored.provider, synthetic=synthetic, warnings=warnings,
        timeframe=spec.timeframe, engine=spec.engine,
        config=spec.config, benchmark=spec.benchmark, first_bar=stored.first_bar, last_bar=stored.last_bar,
        bars=stored.n_bars, data_fingerprint=stored.data_fingerprint,
        result_fingerprint=stored.result_fingerprint, code_version=stored.code_version,
        metrics=stored.metrics, n_trades=int(closed_trades(arrays["trades"]).shape[0]),
        trades=trade_rows(arrays["trades"], arrays["ts"], spec.symbols, max_trades),
        equity=_equity_points(arrays, equity_points), monte_carlo=_monte_carlo(stored, monte_carlo, seed),
        reproduction=reproduction, chart=chart)


# -- backtest.run --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class RunParams(StrategySelection):
    """Parameters of ``backtest.run``."""

    chart: ChartKind | None = param(default=None, description="return a PNG: equity, drawdown or trades "
                                                              "(CLI: write it with --plot FILE)")
    max_trades: int = param(default=20, ge=0, le=100_000, description="how many trades to list")
    equity_points: int = param(default=0, ge=0, le=100_000,
                               description="how many points of the equity curve to return (0: none)")
    monte_carlo: int = param(default=0, ge=0, le=1_000_000,
                             description="bootstrap the trades this many times (0: off)")
    seed: int = param(default=0, ge=0, description="seed of the Monte Carlo bootstrap")


@attrs.frozen(kw_only=True, eq=False)
class Prepared:
    """A validated request with its data: everything needed to run or look up one backtest."""

    strategy: Any
    params: Any
    config: BacktestConfig
    engine: EngineName
    data: RunData
    spec: RunSpec

    def compute(self) -> BacktestResult:
        return engine.run(self.data.strategy_input(), self.strategy, self.params, self.config,
                          engine=self.engine, benchmark=self.data.benchmark_close())


def _check_enough_bars(strategy: Any, params: Any, data: RunData) -> None:
    warmup = int(strategy.warmup(params))
    check_length(data, warmup + 2, f"strategy {strategy.name} with {json.dumps(params_dict(params))} (its "
                                   f"longest window is {warmup} bars, plus 2 to trade)")


def resolve(host: Host, request: StrategySelection) -> tuple[Any, Any]:
    """The strategy and its validated parameters (errors name the field and its bounds)."""
    strategy = get_strategy(host, request.strategy)
    return strategy, validate_params(strategy, request.strategy_params, path="$.strategy_params")


def prepare_with(request: StrategySelection, strategy: Any, params: Any, data: RunData) -> Prepared:
    """A run of ``strategy`` with ``params`` on data already fetched (checked to be long enough)."""
    _check_enough_bars(strategy, params, data)
    config = request.effective_config()
    spec = RunSpec(strategy=strategy.name, params=params_dict(params), symbols=data.symbols,
                   provider=request.provider, timeframe=request.timeframe.value, config=config,
                   engine=request.engine, benchmark=request.benchmark)
    return Prepared(strategy=strategy, params=params, config=config, engine=request.engine, data=data, spec=spec)


async def prepare(host: Host, request: StrategySelection, *, frontend: str | None = None) -> Prepared:
    """Resolve the strategy and validate its parameters (before any data is fetched), fetch the
    data, and check it is long enough for the strategy's windows."""
    strategy, params = resolve(host, request)
    data = await load(host, request.data_request(request.benchmark, frontend=frontend))
    return prepare_with(request, strategy, params, data)


def store(host: Host, prepared: Prepared) -> tuple[StoredRun, BacktestResult | None]:
    """The stored run, computed and stored first if new (the fresh result, or None)."""
    return run_or_fetch(host.services.storage, prepared.spec, prepared.data, prepared.strategy, prepared.compute)


def _run_sync(host: Host, params: RunParams, prepared: Prepared) -> RunReport:
    stored, result = store(host, prepared)
    chart = None
    if params.chart is not None:
        result = result or prepared.compute()
        chart = Image.png(result.plot_png(params.chart, synthetic=prepared.data.synthetic))
    return report(stored, max_trades=params.max_trades, equity_points=params.equity_points,
                  monte_carlo=params.monte_carlo, seed=params.seed, chart=chart, data=prepared.data)


def check_monte_carlo(host: Host, samples: int) -> None:
    bounds.check(host.settings, "max_monte_carlo", samples, "Monte Carlo samples")


async def run(params: RunParams, ctx: Context) -> RunReport:
    check_monte_carlo(ctx.host, params.monte_carlo)
    prepared = await prepare(ctx.host, params, frontend=ctx.frontend)
    return await anyio.to_thread.run_sync(_run_sync, ctx.host, params, prepared)


# -- backtest.get --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class GetParams:
    """Parameters of ``backtest.get``: a run id, a run's request, or filters for the newest match."""

    run_id: str | None = param(default=None, min_len=6, max_len=40, pattern=r"^[0-9a-f]+$",
                               description="the run's id (or a unique prefix of 6+ digits)")
    request: StrategySelection | None = param(
        default=None, description="or the request of a run (as for backtest.run): its stored run, which is "
                                  "run and stored now if it never was (ids are content hashes)")
    strategy: str | None = param(default=None, max_len=100,
                                 description="without run_id: the newest stored run of this strategy")
    symbol: str | None = param(default=None, max_len=50, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                               description="without run_id: the newest stored run that traded this symbol")
    reproduce: bool = param(default=False, description="fetch the data again, re-run, and compare fingerprints")
    max_trades: int = param(default=20, ge=0, le=100_000, description="how many trades to list")
    equity_points: int = param(default=0, ge=0, le=100_000,
                               description="how many points of the equity curve to return (0: none)")
    monte_carlo: int = param(default=0, ge=0, le=1_000_000,
                             description="bootstrap the trades this many times (0: off)")
    seed: int = param(default=0, ge=0, description="seed of the Monte Carlo bootstrap")


def _find(storage: Storage, params: GetParams) -> StoredRun:
    if params.run_id is not None:
        return fetch_run(storage, params.run_id)
    runs, _ = list_runs(storage, strategy=params.strategy, symbol=params.symbol, limit=1)
    if not runs:
        what = " on ".join(x for x in (params.strategy, params.symbol) if x)
        raise NtNotFound(f"no stored backtest run of {what}; `backtest run` stores one, `backtest list` shows them")
    return runs[0]


async def _reproduce(host: Host, stored: StoredRun, frontend: str | None) -> Reproduction:
    spec = stored.spec
    request = StrategySelection(
        symbol=",".join(spec.symbols), provider=spec.provider, timeframe=Timeframe(spec.timeframe),
        start=stored.first_bar, end=stored.last_bar, strategy=spec.strategy, strategy_params=spec.params,
        config=spec.config, engine=spec.engine, benchmark=spec.benchmark)  # type: ignore[arg-type]
    prepared = await prepare(host, request, frontend=frontend)

    def rerun() -> Reproduction:
        result = prepared.compute()
        now_result = result_fingerprint(result.equity, result.trades)
        now_code = code_version(prepared.strategy)
        data_ok = prepared.data.fingerprint == stored.data_fingerprint
        result_ok = now_result == stored.result_fingerprint
        return Reproduction(reproduced=data_ok and result_ok, data_matches=data_ok, result_matches=result_ok,
                            code_matches=now_code == stored.code_version,
                            data_fingerprint=prepared.data.fingerprint, result_fingerprint=now_result,
                            code_version=now_code)

    return await anyio.to_thread.run_sync(rerun)


async def get(params: GetParams, ctx: Context) -> RunReport:
    ways = [name for name, given in (("run_id", params.run_id is not None), ("request", params.request is not None),
                                     ("strategy/symbol", params.strategy is not None or params.symbol is not None))
            if given]
    if len(ways) != 1:
        raise NtUserError("name the run one way: a run_id, a request, or a strategy and/or symbol (the newest "
                          f"match){'; got ' + ' and '.join(ways) if ways else ''}")
    check_monte_carlo(ctx.host, params.monte_carlo)
    data = None
    if params.request is not None:
        prepared = await prepare(ctx.host, params.request, frontend=ctx.frontend)
        stored, _ = await anyio.to_thread.run_sync(store, ctx.host, prepared)
        data = prepared.data
    else:
        stored = await anyio.to_thread.run_sync(_find, ctx.host.services.storage, params)
    reproduction = await _reproduce(ctx.host, stored, ctx.frontend) if params.reproduce else None
    return await anyio.to_thread.run_sync(lambda: report(
        stored, max_trades=params.max_trades, equity_points=params.equity_points,
        monte_carlo=params.monte_carlo, seed=params.seed, reproduction=reproduction, data=data))


# -- backtest.list -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ListParams:
    """Parameters of ``backtest.list``."""

    strategy: str | None = param(default=None, max_len=100, description="only runs of this strategy")
    symbol: str | None = param(default=None, max_len=50, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                               description="only runs that traded this symbol")
    limit: int = param(default=20, ge=1, le=1000, description="how many runs (newest first)")
    offset: int = param(default=0, ge=0, description="skip this many runs")


@attrs.frozen(kw_only=True)
class RunSummary:
    run_id: str
    created_at: dt.datetime
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    timeframe: str
    engine: str
    first_bar: dt.datetime
    last_bar: dt.datetime
    bars: int
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
    n_trades: int | None


@attrs.frozen(kw_only=True)
class ListResult:
    runs: list[RunSummary]
    total: int = param(description="how many stored runs match the filters")


def list_stored(params: ListParams, ctx: Context) -> ListResult:
    runs, total = list_runs(ctx.host.services.storage, strategy=params.strategy, symbol=params.symbol,
                            limit=params.limit, offset=params.offset)
    return ListResult(total=total, runs=[
        RunSummary(run_id=r.id, created_at=r.created_at, strategy=r.spec.strategy, params=r.spec.params,
                   symbols=list(r.spec.symbols), timeframe=r.spec.timeframe, engine=r.spec.engine,
                   first_bar=r.first_bar, last_bar=r.last_bar, bars=r.n_bars,
                   total_return=r.metrics.get("total_return"), sharpe=r.metrics.get("sharpe"),
                   max_drawdown=r.metrics.get("max_drawdown"), n_trades=r.metrics.get("n_trades"))
        for r in runs])


# -- backtest.compare ----------------------------------------------------------------------------
SortKey = Literal["sharpe", "total_return", "cagr", "sortino", "calmar", "max_drawdown", "profit_factor"]


@attrs.frozen(kw_only=True)
class CompareParams(DataSelection):
    """Parameters of ``backtest.compare``."""

    strategies: list[str] = param(
        factory=list, description="strategy names (each may be comma-separated); default: every strategy "
                                  "that trades this many symbols")
    config: BacktestConfig | None = param(default=None, description="fills, sizing, costs, exits (shared)")
    engine: EngineName = param(default="vectorized", description="vectorized or event")
    benchmark: str | None = param(default=None, max_len=50, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                                  description="a symbol to compare against")
    sort_by: SortKey = param(default="sharpe", description="metric the table is sorted by (best first)")
    chart: bool = param(default=False, description="return one PNG with every equity curve "
                                                   "(CLI: write it with --plot FILE)")


@attrs.frozen(kw_only=True)
class CompareRow:
    strategy: str
    run_id: str
    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    calmar: float | None
    profit_factor: float | None
    trade_win_rate: float | None
    n_trades: int | None
    exposure: float | None


@attrs.frozen(kw_only=True)
class Skipped:
    strategy: str
    reason: str


@attrs.frozen(kw_only=True)
class CompareResult:
    """Several strategies on the same bars: one table (best first) and one chart."""

    symbols: list[str]
    provider: str
    synthetic: bool = param(description="true when the bars were generated, not observed prices")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")
    timeframe: str
    first_bar: dt.datetime
    last_bar: dt.datetime
    bars: int
    buy_and_hold_return: float | None = param(description="return of holding the symbol(s) over the period")
    sorted_by: str
    rows: list[CompareRow]
    skipped: list[Skipped] = param(factory=list, description="strategies that could not run here, and why")
    chart: Image | None = attrs.field(default=None, metadata={
        "title": "Image", "description": "every equity curve in one PNG, when asked for (CLI: --plot FILE)"})


def _chosen_strategies(host: Host, params: CompareParams, n_symbols: int) -> tuple[list[Any], list[Skipped]]:
    names = [n.strip() for item in params.strategies for n in item.split(",") if n.strip()]
    if names:
        return [get_strategy(host, n) for n in dict.fromkeys(names)], []
    chosen, skipped = [], []
    for s in strategies_of(host):
        need = int(getattr(s, "symbols_required", 1))
        if need not in (1, n_symbols):
            skipped.append(Skipped(strategy=s.name, reason=f"trades {need} symbols together; give {need}"))
        elif params.engine == "vectorized" and not getattr(s, "has_signals", True):
            skipped.append(Skipped(strategy=s.name, reason="has no vectorized signals; use engine 'event'"))
        else:
            chosen.append(s)
    return chosen, skipped


def _missing_data(strategy: Any, params: Any, data: RunData) -> str | None:
    """Why ``strategy`` has nothing to act on in ``data`` (a one-symbol strategy: in any of the symbols)."""
    check = getattr(strategy, "missing_data", None)
    if check is None:
        return None
    if int(getattr(strategy, "symbols_required", 1)) != 1:
        return check(data.bars, params)
    reasons = [check(bars, params) for bars in data.bars]
    return "; ".join(reasons) if all(reasons) else None


def _compare_sync(host: Host, params: CompareParams, data: RunData, chosen: list[Any], skipped: list[Skipped],
                  ctx: Context) -> CompareResult:
    rows: list[CompareRow] = []
    curves = []
    config = effective_config(params.config, params.timeframe)
    for i, strategy in enumerate(chosen):
        ctx.progress(i, len(chosen), f"backtesting {strategy.name}")
        request = StrategySelection(
            symbol=params.symbol, provider=params.provider, file=params.file, timeframe=params.timeframe,
            start=params.start, end=params.end, strategy=strategy.name, config=config, engine=params.engine,
            benchmark=params.benchmark)
        try:
            resolved = resolve(host, request)
            missing = _missing_data(*resolved, data)
            if missing:
                skipped.append(Skipped(strategy=strategy.name, reason=missing))
                continue
            stored, _ = store(host, prepare_with(request, *resolved, data))
        except NtUserError as exc:
            skipped.append(Skipped(strategy=strategy.name, reason=exc.message))
            continue
        m = stored.metrics
        rows.append(CompareRow(
            strategy=strategy.name, run_id=stored.id, total_return=m.get("total_return"), cagr=m.get("cagr"),
            sharpe=m.get("sharpe"), sortino=m.get("sortino"), max_drawdown=m.get("max_drawdown"),
            calmar=m.get("calmar"), profit_factor=m.get("profit_factor"),
            trade_win_rate=m.get("trade_win_rate"), n_trades=m.get("n_trades"), exposure=m.get("exposure")))
        if params.chart:
            curves.append((strategy.name, stored.arrays["ts"], stored.arrays["equity"]))
    ctx.progress(len(chosen), len(chosen), "done")
    rows.sort(key=lambda r: _sort_value(r, params.sort_by))
    closes = np.column_stack([b.close for b in data.bars])
    hold = float(np.mean(closes[-1] / closes[0]) - 1.0)
    chart = None
    if params.chart and curves:
        from neural_trader.backtest.charts import lines_png

        hold_curve = config.init_cash * np.mean(closes / closes[0], axis=1)
        chart = Image.png(lines_png([*curves, ("buy & hold", data.bars[0].ts, hold_curve)],
                                   title=f"{', '.join(data.symbols)} {params.timeframe.value}: equity by strategy"
                                         + (" (SYNTHETIC DATA)" if data.synthetic else ""),
                                   ylabel="equity"))
    return CompareResult(symbols=list(data.symbols), provider=data.provider, synthetic=data.synthetic,
                         warnings=list(data.warnings), timeframe=params.timeframe.value,
                         first_bar=data.first, last_bar=data.last, bars=data.n, buy_and_hold_return=hold,
                         sorted_by=params.sort_by, rows=rows, skipped=skipped, chart=chart)


def _sort_value(row: CompareRow, key: str) -> tuple[bool, float, str]:
    value = getattr(row, key)
    return (value is None, -(value if value is not None else 0.0), row.strategy)


async def compare(params: CompareParams, ctx: Context) -> CompareResult:
    data = await load(ctx.host, params.data_request(params.benchmark, frontend=ctx.frontend))
    chosen, skipped = _chosen_strategies(ctx.host, params, len(data.symbols))
    if not chosen:
        raise NtUserError("no strategy can run on this selection: "
                          + "; ".join(f"{s.strategy}: {s.reason}" for s in skipped))
    return await anyio.to_thread.run_sync(_compare_sync, ctx.host, params, data, chosen, skipped, ctx)
