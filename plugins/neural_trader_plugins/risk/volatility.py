"""Volatility models: RiskMetrics EWMA and GARCH(1,1) by maximum likelihood.

Conventions: ``returns`` are simple per-period returns (decimals, ``0.01`` is 1 %), one series;
volatilities are standard deviations per period unless ``periods_per_year`` annualises them
(``vol * sqrt(periods_per_year)``, the square-root-of-time rule).

EWMA (J.P. Morgan/Reuters, *RiskMetrics Technical Document*, 1996, section 5.2): zero mean, weight
``lam**k`` on the squared return ``k`` periods back, normalised to sum to 1 -- the same estimate as
:func:`neural_trader.native.risk.ewma_covariance` with ``demean=False``, at every date.

GARCH(1,1) with normal errors (Bollerslev 1986), fitted here rather than through ``arch``: ``arch``
is the well-kept library but pulls pandas and statsmodels in as hard dependencies, while the model
is a short likelihood and one scipy optimisation. The fit follows ``arch``'s conventions so that
its answers are the test oracle (``tests/data/garch_reference.json``, from
``bench/reference/garch_reference.py``):

* returns are multiplied by :data:`GARCH_SCALE` (percent) before fitting, for conditioning; the
  parameters are reported back in decimal units, the log-likelihood is that of the percent data;
* ``y_t = mu + e_t`` (``mean="constant"``) or ``y_t = e_t`` (``mean="zero"``), ``e_t = s_t z_t``,
  ``z_t ~ N(0, 1)``, ``s2_t = omega + alpha e2_{t-1} + beta s2_{t-1}``;
* the recursion starts from the backcast ``b``, the 0.94-weighted mean of the first
  ``min(75, n)`` squared demeaned returns: ``s2_0 = omega + (alpha + beta) b``;
* SLSQP on ``(mu, omega, alpha, beta)`` with ``omega > 0``, ``alpha, beta >= 0`` and
  ``alpha + beta < 1``, started by variance targeting (``alpha=0.1, beta=0.85``,
  ``omega = var (1 - alpha - beta)``).

Near-integrated series (NVDA 1999-2014) end on the stationarity boundary: ``alpha + beta`` is
``1 - 1e-8`` (``arch`` lands a hair above 1), so the long-run variance is huge and meaningless and
the forecast grows almost linearly; check :attr:`GarchFit.persistence` before using
:attr:`GarchFit.long_run_variance`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import attrs
import numpy as np
from scipy import optimize, signal

from neural_trader.errors import NtUserError
from neural_trader.native.risk_numpy import check_lam
from neural_trader_plugins.risk import inputs

__all__ = [
    "GARCH_SCALE", "MIN_GARCH_OBS", "RISKMETRICS_LAMBDA", "EwmaVolatility", "GarchFit", "ewma_volatility",
    "fit_garch", "garch_forecast",
]

#: RiskMetrics' decay factor for daily data.
RISKMETRICS_LAMBDA = 0.94
#: Returns are multiplied by this before the GARCH fit (percent returns condition the optimiser).
GARCH_SCALE = 100.0
#: Fewer returns than this give no meaningful GARCH estimate.
MIN_GARCH_OBS = 100
_BACKCAST_SPAN = 75


def _returns(returns: object, *, minimum: int = 1) -> np.ndarray:
    return inputs.returns_series(returns, minimum=minimum)


def _annualiser(periods_per_year: float | None) -> float:
    if periods_per_year is None:
        return 1.0
    p = float(periods_per_year)
    if not (math.isfinite(p) and p > 0):
        raise NtUserError(f"periods_per_year must be a number > 0 (252 for daily bars), got {periods_per_year!r}")
    return math.sqrt(p)


# -- EWMA --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class EwmaVolatility:
    """EWMA volatility after each return.

    ``series[t]`` uses returns ``0..t`` (so it is the forecast for period ``t + 1``):
    ``series[t]**2 = sum_k lam**k r[t-k]**2 / sum_k lam**k``; ``last`` is ``series[-1]``.
    Annualised by ``sqrt(periods_per_year)`` when that was given.
    """

    lam: float
    series: np.ndarray
    last: float
    periods_per_year: float | None


def ewma_volatility(returns: Sequence[float] | np.ndarray, lam: float = RISKMETRICS_LAMBDA, *,
                    periods_per_year: float | None = None) -> EwmaVolatility:
    """RiskMetrics EWMA volatility of ``returns`` (zero mean; ``lam`` in (0, 1], 0.94 for daily data)."""
    r = _returns(returns)
    lv = check_lam(lam)
    scale = _annualiser(periods_per_year)
    # Numerator and normaliser share one filter: S_t = lam S_{t-1} + x_t.
    num = signal.lfilter([1.0], [1.0, -lv], r * r)
    den = signal.lfilter([1.0], [1.0, -lv], np.ones_like(r))
    series = np.sqrt(num / den) * scale
    return EwmaVolatility(lam=lv, series=series, last=float(series[-1]),
                          periods_per_year=None if periods_per_year is None else float(periods_per_year))


# -- GARCH(1,1) --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class GarchFit:
    """A fitted GARCH(1,1); parameters in decimal-return units (``omega`` in return**2).

    :ivar mu: the constant mean per period (0 when ``mean="zero"``).
    :ivar loglik: the maximised log-likelihood of the percent-scaled returns (``arch``'s figure;
        add ``n_obs * log(GARCH_SCALE)`` for that of the decimal returns).
    :ivar conditional_volatility: ``s_t`` for each return, decimal, per period.
    :ivar next_variance: ``s2_{T+1}``, the one-step-ahead variance after the last return.
    """

    mean: str
    mu: float
    omega: float
    alpha: float
    beta: float
    loglik: float
    n_obs: int
    conditional_volatility: np.ndarray
    next_variance: float
    converged: bool
    message: str

    @property
    def persistence(self) -> float:
        """``alpha + beta``: how slowly a variance shock decays (half-life ``log 0.5 / log(persistence)``)."""
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        """Unconditional variance per period, ``omega / (1 - alpha - beta)``."""
        return self.omega / (1.0 - self.persistence)

    @property
    def long_run_volatility(self) -> float:
        """``sqrt(long_run_variance)``, per period."""
        return math.sqrt(self.long_run_variance)

    def forecast(self, horizon: int) -> np.ndarray:
        """:func:`garch_forecast` of this fit."""
        return garch_forecast(self, horizon)


def _backcast(resids: np.ndarray) -> float:
    tau = min(_BACKCAST_SPAN, resids.shape[0])
    w = 0.94 ** np.arange(tau)
    return float(np.sum(resids[:tau] ** 2 * (w / w.sum())))


def _variances(omega: float, alpha: float, beta: float, e2: np.ndarray, backcast: float) -> np.ndarray:
    """``s2_t = omega + alpha e2_{t-1} + beta s2_{t-1}`` with ``e2_{-1} = s2_{-1} = backcast``."""
    drive = np.empty_like(e2)
    drive[0] = omega + alpha * backcast
    drive[1:] = omega + alpha * e2[:-1]
    out: np.ndarray = signal.lfilter([1.0], [1.0, -beta], drive, zi=[beta * backcast])[0]
    return out


def _neg_loglik(y: np.ndarray, mu: float, omega: float, alpha: float, beta: float, backcast: float) -> float:
    e = y - mu
    e2 = e * e
    s2 = _variances(omega, alpha, beta, e2, backcast)
    if not (s2 > 0).all():
        return 1e20
    return 0.5 * float(np.sum(np.log(2.0 * np.pi) + np.log(s2) + e2 / s2))


def fit_garch(returns: Sequence[float] | np.ndarray, *, mean: str = "constant") -> GarchFit:
    """Fit GARCH(1,1) with normal errors to ``returns`` by maximum likelihood (see the module notes).

    :param mean: ``"constant"`` (estimate ``mu``) or ``"zero"``.
    """
    r = _returns(returns, minimum=MIN_GARCH_OBS)
    if mean not in ("constant", "zero"):
        raise NtUserError(f"mean must be 'constant' or 'zero', got {mean!r}")
    y = r * GARCH_SCALE
    var = float(np.var(y))
    if not var > 0:
        raise NtUserError("returns are constant: a GARCH model needs returns that vary")
    mu0 = float(np.mean(y)) if mean == "constant" else 0.0
    backcast = _backcast(y - mu0)
    a0, b0 = 0.1, 0.85
    x0 = [var * (1.0 - a0 - b0), a0, b0]
    bounds = [(1e-6 * var, 10.0 * var), (0.0, 1.0), (0.0, 1.0)]
    if mean == "constant":
        big = 10.0 * float(np.max(np.abs(y)))
        x0, bounds = [mu0, *x0], [(-big, big), *bounds]
    k = len(x0) - 3  # the variance parameters start here
    n = float(y.shape[0])  # the mean log-likelihood keeps the gradient O(1) for SLSQP

    def stationary(p: np.ndarray) -> float:
        return 1.0 - 1e-8 - p[k + 1] - p[k + 2]

    jac = np.zeros(len(x0))
    jac[k + 1 :] = -1.0

    def objective(p: np.ndarray) -> float:
        return _neg_loglik(y, p[0] if k else 0.0, p[k], p[k + 1], p[k + 2], backcast) / n

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Values in x were outside bounds", RuntimeWarning)
        res = optimize.minimize(objective, x0, method="SLSQP", bounds=bounds,
                                constraints=[{"type": "ineq", "fun": stationary, "jac": lambda p: jac}],
                                options={"ftol": 1e-13, "maxiter": 500})
    mu = float(res.x[0]) if k else 0.0
    omega, alpha, beta = (float(v) for v in res.x[k:])
    e = y - mu
    s2 = _variances(omega, alpha, beta, e * e, backcast)
    s2_next = omega + alpha * float(e[-1]) ** 2 + beta * float(s2[-1])
    sq = GARCH_SCALE * GARCH_SCALE
    return GarchFit(mean=mean, mu=mu / GARCH_SCALE, omega=omega / sq, alpha=alpha, beta=beta,
                    loglik=-float(res.fun) * n, n_obs=int(r.shape[0]), conditional_volatility=np.sqrt(s2) / GARCH_SCALE,
                    next_variance=s2_next / sq, converged=bool(res.success), message=str(res.message))


def garch_forecast(fit: GarchFit, horizon: int) -> np.ndarray:
    """Variance forecasts for periods ``T+1 .. T+horizon`` (decimal, per period), in closed form:
    ``E[s2_{T+h}] = V + (alpha + beta)**(h-1) (s2_{T+1} - V)``, ``V`` the long-run variance.

    The variance of the ``horizon``-period sum of returns is ``forecast.sum()``; its square root
    is the horizon volatility (in place of the square-root-of-time rule).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise NtUserError(f"horizon must be an integer number of periods >= 1, got {horizon!r}")
    h = np.arange(int(horizon), dtype=np.float64)
    v = fit.long_run_variance
    out: np.ndarray = v + fit.persistence**h * (fit.next_variance - v)
    return out
