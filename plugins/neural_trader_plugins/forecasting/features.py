"""Features, windows, chronological splits and a train-fitted scaler for neural forecasting.

Conventions:

* Bars are float64 columns in time order, index ``0 .. n-1``. Every feature at row ``t`` uses bars
  ``<= t`` only (the indicators are the causal native kernels of
  :mod:`neural_trader.native.indicators`), so a window never sees its future.
* A window ending at bar ``t`` holds feature rows ``t - lookback + 1 .. t``; its target is the
  **cumulative log return from the last close**, ``y[h-1] = log(close[t+h] / close[t])`` for
  ``h = 1 .. horizon``. A forecast of prices is ``close[t] * exp(y)`` (:func:`to_prices`).
* :func:`split` cuts the *bars* at ``b1 = floor(train * n)`` and ``b2 = floor((train + val) * n)``.
  A window belongs to the part holding all of its target bars: train windows touch bars ``< b1``
  only (inputs and targets), validation targets lie in ``[b1, b2)`` and test targets in
  ``[b2, n)``; windows whose targets straddle a cut are dropped (no target is shared by two parts).
  Validation and test inputs may reach back into earlier parts: that is the past, not a leak.
* The :class:`Scaler` is fitted on the train part only: per-feature mean and standard deviation
  (divisor ``n``) of the feature rows ``< b1`` that have no warm-up NaN, and per-step mean and
  standard deviation of the train targets. A zero standard deviation is replaced by 1 (the
  feature is then only centred).
* Causality holds for values; in the last bit it depends on the SMA kernel's choice of exact
  decimal arithmetic, which it makes from the decimal scale of the *whole* column (docs/native.md):
  later bars with more decimals than the earlier ones switch ``sma_gap``, ``ema_gap`` and
  ``macd_hist`` to the float method, which moves them by at most a few ulps (no information).
"""

from __future__ import annotations

import hashlib
import math

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native import indicators

__all__ = [
    "FEATURES", "DataSplits", "FeatureMatrix", "Part", "Scaler", "Windows", "feature_matrix", "fingerprint",
    "fit_scaler", "prepare", "split", "to_prices", "windows",
]

#: Feature names, in column order (those that need high/low/volume are left out without them).
FEATURES = ("return", "log_return", "volatility", "volume_change", "rsi", "sma_gap", "ema_gap", "macd_hist",
            "atr")


def _column(name: str, value: object, n: int | None = None) -> np.ndarray:
    try:
        v = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be a 1-D array of numbers") from None
    if v.ndim != 1:
        raise NtUserError(f"{name} must be a 1-D array of numbers, got shape {v.shape}")
    if n is not None and v.shape[0] != n:
        raise NtUserError(f"{name} must have one value per bar ({n}, like close), got {v.shape[0]}")
    if not np.isfinite(v).all():
        raise NtUserError(f"{name} must be finite (drop or fill the missing bars first)")
    return v


def _window_arg(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < low:
        raise NtUserError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


@attrs.frozen(kw_only=True, eq=False)
class FeatureMatrix:
    """Features per bar: ``values[t, j]`` is feature ``names[j]`` at bar ``t`` (NaN during warm-up);
    rows ``>= first_valid`` are all finite."""

    values: np.ndarray
    names: tuple[str, ...]
    first_valid: int


def feature_matrix(close: np.ndarray, high: np.ndarray | None = None, low: np.ndarray | None = None,
                   volume: np.ndarray | None = None, *, vol_window: int = 20, rsi_window: int = 14,
                   sma_window: int = 20, ema_window: int = 20, atr_window: int = 14) -> FeatureMatrix:
    """The feature matrix of a series of bars (prices > 0).

    Columns (see :data:`FEATURES`): ``return`` ``c[t]/c[t-1] - 1``; ``log_return``
    ``log(c[t]/c[t-1])``; ``volatility`` the sample sd of the last ``vol_window`` log returns;
    ``volume_change`` ``log((v[t]+1)/(v[t-1]+1))`` (the +1 keeps zero-volume bars finite);
    ``rsi`` Wilder's RSI / 100 - 0.5; ``sma_gap`` / ``ema_gap`` ``c / MA - 1``; ``macd_hist`` the
    MACD(12, 26, 9) histogram / close; ``atr`` ATR / close. ``volume_change`` needs ``volume``,
    ``atr`` needs ``high`` and ``low``; without them the column is left out.
    """
    c = _column("close", close)
    n = c.shape[0]
    if n < 2:
        raise NtUserError(f"close must have at least 2 bars, got {n}")
    if not (c > 0).all():
        raise NtUserError("close must be > 0 (log returns need positive prices)")
    windows_ = {k: _window_arg(k, v, 2 if k == "vol_window" else 1) for k, v in (
        ("vol_window", vol_window), ("rsi_window", rsi_window), ("sma_window", sma_window),
        ("ema_window", ema_window), ("atr_window", atr_window))}
    h = _column("high", high, n) if high is not None else None
    lo = _column("low", low, n) if low is not None else None
    if (h is None) != (lo is None):
        raise NtUserError("high and low must be given together (ATR needs both), or neither")
    v = _column("volume", volume, n) if volume is not None else None
    if v is not None and (v < 0).any():
        raise NtUserError("volume must be >= 0")

    nan1 = np.array([np.nan])
    cols: dict[str, np.ndarray] = {}
    cols["return"] = np.concatenate([nan1, c[1:] / c[:-1] - 1.0])
    lr = np.log(c[1:] / c[:-1])
    cols["log_return"] = np.concatenate([nan1, lr])
    vol = indicators.rolling_std(np.ascontiguousarray(lr), windows_["vol_window"], 1) if lr.shape[0] else lr
    cols["volatility"] = np.concatenate([nan1, vol])
    if v is not None:
        cols["volume_change"] = np.concatenate([nan1, np.log((v[1:] + 1.0) / (v[:-1] + 1.0))])
    cols["rsi"] = indicators.rsi(c, windows_["rsi_window"]) / 100.0 - 0.5
    cols["sma_gap"] = c / indicators.sma(c, windows_["sma_window"]) - 1.0
    cols["ema_gap"] = c / indicators.ema(c, windows_["ema_window"]) - 1.0
    cols["macd_hist"] = indicators.macd(c).hist / c
    if h is not None and lo is not None:
        cols["atr"] = indicators.atr(h, lo, c, windows_["atr_window"]) / c
    names = tuple(k for k in FEATURES if k in cols)
    values = np.ascontiguousarray(np.column_stack([cols[k] for k in names]))
    finite = np.isfinite(values).all(axis=1)
    if not finite.any():
        raise NtUserError(f"close has {n} bars, too few for the indicator windows; give more bars or shorter "
                          "windows")
    first = int(np.argmax(finite))
    if not finite[first:].all():
        bad = first + int(np.argmin(finite[first:]))
        raise NtUserError(f"a feature is not finite at bar {bad} (a flat or non-positive price?); check the bars "
                          "there")
    return FeatureMatrix(values=values, names=names, first_valid=first)


@attrs.frozen(kw_only=True, eq=False)
class Windows:
    """``x[i]`` (``lookback`` feature rows) ends at bar ``ends[i]``; ``y[i, h-1]`` is
    ``log(close[ends[i] + h] / close[ends[i]])``."""

    x: np.ndarray
    y: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return int(self.ends.shape[0])

    def take(self, mask: np.ndarray) -> Windows:
        return Windows(x=self.x[mask], y=self.y[mask], ends=self.ends[mask])


def windows(features: FeatureMatrix, close: np.ndarray, *, lookback: int, horizon: int) -> Windows:
    """Every window of ``lookback`` finite feature rows that has ``horizon`` future closes:
    ``x`` is ``(n, lookback, n_features)``, ``y`` is ``(n, horizon)`` and ``ends`` the last bar of
    each window (ascending)."""
    lb = _window_arg("lookback", lookback)
    hz = _window_arg("horizon", horizon)
    c = _column("close", close, features.values.shape[0])
    n = c.shape[0]
    ends = np.arange(features.first_valid + lb - 1, n - hz, dtype=np.int64)
    if ends.shape[0] == 0:
        raise NtUserError(f"lookback + horizon ({lb} + {hz}) leave no window in {n} bars (the first "
                          f"{features.first_valid} are indicator warm-up); shorten them or give more bars")
    idx = ends[:, None] - lb + 1 + np.arange(lb)[None, :]
    x = np.ascontiguousarray(features.values[idx])
    logc = np.log(c)
    y = np.ascontiguousarray(logc[ends[:, None] + np.arange(1, hz + 1)[None, :]] - logc[ends][:, None])
    return Windows(x=x, y=y, ends=ends)


@attrs.frozen(kw_only=True, eq=False)
class Scaler:
    """Per-feature ``mean``/``std`` and per-step ``y_mean``/``y_std``, fitted on the train part."""

    mean: np.ndarray
    std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_mean) / self.y_std

    def inverse_y(self, y_scaled: np.ndarray) -> np.ndarray:
        return y_scaled * self.y_std + self.y_mean


def _safe_std(a: np.ndarray) -> np.ndarray:
    s = a.std(axis=0)
    return np.where(s > 0, s, 1.0)


def fit_scaler(features: FeatureMatrix, train_windows: Windows, train_end: int) -> Scaler:
    """The scaler of feature rows ``first_valid .. train_end - 1`` and of the train targets."""
    rows = features.values[features.first_valid:train_end]
    if rows.shape[0] < 2 or len(train_windows) < 2:
        raise NtUserError("train leaves fewer than 2 bars or windows to fit the scaler on; raise the train "
                          "fraction or give more bars")
    return Scaler(mean=rows.mean(axis=0), std=_safe_std(rows), y_mean=train_windows.y.mean(axis=0),
                  y_std=_safe_std(train_windows.y))


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(float(value)) or not 0.0 < float(value) < 1.0:
        raise NtUserError(f"{name} must be a fraction in (0, 1), got {value!r}")
    return float(value)


def split(w: Windows, n_bars: int, horizon: int, *, train: float = 0.7, val: float = 0.15
          ) -> tuple[Windows, Windows, Windows, int, int]:
    """``(train, validation, test, b1, b2)`` by the rule in the module docstring."""
    tr, va = _fraction("train", train), _fraction("val", val)
    if tr + va >= 1.0:
        raise NtUserError(f"train + val must be < 1 to leave a test part, got {tr} + {va}")
    b1, b2 = math.floor(tr * n_bars), math.floor((tr + va) * n_bars)
    first_target, last_target = w.ends + 1, w.ends + horizon
    parts = (w.take(last_target < b1), w.take((first_target >= b1) & (last_target < b2)),
             w.take(first_target >= b2))
    for name, part in zip(("train", "val", "test"), parts, strict=True):
        if len(part) == 0:
            raise NtUserError(f"the {name} part has no window (bars {n_bars}, cuts at {b1} and {b2}); change the "
                              "train/val fractions, shorten lookback/horizon or give more bars")
    return (*parts, b1, b2)


def to_prices(y: np.ndarray, last_close: np.ndarray) -> np.ndarray:
    """Forecast prices ``last_close[i] * exp(y[i, h])`` from cumulative log returns."""
    return np.asarray(last_close, dtype=np.float64)[:, None] * np.exp(np.asarray(y, dtype=np.float64))


def fingerprint(values: np.ndarray) -> str:
    """``sha256`` (hex) of the C-contiguous float64 bytes of ``values`` (row-major; the shape is
    not hashed: keep the feature names next to it)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()


@attrs.frozen(kw_only=True, eq=False)
class Part:
    """One part of the data: scaled inputs ``x``, raw targets ``y`` (cumulative log returns),
    ``ends`` the last bar of each window and ``last_close`` ``close[ends]``."""

    x: np.ndarray
    y: np.ndarray
    ends: np.ndarray
    last_close: np.ndarray

    def __len__(self) -> int:
        return int(self.ends.shape[0])


@attrs.frozen(kw_only=True, eq=False)
class DataSplits:
    """Everything training needs: the three parts, the scaler fitted on train, the feature names,
    the bar cuts ``b1``/``b2``, ``lookback``/``horizon`` and ``fingerprint`` (sha256 of the feature
    matrix, see :func:`fingerprint`)."""

    train: Part
    val: Part
    test: Part
    scaler: Scaler
    feature_names: tuple[str, ...]
    lookback: int
    horizon: int
    b1: int
    b2: int
    fingerprint: str

    @property
    def n_features(self) -> int:
        return len(self.feature_names)


def prepare(close: np.ndarray, high: np.ndarray | None = None, low: np.ndarray | None = None,
            volume: np.ndarray | None = None, *, lookback: int = 30, horizon: int = 5, train: float = 0.7,
            val: float = 0.15) -> DataSplits:
    """Features -> windows -> chronological split -> scaler fitted on train, applied to all parts."""
    fm = feature_matrix(close, high, low, volume)
    c = np.ascontiguousarray(close, dtype=np.float64)
    w = windows(fm, c, lookback=lookback, horizon=horizon)
    tr, va, te, b1, b2 = split(w, c.shape[0], int(horizon), train=train, val=val)
    scaler = fit_scaler(fm, tr, b1)

    def part(p: Windows) -> Part:
        return Part(x=np.ascontiguousarray(scaler.transform(p.x)), y=p.y, ends=p.ends, last_close=c[p.ends])

    return DataSplits(train=part(tr), val=part(va), test=part(te), scaler=scaler, feature_names=fm.names,
                      lookback=int(lookback), horizon=int(horizon), b1=b1, b2=b2,
                      fingerprint=fingerprint(fm.values))
