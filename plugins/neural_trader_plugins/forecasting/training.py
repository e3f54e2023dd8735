"""Training a forecaster in torch: Adam on the mean squared error of the scaled targets, a
learning-rate schedule, early stopping on the validation loss, the best state kept (and saved).

Conventions:

* Losses are MSE of the *scaled* targets (``(y - y_mean) / y_std`` of the train part, see
  :class:`.features.Scaler`), averaged over windows and steps. ``train_loss`` of an epoch is the
  mean of its batch losses (dropout on); ``val_loss`` is evaluated with the model in eval mode.
* Early stopping: an epoch improves when ``val_loss < best - min_delta``; training stops after
  ``patience`` epochs in a row without improvement. The best epoch's weights are restored.
* ``schedule``: ``"plateau"`` (ReduceLROnPlateau on val loss, factor 0.5, patience
  ``max(1, patience // 2)``), ``"cosine"`` (cosine annealing to 0 over ``epochs``) or ``"none"``.
* ``device=None`` picks CUDA when torch sees it and ``use_gpu`` is true, else the CPU. Mixed
  precision (``torch.autocast``, bfloat16 where supported, else float16 with a gradient scaler)
  runs only on CUDA; on the CPU everything is float32.
* Reproducible with ``seed``: the weights are initialised and the batches shuffled from it, so two
  runs on the CPU give identical losses (CUDA kernels may not be bit-identical).
* ``progress(epoch, train_loss, val_loss)`` is called after every epoch (epochs count from 1);
  an exception it raises (e.g. :class:`NtCancelled`) stops training and propagates, after the best
  state so far was written to ``checkpoint_path`` (when given).

torch is an optional extra: without it :func:`train` raises :class:`NtUnavailable`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader_plugins.forecasting import evaluation
from neural_trader_plugins.forecasting.features import DataSplits
from neural_trader_plugins.forecasting.models import (
    ARCHITECTURES,
    ArchitectureSpec,
    architecture,
    hyperparameters,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["EpochLog", "TrainResult", "predict", "train"]

INSTALL_HINT = "pip install 'neural-trader[neural]'"
SCHEDULES = ("plateau", "cosine", "none")


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NtUnavailable(f"torch is not installed, and training a neural forecaster needs it; {INSTALL_HINT}") \
            from None
    return torch


@attrs.frozen(kw_only=True)
class EpochLog:
    """One epoch: mean train batch loss, validation loss, learning rate used."""

    epoch: int
    train_loss: float
    val_loss: float
    lr: float


@attrs.frozen(kw_only=True, eq=False)
class TrainResult:
    """What a model registry row needs, and the trained model.

    ``hyperparameters`` is the plain dict of the attrs hyper-parameters; ``state_dict`` the best
    epoch's weights (CPU tensors); ``metrics`` has ``val_loss``/``train_loss`` (scaled MSE at the
    best epoch) and ``val_*``/``test_*`` accuracy of the cumulative log-return forecasts in raw
    units (:func:`.evaluation.metrics`); ``data_fingerprint`` is the sha256 of the feature matrix.
    """

    architecture: str
    hyperparameters: dict[str, Any]
    n_features: int
    feature_names: tuple[str, ...]
    metrics: dict[str, float]
    state_dict: dict[str, Any]
    epochs_run: int
    best_epoch: int
    stopped_early: bool
    history: tuple[EpochLog, ...]
    data_fingerprint: str
    seed: int
    device: str
    mixed_precision: bool
    checkpoint_path: str | None
    model: Any = attrs.field(repr=False)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise NtUserError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _device(torch: Any, device: str | None, use_gpu: bool) -> Any:
    if device is None:
        return torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise NtUserError(f"device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}") from None
    if dev.type not in ("cuda", "cpu"):
        raise NtUserError(f"device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NtUnavailable(f"device {device!r} was asked for but torch sees no CUDA device; pass device='cpu' "
                            "or install a CUDA build of torch")
    return dev


def predict(model: nn.Module, x: np.ndarray, data: DataSplits, *, device: str | None = None,
            batch_size: int = 1024) -> np.ndarray:
    """Forecasts in raw units (cumulative log returns) for scaled windows ``x`` of ``data``."""
    torch = _import_torch()
    dev = next(model.parameters()).device if device is None else torch.device(device)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = torch.as_tensor(x[i:i + batch_size], dtype=torch.float32, device=dev)
            out.append(model(xb).float().cpu().numpy().astype(np.float64))
    return data.scaler.inverse_y(np.concatenate(out))


def train(arch: str | ArchitectureSpec, data: DataSplits, hp: Any | Mapping[str, Any] | None = None, *,
          epochs: int = 50, lr: float = 1e-3, batch_size: int = 64, seed: int = 0, weight_decay: float = 0.0,
          patience: int = 5, min_delta: float = 0.0, schedule: str = "plateau", device: str | None = None,
          use_gpu: bool = True, mixed_precision: bool = True,
          progress: Callable[[int, float, float], None] | None = None,
          checkpoint_path: str | Path | None = None) -> TrainResult:
    """Train architecture ``arch`` (a name of :data:`.models.ARCHITECTURES` or a spec) on ``data``.

    ``hp`` is the architecture's hyper-parameter instance or a dict of its fields (``lookback``
    and ``horizon`` default to the data's and must match it). Returns :class:`TrainResult`.
    """
    torch = _import_torch()
    spec = architecture(arch) if isinstance(arch, str) else arch
    if not isinstance(data, DataSplits):
        raise NtUserError("data must be the DataSplits of features.prepare(...)")
    if hp is None or isinstance(hp, Mapping):
        values = {"lookback": data.lookback, "horizon": data.horizon, **dict(hp or {})}
        if ARCHITECTURES.get(spec.name) is spec:
            hp = hyperparameters(spec.name, values)
        else:
            try:
                hp = spec.hyperparameters(**values)
            except (TypeError, ValueError) as exc:
                raise NtUserError(f"hp: {exc}") from None
    if not isinstance(hp, spec.hyperparameters):
        raise NtUserError(f"hp must be a {spec.hyperparameters.__name__} or a dict of its fields")
    params: Any = hp  # an attrs instance of the spec's class
    if (params.lookback, params.horizon) != (data.lookback, data.horizon):
        raise NtUserError(f"hp lookback/horizon ({params.lookback}/{params.horizon}) must match the data's windows "
                          f"({data.lookback}/{data.horizon})")
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    patience = _positive_int("patience", patience)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2 ** 63:
        raise NtUserError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    for name, v in (("lr", lr), ("weight_decay", weight_decay), ("min_delta", min_delta)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise NtUserError(f"{name} must be a finite number >= 0, got {v!r}")
    if schedule not in SCHEDULES:
        raise NtUserError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    dev = _device(torch, device, use_gpu)
    amp = bool(mixed_precision) and dev.type == "cuda"
    amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None

    torch.manual_seed(int(seed))
    model = spec.build(data.n_features, params).to(dev)
    gen = torch.Generator().manual_seed(int(seed))
    x_tr = torch.as_tensor(data.train.x, dtype=torch.float32, device=dev)
    y_tr = torch.as_tensor(data.scaler.transform_y(data.train.y), dtype=torch.float32, device=dev)
    x_va = torch.as_tensor(data.val.x, dtype=torch.float32, device=dev)
    y_va = torch.as_tensor(data.scaler.transform_y(data.val.y), dtype=torch.float32, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    sched: Any = None
    if schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, patience // 2))
    elif schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None
    loss_fn = torch.nn.MSELoss()

    def val_loss() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad(), torch.autocast(dev.type, dtype=amp_dtype, enabled=amp):
            for i in range(0, x_va.shape[0], 1024):
                pred = model(x_va[i:i + 1024]).float()
                total += float(((pred - y_va[i:i + 1024]) ** 2).sum())
        return total / float(y_va.numel())

    history: list[EpochLog] = []
    best, best_epoch, best_state, since = math.inf, 0, copy.deepcopy(model.state_dict()), 0
    stopped_early = False
    n = x_tr.shape[0]
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen).to(dev)
        losses = []
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp):
                loss = loss_fn(model(x_tr[idx]).float(), y_tr[idx])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            losses.append(float(loss.detach()))
        tl, vl = float(np.mean(losses)), val_loss()
        if not (math.isfinite(tl) and math.isfinite(vl)):
            raise NtUserError(f"training diverged at epoch {epoch} (train loss {tl}, val loss {vl}); lower lr")
        history.append(EpochLog(epoch=epoch, train_loss=tl, val_loss=vl, lr=float(opt.param_groups[0]["lr"])))
        if vl < best - float(min_delta):
            best, best_epoch, since = vl, epoch, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            since += 1
        if schedule == "plateau":
            sched.step(vl)
        elif sched is not None:
            sched.step()
        try:
            if progress is not None:
                progress(epoch, tl, vl)
        except BaseException:
            if ckpt is not None:
                torch.save(best_state, ckpt)
            raise
        if since >= patience:
            stopped_early = epoch < epochs
            break
    model.load_state_dict(best_state)
    if ckpt is not None:
        torch.save(best_state, ckpt)

    metrics: dict[str, float] = {"val_loss": best, "train_loss": history[best_epoch - 1].train_loss}
    for part_name in ("val", "test"):
        part = getattr(data, part_name)
        m = evaluation.metrics(part.y, predict(model, part.x, data))
        metrics.update({f"{part_name}_{k}": v for k, v in m.as_dict().items() if k != "mape"})
    return TrainResult(
        architecture=spec.name, hyperparameters=attrs.asdict(params), n_features=data.n_features,
        feature_names=data.feature_names, metrics=metrics, state_dict=best_state, epochs_run=len(history),
        best_epoch=best_epoch, stopped_early=stopped_early, history=tuple(history),
        data_fingerprint=data.fingerprint, seed=int(seed), device=str(dev), mixed_precision=amp,
        checkpoint_path=str(ckpt) if ckpt is not None else None, model=model)

