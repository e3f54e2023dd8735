"""``neural_trend``: a forecaster's view turned into a position, registered as a strategy so that
``backtest.run`` (and ``neural.backtest``) can use it like any other.

After each bar's close the model forecasts the cumulative log return ``y`` to ``step`` bars ahead
from the window ending at that bar; its *confidence* is ``y / q``, ``q`` the split-conformal
half-width of that step (the interval ``y +/- q`` covers the outcome at the model's nominal level).
Target ``+1`` when the confidence exceeds ``threshold``, ``-1`` when it is below ``-threshold``, ``0``
in between (``threshold`` 1: trade only when the whole interval lies on one side of zero). Bars
before the first full window (indicator warm-up plus ``lookback``) hold.

The model is read from its files: the pretrained one from the package, a trained one from
``<data_dir>/models/<id>/`` (``neural.export`` writes them for a version that has none). Strategies
do not see the host, so the data dir comes from the host's settings through ``nt_configure``
(:meth:`NeuralTrend.for_data_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param
from neural_trader.strategies.base import Strategy
from neural_trader_plugins.forecasting import artifacts, serving

__all__ = ["NeuralTrend", "NeuralTrendParams"]

#: The first bar with every feature finite (MACD's slow EMA and signal line, see :mod:`.features`).
FEATURE_WARMUP = 33


@attrs.frozen(kw_only=True)
class NeuralTrendParams:
    """Which model, how confident it must be, and which step ahead it reads."""

    model_id: str = param(default="pretrained", min_len=1, max_len=40, pattern=r"^([0-9a-f]+|pretrained)$",
                          description="a trained model version, or pretrained (the model shipped in the package)")
    threshold: float = param(default=0.05, ge=0, le=10, description=(
        "trade when |forecast return| exceeds this many conformal half-widths (1: the interval excludes zero)"))
    step: int = param(default=0, ge=0, le=512, description="the forecast step to read (1 = next bar); 0: the "
                                                           "model's last step (its horizon)")


class NeuralTrend(Strategy):
    """Long, short or flat by the sign and confidence of a neural forecast (module docstring)."""

    name = "neural_trend"
    summary = "a neural forecast's direction, traded when it clears a confidence threshold"
    params_type = NeuralTrendParams

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir

    @classmethod
    def for_data_dir(cls, data_dir: Path | str | None) -> NeuralTrend:
        return cls(Path(data_dir) if data_dir is not None else None)

    def _directory(self, model_id: str) -> Path:
        from neural_trader_plugins.forecasting.registry import PRETRAINED, PRETRAINED_DIR

        if model_id == PRETRAINED:
            return PRETRAINED_DIR
        if self.data_dir is None:
            raise NtUserError("neural_trend has no data dir to find trained models in; use model_id pretrained")
        directory = artifacts.model_dir(self.data_dir, model_id)
        if not (directory / artifacts.CONFIG).is_file():
            raise NtUserError(f"model {model_id!r} has no files in {directory}; neural.models lists the versions and "
                              "neural.export writes a version's files")
        return directory

    def config(self, params: NeuralTrendParams) -> dict[str, Any]:
        return artifacts.read_config(self._directory(params.model_id) / artifacts.CONFIG)

    def warmup(self, params: NeuralTrendParams) -> int:
        return FEATURE_WARMUP + int(self.config(params)["lookback"]) - 1

    def signals(self, bars: Any, params: NeuralTrendParams) -> np.ndarray:
        from neural_trader_plugins.forecasting import inference
        from neural_trader_plugins.forecasting.models import ARCHITECTURES

        directory = self._directory(params.model_id)
        config = artifacts.read_config(directory / artifacts.CONFIG)
        horizon = int(config["horizon"])
        step = params.step or horizon
        if step > horizon:
            raise NtUserError(f"step ({step}) must be at most the model's horizon ({horizon})")
        close = np.ascontiguousarray(bars.close, dtype=np.float64)
        out = np.full(close.shape[0], np.nan)
        lookback = int(config["lookback"])
        high, low, volume = (np.ascontiguousarray(getattr(bars, k), dtype=np.float64) for k in ("high", "low", "volume"))
        fm = inference.check_features(config, close, high, low, volume, getattr(bars, "symbol", "the bars"))
        ends = np.arange(fm.first_valid + lookback - 1, close.shape[0])
        if ends.shape[0] == 0:
            return out
        x = fm.values[ends[:, None] - lookback + 1 + np.arange(lookback)[None, :]]
        predictor = serving.predictor(ARCHITECTURES.get(str(config["architecture"])), config, directory)
        y = np.concatenate([predictor.predict(x[i:i + 4096]) for i in range(0, x.shape[0], 4096)])[:, step - 1]
        q = float(config["conformal"]["q"][step - 1])
        confidence = y / q if np.isfinite(q) and q > 0 else np.zeros_like(y)
        out[ends] = np.where(confidence > params.threshold, 1.0, np.where(confidence < -params.threshold, -1.0, 0.0))
        return out
