"""Expected value and Kelly staking for bets at decimal odds.

Conventions: ``odds`` are decimal (stake included), ``probabilities`` are the bettor's own; stakes
are fractions of the bankroll; ``fraction`` scales the full-Kelly stakes (0.5 = half Kelly);
``growth`` is the expected log growth of the bankroll, ``E[log(W1/W0)]``, at the stakes returned.

* One bet: ``f* = (b p - q) / b`` with ``b = o - 1``, ``q = 1 - p`` (Kelly 1956); stake ``max(f*, 0)``.
* Several **mutually exclusive** outcomes of one event (a 1X2 market, a race), betting on any subset
  at once: the closed form of Smoczynski & Tomkins (2010), "An explicit solution to the problem of
  optimizing the allocations of a bettor's wealth when wagering on horse races", Math. Scientist 35,
  10-17. Sort outcomes by expected revenue rate ``r_i = p_i o_i`` (largest first); start with the empty
  set ``S`` and reserve rate ``R = 1``; while the next outcome has ``r_k > R``, add it to ``S`` and set
  ``R = (1 - sum_{S} p_i) / (1 - sum_{S} 1/o_i)``; then ``f_i = p_i - R / o_i`` for ``i`` in ``S`` and 0
  otherwise (``R`` is also the share of the bankroll kept back). The probabilities must cover every
  outcome of the event (sum to 1).
* Several **independent** simultaneous bets (different events): no closed form; the stakes maximise
  ``sum_w P(w) log(1 - sum f_i + sum_{i won in w} f_i o_i)`` over the ``2**n`` win/lose combinations
  ``w`` with SLSQP (``f_i >= 0``, ``sum f_i <= 1``), for at most ``MAX_INDEPENDENT`` bets.

A **Dutch book** (``sum 1/o < 1`` over every outcome of one event) is an arbitrage, not a Kelly
problem: it is refused with that message (see ``arbitrage.equal_payout_stakes``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from scipy import optimize

from neural_trader.errors import NtLimitExceeded, NtUserError

__all__ = [
    "MAX_INDEPENDENT", "ExclusiveKelly", "IndependentKelly", "KellyBet", "expected_value", "kelly_exclusive",
    "kelly_independent", "kelly_single",
]

#: The most independent bets ``kelly_independent`` takes (it enumerates 2**n outcome combinations).
MAX_INDEPENDENT = 12
_SUM_TOL = 1e-6


def _multiplier(fraction: Any) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.integer | np.floating) \
            or not 0.0 < float(fraction) <= 1.0:
        raise NtUserError(f"fraction must be a number in (0, 1] (1 = full Kelly, 0.5 = half Kelly), got {fraction!r}")
    return float(fraction)


def _vector(name: str, value: Any) -> np.ndarray:
    if isinstance(value, str | bytes):
        raise NtUserError(f"{name} must be a list of numbers, got {value!r}")
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be a list of numbers, got {value!r}") from None
    if v.ndim != 1 or v.shape[0] < 1 or not np.isfinite(v).all():
        raise NtUserError(f"{name} must be a non-empty list of finite numbers, got {value!r}")
    return v


def _pair(probabilities: Any, odds: Any, *, open_probability: bool) -> tuple[np.ndarray, np.ndarray]:
    p, o = _vector("probabilities", probabilities), _vector("odds", odds)
    if p.shape != o.shape:
        raise NtUserError(f"probabilities and odds must have one entry per outcome, got {p.shape[0]} and {o.shape[0]}")
    if not (o > 1.0).all():
        raise NtUserError(f"odds must be decimal odds > 1 (stake included), got {odds!r}")
    ok = ((p > 0) & (p < 1)) if open_probability else ((p >= 0) & (p <= 1))
    if not ok.all():
        rng = "(0, 1)" if open_probability else "[0, 1]"
        raise NtUserError(f"probabilities must each be in {rng}, got {probabilities!r}")
    return p, o


def expected_value(probability: Any, odds: Any) -> float | np.ndarray:
    """Expected profit per unit stake, ``p o - 1``; scalars or arrays (broadcast)."""
    p, o = np.asarray(probability, dtype=np.float64), np.asarray(odds, dtype=np.float64)
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise NtUserError(f"probability must be in [0, 1], got {probability!r}")
    if not (np.isfinite(o).all() and (o > 1).all()):
        raise NtUserError(f"odds must be decimal odds > 1 (stake included), got {odds!r}")
    ev = p * o - 1.0
    return float(ev) if ev.ndim == 0 else ev


@attrs.frozen(kw_only=True)
class KellyBet:
    """One bet: ``full_kelly = (b p - q)/b`` (negative when there is no edge); ``stake`` is
    ``fraction * max(full_kelly, 0)``; ``expected_value = p o - 1`` per unit staked; ``growth`` is
    ``p log(1 + stake b) + q log(1 - stake)``."""

    full_kelly: float
    stake: float
    expected_value: float
    growth: float


def kelly_single(probability: float, odds: float, *, fraction: float = 1.0) -> KellyBet:
    """Kelly stake of one bet at decimal ``odds`` won with ``probability``."""
    p, o = _pair([probability], [odds], open_probability=False)
    p_, b = float(p[0]), float(o[0]) - 1.0
    mult = _multiplier(fraction)
    full = (b * p_ - (1.0 - p_)) / b
    stake = mult * max(full, 0.0)
    growth = p_ * math.log1p(stake * b) + ((1.0 - p_) * math.log1p(-stake) if p_ < 1.0 else 0.0)
    return KellyBet(full_kelly=full, stake=stake, expected_value=p_ * (b + 1.0) - 1.0, growth=growth)


@attrs.frozen(kw_only=True)
class ExclusiveKelly:
    """Kelly stakes on mutually exclusive outcomes of one event, in the order given.

    ``full_stakes`` are Smoczynski & Tomkins' ``f_i``; ``stakes = fraction * full_stakes``;
    ``optimal_set`` lists the outcomes bet on (indices, in the order they were added);
    ``reserve_rate`` is ``R``, the share of the bankroll full Kelly keeps back (1 when nothing is bet);
    ``growth`` is ``sum_i p_i log(1 - sum f + f_i o_i)`` at ``stakes``.
    """

    stakes: tuple[float, ...]
    full_stakes: tuple[float, ...]
    optimal_set: tuple[int, ...]
    reserve_rate: float
    total_stake: float
    growth: float


def _dutch_book(o: np.ndarray) -> None:
    booksum = float(np.sum(1.0 / o))
    if booksum < 1.0:
        raise NtUserError(
            f"odds are a Dutch book: sum of 1/odds = {booksum:.6g} < 1 over every outcome, so staking in "
            f"proportion to 1/odds wins {1.0 / booksum - 1.0:.4%} whatever happens. That is an arbitrage, "
            "not a Kelly bet: use the arbitrage stakes (equal payout) instead", details={"booksum": booksum})


def kelly_exclusive(probabilities: Sequence[float], odds: Sequence[float], *, fraction: float = 1.0) -> ExclusiveKelly:
    """Kelly stakes on the outcomes of one event (exactly one of them happens).

    ``probabilities`` cover every outcome of the event and sum to 1; ``odds`` are each outcome's
    decimal odds (the best available for it). Raises on a Dutch book.
    """
    p, o = _pair(probabilities, odds, open_probability=False)
    if p.shape[0] < 2:
        raise NtUserError("probabilities must cover every outcome of the event (at least 2)")
    total = math.fsum(p)
    if abs(total - 1.0) > _SUM_TOL:
        raise NtUserError(f"probabilities must sum to 1 over every outcome of the event (mutually exclusive and "
                          f"exhaustive), got a sum of {total:.9g}")
    mult = _multiplier(fraction)
    _dutch_book(o)
    rate = p * o
    order = sorted(range(p.shape[0]), key=lambda i: -rate[i])   # stable: ties keep the given order
    chosen: list[int] = []
    reserve = 1.0
    p_in = inv_in = 0.0
    for k in order:
        if not rate[k] > reserve:
            break
        chosen.append(k)
        p_in += p[k]
        inv_in += 1.0 / o[k]
        reserve = (1.0 - p_in) / (1.0 - inv_in)
    full = np.zeros_like(p)
    for k in chosen:
        full[k] = p[k] - reserve / o[k]
    stakes = mult * full
    kept = 1.0 - stakes.sum()
    wealth = kept + stakes * o
    growth = float(sum(pi * math.log(w) for pi, w in zip(p, wealth, strict=True) if pi > 0))
    return ExclusiveKelly(stakes=tuple(float(x) for x in stakes), full_stakes=tuple(float(x) for x in full),
                          optimal_set=tuple(chosen), reserve_rate=float(reserve), total_stake=float(stakes.sum()),
                          growth=growth)


@attrs.frozen(kw_only=True)
class IndependentKelly:
    """Kelly stakes on independent simultaneous bets, in the order given.

    ``full_stakes`` maximise the expected log growth (numerically, over ``n_combinations = 2**n``
    win/lose combinations); ``stakes = fraction * full_stakes``; ``growth`` is at ``stakes``;
    ``iterations`` is the optimiser's count.
    """

    stakes: tuple[float, ...]
    full_stakes: tuple[float, ...]
    total_stake: float
    growth: float
    n_combinations: int
    iterations: int


def kelly_independent(probabilities: Sequence[float], odds: Sequence[float], *,
                      fraction: float = 1.0) -> IndependentKelly:
    """Kelly stakes on up to ``MAX_INDEPENDENT`` independent bets placed at the same time (each on a
    different event: bet ``i`` wins with ``probabilities[i]`` at decimal ``odds[i]``)."""
    p, o = _pair(probabilities, odds, open_probability=True)
    n = p.shape[0]
    if n > MAX_INDEPENDENT:
        raise NtLimitExceeded(
            f"probabilities has {n} independent bets; kelly_independent enumerates 2**n outcome combinations and "
            f"takes at most {MAX_INDEPENDENT}: split the bets into groups or size each with kelly_single",
            details={"bound": "independent_bets", "asked": n, "limit": MAX_INDEPENDENT})
    mult = _multiplier(fraction)
    wins = np.array(list(itertools.product((0.0, 1.0), repeat=n)))          # (2**n, n)
    prob = np.prod(np.where(wins == 1.0, p, 1.0 - p), axis=1)               # P(w)
    ret = wins * o - 1.0                                                     # net return per unit stake

    def neg_growth(f: np.ndarray) -> tuple[float, np.ndarray]:
        w = 1.0 + ret @ f
        if (w <= 0.0).any():
            return 1e6 * (1.0 + float(np.sum(np.maximum(-w, 0.0)))), -1e6 * ret.T @ (prob * (w <= 0))
        return -float(prob @ np.log(w)), -(ret.T @ (prob / w))

    single = np.maximum(p - (1.0 - p) / (o - 1.0), 0.0)
    x0 = single / max(1.0, 2.0 * single.sum())
    res = optimize.minimize(neg_growth, x0, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                            constraints=[{"type": "ineq", "fun": lambda f: 1.0 - f.sum(),
                                          "jac": lambda f: -np.ones_like(f)}],
                            options={"ftol": 1e-15, "maxiter": 1000})
    if not res.success:  # pragma: no cover - the problem is smooth and concave
        raise NtUserError(f"kelly_independent: the optimiser did not converge ({res.message}); check the inputs")
    full = np.clip(res.x, 0.0, 1.0)
    full[full < 1e-12] = 0.0
    stakes = mult * full
    growth = float(prob @ np.log(1.0 + ret @ stakes))
    return IndependentKelly(stakes=tuple(float(x) for x in stakes), full_stakes=tuple(float(x) for x in full),
                            total_stake=float(stakes.sum()), growth=growth, n_combinations=int(wins.shape[0]),
                            iterations=int(res.nit))
