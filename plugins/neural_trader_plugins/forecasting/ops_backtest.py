"""``neural.backtest``: the ``neural_trend`` strategy (:mod:`.strategy`) of a model on a symbol, run by
the backtest engine exactly as ``backtest.run`` with ``strategy: neural_trend`` would (the same stored
run, the same report), with the model resolved first (a symbol's newest version, else the pretrained
one).
"""

from __future__ import annotations

import datetime as dt

import attrs

from neural_trader.backtest.api import RunParams, RunReport
from neural_trader.backtest.config import BacktestConfig
from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.forecasting.api import MODEL_ID_PATTERN

__all__ = ["NeuralBacktestParams", "NeuralBacktestResult", "backtest"]


@attrs.frozen(kw_only=True)
class NeuralBacktestParams:
    """Parameters of ``neural.backtest``."""

    symbol: str = param(pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description="the instrument to trade")
    model_id: str | None = param(default=None, min_len=1, max_len=40, pattern=MODEL_ID_PATTERN, description=(
        "a model version, or pretrained; default the newest model of symbol, else the pretrained one"))
    threshold: float = param(default=0.05, ge=0, le=10, description=(
        "trade when |forecast return| exceeds this many conformal half-widths (1: the interval excludes zero)"))
    step: int = param(default=0, ge=0, le=512, description="the forecast step to read; 0: the model's horizon")
    start: dt.datetime | None = param(default=None, description="first bar (UTC)")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now")
    provider: str | None = param(default=None, pattern=PROVIDER_PATTERN, description=(
        "where the bars come from; default the provider the model was trained on, else the fallback chain"))
    config: BacktestConfig | None = param(default=None, description="fills, sizing, costs, exits (backtest.run's)")
    max_trades: int = param(default=20, ge=0, le=100_000, description="how many trades to list")


@attrs.frozen(kw_only=True)
class NeuralBacktestResult:
    model_id: str = param(description="the model the strategy traded on")
    report: RunReport = param(description="the backtest (backtest.get run_id shows it again)")


async def backtest(params: NeuralBacktestParams, ctx: Context) -> NeuralBacktestResult:
    from neural_trader.backtest import api as backtest_api
    from neural_trader_plugins.forecasting import registry

    ref = registry.resolve(ctx.host, params.model_id, params.symbol)
    if ref.directory is None:
        raise NtUserError(f"model {ref.model_id} has no files for the strategy to read; write them with "
                          "neural.export")
    run = RunParams(symbol=params.symbol, provider=params.provider or ref.provider, start=params.start,
                    end=params.end, strategy="neural_trend",
                    strategy_params={"model_id": ref.model_id, "threshold": params.threshold, "step": params.step},
                    config=params.config, max_trades=params.max_trades)
    report = await backtest_api.run(run, ctx)
    return NeuralBacktestResult(model_id=ref.model_id, report=report)
