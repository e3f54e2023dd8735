"""Numpy twins of the indicator kernels: the reference semantics, bit for bit.

Each function here has the signature of its namesake in :mod:`neural_trader.native.indicators`
and performs the same floating-point operations in the same order as ``native/indicators/
indicators.c``, so compiled and fallback runs agree exactly. Recursions (EMA, Wilder smoothing)
are Python loops: correct first, the C kernel is the fast path.

Conventions (docs/native.md): every output has the input's length; warm-up bars are NaN; a window
holding a NaN yields NaN; recursive averages start at the first non-NaN input and a later NaN
propagates.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from neural_trader.native._buffers import I8, array_arg, float_arg, int_arg, quiet, range_error, same_length

#: Exact rolling sums work on decimals with at most this many digits after the point.
MAX_DECIMALS = 10
_POW10 = tuple(float(f"1e{d}") for d in range(MAX_DECIMALS + 1))
_TWO53 = 9007199254740992.0

#: What each scalar argument must be; the compiled wrapper reuses these texts.
RULES: dict[str, str] = {
    "window": "must be >= 1",
    "ddof": "must satisfy 0 <= ddof < window",
    "k": "must be a finite number >= 0",
    "fast": "must be >= 1",
    "slow": "must be greater than fast",
    "signal": "must be >= 1",
}


class Bands(NamedTuple):
    """Bollinger or Donchian bands."""

    upper: np.ndarray
    mid: np.ndarray
    lower: np.ndarray


class Macd(NamedTuple):
    """MACD line, its signal line and the histogram (line - signal)."""

    macd: np.ndarray
    signal: np.ndarray
    hist: np.ndarray


# -- argument checks (shared with the compiled wrapper) ----------------------------------------


def check_window(window: object) -> int:
    w = int_arg("window", window)
    if w < 1:
        raise range_error("window", w, RULES["window"])
    return w


def check_ddof(ddof: object, window: int) -> int:
    d = int_arg("ddof", ddof)
    if d < 0 or d >= window:
        raise range_error("ddof", d, RULES["ddof"])
    return d


def check_k(k: object) -> float:
    kf = float_arg("k", k)
    if not (kf >= 0.0) or kf == float("inf"):
        raise range_error("k", kf, RULES["k"])
    return kf


def check_macd(fast: object, slow: object, signal: object) -> tuple[int, int, int]:
    f, s, g = int_arg("fast", fast), int_arg("slow", slow), int_arg("signal", signal)
    if f < 1:
        raise range_error("fast", f, RULES["fast"])
    if s <= f:
        raise range_error("slow", s, RULES["slow"])
    if g < 1:
        raise range_error("signal", g, RULES["signal"])
    return f, s, g


# -- exact decimal sums -------------------------------------------------------------------------


def _representable_digits(x: np.ndarray) -> tuple[int, float]:
    v = x[~np.isnan(x)]
    if np.isinf(v).any():
        return -1, 0.0
    for d, s in enumerate(_POW10):
        m = np.rint(v * s)  # huge values overflow to inf and simply fail the test
        if np.array_equal(m / s, v):
            return d, float(np.abs(m).max(initial=0.0))
    return -1, 0.0


def _digits_for_window(d: int, max_abs: float, window: int) -> int:
    if d < 0:
        return -1
    if not (float(window) * _POW10[d] < _TWO53) or not (max_abs * float(window) < _TWO53):
        return -1
    return d


@quiet
def decimal_digits(x: np.ndarray, window: int) -> int:
    """The decimal scale SMA uses for ``x`` and ``window``, or -1 for the float fallback.

    The smallest ``d <= 10`` such that every non-NaN value is the double nearest ``k / 10**d``
    for an integer ``k`` and every window sum of those integers is below 2**53.
    """
    x = array_arg("x", x)
    w = check_window(window)
    d, max_abs = _representable_digits(x)
    return _digits_for_window(d, max_abs, w)


def _sma(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    rep, max_abs = _representable_digits(x)
    d = _digits_for_window(rep, max_abs, window)
    if d >= 0:
        s = _POW10[d]
        nan = np.isnan(x)
        scaled = np.rint(np.where(nan, 0.0, x) * s).astype(np.int64)
        # int64 cumsum may wrap on long series; window differences are still exact (< 2**53).
        sums = np.zeros(n + 1, np.int64)
        np.cumsum(scaled, out=sums[1:])
        nans = np.zeros(n + 1, np.int64)
        np.cumsum(nan, out=nans[1:])
        win = sums[window:] - sums[:-window]
        mean = win.astype(np.float64) / (float(window) * s)
        out[window - 1:] = np.where(nans[window:] != nans[:-window], np.nan, mean)
    else:
        acc = np.zeros(n - window + 1)
        for k in range(window):
            acc += x[k:n - window + 1 + k]
        out[window - 1:] = acc / float(window)
    return out


@quiet
def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average, exact on decimal prices (see :func:`decimal_digits`)."""
    x = array_arg("x", x)
    return _sma(x, check_window(window))


# -- dispersion ---------------------------------------------------------------------------------


def _std(x: np.ndarray, window: int, ddof: int, mean: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    m = mean[window - 1:]
    acc = np.zeros(n - window + 1)
    for k in range(window):
        dev = x[k:n - window + 1 + k] - m
        acc += dev * dev
    out[window - 1:] = np.sqrt(acc / float(window - ddof))
    return out


@quiet
def rolling_std(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Rolling standard deviation around the exact SMA (two-pass); ``ddof=1`` for the sample sd."""
    x = array_arg("x", x)
    w = check_window(window)
    d = check_ddof(ddof, w)
    return _std(x, w, d, _sma(x, w))


@quiet
def zscore(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """``(x - SMA) / rolling sd``; NaN where the sd is 0 (a flat window)."""
    x = array_arg("x", x)
    w = check_window(window)
    d = check_ddof(ddof, w)
    mean = _sma(x, w)
    sd = _std(x, w, d, mean)
    return np.where(sd == 0.0, np.nan, (x - mean) / sd)


@quiet
def bollinger(x: np.ndarray, window: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands: SMA and SMA +/- k population standard deviations."""
    x = array_arg("x", x)
    w = check_window(window)
    kf = check_k(k)
    mid = _sma(x, w)
    width = kf * _std(x, w, 0, mid)
    return Bands(upper=mid + width, mid=mid, lower=mid - width)


# -- recursive averages -------------------------------------------------------------------------


def _first_valid(x: np.ndarray) -> int:
    valid = np.flatnonzero(~np.isnan(x))
    return int(valid[0]) if valid.size else x.shape[0]


def _seed(x: np.ndarray, f: int, window: int) -> float:
    acc = 0.0
    for v in x[f:f + window].tolist():  # index order, like the C loop (not numpy's pairwise sum)
        acc += v
    return acc / float(window)


def _ema(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    f = _first_valid(x)
    if f + window > n:
        return out
    alpha = 2.0 / (float(window) + 1.0)
    beta = 1.0 - alpha
    e = _seed(x, f, window)
    out[f + window - 1] = e
    rest = x[f + window:].tolist()
    for j, v in enumerate(rest):
        e = alpha * v + beta * e
        rest[j] = e
    out[f + window:] = rest
    return out


def _wilder(x: np.ndarray, window: int) -> np.ndarray:
    """Wilder's smoothing as backtrader computes it: e * (1 - 1/window) + v * (1/window)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    f = _first_valid(x)
    if f + window > n:
        return out
    alpha = 1.0 / float(window)
    alpha1 = 1.0 - alpha
    e = _seed(x, f, window)
    out[f + window - 1] = e
    rest = x[f + window:].tolist()
    for j, v in enumerate(rest):
        e = e * alpha1 + v * alpha
        rest[j] = e
    out[f + window:] = rest
    return out


@quiet
def ema(x: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (window + 1), seeded with the SMA of the first
    ``window`` values from the first non-NaN one."""
    x = array_arg("x", x)
    return _ema(x, check_window(window))


@quiet
def rsi(x: np.ndarray, window: int = 14) -> np.ndarray:
    """Wilder's RSI: Wilder-smoothed gains and losses; 100 when there are no losses, 50 when the
    window is flat."""
    x = array_arg("x", x)
    w = check_window(window)
    n = x.shape[0]
    d = np.full(n, np.nan)
    d[1:] = x[1:] - x[:-1]
    nan = np.isnan(d)
    gain = np.where(nan, np.nan, np.where(d > 0.0, d, 0.0))
    loss = np.where(nan, np.nan, np.where(d < 0.0, -d, 0.0))
    g = _wilder(gain, w)
    lo = _wilder(loss, w)
    return np.where(lo == 0.0, np.where(g == 0.0, 50.0, 100.0), 100.0 - 100.0 / (1.0 + g / lo))


@quiet
def macd(x: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD: EMA(fast) - EMA(slow), its EMA(signal), and their difference."""
    x = array_arg("x", x)
    f, s, g = check_macd(fast, slow, signal)
    line = _ema(x, f) - _ema(x, s)
    sig = _ema(line, g)
    return Macd(macd=line, signal=sig, hist=line - sig)


@quiet
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    """Average true range, Wilder-smoothed; the true range starts at bar 1 (it needs the previous
    close), so the first value is at bar ``window``."""
    high, low, close = array_arg("high", high), array_arg("low", low), array_arg("close", close)
    n = same_length(high=high, low=low, close=close)
    w = check_window(window)
    tr = np.full(n, np.nan)
    if n > 1:
        hl = high[1:] - low[1:]
        hc = np.abs(high[1:] - close[:-1])
        lc = np.abs(low[1:] - close[:-1])
        tr[1:] = np.maximum(np.maximum(hl, hc), lc)
    return _wilder(tr, w)


# -- rolling extremes ---------------------------------------------------------------------------


def _extreme(x: np.ndarray, window: int, want_max: bool) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    view = sliding_window_view(x, window)
    out[window - 1:] = view.max(axis=1) if want_max else view.min(axis=1)
    return out


@quiet
def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Highest value over the window."""
    x = array_arg("x", x)
    return _extreme(x, check_window(window), True)


@quiet
def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    """Lowest value over the window."""
    x = array_arg("x", x)
    return _extreme(x, check_window(window), False)


@quiet
def donchian(high: np.ndarray, low: np.ndarray, window: int = 20) -> Bands:
    """Donchian channel: highest high, lowest low, and their midpoint."""
    high, low = array_arg("high", high), array_arg("low", low)
    same_length(high=high, low=low)
    w = check_window(window)
    upper = _extreme(high, w, True)
    lower = _extreme(low, w, False)
    return Bands(upper=upper, mid=(upper + lower) / 2.0, lower=lower)


# -- crossover ----------------------------------------------------------------------------------


@quiet
def crossover(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """backtrader's CrossOver as int8: +1 where ``fast`` crosses above ``slow``, -1 below, else 0.

    A cross needs ``fast > slow`` now and the last non-zero ``fast - slow`` before this bar to be
    negative (mirror for -1): a tie neither crosses nor forgets the side; a NaN forgets it.
    """
    fast, slow = array_arg("fast", fast), array_arg("slow", slow)
    n = same_length(fast=fast, slow=slow)
    gt = fast > slow
    lt = fast < slow
    tie = fast == slow
    side = gt.astype(I8) - lt.astype(I8)  # NaN: neither, side 0
    last = np.maximum.accumulate(np.where(tie, -1, np.arange(n)))
    state = np.where(last >= 0, side[np.maximum(last, 0)], 0).astype(I8)
    before = np.zeros(n, I8)
    before[1:] = state[:-1]
    return (((before == -1) & gt).astype(I8) - ((before == 1) & lt).astype(I8)).astype(I8)
