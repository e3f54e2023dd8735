"""Money and units as Decimals, and largest-remainder rounding.

Rounding rules (one per purpose, each chosen so that nobody is short-changed by the books):

* amounts computed from rates (a winning return ``stake x odds``, a fee, a penalty, a tax estimate)
  round **half-even** to the cent (:func:`cents`);
* amounts that must respect a bound (a stake under a cap, the value paid for units redeemed) round
  **down** to the cent (:func:`cents_down`): a cap is never exceeded, the pool never pays more than
  the units are worth;
* units bought round **down** and units redeemed round **up** to :data:`UNIT` (eight places): the
  rounding residue always stays with the pool, so a deposit or a withdrawal never dilutes the other
  members;
* shares of an amount are whole cents by the largest-remainder (Hamilton) method
  (:func:`largest_remainder`), so they add up to the amount exactly.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from fractions import Fraction

D = decimal.Decimal

__all__ = ["CENT", "UNIT", "ZERO", "cents", "cents_down", "check_cents", "largest_remainder", "money", "plain", "units_down",
           "units_up"]

CENT = D("0.01")
#: Units carry eight decimal places.
UNIT = D("0.00000001")
#: Zero money (to the cent, so sums print with cents).
ZERO = D("0.00")


def money(value: object) -> D:
    """A stored amount (canonical JSON writes 10.50 as "10.5") back to the cent."""
    return D(str(value)).quantize(CENT)


def plain(value: D) -> D:
    """``value`` without trailing zeros or an exponent (2.10 -> 2.1, 10 -> 10), as the ledger keeps it."""
    return D(format(value.normalize(), "f"))


def cents(value: D) -> D:
    """``value`` to the cent, half-even."""
    return value.quantize(CENT, rounding=decimal.ROUND_HALF_EVEN)


def cents_down(value: D) -> D:
    """``value`` to the cent, toward zero."""
    return value.quantize(CENT, rounding=decimal.ROUND_DOWN)


def units_down(value: D) -> D:
    return value.quantize(UNIT, rounding=decimal.ROUND_DOWN)


def units_up(value: D) -> D:
    return value.quantize(UNIT, rounding=decimal.ROUND_UP)


def check_cents(field: str, value: D) -> D:
    """``value`` if it is a whole number of cents, else an :class:`NtUserError` naming ``field``."""
    from neural_trader.errors import NtUserError

    if not value.is_finite() or value != value.quantize(CENT):
        raise NtUserError(f"{field} must be an amount in whole cents (such as 12.50), got {value}")
    return value.quantize(CENT)


def largest_remainder(amount: D, weights: Mapping[str, Fraction | D | int]) -> dict[str, D]:
    """Split ``amount`` (whole cents) in proportion to ``weights`` into whole cents that sum to
    ``amount`` exactly: each key first gets the floor of its exact quota, then the cents left over go
    one each to the largest fractional remainders (ties by key, so the split is deterministic).

    Keys with weight 0 get 0; negative weights or all-zero weights are a ``ValueError``.
    """
    total_cents = int((amount / CENT).to_integral_value())
    if D(total_cents) * CENT != amount:
        raise ValueError(f"amount must be whole cents, got {amount}")
    exact = {k: Fraction(w) for k, w in weights.items()}
    if any(w < 0 for w in exact.values()):
        raise ValueError("weights must not be negative")
    weight_sum = sum(exact.values(), Fraction(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    quotas = {k: total_cents * w / weight_sum for k, w in exact.items()}
    floors = {k: q.numerator // q.denominator for k, q in quotas.items()}
    left = total_cents - sum(floors.values())
    by_remainder = sorted(quotas, key=lambda k: (-(quotas[k] - floors[k]), k))
    for k in by_remainder[:left]:
        floors[k] += 1
    return {k: D(c) * CENT for k, c in floors.items()}
