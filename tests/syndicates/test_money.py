"""Largest-remainder shares: the published worked example, and exact sums for any weights."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader_plugins.syndicates.money import cents, check_cents, largest_remainder, units_down, units_up


def test_the_hamilton_method_matches_the_published_example() -> None:
    # Largest remainder method, Hare quota, the worked example of the Wikipedia article
    # ("Largest remainders method"): 100,000 votes, 10 seats -> 5, 2, 1, 1, 1, 0.
    votes = {"yellows": 47_000, "whites": 16_000, "reds": 15_800, "greens": 12_000, "blues": 6_100, "pinks": 3_100}
    seats = largest_remainder(D("0.10"), votes)   # ten cents: ten seats
    assert {k: int(v * 100) for k, v in seats.items()} == {"yellows": 5, "whites": 2, "reds": 1, "greens": 1,
                                                           "blues": 1, "pinks": 0}


def test_ties_go_by_key_so_the_split_is_deterministic() -> None:
    assert largest_remainder(D("100.00"), {"bob": 1, "alice": 1, "carol": 1}) == {
        "alice": D("33.34"), "bob": D("33.33"), "carol": D("33.33")}


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10**9),
       st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.integers(min_value=0, max_value=10**6),
                       min_size=1, max_size=12).filter(lambda w: sum(w.values()) > 0))
def test_shares_sum_exactly_and_each_is_within_a_cent_of_its_quota(amount_cents: int, weights: dict[str, int]) -> None:
    amount = D(amount_cents) / 100
    shares = largest_remainder(amount, weights)
    assert sum(shares.values()) == amount
    total = sum(weights.values())
    for key, share in shares.items():
        quota = Fraction(amount_cents * weights[key], total)
        assert abs(Fraction(share * 100) - quota) < 1
        assert share == share.quantize(D("0.01"))


def test_refuses_what_cannot_be_split() -> None:
    with pytest.raises(ValueError):
        largest_remainder(D("1.005"), {"a": 1})
    with pytest.raises(ValueError):
        largest_remainder(D("1.00"), {"a": 0})


def test_rounding_rules() -> None:
    assert cents(D("2.345")) == D("2.34") and cents(D("2.355")) == D("2.36")   # half-even
    assert units_down(D("1.999999999")) == D("1.99999999") and units_up(D("1.000000001")) == D("1.00000001")
    with pytest.raises(ValueError, match="whole cents"):
        check_cents("amount", D("1.001"))
