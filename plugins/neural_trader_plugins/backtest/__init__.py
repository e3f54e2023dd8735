"""``strategies.*``, ``backtest.*``, ``optimize.run``, ``walkforward.run`` and ``analysis.quick``.

The logic lives in :mod:`neural_trader.backtest`; this module only declares the operations. None of
them trades, so all need the ``read`` scope; ``backtest.run``, ``backtest.compare``,
``backtest.get`` (given a request) and ``optimize.run`` store runs (idempotently: the same request
on the same data is one stored run), so they are not marked read-only. Examples run offline on the synthetic provider.

The plugin owns the ``backtest_runs`` table (:mod:`.tables`) and its migration branch
(``migrations/``); :mod:`neural_trader.backtest.runs` reaches the table through ``Storage.table``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.backtest import analysis, api, optimize, walkforward
from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation
from neural_trader.services.branches import MigrationBranch

#: The plugin's tables and their migrations. Revision 0002 was the core's while the table was the
#: core's: a database an older version left there is moved to this branch (core back to 0001).
MIGRATIONS = MigrationBranch(name="backtest", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.backtest.tables:metadata",
                             legacy={"0002": "0001"})

#: The window the examples use: fixed dates, so every call reads the same synthetic bars.
_WINDOW = {"symbol": "SPY", "provider": "synthetic", "start": "2022-01-03", "end": "2023-12-29"}


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    register(Operation(
        name="strategies.list", summary="The registered trading strategies, with their styles and plugins.",
        params=api.StrategiesListParams, result=api.StrategiesListResult, handler=api.list_strategies,
    ))
    register(Operation(
        name="strategies.describe",
        summary="A strategy's parameters: types, defaults, bounds and meaning (and their JSON Schema).",
        params=api.StrategyDescribeParams, result=api.StrategyDescription, handler=api.describe_strategy,
        examples=({"name": "sma_crossover"},),
    ))
    register(Operation(
        name="backtest.run",
        summary="Backtest a strategy on a symbol's bars; the run is stored and can be fetched and reproduced.",
        description="Metrics (return, CAGR, Sharpe, Sortino, drawdown, trade statistics, benchmark alpha/beta), "
                    "the trades, optionally the equity curve, a Monte Carlo bootstrap of the trades and a PNG "
                    "chart. The run id is a hash of the request, the data and the code version: the same "
                    "request on the same data returns the stored run.",
        params=api.RunParams, result=api.RunReport, handler=api.run, read_only=False,
        examples=({**_WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}},
                  {**_WINDOW, "strategy": "momentum", "monte_carlo": 1000, "chart": "equity"}),
    ))
    register(Operation(
        name="backtest.compare",
        summary="Several strategies on the same bars: one table, best first, and one chart.",
        params=api.CompareParams, result=api.CompareResult, handler=api.compare, read_only=False,
        examples=({**_WINDOW, "strategies": ["sma_crossover", "momentum", "mean_reversion", "breakout"]},
                  {**_WINDOW, "chart": True}),
    ))
    register(Operation(
        name="backtest.list", summary="Stored backtest runs, newest first, with their headline metrics.",
        params=api.ListParams, result=api.ListResult, handler=api.list_stored,
    ))
    register(Operation(
        name="backtest.get",
        summary="A stored backtest run, by id, by its request, or the newest of a strategy/symbol; "
                "optionally re-run to prove it reproduces.",
        description="Runs are content-addressed (request, data, code), so a request names exactly one run: "
                    "`request` returns it, running and storing it first if it never ran.",
        params=api.GetParams, result=api.RunReport, handler=api.get, read_only=False,
        examples=({"request": {**_WINDOW, "strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}},
                   "reproduce": True},
                  {"run_id": "5b868eea2a88"},
                  {"strategy": "sma_crossover", "symbol": "SPY"}),
    ))
    register(Operation(
        name="optimize.run",
        summary="Search a strategy's parameters (grid, random or Optuna TPE) for the best objective.",
        description="Ranges per parameter within the strategy's bounds (default: around each default), "
                    "combinations its constraints refuse are skipped, and a grid larger than "
                    "max_combinations is refused. Runs on the chosen executor: serial, threads, processes "
                    "or ray; every executor gives the same answer.",
        params=optimize.OptimizeParams, result=optimize.OptimizeResult, handler=optimize.run_op, read_only=False,
        examples=({**_WINDOW, "strategy": "sma_crossover",
                   "space": {"fast": {"values": [5, 10, 20]}, "slow": {"values": [30, 50]}}},),
    ))
    register(Operation(
        name="walkforward.run",
        summary="Walk-forward test: optimise in-sample, trade out-of-sample, stitch the out-of-sample equity.",
        params=walkforward.WalkForwardParams, result=walkforward.WalkForwardResult, handler=walkforward.run_op,
        examples=({**_WINDOW, "start": "2019-01-01", "strategy": "sma_crossover", "n_splits": 4,
                   "space": {"fast": {"values": [5, 10, 20]}, "slow": {"values": [30, 50]}}},),
    ))
    register(Operation(
        name="analysis.quick",
        summary="A symbol's trend, volatility and indicator readings, with a plain-language summary.",
        params=analysis.QuickParams, result=analysis.QuickResult, handler=analysis.quick,
        examples=({"symbol": "SPY", "provider": "synthetic", "end": "2023-12-29"},),
    ))
    register(Operation(
        name="executors.list", summary="Where sweeps can run (serial, threads, processes, Ray) and whether each can.",
        params=optimize.ExecutorsParams, result=optimize.ExecutorsResult, handler=optimize.list_executors,
    ))
