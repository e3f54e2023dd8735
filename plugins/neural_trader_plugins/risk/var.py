"""Value at risk and conditional value at risk of a portfolio, by every method, with contributions.

Conventions, for every function here:

* ``returns`` is a ``(periods, assets)`` matrix of simple per-period returns (a 1-D series is one
  asset); ``weights`` has one entry per column, as fractions of the portfolio (they must sum to 1
  unless ``require_full=False``; ``normalize=True`` divides them by their sum).
* Losses are positive: ``VaR`` is the loss not exceeded with probability ``confidence`` (in (0, 1),
  e.g. 0.99) over ``horizon`` periods, as a fraction of the portfolio's value; ``CVaR`` (expected
  shortfall) is the mean loss beyond it. CVaR >= VaR.
* Means are sample means, ``cov`` the sample covariance (divisor ``T - 1``, the native
  :func:`~neural_trader.native.risk.covariance`); skewness and excess kurtosis are the plain
  (biased) moment estimates of ``scipy.stats.skew`` / ``scipy.stats.kurtosis``.
* Horizon ``h`` (periods, integer >= 1):

  - historical: the returns over every overlapping window of ``h`` periods, each asset
    compounded (buy and hold, no rebalancing within the window):
    ``R_i(t) = prod_{k<h}(1 + r_i[t+k]) - 1`` and the portfolio's ``w . R(t)``;
  - normal, Student-t, Cornish-Fisher and Monte Carlo: square-root-of-time, ``mean * h`` and
    ``sigma * sqrt(h)`` (``cov * h``); Cornish-Fisher also scales the shape as for a sum of
    ``h`` independent periods (skew ``/ sqrt(h)``, excess kurtosis ``/ h``); the Student-t keeps
    its one-period degrees of freedom (conservative: a sum of t's is closer to normal).

The quantile rule of the historical (and Monte Carlo) VaR is the native kernels' one,
``numpy.quantile(losses, confidence, method="linear")``: sorted losses ``s``, position
``(m - 1) * confidence``, linear interpolation between its two neighbours; CVaR is the mean of the
losses ``>= VaR``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from scipy import special

from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader.native import risk as native_risk
from neural_trader.native._buffers import int_arg, range_error
from neural_trader.native.risk_numpy import check_confidence, check_positive, check_seed, matrix_arg
from neural_trader_plugins.risk import inputs, mc_torch

METHODS: tuple[str, ...] = ("historical", "normal", "student_t", "cornish_fisher", "monte_carlo")
ENGINES: tuple[str, ...] = ("native", "torch-cuda", "torch-cpu")
#: How far from 1 the weights may sum when a full portfolio is required.
WEIGHT_TOLERANCE = 1e-6
#: Degrees of freedom used when the fitted excess kurtosis is (nearly) zero or negative.
MAX_DOF = 1000.0
#: Loss quantiles reported for the simulated portfolio.
MC_QUANTILE_LEVELS: tuple[float, ...] = (0.9, 0.95, 0.99, 0.995, 0.999)
#: With ``use_gpu=None`` the GPU is used from this many scenarios on: below it the native kernel
#: takes a few ms and a first CUDA call (and importing torch) costs far more.
AUTO_GPU_MIN_SCENARIOS = 1_000_000


# -- results -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VarEstimate:
    """VaR and CVaR by one method (positive = loss, fraction of the portfolio, over ``horizon``).

    ``params`` holds what the method used: ``mean``/``sigma`` (over the horizon) for the
    parametric ones, ``dof`` for the Student-t, ``skew``/``excess_kurtosis`` (over the horizon) for
    Cornish-Fisher, ``n_windows`` for historical, ``engine``/``n_scenarios``/``seed`` for Monte Carlo.
    """

    method: str
    var: float
    cvar: float
    confidence: float
    horizon: int
    params: Mapping[str, float | int | str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MonteCarloVar:
    """Monte Carlo VaR/CVaR of the normal portfolio and a summary of the simulated losses.

    ``engine`` says what ran: ``"native"`` (the C kernel or its numpy twin, xoshiro256++ streams,
    exact for a seed), ``"torch-cuda"`` or ``"torch-cpu"`` (:mod:`.mc_torch`); ``note`` says why
    when it is not what was asked for (``use_gpu=True`` without torch or CUDA), else is empty.
    ``mean`` and ``std`` (divisor ``m - 1``) and ``quantiles`` (at ``quantile_levels``, the VaR
    rule) describe the simulated loss over the horizon.
    """

    var: float
    cvar: float
    confidence: float
    horizon: int
    engine: str
    n_scenarios: int
    seed: int
    dtype: str
    mean: float
    std: float
    quantile_levels: tuple[float, ...]
    quantiles: tuple[float, ...]
    note: str = ""

    def estimate(self) -> VarEstimate:
        return VarEstimate(method="monte_carlo", var=self.var, cvar=self.cvar, confidence=self.confidence,
                           horizon=self.horizon,
                           params={"engine": self.engine, "n_scenarios": self.n_scenarios, "seed": self.seed})


@attrs.frozen(kw_only=True)
class AssetRisk:
    """One asset's position held alone (its weight times its returns), over the horizon.

    ``volatility`` is the asset's own per-period standard deviation; ``normal_var``/``normal_cvar``
    are the position's stand-alone normal figures (``-w mu h + z |w| sigma sqrt(h)``), and
    ``historical_var``/``historical_cvar`` the position's historical ones.
    """

    index: int
    weight: float
    mean: float
    volatility: float
    normal_var: float
    normal_cvar: float
    historical_var: float
    historical_cvar: float


@attrs.frozen(kw_only=True)
class Contributions:
    """Euler decomposition of the portfolio's normal VaR ``V(w) = -w.mu h + z sqrt(h) sqrt(w' cov w)``.

    ``marginal[i] = dV/dw_i = -mu_i h + z sqrt(h) (cov w)_i / sigma_p``; ``component[i] = w_i *
    marginal[i]``, which sum to ``total`` (the normal VaR) exactly in exact arithmetic (V is
    homogeneous of degree 1); ``percent[i] = component[i] / total``. NaN where sigma_p is 0.
    """

    marginal: tuple[float, ...]
    component: tuple[float, ...]
    percent: tuple[float, ...]
    total: float


@attrs.frozen(kw_only=True)
class Diversification:
    """How much the portfolio gains from holding the assets together.

    * ``volatility_ratio``: ``sum_i |w_i| sigma_i / sigma_p`` (Choueifaty & Coignard's
      diversification ratio; sqrt(n) for n uncorrelated equal-volatility assets equally weighted);
    * ``var_ratio``: ``sum_i standalone normal VaR_i / portfolio normal VaR``;
    * ``benefit``: ``sum_i standalone VaR_i - portfolio VaR`` (in loss units).
    """

    volatility_ratio: float
    var_ratio: float
    standalone_var_sum: float
    portfolio_var: float
    benefit: float


@attrs.frozen(kw_only=True)
class VarReport:
    """Every method's VaR/CVaR of one portfolio, per-asset figures, contributions, diversification.

    ``methods`` maps a method name (:data:`METHODS`) to its estimate; ``mean``/``volatility``/
    ``skew``/``excess_kurtosis`` are the portfolio's per-period sample moments; ``monte_carlo`` is
    present when the method was asked for.
    """

    confidence: float
    horizon: int
    n_observations: int
    n_assets: int
    weights: tuple[float, ...]
    mean: float
    volatility: float
    skew: float
    excess_kurtosis: float
    methods: Mapping[str, VarEstimate]
    assets: tuple[AssetRisk, ...]
    contributions: Contributions
    diversification: Diversification
    monte_carlo: MonteCarloVar | None


# -- argument checks -------------------------------------------------------------------------------


def returns_matrix(returns: Any, *, min_observations: int | None = None) -> np.ndarray:
    """``returns`` as a C-contiguous float64 ``(periods, assets)`` matrix, checked.

    A 1-D series is one asset. Values must be finite simple returns (>= -1). At least
    ``min_observations`` rows are required (default ``assets + 1``, what a covariance of the
    assets needs to be estimable).
    """
    x = inputs.returns_matrix(returns, minimum_rows=0)
    t, n = x.shape
    need = n + 1 if min_observations is None else min_observations
    if t < need:
        raise NtUserError(f"returns needs at least {need} observations (rows) for {n} asset(s), got {t}; "
                          "pass a longer history")
    return x


def _vector(name: str, value: Any) -> np.ndarray:
    try:
        v = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        v = None
    if v is None or v.ndim > 1:
        raise NtUserError(f"{name} must be a list of numbers, one per asset")
    return np.ascontiguousarray(v.reshape(-1))


def portfolio_weights(weights: Any, n_assets: int, *, require_full: bool = True, normalize: bool = False,
                      against: str = "returns has {n} asset(s) (columns)") -> np.ndarray:
    """``weights`` as a float64 vector of length ``n_assets``, checked (and normalised if asked)."""
    w = _vector("weights", weights)
    if w.shape[0] != n_assets:
        raise NtUserError(f"weights has {w.shape[0]} entries but {against.format(n=n_assets)}; "
                          "pass one weight per asset")
    if not np.isfinite(w).all():
        raise NtUserError("weights must be finite numbers")
    total = float(math.fsum(w.tolist()))
    if normalize:
        if total == 0.0 or not math.isfinite(total):
            raise NtUserError(f"weights sum to {total:g}, so they cannot be normalised; pass non-zero weights")
        return w / total
    if require_full and abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise NtUserError(f"weights must sum to 1 (got {total:.6g}); normalise them or pass normalize=true")
    return w


def check_horizon(horizon: object) -> int:
    h = int_arg("horizon", horizon)
    if h < 1:
        raise range_error("horizon", h, "must be an integer >= 1 (periods)")
    return h


def _moments(weights: Any, means: Any, cov: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked (weights, means, cov) for the parametric functions, cov tested for PSD."""
    try:
        c = np.ascontiguousarray(np.asarray(cov, dtype=np.float64))
    except (TypeError, ValueError):
        raise NtUserError("cov must be a square matrix of numbers (a list of rows)") from None
    c = matrix_arg("cov", c, square=True)
    n = c.shape[0]
    w = portfolio_weights(weights, n, require_full=False, against="cov is {n} x {n}")
    mu = _vector("means", means)
    if mu.shape[0] != n:
        raise NtUserError(f"means has {mu.shape[0]} entries but cov is {n} x {n}; pass one mean per asset")
    if not np.isfinite(mu).all():
        raise NtUserError("means must be finite numbers")
    native_risk.cholesky(c)  # raises the native cov error (not finite / symmetric / PSD)
    return w, mu, c


def _sigma(w: np.ndarray, cov: np.ndarray) -> float:
    return math.sqrt(max(float(w @ cov @ w), 0.0))


# scipy.special rather than scipy.stats: the distribution objects cost ~100 µs a call.
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _z(c: float) -> float:
    return float(special.ndtri(c))


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / _SQRT_2PI


def _t_pdf(t: float, dof: float) -> float:
    return math.exp(math.lgamma((dof + 1.0) / 2.0) - math.lgamma(dof / 2.0) - 0.5 * math.log(dof * math.pi)
                    - (dof + 1.0) / 2.0 * math.log1p(t * t / dof))


def shape_moments(x: Any) -> tuple[float, float]:
    """``(skew, excess_kurtosis)`` of a sample, the plain moment estimates (``scipy.stats.skew`` and
    ``scipy.stats.kurtosis`` with ``bias=True``); ``(0, 0)`` for a constant sample."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    d = v - v.mean()
    d2 = d * d
    m2 = float(d2.mean())
    if not m2 > 0.0:
        return 0.0, 0.0
    return float((d2 * d).mean()) / m2**1.5, float((d2 * d2).mean()) / (m2 * m2) - 3.0


# -- historical ------------------------------------------------------------------------------------


def horizon_returns(returns: Any, horizon: int = 1) -> np.ndarray:
    """Each asset's compounded return over every overlapping window of ``horizon`` periods:
    row ``t`` is ``prod_{k<h}(1 + r[t+k]) - 1`` (``T - h + 1`` rows; ``returns`` itself for h = 1)."""
    x = returns_matrix(returns, min_observations=1)
    h = check_horizon(horizon)
    if h == 1:
        return x
    if h > x.shape[0]:
        raise NtUserError(f"horizon ({h}) is longer than returns ({x.shape[0]} periods); "
                          "pass a shorter horizon or a longer history")
    windows = np.lib.stride_tricks.sliding_window_view(1.0 + x, h, axis=0)  # (T-h+1, n, h)
    return np.ascontiguousarray(windows.prod(axis=-1) - 1.0)


def _windows(x: np.ndarray, h: int) -> np.ndarray:
    if x.shape[0] - h + 1 < 2:
        raise NtUserError(f"horizon ({h}) leaves fewer than 2 windows of returns ({x.shape[0]} periods); "
                          "pass a shorter horizon or a longer history")
    return horizon_returns(x, h)


def _historical(hx: np.ndarray, w: np.ndarray, c: float, h: int) -> VarEstimate:
    rp = np.ascontiguousarray(hx @ w)
    est = native_risk.historical_var(rp, c)
    return VarEstimate(method="historical", var=est.var, cvar=est.cvar, confidence=c, horizon=h,
                       params={"n_windows": int(rp.shape[0])})


def historical_var(returns: Any, weights: Any, *, confidence: float = 0.99, horizon: int = 1,
                   require_full: bool = True, normalize: bool = False) -> VarEstimate:
    """Historical VaR/CVaR of the portfolio: the native ``historical_var`` of its returns over
    overlapping ``horizon``-period windows (see the module docstring for both rules)."""
    x = returns_matrix(returns)
    w = portfolio_weights(weights, x.shape[1], require_full=require_full, normalize=normalize)
    c, h = check_confidence(confidence), check_horizon(horizon)
    return _historical(_windows(x, h), w, c, h)


# -- parametric ------------------------------------------------------------------------------------


def _normal(m: float, s: float, c: float, h: int) -> VarEstimate:
    mh, sh = m * h, s * math.sqrt(h)
    z = _z(c)
    var = -mh + z * sh
    cvar = -mh + sh * _phi(z) / (1.0 - c)
    return VarEstimate(method="normal", var=var, cvar=cvar, confidence=c, horizon=h, params={"mean": mh, "sigma": sh})


def normal_var(weights: Any, means: Any, cov: Any, *, confidence: float = 0.99, horizon: int = 1) -> VarEstimate:
    """Parametric normal VaR/CVaR: ``VaR = -mu_p h + z sigma_p sqrt(h)``,
    ``CVaR = -mu_p h + sigma_p sqrt(h) phi(z) / (1 - c)``, ``mu_p = w.means``,
    ``sigma_p = sqrt(w' cov w)``, ``z = Phi^-1(c)`` (per-period ``means`` and ``cov``)."""
    w, mu, c = _moments(weights, means, cov)
    return _normal(float(w @ mu), _sigma(w, c), check_confidence(confidence), check_horizon(horizon))


def check_dof(dof: object) -> float:
    d = _number(dof, "dof")
    if not d > 2.0:
        raise range_error("dof", d, "must be > 2 (a Student-t needs finite variance)")
    return d


def _number(value: object, name: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise NtUserError(f"{name} must be a number, got {value!r}")
    return float(value)


def fit_dof(portfolio_returns: Any) -> float:
    """Student-t degrees of freedom by the method of moments: the t's excess kurtosis is
    ``6 / (dof - 4)``, so ``dof = 4 + 6 / K`` with ``K`` the sample excess kurtosis; :data:`MAX_DOF`
    when ``K`` is so small (or negative) that the fit would exceed it."""
    x = np.asarray(portfolio_returns, dtype=np.float64).reshape(-1)
    if x.shape[0] < 4:
        raise NtUserError(f"returns needs at least 4 observations to fit a Student-t, got {x.shape[0]}")
    k = shape_moments(x)[1]
    if not k > 6.0 / (MAX_DOF - 4.0):
        return MAX_DOF
    return 4.0 + 6.0 / k


def _student_t(m: float, s: float, dof: float, c: float, h: int) -> VarEstimate:
    mh, sh = m * h, s * math.sqrt(h)
    scale = sh * math.sqrt((dof - 2.0) / dof)  # the t scaled to standard deviation sh
    t = float(special.stdtrit(dof, c))
    es = _t_pdf(t, dof) / (1.0 - c) * (dof + t * t) / (dof - 1.0)
    return VarEstimate(method="student_t", var=-mh + scale * t, cvar=-mh + scale * es, confidence=c, horizon=h,
                       params={"mean": mh, "sigma": sh, "dof": dof})


def student_t_var(weights: Any, means: Any, cov: Any, *, dof: float, confidence: float = 0.99,
                  horizon: int = 1) -> VarEstimate:
    """Student-t VaR/CVaR with ``dof`` degrees of freedom, the t scaled to the portfolio's standard
    deviation: return ``= mu_p + sigma_p sqrt((dof-2)/dof) T``, ``T ~ t(dof)``. With ``t_c`` the
    t's ``c`` quantile and ``f`` its density, ``VaR = -mu_p + s t_c`` and
    ``CVaR = -mu_p + s f(t_c) / (1 - c) (dof + t_c^2) / (dof - 1)``, ``s = sigma_p sqrt((dof-2)/dof)``
    (horizon: ``mu_p h``, ``sigma_p sqrt(h)``, ``dof`` unchanged)."""
    w, mu, c = _moments(weights, means, cov)
    return _student_t(float(w @ mu), _sigma(w, c), check_dof(dof), check_confidence(confidence),
                      check_horizon(horizon))


def _cornish_fisher(m: float, s: float, skew: float, kurt: float, c: float, h: int) -> VarEstimate:
    mh, sh = m * h, s * math.sqrt(h)
    sk, ku = skew / math.sqrt(h), kurt / h
    a = 1.0 - c
    z = _z(a)  # lower-tail quantile of the returns (negative)
    zcf = z + (z * z - 1.0) * sk / 6.0 + (z**3 - 3.0 * z) * ku / 24.0 - (2.0 * z**3 - 5.0 * z) * sk * sk / 36.0
    tail = _phi(z) * (1.0 + z * sk / 6.0 + (z * z - 1.0) * ku / 24.0 + (1.0 - 2.0 * z * z) * sk * sk / 36.0)
    return VarEstimate(method="cornish_fisher", var=-(mh + sh * zcf), cvar=-mh + sh * tail / a, confidence=c,
                       horizon=h, params={"mean": mh, "sigma": sh, "skew": sk, "excess_kurtosis": ku})


def cornish_fisher_var(weights: Any, means: Any, cov: Any, *, skew: float, excess_kurtosis: float,
                       confidence: float = 0.99, horizon: int = 1) -> VarEstimate:
    """Modified (Cornish-Fisher) VaR and the CVaR of the same quantile function.

    With ``z = Phi^-1(1 - c)`` (the returns' lower tail), ``S`` the skew and ``K`` the excess
    kurtosis of the portfolio's returns::

        z_cf = z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2z^3 - 5z) S^2/36
        VaR  = -(mu_p + sigma_p z_cf)

    CVaR is minus the mean of the Cornish-Fisher quantile over the tail ``u < 1 - c``, integrated
    in closed form with ``E[Z^k; Z < z]`` of the standard normal::

        CVaR = -mu_p + sigma_p phi(z)/(1-c) [1 + z S/6 + (z^2 - 1) K/24 + (1 - 2z^2) S^2/36]

    The expansion is only a quantile function while it is increasing (moderate S and K); far out
    (|S| > ~1, K > ~6) read it as an approximation. Horizon: ``mu h``, ``sigma sqrt(h)``,
    ``S / sqrt(h)``, ``K / h`` (a sum of h independent periods).
    """
    w, mu, c = _moments(weights, means, cov)
    return _cornish_fisher(float(w @ mu), _sigma(w, c), _number(skew, "skew"),
                           _number(excess_kurtosis, "excess_kurtosis"), check_confidence(confidence),
                           check_horizon(horizon))


# -- Monte Carlo -----------------------------------------------------------------------------------


def check_engine(use_gpu: object, engine: object) -> None:
    """NtUserError unless ``use_gpu`` is True/False/None and ``engine`` None or one of :data:`ENGINES`."""
    if use_gpu is not None and not isinstance(use_gpu, bool | np.bool_):
        raise NtUserError(f"use_gpu must be true, false or null (auto), got {use_gpu!r}")
    if engine is not None and engine not in ENGINES:
        raise NtUserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def choose_engine(use_gpu: bool | None = None, engine: str | None = None,
                  n_scenarios: int = 100_000) -> tuple[str, str]:
    """``(engine, note)`` for a Monte Carlo run.

    ``engine`` (one of :data:`ENGINES`) is obeyed or refused (NtUnavailable when torch or CUDA is
    missing). Otherwise ``use_gpu=True`` runs torch on CUDA when it can and falls back to the
    native kernel with a note saying why; ``None`` uses CUDA from :data:`AUTO_GPU_MIN_SCENARIOS`
    scenarios on when torch sees a device (checking imports torch once); ``False`` is native.
    """
    check_engine(use_gpu, engine)
    if engine is not None:
        if engine != "native" and not mc_torch.torch_installed():
            raise NtUnavailable(f"engine {engine!r} needs torch, which is not installed; {mc_torch.INSTALL_HINT}")
        if engine == "torch-cuda" and not mc_torch.cuda_available():
            raise NtUnavailable("engine 'torch-cuda' needs a CUDA device, and torch sees none; "
                                "pass engine='native' or 'torch-cpu'")
        return engine, ""
    if use_gpu is True:
        if not mc_torch.torch_installed():
            return "native", f"use_gpu=true but torch is not installed ({mc_torch.INSTALL_HINT}); the native kernel ran"
        if not mc_torch.cuda_available():
            return "native", "use_gpu=true but torch sees no CUDA device; the native kernel ran"
        return "torch-cuda", ""
    if use_gpu is None and n_scenarios >= AUTO_GPU_MIN_SCENARIOS and mc_torch.cuda_available():
        return "torch-cuda", ""
    return "native", ""


def loss_quantiles(losses: np.ndarray, levels: Sequence[float]) -> tuple[float, ...]:
    """``numpy.quantile(losses, levels, method="linear")``, by one partition at the lowest level and
    a sort of what lies above it (levels in the tail cost a fraction of a full quantile call)."""
    if not levels:
        return ()
    m = losses.shape[0]
    first = math.floor(float(m - 1) * min(levels))
    tail = np.sort(np.partition(losses, first)[first:])
    out = []
    for q in levels:
        vi = float(m - 1) * q
        below = math.floor(vi)
        gamma = vi - below
        a = float(tail[below - first])
        if below >= m - 1:
            out.append(a)
            continue
        b = float(tail[below + 1 - first])
        diff = b - a
        out.append(b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma)  # numpy's _lerp
    return tuple(out)


def _monte_carlo(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, c: float, h: int, n_s: int, seed: int,
                 engine: str, note: str, dtype: str, threads: int,
                 levels: Sequence[float], factor: np.ndarray | None = None) -> MonteCarloVar:
    mu_h, cov_h = np.ascontiguousarray(mu * h), np.ascontiguousarray(cov * h)
    if engine == "native":
        losses = native_risk.monte_carlo_losses(w, mu_h, cov_h, n_scenarios=n_s, seed=seed, threads=threads)
        est = native_risk.var_cvar(losses, c)  # refuses overflowed (non-finite) losses
        return MonteCarloVar(var=est.var, cvar=est.cvar, confidence=c, horizon=h, engine="native", n_scenarios=n_s,
                             seed=seed, dtype="float64", mean=float(losses.mean()), std=float(losses.std(ddof=1))
                             if n_s > 1 else math.nan, quantile_levels=tuple(levels),
                             quantiles=loss_quantiles(losses, levels), note=note)
    f = None if factor is None else factor * math.sqrt(h)
    r = mc_torch.monte_carlo_var_torch(w, mu_h, cov_h, confidence=c, n_scenarios=n_s, seed=seed,
                                       device="cuda" if engine == "torch-cuda" else "cpu", dtype=dtype,
                                       quantile_levels=tuple(levels), factor=f)
    return MonteCarloVar(var=r.var, cvar=r.cvar, confidence=c, horizon=h, engine=r.engine, n_scenarios=n_s,
                         seed=seed, dtype=dtype, mean=r.mean, std=r.std, quantile_levels=r.quantile_levels,
                         quantiles=r.quantiles, note=note)


def monte_carlo_var(weights: Any, means: Any, cov: Any, *, confidence: float = 0.99, horizon: int = 1,
                    n_scenarios: int = 100_000, seed: int = 0, use_gpu: bool | None = None,
                    engine: str | None = None, dtype: str = "float64", threads: int = 1,
                    quantile_levels: Sequence[float] = MC_QUANTILE_LEVELS) -> MonteCarloVar:
    """Monte Carlo VaR/CVaR of jointly normal asset returns ``N(means h, cov h)``.

    The native kernel (exact for a seed whatever ``threads``) or torch (:mod:`.mc_torch`), chosen
    by :func:`choose_engine`; ``dtype`` (``"float64"``/``"float32"``) applies to torch only.
    """
    w, mu, c = _moments(weights, means, cov)
    conf, h = check_confidence(confidence), check_horizon(horizon)
    n_s, s = check_positive("n_scenarios", n_scenarios), check_seed(seed)
    check_positive("threads", threads)
    if dtype not in mc_torch.DTYPES:
        raise NtUserError(f"dtype must be one of {', '.join(mc_torch.DTYPES)}, got {dtype!r}")
    levels = tuple(check_confidence(q) for q in quantile_levels)
    eng, note = choose_engine(use_gpu, engine, n_s)
    return _monte_carlo(w, mu, c, conf, h, n_s, s, eng, note, dtype, threads, levels)


# -- decomposition ---------------------------------------------------------------------------------


def _contributions(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, c: float, h: int) -> Contributions:
    z = _z(c)
    cw = cov @ w
    s = _sigma(w, cov)
    with np.errstate(invalid="ignore", divide="ignore"):
        marginal = -mu * h + z * math.sqrt(h) * (cw / s if s > 0 else np.full_like(cw, math.nan))
    component = w * marginal
    total = _normal(float(w @ mu), s, c, h).var
    percent = component / total if total != 0 else np.full_like(component, math.nan)
    return Contributions(marginal=tuple(marginal.tolist()), component=tuple(component.tolist()),
                         percent=tuple(percent.tolist()), total=total)


def risk_contributions(weights: Any, means: Any, cov: Any, *, confidence: float = 0.99,
                       horizon: int = 1) -> Contributions:
    """Marginal and component (Euler) contributions to the normal VaR; see :class:`Contributions`."""
    w, mu, c = _moments(weights, means, cov)
    return _contributions(w, mu, c, check_confidence(confidence), check_horizon(horizon))


def _standalone(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, c: float, h: int) -> list[VarEstimate]:
    vols = np.sqrt(np.clip(np.diagonal(cov), 0.0, None))
    return [_normal(float(wi * mi), abs(float(wi)) * float(si), c, h) for wi, mi, si in zip(w, mu, vols, strict=True)]


def _diversification(w: np.ndarray, cov: np.ndarray, alone: Sequence[VarEstimate], portfolio: VarEstimate
                     ) -> Diversification:
    s = _sigma(w, cov)
    weighted = float(np.abs(w) @ np.sqrt(np.clip(np.diagonal(cov), 0.0, None)))
    total = math.fsum(e.var for e in alone)
    return Diversification(volatility_ratio=weighted / s if s > 0 else math.nan,
                           var_ratio=total / portfolio.var if portfolio.var != 0 else math.nan,
                           standalone_var_sum=total, portfolio_var=portfolio.var, benefit=total - portfolio.var)


def diversification(weights: Any, means: Any, cov: Any, *, confidence: float = 0.99,
                    horizon: int = 1) -> Diversification:
    """Diversification ratios of the portfolio; see :class:`Diversification`."""
    w, mu, c = _moments(weights, means, cov)
    conf, h = check_confidence(confidence), check_horizon(horizon)
    return _diversification(w, c, _standalone(w, mu, c, conf, h), _normal(float(w @ mu), _sigma(w, c), conf, h))


# -- the report ------------------------------------------------------------------------------------


def _check_methods(methods: Any) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    try:
        chosen = tuple(methods)
    except TypeError:
        raise NtUserError(f"methods must be a list drawn from {', '.join(METHODS)}") from None
    for m in chosen:
        if m not in METHODS:
            raise NtUserError(f"methods must be drawn from {', '.join(METHODS)}; got {m!r}")
    if not chosen:
        raise NtUserError(f"methods must name at least one of {', '.join(METHODS)}")
    return tuple(dict.fromkeys(chosen))


def var_report(returns: Any, weights: Any, *, confidence: float = 0.99, horizon: int = 1,
               methods: Sequence[str] = METHODS, dof: float | None = None, n_scenarios: int = 100_000,
               seed: int = 0, use_gpu: bool | None = None, engine: str | None = None, mc_dtype: str = "float64",
               threads: int = 1, require_full: bool = True, normalize: bool = False) -> VarReport:
    """VaR and CVaR of a portfolio by every method asked for, with per-asset figures, Euler
    contributions, diversification ratios and (with ``"monte_carlo"``) a simulated-loss summary.

    :param returns: ``(periods, assets)`` simple returns, at least ``assets + 1`` rows.
    :param weights: one per asset; must sum to 1 unless ``require_full=False`` (or ``normalize``).
    :param confidence: in (0, 1). :param horizon: periods (see the module docstring for scaling).
    :param methods: a subset of :data:`METHODS`.
    :param dof: Student-t degrees of freedom (> 2); ``None`` fits them (:func:`fit_dof`).
    :param n_scenarios: Monte Carlo scenarios; ``seed`` reproduces them.
    :param use_gpu: ``True``/``None``/``False``, see :func:`choose_engine`; ``engine`` forces one.
    :param mc_dtype: ``"float64"`` or ``"float32"`` for the torch engines.
    :param threads: threads of the native Monte Carlo kernel (the numbers do not depend on it).

    The covariance is estimated once; the Cholesky factor is computed here only for the torch
    engines (the native kernel factors the matrix itself, microseconds for a few assets).
    """
    x = returns_matrix(returns)
    t, n = x.shape
    w = portfolio_weights(weights, n, require_full=require_full, normalize=normalize)
    c, h = check_confidence(confidence), check_horizon(horizon)
    chosen = _check_methods(methods)
    dof_v = None if dof is None else check_dof(dof)
    n_s, s = check_positive("n_scenarios", n_scenarios), check_seed(seed)
    n_threads = check_positive("threads", threads)
    check_engine(use_gpu, engine)
    if mc_dtype not in mc_torch.DTYPES:
        raise NtUserError(f"mc_dtype must be one of {', '.join(mc_torch.DTYPES)}, got {mc_dtype!r}")

    mu = x.mean(axis=0)
    cov = native_risk.covariance(x) if t > 1 else np.zeros((n, n))
    rp = x @ w
    m_p, s_p = float(w @ mu), _sigma(w, cov)
    skew, kurt = shape_moments(rp)

    normal = _normal(m_p, s_p, c, h)
    hx = _windows(x, h) if "historical" in chosen else (horizon_returns(x, h) if t - h + 1 >= 2 else None)
    out: dict[str, VarEstimate] = {}
    mc: MonteCarloVar | None = None
    for method in chosen:
        if method == "historical":
            assert hx is not None
            out[method] = _historical(hx, w, c, h)
        elif method == "normal":
            out[method] = normal
        elif method == "student_t":
            out[method] = _student_t(m_p, s_p, dof_v if dof_v is not None else fit_dof(rp), c, h)
        elif method == "cornish_fisher":
            out[method] = _cornish_fisher(m_p, s_p, skew, kurt, c, h)
        else:
            eng, note = choose_engine(use_gpu, engine, n_s)
            factor = native_risk.cholesky(cov).factor if eng != "native" else None
            mc = _monte_carlo(w, mu, cov, c, h, n_s, s, eng, note, mc_dtype, n_threads, MC_QUANTILE_LEVELS,
                              factor)
            out[method] = mc.estimate()

    alone = _standalone(w, mu, cov, c, h)
    assets = []
    for i in range(n):
        hv = native_risk.historical_var(np.ascontiguousarray(hx[:, i] * w[i]), c) if hx is not None else None
        assets.append(AssetRisk(index=i, weight=float(w[i]), mean=float(mu[i]), volatility=math.sqrt(max(cov[i, i], 0.0)),
                                normal_var=alone[i].var, normal_cvar=alone[i].cvar,
                                historical_var=hv.var if hv is not None else math.nan,
                                historical_cvar=hv.cvar if hv is not None else math.nan))
    return VarReport(confidence=c, horizon=h, n_observations=t, n_assets=n, weights=tuple(w.tolist()), mean=m_p,
                     volatility=s_p, skew=skew, excess_kurtosis=kurt, methods=out, assets=tuple(assets),
                     contributions=_contributions(w, mu, cov, c, h),
                     diversification=_diversification(w, cov, alone, normal), monte_carlo=mc)


__all__ = [
    "ENGINES",
    "MAX_DOF",
    "MC_QUANTILE_LEVELS",
    "METHODS",
    "AssetRisk",
    "Contributions",
    "Diversification",
    "MonteCarloVar",
    "VarEstimate",
    "VarReport",
    "check_dof",
    "check_engine",
    "check_horizon",
    "choose_engine",
    "cornish_fisher_var",
    "diversification",
    "fit_dof",
    "historical_var",
    "horizon_returns",
    "loss_quantiles",
    "monte_carlo_var",
    "normal_var",
    "portfolio_weights",
    "returns_matrix",
    "risk_contributions",
    "shape_moments",
    "student_t_var",
    "var_report",
]
