"""Odds conversions against hand-computed values (the definitions in odds.py: decimal = 1 + a/100 for
a >= +100, 1 + 100/|a| for a <= -100; decimal = 1 + n/d for fractional n/d), exact Fraction round trips
and numpy vectorisation."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.odds import (
    american_to_decimal,
    american_to_probability,
    decimal_to_american,
    decimal_to_fractional,
    decimal_to_probability,
    fractional_to_decimal,
    parse_fractional,
    probability_to_american,
    probability_to_decimal,
)


@pytest.mark.parametrize(("american", "decimal"), [
    (150, 2.5), (-200, 1.5), (100, 2.0), (-100, 2.0), (250, 3.5), (-110, 1 + 100 / 110), (1000, 11.0),
])
def test_american_decimal(american: float, decimal: float) -> None:
    assert american_to_decimal(american) == pytest.approx(decimal, rel=1e-15)
    assert american_to_probability(american) == pytest.approx(1 / decimal, rel=1e-15)


@pytest.mark.parametrize(("decimal", "american"), [(2.5, 150.0), (1.5, -200.0), (2.0, 100.0), (1.25, -400.0),
                                                   (11.0, 1000.0)])
def test_decimal_american(decimal: float, american: float) -> None:
    assert decimal_to_american(decimal) == pytest.approx(american, rel=1e-12)
    assert american_to_decimal(decimal_to_american(decimal)) == pytest.approx(decimal, rel=1e-14)


def test_vectorised_matches_scalar() -> None:
    dec = np.array([[1.01, 1.5, 1.999], [2.0, 3.75, 101.0]])
    am = decimal_to_american(dec)
    assert isinstance(am, np.ndarray) and am.shape == dec.shape
    assert np.array_equal(am, np.array([[decimal_to_american(x) for x in row] for row in dec]))
    np.testing.assert_allclose(american_to_decimal(am), dec, rtol=1e-14)
    np.testing.assert_allclose(decimal_to_probability(dec), 1 / dec, rtol=0)
    p = np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(probability_to_decimal(p), [5.0, 2.0, 1.25])
    np.testing.assert_allclose(probability_to_american(p), [400.0, 100.0, -400.0])
    assert isinstance(decimal_to_probability(4.0), float) and decimal_to_probability(4.0) == 0.25


@pytest.mark.parametrize(("frac", "num", "den", "decimal"), [
    ("5/2", 5, 2, 3.5), ("1/3", 1, 3, 4 / 3), ("evens", 1, 1, 2.0), ("100/30", 10, 3, 1 + 10 / 3),
    ((11, 4), 11, 4, 3.75), (Fraction(2, 7), 2, 7, 1 + 2 / 7), ("4-6", 2, 3, 1 + 2 / 3),
])
def test_fractional(frac: object, num: int, den: int, decimal: float) -> None:
    assert parse_fractional(frac) == Fraction(num, den)
    assert fractional_to_decimal(frac) == pytest.approx(decimal, rel=1e-15)


def test_fractional_round_trips_exactly() -> None:
    # exact where the decimal is exact: denominators of 2s and 5s
    for f in (Fraction(5, 2), Fraction(1, 4), Fraction(11, 8), Fraction(33, 100), Fraction(1, 5), Fraction(7, 1)):
        assert decimal_to_fractional(fractional_to_decimal(f)) == f
    assert decimal_to_fractional(1.33) == Fraction(33, 100)          # read as written, not as the binary float
    assert decimal_to_fractional("2.375") == Fraction(11, 8)
    # 1/3 is not a finite decimal: bounded denominators recover it
    assert decimal_to_fractional(fractional_to_decimal("1/3"), max_denominator=100) == Fraction(1, 3)
    assert decimal_to_fractional([2.5, 1.2]) == (Fraction(3, 2), Fraction(1, 5))
    np.testing.assert_allclose(fractional_to_decimal(["5/2", (1, 4), "evs"]), [3.5, 1.25, 2.0])


@pytest.mark.parametrize(("call", "field"), [
    (lambda: decimal_to_american(1.0), "odds must be decimal odds > 1"),
    (lambda: decimal_to_probability([2.0, 0.9]), "odds must be decimal odds > 1"),
    (lambda: american_to_decimal(50), "american odds must be >= +100 or <= -100"),
    (lambda: american_to_decimal([150, -99.5]), "american odds"),
    (lambda: parse_fractional("5/0"), "fractional denominator must not be zero"),
    (lambda: parse_fractional((3, 0)), "fractional denominator must not be zero"),
    (lambda: fractional_to_decimal(["5/2", "2/0"]), "fractional[1] denominator"),
    (lambda: parse_fractional("0/1"), "fractional must be > 0"),
    (lambda: parse_fractional("five to two"), "fractional must look like '5/2'"),
    (lambda: probability_to_decimal(1.2), "probability must be in (0, 1)"),
    (lambda: decimal_to_fractional(0.5), "odds must be decimal odds > 1"),
    (lambda: decimal_to_american(float("nan")), "odds must be finite"),
])
def test_errors_name_the_field(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NtUserError, match=re.escape(field)):
        call()
