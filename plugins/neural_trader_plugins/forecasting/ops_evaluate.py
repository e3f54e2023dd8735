"""``neural.evaluate``: a model on a symbol and date range, next to the naive baselines and exponential
smoothing on the same windows (:mod:`.comparison`), with its conformal intervals' coverage there.

Every window of the range with ``horizon`` future bars is scored, in price space. When the range
overlaps the bars the model was trained on (same symbol), ``in_sample`` says so: those numbers flatter
the model; neural.train's own test part is the honest one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtLimitExceeded
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.forecasting.api import (
    MODEL_ID_PATTERN,
    Engine,
    ForecasterScore,
    bar_columns,
    model_bars,
    require_finite,
    scores_of,
)

__all__ = ["MAX_WINDOWS", "EvaluateParams", "EvaluateResult", "evaluate"]

#: Windows one request may score (exponential smoothing is fitted per window: ~0.2 ms each).
MAX_WINDOWS = 20_000


@attrs.frozen(kw_only=True)
class EvaluateParams:
    """Parameters of ``neural.evaluate``."""

    model_id: str | None = param(default=None, min_len=1, max_len=40, pattern=MODEL_ID_PATTERN, description=(
        "a model version, or pretrained; default the newest model of symbol, else the pretrained one"))
    symbol: str | None = param(default=None, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description=(
        "the instrument to evaluate on; default the model's own"))
    start: dt.datetime | None = param(default=None, description="first bar (UTC); default the provider's window")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now")
    provider: str | None = param(default=None, pattern=PROVIDER_PATTERN, description=(
        "where the bars come from; default the provider the model was trained on, else the fallback chain"))
    engine: Engine = param(default="auto", description="auto (ONNX Runtime when there), onnxruntime or torch")


@attrs.frozen(kw_only=True)
class EvaluateResult:
    """The model's accuracy on the range next to the baselines', and its intervals' coverage."""

    model_id: str
    symbol: str
    scores: list[ForecasterScore] = param(description="the model, then naive, drift, seasonal naive, SES and Holt, "
                                                      "on the same windows (prices)")
    best: str = param(description="the forecaster with the lowest RMSE")
    beats_naive: bool = param(description="the model's RMSE is below the naive (last value) forecast's")
    coverage_nominal: float = param(unit="fraction", description="the intervals' nominal coverage")
    coverage: float = param(unit="fraction", description="the share of outcomes inside the intervals")
    windows: int
    in_sample: bool = param(description="the range overlaps the bars the model was trained on")
    engine: str = param(description="what computed the forecasts: onnxruntime or torch")
    first_bar: dt.datetime
    last_bar: dt.datetime
    synthetic: bool


async def evaluate(params: EvaluateParams, ctx: Context) -> EvaluateResult:
    import anyio.to_thread

    from neural_trader_plugins.forecasting import comparison, conformal, inference, registry

    ref = registry.resolve(ctx.host, params.model_id, params.symbol)
    data, bars, what = await model_bars(ctx, ref, params.symbol, params.provider, params.start, params.end)
    close, high, low, volume = bar_columns(bars)

    def run() -> tuple[Any, Any, int, str]:
        fm = inference.check_features(ref.config, close, high, low, volume, what)
        w = inference.all_windows(ref.config, fm, close, what)
        if len(w) > MAX_WINDOWS:
            raise NtLimitExceeded(f"{what} gives {len(w)} windows in this range, more than the {MAX_WINDOWS} one "
                                  "evaluation scores; narrow start/end",
                                  details={"bound": "windows", "asked": len(w), "limit": MAX_WINDOWS})
        pred = registry.predictor(ctx.host, ref, params.engine)
        y_hat = np.concatenate([pred.predict(w.x[i:i + 4096]) for i in range(0, len(w), 4096)])
        ev = comparison.compare(close, w.ends, w.y, y_hat, lookback=ref.lookback, horizon=ref.horizon)
        q = np.asarray(ref.config["conformal"]["q"], dtype=np.float64)
        cal = conformal.Calibration(q=q, alpha=float(ref.config["conformal"]["alpha"]),
                                    n=int(ref.config["conformal"]["n"]))
        cover = conformal.coverage(w.y, conformal.intervals(y_hat, cal))
        return ev, cover, len(w), pred.engine

    ev, cover, n, engine = await anyio.to_thread.run_sync(run)
    result = EvaluateResult(model_id=ref.model_id, symbol=what, scores=scores_of(ev), best=ev.best,
                            beats_naive=bool(ev["model"].rmse < ev["naive"].rmse),
                            coverage_nominal=1 - float(ref.config["conformal"]["alpha"]),
                            coverage=float(cover.overall), windows=n, in_sample=_in_sample(ref, what, data),
                            engine=engine, first_bar=data.first, last_bar=data.last, synthetic=data.synthetic)
    return require_finite(result, ref.model_id)


def _in_sample(ref: Any, symbol: str, data: Any) -> bool:
    """Whether the range overlaps the bars the model learnt from (training and validation)."""
    if ref.pretrained:
        training = ref.config.get("training", {})
        cut = training.get("val_end")
        return bool(symbol in training.get("symbols", ()) and cut is not None
                    and data.first < dt.datetime.fromisoformat(cut).replace(tzinfo=dt.UTC))
    return bool(ref.symbol == symbol and ref.first_bar is not None and ref.last_bar is not None
                and data.first <= ref.last_bar and data.last >= ref.first_bar)
