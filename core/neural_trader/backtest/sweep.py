"""Evaluating many parameter sets on the same bars, on any executor.

:func:`shared_for` packs the bars into a :class:`~neural_trader.executors.Shared` value (numpy
columns, sent to workers once) with a small context (strategy, config, engine); :func:`evaluate` is
the task function every executor runs: rebuild the bars as views, slice the task's bar range, run
the backtest, return its metrics. It is a pure function of its inputs, so every executor gives the
same numbers. :func:`score` and :func:`ranked` turn metrics into the objective and an order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.backtest import engine
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import RunData
from neural_trader.domain.market import COLUMNS, Bars
from neural_trader.errors import NtUserError
from neural_trader.executors import Executor, ProgressFn, Shared

__all__ = [
    "OBJECTIVES", "Evaluation", "Objective", "SweepContext", "SweepTask", "evaluate", "ranked", "run_sweep",
    "score", "shared_for",
]

Objective = Literal[
    "sharpe", "sortino", "calmar", "total_return", "cagr", "profit_factor", "max_drawdown", "win_rate",
    "trade_win_rate", "expectancy", "final_equity", "annual_volatility", "downside_risk",
    "max_drawdown_duration",
]
#: +1: larger is better; -1: smaller is better. (max_drawdown is <= 0, so larger is better.)
OBJECTIVES: dict[str, int] = {
    "sharpe": 1, "sortino": 1, "calmar": 1, "total_return": 1, "cagr": 1, "profit_factor": 1,
    "max_drawdown": 1, "win_rate": 1, "trade_win_rate": 1, "expectancy": 1, "final_equity": 1,
    "annual_volatility": -1, "downside_risk": -1, "max_drawdown_duration": -1,
}


@attrs.frozen(kw_only=True)
class SweepContext:
    """The small, picklable part of a sweep: how to rebuild the bars and what to run on them."""

    strategy: Any
    config: BacktestConfig
    engine: str
    symbols: tuple[str, ...]
    timeframe: str
    provider: str
    has_benchmark: bool


@attrs.frozen(kw_only=True)
class SweepTask:
    """One parameter set on bars ``[start, stop)``."""

    params: dict[str, Any]
    start: int = 0
    stop: int | None = None


#: ``(metrics, None)`` or ``(None, why it failed)``.
Evaluation = tuple[dict[str, float] | None, str | None]


def shared_for(data: RunData, strategy: Any, config: BacktestConfig, engine_name: str) -> Shared:
    """The bars of ``data`` as arrays (``"<j>.<column>"``, ``"bench.close"``) plus the context."""
    arrays: dict[str, np.ndarray] = {}
    for j, bars in enumerate(data.bars):
        arrays[f"{j}.ts"] = np.ascontiguousarray(bars.ts)
        for c in COLUMNS:
            arrays[f"{j}.{c}"] = np.ascontiguousarray(getattr(bars, c))
    if data.benchmark is not None:
        arrays["bench.close"] = np.ascontiguousarray(data.benchmark.close)
    context = SweepContext(strategy=strategy, config=config, engine=engine_name, symbols=data.symbols,
                           timeframe=data.bars[0].timeframe.value, provider=data.provider,
                           has_benchmark=data.benchmark is not None)
    return Shared(arrays=arrays, context=context)


def _bars(shared: Shared, start: int, stop: int | None) -> tuple[Any, np.ndarray | None]:
    ctx: SweepContext = shared.context
    a = shared.arrays
    series = [Bars(symbol=s, timeframe=ctx.timeframe, provider=ctx.provider, ts=a[f"{j}.ts"][start:stop],
                   **{c: a[f"{j}.{c}"][start:stop] for c in COLUMNS})  # type: ignore[arg-type]
              for j, s in enumerate(ctx.symbols)]
    bench = a["bench.close"][start:stop] if ctx.has_benchmark else None
    return (series[0] if len(series) == 1 else tuple(series)), bench


def _plain(value: Any) -> float:
    return float(value) if value is not None else math.nan


def evaluate(shared: Shared, task: SweepTask) -> Evaluation:
    """The task function: backtest one parameter set on its bar range; metrics as floats."""
    ctx: SweepContext = shared.context
    bars, bench = _bars(shared, task.start, task.stop)
    try:
        result = engine.run(bars, ctx.strategy, task.params, ctx.config, engine=ctx.engine,  # type: ignore[arg-type]
                            benchmark=bench)
    except NtUserError as exc:
        return None, exc.message
    return {k: _plain(v) for k, v in result.metrics.items()}, None


def run_sweep(executor: Executor, shared: Shared, tasks: Sequence[SweepTask], *, workers: int | None = None,
              progress: ProgressFn | None = None) -> list[Evaluation]:
    """:func:`evaluate` over ``tasks`` on ``executor``, results in task order."""
    return executor.map(evaluate, shared, tasks, workers=workers, progress=progress)


def score(metrics: Mapping[str, float] | None, objective: str, min_trades: int = 0) -> float | None:
    """The objective's value, or None when undefined (no metrics, NaN, too few trades). Trades are
    those entered: the closed ones (``n_trades``) and a position still open at the end."""
    if metrics is None or metrics.get("n_trades", 0) + metrics.get("open_trades", 0) < min_trades:
        return None
    value = metrics.get(objective, math.nan)
    return None if value is None or not math.isfinite(value) else float(value)


def ranked(scores: Sequence[float | None], objective: str) -> list[int]:
    """Indices best first: by the objective in its direction, undefined last, ties by index."""
    sign = OBJECTIVES[objective]
    return sorted(range(len(scores)),
                  key=lambda i: (scores[i] is None, -sign * (scores[i] or 0.0), i))
