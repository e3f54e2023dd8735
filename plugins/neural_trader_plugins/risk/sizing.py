"""Position sizing: Kelly (continuous, binary bet, multi-asset), volatility targeting, ATR stops.

Conventions: ``mu``, ``sigma``, ``cov`` and ``risk_free`` are per period, in the same period (daily
means with a daily covariance, or both annual); returns are simple. A Kelly "fraction" is the
share of wealth to hold (1.0 = fully invested, above 1 is leverage, negative is short);
``fraction`` (the multiplier) scales the full-Kelly answer, e.g. 0.5 for half Kelly.

The continuous and multi-asset Kelly rules maximise the Gaussian approximation of the expected log
growth per period, ``g(w) = r + w.(mu - r) - w' Sigma w / 2`` (Merton 1969; Thorp 2006, "The Kelly
criterion in blackjack, sports betting and the stock market", section 7), whose maximiser without
constraints is ``Sigma^-1 (mu - r)``. The binary bet maximises ``p log(1 + f b) + q log(1 - f)``
exactly: ``f* = p - q / b`` (Kelly 1956), ``b`` the net odds (decimal odds minus 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
from scipy import linalg, optimize

from neural_trader.errors import NtUserError
from neural_trader.native import indicators, risk
from neural_trader_plugins.risk import inputs

__all__ = [
    "AtrSize", "BinaryKelly", "KellyFraction", "KellyPortfolio", "VolTarget", "atr_position_size", "kelly_binary",
    "kelly_continuous", "kelly_portfolio", "volatility_target",
]


def _number(name: str, value: object, *, rule: str = "must be a finite number") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"{name} {rule}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise NtUserError(f"{name} {rule}, got {value!r}")
    return v


def _positive(name: str, value: object, hint: str = "") -> float:
    v = _number(name, value, rule="must be a finite number > 0" + hint)
    if not v > 0:
        raise NtUserError(f"{name} must be a finite number > 0{hint}, got {value!r}")
    return v


def _multiplier(fraction: object) -> float:
    v = _number("fraction", fraction, rule="must be a number in (0, 1] (1 = full Kelly, 0.5 = half Kelly)")
    if not 0.0 < v <= 1.0:
        raise NtUserError(f"fraction must be a number in (0, 1] (1 = full Kelly, 0.5 = half Kelly), got {fraction!r}")
    return v


def _vector(name: str, value: object) -> np.ndarray:
    return inputs.vector(name, value)


# -- Kelly -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class KellyFraction:
    """Kelly sizing of one asset: ``full_kelly = (mu - r) / sigma**2``; ``fraction`` is it times the
    multiplier (and capped at ``max_leverage`` in absolute value, if given); ``growth_rate`` is the
    expected log growth per period at ``fraction``."""

    full_kelly: float
    fraction: float
    growth_rate: float


def _growth(w: np.ndarray | float, excess: np.ndarray | float, cov: np.ndarray | float, r: float) -> float:
    w_, e_, c_ = np.atleast_1d(w), np.atleast_1d(excess), np.atleast_2d(cov)
    return float(r + w_ @ e_ - 0.5 * w_ @ c_ @ w_)


def kelly_continuous(mu: float, sigma: float, *, risk_free: float = 0.0, fraction: float = 1.0,
                     max_leverage: float | None = None) -> KellyFraction:
    """Continuous Kelly for one asset with mean return ``mu`` and volatility ``sigma`` per period."""
    m, s, r = _number("mu", mu), _positive("sigma", sigma), _number("risk_free", risk_free)
    k = _multiplier(fraction)
    full = (m - r) / (s * s)
    f = full * k
    if max_leverage is not None:
        cap = _positive("max_leverage", max_leverage)
        f = max(-cap, min(cap, f))
    return KellyFraction(full_kelly=full, fraction=f, growth_rate=_growth(f, m - r, s * s, r))


@attrs.frozen(kw_only=True)
class BinaryKelly:
    """Kelly stake on a bet won with probability ``p`` paying ``odds`` (net) per unit staked.

    ``full_kelly = p - (1 - p) / odds`` may be negative (no edge: do not bet); ``stake`` is
    ``max(full_kelly, 0)`` times the multiplier, as a share of bankroll; ``edge = p * odds - (1 - p)``
    is the expected profit per unit staked; ``growth_rate`` is ``p log(1 + stake odds) +
    (1 - p) log(1 - stake)``.
    """

    full_kelly: float
    stake: float
    edge: float
    growth_rate: float


def kelly_binary(p: float, odds: float, *, fraction: float = 1.0) -> BinaryKelly:
    """Kelly for a binary bet: win probability ``p`` in [0, 1], net ``odds`` > 0 (decimal odds - 1)."""
    pv = _number("p", p, rule="must be a probability in [0, 1]")
    if not 0.0 <= pv <= 1.0:
        raise NtUserError(f"p must be a probability in [0, 1], got {p!r}")
    b = _positive("odds", odds, " (net odds: decimal odds minus 1, e.g. 1.0 for evens)")
    k = _multiplier(fraction)
    q = 1.0 - pv
    full = pv - q / b
    stake = max(full, 0.0) * k
    win = pv * math.log1p(stake * b) if pv > 0 else 0.0
    lose = q * math.log1p(-stake) if q > 0 else 0.0
    return BinaryKelly(full_kelly=full, stake=stake, edge=pv * b - q, growth_rate=win + lose)


@attrs.frozen(kw_only=True, eq=False)
class KellyPortfolio:
    """Multi-asset Kelly weights.

    :ivar unconstrained: ``Sigma^-1 (mu - r)``, full Kelly with no limits.
    :ivar weights: the answer: the multiplier times the unconstrained weights, or, when a limit binds,
        the maximiser of ``g`` under the limits.
    :ivar leverage: ``sum(|weights|)``.
    :ivar growth_rate: ``g(weights)``, expected log growth per period.
    :ivar constrained: whether a limit bound (then ``weights`` come from the optimiser).
    """

    weights: np.ndarray
    unconstrained: np.ndarray
    leverage: float
    growth_rate: float
    constrained: bool


def kelly_portfolio(mu: Sequence[float] | np.ndarray, cov: Sequence[Sequence[float]] | np.ndarray, *,
                    risk_free: float = 0.0, fraction: float = 1.0, max_leverage: float | None = None,
                    max_weight: float | None = None, long_only: bool = False) -> KellyPortfolio:
    """Kelly weights for assets with mean returns ``mu`` and covariance ``cov`` (per period).

    Limits: ``max_leverage`` caps ``sum(|w|)``, ``max_weight`` caps each ``|w_i|``, ``long_only``
    forbids shorts. When the (fractional) unconstrained answer breaks a limit, ``g`` is maximised
    under the limits with SLSQP (``w = u - v``, ``u, v >= 0``, so the leverage limit is linear);
    the multiplier then scales the growth objective's risk term: ``g_k(w) = w.(mu - r) - w' Sigma w / (2k)``,
    whose free maximiser is ``k`` times full Kelly.
    """
    m = _vector("mu", mu)
    try:
        c = np.ascontiguousarray(cov, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError("cov must be a square matrix (list of rows) of numbers") from None
    n = m.shape[0]
    if c.shape != (n, n):
        raise NtUserError(f"cov has shape {c.shape} but mu has length {n}; cov must be {n} x {n}")
    r = _number("risk_free", risk_free)
    k = _multiplier(fraction)
    chol = risk.cholesky(c)  # refuses non-finite, asymmetric and non-PSD matrices, naming cov
    if chol.rank < n:
        raise NtUserError(f"cov must be positive definite for Kelly weights (rank {chol.rank} < {n}): "
                          "drop redundant assets or add a little variance")
    excess = m - r
    full = linalg.solve(c, excess, assume_a="pos")
    w = k * full
    lev_cap = None if max_leverage is None else _positive("max_leverage", max_leverage)
    w_cap = None if max_weight is None else _positive("max_weight", max_weight)
    tol = 1e-12
    breaks = ((lev_cap is not None and np.abs(w).sum() > lev_cap + tol)
              or (w_cap is not None and np.abs(w).max() > w_cap + tol)
              or (long_only and (w < -tol).any()))
    if breaks:
        w = _constrained(excess, c, k, lev_cap, w_cap, long_only, start=w)
    return KellyPortfolio(weights=w, unconstrained=full, leverage=float(np.abs(w).sum()),
                          growth_rate=_growth(w, excess, c, r), constrained=bool(breaks))


def _constrained(excess: np.ndarray, cov: np.ndarray, k: float, lev_cap: float | None, w_cap: float | None,
                 long_only: bool, start: np.ndarray) -> np.ndarray:
    n = excess.shape[0]
    hi = np.inf if w_cap is None else w_cap
    bounds = [(0.0, hi)] * n + [(0.0, 0.0 if long_only else hi)] * n

    def split(x: np.ndarray) -> np.ndarray:
        return x[:n] - x[n:]

    def neg(x: np.ndarray) -> float:
        w = split(x)
        return float(-(w @ excess) + 0.5 / k * (w @ cov @ w))

    def grad(x: np.ndarray) -> np.ndarray:
        gw = -excess + (cov @ split(x)) / k
        return np.concatenate([gw, -gw])

    constraints = []
    if lev_cap is not None:
        constraints.append({"type": "ineq", "fun": lambda x: lev_cap - x.sum(), "jac": lambda x: -np.ones(2 * n)})
    lo = np.zeros(n) if long_only else np.full(n, -hi)
    s = np.clip(start, lo, hi)
    if lev_cap is not None and np.abs(s).sum() > lev_cap:
        s = s * (lev_cap / np.abs(s).sum())
    x0 = np.concatenate([np.maximum(s, 0.0), np.maximum(-s, 0.0)])
    res = optimize.minimize(neg, x0, jac=grad, method="SLSQP", bounds=bounds, constraints=constraints,
                            options={"ftol": 1e-15, "maxiter": 1000})
    if not res.success:
        raise NtUserError(f"the constrained Kelly problem did not solve ({res.message}); loosen max_leverage "
                          "or max_weight")
    out: np.ndarray = split(res.x)
    return out


# -- volatility targeting ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VolTarget:
    """``weight = min(target_vol / realized_vol, max_leverage)``; vols annualised by
    ``sqrt(periods_per_year)``; ``capped`` says whether the cap bound."""

    weight: float
    realized_vol: float
    target_vol: float
    capped: bool


def volatility_target(returns: Sequence[float] | np.ndarray, target_vol: float, *, periods_per_year: float = 252.0,
                      window: int | None = None, max_leverage: float = 1.0) -> VolTarget:
    """Scale exposure so that the position's realised volatility hits ``target_vol`` (annualised).

    The realised volatility is the sample standard deviation (``ddof=1``) of the last ``window``
    returns (all when None) times ``sqrt(periods_per_year)``.
    """
    r = _vector("returns", returns)
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
            raise NtUserError(f"window must be an integer >= 2, got {window!r}")
        if r.shape[0] < window:
            raise NtUserError(f"returns needs at least window={window} observations, got {r.shape[0]}")
        r = r[-int(window):]
    if r.shape[0] < 2:
        raise NtUserError(f"returns needs at least 2 observations, got {r.shape[0]}")
    target = _positive("target_vol", target_vol, " (annualised, e.g. 0.10 for 10 %)")
    ppy = _positive("periods_per_year", periods_per_year, " (252 for daily bars)")
    cap = _positive("max_leverage", max_leverage)
    realized = float(np.std(r, ddof=1)) * math.sqrt(ppy)
    if not realized > 0:
        raise NtUserError("returns have zero volatility: volatility targeting needs returns that vary")
    raw = target / realized
    return VolTarget(weight=min(raw, cap), realized_vol=realized, target_vol=target, capped=raw > cap)


# -- ATR stops ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AtrSize:
    """ATR position size: ``shares = risk_per_trade * equity / (atr_multiple * atr)``.

    ``atr`` is the last Wilder ATR; ``stop_distance = atr_multiple * atr`` (price units below the
    entry for a long); ``risk_amount = risk_per_trade * equity`` is what the stop loses;
    ``whole_shares`` rounds down.
    """

    shares: float
    whole_shares: int
    atr: float
    stop_distance: float
    risk_amount: float


def atr_position_size(high: Sequence[float] | np.ndarray, low: Sequence[float] | np.ndarray,
                      close: Sequence[float] | np.ndarray, *, equity: float, risk_per_trade: float = 0.01,
                      atr_multiple: float = 2.0, window: int = 14) -> AtrSize:
    """Size a position so that a stop ``atr_multiple`` ATRs away loses ``risk_per_trade`` of ``equity``.

    ATR is :func:`neural_trader.native.indicators.atr` (Wilder's smoothing over ``window`` bars;
    it needs at least ``window + 1`` bars).
    """
    h, lo, c = _vector("high", high), _vector("low", low), _vector("close", close)
    eq = _positive("equity", equity)
    rpt = _number("risk_per_trade", risk_per_trade, rule="must be a fraction of equity in (0, 1)")
    if not 0.0 < rpt < 1.0:
        raise NtUserError(f"risk_per_trade must be a fraction of equity in (0, 1) (0.01 = 1 %), got {risk_per_trade!r}")
    mult = _positive("atr_multiple", atr_multiple)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise NtUserError(f"window must be an integer >= 1, got {window!r}")
    if h.shape[0] < window + 1:
        raise NtUserError(f"high/low/close need at least window + 1 = {window + 1} bars for an ATR, got {h.shape[0]}")
    atr = float(indicators.atr(h, lo, c, int(window))[-1])
    if not (math.isfinite(atr) and atr > 0):
        raise NtUserError(f"the ATR of the last bar is {atr}; the bars must have a range (high > low somewhere "
                          f"in the last {window} bars) and be finite")
    stop = mult * atr
    risk_amount = rpt * eq
    shares = risk_amount / stop
    return AtrSize(shares=shares, whole_shares=math.floor(shares), atr=atr, stop_distance=stop,
                   risk_amount=risk_amount)
