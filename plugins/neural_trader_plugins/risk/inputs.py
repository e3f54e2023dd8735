"""Argument checks shared by the risk maths: numbers in, C-contiguous float64 arrays out, or an
:class:`~neural_trader.errors.NtUserError` that names the argument, the bad element and what to do.

Every maths module of the pack takes plain lists or numpy arrays through these, so one rule (and one
wording) holds everywhere: a series is 1-D, a matrix 2-D with one column per asset, every value
finite, and simple returns above -100 %.
"""

from __future__ import annotations

import numpy as np

from neural_trader.errors import NtUserError

__all__ = ["array", "matrix", "returns_matrix", "returns_series", "vector"]


def array(name: str, value: object, ndim: int) -> np.ndarray:
    """``value`` as a C-contiguous float64 array of ``ndim`` dimensions (values not checked)."""
    return _array(name, value, ndim, "a list (1-D array) of numbers" if ndim == 1 else _MATRIX)


_MATRIX = "a 2-D (periods, assets) matrix of numbers (a list of rows of equal length)"


def _array(name: str, value: object, ndim: int, what: str) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be {what} (got {type(value).__name__} that is not)") from None
    if a.ndim != ndim:
        raise NtUserError(f"{name} must be {what}, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _finite(name: str, a: np.ndarray, hint: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        where = ", ".join(str(int(k)) for k in np.argwhere(bad)[0])
        raise NtUserError(f"{name} must be finite, but {name}[{where}] is {a[tuple(np.argwhere(bad)[0])]}"
                          + (f"; {hint}" if hint else ""))


def vector(name: str, value: object, *, minimum: int = 1, hint: str = "", noun: str = "values") -> np.ndarray:
    """``value`` as a finite 1-D array of at least ``minimum`` numbers (``noun`` names them in the error)."""
    a = _array(name, value, 1, "a list (1-D array) of numbers")
    if a.shape[0] < minimum:
        raise NtUserError(f"{name} needs at least {minimum} {noun}, got {a.shape[0]}")
    _finite(name, a, hint)
    return a


def matrix(name: str, value: object, *, minimum_rows: int = 1, hint: str = "") -> np.ndarray:
    """``value`` as a finite 2-D array (a list of rows) with at least ``minimum_rows`` rows and one column."""
    a = _array(name, value, 2, _MATRIX)
    if a.shape[1] < 1:
        raise NtUserError(f"{name} must hold at least one column")
    if a.shape[0] < minimum_rows:
        raise NtUserError(f"{name} needs at least {minimum_rows} observations per asset, got {a.shape[0]}; pass a "
                          "longer history")
    _finite(name, a, hint)
    return a


_MISSING = "drop or fill the missing periods first (align the assets on common dates)"


def _floor(name: str, a: np.ndarray, strict: bool) -> None:
    low = a <= -1.0 if strict else a < -1.0
    if low.any():
        at = tuple(np.argwhere(low)[0])
        rule = "> -1 (a return of -100 % wipes the wealth out)" if strict else ">= -1 (-100 %)"
        raise NtUserError(f"{name} must be {rule} (simple returns), but {name}[{', '.join(map(str, at))}] is {a[at]}")


def returns_series(value: object, *, name: str = "returns", minimum: int = 1, strict: bool = False) -> np.ndarray:
    """One series of simple returns: finite, ``>= -1`` (``> -1`` when ``strict``: wealth must survive)."""
    a = vector(name, value, minimum=minimum, hint=_MISSING, noun="observations")
    _floor(name, a, strict)
    return a


def returns_matrix(value: object, *, name: str = "returns", minimum_rows: int = 1) -> np.ndarray:
    """A ``(periods, assets)`` matrix of simple returns (a 1-D series is one asset): finite, ``>= -1``."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be {_MATRIX} (got {type(value).__name__} that is not)") from None
    a = matrix(name, a[:, None] if a.ndim == 1 else a, minimum_rows=minimum_rows, hint=_MISSING)
    _floor(name, a, False)
    return a
