"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE and directional accuracy, and one table comparing a
model with baselines on the same windows.

Definitions over every point ``(i, h)`` of ``y_true`` and ``y_pred`` (same shape), ``e = y - y_hat``:

* ``mae = mean |e|``, ``rmse = sqrt(mean e**2)``.
* ``mape = 100 * mean(|e| / |y|)`` over the points with ``y != 0``; points with ``y == 0`` are left
  out (``mape_points`` says how many were used) and it is NaN when every ``y`` is 0. On returns,
  which cross zero, MAPE explodes: compute it on prices (:func:`.features.to_prices`).
* ``smape = 200 * mean(|e| / (|y| + |y_hat|))``, the M4 competition's sMAPE (Makridakis, Spiliotis
  & Assimakopoulos, "The M4 Competition: 100,000 time series and 61 forecasting methods", IJF 36
  (2020), eq. 1); points where ``|y| + |y_hat| == 0`` count as 0 error.
* ``directional_accuracy``: the share of points where ``sign(y - ref) == sign(y_hat - ref)``,
  ``ref`` the reference (the last close when the values are prices; 0 for returns, the default);
  a zero move only matches a zero forecast.

Every metric is also given per horizon step (``*_by_step``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from neural_trader.errors import NtUserError

__all__ = ["Evaluation", "Metrics", "evaluate", "metrics"]


def forecast_matrix(name: str, value: object) -> np.ndarray:
    """``value`` as a finite ``(n, horizon)`` float array (a 1-D array is one step); NtUserError naming ``name``."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be an array of numbers") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise NtUserError(f"{name} must be a non-empty (n, horizon) array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise NtUserError(f"{name} must be finite")
    return a


@attrs.frozen(kw_only=True)
class Metrics:
    """A forecast's accuracy (definitions in the module docstring); ``*_by_step`` per horizon step."""

    mae: float
    rmse: float
    mape: float
    mape_points: int
    smape: float
    directional_accuracy: float
    n: int
    mae_by_step: tuple[float, ...]
    rmse_by_step: tuple[float, ...]
    directional_accuracy_by_step: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        return {"mae": self.mae, "rmse": self.rmse, "mape": self.mape, "smape": self.smape,
                "directional_accuracy": self.directional_accuracy}


def metrics(y_true: np.ndarray, y_pred: np.ndarray, reference: np.ndarray | float | None = None) -> Metrics:
    """The accuracy of ``y_pred`` against ``y_true`` (``(n, horizon)`` or ``(n,)``); ``reference``
    is a scalar or one value per row (``(n,)``) for the directional accuracy (default 0)."""
    y, p = forecast_matrix("y_true", y_true), forecast_matrix("y_pred", y_pred)
    if y.shape != p.shape:
        raise NtUserError(f"y_pred must have the shape of y_true {y.shape}, got {p.shape}")
    if reference is None:
        ref = np.zeros((y.shape[0], 1))
    else:
        r = np.asarray(reference, dtype=np.float64)
        if r.ndim == 0:
            ref = np.full((y.shape[0], 1), float(r))
        elif r.shape == (y.shape[0],):
            ref = r[:, None]
        else:
            raise NtUserError(f"reference must be a number or one value per row ({y.shape[0]}), got shape {r.shape}")
        if not np.isfinite(ref).all():
            raise NtUserError("reference must be finite")
    e = y - p
    ae = np.abs(e)
    nz = y != 0
    mape_points = int(nz.sum())
    mape = float(100.0 * np.mean(ae[nz] / np.abs(y[nz]))) if mape_points else float("nan")
    denom = np.abs(y) + np.abs(p)
    smape = float(200.0 * np.mean(np.divide(ae, denom, out=np.zeros_like(ae), where=denom > 0)))
    hit = np.sign(y - ref) == np.sign(p - ref)
    return Metrics(mae=float(ae.mean()), rmse=float(np.sqrt(np.mean(e * e))), mape=mape, mape_points=mape_points,
                   smape=smape, directional_accuracy=float(hit.mean()), n=int(y.size),
                   mae_by_step=tuple(float(v) for v in ae.mean(axis=0)),
                   rmse_by_step=tuple(float(v) for v in np.sqrt(np.mean(e * e, axis=0))),
                   directional_accuracy_by_step=tuple(float(v) for v in hit.mean(axis=0)))


@attrs.frozen(kw_only=True)
class Evaluation:
    """One row of :class:`Metrics` per forecaster (the model first, then the baselines in the order
    given); ``best`` names the forecaster with the lowest RMSE."""

    names: tuple[str, ...]
    rows: tuple[Metrics, ...]
    best: str

    def __getitem__(self, name: str) -> Metrics:
        try:
            return self.rows[self.names.index(name)]
        except ValueError:
            raise NtUserError(f"no forecaster named {name!r}; the table has {', '.join(self.names)}") from None

    def table(self) -> list[dict[str, float | str]]:
        """Plain rows ``{"model": name, "mae": ..., ...}`` for a frontend."""
        return [{"model": n, **m.as_dict()} for n, m in zip(self.names, self.rows, strict=True)]


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, baselines: Mapping[str, np.ndarray] | None = None, *,
             reference: np.ndarray | float | None = None, name: str = "model") -> Evaluation:
    """The model's metrics and each baseline's (``{name: forecast}``, same shape) on the same windows."""
    forecasts = {name: y_pred, **dict(baselines or {})}
    if len(forecasts) != 1 + len(baselines or {}):
        raise NtUserError(f"baselines must not reuse the model's name {name!r}")
    rows = []
    for n, f in forecasts.items():
        try:
            rows.append(metrics(y_true, f, reference))
        except NtUserError as exc:
            raise NtUserError(f"forecast {n!r}: {exc.message}") from None
    names = tuple(forecasts)
    best = names[int(np.argmin([m.rmse for m in rows]))]
    return Evaluation(names=names, rows=tuple(rows), best=best)
