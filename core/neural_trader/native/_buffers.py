"""Argument checks shared by the kernel wrappers and their numpy twins, and C status mapping.

Arrays are never converted: a wrong dtype, shape or layout is the caller's to fix, so a kernel
call never hides a copy. Every error is an :class:`~neural_trader.errors.NtUserError` (a
``ValueError``) that names the argument and says what it must be.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np

from neural_trader.errors import NtNativeError, NtUserError

F64 = np.dtype(np.float64)
I64 = np.dtype(np.int64)
I8 = np.dtype(np.int8)

# C status kinds (native/nt_common.h): status = -(kind * 256 + 1-based argument position).
NT_E_RANGE = 1
NT_E_LENGTH = 2
NT_E_NOMEM = 3
NT_E_CAPACITY = 4

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a numpy twin without floating-point warnings: the C kernel it mirrors raises none for
    the same overflow or NaN (IEEE results are the contract, not warnings)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def array_arg(name: str, value: object, dtype: np.dtype[Any] = F64) -> np.ndarray:
    """``value`` itself if it is a 1-D C-contiguous numpy array of ``dtype``; else NtUserError."""
    # The common case in as few attribute reads as possible: this runs on every kernel call.
    if (type(value) is np.ndarray and value.dtype is dtype and value.ndim == 1
            and (value.strides[0] == dtype.itemsize or value.shape[0] <= 1)):
        return value
    if not isinstance(value, np.ndarray):
        raise NtUserError(f"{name} must be a 1-D numpy array of {dtype}, got {type(value).__name__}; "
                          f"convert it with np.asarray({name}, dtype=np.{dtype})")
    if value.dtype != dtype:
        raise NtUserError(f"{name} must have dtype {dtype}, got {value.dtype}; "
                          f"convert it with {name}.astype(np.{dtype})")
    if value.ndim != 1:
        raise NtUserError(f"{name} must be 1-D, got shape {value.shape}")
    if not value.flags.c_contiguous:
        raise NtUserError(f"{name} must be C-contiguous (a strided view was passed); "
                          f"pass np.ascontiguousarray({name})")
    return value


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays``; NtUserError naming the first one that differs."""
    items = iter(arrays.items())
    first_name, first = next(items)
    n = first.shape[0]
    for name, arr in items:
        if arr.shape[0] != n:
            raise NtUserError(f"{name} has length {arr.shape[0]} but {first_name} has length {n}; "
                              "they must be aligned bar for bar")
    return n


def int_arg(name: str, value: object) -> int:
    """An integer argument (bools and floats are refused, ranges are the kernel's to check)."""
    if isinstance(value, bool | np.bool_):
        raise NtUserError(f"{name} must be an integer, got {value!r}")
    try:
        i = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise NtUserError(f"{name} must be an integer, got {value!r}") from None
    if not _INT64_MIN <= i <= _INT64_MAX:
        raise NtUserError(f"{name} must fit in 64 bits, got {i}")
    return i


def float_arg(name: str, value: object) -> float:
    """A real-number argument (NaN passes through; ranges are the kernel's to check)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"{name} must be a number, got {value!r}")
    return float(value)


def range_error(name: str, value: object, rule: str) -> NtUserError:
    """The error for an argument outside its range: ``window must be >= 1, got 0``."""
    return NtUserError(f"{name} {rule}, got {value!r}")


def raise_for_status(status: int, func: str, argnames: Sequence[str], values: Mapping[str, Any],
                     rules: Mapping[str, str]) -> None:
    """Turn a non-zero C status into the exception the numpy twin raises for the same input.

    :param argnames: the C parameter names in order (the status carries a 1-based position).
    :param values: what the caller passed, by name, for the message.
    :param rules: ``name -> "must be ..."`` texts shared with the numpy twin.
    """
    if status == 0:
        return
    code = -status
    kind, pos = divmod(code, 256)
    name = argnames[pos - 1] if 0 < pos <= len(argnames) else f"argument {pos}"
    if kind == NT_E_RANGE:
        raise range_error(name, values.get(name), rules.get(name, "is out of range"))
    if kind == NT_E_LENGTH:
        raise NtUserError(f"{name}: length is negative or does not match the other arrays")
    if kind == NT_E_NOMEM:
        raise NtNativeError(f"{func}: out of memory allocating scratch space for {name}")
    if kind == NT_E_CAPACITY:
        raise NtNativeError(f"{func}: output buffer {name} is too small")
    raise NtNativeError(f"{func} returned unknown status {status}")
