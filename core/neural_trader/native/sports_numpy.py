"""Numpy twins of the betting kernels (``native/sports/``): the reference semantics, bit for bit.

Each public function has the signature of its namesake in :mod:`neural_trader.native.sports` and
performs the same floating-point operations in the same order as ``native/sports/sports.c``
(sums over outcomes run left to right from 0.0; Shin's ``z`` by the same safeguarded Newton steps).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native._buffers import F64, quiet

SHIN_MAX_STEPS = 100
EXACT_BOOK = 1e-15

#: What each argument must be; the compiled wrapper reuses these texts.
RULES: dict[str, str] = {
    "odds": "must hold decimal odds > 1 (stake included), NaN only where a bookmaker has no quote (scan)",
    "n_books": "must be >= 1 (the odds array's second axis)",
    "n_outcomes": "must be >= 2 (every outcome of the market)",
}


class ScanArrays(NamedTuple):
    """Per event: the best price of each outcome (NaN: no quote), the first book offering it
    (-1: none), and the booksum of the best prices (+inf when an outcome has no quote)."""

    best: np.ndarray
    best_book: np.ndarray
    booksum: np.ndarray


class ShinArrays(NamedTuple):
    """Per market: the fair probabilities (rows sum to 1) and Shin's insider share ``z``."""

    probabilities: np.ndarray
    z: np.ndarray


def nd_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` itself if it is a C-contiguous float64 array of ``ndim`` dimensions; else NtUserError."""
    if not isinstance(value, np.ndarray):
        raise NtUserError(f"{name} must be a {ndim}-D numpy array of float64, got {type(value).__name__}; "
                          f"convert it with np.ascontiguousarray({name}, dtype=np.float64)")
    if value.dtype != F64:
        raise NtUserError(f"{name} must have dtype float64, got {value.dtype}; convert it with {name}.astype(np.float64)")
    if value.ndim != ndim:
        raise NtUserError(f"{name} must be {ndim}-D, got shape {value.shape}")
    if not value.flags.c_contiguous:
        raise NtUserError(f"{name} must be C-contiguous (a strided view was passed); pass np.ascontiguousarray({name})")
    return value


def check_scan_shape(odds: np.ndarray) -> None:
    if odds.shape[1] < 1:
        raise NtUserError(f"n_books {RULES['n_books']}, got {odds.shape[1]}")
    if odds.shape[2] < 2:
        raise NtUserError(f"n_outcomes {RULES['n_outcomes']}, got {odds.shape[2]}")


def odds_error() -> NtUserError:
    return NtUserError(f"odds {RULES['odds']}")


def shin_odds_error() -> NtUserError:
    return NtUserError("odds must hold decimal odds > 1 (stake included), every outcome of every market")


def shin_shape_error(n_outcomes: int) -> NtUserError:
    return NtUserError(f"n_outcomes {RULES['n_outcomes']}, got {n_outcomes}")


@quiet
def arbitrage_scan(odds: np.ndarray) -> ScanArrays:
    """Best price per outcome across books for each ``(events, books, outcomes)`` market row."""
    a = nd_array("odds", odds, 3)
    check_scan_shape(a)
    quoted = ~np.isnan(a)
    if not ((a > 1.0) & ~np.isinf(a) | ~quoted).all():
        raise odds_error()
    filled = np.where(quoted, a, -np.inf)
    book = filled.argmax(axis=1)                                   # first maximum, like the C's strict >
    best = np.take_along_axis(filled, book[:, None, :], axis=1)[:, 0, :]
    missing = np.isneginf(best)
    best = np.where(missing, np.nan, best)
    book = np.where(missing, -1, book).astype(np.int64)
    s = np.zeros(a.shape[0])
    for k in range(a.shape[2]):
        s = s + np.where(missing[:, k], 0.0, 1.0 / np.where(missing[:, k], 1.0, best[:, k]))
    booksum = np.where(missing.any(axis=1), np.inf, s)
    return ScanArrays(best=best, best_book=book, booksum=booksum)


def _shin_p(z: np.ndarray, pi: np.ndarray, booksum: np.ndarray) -> np.ndarray:
    zz = z[:, None]
    return (np.sqrt(zz * zz + 4.0 * (1.0 - zz) * pi * pi / booksum[:, None]) - zz) / (2.0 * (1.0 - zz))


def _shin_f(z: np.ndarray, pi: np.ndarray, booksum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.full(z.shape, -1.0)
    d = np.zeros(z.shape)
    for i in range(pi.shape[1]):
        q = pi[:, i] * pi[:, i] / booksum
        s = np.sqrt(z * z + 4.0 * (1.0 - z) * q)
        num = s - z
        p = num / (2.0 * (1.0 - z))
        dnum = (z - 2.0 * q) / s - 1.0
        dp = (dnum * (1.0 - z) + num) / (2.0 * (1.0 - z) * (1.0 - z))
        f = f + p
        d = d + dp
    return f, d


def _shin_z(pi: np.ndarray, booksum: np.ndarray) -> np.ndarray:
    """The C's safeguarded Newton, every market at once; a market that has stopped stays put."""
    lo, hi, z = np.zeros(booksum.shape), np.ones(booksum.shape), np.zeros(booksum.shape)
    active = np.ones(booksum.shape, dtype=bool)
    for _ in range(SHIN_MAX_STEPS):
        if not active.any():
            break
        f, d = _shin_f(z, pi, booksum)
        lo = np.where(active & (f > 0.0), z, lo)
        hi = np.where(active & (f < 0.0), z, hi)
        active &= f != 0.0
        step = z - f / d
        step = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        active &= step != z
        z = np.where(active, step, z)
    return z


@quiet
def shin(odds: np.ndarray) -> ShinArrays:
    """Shin's fair probabilities of each ``(markets, outcomes)`` row of decimal odds."""
    o = nd_array("odds", odds, 2)
    if o.shape[1] < 2:
        raise shin_shape_error(o.shape[1])
    if not ((o > 1.0) & ~np.isinf(o)).all():
        raise shin_odds_error()
    pi = 1.0 / o
    booksum = np.zeros(o.shape[0])
    for i in range(o.shape[1]):
        booksum = booksum + pi[:, i]
    exact = np.abs(booksum - 1.0) <= EXACT_BOOK
    none = (booksum < 1.0) & ~exact
    solve = ~exact & ~none
    z = np.zeros(o.shape[0])
    z[solve] = _shin_z(pi[solve], booksum[solve])
    probs = _shin_p(z, pi, booksum)
    z = np.where(exact, 0.0, np.where(none, np.nan, z))
    probs = np.where(exact[:, None], pi, np.where(none[:, None], np.nan, probs))
    return ShinArrays(probabilities=probs, z=z)
