"""Betting kernels: the arbitrage scan over ``(events, books, outcomes)`` and Shin's margin removal
over ``(markets, outcomes)``; the C kernel when built, its numpy twin (:mod:`.sports_numpy`)
otherwise, bit for bit the same.

Inputs must be C-contiguous ``float64`` numpy arrays (3-D for the scan, 2-D for Shin); nothing is
converted or copied, the C code reads the caller's memory through ``ffi.from_buffer`` with the GIL
released.

>>> import numpy as np
>>> from neural_trader.native import sports
>>> odds = np.array([[[2.3, 3.2, 3.1], [2.0, 3.8, 4.4]]])      # one market, two books
>>> scan = sports.arbitrage_scan(odds)
>>> scan.best.tolist(), scan.best_book.tolist(), round(float(scan.booksum[0]), 6)   # < 1: an arbitrage
([[2.3, 3.8, 4.4]], [[0, 1, 1]], 0.925213)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural_trader.native import sports_numpy as _twin
from neural_trader.native._buffers import raise_for_status
from neural_trader.native._loader import load_native, timed
from neural_trader.native.sports_numpy import (
    RULES,
    ScanArrays,
    ShinArrays,
    check_scan_shape,
    nd_array,
    odds_error,
    shin_odds_error,
    shin_shape_error,
)

__all__ = ["ARGS", "COMPILED", "STATUS_REASON", "ScanArrays", "ShinArrays", "arbitrage_scan", "shin"]

_native = load_native("sports")
_lib: Any = _native.lib
#: True when the C kernels run; otherwise ``STATUS_REASON`` says why the numpy twins do.
COMPILED: bool = _native.compiled
STATUS_REASON: str | None = _native.reason

#: C parameter names of each kernel, in order: a status code names its argument by position.
ARGS: dict[str, tuple[str, ...]] = {
    "nt_sports_arbitrage_scan": ("n_events", "n_books", "n_outcomes", "odds", "best", "best_book", "booksum"),
    "nt_sports_shin": ("n_markets", "n_outcomes", "odds", "probs", "z"),
}

if COMPILED:
    _ffi = _native.ffi
    _buf = _ffi.from_buffer
    _D = _ffi.typeof("double[]")
    _I = _ffi.typeof("int64_t[]")


def _fail(status: int, func: str, **values: Any) -> None:
    if (-status) % 256 == ARGS[func].index("odds") + 1:
        raise odds_error() if func == "nt_sports_arbitrage_scan" else shin_odds_error()
    raise_for_status(status, func, ARGS[func], values, RULES)


@timed(_native)
def arbitrage_scan(odds: np.ndarray) -> ScanArrays:
    """Best price per outcome across books for each ``(events, books, outcomes)`` market row
    (NaN = no quote); see :class:`~.sports_numpy.ScanArrays`."""
    if not COMPILED:
        return _twin.arbitrage_scan(odds)
    a = nd_array("odds", odds, 3)
    check_scan_shape(a)
    n_events, n_books, n_outcomes = a.shape
    best = np.empty((n_events, n_outcomes))
    book = np.empty((n_events, n_outcomes), dtype=np.int64)
    booksum = np.empty(n_events)
    st = _lib.nt_sports_arbitrage_scan(n_events, n_books, n_outcomes, _buf(_D, a), _buf(_D, best, True),
                                       _buf(_I, book, True), _buf(_D, booksum, True))
    if st:
        _fail(st, "nt_sports_arbitrage_scan", n_books=n_books, n_outcomes=n_outcomes)
    return ScanArrays(best=best, best_book=book, booksum=booksum)


@timed(_native)
def shin(odds: np.ndarray) -> ShinArrays:
    """Shin's fair probabilities and ``z`` of each ``(markets, outcomes)`` row of decimal odds
    (``z`` and the row NaN where the odds carry no margin; see ``native/sports/sports.h``)."""
    if not COMPILED:
        return _twin.shin(odds)
    o = nd_array("odds", odds, 2)
    n_markets, n_outcomes = o.shape
    if n_outcomes < 2:
        raise shin_shape_error(n_outcomes)
    probs = np.empty((n_markets, n_outcomes))
    z = np.empty(n_markets)
    st = _lib.nt_sports_shin(n_markets, n_outcomes, _buf(_D, o), _buf(_D, probs, True), _buf(_D, z, True))
    if st:
        _fail(st, "nt_sports_shin", n_outcomes=n_outcomes)
    return ShinArrays(probabilities=probs, z=z)
