"""A bookmaker's margin, and the fair probabilities left when it is removed.

Definitions, for one market's decimal odds ``o_i`` (every outcome of it) with implied probabilities
``pi_i = 1/o_i``:

* **booksum** ``B = sum pi_i`` (above 1 for a bookmaker's market); **overround** ``B - 1``;
* **margin** ``1 - 1/B``: the bookmaker's share of a book balanced to pay the same on every outcome
  (the payout ratio is ``1/B``). A 1X2 market at 2.7/2.3/4.4 has B = 1.1362, overround 0.1362,
  margin 0.1199.

Margin removal (each returns fair probabilities ``p_i`` summing to 1 and, where it has one, the
method's parameter):

* ``multiplicative`` (normalisation): ``p_i = pi_i / B``.
* ``additive``: ``p_i = pi_i - (B - 1)/n`` (the overround shared equally; it can go negative for
  long shots, which is an error here).
* ``power``: ``p_i = pi_i ** k`` with ``k`` solving ``sum pi_i ** k = 1`` (``k > 1`` when ``B > 1``).
* ``shin``: Shin's (1992, 1993) insider-trading model as solved by Jullien & Salanie (1994) and the
  ``shin`` package: ``p_i = (sqrt(z**2 + 4 (1 - z) pi_i**2 / B) - z) / (2 (1 - z))`` with ``z`` (the
  share of insider money, in ``[0, 1)``) solving ``sum p_i = 1``.
* ``odds_ratio`` (Cheung 2015): ``pi_i / (1 - pi_i) = c * p_i / (1 - p_i)``, i.e.
  ``p_i = pi_i / (c + pi_i - c pi_i)``, with ``c`` solving ``sum p_i = 1``.
* ``differential`` (Buchdahl's margin weights proportional to the odds): fair odds
  ``n o_i / (n - (B - 1) o_i)``; it can go negative for long shots, which is an error here.

The parameters are solved with Brent's method to ``1e-14``; with ``B = 1`` every method returns
``pi_i`` (``k = 1``, ``z = 0``, ``c = 1``). With ``B < 1`` (no margin, e.g. best odds across books)
power and odds-ratio still solve (``k < 1``, ``c < 1``); Shin's model does not apply and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
from scipy import optimize

from neural_trader.errors import NtUserError

__all__ = [
    "METHODS", "BookMargin", "FairProbabilities", "MarginComparison", "MarketMargin", "compare_margins",
    "market_margin", "market_odds", "remove_margin",
]

Method = Literal["multiplicative", "additive", "power", "shin", "odds_ratio", "differential"]
METHODS: tuple[str, ...] = ("multiplicative", "additive", "power", "shin", "odds_ratio", "differential")
_PARAMETER = {"power": "k", "shin": "z", "odds_ratio": "c"}
_XTOL = 1e-14


def market_odds(odds: Any, name: str = "odds") -> np.ndarray:
    """One market's decimal odds as a float64 vector of at least two outcomes, each > 1."""
    if isinstance(odds, str | bytes | Mapping):
        raise NtUserError(f"{name} must be a list of decimal odds, one per outcome, got {odds!r}")
    try:
        arr = np.asarray(odds, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be a list of decimal odds, one per outcome, got {odds!r}") from None
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise NtUserError(f"{name} must list the decimal odds of every outcome of one market (at least 2), "
                          f"got {odds!r}")
    if not (np.isfinite(arr) & (arr > 1.0)).all():
        raise NtUserError(f"{name} must be decimal odds > 1 (stake included), got {odds!r}")
    return arr


@attrs.frozen(kw_only=True)
class MarketMargin:
    """``booksum = sum 1/o``, ``overround = booksum - 1``, ``margin = 1 - 1/booksum``,
    ``payout = 1/booksum`` (see the module docstring)."""

    booksum: float
    overround: float
    margin: float
    payout: float


def market_margin(odds: Sequence[float] | np.ndarray) -> MarketMargin:
    """Booksum, overround, margin and payout ratio of one market's decimal odds."""
    booksum = float(np.sum(1.0 / market_odds(odds)))
    return MarketMargin(booksum=booksum, overround=booksum - 1.0, margin=1.0 - 1.0 / booksum,
                        payout=1.0 / booksum)


@attrs.frozen(kw_only=True)
class FairProbabilities:
    """Fair (margin-free) probabilities of a market, in the order of the odds given.

    ``parameter`` is the method's solved parameter (``k`` for power, ``z`` for Shin, ``c`` for odds
    ratio; named by ``parameter_name``), None for the methods without one. ``fair_odds = 1/p``.
    """

    method: str
    probabilities: tuple[float, ...]
    fair_odds: tuple[float, ...]
    parameter: float | None
    parameter_name: str | None
    booksum: float
    overround: float


def _solve(fn: Any, lo: float, hi: float, *, grow: bool) -> float:
    """Root of ``fn`` (decreasing in its argument) in ``[lo, hi]``; doubles ``hi`` first if ``grow``."""
    if grow:
        for _ in range(200):
            if fn(hi) < 0.0:
                break
            lo, hi = hi, hi * 2.0
        else:  # pragma: no cover - a decreasing sum of positive powers always gets below 1
            raise NtUserError("odds: the margin-removal parameter could not be bracketed")
    return float(optimize.brentq(fn, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps, maxiter=500))


def _shin_p(z: float, pi: np.ndarray, booksum: float) -> np.ndarray:
    return (np.sqrt(z * z + 4.0 * (1.0 - z) * pi * pi / booksum) - z) / (2.0 * (1.0 - z))


def remove_margin(odds: Sequence[float] | np.ndarray, method: Method | str = "multiplicative") -> FairProbabilities:
    """Fair probabilities of one market's decimal odds by ``method`` (one of ``METHODS``)."""
    o = market_odds(odds)
    if method not in METHODS:
        raise NtUserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    pi = 1.0 / o
    booksum = float(pi.sum())
    n = o.shape[0]
    param: float | None = None
    exact = math.isclose(booksum, 1.0, rel_tol=0.0, abs_tol=1e-15)
    if method == "multiplicative":
        p = pi / booksum
    elif method == "additive":
        p = pi - (booksum - 1.0) / n
    elif method == "differential":
        fair = n * o / (n - (booksum - 1.0) * o)
        p = np.where(fair > 0, 1.0 / fair, -1.0)
    elif method == "power":
        if exact:
            param, p = 1.0, pi
        else:
            # log-space: sum exp(k log pi) - 1, decreasing in k.
            lp = np.log(pi)

            def f_power(k: float) -> float:
                return float(np.exp(k * lp).sum() - 1.0)

            param = _solve(f_power, 1.0, 2.0, grow=True) if booksum > 1 else _solve(f_power, 1e-12, 1.0, grow=False)
            p = pi ** param
    elif method == "shin":
        if booksum < 1.0 and not exact:
            raise NtUserError(f"odds have no margin (sum of 1/odds = {booksum:.6g} < 1); Shin's model needs a "
                              "bookmaker's margin: use method='multiplicative' or 'power'")
        if exact:
            param, p = 0.0, pi
        else:
            def f_shin(z: float) -> float:
                return float(_shin_p(z, pi, booksum).sum() - 1.0)

            param = _solve(f_shin, 0.0, 1.0 - 1e-12, grow=False)
            p = _shin_p(param, pi, booksum)
    else:  # odds_ratio
        if exact:
            param, p = 1.0, pi
        else:
            def f_or(c: float) -> float:
                return float((pi / (c + pi - c * pi)).sum() - 1.0)

            param = _solve(f_or, 1.0, 2.0, grow=True) if booksum > 1 else _solve(f_or, 1e-12, 1.0, grow=False)
            p = pi / (param + pi - param * pi)
    if not (p > 0).all():
        raise NtUserError(f"odds: the {method} method gives a probability <= 0 for the outcome at odds "
                          f"{float(o[~(p > 0)][0])!r} (the margin is larger than its implied probability); "
                          "use method='multiplicative', 'power' or 'shin'")
    return FairProbabilities(method=method, probabilities=tuple(float(x) for x in p),
                             fair_odds=tuple(float(x) for x in 1.0 / p), parameter=param,
                             parameter_name=_PARAMETER.get(method), booksum=booksum, overround=booksum - 1.0)


@attrs.frozen(kw_only=True)
class BookMargin:
    """One bookmaker's figures for a market (see :class:`MarketMargin`)."""

    bookmaker: str
    odds: tuple[float, ...]
    booksum: float
    overround: float
    margin: float


@attrs.frozen(kw_only=True)
class MarginComparison:
    """Each bookmaker's margin on the same market, ranked from the lowest margin; ``lowest`` is the
    bookmaker with the lowest margin (the first given wins a tie)."""

    books: tuple[BookMargin, ...]
    lowest: str


def compare_margins(books: Mapping[str, Sequence[float]]) -> MarginComparison:
    """Margins of several bookmakers' odds for one market: ``{"pinnacle": [1.95, 3.6, 4.2], ...}``,
    each listing the same outcomes in the same order."""
    if not isinstance(books, Mapping) or not books:
        raise NtUserError("books must map each bookmaker's name to its decimal odds for the market, "
                          "e.g. {'pinnacle': [1.95, 3.6, 4.2]}")
    rows: list[BookMargin] = []
    n_outcomes: int | None = None
    for name, odds in books.items():
        o = market_odds(odds, name=f"books[{name!r}]")
        if n_outcomes is None:
            n_outcomes = o.shape[0]
        elif o.shape[0] != n_outcomes:
            raise NtUserError(f"books[{name!r}] has {o.shape[0]} odds but the first bookmaker has {n_outcomes}; "
                              "every bookmaker must quote the same outcomes of one market")
        m = market_margin(o)
        rows.append(BookMargin(bookmaker=str(name), odds=tuple(float(x) for x in o), booksum=m.booksum,
                               overround=m.overround, margin=m.margin))
    ranked = tuple(sorted(rows, key=lambda b: b.margin))  # sorted() is stable: ties keep the input order
    return MarginComparison(books=ranked, lowest=ranked[0].bookmaker)
