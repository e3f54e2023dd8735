"""Profit distribution: how an amount is split among the members, to the cent.

From the gross amount ``G``: the performance fee ``round(G x fee_rate)`` goes to the fee recipient,
the operations reserve ``round(G x reserve_rate)`` stays in the pool (earmarked, no longer
distributable), and the net ``N = G - fee - reserve`` is split by the model's weights with the
largest-remainder method (:func:`.money.largest_remainder`), so the shares sum to ``N`` exactly.

Weights of member ``i`` (members holding units):

* ``proportional``: units ``u_i`` (the default: the same as a dividend per unit);
* ``equal``: 1 each;
* ``performance``: the gain on the units held, ``max(u_i x unit value - cost basis_i, 0)`` (members
  whose money earned more get more; it falls back to nothing if nobody is in profit);
* ``tiered``: ``u_i x`` the multiplier of the member's capital tier (1 without a tier);
* ``hybrid``: ``sum_m w_m x weight_{m,i} / sum_j weight_{m,j}`` over the models ``m`` with their
  configured weights ``w_m`` (each model's weights normalised first).
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Mapping
from fractions import Fraction

import attrs

from neural_trader.errors import NtUserError
from neural_trader_plugins.syndicates.books import Books
from neural_trader_plugins.syndicates.money import ZERO, cents, largest_remainder

D = decimal.Decimal

__all__ = ["Model", "Split", "model_weights", "split"]


class Model(enum.StrEnum):
    PROPORTIONAL = "proportional"
    EQUAL = "equal"
    PERFORMANCE = "performance"
    TIERED = "tiered"
    HYBRID = "hybrid"


@attrs.frozen(kw_only=True)
class Split:
    gross: D
    performance_fee: D
    reserve: D
    net: D
    shares: dict[str, D]


def model_weights(books: Books, model: Model, hybrid: Mapping[Model, D] | None = None) -> dict[str, Fraction]:
    """Each unit-holding member's weight under ``model`` (exact fractions)."""
    holders = [m for m in books.members.values() if m.units > 0]
    uv = Fraction(books.unit_value)
    if model is Model.PROPORTIONAL:
        return {m.member_id: Fraction(m.units) for m in holders}
    if model is Model.EQUAL:
        return {m.member_id: Fraction(1) for m in holders}
    if model is Model.PERFORMANCE:
        return {m.member_id: max(Fraction(m.units) * uv - Fraction(m.cost_basis), Fraction(0)) for m in holders}
    if model is Model.TIERED:
        out = {}
        for m in holders:
            tier = books.rules.tier_of(books.value_of(m))
            out[m.member_id] = Fraction(m.units) * Fraction(tier.multiplier if tier else D(1))
        return out
    mix = {k: v for k, v in (hybrid or {}).items() if v > 0}
    if not mix or Model.HYBRID in mix:
        raise NtUserError("hybrid_weights must give positive weights to some of proportional, equal, performance, "
                          "tiered (e.g. {\"proportional\": 0.7, \"equal\": 0.3})")
    combined = {m.member_id: Fraction(0) for m in holders}
    for part, w in mix.items():
        weights = model_weights(books, part)
        total = sum(weights.values(), Fraction(0))
        if total == 0:
            continue
        for member_id, weight in weights.items():
            combined[member_id] += Fraction(w) * weight / total
    return combined


def split(books: Books, gross: D, model: Model, *, fee_rate: D = ZERO, reserve_rate: D = ZERO,
          hybrid: Mapping[Model, D] | None = None) -> Split:
    """How ``gross`` (whole cents) would be distributed now."""
    if fee_rate + reserve_rate > 1:
        raise NtUserError(f"performance_fee ({fee_rate}) and reserve ({reserve_rate}) together must not exceed 1")
    fee, reserve = cents(gross * fee_rate), cents(gross * reserve_rate)
    net = gross - fee - reserve
    weights = model_weights(books, model, hybrid)
    if net > 0 and not any(w > 0 for w in weights.values()):
        raise NtUserError(f"the {model.value} model gives no member a positive weight (no unit holders, or nobody "
                          "in profit for performance): choose another model")
    shares = largest_remainder(net, weights) if net > 0 else {k: ZERO for k in weights}
    return Split(gross=gross, performance_fee=fee, reserve=reserve, net=net, shares=shares)
