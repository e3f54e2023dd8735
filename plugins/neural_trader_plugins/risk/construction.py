"""Portfolio construction: minimum variance, maximum Sharpe, risk parity, Black-Litterman and
hierarchical risk parity, from expected returns ``mu`` and a covariance ``cov`` (or a returns matrix).

Conventions, for every function here:

* ``cov`` is the covariance of simple per-period asset returns; ``mu`` the expected returns over
  the same period, in the same units (per day with daily returns, per year with annual figures).
  Every result (expected return, volatility, Sharpe) is in those units: nothing is annualised.
* ``returns`` is a ``(periods, assets)`` matrix of simple returns; ``cov`` is then its sample
  covariance (:func:`neural_trader.native.risk.covariance`, divisor ``t - 1``) and ``mu`` its
  column means. It needs at least ``assets + 1`` rows.
* Weights are fractions of the portfolio and sum to 1 (fully invested), except the He-Litterman
  unconstrained Black-Litterman weights, whose shortfall from 1 sits in the risk-free asset.
* ``bounds``: ``None`` is unconstrained (any sign, shorting allowed); a pair ``(lower, upper)``
  applies to every asset; a list of pairs gives one per asset; ``None`` inside a pair is no limit
  on that side. The default :data:`LONG_ONLY` is ``(0, 1)``.
* Risk contributions are fractions of variance, ``w_i (cov w)_i / (w' cov w)``; they sum to 1.

Every check failure raises :class:`~neural_trader.errors.NtUserError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
from scipy import optimize as _opt
from scipy.cluster import hierarchy as _hier
from scipy.spatial import distance as _dist

from neural_trader.errors import NtUserError
from neural_trader.native import risk
from neural_trader.native.risk_numpy import matrix_arg
from neural_trader_plugins.risk import inputs

__all__ = [
    "LONG_ONLY", "METHODS", "BlackLitterman", "Portfolio", "Views", "black_litterman", "hrp", "max_sharpe",
    "min_variance", "optimize", "risk_contributions", "risk_parity",
]

Bounds = tuple[float | None, float | None] | Sequence[tuple[float | None, float | None]] | None
Method = Literal["min_variance", "max_sharpe", "risk_parity", "black_litterman", "hrp"]

#: Long-only, fully invested: every weight in [0, 1].
LONG_ONLY: tuple[float, float] = (0.0, 1.0)
METHODS: tuple[str, ...] = ("min_variance", "max_sharpe", "risk_parity", "black_litterman", "hrp")

#: Risk contributions of a risk-parity solution must match the budgets to this relative error.
RC_RTOL = 1e-6


# -- results -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class BlackLitterman:
    """The Black-Litterman posterior (He & Litterman 1999 notation).

    ``equilibrium`` is ``Pi = delta cov w_mkt``; ``posterior_mean`` is
    ``Pi + tau cov P' (P tau cov P' + Omega)^-1 (Q - P Pi)``; ``posterior_cov`` is ``cov + M`` with
    ``M = tau cov - tau cov P' (P tau cov P' + Omega)^-1 P tau cov`` (the uncertainty of the mean
    added to that of the returns); ``weights`` is the unconstrained optimum of a mean-variance
    investor with risk aversion ``delta``: ``(delta posterior_cov)^-1 posterior_mean``, which sums
    to ``1 / (1 + tau)`` plus the view tilts rather than to 1 (the rest is the risk-free asset).
    ``omega`` is the view uncertainty used (the He-Litterman default ``diag(tau P cov P')``).
    """

    equilibrium: np.ndarray
    posterior_mean: np.ndarray
    posterior_cov: np.ndarray
    weights: np.ndarray
    omega: np.ndarray
    tau: float
    delta: float


@attrs.frozen(kw_only=True, eq=False)
class Portfolio:
    """An optimised portfolio.

    :ivar method: which optimiser (one of :data:`METHODS`).
    :ivar weights: fraction of the portfolio in each asset, in the order of ``cov``'s columns.
    :ivar expected_return: ``w . mu`` per period (``None`` when no ``mu`` was given or derivable).
    :ivar volatility: ``sqrt(w' cov w)`` per period.
    :ivar sharpe: ``(expected_return - risk_free) / volatility`` per period (``None`` without ``mu``).
    :ivar risk_contributions: fractions of variance per asset, summing to 1.
    :ivar status: how the weights were found: ``"closed form"`` or the solver and its message.
    :ivar black_litterman: the posterior, for ``method="black_litterman"``.
    """

    method: str
    weights: np.ndarray
    expected_return: float | None
    volatility: float
    sharpe: float | None
    risk_contributions: np.ndarray
    status: str
    black_litterman: BlackLitterman | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (lists, floats, None)."""
        out: dict[str, Any] = {
            "method": self.method,
            "weights": self.weights.tolist(),
            "expected_return": self.expected_return,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
            "risk_contributions": self.risk_contributions.tolist(),
            "status": self.status,
        }
        if self.black_litterman is not None:
            bl = self.black_litterman
            out["black_litterman"] = {
                "equilibrium": bl.equilibrium.tolist(), "posterior_mean": bl.posterior_mean.tolist(),
                "posterior_cov": bl.posterior_cov.tolist(), "weights": bl.weights.tolist(),
                "omega": bl.omega.tolist(), "tau": bl.tau, "delta": bl.delta,
            }
        return out


@attrs.frozen(kw_only=True, eq=False)
class Views:
    """Investor views for Black-Litterman: ``P mu = Q + e``, ``e ~ N(0, Omega)``.

    :ivar P: ``(k, n)`` pick matrix, one row per view (a relative view sums to 0, an absolute one
        has a single 1).
    :ivar Q: the ``k`` view returns, in the units of ``cov``.
    :ivar omega: ``(k, k)`` view covariance, or ``None`` for He-Litterman's ``diag(tau P cov P')``.
    """

    P: np.ndarray
    Q: np.ndarray
    omega: np.ndarray | None = None

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any]) -> Views:
        """From ``{"P": [[...], ...], "Q": [...], "omega": [[...]] or absent}``."""
        extra = set(value) - {"P", "Q", "omega"}
        if extra:
            raise NtUserError(f"views has unknown keys {sorted(extra)}; it takes P, Q and optionally omega")
        if "P" not in value or "Q" not in value:
            raise NtUserError("views needs P (one row of asset weights per view) and Q (one return per view)")
        p = _matrix("views.P", value["P"])
        q = _vector("views.Q", value["Q"])
        om = value.get("omega")
        return cls(P=p, Q=q, omega=None if om is None else _matrix("views.omega", om))


# -- argument handling -------------------------------------------------------------------------


def _vector(name: str, value: object) -> np.ndarray:
    return inputs.vector(name, value, minimum=0)


def _matrix(name: str, value: object) -> np.ndarray:
    return inputs.matrix(name, value, minimum_rows=0)


def _check_cov(value: object) -> tuple[np.ndarray, int]:
    """A valid covariance matrix and its rank (Cholesky of the native kernel: PSD, symmetric, finite)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.ndim == 2:
        c = np.ascontiguousarray(value)
    else:
        c = inputs.array("cov", value, 2)
    matrix_arg("cov", c, square=True)
    if c.shape[0] < 1:
        raise NtUserError("cov must hold at least one asset")
    chol = risk.cholesky(c)
    return c, chol.rank


def _from_returns(value: object) -> tuple[np.ndarray, np.ndarray]:
    """(cov, mean) of a ``(periods, assets)`` returns matrix."""
    r = inputs.array("returns", value, 2)
    t, n = r.shape
    if n < 1:
        raise NtUserError("returns must have at least one column (one per asset)")
    if t < n + 1:
        raise NtUserError(f"returns needs at least assets + 1 = {n + 1} observations (rows) for a covariance "
                          f"of {n} assets, got {t}; pass a longer history or fewer assets")
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        i, j = divmod(int(bad[0]), n)
        raise NtUserError(f"returns must be finite, but returns[{i}, {j}] is not; drop or fill missing periods")
    return risk.covariance(r), r.mean(axis=0)


def _inputs(mu: object, cov: object, returns: object) -> tuple[np.ndarray | None, np.ndarray, int]:
    """(mu or None, cov, rank of cov) from what the caller passed."""
    m: np.ndarray | None
    if returns is not None:
        if cov is not None:
            raise NtUserError("pass cov or returns, not both (cov is computed from returns)")
        c, mean = _from_returns(returns)
        c, rank = _check_cov(c)
        m = mean if mu is None else _vector("mu", mu)
    elif cov is not None:
        c, rank = _check_cov(cov)
        m = None if mu is None else _vector("mu", mu)
    else:
        raise NtUserError("pass cov (the asset covariance matrix) or returns (a periods x assets matrix)")
    n = c.shape[0]
    if m is not None and m.shape[0] != n:
        raise NtUserError(f"mu has {m.shape[0]} values but cov has {n} assets; pass one expected return per asset")
    return m, c, rank


def _bounds(bounds: Bounds, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(lower, upper) arrays with -inf/inf for no limit, checked to allow a fully invested portfolio."""
    if bounds is None:
        return None
    try:
        items: list[Any] = list(bounds)
    except TypeError:
        raise NtUserError("bounds must be a (lower, upper) pair or a list of pairs, one per asset") from None
    if len(items) == 2 and all(x is None or isinstance(x, int | float | np.integer | np.floating) for x in items):
        pairs = [tuple(items)] * n
    else:
        pairs = items
    if len(pairs) != n:
        raise NtUserError(f"bounds has {len(pairs)} pairs but there are {n} assets; pass one (lower, upper) "
                          "pair per asset, or a single pair for all")
    lo, hi = np.empty(n), np.empty(n)
    for i, pair in enumerate(pairs):
        try:
            a, b = pair
            lo[i] = -math.inf if a is None else float(a)
            hi[i] = math.inf if b is None else float(b)
        except (TypeError, ValueError):
            raise NtUserError(f"bounds[{i}] must be a (lower, upper) pair of numbers or None, got {pair!r}") from None
        if math.isnan(lo[i]) or math.isnan(hi[i]):
            raise NtUserError(f"bounds[{i}] must not be NaN (use None for no limit)")
        if lo[i] > hi[i]:
            raise NtUserError(f"bounds[{i}] has lower {lo[i]} > upper {hi[i]}; each lower bound must be <= its upper")
    if lo.sum() > 1.0 + 1e-12:
        raise NtUserError(f"bounds are infeasible: the lower bounds sum to {lo.sum():.6g} > 1, so no fully "
                          "invested portfolio satisfies them; lower them")
    if hi.sum() < 1.0 - 1e-12:
        raise NtUserError(f"bounds are infeasible: the upper bounds sum to {hi.sum():.6g} < 1, so no fully "
                          "invested portfolio satisfies them; raise them")
    return lo, hi


def _scipy_bounds(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float | None, float | None]]:
    return [(None if math.isinf(a) else float(a), None if math.isinf(b) else float(b)) for a, b in zip(lo, hi, strict=True)]


def _nonsingular(rank: int, n: int, what: str) -> None:
    if rank < n:
        raise NtUserError(f"cov is singular (rank {rank} < {n} assets), so {what} is not unique; drop redundant "
                          "assets or pass bounds")


# -- results helpers ---------------------------------------------------------------------------


def risk_contributions(weights: object, cov: object) -> np.ndarray:
    """Fractions of portfolio variance per asset, ``w_i (cov w)_i / (w' cov w)`` (sum to 1)."""
    w = _vector("weights", weights)
    c, _ = _check_cov(cov)
    if w.shape[0] != c.shape[0]:
        raise NtUserError(f"weights has {w.shape[0]} values but cov has {c.shape[0]} assets")
    marginal = c @ w
    total = float(w @ marginal)
    if not total > 0.0:
        raise NtUserError("the portfolio has zero variance, so risk contributions are undefined")
    return w * marginal / total


def _portfolio(method: str, w: np.ndarray, mu: np.ndarray | None, cov: np.ndarray, risk_free: float,
               status: str, bl: BlackLitterman | None = None) -> Portfolio:
    var = float(w @ cov @ w)
    vol = math.sqrt(max(var, 0.0))
    ret = None if mu is None else float(w @ mu)
    sharpe = None if ret is None or vol == 0.0 else (ret - risk_free) / vol
    rc = w * (cov @ w) / var if var > 0.0 else np.full(w.shape[0], math.nan)
    return Portfolio(method=method, weights=w, expected_return=ret, volatility=vol, sharpe=sharpe,
                     risk_contributions=rc, status=status, black_litterman=bl)


def _solver_status(res: Any, solver: str) -> str:
    return f"{solver}: {res.message} ({res.nit} iterations)"


def _solver_failed(res: Any, solver: str, what: str) -> NtUserError:
    return NtUserError(f"the {what} optimiser ({solver}) did not converge: {res.message}; check that bounds "
                       "leave a feasible portfolio and that cov is well conditioned")


def _slsqp_qp(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, what: str) -> tuple[np.ndarray, Any]:
    """min w' a w  s.t.  sum(w) = 1, lo <= w <= hi  (SLSQP)."""
    n = a.shape[0]
    x0 = np.clip(np.full(n, 1.0 / n), lo, hi)
    res = _opt.minimize(lambda w: float(w @ a @ w), x0, jac=lambda w: 2.0 * (a @ w), method="SLSQP",
                        bounds=_scipy_bounds(lo, hi),
                        constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones(n)}],
                        options={"ftol": 1e-16, "maxiter": 1000})
    if not res.success:
        raise _solver_failed(res, "SLSQP", what)
    return np.clip(res.x, lo, hi), res


# -- optimisers --------------------------------------------------------------------------------


def min_variance(cov: object, *, bounds: Bounds = LONG_ONLY, mu: object = None, risk_free: float = 0.0) -> Portfolio:
    """The fully invested portfolio of least variance within ``bounds``.

    Unconstrained (``bounds=None``) it is the closed form ``cov^-1 1 / (1' cov^-1 1)``; otherwise
    SLSQP on ``w' cov w`` with ``sum(w) = 1``. ``mu`` only fills in the expected return and Sharpe.
    """
    m, c, rank = _inputs(mu, cov, None)
    return _min_variance(m, c, rank, bounds, risk_free)


def _min_variance(m: np.ndarray | None, c: np.ndarray, rank: int, bounds: Bounds, rf: float) -> Portfolio:
    n = c.shape[0]
    b = _bounds(bounds, n)
    if b is None:
        _nonsingular(rank, n, "the unconstrained minimum-variance portfolio")
        x = np.linalg.solve(c, np.ones(n))
        return _portfolio("min_variance", x / x.sum(), m, c, rf, "closed form")
    scale = float(np.mean(np.diagonal(c))) or 1.0
    w, res = _slsqp_qp(c / scale, b[0], b[1], "minimum-variance")
    return _portfolio("min_variance", w, m, c, rf, _solver_status(res, "SLSQP"))


def max_sharpe(mu: object, cov: object, *, risk_free: float = 0.0, bounds: Bounds = LONG_ONLY) -> Portfolio:
    """The fully invested portfolio of highest ``(w.mu - risk_free) / sqrt(w' cov w)`` within ``bounds``.

    Unconstrained (``bounds=None``) it is the analytic tangency portfolio
    ``cov^-1 (mu - rf) / (1' cov^-1 (mu - rf))``. Bounded, it solves the equivalent convex problem
    (Cornuejols & Tütüncü): ``min y' cov y`` subject to ``(mu - rf).y = 1``, ``sum(y) = k``,
    ``lower k <= y <= upper k``, ``k >= 0``, then ``w = y / k`` (SLSQP).
    """
    m, c, rank = _inputs(mu, cov, None)
    if m is None:
        raise NtUserError("mu is required for max_sharpe: pass one expected return per asset")
    return _max_sharpe(m, c, rank, bounds, _rate(risk_free))


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"risk_free must be a number (a per-period rate), got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise NtUserError(f"risk_free must be finite, got {v}")
    return v


def _max_sharpe(m: np.ndarray, c: np.ndarray, rank: int, bounds: Bounds, rf: float,
                method: str = "max_sharpe", bl: BlackLitterman | None = None) -> Portfolio:
    n = c.shape[0]
    excess = m - rf
    b = _bounds(bounds, n)
    if b is None:
        _nonsingular(rank, n, "the tangency portfolio")
        x = np.linalg.solve(c, excess)
        if not x.sum() > 0.0:
            raise NtUserError("mu - risk_free has no tangency portfolio (1' cov^-1 (mu - risk_free) <= 0: the "
                              "minimum-variance portfolio earns no more than risk_free); lower risk_free or pass bounds")
        return _portfolio(method, x / x.sum(), m, c, rf, "closed form", bl)
    lo, hi = b
    top = float(np.max(np.abs(excess)))
    lp = _opt.linprog(-excess, A_eq=np.ones((1, n)), b_eq=[1.0], bounds=_scipy_bounds(lo, hi), method="highs")
    if top == 0.0 or (lp.status == 0 and -lp.fun <= 1e-12 * top):
        raise NtUserError("mu: no portfolio within bounds earns more than risk_free, so the maximum Sharpe ratio is "
                          "undefined; lower risk_free or widen bounds")
    e = excess / top
    a = c / (float(np.mean(np.diagonal(c))) or 1.0)
    cons: list[dict[str, Any]] = [
        {"type": "eq", "fun": lambda z: z[:n] @ e - 1.0, "jac": lambda z: np.append(e, 0.0)},
        {"type": "eq", "fun": lambda z: np.sum(z[:n]) - z[n], "jac": lambda z: np.append(np.ones(n), -1.0)},
    ]
    eye = np.eye(n)
    fl, fh = np.isfinite(lo), np.isfinite(hi)
    if fl.any():
        jl = np.hstack([eye[fl], -lo[fl, None]])
        cons.append({"type": "ineq", "fun": lambda z: z[:n][fl] - lo[fl] * z[n], "jac": lambda z: jl})
    if fh.any():
        jh = np.hstack([-eye[fh], hi[fh, None]])
        cons.append({"type": "ineq", "fun": lambda z: hi[fh] * z[n] - z[:n][fh], "jac": lambda z: jh})
    # A feasible start: the best linear-programme portfolio, scaled so its excess return is 1.
    w0 = lp.x if lp.status == 0 else np.clip(np.full(n, 1.0 / n), lo, hi)
    k0 = 1.0 / max(float(w0 @ e), 1e-6)
    z0 = np.append(w0 * k0, k0)
    res = _opt.minimize(lambda z: float(z[:n] @ a @ z[:n]), z0,
                        jac=lambda z: np.append(2.0 * (a @ z[:n]), 0.0), method="SLSQP",
                        bounds=[(None, None)] * n + [(0.0, None)], constraints=cons,
                        options={"ftol": 1e-16, "maxiter": 1000})
    if not res.success or not res.x[n] > 0.0:
        raise _solver_failed(res, "SLSQP", "maximum-Sharpe")
    w = np.clip(res.x[:n] / res.x[n], lo, hi)
    return _portfolio(method, w, m, c, rf, _solver_status(res, "SLSQP"), bl)


def risk_parity(cov: object, *, budgets: object = None, mu: object = None, risk_free: float = 0.0) -> Portfolio:
    """Long-only equal-risk-contribution portfolio (or one whose risk contributions equal ``budgets``).

    Solves Spinu's (2013) convex problem ``min 0.5 y' cov y - sum_i b_i log y_i`` over ``y > 0``
    (L-BFGS-B with its exact gradient) and returns ``w = y / sum(y)``; at the optimum
    ``y_i (cov y)_i = b_i``, so the risk contributions are the budgets. They are checked to
    :data:`RC_RTOL` relative. Two assets: ``w_i`` is proportional to ``1 / sigma_i`` for any correlation.
    """
    m, c, _ = _inputs(mu, cov, None)
    return _risk_parity(m, c, budgets, risk_free)


def _risk_parity(m: np.ndarray | None, c: np.ndarray, budgets: object, rf: float) -> Portfolio:
    n = c.shape[0]
    if budgets is None:
        b = np.full(n, 1.0 / n)
    else:
        b = _vector("budgets", budgets)
        if b.shape[0] != n:
            raise NtUserError(f"budgets has {b.shape[0]} values but cov has {n} assets; pass one per asset")
        if not (b > 0.0).all():
            raise NtUserError("budgets must all be > 0 (a zero budget means leaving the asset out)")
        if abs(b.sum() - 1.0) > 1e-9:
            raise NtUserError(f"budgets must sum to 1 (got {b.sum():.12g}); normalise them")
    d = np.diagonal(c)
    if not (d > 0.0).all():
        raise NtUserError(f"cov has zero variance for asset {int(np.flatnonzero(d <= 0.0)[0])}; risk parity needs "
                          "every asset to carry risk")
    # Scale so the optimum is O(1): cov / mean variance, y0 the inverse-volatility guess.
    a = c / float(np.mean(d))
    y0 = b / np.sqrt(np.diagonal(a))
    y0 = y0 / math.sqrt(float(y0 @ a @ y0))

    def f(y: np.ndarray) -> tuple[float, np.ndarray]:
        ay = a @ y
        return 0.5 * float(y @ ay) - float(b @ np.log(y)), ay - b / y

    res = _opt.minimize(f, y0, jac=True, method="L-BFGS-B", bounds=[(1e-12, None)] * n,
                        options={"ftol": 0.0, "gtol": 1e-14, "maxiter": 20000, "maxcor": 30})
    y = res.x
    rc = y * (a @ y)
    w = y / y.sum()
    err = float(np.max(np.abs(rc / rc.sum() - b) / b))
    if not err <= RC_RTOL:
        raise NtUserError(f"the risk-parity optimiser (L-BFGS-B) did not reach equal risk contributions "
                          f"(relative error {err:.2g}): {res.message}; check that cov is well conditioned")
    return _portfolio("risk_parity", w, m, c, rf, f"L-BFGS-B (Spinu): {res.message} ({res.nit} iterations, "
                      f"risk-contribution error {err:.1e})")


def black_litterman(cov: object, market_weights: object, views: Views | Mapping[str, Any], *,
                    tau: float = 0.05, delta: float = 2.5) -> BlackLitterman:
    """Black-Litterman posterior from market weights and views (He & Litterman 1999).

    :param cov: asset covariance (annual in the paper's example).
    :param market_weights: market-capitalisation weights ``w_mkt`` (the equilibrium portfolio).
    :param views: :class:`Views` or ``{"P": ..., "Q": ..., "omega": ...}``.
    :param tau: scale of the uncertainty of the equilibrium mean (0.05 in the paper).
    :param delta: risk aversion, ``Pi = delta cov w_mkt`` (2.5 in the paper).
    """
    c, _ = _check_cov(cov)
    return _black_litterman(c, market_weights, views, tau, delta)


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"{name} must be a number > 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise NtUserError(f"{name} must be a finite number > 0, got {v}")
    return v


def _black_litterman(c: np.ndarray, market_weights: object, views: object, tau: object,
                     delta: object) -> BlackLitterman:
    n = c.shape[0]
    t, dl = _positive("tau", tau), _positive("delta", delta)
    if market_weights is None:
        raise NtUserError("market_weights is required for black_litterman: pass the market-capitalisation weights")
    wm = _vector("market_weights", market_weights)
    if wm.shape[0] != n:
        raise NtUserError(f"market_weights has {wm.shape[0]} values but cov has {n} assets")
    if views is None:
        raise NtUserError("views is required for black_litterman: pass {'P': [[...]], 'Q': [...]}")
    if isinstance(views, Views):
        v = views
    elif isinstance(views, Mapping):
        v = Views.from_mapping(views)
    else:
        raise NtUserError(f"views must be a Views or a mapping with P, Q (and omega), got {type(views).__name__}")
    p, q = _matrix("views.P", v.P), _vector("views.Q", v.Q)
    k = p.shape[0]
    if k < 1 or p.shape[1] != n:
        raise NtUserError(f"views.P must be k x {n} (one row of asset weights per view), got shape {p.shape}")
    if q.shape[0] != k:
        raise NtUserError(f"views.Q has {q.shape[0]} values but views.P has {k} rows; pass one return per view")
    tc = t * c
    ptp = p @ tc @ p.T
    if v.omega is None:
        omega = np.diag(np.diagonal(ptp))
    else:
        omega = _matrix("views.omega", v.omega)
        if omega.shape != (k, k):
            raise NtUserError(f"views.omega must be {k} x {k} (one row per view), got shape {omega.shape}")
    pi = dl * (c @ wm)
    mid = ptp + omega
    try:
        gain = np.linalg.solve(mid, p @ tc).T  # tau cov P' (P tau cov P' + Omega)^-1
    except np.linalg.LinAlgError:
        raise NtUserError("views are degenerate: P tau cov P' + omega is singular (repeated or empty views "
                          "with zero omega); remove duplicate views or give them uncertainty") from None
    post_mean = pi + gain @ (q - p @ pi)
    post_cov = c + tc - gain @ (p @ tc)
    post_cov = 0.5 * (post_cov + post_cov.T)
    weights = np.linalg.solve(dl * post_cov, post_mean)
    return BlackLitterman(equilibrium=pi, posterior_mean=post_mean, posterior_cov=post_cov, weights=weights,
                          omega=omega, tau=t, delta=dl)


def hrp(cov: object = None, *, returns: object = None, mu: object = None, risk_free: float = 0.0) -> Portfolio:
    """Hierarchical risk parity (López de Prado 2016), long-only and fully invested.

    Correlation distance ``sqrt((1 - rho) / 2)``, single-linkage clustering of the condensed
    distances (scipy), the dendrogram's leaf order (quasi-diagonalisation), then recursive
    bisection: each half of a cluster gets ``1 - V_a / (V_a + V_b)`` of its parent's weight,
    ``V`` being the variance of the half's inverse-variance portfolio.
    """
    m, c, _ = _inputs(mu, cov, returns)
    return _hrp(m, c, risk_free)


def _hrp(m: np.ndarray | None, c: np.ndarray, rf: float) -> Portfolio:
    n = c.shape[0]
    d = np.diagonal(c)
    if not (d > 0.0).all():
        raise NtUserError(f"cov has zero variance for asset {int(np.flatnonzero(d <= 0.0)[0])}; HRP needs every "
                          "asset to carry risk")
    if n == 1:
        return _portfolio("hrp", np.ones(1), m, c, rf, "single asset")
    corr = risk.cov_to_corr(c)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    link = _hier.linkage(_dist.squareform(dist, checks=False), method="single")
    order = _hier.leaves_list(link).tolist()
    w = np.ones(n)
    clusters = [order]
    while clusters:
        clusters = [half for cl in clusters if len(cl) > 1 for half in (cl[: len(cl) // 2], cl[len(cl) // 2 :])]
        for left, right in zip(clusters[::2], clusters[1::2], strict=True):
            va, vb = _cluster_var(c, left), _cluster_var(c, right)
            alpha = 1.0 - va / (va + vb)
            w[left] *= alpha
            w[right] *= 1.0 - alpha
    return _portfolio("hrp", w, m, c, rf, "closed form (recursive bisection)")


def _cluster_var(c: np.ndarray, items: list[int]) -> float:
    sub = c[np.ix_(items, items)]
    ivp = 1.0 / np.diagonal(sub)
    ivp = ivp / ivp.sum()
    return float(ivp @ sub @ ivp)


def optimize(method: str, mu: object = None, cov: object = None, returns: object = None, *,
             bounds: Bounds = LONG_ONLY, risk_free: float = 0.0, budgets: object = None,
             market_weights: object = None, views: Views | Mapping[str, Any] | None = None,
             tau: float = 0.05, delta: float = 2.5) -> Portfolio:
    """One entry point for every optimiser.

    :param method: ``min_variance``, ``max_sharpe``, ``risk_parity``, ``black_litterman`` or ``hrp``.
    :param mu: expected return per asset per period; defaults to the column means of ``returns``.
    :param cov: asset covariance; or pass ``returns`` (``(periods, assets)``) instead.
    :param bounds: see the module docstring; default long-only. ``risk_parity`` and ``hrp`` are
        long-only by construction and take no other bounds. For ``black_litterman``, ``None`` gives
        He-Litterman's unconstrained weights ``(delta posterior_cov)^-1 posterior_mean``; any other
        bounds give the maximum-Sharpe portfolio of the posterior within them.
    :param risk_free: per-period risk-free rate (Sharpe ratios and the tangency portfolio).
    :param budgets: risk budgets for ``risk_parity`` (positive, summing to 1; default equal).
    :param market_weights, views, tau, delta: Black-Litterman inputs (:func:`black_litterman`).

    For ``black_litterman`` the result's expected return, volatility and risk contributions use
    the posterior mean and covariance.
    """
    if method not in METHODS:
        raise NtUserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rf = _rate(risk_free)
    m, c, rank = _inputs(mu, cov, returns)
    if method in ("risk_parity", "hrp") and not _is_long_only(bounds, c.shape[0]):
        raise NtUserError(f"bounds are not supported by {method}: its weights are long-only by construction; "
                          "leave bounds at its default")
    if method != "black_litterman" and (views is not None or market_weights is not None):
        raise NtUserError(f"views and market_weights are Black-Litterman inputs; {method} takes neither")
    if method == "min_variance":
        return _min_variance(m, c, rank, bounds, rf)
    if method == "max_sharpe":
        if m is None:
            raise NtUserError("mu is required for max_sharpe: pass one expected return per asset (or returns)")
        return _max_sharpe(m, c, rank, bounds, rf)
    if method == "risk_parity":
        return _risk_parity(m, c, budgets, rf)
    if method == "hrp":
        return _hrp(m, c, rf)
    bl = _black_litterman(c, market_weights, views, tau, delta)
    pc = bl.posterior_cov
    if bounds is None:
        return _portfolio("black_litterman", bl.weights, bl.posterior_mean, pc, rf, "closed form (He-Litterman)", bl)
    _, prank = _check_cov(pc)
    return _max_sharpe(bl.posterior_mean, pc, prank, bounds, rf, "black_litterman", bl)


def _is_long_only(bounds: Bounds, n: int) -> bool:
    if bounds is LONG_ONLY:
        return True
    b = _bounds(bounds, n)
    return b is not None and bool((b[0] == 0.0).all() and (b[1] >= 1.0).all())
