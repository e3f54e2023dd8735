"""Parameter optimisation: grid, random and Optuna (TPE, seeded) searches over a strategy's space.

:func:`search` proposes parameter sets (:mod:`~neural_trader.backtest.space`), evaluates them on
an executor (:mod:`~neural_trader.backtest.sweep`) and ranks them by the objective. Grid and random
searches evaluate everything in one sweep; Optuna asks for ``batch_size`` trials at a time, so its
sequence depends on the seed and the batch size but not on the executor or the number of workers.
``optimize.run`` then stores the best parameter set as an ordinary backtest run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
import attrs

from neural_trader import bounds
from neural_trader.backtest.api import prepare_with, resolve, store
from neural_trader.backtest.data import RunData, check_length, load
from neural_trader.backtest.requests import StrategySelection
from neural_trader.backtest.space import (
    Dim,
    ParamRange,
    checked_point,
    default_space,
    grid,
    grid_size,
    random_points,
    resolve_space,
)
from neural_trader.backtest.sweep import (
    OBJECTIVES,
    Evaluation,
    Objective,
    SweepTask,
    ranked,
    run_sweep,
    score,
    shared_for,
)
from neural_trader.errors import NtLimitExceeded, NtUnavailable, NtUserError
from neural_trader.executors import Executor, Shared, get_executor
from neural_trader.schema import param

if TYPE_CHECKING:
    from neural_trader.ops import Context

__all__ = [
    "DEFAULT_MAX_COMBINATIONS", "ExecutorsParams", "ExecutorsResult", "OptimizeParams", "OptimizeResult",
    "SearchResult", "Trial", "list_executors", "propose", "run_op", "search",
]

Method = Literal["grid", "random", "optuna"]
DEFAULT_MAX_COMBINATIONS = 10_000
OPTUNA_INSTALL = "pip install 'neural-trader[optuna]'"


@attrs.frozen(kw_only=True, eq=False)
class SearchResult:
    """Every evaluated parameter set, in evaluation order, and what was refused on the way."""

    points: list[dict[str, Any]]
    evaluations: list[Evaluation]
    scores: list[float | None]
    refused: int
    space_size: int | None

    def order(self, objective: str) -> list[int]:
        return ranked(self.scores, objective)


def _check_limit(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise NtLimitExceeded(
            f"{what} {count:,} parameter combinations, more than max_combinations={limit:,}; raise "
            "max_combinations (the request's, up to the host's NT_MAX_COMBINATIONS), narrow the ranges, or "
            "use method 'random' or 'optuna' with fewer n_trials",
            details={"bound": "max_combinations", "asked": count, "limit": limit, "setting": "NT_MAX_COMBINATIONS"})


def max_combinations(host: Any, asked: int | None) -> int:
    """The request's ``max_combinations`` (default: the host's), refused above the host's bound."""
    if asked is None:
        return bounds.limit(host.settings, "max_combinations")
    bounds.check(host.settings, "max_combinations", asked, "max_combinations asked")
    return asked


def plan(host: Any, params: OptimizeParams, strategy: Any) -> tuple[list[Dim], int]:
    """The searched dimensions and the combination limit, checked before any data is fetched:
    the request's bounds (workers, the grid's size or n_trials) are refused here, not after work."""
    if params.workers is not None:
        bounds.check(host.settings, "max_workers", params.workers, "workers asked")
    limit = max_combinations(host, params.max_combinations)
    fixed = dict(params.strategy_params)
    dims = dims_for(strategy, params.space, fixed, max_combinations=limit)
    if not dims:
        raise NtUserError(f"nothing to search: give `space` ranges for {strategy.name}'s parameters")
    if params.method == "grid":
        _check_limit(grid_size(dims), limit, "the grid has")
    else:
        _check_limit(params.n_trials, limit, "n_trials asks for")
    return dims, limit


def _optuna_points(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any], *, n_trials: int, seed: int,
                   objective: str, batch_size: int, min_trades: int,
                   evaluate_batch: Callable[[list[dict[str, Any]]], list[Evaluation]]) -> SearchResult:
    try:
        import optuna
    except ImportError:
        raise NtUnavailable(f"method 'optuna' needs the optuna package: {OPTUNA_INSTALL}") from None
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if OBJECTIVES[objective] > 0 else "minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    points: list[dict[str, Any]] = []
    evaluations: list[Evaluation] = []
    scores: list[float | None] = []
    memo: dict[tuple[Any, ...], tuple[Evaluation, float | None]] = {}
    refused = 0
    asked = 0
    while asked < n_trials:
        trials, batch, keys = [], [], []
        for _ in range(min(batch_size, n_trials - asked)):
            trial = study.ask()
            asked += 1
            point = {d.name: _suggest(trial, d) for d in dims}
            checked = checked_point(strategy, fixed, point)
            if checked is None:
                refused += 1
                study.tell(trial, state=TrialState.FAIL)
                continue
            trials.append(trial)
            batch.append(checked)
            keys.append(tuple(sorted(checked.items())))
        fresh = [p for p, k in zip(batch, keys, strict=True) if k not in memo]
        for p, ev in zip(fresh, evaluate_batch(fresh) if fresh else [], strict=True):
            memo[tuple(sorted(p.items()))] = (ev, score(ev[0], objective, min_trades))
        for trial, p, k in zip(trials, batch, keys, strict=True):
            ev, value = memo[k]
            points.append(p)
            evaluations.append(ev)
            scores.append(value)
            if value is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, value)
    return SearchResult(points=points, evaluations=evaluations, scores=scores, refused=refused, space_size=None)


def _suggest(trial: Any, d: Dim) -> Any:
    if d.values is not None:
        return d.values[trial.suggest_categorical(d.name, list(range(len(d.values))))] \
            if not all(isinstance(v, str | int | float | bool) for v in d.values) \
            else trial.suggest_categorical(d.name, list(d.values))
    if d.is_int:
        return trial.suggest_int(d.name, int(d.low), int(d.high), step=int(d.step or 1), log=d.log and not d.step)
    return trial.suggest_float(d.name, d.low, d.high, step=d.step, log=d.log and d.step is None)


def propose(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any], *, method: str, n_trials: int = 50,
            seed: int = 0, max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> tuple[list[dict[str, Any]], int, int | None]:
    """The parameter sets a grid or random search evaluates: (valid points, refused, grid size)."""
    if method == "grid":
        size = grid_size(dims)
        _check_limit(size, max_combinations, "the grid has")
        points, refused = grid(strategy, dims, fixed)
    elif method == "random":
        _check_limit(n_trials, max_combinations, "n_trials asks for")
        size = None
        points, refused = random_points(strategy, dims, fixed, n_trials, seed)
    else:
        raise NtUserError(f"method must be grid, random or optuna, got {method!r}")
    if not points:
        raise NtUserError(f"every one of the {refused} parameter combinations breaks the strategy's constraints "
                          f"({strategy.name}); change the ranges")
    return points, refused, size


def search(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any], *, method: str, objective: str,
           evaluate_batch: Callable[[list[dict[str, Any]]], list[Evaluation]], n_trials: int = 50,
           seed: int = 0, max_combinations: int = DEFAULT_MAX_COMBINATIONS, batch_size: int = 8,
           min_trades: int = 1) -> SearchResult:
    """Propose, evaluate (``evaluate_batch(points)``, results in order) and score parameter sets."""
    if objective not in OBJECTIVES:
        raise NtUserError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if method == "optuna":
        _check_limit(n_trials, max_combinations, "n_trials asks for")
        return _optuna_points(strategy, dims, fixed, n_trials=n_trials, seed=seed, objective=objective,
                              batch_size=batch_size, min_trades=min_trades, evaluate_batch=evaluate_batch)
    points, refused, size = propose(strategy, dims, fixed, method=method, n_trials=n_trials, seed=seed,
                                    max_combinations=max_combinations)
    evaluations = evaluate_batch(points)
    scores = [score(ev[0], objective, min_trades) for ev in evaluations]
    return SearchResult(points=points, evaluations=evaluations, scores=scores, refused=refused, space_size=size)


def sweep_evaluator(executor: Executor, shared: Shared, *, workers: int | None, start: int = 0,
                    stop: int | None = None, progress: Callable[[int, int], None] | None = None,
                    ) -> Callable[[list[dict[str, Any]]], list[Evaluation]]:
    """``evaluate_batch`` for :func:`search`: every point on bars ``[start, stop)`` on ``executor``.
    ``progress`` gets cumulative counts across batches."""
    done = [0]

    def evaluate_batch(points: list[dict[str, Any]]) -> list[Evaluation]:
        base = done[0]
        step = None if progress is None else (lambda d, t: progress(base + d, base + t))
        out = run_sweep(executor, shared, [SweepTask(params=p, start=start, stop=stop) for p in points],
                        workers=workers, progress=step)
        done[0] += len(points)
        return out

    return evaluate_batch


# -- the operation ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class OptimizeParams(StrategySelection):
    """Parameters of ``optimize.run``; ``strategy_params`` fixes the parameters that are not searched."""

    space: dict[str, ParamRange] = param(
        factory=dict, description="ranges by parameter name; default: every numeric parameter at 0.5, 0.75, "
                                  "1, 1.5 and 2 times its default (not those fixed in strategy_params)")
    method: Method = param(default="grid", description="grid (every combination), random, or optuna (TPE)")
    objective: Objective = param(default="sharpe", description="the metric to optimise")
    n_trials: int = param(default=50, ge=1, le=1_000_000, description="parameter sets to try (random, optuna)")
    seed: int = param(default=0, ge=0, description="seed of random and optuna searches")
    max_combinations: int | None = param(
        default=None, ge=1, description="refuse a search larger than this; default and ceiling: the host's "
                                        "max_combinations (NT_MAX_COMBINATIONS, 10,000 unless set)")
    min_trades: int = param(default=1, ge=0, description="parameter sets with fewer trades rank last")
    executor: str = param(default="threads", max_len=50,
                          description="where to run: serial, threads, processes, ray (`executors list`)")
    workers: int | None = param(default=None, ge=1, le=4096,
                                description="parallel workers (default: all CPUs; at most the host's "
                                            "max_workers, NT_MAX_WORKERS)")
    batch_size: int = param(default=8, ge=1, le=1024, description="optuna trials evaluated together")
    top: int = param(default=10, ge=1, le=1000, description="how many of the best to list")


@attrs.frozen(kw_only=True)
class Trial:
    rank: int
    params: dict[str, Any]
    objective: float | None = param(description="the objective's value (null: undefined or too few trades)")
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
    n_trades: int | None
    error: str | None = param(default=None, description="why this parameter set could not be backtested")


@attrs.frozen(kw_only=True)
class OptimizeResult:
    """The best parameter set, the leaderboard, and what the search covered."""

    strategy: str
    symbols: list[str]
    timeframe: str
    provider: str
    synthetic: bool = param(description="true when the bars were generated, not observed prices")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")
    first_bar: dt.datetime
    last_bar: dt.datetime
    bars: int
    method: str
    objective: str
    direction: str = param(description="maximize or minimize")
    executor: str
    space: dict[str, list[Any]] = param(description="the values tried per parameter (ranges: [low, high])")
    space_size: int | None = param(description="grid combinations before constraints (grid only)")
    evaluated: int = param(description="parameter sets backtested")
    refused: int = param(description="combinations the strategy's constraints refused")
    failed: int = param(description="parameter sets whose backtest failed")
    best_params: dict[str, Any]
    best_objective: float | None
    best_metrics: dict[str, float | None]
    best_run_id: str = param(description="the best parameter set, stored as a backtest run (`backtest get`)")
    top: list[Trial]


def _space_listing(dims: list[Dim]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for d in dims:
        if d.values is not None or d.step is not None or d.is_int:
            values = list(d.grid_values())
            out[d.name] = values if len(values) <= 50 else [values[0], values[-1]]
        else:
            out[d.name] = [d.low, d.high]
    return out


def _trial(rank: int, point: dict[str, Any], ev: Evaluation, value: float | None) -> Trial:
    m, error = ev
    get = (lambda k: None) if m is None else (lambda k: _finite(m.get(k)))
    n = get("n_trades")
    return Trial(rank=rank, params=point, objective=value, total_return=get("total_return"), sharpe=get("sharpe"),
                 max_drawdown=get("max_drawdown"), n_trades=None if n is None else int(n), error=error)


def _finite(value: float | None) -> float | None:
    import math

    return None if value is None or not math.isfinite(value) else value


def max_warmup(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any]) -> int:
    """The longest window over the space: the strategy's warmup with every searched numeric
    parameter at its largest value (constraints between parameters are not applied here)."""
    values = dict(fixed)
    for d in dims:
        grid_values = d.grid_values() if d.values is not None or d.step is not None or d.is_int else (d.high,)
        numeric = [v for v in grid_values if isinstance(v, int | float) and not isinstance(v, bool)]
        if numeric:
            values[d.name] = max(numeric)
    try:
        return int(strategy.warmup(strategy.params_type(**values)))
    except (TypeError, ValueError):
        return int(strategy.warmup(strategy.make_params(dict(fixed))))


def dims_for(strategy: Any, space: Mapping[str, ParamRange], fixed: Mapping[str, Any], *,
             max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> list[Dim]:
    """The searched dimensions: ``space``, or the default space around the defaults (sized to fit
    ``max_combinations``)."""
    overlap = sorted(set(space) & set(fixed))
    if overlap:
        raise NtUserError(f"{', '.join(overlap)} both fixed in strategy_params and searched in space; pick one")
    return resolve_space(strategy, space or default_space(strategy, fixed, max_combinations=max_combinations))


def _optimize_sync(params: OptimizeParams, ctx: Context, strategy: Any, data: RunData, dims: list[Dim],
                   limit: int) -> OptimizeResult:
    executor = get_executor(ctx.host, params.executor)
    fixed = dict(params.strategy_params)
    check_length(data, max_warmup(strategy, dims, fixed) + 2,
                 f"optimizing {strategy.name} over this space (its longest window is "
                 f"{max_warmup(strategy, dims, fixed)} bars, plus 2 to trade)")
    config = params.effective_config()
    shared = shared_for(data, strategy, config, params.engine)
    expected = params.n_trials if params.method == "optuna" else None

    def progress(done: int, total: int) -> None:
        ctx.progress(done, expected or total, f"{done} parameter sets evaluated")

    result = search(strategy, dims, fixed, method=params.method, objective=params.objective,
                    evaluate_batch=sweep_evaluator(executor, shared, workers=params.workers, progress=progress),
                    n_trials=params.n_trials, seed=params.seed, max_combinations=limit,
                    batch_size=params.batch_size, min_trades=params.min_trades)
    order = result.order(params.objective)
    best = order[0]
    if result.scores[best] is None:
        errors = {ev[1] for ev in result.evaluations if ev[1]}
        why = f" (errors: {'; '.join(sorted(errors)[:3])})" if errors else \
            f" (no parameter set made at least {params.min_trades} trade(s), or the objective is undefined)"
        raise NtUserError(f"no parameter set has a defined {params.objective}{why}")
    request = attrs.evolve(params, strategy_params=result.points[best])
    stored, _ = store(ctx.host, prepare_with(request, strategy, strategy.make_params(result.points[best]), data))
    return OptimizeResult(
        strategy=strategy.name, symbols=list(data.symbols), timeframe=params.timeframe.value,
        provider=data.provider, synthetic=data.synthetic, warnings=list(data.warnings), first_bar=data.first, last_bar=data.last, bars=data.n, method=params.method,
        objective=params.objective, direction="maximize" if OBJECTIVES[params.objective] > 0 else "minimize",
        executor=executor.name, space=_space_listing(dims), space_size=result.space_size,
        evaluated=len(result.points), refused=result.refused,
        failed=sum(1 for ev in result.evaluations if ev[0] is None),
        best_params=result.points[best], best_objective=result.scores[best],
        best_metrics=stored.metrics, best_run_id=stored.id,
        top=[_trial(rank + 1, result.points[i], result.evaluations[i], result.scores[i])
             for rank, i in enumerate(order[:params.top])])


async def run_op(params: OptimizeParams, ctx: Context) -> OptimizeResult:
    strategy, _ = resolve(ctx.host, params)
    dims, limit = plan(ctx.host, params, strategy)
    data = await load(ctx.host, params.data_request(params.benchmark, frontend=ctx.frontend))
    check_length(data, 3, f"optimizing {strategy.name}")
    return await anyio.to_thread.run_sync(_optimize_sync, params, ctx, strategy, data, dims, limit)


# -- executors.list --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ExecutorsParams:
    """Parameters of ``executors.list`` (none)."""


@attrs.frozen(kw_only=True)
class ExecutorInfo:
    name: str
    summary: str
    plugin: str
    available: bool
    reason: str | None = param(default=None, description="why it cannot run here")
    install: str | None = param(default=None, description="the command that makes it available")


@attrs.frozen(kw_only=True)
class ExecutorsResult:
    executors: list[ExecutorInfo]


def list_executors(params: ExecutorsParams, ctx: Context) -> ExecutorsResult:
    registry = ctx.host.registry("executors")
    out = []
    for ex in registry:
        reason = ex.unavailable_reason()
        out.append(ExecutorInfo(name=ex.name, summary=ex.summary, plugin=registry.owner(ex.name),
                                available=reason is None, reason=reason,
                                install=ex.install if reason is not None else None))
    for info in sorted(ctx.host.plugin_infos.values(), key=lambda i: i.name):
        if info.status == "unavailable" and info.name.startswith("executors"):
            out.append(ExecutorInfo(name=info.name.removeprefix("executors_") or info.name,
                                    summary=f"from plugin {info.name}", plugin=info.name, available=False,
                                    reason=info.reason, install=info.install))
    return ExecutorsResult(executors=out)
