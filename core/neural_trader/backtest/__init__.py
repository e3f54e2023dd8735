"""Backtesting: two engines over the strategy contract of :mod:`neural_trader.strategies.base`.

>>> from neural_trader.backtest import BacktestConfig, run
>>> # result = run(bars, strategy, {"fast": 10, "slow": 30}, BacktestConfig(fill_at="close"))

See docs/strategies.md for the fill conventions and the gap rule.
"""

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.engine import Engine, run, run_event, run_vectorized
from neural_trader.backtest.result import TRADES_DTYPE, BacktestResult, benchmark_stats

__all__ = [
    "TRADES_DTYPE", "BacktestConfig", "BacktestResult", "Engine", "benchmark_stats", "run", "run_event",
    "run_vectorized",
]
