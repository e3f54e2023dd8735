"""Walk-forward testing: optimise on a past window, trade the next one, move on, stitch the results.

:func:`windows` cuts ``n`` bars into ``n_splits`` in-sample/out-of-sample pairs. The out-of-sample
(OOS) segments are consecutive, disjoint and end at the last bar; each comes right after its
in-sample (IS) window, which *rolls* (fixed length) or is *anchored* (starts at bar 0 and grows).
Each IS window is optimised on its own bars only; the winner then trades its OOS segment, whose
indicators may read the bars before it (the past, never the future). The OOS returns are chained
into one equity curve, and the report says how much of the in-sample performance survived
(:func:`degradation`, defined for every objective in its own "better" direction).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
import attrs
import numpy as np

from neural_trader import bounds
from neural_trader.backtest import engine
from neural_trader.backtest.api import EquityPoint, resolve
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import RunData, load
from neural_trader.backtest.optimize import (
    OptimizeParams,
    max_warmup,
    plan,
    propose,
    search,
    sweep_evaluator,
)
from neural_trader.backtest.result import bar_metrics, trade_stats
from neural_trader.backtest.space import grid_size
from neural_trader.backtest.sweep import OBJECTIVES, SweepTask, ranked, run_sweep, score, shared_for
from neural_trader.domain.market import from_ns
from neural_trader.domain.media import Image
from neural_trader.errors import NtUserError
from neural_trader.executors import get_executor
from neural_trader.schema import param

if TYPE_CHECKING:
    from neural_trader.ops import Context

__all__ = ["WalkForwardParams", "WalkForwardResult", "Window", "degradation", "run_op", "stitch", "windows"]

Mode = Literal["rolling", "anchored"]
#: Without sizes, the (first) in-sample window is this many times an out-of-sample segment.
TRAIN_TO_TEST = 3


@attrs.frozen(kw_only=True)
class Window:
    """Bar ranges ``[is_start, is_stop)`` and ``[oos_start, oos_stop)``; ``is_stop == oos_start``."""

    index: int
    is_start: int
    is_stop: int
    oos_start: int
    oos_stop: int


def windows(n: int, *, n_splits: int, mode: str = "rolling", train_bars: int | None = None,
            test_bars: int | None = None, min_train: int = 2) -> list[Window]:
    """Cut ``n`` bars into ``n_splits`` IS/OOS pairs whose OOS segments tile the end of the data.

    Without sizes, an OOS segment is ``n // (n_splits + 3)`` bars and the first IS window takes the
    rest. Anchored IS windows start at bar 0, so bars the segments leave over go to the first one. :raises NtUserError: the pieces do not fit, or an IS window is shorter than ``min_train``.
    """
    if n_splits < 1:
        raise NtUserError(f"n_splits must be >= 1, got {n_splits}")
    if mode not in ("rolling", "anchored"):
        raise NtUserError(f"mode must be rolling or anchored, got {mode!r}")
    if test_bars is None:
        test_bars = (n - train_bars) // n_splits if train_bars is not None else n // (n_splits + TRAIN_TO_TEST)
    if train_bars is None:
        train_bars = n - n_splits * test_bars
    if test_bars < 1 or train_bars < min_train or train_bars + n_splits * test_bars > n:
        raise NtUserError(
            f"{n} bars cannot hold {n_splits} out-of-sample segments of {test_bars} bars after an in-sample "
            f"window of {train_bars} bars (at least {min_train} are needed for the longest indicator window "
            "plus 2); use fewer splits, shorter windows, or a longer date range",
            details={"bars": n, "n_splits": n_splits, "train_bars": train_bars, "test_bars": test_bars,
                     "min_train": min_train})
    first_oos = n - n_splits * test_bars
    out = []
    for k in range(n_splits):
        oos_start = first_oos + k * test_bars
        is_start = 0 if mode == "anchored" else oos_start - train_bars
        out.append(Window(index=k, is_start=is_start, is_stop=oos_start, oos_start=oos_start,
                          oos_stop=oos_start + test_bars))
    return out


def stitch(segments: list[np.ndarray], init_cash: float) -> tuple[np.ndarray, np.ndarray]:
    """(returns, equity) of OOS segments chained end to end from ``init_cash``."""
    returns = np.concatenate(segments) if segments else np.empty(0)
    return returns, init_cash * np.cumprod(1.0 + returns)


def _oos_returns(data: RunData, strategy: Any, params: dict[str, Any], config: BacktestConfig, engine_name: str,
                 window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar returns over the OOS segment (indicators warmed up on the bars before it) and the
    trades entered inside it (the one still open at the segment's end marked ``OPEN``)."""
    warm = min(window.oos_start, int(strategy.warmup(strategy.make_params(params))))
    part = data.slice(window.oos_start - warm, window.oos_stop)
    result = engine.run(part.strategy_input(), strategy, params, config, engine=engine_name,  # type: ignore[arg-type]
                        benchmark=part.benchmark_close())
    equity = np.concatenate(([config.init_cash], result.equity))
    # equity[warm] is the value at the close of the bar before the segment.
    segment = equity[warm:]
    trades = result.trades[result.trades["entry_idx"] >= warm]
    return segment[1:] / segment[:-1] - 1.0, trades


def _metrics(returns: np.ndarray, trades: np.ndarray, config: BacktestConfig) -> dict[str, float | None]:
    """The same metrics, under the same names, as a backtest's (``BacktestResult.metrics``) for
    out-of-sample returns and trades: every objective has its out-of-sample value."""
    m: dict[str, float | int] = bar_metrics(returns, config)
    m.update(final_equity=float(config.init_cash * np.prod(1.0 + returns)), **trade_stats(trades))
    return {k: (float(v) if math.isfinite(v) else None) for k, v in m.items()}


def degradation(objective: str, is_value: float | None, oos_value: float | None) -> tuple[float | None,
                                                                                          float | None]:
    """How much worse the objective is out of sample than in sample: ``(difference, ratio)``.

    The difference is ``IS - OOS`` for an objective where larger is better (``max_drawdown`` too:
    it is <= 0) and ``OOS - IS`` where smaller is better (volatility, downside risk, drawdown
    duration): positive when the out-of-sample value is worse, in the objective's units, defined
    whenever both values are. The ratio is the difference over ``|IS|``, given only when the
    in-sample value lies on the side of zero where the objective's size measures performance
    (``> 0``; ``< 0`` for ``max_drawdown``): there it reads "the share of the in-sample value lost"
    (``1 - OOS / IS`` for a positive Sharpe ratio, ``OOS / IS - 1`` for volatility or drawdown).
    A negative or zero in-sample value has no such share, so the ratio is None.
    """
    if is_value is None or oos_value is None:
        return None, None
    diff = OBJECTIVES[objective] * (is_value - oos_value)
    natural = -1.0 if objective == "max_drawdown" else 1.0
    ratio = diff / abs(is_value) if is_value * natural > 0 else None
    return _finite(diff), _finite(ratio)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# -- the operation ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class WalkForwardParams(OptimizeParams):
    """Parameters of ``walkforward.run``: an optimisation repeated over rolling or anchored windows."""

    mode: Mode = param(default="rolling", description="rolling: fixed-length in-sample windows; anchored: "
                                                      "every in-sample window starts at the first bar")
    n_splits: int = param(default=5, ge=1, le=1000, description="out-of-sample segments")
    train_bars: int | None = param(default=None, ge=2, description="bars per in-sample window (rolling); "
                                                                   "anchored: the least the first one holds")
    test_bars: int | None = param(default=None, ge=1, description="bars per out-of-sample segment")
    equity_points: int = param(default=0, ge=0, le=100_000,
                               description="points of the stitched out-of-sample equity to return")
    chart: bool = param(default=False, description="return a PNG of the stitched out-of-sample equity "
                                                   "(CLI: write it with --plot FILE)")


@attrs.frozen(kw_only=True)
class WindowReport:
    index: int
    is_first: dt.datetime
    is_last: dt.datetime
    oos_first: dt.datetime
    oos_last: dt.datetime
    is_bars: int
    oos_bars: int
    best_params: dict[str, Any]
    is_objective: float | None = param(description="the objective of the best parameters in-sample")
    oos_objective: float | None = param(description="the same objective on the out-of-sample segment")
    oos_return: float
    oos_trades: int = param(description="trades entered in the segment (closed or still open at its end)")


@attrs.frozen(kw_only=True)
class WalkForwardResult:
    """Per-window winners and scores, and the stitched out-of-sample performance."""

    strategy: str
    symbols: list[str]
    timeframe: str
    provider: str
    synthetic: bool = param(description="true when the bars were generated, not observed prices")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")
    mode: str
    method: str
    objective: str
    executor: str
    train_bars: int
    test_bars: int
    windows: list[WindowReport]
    oos_first: dt.datetime
    oos_last: dt.datetime
    oos_metrics: dict[str, float | None] = param(description="metrics of the stitched out-of-sample returns")
    buy_and_hold_return: float = param(description="holding the symbol(s) over the out-of-sample period")
    is_objective_mean: float | None
    oos_objective_mean: float | None
    degradation: float | None = param(description="how much worse the objective is out of sample, in its units "
                                                   "(IS - OOS, or OOS - IS where smaller is better; means over "
                                                   "the windows where both are defined): > 0 is worse")
    degradation_ratio: float | None = param(description="degradation / |IS|, the share of the in-sample value "
                                                         "lost; null where the in-sample value is <= 0 (>= 0 for "
                                                         "max_drawdown) and a share means nothing")
    efficiency: float | None = param(description="OOS CAGR / mean IS CAGR (walk-forward efficiency); null "
                                                  "unless the in-sample CAGR is > 0")
    equity: list[EquityPoint] = param(factory=list, description="the stitched out-of-sample equity")
    chart: Image | None = attrs.field(default=None, metadata={
        "title": "Image", "description": "the stitched equity as a PNG, when asked for (CLI: --plot FILE)"})


def _is_searches(params: WalkForwardParams, ctx: Context, strategy: Any, data: RunData, cuts: list[Window],
                 dims: list[Any], fixed: Mapping[str, Any], limit: int) -> list[tuple[dict[str, Any], float | None,
                                                                          float | None]]:
    """(best params, IS objective, IS CAGR) per window."""
    executor = get_executor(ctx.host, params.executor)
    shared = shared_for(data, strategy, params.effective_config(), params.engine)
    best: list[tuple[dict[str, Any], float | None, float | None]] = []
    if params.method == "optuna":
        for w in cuts:
            def progress(done: int, _t: int, w: Window = w) -> None:
                ctx.progress(w.index * params.n_trials + done, len(cuts) * params.n_trials,
                             f"window {w.index + 1}/{len(cuts)}")

            evaluate = sweep_evaluator(executor, shared, workers=params.workers, start=w.is_start,
                                       stop=w.is_stop, progress=progress)
            found = search(strategy, dims, fixed, method="optuna", objective=params.objective,
                           evaluate_batch=evaluate, n_trials=params.n_trials, seed=params.seed,
                           max_combinations=limit, batch_size=params.batch_size,
                           min_trades=params.min_trades)
            i = found.order(params.objective)[0]
            best.append((found.points[i], found.scores[i], _cagr(found.evaluations[i][0])))
        return best

    # Grid and random: the same points in every window, all windows in one sweep.
    points, _, _ = propose(strategy, dims, fixed, method=params.method, n_trials=params.n_trials,
                           seed=params.seed, max_combinations=limit)
    tasks = [SweepTask(params=p, start=w.is_start, stop=w.is_stop) for w in cuts for p in points]
    evaluations = run_sweep(executor, shared, tasks, workers=params.workers,
                            progress=lambda d, t: ctx.progress(d, t, "in-sample optimisation"))
    for k in range(len(cuts)):
        evs = evaluations[k * len(points):(k + 1) * len(points)]
        scores = [score(ev[0], params.objective, params.min_trades) for ev in evs]
        i = ranked(scores, params.objective)[0]
        best.append((points[i], scores[i], _cagr(evs[i][0])))
    return best


def _cagr(metrics: Mapping[str, float] | None) -> float | None:
    value = None if metrics is None else metrics.get("cagr")
    return value if value is not None and math.isfinite(value) else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _walk_forward_sync(params: WalkForwardParams, ctx: Context, strategy: Any, data: RunData, dims: list[Any],
                       limit: int) -> WalkForwardResult:
    fixed = dict(params.strategy_params)
    need = max_warmup(strategy, dims, fixed) + 2
    cuts = windows(data.n, n_splits=params.n_splits, mode=params.mode, train_bars=params.train_bars,
                   test_bars=params.test_bars, min_train=need)
    config = params.effective_config()
    winners = _is_searches(params, ctx, strategy, data, cuts, dims, fixed, limit)
    ts = data.bars[0].ts
    reports, segments, segment_trades = [], [], []
    for w, (best, is_score, _) in zip(cuts, winners, strict=True):
        returns, trades = _oos_returns(data, strategy, best, config, params.engine, w)
        segments.append(returns)
        segment_trades.append(trades)
        oos_score = _metrics(returns, trades, config)[params.objective]
        reports.append(WindowReport(
            index=w.index, is_first=from_ns(int(ts[w.is_start])), is_last=from_ns(int(ts[w.is_stop - 1])),
            oos_first=from_ns(int(ts[w.oos_start])), oos_last=from_ns(int(ts[w.oos_stop - 1])),
            is_bars=w.is_stop - w.is_start, oos_bars=w.oos_stop - w.oos_start, best_params=best,
            is_objective=is_score, oos_objective=oos_score, oos_return=float(np.prod(1.0 + returns) - 1.0),
            oos_trades=int(trades.shape[0])))
    returns, equity = stitch(segments, config.init_cash)
    oos = _metrics(returns, np.concatenate(segment_trades), config)
    is_mean = _mean([r.is_objective for r in reports])
    oos_mean = _mean([r.oos_objective for r in reports])
    paired = [r for r in reports if r.is_objective is not None and r.oos_objective is not None]
    lost, lost_ratio = degradation(params.objective, _mean([r.is_objective for r in paired]),
                                   _mean([r.oos_objective for r in paired]))
    is_cagr = _mean([c for _, _, c in winners])
    closes = np.column_stack([b.close for b in data.bars])
    first_oos = cuts[0].oos_start
    hold = float(np.mean(closes[-1] / closes[first_oos - 1]) - 1.0)
    oos_ts = ts[first_oos:]
    chart = None
    if params.chart:
        from neural_trader.backtest.charts import lines_png

        hold_curve = config.init_cash * np.mean(closes[first_oos:] / closes[first_oos - 1], axis=1)
        chart = Image.png(lines_png(
            [("walk-forward (out of sample)", oos_ts, equity), ("buy & hold", oos_ts, hold_curve)],
            title=f"{strategy.name} on {', '.join(data.symbols)}: {params.mode} walk-forward, {params.n_splits} splits"
                  + (" (SYNTHETIC DATA)" if data.synthetic else ""),
            ylabel="equity", spans=[(int(ts[w.oos_start]), int(ts[w.oos_stop - 1])) for w in cuts[::2]]))
    points = []
    if params.equity_points > 0:
        idx = np.unique(np.linspace(0, len(equity) - 1, min(params.equity_points, len(equity))).round().astype(int))
        points = [EquityPoint(time=from_ns(int(oos_ts[i])), equity=float(equity[i])) for i in idx]
    return WalkForwardResult(
        strategy=strategy.name, symbols=list(data.symbols), timeframe=params.timeframe.value, provider=data.provider,
        synthetic=data.synthetic, warnings=list(data.warnings),
        mode=params.mode, method=params.method, objective=params.objective, executor=params.executor,
        train_bars=cuts[0].is_stop - cuts[0].is_start, test_bars=cuts[0].oos_stop - cuts[0].oos_start,
        windows=reports, oos_first=from_ns(int(oos_ts[0])), oos_last=from_ns(int(oos_ts[-1])), oos_metrics=oos,
        buy_and_hold_return=hold, is_objective_mean=is_mean, oos_objective_mean=oos_mean,
        degradation=lost, degradation_ratio=lost_ratio,
        efficiency=_finite(oos["cagr"] / is_cagr) if is_cagr is not None and is_cagr > 0 and oos["cagr"] is not None
        else None,
        equity=points, chart=chart)


async def run_op(params: WalkForwardParams, ctx: Context) -> WalkForwardResult:
    strategy, _ = resolve(ctx.host, params)
    bounds.check(ctx.host.settings, "max_splits", params.n_splits, "walk-forward splits")
    dims, limit = plan(ctx.host, params, strategy)
    per_window = params.n_trials if params.method != "grid" else grid_size(dims)
    bounds.check(ctx.host.settings, "max_backtests", per_window * params.n_splits,
                 f"backtests of a walk-forward ({per_window:,} parameter sets x {params.n_splits} splits)")
    data = await load(ctx.host, params.data_request(params.benchmark, frontend=ctx.frontend))
    return await anyio.to_thread.run_sync(_walk_forward_sync, params, ctx, strategy, data, dims, limit)
