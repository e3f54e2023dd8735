"""The parameters, results and handlers of ``neural.train``, ``neural.forecast``, ``neural.models``
and ``neural.delete``: models trained in torch on a symbol's bars from market data, evaluated
honestly on the held-out test part next to the naive baselines, with split conformal intervals, and
kept in the ``forecast_models`` table (one row per model version, weights included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN, Timeframe
from neural_trader.domain.media import Image
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param

_IMAGE = {"title": "Image", "description": "the PNG chart, when asked for (CLI: --plot FILE)"}
ARCH_PATTERN = r"^[a-z][a-z0-9_]*$"


def _finite(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def require_finite(result: Any, model: str, field: str = "") -> Any:
    """``result`` itself when every float in it is finite, else an :class:`NtUserError` naming the field.

    The bars are checked finite on the way in, so a NaN or an infinity here comes from the model
    (broken weights, a forecast return too large for a price) and never reaches a frontend."""
    bad = _non_finite(result, field)
    if bad is not None:
        field, value = bad
        raise NtUserError(f"model {model} gives {value} for {field}, which is not a number; retrain it (a lower "
                          "learning_rate, a smaller hidden_size) or forecast from other bars")
    return result


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if attrs.has(type(value)):
        items: Any = ((f.name, getattr(value, f.name)) for f in attrs.fields(type(value)))
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, v in items:
        found = _non_finite(v, f"{path}{key}" if not path or str(key).startswith("[") else f"{path}.{key}")
        if found is not None:
            return found
    return None


def _architectures(ctx: Context) -> Any:
    return ctx.host.registry("forecasters")


def _spec(ctx: Context, name: str) -> Any:
    registry = _architectures(ctx)
    if name not in registry:
        raise NtUserError(f"architecture must be one of {', '.join(registry.names())}, got {name!r}")
    return registry.get(name)


async def load_bars(ctx: Context, symbol: str, provider: str | None, timeframe: Timeframe, start: dt.datetime | None,
                end: dt.datetime | None) -> Any:
    from neural_trader.backtest.data import DataRequest, load

    data = await load(ctx.host, DataRequest(symbols=(symbol.strip().upper(),), provider=provider, timeframe=timeframe,
                                            start=start, end=end, frontend=ctx.frontend))
    return data


def bar_columns(bars: Any) -> list[np.ndarray]:
    return [np.ascontiguousarray(getattr(bars, k), dtype=np.float64) for k in ("close", "high", "low", "volume")]


# -- neural.train ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class TrainParams:
    """Parameters of ``neural.train``."""

    symbol: str = param(pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description="the instrument, e.g. AAPL")
    architecture: str = param(default="gru", pattern=ARCH_PATTERN, description=(
        "lstm, gru, transformer, tcn, nbeats, or one a pack registered (neural.models lists them)"))
    hyperparameters: dict[str, float] = param(factory=lambda: {"hidden_size": 32, "layers": 1}, description=(
        "the architecture's hyper-parameters by name (hidden_size, layers, dropout ...); lookback and horizon "
        "are set by their own fields"))
    lookback: int = param(default=30, ge=2, le=1000, description="bars each forecast looks back on")
    horizon: int = param(default=5, ge=1, le=100, description="bars ahead each forecast predicts")
    start: dt.datetime | None = param(default=None, description="first bar (UTC); default five years before end")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now")
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    provider: str | None = param(default=None, pattern=PROVIDER_PATTERN, description="a data provider by name; "
                                                                                    "default the fallback chain")
    epochs: int = param(default=20, ge=1, le=500, description="epochs at most (early stopping may end sooner)")
    learning_rate: float = param(default=1e-3, gt=0, le=1, description="Adam's learning rate")
    batch_size: int = param(default=64, ge=1, le=65536, description="windows per gradient step")
    patience: int = param(default=5, ge=1, le=100, description="epochs without validation gain before stopping")
    seed: int = param(default=0, ge=0, le=2**31 - 1, description="seeds the weights and the shuffling")
    alpha: float = param(default=0.1, gt=0, lt=1, description="1 - the prediction intervals' coverage (0.1: 90 %)")
    use_gpu: bool = param(default=True, description="train on a CUDA GPU when torch sees one (mixed precision)")


@attrs.frozen(kw_only=True)
class ForecasterScore:
    """Accuracy of one forecaster on the held-out test part, in price space."""

    name: str
    mae: float | None = param(description="mean absolute error of the forecast prices")
    rmse: float | None
    mape: float | None = param(description="mean absolute percentage error (in percent)")
    directional_accuracy: float | None = param(unit="fraction", description="share of forecasts with the right "
                                                                            "direction from the last close")


@attrs.frozen(kw_only=True)
class EpochView:
    epoch: int
    train_loss: float | None
    val_loss: float | None


@attrs.frozen(kw_only=True)
class TrainResult:
    """A trained model version: how good it is next to the naive baselines, and its intervals."""

    model_id: str = param(description="the version's id (neural.forecast takes it)")
    architecture: str
    symbol: str
    hyperparameters: dict[str, float | int]
    test: list[ForecasterScore] = param(description="the model and the baselines (naive, drift, seasonal naive) "
                                                    "on the same test windows")
    best: str = param(description="the forecaster with the lowest test RMSE")
    beats_naive: bool = param(description="the model's test RMSE is below the naive (last value) forecast's")
    coverage_nominal: float = param(unit="fraction", description="the intervals' nominal coverage, 1 - alpha")
    coverage_test: float = param(unit="fraction", description="the share of test outcomes inside the intervals")
    epochs_run: int
    best_epoch: int
    stopped_early: bool
    device: str = param(description="cpu or cuda")
    windows: dict[str, int] = param(description="windows in the train, validation and test parts")
    history: list[EpochView]
    first_bar: dt.datetime
    last_bar: dt.datetime
    provider: str
    synthetic: bool


def scores_of(ev: Any) -> list[ForecasterScore]:
    return [ForecasterScore(name=n, mae=_finite(m.mae), rmse=_finite(m.rmse), mape=_finite(m.mape),
                            directional_accuracy=_finite(m.directional_accuracy)) for n, m in zip(ev.names, ev.rows,
                                                                                                 strict=True)]


#: Training work one request may ask for by default, in multiply-adds (about 5 s of a CPU core; 100x on a
#: GPU); ``[plugins.forecasting] max_training_work`` / ``NT_FORECASTING_MAX_TRAINING_WORK`` raises it.
MAX_TRAINING_WORK = 1e10


def check_training_work(ctx: Context, *, lookback: int, epochs: int, use_gpu: bool, hp: dict[str, Any],
                        n_windows: int) -> None:
    """Refuse a training run too large for one request: forward and backward passes cost about
    ``6 x lookback x hidden^2 x layers`` per window and epoch (``epochs``: all of the request's)."""
    hidden, layers = float(hp.get("hidden_size", 64)), float(hp.get("layers", 2))
    work = 6.0 * lookback * hidden * hidden * layers * n_windows * epochs
    try:
        limit = float(ctx.host.settings.plugin("forecasting").get("max_training_work") or MAX_TRAINING_WORK)
    except ValueError:
        raise NtUserError("the forecasting setting max_training_work must be a number") from None
    budget = limit * (100 if use_gpu and _cuda() else 1)
    if work > budget:
        raise NtUserError(f"this training would take about {work:.2g} multiply-adds ({n_windows} windows x "
                          f"{epochs} epochs, hidden_size {hidden:g}, layers {layers:g}), more than the "
                          f"{budget:.2g} one request may use; lower epochs, hidden_size, layers or lookback (or "
                          "raise NT_FORECASTING_MAX_TRAINING_WORK)")


#: torch's CPU threads while training (``[plugins.forecasting] torch_threads`` /
#: ``NT_FORECASTING_TORCH_THREADS``): the default 1 because these models are small, and intra-op threads
#: cost more than they give (a 3-epoch GRU: 0.3 s on one thread, 14 s on two busy cores).
TORCH_THREADS = 1


def set_torch_threads(ctx: Context) -> None:
    """Apply the ``torch_threads`` setting (process-wide in torch; the same value for every request)."""
    import torch

    raw = ctx.host.settings.plugin("forecasting").get("torch_threads") or TORCH_THREADS
    try:
        threads = int(raw)
    except (TypeError, ValueError):
        raise NtUserError(f"the forecasting setting torch_threads must be a whole number >= 1, got {raw!r}") from None
    if threads < 1:
        raise NtUserError(f"the forecasting setting torch_threads must be >= 1, got {threads}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _cuda() -> bool:
    from neural_trader.accelerators import cuda_available

    return cuda_available()


async def train(params: TrainParams, ctx: Context) -> TrainResult:
    import anyio.to_thread

    from neural_trader_plugins.forecasting import artifacts, comparison, conformal, features
    from neural_trader_plugins.forecasting import training as T

    spec = _spec(ctx, params.architecture)
    data = await load_bars(ctx, params.symbol, params.provider, params.timeframe, params.start, params.end)
    bars = data.bars[0]
    need = params.lookback + params.horizon + 60
    if len(bars) < need * 3:
        raise NtUserError(f"{bars.symbol} has {len(bars)} bars in the window; training with lookback {params.lookback} "
                          f"and horizon {params.horizon} needs at least {need * 3}; widen start/end")
    close, high, low, volume = bar_columns(bars)
    ints = {f.name for f in attrs.fields(spec.hyperparameters) if f.type in (int, "int")}
    # JSON numbers arrive as floats: a whole number for an integer field is that integer.
    given = {k: int(v) if k in ints and float(v).is_integer() else v for k, v in params.hyperparameters.items()}
    hp = {**given, "lookback": params.lookback, "horizon": params.horizon}

    device = "cuda" if params.use_gpu and _cuda() else "cpu"

    def run() -> tuple[Any, ...]:
        d = features.prepare(close, high, low, volume, lookback=params.lookback, horizon=params.horizon)
        if not conformal.bounded(len(d.val), params.alpha):
            raise NtUserError(f"alpha {params.alpha:g} is too small for the {len(d.val)} validation windows: the "
                              "split-conformal intervals would be unbounded (alpha must be at least 1/(n+1) = "
                              f"1/{len(d.val) + 1}); raise alpha or widen start/end")
        check_training_work(ctx, lookback=params.lookback, epochs=params.epochs, use_gpu=params.use_gpu, hp=given,
                            n_windows=len(d.train))
        set_torch_threads(ctx)
        # The same request on the same data trains the same weights (seeded, CPU): one version, one id.
        model_id = _version_id(params, d.fingerprint, device)
        directory = artifacts.model_dir(ctx.host.settings.data_dir, model_id)
        directory.mkdir(parents=True, exist_ok=True)
        checkpoint = directory / CHECKPOINT
        try:
            r = T.train(spec, d, hp, epochs=params.epochs, lr=params.learning_rate, batch_size=params.batch_size,
                        seed=params.seed, patience=params.patience, use_gpu=params.use_gpu, checkpoint_path=checkpoint,
                        progress=lambda epoch, tl, vl: ctx.progress(epoch, params.epochs,
                                                                    f"epoch {epoch}: val {vl:.4g}"))
        except BaseException:
            if not any(directory.iterdir()):  # failed before a checkpoint (a diverged run): leave nothing
                directory.rmdir()
            raise
        pred_val, pred_test = T.predict(r.model, d.val.x, d), T.predict(r.model, d.test.x, d)
        with np.errstate(over="ignore"):
            finite = bool(np.isfinite(np.exp(pred_val)).all() and np.isfinite(np.exp(pred_test)).all())
        if not finite:  # e.g. a large learning_rate: the losses stayed finite, the forecasts did not
            checkpoint.unlink(missing_ok=True)  # a model that cannot forecast: nothing of it is kept
            if not any(directory.iterdir()):
                directory.rmdir()
            raise NtUserError("training gave a model whose forecasts are not finite prices (NaN, or returns too "
                              "large) on the validation or test windows; lower learning_rate, hidden_size or layers")
        cal = conformal.calibrate(d.val.y, pred_val, alpha=params.alpha)
        cover = conformal.coverage(d.test.y, conformal.intervals(pred_test, cal))
        ev = comparison.compare(close, d.test.ends, d.test.y, pred_test, lookback=params.lookback,
                                horizon=params.horizon)
        _store(ctx, model_id, params, bars, data, d, r, cal, ev, spec)
        checkpoint.unlink(missing_ok=True)  # the version's weights are written: the checkpoint is spent
        return model_id, d, r, cover, ev

    model_id, d, r, cover, ev = await anyio.to_thread.run_sync(run)
    result = TrainResult(
        model_id=model_id, architecture=spec.name, symbol=bars.symbol, hyperparameters=r.hyperparameters,
        test=scores_of(ev), best=ev.best, beats_naive=bool(ev["model"].rmse < ev["naive"].rmse),
        coverage_nominal=1 - params.alpha, coverage_test=float(cover.overall), epochs_run=r.epochs_run,
        best_epoch=r.best_epoch, stopped_early=r.stopped_early, device=r.device,
        windows={"train": len(d.train), "validation": len(d.val), "test": len(d.test)},
        history=[EpochView(epoch=e.epoch, train_loss=_finite(e.train_loss), val_loss=_finite(e.val_loss))
                 for e in r.history],
        first_bar=data.first, last_bar=data.last, provider=data.provider, synthetic=data.synthetic)
    return require_finite(result, model_id)


#: The best state so far, in the version's folder while it trains (kept if training is cancelled).
CHECKPOINT = "checkpoint.pt"


def _version_id(params: TrainParams, fingerprint: str, device: str) -> str:
    request = attrs.asdict(params, value_serializer=lambda _i, _a, v: v.isoformat() if isinstance(v, dt.datetime)
                           else v)
    # 8 and 8.0 are one hyper-parameter value (the wire sends numbers; neural.optimize passes ints)
    request["hyperparameters"] = {k: float(v) for k, v in params.hyperparameters.items()}
    return hashlib.sha256(json.dumps({"request": request, "data": fingerprint, "device": device},
                                     sort_keys=True, default=str).encode()).hexdigest()[:16]


def _store(ctx: Context, model_id: str, params: TrainParams, bars: Any, data: Any, d: Any, r: Any, cal: Any,
           ev: Any, spec: Any) -> None:
    import torch

    from neural_trader_plugins.forecasting import registry
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    buf = io.BytesIO()
    torch.save(r.state_dict, buf)
    s = d.scaler
    config = {"hyperparameters": r.hyperparameters, "feature_names": list(d.feature_names), "lookback": d.lookback,
              "horizon": d.horizon, "n_features": d.n_features,
              "scaler": {k: getattr(s, k).tolist() for k in ("mean", "std", "y_mean", "y_std")},
              "conformal": {"alpha": cal.alpha, "q": cal.q.tolist(), "n": cal.n},
              "training": {"epochs": params.epochs, "learning_rate": params.learning_rate, "seed": params.seed,
                           "batch_size": params.batch_size, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                           "device": r.device}}
    metrics = {row["model"]: {k: _finite(v) if isinstance(v, float) else v for k, v in row.items() if k != "model"}
               for row in ev.table()}
    row = ForecastModelRow(
        id=model_id, architecture=r.architecture, symbol=bars.symbol, timeframe=params.timeframe.value,
        provider=data.provider, config=json.dumps(config), metrics=json.dumps(metrics),
        data_fingerprint=r.data_fingerprint, first_bar=data.first, last_bar=data.last, weights=buf.getvalue())
    registry.save(ctx.host, row, spec, {**config, "symbol": bars.symbol, "timeframe": params.timeframe.value},
                  r.state_dict)


# -- neural.models --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ModelsParams:
    """Parameters of ``neural.models``."""

    symbol: str | None = param(default=None, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                               description="only the models of this instrument")
    limit: int = param(default=50, ge=1, le=1000, description="newest first, at most this many")


@attrs.frozen(kw_only=True)
class ArchitectureInfo:
    name: str
    summary: str
    plugin: str
    hyperparameters: list[str] = param(description="its hyper-parameters (neural.train's hyperparameters field)")


@attrs.frozen(kw_only=True)
class ModelInfo:
    model_id: str
    architecture: str
    symbol: str
    timeframe: str
    lookback: int
    horizon: int
    test_rmse: float | None = param(description="the model's test RMSE (prices)")
    naive_rmse: float | None = param(description="the naive forecast's test RMSE on the same windows")
    first_bar: dt.datetime
    last_bar: dt.datetime
    created_at: dt.datetime
    files: list[str] = param(description="its files in the data dir (onnx, safetensors, config); none: neural.export "
                                         "writes them")


@attrs.frozen(kw_only=True)
class PretrainedInfo:
    """The model shipped in the package (neural.forecast's answer when a symbol has no trained model)."""

    model_id: str
    architecture: str
    lookback: int
    horizon: int
    trained_on: list[str] = param(description="the symbols whose daily bars trained it")
    test_rmse: float | None = param(description="its test RMSE (prices, pooled over those symbols)")
    naive_rmse: float | None = param(description="the naive forecast's test RMSE on the same windows")


@attrs.frozen(kw_only=True)
class ModelsResult:
    architectures: list[ArchitectureInfo]
    models: list[ModelInfo] = param(description="trained model versions, newest first")
    pretrained: PretrainedInfo | None = param(description="the shipped model (none if its files are missing)")


def models(params: ModelsParams, ctx: Context) -> ModelsResult:
    from sqlmodel import col, select

    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    registry = _architectures(ctx)
    archs = [ArchitectureInfo(name=a.name, summary=a.summary, plugin=registry.owner(a.name),
                              hyperparameters=[f.name for f in attrs.fields(a.hyperparameters)
                                               if f.name not in ("lookback", "horizon")]) for a in registry]
    query = select(ForecastModelRow.id, ForecastModelRow.architecture, ForecastModelRow.symbol,
                   ForecastModelRow.timeframe, ForecastModelRow.config, ForecastModelRow.metrics,
                   ForecastModelRow.first_bar, ForecastModelRow.last_bar, ForecastModelRow.created_at,
                   ForecastModelRow.artifact_dir)  # type: ignore[call-overload]  # typed overloads stop at 4
    if params.symbol:
        query = query.where(ForecastModelRow.symbol == params.symbol.strip().upper())
    with ctx.host.services.storage.session() as session:
        rows = session.exec(query.order_by(col(ForecastModelRow.created_at).desc()).limit(params.limit)).all()
    out = []
    for row in rows:
        config, metrics = json.loads(row.config), json.loads(row.metrics)
        out.append(ModelInfo(model_id=row.id, architecture=row.architecture, symbol=row.symbol,
                             timeframe=row.timeframe, lookback=config["lookback"], horizon=config["horizon"],
                             test_rmse=metrics.get("model", {}).get("rmse"),
                             naive_rmse=metrics.get("naive", {}).get("rmse"), first_bar=row.first_bar,
                             last_bar=row.last_bar, created_at=row.created_at, files=_files(ctx, row.artifact_dir)))
    return ModelsResult(architectures=archs, models=out, pretrained=_pretrained())


def _files(ctx: Context, artifact_dir: str | None) -> list[str]:
    from pathlib import Path

    from neural_trader_plugins.forecasting import artifacts

    if not artifact_dir:
        return []
    return sorted(artifacts.paths(Path(ctx.host.settings.data_dir) / artifact_dir).existing())


def _pretrained() -> PretrainedInfo | None:
    from neural_trader_plugins.forecasting import registry

    try:
        ref = registry.pretrained()
    except NtUserError:
        return None
    return PretrainedInfo(model_id=ref.model_id, architecture=ref.architecture, lookback=ref.lookback,
                          horizon=ref.horizon, trained_on=list(ref.config.get("training", {}).get("symbols", [])),
                          test_rmse=ref.metrics.get("model", {}).get("rmse"),
                          naive_rmse=ref.metrics.get("naive", {}).get("rmse"))


# -- neural.forecast ------------------------------------------------------------------------------------
MODEL_ID_PATTERN = r"^([0-9a-f]+|pretrained)$"
#: Which runtime serves: auto (ONNX Runtime when the graph is there), or one forced.
Engine = Literal["auto", "onnxruntime", "torch"]


@attrs.frozen(kw_only=True)
class ForecastParams:
    """Parameters of ``neural.forecast``."""

    model_id: str | None = param(default=None, min_len=1, max_len=40, pattern=MODEL_ID_PATTERN, description=(
        "a model version (neural.models lists them), or pretrained for the model shipped in the package"))
    symbol: str | None = param(default=None, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description=(
        "the instrument to forecast; without model_id its newest model, else the pretrained one"))
    end: dt.datetime | None = param(default=None, description="forecast from the last bar at or before this (UTC); "
                                                              "default now")
    provider: str | None = param(default=None, pattern=PROVIDER_PATTERN, description=(
        "where the recent bars come from; default the provider the model was trained on"))
    engine: Engine = param(default="auto", description=(
        "auto: ONNX Runtime when the model has its graph, else torch; or force onnxruntime / torch"))
    chart: bool = param(default=False, description="return the recent closes, the forecast and its interval as a PNG")


@attrs.frozen(kw_only=True)
class StepForecast:
    step: int = param(description="bars ahead of the last bar")
    price: float = param(description="the point forecast")
    lower: float = param(description="the interval's lower bound")
    upper: float = param(description="the interval's upper bound")


@attrs.frozen(kw_only=True)
class ForecastResult:
    """A point forecast per step ahead with its split-conformal interval."""

    model_id: str
    symbol: str
    last_bar: dt.datetime = param(description="the bar the forecast starts from")
    last_close: float
    coverage: float = param(unit="fraction", description="the intervals' nominal coverage")
    steps: list[StepForecast]
    engine: str = param(description="what computed it: onnxruntime or torch")
    synthetic: bool
    chart: Image | None = attrs.field(default=None, metadata=_IMAGE)


async def model_bars(ctx: Context, ref: Any, symbol: str | None, provider: str | None, start: dt.datetime | None,
                     end: dt.datetime | None) -> tuple[Any, Any, str]:
    """The bars a model reads: ``symbol``'s (default the model's own) from ``provider`` (default the one it
    was trained on), at its timeframe."""
    what = (symbol or ref.symbol or "").strip().upper()
    if not what:
        raise NtUserError("the pretrained model needs a symbol to forecast")
    data = await load_bars(ctx, what, provider or ref.provider, Timeframe(ref.timeframe), start, end)
    return data, data.bars[0], what


#: Bars up to which neural.forecast computes on the event loop instead of a worker thread.
INLINE_BARS = 5000


async def forecast(params: ForecastParams, ctx: Context) -> ForecastResult:
    import anyio.to_thread

    from neural_trader_plugins.forecasting import inference, registry

    ref = registry.resolve(ctx.host, params.model_id, params.symbol)
    conf = ref.config["conformal"]
    q = np.asarray(conf["q"], dtype=np.float64)
    if not np.isfinite(q).all():  # stored before neural.train refused such an alpha
        raise NtUserError(f"model {ref.model_id} has unbounded intervals: its alpha {float(conf['alpha']):g} is below "
                          f"1/(n+1) = 1/{int(conf['n']) + 1} for its {int(conf['n'])} validation windows; "
                          "retrain it with a larger alpha (or on more bars)")
    end = params.end or dt.datetime.now(dt.UTC)
    data, bars, what = await model_bars(ctx, ref, params.symbol, params.provider, None, end)
    close, high, low, volume = bar_columns(bars)

    def run() -> tuple[np.ndarray, str]:
        fm = inference.check_features(ref.config, close, high, low, volume, what)
        x = inference.last_window(ref.config, fm, what)
        predictor = registry.predictor(ctx.host, ref, params.engine)
        return predictor.predict(x)[0], predictor.engine

    # One window is well under a millisecond of work (features of the history, one ONNX run): a worker
    # thread's hand-off would cost more; long histories still go to a thread.
    y, engine = run() if close.shape[0] <= INLINE_BARS else await anyio.to_thread.run_sync(run)
    last = float(close[-1])
    with np.errstate(over="ignore"):  # an overflow is an infinity, refused below with the field it is in
        price, lower, upper = (last * np.exp(v) for v in (y, y - q, y + q))
    steps = [StepForecast(step=h + 1, price=float(price[h]), lower=float(lower[h]), upper=float(upper[h]))
             for h in range(len(y))]
    require_finite(steps, ref.model_id, "steps")
    chart = None
    if params.chart:
        png = await anyio.to_thread.run_sync(lambda: _forecast_png(what, close[-120:], steps))
        chart = Image.png(png)
    return ForecastResult(model_id=ref.model_id, symbol=what, last_bar=data.last, last_close=last,
                          coverage=1 - float(ref.config["conformal"]["alpha"]), steps=steps, engine=engine,
                          synthetic=data.synthetic, chart=chart)


def _forecast_png(symbol: str, recent: np.ndarray, steps: list[StepForecast]) -> bytes:
    from neural_trader.backtest.plots import figure_factory

    fig = figure_factory()(figsize=(8, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    n = recent.shape[0]
    ax.plot(np.arange(n), recent, color="tab:blue", linewidth=1.0, label="close")
    x = np.arange(n - 1, n + len(steps))
    ax.plot(x, [recent[-1], *(s.price for s in steps)], color="tab:orange", label="forecast")
    ax.fill_between(x, [recent[-1], *(s.lower for s in steps)], [recent[-1], *(s.upper for s in steps)],
                    color="tab:orange", alpha=0.25, label="interval")
    ax.set_title(f"{symbol}: forecast")
    ax.legend(loc="best")
    ax.grid(True, alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
