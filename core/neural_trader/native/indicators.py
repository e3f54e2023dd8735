"""Technical indicators over float64 arrays: the C kernels when built, their numpy twins otherwise.

Inputs must be 1-D C-contiguous ``float64`` numpy arrays (nothing is converted or copied; the C
code reads the caller's memory through ``ffi.from_buffer`` with the GIL released). Outputs are new
arrays of the input's length with NaN for warm-up bars. Semantics, including how SMA stays exact
on decimal prices so that equal averages compare equal: docs/native.md.

>>> import numpy as np
>>> from neural_trader.native import indicators
>>> indicators.sma(np.array([1.0, 2.0, 3.0, 4.0]), 2)
array([nan, 1.5, 2.5, 3.5])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural_trader.native import indicators_numpy as _twin
from neural_trader.native._buffers import array_arg, float_arg, int_arg, raise_for_status, same_length
from neural_trader.native._loader import load_native, timed
from neural_trader.native.indicators_numpy import MAX_DECIMALS, RULES, Bands, Macd

_native = load_native("indicators")
_lib: Any = _native.lib
#: True when the C kernels run; otherwise ``STATUS_REASON`` says why the numpy twins do.
COMPILED: bool = _native.compiled
STATUS_REASON: str | None = _native.reason

#: C parameter names of each kernel, in order: a status code names its argument by position.
ARGS: dict[str, tuple[str, ...]] = {
    "nt_decimal_digits": ("x", "n", "window", "digits"),
    "nt_sma": ("x", "n", "window", "out"),
    "nt_ema": ("x", "n", "window", "out"),
    "nt_rolling_std": ("x", "n", "window", "ddof", "out"),
    "nt_zscore": ("x", "n", "window", "ddof", "out"),
    "nt_bollinger": ("x", "n", "window", "k", "mid", "upper", "lower"),
    "nt_rsi": ("x", "n", "window", "out"),
    "nt_macd": ("x", "n", "fast", "slow", "signal", "macd", "signal_line", "hist"),
    "nt_atr": ("high", "low", "close", "n", "window", "out"),
    "nt_rolling_max": ("x", "n", "window", "out"),
    "nt_rolling_min": ("x", "n", "window", "out"),
    "nt_donchian": ("high", "low", "n", "window", "upper", "mid", "lower"),
    "nt_crossover": ("fast", "slow", "n", "out"),
}

if COMPILED:
    _ffi = _native.ffi
    _buf = _ffi.from_buffer
    _D = _ffi.typeof("double[]")
    _I8 = _ffi.typeof("int8_t[]")


def _fail(status: int, func: str, **values: Any) -> None:
    raise_for_status(status, func, ARGS[func], values, RULES)


@timed(_native)
def decimal_digits(x: np.ndarray, window: int) -> int:
    """The decimal scale SMA uses for ``x`` and ``window``, or -1 for the float fallback."""
    if not COMPILED:
        return _twin.decimal_digits(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    digits = _ffi.new("int32_t *")
    st = _lib.nt_decimal_digits(_buf(_D, x), x.shape[0], w, digits)
    if st:
        _fail(st, "nt_decimal_digits", x=x, window=w)
    return int(digits[0])


@timed(_native)
def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average, exact on decimal prices (see :func:`decimal_digits`)."""
    if not COMPILED:
        return _twin.sma(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    out = np.empty(x.shape[0])
    st = _lib.nt_sma(_buf(_D, x), x.shape[0], w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_sma", x=x, window=w)
    return out


@timed(_native)
def ema(x: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (window + 1), SMA-seeded."""
    if not COMPILED:
        return _twin.ema(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    out = np.empty(x.shape[0])
    st = _lib.nt_ema(_buf(_D, x), x.shape[0], w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_ema", x=x, window=w)
    return out


@timed(_native)
def rolling_std(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Rolling standard deviation around the exact SMA; ``ddof=1`` for the sample sd."""
    if not COMPILED:
        return _twin.rolling_std(x, window, ddof)
    x = array_arg("x", x)
    w, d = int_arg("window", window), int_arg("ddof", ddof)
    out = np.empty(x.shape[0])
    st = _lib.nt_rolling_std(_buf(_D, x), x.shape[0], w, d, _buf(_D, out, True))
    if st:
        _fail(st, "nt_rolling_std", x=x, window=w, ddof=d)
    return out


@timed(_native)
def zscore(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """``(x - SMA) / rolling sd``; NaN where the sd is 0."""
    if not COMPILED:
        return _twin.zscore(x, window, ddof)
    x = array_arg("x", x)
    w, d = int_arg("window", window), int_arg("ddof", ddof)
    out = np.empty(x.shape[0])
    st = _lib.nt_zscore(_buf(_D, x), x.shape[0], w, d, _buf(_D, out, True))
    if st:
        _fail(st, "nt_zscore", x=x, window=w, ddof=d)
    return out


@timed(_native)
def bollinger(x: np.ndarray, window: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands: SMA and SMA +/- k population standard deviations."""
    if not COMPILED:
        return _twin.bollinger(x, window, k)
    x = array_arg("x", x)
    w, kf = int_arg("window", window), float_arg("k", k)
    n = x.shape[0]
    mid, upper, lower = np.empty(n), np.empty(n), np.empty(n)
    st = _lib.nt_bollinger(_buf(_D, x), n, w, kf, _buf(_D, mid, True), _buf(_D, upper, True),
                           _buf(_D, lower, True))
    if st:
        _fail(st, "nt_bollinger", x=x, window=w, k=kf)
    return Bands(upper=upper, mid=mid, lower=lower)


@timed(_native)
def rsi(x: np.ndarray, window: int = 14) -> np.ndarray:
    """Wilder's RSI (100 with no losses, 50 on a flat window)."""
    if not COMPILED:
        return _twin.rsi(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    out = np.empty(x.shape[0])
    st = _lib.nt_rsi(_buf(_D, x), x.shape[0], w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_rsi", x=x, window=w)
    return out


@timed(_native)
def macd(x: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD line EMA(fast) - EMA(slow), its EMA(signal), and the histogram."""
    if not COMPILED:
        return _twin.macd(x, fast, slow, signal)
    x = array_arg("x", x)
    f, s, g = int_arg("fast", fast), int_arg("slow", slow), int_arg("signal", signal)
    n = x.shape[0]
    line, sig, hist = np.empty(n), np.empty(n), np.empty(n)
    st = _lib.nt_macd(_buf(_D, x), n, f, s, g, _buf(_D, line, True), _buf(_D, sig, True),
                      _buf(_D, hist, True))
    if st:
        _fail(st, "nt_macd", x=x, fast=f, slow=s, signal=g)
    return Macd(macd=line, signal=sig, hist=hist)


@timed(_native)
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    """Average true range, Wilder-smoothed; first value at bar ``window``."""
    if not COMPILED:
        return _twin.atr(high, low, close, window)
    high, low, close = array_arg("high", high), array_arg("low", low), array_arg("close", close)
    n = same_length(high=high, low=low, close=close)
    w = int_arg("window", window)
    out = np.empty(n)
    st = _lib.nt_atr(_buf(_D, high), _buf(_D, low), _buf(_D, close), n, w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_atr", window=w)
    return out


@timed(_native)
def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Highest value over the window."""
    if not COMPILED:
        return _twin.rolling_max(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    out = np.empty(x.shape[0])
    st = _lib.nt_rolling_max(_buf(_D, x), x.shape[0], w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_rolling_max", x=x, window=w)
    return out


@timed(_native)
def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    """Lowest value over the window."""
    if not COMPILED:
        return _twin.rolling_min(x, window)
    x = array_arg("x", x)
    w = int_arg("window", window)
    out = np.empty(x.shape[0])
    st = _lib.nt_rolling_min(_buf(_D, x), x.shape[0], w, _buf(_D, out, True))
    if st:
        _fail(st, "nt_rolling_min", x=x, window=w)
    return out


@timed(_native)
def donchian(high: np.ndarray, low: np.ndarray, window: int = 20) -> Bands:
    """Donchian channel: highest high, lowest low, and their midpoint."""
    if not COMPILED:
        return _twin.donchian(high, low, window)
    high, low = array_arg("high", high), array_arg("low", low)
    n = same_length(high=high, low=low)
    w = int_arg("window", window)
    upper, mid, lower = np.empty(n), np.empty(n), np.empty(n)
    st = _lib.nt_donchian(_buf(_D, high), _buf(_D, low), n, w, _buf(_D, upper, True),
                          _buf(_D, mid, True), _buf(_D, lower, True))
    if st:
        _fail(st, "nt_donchian", window=w)
    return Bands(upper=upper, mid=mid, lower=lower)


@timed(_native)
def crossover(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """backtrader's CrossOver as int8: +1 cross above, -1 cross below, 0 otherwise."""
    if not COMPILED:
        return _twin.crossover(fast, slow)
    fast, slow = array_arg("fast", fast), array_arg("slow", slow)
    n = fast.shape[0]
    if slow.shape[0] != n:
        same_length(fast=fast, slow=slow)  # raises, naming the array
    out = np.empty(n, np.int8)
    st = _lib.nt_crossover(_buf(_D, fast), _buf(_D, slow), n, _buf(_I8, out, True))
    if st:
        _fail(st, "nt_crossover")
    return out


__all__ = [
    "COMPILED", "MAX_DECIMALS", "STATUS_REASON", "Bands", "Macd", "atr", "bollinger", "crossover",
    "decimal_digits", "donchian", "ema", "macd", "rolling_max", "rolling_min", "rolling_std", "rsi",
    "sma", "zscore",
]
