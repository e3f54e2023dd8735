"""The parameters, results and handlers of the risk, portfolio and analytics operations.

Handlers are thin: they fetch a portfolio's history (:mod:`.data`), call the maths modules
(:mod:`.var`, :mod:`.stress`, :mod:`.correlation`, :mod:`.sizing`, :mod:`.construction`,
:mod:`.performance`) in a worker thread, and convert units at the edge: the maths works per bar,
the operations speak **annualised** figures where a person expects them (expected return,
volatility, Sharpe, the risk-free rate, Black-Litterman views) and **per horizon** for VaR.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import attrs
import numpy as np

from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN, Timeframe
from neural_trader.domain.media import Image
from neural_trader.errors import NtUserError
from neural_trader.ops import Context, NoParams
from neural_trader.schema import param
from neural_trader_plugins.risk.data import HistoryParams, PortfolioData, PortfolioParams, load_portfolio

T = TypeVar("T")

_IMAGE = {"title": "Image", "description": "the PNG chart, when asked for (CLI: --plot FILE)"}


def chart_field() -> Any:
    # The explicit title lets the CLI see an optional picture (it looks for title "Image" on the property).
    return attrs.field(default=None, metadata=_IMAGE)


def periods_per_year(timeframe: Timeframe) -> float:
    from neural_trader.backtest.requests import PERIODS_PER_YEAR

    return PERIODS_PER_YEAR[timeframe]


async def in_thread(fn: Callable[[], T]) -> T:
    """Run the maths off the event loop (numpy and scipy release the GIL for the heavy parts)."""
    return await anyio.to_thread.run_sync(fn)


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a figure is reported as null."""
    return None if value is None or not math.isfinite(value) else float(value)


@attrs.frozen(kw_only=True)
class DataInfo:
    """The history the figures come from."""

    symbols: list[str] = param(description="the instruments, in the order of every per-asset list")
    provider: str = param(description="who served the bars")
    synthetic: bool = param(description="true when the numbers were generated, not observed: the figures then "
                                        "describe made-up prices")
    timeframe: Timeframe
    first: dt.datetime = param(description="end of the first return's bar")
    last: dt.datetime = param(description="end of the last return's bar")
    n_returns: int = param(unit="plain", description="returns per asset the figures use")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")

    @classmethod
    def of(cls, data: PortfolioData, timeframe: Timeframe) -> DataInfo:
        return cls(symbols=list(data.symbols), provider=data.provider, synthetic=data.synthetic, timeframe=timeframe,
                   first=data.first, last=data.last, n_returns=int(data.returns.shape[0]),
                   warnings=list(data.warnings))


# -- portfolio.optimize -------------------------------------------------------------------------------
class OptimizeMethod(enum.StrEnum):
    MIN_VARIANCE = "min_variance"
    MAX_SHARPE = "max_sharpe"
    RISK_PARITY = "risk_parity"
    BLACK_LITTERMAN = "black_litterman"
    HRP = "hrp"


@attrs.frozen(kw_only=True)
class View:
    """One Black-Litterman view: a portfolio of the symbols (weights; a relative view's sum to 0) and
    the annual return the investor expects of it."""

    weights: dict[str, float] = param(description="symbol -> weight in the view, e.g. {\"ORCL\": 1, \"NVDA\": -1} "
                                                  "for 'ORCL outperforms NVDA'")
    expected_return: float = param(description="the view's expected annual return, e.g. 0.05 for 5 %",
                                   unit="fraction", ge=-10, le=10)


@attrs.frozen(kw_only=True)
class OptimizeParams(HistoryParams):
    """Parameters of ``portfolio.optimize``."""

    method: OptimizeMethod = param(default=OptimizeMethod.MAX_SHARPE, description=(
        "min_variance, max_sharpe (tangency), risk_parity (equal risk contribution), black_litterman "
        "(equilibrium plus views) or hrp (hierarchical risk parity)"))
    lower: float = param(default=0.0, ge=-10, le=1, unit="fraction",
                         description="smallest weight of any asset (negative allows shorting)")
    upper: float = param(default=1.0, ge=0, le=10, unit="fraction", description="largest weight of any asset")
    unconstrained: bool = param(default=False, description=(
        "no bounds at all (shorting and leverage allowed): min_variance and max_sharpe then use their closed "
        "forms, black_litterman He-Litterman's weights; risk_parity and hrp are long-only by construction"))
    risk_free: float = param(default=0.0, ge=-1, le=1, unit="fraction", description="annual risk-free rate")
    risk_budgets: list[float] | None = param(default=None, max_len=100, description=(
        "risk_parity: each symbol's share of the risk (positive, summing to 1); default equal"))
    market_weights: list[float] | None = param(default=None, max_len=100, description=(
        "black_litterman: market-capitalisation weights the equilibrium is implied from; default equal"))
    views: list[View] = param(factory=list, max_len=50, description="black_litterman: the investor's views")
    tau: float = param(default=0.05, gt=0, le=10, description="black_litterman: uncertainty of the equilibrium "
                                                             "(scales the prior covariance)")
    risk_aversion: float = param(default=2.5, gt=0, le=100, description="black_litterman: delta, the market's "
                                                                       "risk aversion")


@attrs.frozen(kw_only=True)
class Allocation:
    symbol: str
    weight: float = param(unit="fraction", description="fraction of the portfolio (negative: short)")
    risk_contribution: float = param(unit="fraction", description="share of the portfolio's variance")
    expected_return: float | None = param(unit="fraction", description="the asset's annual expected return used "
                                                                       "(black_litterman: the posterior)")
    volatility: float = param(unit="fraction", description="the asset's annual volatility")
    equilibrium_return: float | None = param(unit="fraction", description=(
        "black_litterman: the return implied by the market weights, before the views"))


@attrs.frozen(kw_only=True)
class OptimizeResult:
    """The optimal weights and what they imply, annualised."""

    method: OptimizeMethod
    allocations: list[Allocation]
    expected_return: float | None = param(unit="fraction", description="annual expected return of the portfolio")
    volatility: float = param(unit="fraction", description="annual volatility of the portfolio")
    sharpe: float | None = param(description="annual Sharpe ratio (excess of risk_free)")
    invested: float = param(unit="fraction", description="sum of the weights (1 unless He-Litterman's unconstrained "
                                                         "weights leave some in cash)")
    solver: str = param(description="how the weights were found (closed form, or the scipy solver and its status)")
    data: DataInfo


def _bounds(params: OptimizeParams) -> Any:
    if params.unconstrained:
        return None
    if params.lower > params.upper:
        raise NtUserError(f"lower ({params.lower}) is above upper ({params.upper}); swap them")
    return (params.lower, params.upper)


def _views(views: list[View], symbols: tuple[str, ...], ppy: float) -> dict[str, Any] | None:
    if not views:
        return None
    index = {s: i for i, s in enumerate(symbols)}
    p = np.zeros((len(views), len(symbols)))
    for k, view in enumerate(views):
        if not view.weights:
            raise NtUserError(f"views[{k}].weights is empty; name the symbols the view is about")
        for symbol, w in view.weights.items():
            i = index.get(symbol.strip().upper())
            if i is None:
                raise NtUserError(f"views[{k}].weights names {symbol!r}, which is not one of the symbols "
                                  f"({', '.join(symbols)})")
            if not math.isfinite(w):
                raise NtUserError(f"views[{k}].weights[{symbol!r}] must be a finite number")
            p[k, i] = w
    return {"P": p, "Q": [v.expected_return / ppy for v in views]}


async def optimize(params: OptimizeParams, ctx: Context) -> OptimizeResult:
    from neural_trader_plugins.risk import construction

    if params.method is OptimizeMethod.BLACK_LITTERMAN and not params.views:
        raise NtUserError("black_litterman needs at least one view in views (e.g. {\"weights\": {\"ORCL\": 1, "
                          "\"NVDA\": -1}, \"expected_return\": 0.05}); without views it is the market portfolio")
    data = await load_portfolio(params, ctx, min_periods=len(params.symbols) + 1 if params.symbols else 2)
    ppy = periods_per_year(params.timeframe)
    method = params.method.value
    extra: dict[str, Any] = {}
    if params.method is OptimizeMethod.RISK_PARITY and params.risk_budgets is not None:
        extra["budgets"] = params.risk_budgets
    if params.method is OptimizeMethod.BLACK_LITTERMAN:
        n = len(data.symbols)
        extra.update(market_weights=params.market_weights if params.market_weights is not None else [1.0 / n] * n,
                     views=_views(params.views, data.symbols, ppy), tau=params.tau,
                     # Pi = delta cov w holds in any unit of time: delta is the same per bar as per year.
                     delta=params.risk_aversion)
    elif params.views or params.market_weights is not None:
        raise NtUserError(f"views and market_weights are black_litterman inputs; method {method} takes neither")
    elif params.risk_budgets is not None and params.method is not OptimizeMethod.RISK_PARITY:
        raise NtUserError(f"risk_budgets is a risk_parity input; method {method} does not take it")
    bounds = _bounds(params)
    if params.method in (OptimizeMethod.RISK_PARITY, OptimizeMethod.HRP):
        if params.unconstrained or (params.lower, params.upper) != (0.0, 1.0):
            raise NtUserError(f"{method} is long-only by construction; leave lower, upper and unconstrained at "
                              "their defaults")
        bounds = construction.LONG_ONLY
    rf = params.risk_free / ppy
    result = await in_thread(lambda: construction.optimize(method, returns=data.returns, bounds=bounds,
                                                           risk_free=rf, **extra))
    cov = np.cov(data.returns, rowvar=False).reshape(len(data.symbols), len(data.symbols))
    vols = np.sqrt(np.diag(cov) * ppy)
    bl = result.black_litterman
    means = bl.posterior_mean if bl is not None else data.returns.mean(axis=0)
    allocations = [Allocation(symbol=s, weight=float(result.weights[i]),
                              risk_contribution=float(result.risk_contributions[i]),
                              expected_return=float(means[i] * ppy), volatility=float(vols[i]),
                              equilibrium_return=None if bl is None else float(bl.equilibrium[i] * ppy))
                   for i, s in enumerate(data.symbols)]
    er = result.expected_return
    return OptimizeResult(
        method=params.method, allocations=allocations, expected_return=None if er is None else er * ppy,
        volatility=result.volatility * math.sqrt(ppy),
        sharpe=None if result.sharpe is None else finite(result.sharpe * math.sqrt(ppy)),
        invested=float(result.weights.sum()), solver=result.status, data=DataInfo.of(data, params.timeframe))


# -- analytics.performance_report -----------------------------------------------------------------------
class PerformanceChart(enum.StrEnum):
    EQUITY = "equity"
    DRAWDOWN = "drawdown"
    ROLLING_SHARPE = "rolling_sharpe"


@attrs.frozen(kw_only=True)
class PerformanceParams(HistoryParams):
    """Parameters of ``analytics.performance_report``."""

    run_id: str | None = param(default=None, min_len=6, max_len=64, pattern=r"^[0-9a-f]+$", description=(
        "a stored backtest (backtest.list shows them; a unique prefix of 6+ digits will do): its equity curve is "
        "reported. Without it: the portfolio of symbols and weights, rebalanced to its weights every bar"))
    weights: list[float] | None = param(default=None, max_len=100, description=(
        "fraction of the portfolio in each symbol (summing to 1); default equal weights"))
    benchmark: str | None = param(default=None, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description=(
        "the instrument to compare with, e.g. SPY (default: a stored run's own benchmark, else none)"))
    risk_free: float = param(default=0.0, ge=-1, le=1, unit="fraction", description="annual risk-free rate")
    window: int = param(default=63, ge=2, le=10_000, description="bars in each rolling window (63: a quarter)")
    chart: PerformanceChart | None = param(default=None, description="return a PNG: equity (with the benchmark), "
                                                                    "drawdown or rolling_sharpe")


@attrs.frozen(kw_only=True)
class MetricsView:
    """Performance metrics of one return series (annualised where the name says a rate)."""

    total_return: float | None = param(unit="fraction")
    cagr: float | None = param(unit="fraction", description="compound annual growth rate")
    volatility: float | None = param(unit="fraction", description="annualised standard deviation of returns")
    sharpe: float | None
    sortino: float | None
    downside_risk: float | None = param(unit="fraction")
    max_drawdown: float | None = param(unit="fraction", description="deepest fall from a peak (negative)")
    max_drawdown_duration: int | None = param(description="longest stretch below a peak, in bars")
    calmar: float | None
    win_rate: float | None = param(unit="fraction")
    profit_factor: float | None
    n_periods: int = param(description="returns measured")

    @classmethod
    def of(cls, m: Any) -> MetricsView:
        return cls(total_return=finite(m.total_return), cagr=finite(m.cagr), volatility=finite(m.annual_volatility),
                   sharpe=finite(m.sharpe), sortino=finite(m.sortino), downside_risk=finite(m.downside_risk),
                   max_drawdown=finite(m.max_drawdown), max_drawdown_duration=int(m.max_drawdown_duration),
                   calmar=finite(m.calmar), win_rate=finite(m.win_rate), profit_factor=finite(m.profit_factor),
                   n_periods=int(m.n_periods))


@attrs.frozen(kw_only=True)
class RelativeView:
    """Against the benchmark (empyrical's definitions)."""

    alpha: float | None = param(unit="fraction", description="annualised Jensen's alpha")
    beta: float | None
    tracking_error: float | None = param(unit="fraction", description="annualised standard deviation of the "
                                                                      "excess returns")
    information_ratio: float | None = param(description="annualised mean excess return over tracking error")
    up_capture: float | None = param(description="the share of the benchmark's up-bar growth captured")
    down_capture: float | None = param(description="the share of the benchmark's down-bar loss taken")
    correlation: float | None
    excess_return: float | None = param(unit="fraction", description="CAGR minus the benchmark's CAGR")


@attrs.frozen(kw_only=True)
class YearReturns:
    year: int
    months: list[float | None] = param(description="January to December (null: no data that month)")
    total: float | None = param(unit="fraction", description="the year's compounded return")


@attrs.frozen(kw_only=True)
class PerformanceResult:
    """A strategy's or a portfolio's metrics, against a benchmark when one is given."""

    subject: str = param(description="what is reported: a stored run's id, or the portfolio's symbols and weights")
    metrics: MetricsView
    benchmark: str | None
    benchmark_metrics: MetricsView | None
    relative: RelativeView | None
    monthly: list[YearReturns] = param(description="monthly returns, one row per calendar year")
    rolling_window: int
    rolling_sharpe_last: float | None = param(description="the latest rolling Sharpe ratio")
    data: DataInfo
    chart: Image | None = chart_field()


async def _run_returns(params: PerformanceParams, ctx: Context) -> tuple[np.ndarray, np.ndarray, str, Any]:
    """(returns, end times ns, subject, the run) of a stored backtest."""
    from neural_trader.backtest.runs import fetch_run
    from neural_trader.native import metrics

    assert params.run_id is not None
    run_id = params.run_id
    run = await in_thread(lambda: fetch_run(ctx.host.services.storage, run_id))
    equity = np.ascontiguousarray(run.arrays["equity"], dtype=np.float64)
    if equity.shape[0] < 3:
        raise NtUserError(f"run {run.id[:12]} has {equity.shape[0]} bars of equity; a report needs at least 3")
    # As the backtest measured them: the first bar's return is from the starting cash.
    full = np.concatenate([[float(run.spec.config.init_cash)], equity])
    return metrics.returns_from_equity(full), np.asarray(run.arrays["ts"]), f"backtest {run.id[:12]}", run


async def performance_report(params: PerformanceParams, ctx: Context) -> PerformanceResult:
    from neural_trader.domain.market import from_ns
    from neural_trader_plugins.risk import performance

    if params.run_id is not None:
        if params.symbols or params.weights is not None:
            raise NtUserError("give run_id or symbols (and weights), not both")
        returns, ts, subject, run = await _run_returns(params, ctx)
        spec = run.spec
        bench_symbol = params.benchmark or spec.benchmark
        timeframe = Timeframe(spec.timeframe)
        info = DataInfo(symbols=list(spec.symbols), provider=run.provider, synthetic="synthetic" in run.provider,
                        timeframe=timeframe, first=from_ns(int(ts[0])), last=from_ns(int(ts[-1])),
                        n_returns=int(returns.shape[0]), warnings=[])
        bench = None
        if bench_symbol:
            bench_data = await load_portfolio(HistoryParams(symbols=[bench_symbol], start=run.first_bar, end=run.last_bar,
                                                            timeframe=timeframe, provider=spec.provider), ctx)
            times = bench_data.ts
            common, mine, theirs = np.intersect1d(ts, times, return_indices=True)
            if common.shape[0] < 2:
                raise NtUserError(f"benchmark {bench_symbol} has no bars in common with run {run.id[:12]}")
            # Compound the run's returns between the bars both have, so both measure the same periods.
            growth = np.cumprod(1.0 + returns)
            returns = growth[mine[1:]] / growth[mine[:-1]] - 1.0
            level = bench_data.closes[theirs, 0]
            bench = np.ascontiguousarray(level[1:] / level[:-1] - 1.0)
            ts = common[1:]
            info = attrs.evolve(info, n_returns=int(returns.shape[0]), first=from_ns(int(ts[0])),
                                warnings=list(bench_data.warnings))
    else:
        bench_symbol = params.benchmark
        data = await load_portfolio(params, ctx, benchmark=bench_symbol, min_periods=3)
        returns = np.ascontiguousarray(data.returns @ data.weights)
        bench = data.benchmark
        ts = data.ts[1:]
        subject = ", ".join(f"{s} {w:.1%}" for s, w in zip(data.symbols, data.weights, strict=True))
        info = DataInfo.of(data, params.timeframe)
        timeframe = params.timeframe
    ppy = periods_per_year(timeframe)
    dates = ts.astype("datetime64[ns]").astype("datetime64[D]")
    report = await in_thread(lambda: performance.performance_report(
        np.ascontiguousarray(returns), None if bench is None else np.ascontiguousarray(bench),
        periods_per_year=ppy, risk_free=params.risk_free / ppy, dates=dates, window=params.window))
    rel = report.relative
    monthly = [] if report.monthly is None else [
        YearReturns(year=int(y), months=[finite(v) for v in report.monthly.table[i]],
                    total=finite(float(report.monthly.yearly[i]))) for i, y in enumerate(report.monthly.years)]
    chart = None
    if params.chart is not None:
        kind = params.chart.value
        png = await in_thread(lambda: performance.performance_png(report, kind, title=subject))
        chart = Image.png(png)
    sharpe = report.rolling.sharpe
    last = next((float(v) for v in sharpe[::-1] if math.isfinite(v)), None)
    return PerformanceResult(
        subject=subject, metrics=MetricsView.of(report.metrics), benchmark=bench_symbol.upper() if bench_symbol else None,
        benchmark_metrics=None if report.benchmark_metrics is None else MetricsView.of(report.benchmark_metrics),
        relative=None if rel is None else RelativeView(**{k: finite(v) for k, v in attrs.asdict(rel).items()}),
        monthly=monthly, rolling_window=params.window, rolling_sharpe_last=last, data=info, chart=chart)


# -- shared: the VaR question ---------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class VarQuestion(PortfolioParams):
    """A portfolio, and the VaR question: confidence, horizon, the Monte Carlo knobs."""

    confidence: float = param(default=0.99, gt=0, lt=1, description="probability the loss stays within VaR, "
                                                                    "e.g. 0.99")
    horizon: int = param(default=1, ge=1, le=2520, description="bars the loss is measured over (1Day bars: days)")
    value: float | None = param(default=None, gt=0, le=1e15, unit="money", description=(
        "the portfolio's value; when given, every loss is also stated in money"))
    n_scenarios: int = param(default=100_000, ge=1000, le=20_000_000, description=(
        "Monte Carlo scenarios (8 bytes of memory each)"))
    seed: int = param(default=0, ge=0, le=2**63 - 1, description="Monte Carlo seed (the same seed, the same "
                                                                 "scenarios)")
    use_gpu: bool | None = param(default=None, description=(
        "Monte Carlo on a CUDA GPU through torch: true to ask for it (falls back to the CPU kernel, saying so), "
        "false never; default: on a GPU from 1M scenarios when one is there"))
    dof: float | None = param(default=None, gt=2, le=1000, description="Student-t degrees of freedom; default "
                                                                       "fitted from the kurtosis")


#: Monte Carlo work one request may ask for: scenarios x assets (about 2 s of one CPU core).
MAX_SCENARIO_ASSETS = 200_000_000


def _check_work(q: VarQuestion, data: PortfolioData, monte_carlo: bool) -> None:
    n = len(data.symbols)
    if monte_carlo and q.n_scenarios * n > MAX_SCENARIO_ASSETS:
        raise NtUserError(f"n_scenarios x assets = {q.n_scenarios:,} x {n} is more than {MAX_SCENARIO_ASSETS:,}; "
                          f"ask for at most {MAX_SCENARIO_ASSETS // n:,} scenarios with {n} assets")


def _money(fraction: float | None, value: float | None) -> float | None:
    return None if fraction is None or value is None else fraction * value


def _model_names(ctx: Context) -> list[str]:
    """Registered risk models: the built-in ones in their order, then the packs' by name."""
    from neural_trader_plugins.risk.models import BUILTIN

    names = ctx.host.registry("risk_models").names()
    first = [m.name for m in BUILTIN if m.name in names]
    return first + [n for n in names if n not in first]


def _model(ctx: Context, name: str, field: str) -> Any:
    registry = ctx.host.registry("risk_models")
    if name not in registry:
        raise NtUserError(f"{field} must name a risk model ({', '.join(registry.names())}; risk.models describes "
                          f"them), got {name!r}")
    return registry.get(name)


def _inputs(data: PortfolioData, q: VarQuestion) -> Any:
    from neural_trader_plugins.risk.models import RiskInputs

    return RiskInputs(returns=data.returns, weights=data.weights, confidence=q.confidence, horizon=q.horizon,
                      n_scenarios=q.n_scenarios, seed=q.seed, use_gpu=q.use_gpu, dof=q.dof)


@attrs.frozen(kw_only=True)
class VarFigure:
    """VaR and CVaR by one method: losses as positive fractions of the portfolio over the horizon."""

    method: str
    var: float | None = param(unit="fraction", description="value at risk: the loss not exceeded with the confidence")
    cvar: float | None = param(unit="fraction", description="conditional VaR (expected shortfall): the mean loss "
                                                            "beyond VaR")
    var_amount: float | None = param(unit="money", description="VaR in money (when value is given)")
    cvar_amount: float | None = param(unit="money", description="CVaR in money (when value is given)")
    details: dict[str, float | int | str] = param(description=(
        "what the method used: mean/sigma over the horizon, dof, skew/excess_kurtosis, n_windows, or the "
        "Monte Carlo engine, n_scenarios and seed"))

    @classmethod
    def of(cls, e: Any, value: float | None) -> VarFigure:
        details = {k: (finite(v) if isinstance(v, float) else v) for k, v in dict(e.params).items()}
        var_, cvar_ = finite(e.var), finite(e.cvar)
        return cls(method=e.method, var=var_, cvar=cvar_, var_amount=_money(var_, value),
                   cvar_amount=_money(cvar_, value), details={k: v for k, v in details.items() if v is not None})


# -- risk.var -------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class RiskVarParams(VarQuestion):
    """Parameters of ``risk.var``."""

    method: str = param(default="historical", min_len=1, max_len=64, pattern=r"^[a-z][a-z0-9_]*$", description=(
        "the risk model: historical, normal, student_t, cornish_fisher, monte_carlo, or one a pack registered "
        "(risk.models lists them)"))


@attrs.frozen(kw_only=True)
class RiskVarResult:
    """One method's VaR and CVaR of the portfolio."""

    figure: VarFigure
    confidence: float
    horizon: int
    weights: dict[str, float] = param(description="symbol -> weight the figures are for")
    data: DataInfo


async def risk_var(params: RiskVarParams, ctx: Context) -> RiskVarResult:
    model = _model(ctx, params.method, "method")
    data = await load_portfolio(params, ctx, min_periods=max(len(params.symbols) + 1, params.horizon + 1))
    _check_work(params, data, monte_carlo=params.method == "monte_carlo")
    estimate = await in_thread(lambda: model.estimate(_inputs(data, params)))
    return RiskVarResult(figure=VarFigure.of(estimate, params.value), confidence=params.confidence,
                         horizon=params.horizon, weights=dict(zip(data.symbols, data.weights.tolist(), strict=True)),
                         data=DataInfo.of(data, params.timeframe))


# -- risk.models ----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ModelInfo:
    name: str
    summary: str
    plugin: str = param(description="the plugin that registered it")


@attrs.frozen(kw_only=True)
class ModelsResult:
    models: list[ModelInfo]
    scenarios: list[ScenarioInfo] = param(description="the historical stress scenarios risk.stress replays")


@attrs.frozen(kw_only=True)
class ScenarioInfo:
    name: str
    start: dt.date = param(description="the close the replay starts from")
    end: dt.date = param(description="the last close of the replay")
    description: str


def _scenario_infos() -> list[ScenarioInfo]:
    from neural_trader_plugins.risk import stress

    return [ScenarioInfo(name=s.name, start=s.start, end=s.end, description=s.description)
            for s in stress.list_scenarios()]


def risk_models(params: NoParams, ctx: Context) -> ModelsResult:
    registry = ctx.host.registry("risk_models")
    return ModelsResult(models=[ModelInfo(name=n, summary=registry.get(n).summary, plugin=registry.owner(n))
                                for n in _model_names(ctx)], scenarios=_scenario_infos())


# -- risk.analyze ---------------------------------------------------------------------------------------
class AnalyzeChart(enum.StrEnum):
    CORRELATION = "correlation"
    CONTRIBUTIONS = "contributions"
    LOSSES = "losses"


@attrs.frozen(kw_only=True)
class AnalyzeParams(VarQuestion):
    """Parameters of ``risk.analyze``."""

    methods: list[str] | None = param(default=None, max_len=20, item_pattern=r"^[a-z][a-z0-9_]*$", description=(
        "risk models to report (risk.models lists them); default every registered one"))
    ewma_lambda: float = param(default=0.94, gt=0, lt=1, description="decay of the EWMA volatility (RiskMetrics: "
                                                                     "0.94 for daily bars)")
    chart: AnalyzeChart | None = param(default=None, description=(
        "return a PNG: correlation (clustered heatmap), contributions (each asset's share of VaR) or losses "
        "(the simulated or historical loss distribution with VaR and CVaR)"))


@attrs.frozen(kw_only=True)
class AssetFigures:
    """One asset of the portfolio."""

    symbol: str
    weight: float = param(unit="fraction")
    annual_return: float | None = param(unit="fraction", description="mean return per bar times bars per year")
    annual_volatility: float | None = param(unit="fraction")
    ewma_volatility: float | None = param(unit="fraction", description="the latest EWMA volatility, annualised")
    standalone_var: float | None = param(unit="fraction", description="normal VaR of this position held alone "
                                                                      "(a fraction of the portfolio)")
    historical_var: float | None = param(unit="fraction", description="historical VaR of this position alone")
    marginal_var: float | None = param(description="d VaR / d weight (normal VaR)")
    component_var: float | None = param(unit="fraction", description="weight x marginal VaR: the components sum to "
                                                                     "the portfolio's normal VaR")
    var_share: float | None = param(unit="fraction", description="component VaR / portfolio normal VaR")


@attrs.frozen(kw_only=True)
class PortfolioFigures:
    annual_return: float | None = param(unit="fraction")
    annual_volatility: float | None = param(unit="fraction")
    skew: float | None = param(description="of the per-bar portfolio returns")
    excess_kurtosis: float | None = param(description="of the per-bar portfolio returns (0 for a normal)")
    diversification_ratio: float | None = param(description="sum of |w| x asset volatility / portfolio volatility "
                                                            "(1: no diversification)")
    var_diversification_ratio: float | None = param(description="sum of stand-alone normal VaRs / portfolio VaR")
    diversification_benefit: float | None = param(unit="fraction", description="stand-alone VaRs minus the "
                                                                               "portfolio's normal VaR")
    average_correlation: float | None = param(description="mean of the pairwise correlations (null: one asset)")


@attrs.frozen(kw_only=True)
class MonteCarloSummary:
    engine: str = param(description="native (the C kernel on CPU), torch-cuda or torch-cpu")
    n_scenarios: int
    seed: int
    mean_loss: float | None = param(unit="fraction")
    loss_std: float | None = param(unit="fraction")
    quantiles: dict[str, float | None] = param(description="loss quantile by level, e.g. {\"0.99\": 0.031}")
    note: str = param(description="why the engine is not the one asked for (empty otherwise)")


@attrs.frozen(kw_only=True)
class DrawdownPeriodView:
    peak: dt.datetime
    trough: dt.datetime
    recovery: dt.datetime | None = param(description="null: not recovered by the last bar")
    depth: float = param(unit="fraction", description="fall from the peak (positive)")
    bars: int = param(unit="plain", description="bars from the peak to the recovery (or to the last bar)")


@attrs.frozen(kw_only=True)
class DrawdownFigures:
    max_drawdown: float | None = param(unit="fraction", description="deepest fall from a peak (positive)")
    current_drawdown: float | None = param(unit="fraction")
    ulcer_index: float | None = param(unit="plain", description="root mean square of the drawdowns in percent "
                                                                "(14.9 is 14.9 %)")
    time_under_water: float | None = param(unit="fraction", description="share of bars below a previous peak")
    longest_under_water: int = param(unit="plain", description="bars of the longest spell below a peak")
    worst: list[DrawdownPeriodView] = param(description="the three deepest drawdowns")


@attrs.frozen(kw_only=True)
class AnalyzeResult:
    """A portfolio's risk: VaR/CVaR by each method, per-asset figures and contributions, correlation,
    diversification, drawdowns and the Monte Carlo summary."""

    confidence: float
    horizon: int
    value: float | None = param(unit="money")
    methods: list[VarFigure]
    portfolio: PortfolioFigures
    assets: list[AssetFigures]
    correlation: list[list[float | None]] = param(description="Pearson correlation matrix, rows and columns in the "
                                                              "order of assets")
    monte_carlo: MonteCarloSummary | None
    drawdown: DrawdownFigures
    data: DataInfo
    chart: Image | None = chart_field()


def _analysis(data: PortfolioData, params: AnalyzeParams, builtin: tuple[str, ...]) -> tuple[Any, Any, Any, Any]:
    from neural_trader.native import risk as native_risk
    from neural_trader_plugins.risk import drawdown, var, volatility
    from neural_trader_plugins.risk.models import MC_THREADS

    report = var.var_report(data.returns, data.weights, confidence=params.confidence, horizon=params.horizon,
                            methods=builtin or ("normal",), dof=params.dof, n_scenarios=params.n_scenarios,
                            seed=params.seed, use_gpu=params.use_gpu, threads=MC_THREADS)
    corr = native_risk.correlation(data.returns) if data.returns.shape[1] > 1 else np.ones((1, 1))
    ewma = [volatility.ewma_volatility(np.ascontiguousarray(data.returns[:, i]), params.ewma_lambda).last
            for i in range(data.returns.shape[1])]
    portfolio = np.ascontiguousarray(data.returns @ data.weights)
    return report, corr, ewma, (drawdown.underwater_stats(portfolio), drawdown.drawdown_periods(portfolio, top=3))


async def analyze(params: AnalyzeParams, ctx: Context) -> AnalyzeResult:
    from neural_trader_plugins.risk.models import BUILTIN

    names = params.methods if params.methods is not None else _model_names(ctx)
    models = [_model(ctx, n, "methods") for n in dict.fromkeys(names)]
    if not models:
        raise NtUserError("methods is empty; name at least one risk model (risk.models lists them)")
    data = await load_portfolio(params, ctx, min_periods=max(len(params.symbols) + 1, params.horizon + 1, 3))
    _check_work(params, data, monte_carlo=any(m.name == "monte_carlo" for m in models))
    # The built-in models are computed together (one covariance, one pass); a pack's models one by one.
    builtin = tuple(m.name for m in models if any(m is b for b in BUILTIN))
    report, corr, ewma, (under, periods) = await in_thread(lambda: _analysis(data, params, builtin))
    figures = {name: VarFigure.of(report.methods[name], params.value) for name in builtin}
    others = [m for m in models if m.name not in figures]
    if others:
        inputs = _inputs(data, params)
        for m in others:
            figures[m.name] = VarFigure.of(await in_thread(functools.partial(m.estimate, inputs)), params.value)
    ppy = periods_per_year(params.timeframe)
    root = math.sqrt(ppy)
    c = report.contributions
    assets = [AssetFigures(symbol=s, weight=a.weight, annual_return=finite(a.mean * ppy),
                           annual_volatility=finite(a.volatility * root), ewma_volatility=finite(ewma[i] * root),
                           standalone_var=finite(a.normal_var), historical_var=finite(a.historical_var),
                           marginal_var=finite(c.marginal[i]), component_var=finite(c.component[i]),
                           var_share=finite(c.percent[i]))
              for i, (s, a) in enumerate(zip(data.symbols, report.assets, strict=True))]
    n = len(data.symbols)
    pairs = corr[np.triu_indices(n, 1)] if n > 1 else np.array([])
    d = report.diversification
    portfolio = PortfolioFigures(
        annual_return=finite(report.mean * ppy), annual_volatility=finite(report.volatility * root),
        skew=finite(report.skew), excess_kurtosis=finite(report.excess_kurtosis),
        diversification_ratio=finite(d.volatility_ratio), var_diversification_ratio=finite(d.var_ratio),
        diversification_benefit=finite(d.benefit), average_correlation=finite(float(pairs.mean())) if n > 1 else None)
    mc = report.monte_carlo
    summary = None if mc is None else MonteCarloSummary(
        engine=mc.engine, n_scenarios=mc.n_scenarios, seed=mc.seed, mean_loss=finite(mc.mean), loss_std=finite(mc.std),
        quantiles={f"{q:g}": finite(v) for q, v in zip(mc.quantile_levels, mc.quantiles, strict=True)}, note=mc.note)
    at = data.time  # drawdown indices count wealth points: 0 is the first close
    worst = [DrawdownPeriodView(peak=at(p.peak), trough=at(p.trough),
                                recovery=None if p.recovery is None else at(p.recovery), depth=abs(p.depth),
                                bars=p.duration) for p in periods]
    drawdown = DrawdownFigures(max_drawdown=finite(abs(under.max_drawdown)), current_drawdown=finite(abs(under.current_drawdown)),
                               ulcer_index=finite(under.ulcer_index), time_under_water=finite(under.time_under_water.fraction),
                               longest_under_water=under.time_under_water.longest, worst=worst)
    chart = None
    if params.chart is not None:
        from neural_trader_plugins.risk import charts

        kind = params.chart
        png = await in_thread(lambda: charts.analyze_png(kind.value, data=data, report=report, corr=corr))
        chart = Image.png(png)
    return AnalyzeResult(confidence=params.confidence, horizon=params.horizon, value=params.value,
                         methods=[figures[m.name] for m in models], portfolio=portfolio, assets=assets,
                         correlation=[[finite(float(v)) for v in row] for row in corr], monte_carlo=summary,
                         drawdown=drawdown, data=DataInfo.of(data, params.timeframe), chart=chart)

# -- risk.stress ----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class StressParams(PortfolioParams):
    """Parameters of ``risk.stress``."""

    value: float = param(default=100_000.0, gt=0, le=1e15, unit="money", description="the portfolio's value")
    scenarios: list[str] | None = param(default=None, max_len=50, item_pattern=r"^[a-z0-9_]+$", description=(
        "historical scenarios to replay (risk.models lists them; [] for none); default every one the data covers"))
    shocks: dict[str, float] = param(factory=dict, description=(
        "user-defined shocks: symbol -> return, e.g. {\"NVDA\": -0.3}; unnamed symbols stay put"))
    factor: str | None = param(default=None, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description=(
        "a market factor (e.g. SPY): each asset's beta to it is estimated over start..end, and factor_shock "
        "moves each asset by beta x shock"))
    factor_shock: float | None = param(default=None, ge=-1, le=10, unit="fraction",
                                       description="the factor's return in the factor scenario, e.g. -0.2")
    ladder: bool = param(default=True, description="add a sensitivity ladder: P&L for uniform shocks to every asset "
                                                   "(by its beta when factor is given)")
    ladder_low: float = param(default=-0.3, ge=-1, le=0, unit="fraction", description="the ladder's lowest shock")
    ladder_high: float = param(default=0.3, ge=0, le=10, unit="fraction", description="the ladder's highest shock")
    ladder_step: float = param(default=0.05, gt=0, le=1, unit="fraction", description="the step between rungs")
    chart: bool = param(default=False, description="return the ladder as a PNG")


@attrs.frozen(kw_only=True)
class AssetMove:
    symbol: str
    position: float = param(unit="money", description="the value held")
    move: float = param(unit="fraction", description="the asset's return in the scenario")
    pnl: float = param(unit="money")


@attrs.frozen(kw_only=True)
class ReplayView:
    """A historical scenario replayed buy and hold from its first close."""

    scenario: str
    description: str
    first: dt.date = param(description="first date with a return in the replay")
    last: dt.date
    days: int
    pnl: float = param(unit="money")
    total_return: float = param(unit="fraction")
    worst_day: float = param(unit="fraction", description="the portfolio's worst daily return")
    worst_day_date: dt.date
    max_drawdown: float = param(unit="fraction", description="deepest fall from a peak inside the window")
    assets: list[AssetMove]


@attrs.frozen(kw_only=True)
class SkippedScenario:
    scenario: str
    reason: str


@attrs.frozen(kw_only=True)
class ShockView:
    name: str = param(description="shocks (per asset) or factor")
    pnl: float = param(unit="money")
    total_return: float = param(unit="fraction")
    assets: list[AssetMove]


@attrs.frozen(kw_only=True)
class LadderRung:
    shock: float = param(unit="fraction")
    pnl: float = param(unit="money")
    total_return: float = param(unit="fraction")


@attrs.frozen(kw_only=True)
class StressResult:
    """Historical replays, user-defined shocks and a sensitivity ladder of one portfolio."""

    value: float = param(unit="money")
    weights: dict[str, float]
    replays: list[ReplayView]
    skipped: list[SkippedScenario] = param(description="scenarios the data does not cover (with the data's range)")
    shocks: list[ShockView]
    betas: dict[str, float] | None = param(description="each asset's beta to the factor, when one is given")
    ladder: list[LadderRung]
    data: DataInfo
    chart: Image | None = chart_field()


def _moves(result: Any, positions: dict[str, float]) -> list[AssetMove]:
    return [AssetMove(symbol=s, position=positions[s], move=result.asset_shocks[s], pnl=result.asset_pnl[s])
            for s in positions]


async def _replays(params: StressParams, ctx: Context, positions: dict[str, float]
                   ) -> tuple[list[ReplayView], list[SkippedScenario]]:
    from neural_trader_plugins.risk import stress

    asked = params.scenarios
    chosen = [stress.scenario_window(n) for n in asked] if asked is not None else list(stress.list_scenarios())
    if not chosen:
        return [], []
    window = HistoryParams(symbols=list(positions), start=dt.datetime.combine(
        min(s.start for s in chosen) - dt.timedelta(days=10), dt.time(), dt.UTC),
        end=dt.datetime.combine(max(s.end for s in chosen) + dt.timedelta(days=1), dt.time(), dt.UTC),
        timeframe=Timeframe.DAY_1, provider=params.provider)
    try:
        data = await load_portfolio(window, ctx)
    except NtUserError as exc:
        names = ", ".join(f"{s.name} ({s.start}..{s.end})" for s in chosen)
        raise NtUserError(f"scenarios {names}: {exc.message}; pick scenarios the data covers (risk.models lists "
                          "their windows)") from None
    dates = data.dates
    columns = data.returns
    replays, skipped = [], []
    for sc in chosen:
        try:
            r = await in_thread(functools.partial(stress.replay_scenario, sc.name, columns, dates=dates,
                                                  positions=positions, symbols=list(data.symbols), capital=params.value))
        except NtUserError as exc:
            if asked is not None:
                raise
            skipped.append(SkippedScenario(scenario=sc.name, reason=exc.message))
            continue
        replays.append(ReplayView(
            scenario=sc.name, description=sc.description, first=r.first_date, last=r.last_date, days=r.n_days,
            pnl=r.pnl, total_return=r.total_return, worst_day=r.worst_day, worst_day_date=r.worst_day_date,
            max_drawdown=r.max_drawdown,
            assets=[AssetMove(symbol=a.symbol, position=a.position, move=a.total_return, pnl=a.pnl) for a in r.assets]))
    return replays, skipped


async def risk_stress(params: StressParams, ctx: Context) -> StressResult:
    from neural_trader_plugins.risk import stress

    if (params.factor is None) != (params.factor_shock is None):
        raise NtUserError("factor and factor_shock go together: name the factor (e.g. SPY) and its shock (e.g. -0.2)")
    data = await load_portfolio(params, ctx, benchmark=params.factor, min_periods=30 if params.factor else 2)
    positions = {s: float(w * params.value) for s, w in zip(data.symbols, data.weights, strict=True)}
    replays, skipped = await _replays(params, ctx, positions)
    shocks: list[ShockView] = []
    if params.shocks:
        named = {k.strip().upper(): v for k, v in params.shocks.items()}
        r = stress.shock_assets(positions, named, capital=params.value)
        shocks.append(ShockView(name="shocks", pnl=r.pnl, total_return=r.total_return, assets=_moves(r, positions)))
    betas = None
    if params.factor is not None:
        assert data.benchmark is not None and params.factor_shock is not None
        f = data.benchmark
        var_f = float(np.var(f, ddof=1))
        if var_f == 0:
            raise NtUserError(f"factor {params.factor} has constant returns over the window; betas are undefined")
        betas = {s: float(np.cov(data.returns[:, i], f, ddof=1)[0, 1] / var_f) for i, s in enumerate(data.symbols)}
        name = params.factor.upper()
        r = stress.shock_factors(positions, {s: {name: b} for s, b in betas.items()}, {name: params.factor_shock},
                                 capital=params.value)
        shocks.append(ShockView(name=f"factor {name} {params.factor_shock:+.1%}", pnl=r.pnl,
                                total_return=r.total_return, assets=_moves(r, positions)))
    rungs: list[LadderRung] = []
    chart = None
    if params.ladder:
        lad = stress.sensitivity_ladder(positions, low=params.ladder_low, high=params.ladder_high,
                                        step=params.ladder_step, betas=betas, capital=params.value)
        rungs = [LadderRung(shock=float(s), pnl=float(p), total_return=float(t))
                 for s, p, t in zip(lad.shocks, lad.pnl, lad.returns, strict=True)]
        if params.chart:
            from neural_trader_plugins.risk import charts

            title = "P&L by uniform shock" + (f" (by beta to {params.factor.upper()})" if params.factor else "")
            chart = Image.png(await in_thread(lambda: charts.ladder_png(lad.shocks, lad.pnl, title=title)))
    elif params.chart:
        raise NtUserError("chart draws the ladder; set ladder to true or leave chart off")
    return StressResult(value=params.value, weights=dict(zip(data.symbols, data.weights.tolist(), strict=True)),
                        replays=replays, skipped=skipped, shocks=shocks, betas=betas, ladder=rungs,
                        data=DataInfo.of(data, params.timeframe), chart=chart)


# -- risk.correlation -----------------------------------------------------------------------------------
class CorrelationMethod(enum.StrEnum):
    PEARSON = "pearson"
    SPEARMAN = "spearman"
    EWMA = "ewma"


@attrs.frozen(kw_only=True)
class CorrelationParams(HistoryParams):
    """Parameters of ``risk.correlation``."""

    method: CorrelationMethod = param(default=CorrelationMethod.PEARSON, description=(
        "pearson, spearman (of ranks) or ewma (exponentially weighted, recent bars count more)"))
    ewma_lambda: float = param(default=0.94, gt=0, lt=1, description="decay for method ewma")
    window: int | None = param(default=None, ge=3, le=100_000, description=(
        "also a rolling correlation of every pair over this many bars (the latest, lowest, highest and mean)"))
    series: bool = param(default=False, description="with window: include every pair's rolling series")
    chart: bool = param(default=False, description="return the clustered heatmap as a PNG")


@attrs.frozen(kw_only=True)
class PairRolling:
    a: str
    b: str
    latest: float | None
    low: float | None
    high: float | None
    mean: float | None
    series: list[float | None] | None = param(description="one value per bar from the first full window (with series)")


@attrs.frozen(kw_only=True)
class CorrelationResult:
    """A correlation matrix, its cluster order and, with a window, rolling correlations."""

    method: CorrelationMethod
    symbols: list[str]
    matrix: list[list[float | None]] = param(description="rows and columns in the order of symbols")
    clustered_order: list[str] = param(description="the symbols in hierarchical-clustering order (1 - corr distance)")
    average_correlation: float | None
    rolling: list[PairRolling]
    rolling_times: list[dt.datetime] | None = param(description="with series: the end bar of each rolling value")
    data: DataInfo
    chart: Image | None = chart_field()


async def risk_correlation(params: CorrelationParams, ctx: Context) -> CorrelationResult:
    from neural_trader.native import risk as native_risk
    from neural_trader_plugins.risk import correlation

    if len(params.symbols) == 1:
        raise NtUserError("symbols must name at least two instruments to correlate")
    if params.series and params.window is None:
        raise NtUserError("series needs window: the rolling window in bars")
    data = await load_portfolio(params, ctx, min_periods=max(3, params.window or 0))
    x = data.returns
    names = list(data.symbols)
    if len(names) < 2:
        raise NtUserError("symbols must name at least two instruments to correlate")

    def compute() -> tuple[np.ndarray, Any, np.ndarray | None]:
        if params.method is CorrelationMethod.EWMA:
            matrix = native_risk.ewma_correlation(x, params.ewma_lambda)
        else:
            matrix = correlation.correlation_matrix(x, symbols=names, method=params.method.value).matrix
        order = correlation.cluster_order(matrix, symbols=names)
        rolling = None if params.window is None else correlation.rolling_correlations(x, params.window)
        return matrix, order, rolling

    matrix, order, rolling = await in_thread(compute)
    n = len(names)
    pairs: list[PairRolling] = []
    times = None
    if rolling is not None:
        assert params.window is not None
        tail = rolling[params.window - 1:] if rolling.shape[0] == x.shape[0] else rolling
        for i in range(n):
            for j in range(i + 1, n):
                s = tail[:, i, j]
                ok = s[np.isfinite(s)]
                pairs.append(PairRolling(
                    a=names[i], b=names[j], latest=finite(float(s[-1])) if s.size else None,
                    low=finite(float(ok.min())) if ok.size else None, high=finite(float(ok.max())) if ok.size else None,
                    mean=finite(float(ok.mean())) if ok.size else None,
                    series=[finite(float(v)) for v in s] if params.series else None))
        if params.series:
            times = data.times[len(data.ts) - 1 - tail.shape[0]:]
    chart = None
    if params.chart:
        png = await in_thread(lambda: correlation.clustered_heatmap_png(
            matrix, symbols=names, title=f"{params.method.value} correlation, clustered"
                                         + (" (SYNTHETIC DATA)" if data.synthetic else "")))
        chart = Image.png(png)
    upper = matrix[np.triu_indices(n, 1)]
    return CorrelationResult(method=params.method, symbols=names,
                             matrix=[[finite(float(v)) for v in row] for row in matrix],
                             clustered_order=list(order.symbols), average_correlation=finite(float(upper.mean())),
                             rolling=pairs, rolling_times=times, data=DataInfo.of(data, params.timeframe), chart=chart)


# -- risk.volatility ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class VolatilityParams(HistoryParams):
    """Parameters of ``risk.volatility``."""

    ewma_lambda: float = param(default=0.94, gt=0, lt=1, description="EWMA decay (RiskMetrics: 0.94 daily)")
    garch: bool = param(default=True, description="also fit GARCH(1,1) by maximum likelihood (needs 100+ returns)")
    horizon: int = param(default=10, ge=1, le=2520, description="bars ahead for the GARCH volatility forecast")


@attrs.frozen(kw_only=True)
class GarchView:
    mu: float = param(description="mean return per bar")
    omega: float = param(description="variance intercept per bar")
    alpha: float = param(description="weight of the last squared shock")
    beta: float = param(description="weight of the last variance")
    persistence: float = param(description="alpha + beta: how slowly a shock to variance decays")
    half_life: float | None = param(description="bars for a variance shock to halve")
    long_run_volatility: float | None = param(unit="fraction", description=(
        "annualised unconditional volatility (null when alpha + beta reaches 1: the fit is integrated)"))
    next_volatility: float = param(unit="fraction", description="annualised volatility forecast for the next bar")
    horizon_volatility: float = param(unit="fraction", description=(
        "volatility of the return over the next horizon bars (the forecast variances summed, not sqrt-time)"))
    log_likelihood: float
    converged: bool


@attrs.frozen(kw_only=True)
class AssetVolatility:
    symbol: str
    realized: float = param(unit="fraction", description="annualised sample standard deviation of the returns")
    ewma: float = param(unit="fraction", description="the latest EWMA volatility, annualised")
    garch: GarchView | None


@attrs.frozen(kw_only=True)
class VolatilityResult:
    """Each asset's volatility: realised, EWMA and GARCH(1,1) with a forecast."""

    assets: list[AssetVolatility]
    horizon: int
    data: DataInfo


async def risk_volatility(params: VolatilityParams, ctx: Context) -> VolatilityResult:
    from neural_trader_plugins.risk import volatility

    data = await load_portfolio(params, ctx, min_periods=volatility.MIN_GARCH_OBS if params.garch else 2)
    ppy = periods_per_year(params.timeframe)
    root = math.sqrt(ppy)

    def one(i: int) -> AssetVolatility:
        r = np.ascontiguousarray(data.returns[:, i])
        ewma = volatility.ewma_volatility(r, params.ewma_lambda).last
        view = None
        if params.garch:
            fit = volatility.fit_garch(r)
            p = fit.persistence
            view = GarchView(mu=fit.mu, omega=fit.omega, alpha=fit.alpha, beta=fit.beta, persistence=p,
                             half_life=finite(math.log(0.5) / math.log(p)) if 0 < p < 1 else None,
                             # Integrated (alpha + beta at the stationarity bound): no long-run level.
                             long_run_volatility=finite(fit.long_run_volatility * root) if p < 1 - 1e-6 else None,
                             next_volatility=math.sqrt(fit.next_variance) * root,
                             horizon_volatility=math.sqrt(float(fit.forecast(params.horizon).sum())),
                             log_likelihood=fit.loglik, converged=fit.converged)
        return AssetVolatility(symbol=data.symbols[i], realized=float(np.std(r, ddof=1)) * root, ewma=ewma * root,
                               garch=view)

    assets = await in_thread(lambda: [one(i) for i in range(len(data.symbols))])
    return VolatilityResult(assets=assets, horizon=params.horizon, data=DataInfo.of(data, params.timeframe))


# -- risk.kelly -----------------------------------------------------------------------------------------
class KellyMode(enum.StrEnum):
    BET = "bet"
    ASSETS = "assets"


@attrs.frozen(kw_only=True)
class KellyParams(HistoryParams):
    """Parameters of ``risk.kelly``."""

    mode: KellyMode = param(default=KellyMode.ASSETS, description=(
        "bet: one binary bet (probability and odds); assets: the symbols' history (one asset: mu / sigma^2; "
        "several: Sigma^-1 (mu - r), optionally limited)"))
    probability: float | None = param(default=None, ge=0, le=1, unit="fraction",
                                      description="bet: the chance of winning")
    odds: float | None = param(default=None, gt=1, le=1_000_000, description=(
        "bet: decimal odds (2.0 pays 1 per 1 staked, evens)"))
    fraction: float = param(default=1.0, gt=0, le=1, unit="fraction",
                            description="fractional Kelly: the multiplier of the full Kelly answer (0.5: half Kelly)")
    risk_free: float = param(default=0.0, ge=-1, le=1, unit="fraction", description="assets: annual risk-free rate")
    max_leverage: float | None = param(default=None, gt=0, le=100, description=(
        "assets: cap on the sum of |weights| (1: no borrowing)"))
    max_weight: float | None = param(default=None, gt=0, le=100, description="assets: cap on each |weight|")
    long_only: bool = param(default=False, description="assets: no short positions")
    bankroll: float | None = param(default=None, gt=0, le=1e15, unit="money", description="state the stakes in money too")


@attrs.frozen(kw_only=True)
class KellyWeight:
    symbol: str
    weight: float = param(description="fraction of the bankroll (above 1 in total: leverage)")
    full_kelly: float = param(description="the unconstrained full Kelly weight")
    amount: float | None = param(unit="money")


@attrs.frozen(kw_only=True)
class KellyResult:
    """Kelly sizing: a bet's stake or the assets' weights, and the growth rate they give."""

    mode: KellyMode
    fraction: float
    stake: float | None = param(unit="fraction", description="bet: the share of the bankroll to stake (0: no edge)")
    stake_amount: float | None = param(unit="money")
    full_kelly: float | None = param(description="bet: p - q / b before the multiplier (negative: no edge)")
    edge: float | None = param(unit="fraction", description="bet: expected profit per unit staked")
    weights: list[KellyWeight]
    leverage: float | None = param(description="assets: sum of |weights|")
    constrained: bool = param(description="assets: whether a limit bound")
    growth_rate: float | None = param(description="expected log growth per bet, or per year for assets")
    data: DataInfo | None


async def risk_kelly(params: KellyParams, ctx: Context) -> KellyResult:
    from neural_trader_plugins.risk import sizing

    if params.mode is KellyMode.BET:
        if params.probability is None or params.odds is None:
            raise NtUserError("mode bet needs probability (of winning) and odds (decimal, e.g. 2.5)")
        if params.symbols:
            raise NtUserError("mode bet takes no symbols; use mode assets to size positions in instruments")
        bet = sizing.kelly_binary(params.probability, params.odds - 1.0, fraction=params.fraction)
        return KellyResult(mode=params.mode, fraction=params.fraction, stake=bet.stake,
                           stake_amount=_money(bet.stake, params.bankroll), full_kelly=bet.full_kelly, edge=bet.edge,
                           weights=[], leverage=None, constrained=False, growth_rate=finite(bet.growth_rate), data=None)
    if params.probability is not None or params.odds is not None:
        raise NtUserError("probability and odds are for mode bet; mode assets sizes from the symbols' history")
    data = await load_portfolio(params, ctx, min_periods=max(len(params.symbols) + 1, 30))
    ppy = periods_per_year(params.timeframe)
    rf = params.risk_free / ppy
    x = data.returns
    if x.shape[1] == 1:
        one = sizing.kelly_continuous(float(x[:, 0].mean()), float(x[:, 0].std(ddof=1)), risk_free=rf,
                                      fraction=params.fraction, max_leverage=params.max_leverage)
        w = one.fraction if not params.long_only else max(one.fraction, 0.0)
        if params.max_weight is not None:
            w = max(-params.max_weight, min(params.max_weight, w))
        weights = [KellyWeight(symbol=data.symbols[0], weight=w, full_kelly=one.full_kelly,
                               amount=_money(w, params.bankroll))]
        growth, leverage, constrained = one.growth_rate * ppy, abs(w), w != one.full_kelly * params.fraction
    else:
        from neural_trader.native import risk as native_risk

        cov = native_risk.covariance(x)
        res = await in_thread(lambda: sizing.kelly_portfolio(
            x.mean(axis=0), cov, risk_free=rf, fraction=params.fraction, max_leverage=params.max_leverage,
            max_weight=params.max_weight, long_only=params.long_only))
        weights = [KellyWeight(symbol=s, weight=float(res.weights[i]), full_kelly=float(res.unconstrained[i]),
                               amount=_money(float(res.weights[i]), params.bankroll))
                   for i, s in enumerate(data.symbols)]
        growth, leverage, constrained = res.growth_rate * ppy, res.leverage, res.constrained
    return KellyResult(mode=params.mode, fraction=params.fraction, stake=None, stake_amount=None, full_kelly=None,
                       edge=None, weights=weights, leverage=leverage, constrained=bool(constrained),
                       growth_rate=finite(growth), data=DataInfo.of(data, params.timeframe))


# -- risk.position_size ---------------------------------------------------------------------------------
class SizingMethod(enum.StrEnum):
    VOLATILITY_TARGET = "volatility_target"
    ATR = "atr"
    KELLY = "kelly"


@attrs.frozen(kw_only=True)
class PositionSizeParams:
    """Parameters of ``risk.position_size``."""

    symbol: str = param(pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description="the instrument, e.g. AAPL")
    equity: float = param(gt=0, le=1e15, unit="money", description="the account's equity the position is sized from")
    method: SizingMethod = param(default=SizingMethod.VOLATILITY_TARGET, description=(
        "volatility_target (exposure so the position's volatility hits target_volatility), atr (a stop atr_multiple "
        "ATRs away loses risk_per_trade of equity) or kelly (mu / sigma^2, times fraction)"))
    target_volatility: float = param(default=0.10, gt=0, le=5, unit="fraction",
                                     description="volatility_target: annualised target")
    window: int = param(default=20, ge=2, le=10_000, description="bars of history: realised volatility window, or "
                                                                "the ATR period")
    max_leverage: float = param(default=1.0, gt=0, le=100, description="cap on exposure / equity")
    risk_per_trade: float = param(default=0.01, gt=0, lt=1, unit="fraction",
                                  description="atr: the share of equity the stop may lose")
    atr_multiple: float = param(default=2.0, gt=0, le=100, description="atr: stop distance in ATRs")
    fraction: float = param(default=0.5, gt=0, le=1, unit="fraction", description="kelly: the multiplier (0.5: half)")
    start: dt.datetime | None = param(default=None, description="first bar of the history (UTC); default five years")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now; its close is the price")
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    provider: str | None = param(default=None, description="a data provider by name; default the fallback chain")


@attrs.frozen(kw_only=True)
class PositionSizeResult:
    """How much to hold: shares, value and the share of equity, with what they came from."""

    symbol: str
    method: SizingMethod
    price: float = param(description="the last close, the price the size is computed at")
    shares: float = param(description="the size in shares (fractional)")
    whole_shares: int = param(description="shares rounded down")
    notional: float = param(unit="money", description="whole shares x price")
    weight: float = param(unit="fraction", description="notional / equity")
    capped: bool = param(description="whether max_leverage bound the size")
    details: dict[str, float] = param(description=(
        "what the size came from: realized_volatility; atr, stop_distance, risk_amount; full_kelly"))
    data: DataInfo


async def risk_position_size(params: PositionSizeParams, ctx: Context) -> PositionSizeResult:
    from neural_trader.backtest.data import DataRequest, load
    from neural_trader_plugins.risk import sizing

    data = await load(ctx.host, DataRequest(symbols=(params.symbol.strip().upper(),), provider=params.provider,
                                            timeframe=params.timeframe, start=params.start, end=params.end,
                                            frontend=ctx.frontend))
    bars = data.bars[0]
    if len(bars) < params.window + 1:
        raise NtUserError(f"{bars.symbol} has {len(bars)} bars in the window but window={params.window} needs "
                          f"{params.window + 1}; widen start/end or shorten window")
    close = np.ascontiguousarray(bars.close, dtype=np.float64)
    price = float(close[-1])
    returns = close[1:] / close[:-1] - 1.0
    ppy = periods_per_year(params.timeframe)
    details: dict[str, float] = {}
    if params.method is SizingMethod.VOLATILITY_TARGET:
        vt = sizing.volatility_target(returns, params.target_volatility, periods_per_year=ppy, window=params.window,
                                      max_leverage=params.max_leverage)
        weight, capped = vt.weight, vt.capped
        details["realized_volatility"] = vt.realized_vol
        shares = weight * params.equity / price
    elif params.method is SizingMethod.ATR:
        atr = sizing.atr_position_size(np.ascontiguousarray(bars.high), np.ascontiguousarray(bars.low), close,
                                       equity=params.equity, risk_per_trade=params.risk_per_trade,
                                       atr_multiple=params.atr_multiple, window=params.window)
        shares = atr.shares
        cap = params.max_leverage * params.equity / price
        capped = shares > cap
        shares = min(shares, cap)
        details.update(atr=atr.atr, stop_distance=atr.stop_distance, risk_amount=atr.risk_amount)
    else:
        r = returns[-params.window:]
        k = sizing.kelly_continuous(float(r.mean()), float(r.std(ddof=1)), fraction=params.fraction,
                                    max_leverage=params.max_leverage)
        capped = abs(k.fraction) < abs(k.full_kelly * params.fraction)
        details["full_kelly"] = k.full_kelly
        shares = k.fraction * params.equity / price
    if not abs(shares) < 2**53:
        raise NtUserError(f"the size comes to {shares:.3g} shares of {bars.symbol} at {price:g}, more than can be "
                          "counted exactly; check equity")
    whole = math.floor(shares) if shares >= 0 else -math.floor(-shares)
    info = DataInfo(symbols=[bars.symbol], provider=data.provider, synthetic=data.synthetic,
                    timeframe=params.timeframe, first=data.first, last=data.last, n_returns=len(bars) - 1,
                    warnings=list(data.warnings))
    return PositionSizeResult(symbol=bars.symbol, method=params.method, price=price, shares=shares, whole_shares=whole,
                              notional=whole * price, weight=whole * price / params.equity, capped=bool(capped),
                              details={k: float(v) for k, v in details.items()}, data=info)
