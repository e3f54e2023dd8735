"""Odds formats and implied probability.

Conventions:

* **decimal** odds ``o > 1`` are the total return per unit stake (stake included): 2.5 returns 2.5.
* **american** (moneyline) odds: ``+150`` wins 150 per 100 staked (``o = 1 + a/100``); ``-200`` stakes
  200 to win 100 (``o = 1 + 100/|a|``). Values in ``(-100, 100)`` do not exist; ``+100`` and ``-100``
  are both evens (decimal 2.0), and decimal -> american gives ``+100`` for evens.
* **fractional** odds ``n/d`` are the net win per unit stake (``o = 1 + n/d``): "5/2", ``(5, 2)`` or a
  :class:`fractions.Fraction`; "evens"/"evs" is 1/1.
* the **implied probability** of decimal odds is ``1/o`` (margin included; see ``margins``).

Every numeric conversion takes a scalar (returns a ``float``) or an array-like (returns a float64
``ndarray`` of the same shape). Fractional conversions are exact: decimal -> fractional reads the
decimal as written (``1.33`` -> 33/100, not the binary float), so a fractional -> decimal ->
fractional round trip returns the same fraction whenever the decimal is exact (denominators made of
2s and 5s); ``max_denominator`` rounds to the nearest fraction with a bounded denominator instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from neural_trader.errors import NtUserError

__all__ = [
    "american_to_decimal", "american_to_probability", "decimal_to_american", "decimal_to_fractional",
    "decimal_to_probability", "fractional_to_decimal", "parse_fractional", "probability_to_american",
    "probability_to_decimal",
]


def _array(name: str, value: Any) -> tuple[np.ndarray, bool]:
    """``value`` as float64 (and whether it was a scalar); finite numbers only."""
    if isinstance(value, bool | str):
        raise NtUserError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.isfinite(arr).all():
        raise NtUserError(f"{name} must be finite numbers, got {value!r}")
    return arr, arr.ndim == 0


def _out(arr: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(arr) if scalar else arr


def _check_decimal(name: str, arr: np.ndarray, value: Any) -> None:
    if not (arr > 1.0).all():
        bad = arr[~(arr > 1.0)].flat[0]
        raise NtUserError(f"{name} must be decimal odds > 1 (stake included), got {float(bad)!r}"
                          + ("" if np.ndim(value) == 0 else f" in {value!r}"))


def decimal_to_probability(odds: Any) -> float | np.ndarray:
    """Implied probability ``1/o`` of decimal odds (margin included)."""
    arr, scalar = _array("odds", odds)
    _check_decimal("odds", arr, odds)
    return _out(1.0 / arr, scalar)


def probability_to_decimal(probability: Any) -> float | np.ndarray:
    """Decimal odds ``1/p`` of a probability in ``(0, 1)`` (fair odds, no margin)."""
    arr, scalar = _array("probability", probability)
    if not ((arr > 0.0) & (arr < 1.0)).all():
        raise NtUserError(f"probability must be in (0, 1), got {probability!r}")
    return _out(1.0 / arr, scalar)


def american_to_decimal(american: Any) -> float | np.ndarray:
    """Decimal odds of american odds: ``1 + a/100`` for ``a >= 100``, ``1 + 100/|a|`` for ``a <= -100``."""
    arr, scalar = _array("american", american)
    bad = (arr > -100.0) & (arr < 100.0)
    if bad.any():
        raise NtUserError(f"american odds must be >= +100 or <= -100 (values in (-100, 100) do not exist), "
                          f"got {float(arr[bad].flat[0])!r}")
    with np.errstate(divide="ignore"):
        out = np.where(arr >= 100.0, 1.0 + arr / 100.0, 1.0 + 100.0 / np.abs(arr))
    return _out(out, scalar)


def decimal_to_american(odds: Any) -> float | np.ndarray:
    """American odds of decimal odds: ``+100 (o - 1)`` for ``o >= 2``, ``-100 / (o - 1)`` below."""
    arr, scalar = _array("odds", odds)
    _check_decimal("odds", arr, odds)
    net = arr - 1.0
    out = np.where(arr >= 2.0, 100.0 * net, -100.0 / net)
    return _out(out, scalar)


def american_to_probability(american: Any) -> float | np.ndarray:
    """Implied probability of american odds (``1 / american_to_decimal(a)``)."""
    arr, scalar = _array("american", american)
    return _out(1.0 / np.asarray(american_to_decimal(arr)), scalar)


def probability_to_american(probability: Any) -> float | np.ndarray:
    """Fair american odds of a probability in ``(0, 1)``."""
    arr, scalar = _array("probability", probability)
    return _out(np.asarray(decimal_to_american(np.asarray(probability_to_decimal(arr)))), scalar)


# -- fractional ----------------------------------------------------------------------------------


def parse_fractional(value: Any, *, name: str = "fractional") -> Fraction:
    """A fractional price as an exact :class:`Fraction` (net win per unit stake, ``> 0``).

    Accepts "5/2", "5-2", "evens"/"evs", "100/30", an integer string "2" (2/1), ``(5, 2)`` or a
    ``Fraction``.
    """
    if isinstance(value, Fraction):
        frac = value
    elif isinstance(value, tuple | list) and len(value) == 2:
        num, den = value
        for part, label in ((num, "numerator"), (den, "denominator")):
            if isinstance(part, bool) or not isinstance(part, int | np.integer):
                raise NtUserError(f"{name} {label} must be an integer, got {part!r} in {value!r}")
        if den == 0:
            raise NtUserError(f"{name} denominator must not be zero, got {value!r}")
        frac = Fraction(int(num), int(den))
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("evens", "evs", "even", "ev"):
            return Fraction(1)
        sep = "/" if "/" in text else ("-" if "-" in text.lstrip("-") else None)
        parts = text.split(sep) if sep else [text, "1"]
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise NtUserError(f"{name} must look like '5/2' (net win / stake), got {value!r}")
        num, den = (int(p) for p in parts)
        if den == 0:
            raise NtUserError(f"{name} denominator must not be zero, got {value!r}")
        frac = Fraction(num, den)
    else:
        raise NtUserError(f"{name} must be a string like '5/2', a (numerator, denominator) pair or a Fraction, "
                          f"got {value!r}")
    if frac <= 0:
        raise NtUserError(f"{name} must be > 0 (net win per unit stake), got {value!r}")
    return frac


def fractional_to_decimal(fractional: Any) -> float | np.ndarray:
    """Decimal odds ``1 + n/d`` of a fractional price, or of a sequence of them (an ndarray)."""
    if isinstance(fractional, str | Fraction | tuple):
        return float(1 + parse_fractional(fractional))
    if isinstance(fractional, Sequence | np.ndarray):
        return np.array([float(1 + parse_fractional(v, name=f"fractional[{i}]"))
                         for i, v in enumerate(fractional)], dtype=np.float64)
    return float(1 + parse_fractional(fractional))


def _decimal_fraction(value: Any, name: str, max_denominator: int | None) -> Fraction:
    if isinstance(value, Fraction):
        exact = value
    elif isinstance(value, Decimal):
        exact = Fraction(value)
    elif isinstance(value, str):
        try:
            exact = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise NtUserError(f"{name} must be decimal odds > 1, got {value!r}") from None
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            raise NtUserError(f"{name} must be decimal odds > 1, got {value!r}")
        # repr gives the shortest decimal that reads back as this float: 1.33 -> "1.33" -> 133/100.
        exact = Fraction(repr(float(value)))
    else:
        raise NtUserError(f"{name} must be decimal odds > 1, got {value!r}")
    if exact <= 1:
        raise NtUserError(f"{name} must be decimal odds > 1 (stake included), got {value!r}")
    net = exact - 1
    if max_denominator is not None:
        net = net.limit_denominator(max_denominator)
    return net


def decimal_to_fractional(odds: Any, *, max_denominator: int | None = None) -> Fraction | tuple[Fraction, ...]:
    """The fractional price ``o - 1`` of decimal odds, exact (``2.5`` -> 3/2, ``1.33`` -> 33/100).

    ``max_denominator`` (e.g. 100) rounds to the closest fraction with at most that denominator
    (``1.333`` with 10 -> 1/3). A sequence or array gives a tuple of fractions.
    """
    if max_denominator is not None and (isinstance(max_denominator, bool) or not isinstance(max_denominator, int)
                                        or max_denominator < 1):
        raise NtUserError(f"max_denominator must be an integer >= 1, got {max_denominator!r}")
    if isinstance(odds, Sequence | np.ndarray) and not isinstance(odds, str):
        return tuple(_decimal_fraction(v, f"odds[{i}]", max_denominator)
                     for i, v in enumerate(np.asarray(odds, dtype=object).ravel()))
    return _decimal_fraction(odds, "odds", max_denominator)
