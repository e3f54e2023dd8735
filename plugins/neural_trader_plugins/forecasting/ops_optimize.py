"""``neural.optimize``: an Optuna search over an architecture's hyper-parameters and the learning rate,
then the best trial trained and stored as a model version (``neural.train`` of its values).

* The objective is the **validation** loss (scaled MSE at the best epoch): the test part is never
  looked at while searching, so the stored version's test metrics stay honest.
* Seeded: Optuna's TPE sampler and every trial's training use ``seed``; the same request on the same
  data searches the same trials (on the CPU).
* Bounded: ``trials`` x the training work of the largest candidate must fit the training-work budget
  of one request (``NT_FORECASTING_MAX_TRAINING_WORK``), checked before the first trial.
* In-process and sequential: each trial is a few seconds of torch on the request's worker thread
  (torch uses the cores itself), so the backtest executors' process or Ray pools would add
  start-up and data shipping without a gain at these sizes. Progress reports one step per trial and
  cancelling stops the search between epochs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN, Timeframe
from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.forecasting.api import (
    ARCH_PATTERN,
    TrainParams,
    TrainResult,
    bar_columns,
    check_training_work,
    load_bars,
    set_torch_threads,
    train,
)

__all__ = ["SPACE", "OptimizeParams", "OptimizeResult", "optimize"]

#: The search space: (low, high, log scale) per hyper-parameter; integers for the int fields.
SPACE: dict[str, tuple[float, float, bool]] = {
    "hidden_size": (4, 64, True), "layers": (1, 3, False), "dropout": (0.0, 0.3, False),
    "learning_rate": (1e-4, 1e-2, True)}


@attrs.frozen(kw_only=True)
class OptimizeParams:
    """Parameters of ``neural.optimize``."""

    symbol: str = param(pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description="the instrument, e.g. AAPL")
    architecture: str = param(default="gru", pattern=ARCH_PATTERN, description="the architecture to tune")
    trials: int = param(default=8, ge=1, le=100, description="Optuna trials (each trains one candidate)")
    epochs: int = param(default=10, ge=1, le=200, description="epochs at most per trial")
    max_hidden_size: int = param(default=64, ge=4, le=512, description="the largest hidden_size searched")
    max_layers: int = param(default=2, ge=1, le=4, description="the most layers searched")
    lookback: int = param(default=30, ge=2, le=1000, description="bars each forecast looks back on")
    horizon: int = param(default=5, ge=1, le=100, description="bars ahead each forecast predicts")
    start: dt.datetime | None = param(default=None, description="first bar (UTC)")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now")
    provider: str | None = param(default=None, pattern=PROVIDER_PATTERN, description="a data provider by name")
    seed: int = param(default=0, ge=0, le=2**31 - 1, description="seeds the sampler and every trial")
    use_gpu: bool = param(default=True, description="train on a CUDA GPU when torch sees one")


@attrs.frozen(kw_only=True)
class TrialView:
    number: int
    hyperparameters: dict[str, float | int]
    learning_rate: float
    val_loss: float | None = param(description="the trial's best validation loss (scaled MSE): the objective")
    epochs_run: int


@attrs.frozen(kw_only=True)
class OptimizeResult:
    """The trials and the best one, trained and stored."""

    architecture: str
    symbol: str
    trials: list[TrialView]
    best_trial: int
    best: TrainResult = param(description="the best trial's values trained as a stored version (neural.train)")
    executor: str = param(description="where the trials ran (in-process: sequential, one request's thread)")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise NtUnavailable("neural.optimize needs Optuna; pip install 'neural-trader[optuna]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _suggest(trial: Any, params: OptimizeParams, fields: set[str]) -> tuple[dict[str, Any], float]:
    hp: dict[str, Any] = {}
    lo, hi, log = SPACE["hidden_size"]
    hidden = trial.suggest_int("hidden_size", int(lo), min(int(hi), params.max_hidden_size), log=log)
    if params.architecture == "transformer":
        hidden = max(4, hidden - hidden % 4)  # a multiple of its (default) 4 heads
    hp["hidden_size"] = hidden
    hp["layers"] = trial.suggest_int("layers", 1, params.max_layers)
    if "dropout" in fields:
        hp["dropout"] = trial.suggest_float("dropout", *SPACE["dropout"][:2])
    lr = trial.suggest_float("learning_rate", *SPACE["learning_rate"][:2], log=True)
    return hp, lr


async def optimize(params: OptimizeParams, ctx: Context) -> OptimizeResult:
    import anyio.to_thread

    from neural_trader_plugins.forecasting import features, registry
    from neural_trader_plugins.forecasting import training as T

    optuna = _optuna()
    spec = registry.spec(ctx.host, params.architecture)
    fields = {f.name for f in attrs.fields(spec.hyperparameters)}
    data = await load_bars(ctx, params.symbol, params.provider, Timeframe.DAY_1, params.start, params.end)
    bars = data.bars[0]
    close, high, low, volume = bar_columns(bars)
    base = TrainParams(symbol=params.symbol, architecture=params.architecture, lookback=params.lookback,
                       horizon=params.horizon, start=params.start, end=params.end, provider=params.provider,
                       epochs=params.epochs, seed=params.seed, use_gpu=params.use_gpu)

    def search() -> tuple[list[TrialView], int, dict[str, Any], float]:
        d = features.prepare(close, high, low, volume, lookback=params.lookback, horizon=params.horizon)
        largest = {"hidden_size": params.max_hidden_size, "layers": params.max_layers}
        check_training_work(ctx, lookback=params.lookback, epochs=params.epochs * params.trials,
                            use_gpu=params.use_gpu, hp=largest, n_windows=len(d.train))
        set_torch_threads(ctx)
        views: list[TrialView] = []

        def objective(trial: Any) -> float:
            hp, lr = _suggest(trial, params, fields)
            r = T.train(spec, d, {**hp, "lookback": params.lookback, "horizon": params.horizon},
                        epochs=params.epochs, lr=lr, seed=params.seed, use_gpu=params.use_gpu,
                        progress=lambda epoch, tl, vl: ctx.progress(
                            trial.number, params.trials, f"trial {trial.number + 1}/{params.trials}, epoch {epoch}: "
                                                         f"val {vl:.4g}"))
            val = float(r.metrics["val_loss"])
            views.append(TrialView(number=trial.number, hyperparameters=hp, learning_rate=lr, val_loss=val,
                                   epochs_run=r.epochs_run))
            return val

        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=params.seed))
        study.optimize(objective, n_trials=params.trials, catch=(NtUserError,))
        if not views:
            raise NtUserError("no trial finished (each diverged or was refused); lower max_hidden_size or epochs")
        best = min(views, key=lambda v: v.val_loss if v.val_loss is not None else float("inf"))
        return views, best.number, best.hyperparameters, best.learning_rate

    views, best_number, hp, lr = await anyio.to_thread.run_sync(search)
    ctx.progress(params.trials, params.trials, "training the best trial")
    best = await train(attrs.evolve(base, hyperparameters=dict(hp), learning_rate=lr), ctx)
    return OptimizeResult(architecture=spec.name, symbol=bars.symbol, trials=views, best_trial=best_number,
                          best=best, executor="in-process")
