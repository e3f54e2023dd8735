"""Kelly staking against closed forms (Kelly 1956; Smoczynski & Tomkins 2010, worked here by hand in
exact fractions), and the closed form against a numeric maximiser of E[log wealth] written here."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize

from neural_trader.errors import NtLimitExceeded, NtUserError
from neural_trader_plugins.sports.kelly import (
    MAX_INDEPENDENT,
    expected_value,
    kelly_exclusive,
    kelly_independent,
    kelly_single,
)


@pytest.mark.parametrize(("p", "odds", "f"), [
    (0.6, 2.0, 0.2),        # Kelly (1956): 60 % at evens -> 20 %
    (0.5, 3.0, 0.25),       # (2 * 0.5 - 0.5) / 2
    (0.25, 6.0, 0.1),       # (5 * 0.25 - 0.75) / 5
    (0.4, 2.0, -0.2),       # no edge
])
def test_single(p: float, odds: float, f: float) -> None:
    k = kelly_single(p, odds)
    assert k.full_kelly == pytest.approx(f) and k.stake == pytest.approx(max(f, 0.0))
    assert k.expected_value == pytest.approx(p * odds - 1)
    half = kelly_single(p, odds, fraction=0.5)
    assert half.stake == pytest.approx(max(f, 0) / 2)
    b = odds - 1
    assert half.growth == pytest.approx(p * math.log1p(half.stake * b) + (1 - p) * math.log1p(-half.stake))


def test_expected_value_vectorised() -> None:
    np.testing.assert_allclose(expected_value([0.5, 0.3], [2.2, 3.0]), [0.1, -0.1])
    assert expected_value(0.5, 2.0) == 0.0


def _numeric_exclusive(p: list[float], o: list[float]) -> np.ndarray:
    """max sum_i p_i log(1 - sum f + f_i o_i) over f >= 0, sum f <= 1 (SLSQP from a different start)."""
    p_, o_ = np.array(p), np.array(o)

    def neg(f: np.ndarray) -> float:
        w = 1 - f.sum() + f * o_
        return 1e9 if (w <= 0).any() else -float(p_ @ np.log(w))

    res = optimize.minimize(neg, np.full(len(p), 0.01), method="SLSQP", bounds=[(0, 1)] * len(p),
                            constraints=[{"type": "ineq", "fun": lambda f: 0.999999 - f.sum()}],
                            options={"ftol": 1e-15, "maxiter": 2000})
    assert res.success
    return res.x


def test_exclusive_hand_worked() -> None:
    """p = (1/2, 3/10, 1/5) at o = (2.2, 3.2, 4): r = (1.1, 0.96, 0.8). Outcome 1 enters (1.1 > 1):
    R = (1/2) / (1 - 5/11) = 11/12. Outcome 2 enters (0.96 > 11/12): R = (1/5) / (1 - 5/11 - 5/16) = 176/205.
    Outcome 3 stays out (0.8 < 176/205). f1 = 1/2 - (176/205)(5/11) = 9/82, f2 = 3/10 - (176/205)(5/16) = 13/410:
    the draw, a negative-EV outcome on its own, is bet as a hedge."""
    p = [Fraction(1, 2), Fraction(3, 10), Fraction(1, 5)]
    o = [Fraction(11, 5), Fraction(16, 5), Fraction(4)]
    r_final = (1 - p[0] - p[1]) / (1 - 1 / o[0] - 1 / o[1])
    assert r_final == Fraction(176, 205)
    f1, f2 = p[0] - r_final / o[0], p[1] - r_final / o[1]
    assert (f1, f2) == (Fraction(9, 82), Fraction(13, 410))
    k = kelly_exclusive([0.5, 0.3, 0.2], [2.2, 3.2, 4.0])
    assert k.optimal_set == (0, 1)
    assert k.reserve_rate == pytest.approx(float(r_final), rel=1e-14)
    np.testing.assert_allclose(k.stakes, [float(f1), float(f2), 0.0], rtol=1e-13, atol=1e-15)
    assert expected_value(0.3, 3.2) < 0


@pytest.mark.parametrize(("p", "o"), [
    ([0.5, 0.3, 0.2], [2.2, 3.2, 4.0]),
    ([0.45, 0.28, 0.27], [2.05, 3.5, 3.9]),          # a 1X2 market with a model edge on the away side
    ([0.2, 0.15, 0.1, 0.3, 0.25], [5.5, 7.0, 8.0, 3.0, 4.5]),
    ([0.7, 0.3], [1.5, 2.6]),
    ([0.3, 0.3, 0.4], [3.5, 3.6, 2.1]),               # two outcomes with an edge
])
def test_exclusive_matches_numeric_maximiser(p: list[float], o: list[float]) -> None:
    k = kelly_exclusive(p, o)
    f = _numeric_exclusive(p, o)
    np.testing.assert_allclose(k.stakes, f, atol=2e-5)
    w = 1 - f.sum() + f * np.array(o)
    assert k.growth >= float(np.array(p) @ np.log(w)) - 1e-12
    assert k.reserve_rate == pytest.approx(1 - k.total_stake, abs=1e-12)   # R is the share kept back


def test_exclusive_no_edge_bets_nothing() -> None:
    k = kelly_exclusive([0.5, 0.3, 0.2], [1.9, 3.2, 4.5])  # every p*o < 1
    assert k.optimal_set == () and k.total_stake == 0 and k.reserve_rate == 1.0 and k.growth == 0.0


def test_dutch_book_is_refused() -> None:
    with pytest.raises(NtUserError, match="Dutch book") as info:
        kelly_exclusive([0.5, 0.5], [2.1, 2.1])
    assert info.value.details["booksum"] == pytest.approx(2 / 2.1)


def test_independent_symmetric_closed_form() -> None:
    """Two independent even-money bets at p = 0.6: by symmetry f1 = f2 = f maximising
    0.36 log(1 + 2f) + 0.16 log(1 - 2f) (the split outcomes leave wealth unchanged), so
    0.72 / (1 + 2f) = 0.32 / (1 - 2f), f = 0.4 / 2.08 = 5/26 (less than the single-bet 0.2)."""
    k = kelly_independent([0.6, 0.6], [2.0, 2.0])
    np.testing.assert_allclose(k.full_stakes, [5 / 26, 5 / 26], atol=1e-7)
    assert k.n_combinations == 4


def test_independent_one_bet_is_single_kelly() -> None:
    k = kelly_independent([0.55], [2.1])
    assert k.full_stakes[0] == pytest.approx(kelly_single(0.55, 2.1).full_kelly, abs=1e-7)


def test_independent_against_exhaustive_objective() -> None:
    """Our stakes against trust-constr on the objective written out combination by combination."""
    p, o = [0.55, 0.4, 0.3, 0.62], [2.1, 2.8, 3.9, 1.8]

    def growth(f: np.ndarray) -> float:
        total = 0.0
        for won in itertools.product((False, True), repeat=len(p)):
            pr = math.prod(pi if w else 1 - pi for pi, w in zip(p, won, strict=True))
            total += pr * math.log(1 - f.sum() + sum(fi * oi for fi, oi, w in zip(f, o, won, strict=True) if w))
        return total

    ref = optimize.minimize(lambda f: -growth(f), np.full(4, 0.05), method="trust-constr",
                            bounds=optimize.Bounds(0, 1), options={"xtol": 1e-12, "gtol": 1e-12, "maxiter": 5000})
    k = kelly_independent(p, o)
    np.testing.assert_allclose(k.full_stakes, ref.x, atol=1e-5)
    assert growth(np.array(k.full_stakes)) >= -ref.fun - 1e-12
    half = kelly_independent(p, o, fraction=0.5)
    np.testing.assert_allclose(half.stakes, np.array(k.full_stakes) / 2)
    assert half.growth == pytest.approx(growth(np.array(half.stakes)), rel=1e-12)


def test_independent_cap() -> None:
    n = MAX_INDEPENDENT + 1
    with pytest.raises(NtLimitExceeded, match=f"has {n} independent bets"):
        kelly_independent([0.5] * n, [2.1] * n)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: kelly_single(0.5, 1.0), "odds must be decimal odds > 1"),
    (lambda: kelly_single(1.5, 2.0), "probabilities must each be in [0, 1]"),
    (lambda: kelly_single(0.5, 2.0, fraction=0), "fraction must be a number in (0, 1]"),
    (lambda: kelly_exclusive([0.5, 0.4], [2.0, 3.0]), "probabilities must sum to 1"),
    (lambda: kelly_exclusive([0.5, 0.5], [2.0]), "probabilities and odds must have one entry per outcome"),
    (lambda: kelly_independent([1.0], [2.0]), "probabilities must each be in (0, 1)"),
])
def test_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    import re

    with pytest.raises(NtUserError, match=re.escape(message)):
        call()
