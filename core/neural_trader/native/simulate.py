"""Backtest simulation: the C kernel when built, its numpy twin otherwise.

From a target-position array to fills, trades, position and equity (:func:`simulate`), and many
SMA-crossover parameter sets over the same bars in one call (:func:`sma_cross_batch`), optionally
on several threads: the kernel releases the GIL, so threads run in parallel. The rules (fill timing,
sizing, costs, stops and gaps) are in :mod:`~neural_trader.native.simulate_numpy` and docs/native.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from neural_trader.errors import NtNativeError
from neural_trader.native import simulate_numpy as _twin
from neural_trader.native._buffers import NT_E_RANGE, array_arg, raise_for_status, same_length
from neural_trader.native._loader import load_native, timed
from neural_trader.native.simulate_numpy import (
    BATCH_DTYPE,
    TRADE_DTYPE,
    ExitReason,
    SimParams,
    SimResult,
    check_bars,
    check_params,
    check_threads,
    check_windows,
    targets_from_crossover,
    targets_from_signals,
)

_native = load_native("sim")
_lib: Any = _native.lib
#: True when the C kernel runs; otherwise ``STATUS_REASON`` says why the numpy twin does.
COMPILED: bool = _native.compiled
STATUS_REASON: str | None = _native.reason

ARGS: dict[str, tuple[str, ...]] = {
    "nt_simulate": ("open", "high", "low", "close", "target", "n", "params", "position", "equity",
                    "trades", "capacity", "n_trades"),
    "nt_sma_cross_batch": ("open", "high", "low", "close", "n", "fast", "slow", "m", "params",
                           "allow_short", "rows"),
}

if COMPILED:
    _ffi = _native.ffi
    _buf = _ffi.from_buffer
    _D = _ffi.typeof("double[]")
    _L = _ffi.typeof("int64_t[]")
    _TRADES = _ffi.typeof("nt_trade[]")
    _ROWS = _ffi.typeof("nt_batch_row[]")
    if _ffi.sizeof("nt_trade") != TRADE_DTYPE.itemsize or _ffi.sizeof("nt_batch_row") != BATCH_DTYPE.itemsize:
        raise NtNativeError("neural_trader._native_sim: struct layout differs from the numpy dtypes")


def _fail(status: int, func: str, bars: dict[str, np.ndarray]) -> None:
    kind, pos = divmod(-status, 256)
    if kind == NT_E_RANGE and ARGS[func][pos - 1] in bars:
        check_bars(**bars)  # raises the twin's message, with the bar index
    raise_for_status(status, func, ARGS[func], {}, {"params": "is out of range"})


@timed(_native)
def simulate(open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, target: np.ndarray,
             params: SimParams | None = None) -> SimResult:
    """Simulate trading ``target`` (exposure after each bar: +1 long, -1 short, 0 flat, NaN hold)."""
    if not COMPILED:
        return _twin.simulate(open, high, low, close, target, params)
    bars = {name: array_arg(name, a) for name, a in
            (("open", open), ("high", high), ("low", low), ("close", close), ("target", target))}
    n = same_length(**bars)
    p = check_params(params)
    c_params = _ffi.new("nt_sim_params *", p.c_fields())
    position, equity = np.empty(n), np.empty(n)
    trades = np.empty(n, TRADE_DTYPE)  # at most one entry per bar; untouched pages cost nothing
    count = _ffi.new("int64_t *")
    st = _lib.nt_simulate(_buf(_D, bars["open"]), _buf(_D, bars["high"]), _buf(_D, bars["low"]),
                          _buf(_D, bars["close"]), _buf(_D, bars["target"]), n, c_params,
                          _buf(_D, position, True), _buf(_D, equity, True),
                          _buf(_TRADES, trades, True), n, count)
    if st:
        _fail(st, "nt_simulate", bars)
    return SimResult(position=position, equity=equity, trades=trades[:count[0]].copy())


@timed(_native)
def sma_cross_batch(open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    fast: np.ndarray, slow: np.ndarray, params: SimParams | None = None, *,
                    allow_short: bool = False, threads: int = 1) -> np.ndarray:
    """One :data:`BATCH_DTYPE` row per ``(fast[j], slow[j])`` (int64 arrays): the SMA crossover
    strategy simulated with ``params``, identical to running :func:`simulate` on
    :func:`targets_from_crossover` of the crossover. ``threads > 1`` splits the pairs across
    threads that run the kernel in parallel (the GIL is released during each call)."""
    if not COMPILED:
        return _twin.sma_cross_batch(open, high, low, close, fast, slow, params,
                                     allow_short=allow_short, threads=threads)
    bars = {name: array_arg(name, a) for name, a in
            (("open", open), ("high", high), ("low", low), ("close", close))}
    n = same_length(**bars)
    fast, slow = check_windows(fast, slow)
    p = check_params(params)
    nthreads = check_threads(threads)
    c_params = _ffi.new("nt_sim_params *", p.c_fields())
    m = fast.shape[0]
    rows = np.empty(m, BATCH_DTYPE)
    ptrs = [_buf(_D, bars[k]) for k in ("open", "high", "low", "close")]

    def run(lo: int, hi: int) -> int:
        return int(_lib.nt_sma_cross_batch(*ptrs, n, _buf(_L, fast[lo:hi]), _buf(_L, slow[lo:hi]), hi - lo,
                                           c_params, 1 if allow_short else 0, _buf(_ROWS, rows[lo:hi], True)))

    bounds = np.linspace(0, m, min(nthreads, max(m, 1)) + 1).astype(int).tolist()
    if len(bounds) <= 2:
        statuses = [run(0, m)]
    else:
        with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
            statuses = list(pool.map(run, bounds[:-1], bounds[1:]))
    for st in statuses:
        if st:
            _fail(st, "nt_sma_cross_batch", bars)
    return rows


__all__ = [
    "BATCH_DTYPE", "COMPILED", "STATUS_REASON", "TRADE_DTYPE", "ExitReason", "SimParams", "SimResult",
    "simulate", "sma_cross_batch", "targets_from_crossover", "targets_from_signals",
]
