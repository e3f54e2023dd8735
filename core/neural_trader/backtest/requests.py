"""Request fields the backtest operations share: which data, and which strategy on it.

These attrs classes are the operations' parameter types (their JSON Schema is what the CLI, MCP and
REST show); subclasses add what each operation needs. :meth:`DataSelection.data_request` and
:meth:`StrategySelection.effective_config` turn them into what the engine and the data layer take.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import DataRequest, parse_symbols
from neural_trader.domain.market import (
    PROVIDER_PATTERN,
    SYMBOL_HINT,
    SYMBOL_PATTERN,
    SYMBOLS_PATTERN,
    Timeframe,
)
from neural_trader.schema import param

__all__ = ["PERIODS_PER_YEAR", "DataSelection", "EngineName", "StrategySelection"]

EngineName = Literal["vectorized", "event"]

#: Bars per year by timeframe (252 trading days of 6.5 hours), for annualised metrics.
PERIODS_PER_YEAR: dict[Timeframe, float] = {
    Timeframe.MIN_1: 252 * 390.0, Timeframe.MIN_5: 252 * 78.0, Timeframe.MIN_15: 252 * 26.0,
    Timeframe.MIN_30: 252 * 13.0, Timeframe.HOUR_1: 252 * 6.5, Timeframe.HOUR_4: 252 * 6.5 / 4,
    Timeframe.DAY_1: 252.0, Timeframe.WEEK_1: 52.0, Timeframe.MONTH_1: 12.0,
}
_DEFAULT_PERIODS = BacktestConfig().periods_per_year


@attrs.frozen(kw_only=True)
class DataSelection:
    """Which bars: symbol(s), provider, timeframe and date range."""

    symbol: str | None = param(default=None, min_len=1, max_len=4000, pattern=SYMBOLS_PATTERN,
                               pattern_hint=f"{SYMBOL_HINT}, or several separated by commas",
                               description="symbol; several separated by commas for multi-symbol strategies "
                                           "(a pair: 'KO,PEP'); default SPY, or with file the file's name")
    provider: str | None = param(default=None, max_len=100, pattern=PROVIDER_PATTERN,
                                 description="data provider (alpaca, local, csv, synthetic...); default: the "
                                             "fallback chain of the symbol's class, as for market.* (synthetic "
                                             "data ends it, and the result says synthetic: true)")
    file: str | None = param(default=None, min_len=1, max_len=4096,
                             description="a CSV or Parquet file of bars to backtest on instead of a provider "
                                         "(CLI: --file); over REST and MCP it must lie in the csv folder "
                                         "(NT_CSV_DIR)")
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    start: dt.datetime | None = param(default=None,
                                      description="first bar (ISO date or date-time, UTC); default: five "
                                                  "times the market service's default window before end")
    end: dt.datetime | None = param(default=None, description="last bar (ISO date or date-time, UTC); default: now")

    @property
    def symbols(self) -> tuple[str, ...]:
        if self.symbol is None:
            return () if self.file is not None else ("SPY",)
        return parse_symbols(self.symbol)

    def data_request(self, benchmark: str | None = None, *, frontend: str | None = None) -> DataRequest:
        """What :func:`~neural_trader.backtest.data.load` fetches; ``frontend`` (the caller's
        ``ctx.frontend``) decides which files ``file`` may name."""
        return DataRequest(symbols=self.symbols, provider=self.provider, timeframe=self.timeframe,
                           start=self.start, end=self.end, benchmark=benchmark, file=self.file,
                           frontend=frontend)


@attrs.frozen(kw_only=True)
class StrategySelection(DataSelection):
    """A strategy with its parameters, the trading config and the engine, on a data selection."""

    strategy: str = param(max_len=100, description="strategy name (`strategies list` shows them)")
    strategy_params: dict[str, Any] = param(
        factory=dict, description="the strategy's parameters (`strategies describe` shows them and their "
                                  "bounds); omitted ones take their defaults")
    config: BacktestConfig | None = param(
        default=None, description="fills, sizing, costs, exits; periods_per_year follows the timeframe "
                                  "unless set")
    engine: EngineName = param(default="vectorized",
                               description="vectorized (fast, targets) or event (orders, bar by bar)")
    benchmark: str | None = param(default=None, max_len=50, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                                  description="a symbol to compare against (alpha, beta, tracking error)")

    def effective_config(self) -> BacktestConfig:
        return effective_config(self.config, self.timeframe)


def effective_config(config: BacktestConfig | None, timeframe: Timeframe) -> BacktestConfig:
    """``config`` (defaults when None) with ``periods_per_year`` from the timeframe unless it was set."""
    config = config or BacktestConfig()
    if config.periods_per_year == _DEFAULT_PERIODS and timeframe is not Timeframe.DAY_1:
        config = attrs.evolve(config, periods_per_year=PERIODS_PER_YEAR[timeframe])
    return config
