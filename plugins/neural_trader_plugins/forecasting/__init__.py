"""Neural forecasting: features and windows from bars, torch architectures (LSTM, GRU, Transformer,
TCN, N-BEATS), training with early stopping, split conformal intervals, naive baselines, exponential
smoothing and metrics; a model registry (database rows plus safetensors/ONNX files in the data dir),
ONNX Runtime serving, a pretrained model in the package, and the ``neural_trend`` strategy.

Plain modules: ``features``, ``baselines``, ``ets``, ``evaluation``, ``conformal``, ``artifacts``,
``serving`` and ``registry`` need numpy, scipy and onnxruntime only (so a fresh install forecasts with
the pretrained model); ``models`` describes the architectures without importing torch; ``nets``,
``training`` and ``export`` need torch (the ``neural`` extra) and raise :class:`NtUnavailable` without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation, Scope
from neural_trader.services.branches import MigrationBranch

#: The plugin's table (``forecast_models``) and its migrations.
MIGRATIONS = MigrationBranch(name="forecasting", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.forecasting.tables:metadata")

#: Fixed dates on the synthetic provider: every call trains on the same bars, to the same weights.
_TRAIN = {"symbol": "SPY", "provider": "synthetic", "start": "2020-01-01T00:00:00Z", "end": "2023-12-29T00:00:00Z",
          "architecture": "gru", "hyperparameters": {"hidden_size": 8, "layers": 1}, "lookback": 20, "horizon": 5,
          "epochs": 3, "use_gpu": False}


#: The settings of the host being built (``nt_configure`` runs just before its registrations): the
#: ``neural_trend`` strategy it registers finds trained models in that host's data dir.
_configuring: dict[str, Any] = {}

_EVALUATE = {"model_id": "pretrained", "symbol": "SPY", "provider": "synthetic", "start": "2023-01-01T00:00:00Z",
             "end": "2023-12-29T00:00:00Z"}


@hookimpl
def nt_configure(settings: Any) -> None:
    _configuring["data_dir"] = getattr(settings, "data_dir", None)


@hookimpl
def nt_register_strategies(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.forecasting.strategy import NeuralTrend

    register(NeuralTrend.for_data_dir(_configuring.get("data_dir")))


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


@hookimpl
def nt_register_forecasters(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.forecasting.models import ARCHITECTURES

    for spec in ARCHITECTURES.values():
        register(spec)


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.forecasting import api, ops_backtest, ops_evaluate, ops_files, ops_optimize

    register(Operation(
        name="neural.train", summary="Train a forecaster (LSTM, GRU, Transformer, TCN, N-BEATS) on a symbol's bars; "
                                     "its test accuracy next to the naive baselines, and conformal intervals.",
        description="Chronological train/validation/test split, features scaled on the train part only, early "
                    "stopping, seeded (the same request on the same data is the same model version). Needs torch "
                    "(pip install 'neural-trader[neural]'); a CUDA GPU is used when there.",
        params=api.TrainParams, result=api.TrainResult, handler=api.train, read_only=False, idempotent=True,
        examples=(_TRAIN,)))
    register(Operation(
        name="neural.models", summary="Forecaster architectures and the trained model versions with their test "
                                      "accuracy next to the naive forecast's.",
        params=api.ModelsParams, result=api.ModelsResult, handler=api.models))
    register(Operation(
        name="neural.forecast", summary="A trained model's forecast of the next bars, with split-conformal "
                                        "prediction intervals, optionally as a PNG.",
        description="Served by ONNX Runtime (the CUDA provider with onnxruntime-gpu), torch as the fallback; "
                    "without a trained model of the symbol the pretrained model shipped in the package answers, "
                    "so it works on a fresh install without torch.",
        params=api.ForecastParams, result=api.ForecastResult, handler=api.forecast,
        examples=({"symbol": "SPY", "end": "2024-06-28T00:00:00Z"},)))
    register(Operation(
        name="neural.evaluate", summary="A model's MAE, RMSE, MAPE and directional accuracy on a symbol and date "
                                        "range, next to the naive baselines and exponential smoothing.",
        params=ops_evaluate.EvaluateParams, result=ops_evaluate.EvaluateResult, handler=ops_evaluate.evaluate,
        examples=(_EVALUATE,)))
    register(Operation(
        name="neural.backtest", summary="Backtest the neural_trend strategy (forecast direction, traded above a "
                                        "confidence threshold) of a model on a symbol.",
        description="The same run as backtest.run with strategy neural_trend; the report is stored like any run.",
        params=ops_backtest.NeuralBacktestParams, result=ops_backtest.NeuralBacktestResult,
        handler=ops_backtest.backtest, read_only=False, idempotent=True,
        examples=({"symbol": "SPY", "model_id": "pretrained", "provider": "synthetic",
                   "start": "2022-01-01T00:00:00Z", "end": "2023-12-29T00:00:00Z"},)))
    register(Operation(
        name="neural.optimize", summary="Optuna search over a forecaster's hyper-parameters on the validation "
                                        "loss; the best trial trained and stored as a version.",
        description="Seeded TPE, bounded by the training-work budget, in-process (sequential trials). Needs "
                    "torch and Optuna.",
        params=ops_optimize.OptimizeParams, result=ops_optimize.OptimizeResult, handler=ops_optimize.optimize,
        read_only=False, idempotent=True,
        examples=({"symbol": "SPY", "provider": "synthetic", "start": "2022-01-01T00:00:00Z",
                   "end": "2023-12-29T00:00:00Z", "architecture": "gru", "trials": 2, "epochs": 1,
                   "max_hidden_size": 8, "max_layers": 1, "lookback": 20, "use_gpu": False},)))
    register(Operation(
        name="neural.export", summary="Where a model version's files are (ONNX, safetensors, config), written "
                                      "from its stored weights when missing or changed.",
        params=ops_files.ExportParams, result=ops_files.ExportResult, handler=ops_files.export, read_only=False,
        idempotent=True, examples=({"model_id": "pretrained"},)))
    register(Operation(
        name="neural.delete", summary="Delete a model version: its database row and its files.",
        params=ops_files.DeleteParams, result=ops_files.DeleteResult, handler=ops_files.delete, read_only=False,
        scope=Scope.TRADE, destructive=True, idempotent=True, confirm=True,
        examples=({"model_id": "0123456789abcdef", "missing_ok": True, "confirm": True},)))
