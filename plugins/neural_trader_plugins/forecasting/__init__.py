"""Neural forecasting: features and windows from bars, torch architectures (LSTM, GRU, Transformer,
TCN, N-BEATS), training with early stopping, split conformal intervals, naive baselines and metrics.

Plain modules: ``features``, ``baselines``, ``evaluation`` and ``conformal`` need numpy only;
``models`` describes the architectures without importing torch; ``nets`` (the torch modules) and
``training`` need torch (the ``neural`` extra) and raise :class:`NtUnavailable` without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation
from neural_trader.services.branches import MigrationBranch

#: The plugin's table (``forecast_models``) and its migrations.
MIGRATIONS = MigrationBranch(name="forecasting", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.forecasting.tables:metadata")

#: Fixed dates on the synthetic provider: every call trains on the same bars, to the same weights.
_TRAIN = {"symbol": "SPY", "provider": "synthetic", "start": "2020-01-01T00:00:00Z", "end": "2023-12-29T00:00:00Z",
          "architecture": "gru", "hyperparameters": {"hidden_size": 8, "layers": 1}, "lookback": 20, "horizon": 5,
          "epochs": 3, "use_gpu": False}


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
    from neural_trader_plugins.forecasting import api

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
        params=api.ForecastParams, result=api.ForecastResult, handler=api.forecast,
        examples=({"symbol": "SPY", "end": "2024-06-28T00:00:00Z"},)))
