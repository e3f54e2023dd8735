"""Portfolio risk: Monte Carlo and historical VaR/CVaR, covariance and correlation matrices.

The C kernels (``native/risk/``) run when built, their numpy twins (:mod:`.risk_numpy`) otherwise;
both give the same numbers bit for bit. Arrays must be C-contiguous ``float64`` numpy arrays
(returns matrices are ``(periods, assets)``); nothing is converted or copied, the C code reads
the caller's memory through ``ffi.from_buffer`` with the GIL released. Definitions, the quantile
rule and the random-number streams: docs/native.md, "Risk".

>>> import numpy as np
>>> from neural_trader.native import risk
>>> est = risk.monte_carlo_var(np.array([0.5, 0.5]), np.zeros(2), np.diag([1e-4, 1e-4]),
...                            confidence=0.99, n_scenarios=100_000, seed=42)
>>> round(est.var, 4)   # closed form 2.326 * 0.00707 = 0.0164
0.0164
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from neural_trader.native import risk_numpy as _twin
from neural_trader.native._buffers import array_arg, raise_for_status
from neural_trader.native._loader import load_native, timed
from neural_trader.native.risk_numpy import (
    MC_CHUNK,
    RULES,
    Cholesky,
    RiskEstimate,
    RollingRisk,
    array_error,
    check_confidence,
    check_ddof,
    check_lam,
    check_portfolio,
    check_positive,
    check_seed,
    cov_error,
    matrix_arg,
)

_native = load_native("risk")
_lib: Any = _native.lib
#: True when the C kernels run; otherwise ``STATUS_REASON`` says why the numpy twins do.
COMPILED: bool = _native.compiled
STATUS_REASON: str | None = _native.reason

#: C parameter names of each kernel, in order: a status code names its argument by position.
ARGS: dict[str, tuple[str, ...]] = {
    "nt_risk_seed_streams": ("seed", "n_streams", "states"),
    "nt_risk_raw": ("state", "n", "out"),
    "nt_risk_normals": ("state", "n", "out"),
    "nt_risk_cholesky": ("n", "cov", "work", "lower", "perm", "rank", "info"),
    "nt_risk_covariance": ("t", "n", "returns", "ddof", "scratch", "out"),
    "nt_risk_ewma_covariance": ("t", "n", "returns", "lam", "demean", "scratch", "out"),
    "nt_risk_cov_to_corr": ("n", "cov", "out"),
    "nt_risk_mc_prepare": ("n", "weights", "means", "cov", "work", "lower", "perm", "loading", "mean", "info"),
    "nt_risk_mc_losses": ("n", "loading", "mean", "states", "n_scenarios", "chunk_begin", "chunk_end",
                          "losses"),
    "nt_risk_var_cvar": ("n", "losses", "confidence", "var", "cvar"),
    "nt_risk_hist_var": ("n", "returns", "confidence", "scratch", "var", "cvar"),
    "nt_risk_rolling_hist_var": ("n", "returns", "window", "confidence", "scratch", "var", "cvar"),
}

if COMPILED:
    _ffi = _native.ffi
    _buf = _ffi.from_buffer
    _D = _ffi.typeof("double[]")
    _U64 = _ffi.typeof("uint64_t[]")
    _I64 = _ffi.typeof("int64_t[]")
    assert _lib.NT_RISK_MC_CHUNK == MC_CHUNK, "risk.h and risk_numpy.py disagree on the chunk size"


def _fail(status: int, func: str, **values: Any) -> None:
    names = ARGS[func]
    pos = (-status) % 256
    name = names[pos - 1] if 0 < pos <= len(names) else ""
    if name in _twin.ARRAY_RULES and (-status) // 256 == 1:
        raise array_error(name)
    raise_for_status(status, func, names, values, RULES)


def _out(shape: int | tuple[int, ...]) -> tuple[np.ndarray, Any]:
    a = np.empty(shape)
    return a, _buf(_D, a, True)


# -- matrices ----------------------------------------------------------------------------------


@timed(_native)
def cholesky(cov: np.ndarray) -> Cholesky:
    """Pivoted Cholesky factorisation of a symmetric positive semi-definite matrix.

    ``cov[perm][:, perm] == lower @ lower.T``; ``.factor`` is ``B`` with ``B @ B.T == cov``. Pivots
    within ``1e-12 * max(diag)`` of zero end the factorisation (``rank`` < n: a redundant asset); a
    non-finite, asymmetric or indefinite matrix raises :class:`~neural_trader.errors.NtUserError`.
    """
    if not COMPILED:
        return _twin.cholesky(cov)
    c = matrix_arg("cov", cov, square=True)
    n = c.shape[0]
    lower, lower_p = _out((n, n))
    _work, work_p = _out((n, n))
    perm = np.empty(n, np.int64)
    rank = _ffi.new("int64_t *")
    info = np.zeros(2, np.int64)
    st = _lib.nt_risk_cholesky(n, _buf(_D, c), work_p, lower_p, _buf(_I64, perm, True), rank,
                               _buf(_I64, info, True))
    if st:
        raise cov_error(int(info[0]), int(info[1]), n)
    return Cholesky(lower=lower, perm=perm, rank=int(rank[0]))


@timed(_native)
def covariance(returns: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Covariance of the columns of ``returns`` (``numpy.cov(returns, rowvar=False, ddof=ddof)``)."""
    if not COMPILED:
        return _twin.covariance(returns, ddof)
    x = matrix_arg("returns", returns)
    d = check_ddof(ddof)
    t, n = x.shape
    _scratch, scratch_p = _out(n)
    out, out_p = _out((n, n))
    st = _lib.nt_risk_covariance(t, n, _buf(_D, x), d, scratch_p, out_p)
    if st:
        _fail(st, "nt_risk_covariance", ddof=d)
    return out


@timed(_native)
def ewma_covariance(returns: np.ndarray, lam: float = 0.94, demean: bool = True) -> np.ndarray:
    """Exponentially weighted covariance (RiskMetrics ``lam``; weights normalised to sum to 1).

    ``demean=False`` is RiskMetrics' zero-mean estimator; ``demean=True`` subtracts the weighted
    mean, which is ``numpy.cov(returns, rowvar=False, aweights=lam**age, bias=True)``.
    """
    if not COMPILED:
        return _twin.ewma_covariance(returns, lam, demean)
    x = matrix_arg("returns", returns)
    lv = check_lam(lam)
    t, n = x.shape
    _scratch, scratch_p = _out(n)
    out, out_p = _out((n, n))
    st = _lib.nt_risk_ewma_covariance(t, n, _buf(_D, x), lv, 1 if demean else 0, scratch_p, out_p)
    if st:
        _fail(st, "nt_risk_ewma_covariance", lam=lv)
    return out


@timed(_native)
def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation matrix from a covariance matrix, as ``numpy.corrcoef`` computes it."""
    if not COMPILED:
        return _twin.cov_to_corr(cov)
    c = matrix_arg("cov", cov, square=True)
    n = c.shape[0]
    out, out_p = _out((n, n))
    st = _lib.nt_risk_cov_to_corr(n, _buf(_D, c), out_p)
    if st:
        _fail(st, "nt_risk_cov_to_corr")
    return out


def correlation(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of ``returns`` (``numpy.corrcoef(returns, rowvar=False)``)."""
    return cov_to_corr(covariance(returns))


def ewma_correlation(returns: np.ndarray, lam: float = 0.94, demean: bool = True) -> np.ndarray:
    """Correlation of :func:`ewma_covariance`."""
    return cov_to_corr(ewma_covariance(returns, lam, demean))


# -- historical --------------------------------------------------------------------------------


@timed(_native)
def var_cvar(losses: np.ndarray, confidence: float = 0.99) -> RiskEstimate:
    """VaR and CVaR of a sample of losses (positive = loss), e.g. from a simulation of your own."""
    if not COMPILED:
        return _twin.var_cvar(losses, confidence)
    x = array_arg("losses", losses)
    c = check_confidence(confidence)
    if x.shape[0] < 1:
        return _twin.var_cvar(x, c)  # raises the twin's error
    work = x.copy()  # selection reorders
    v, cv = _ffi.new("double *"), _ffi.new("double *")
    st = _lib.nt_risk_var_cvar(x.shape[0], _buf(_D, work, True), c, v, cv)
    if st:
        _fail(st, "nt_risk_var_cvar", confidence=c)
    return RiskEstimate(v[0], cv[0])


@timed(_native)
def historical_var(returns: np.ndarray, confidence: float = 0.99) -> RiskEstimate:
    """Historical VaR and CVaR of a return series: the ``confidence`` quantile of the losses
    (``numpy.quantile(-returns, confidence)``, linear interpolation) and the mean loss beyond it.
    NaN returns are skipped; with none left both are NaN."""
    if not COMPILED:
        return _twin.historical_var(returns, confidence)
    r = array_arg("returns", returns)
    c = check_confidence(confidence)
    n = r.shape[0]
    scratch = np.empty(n)
    v, cv = _ffi.new("double *"), _ffi.new("double *")
    st = _lib.nt_risk_hist_var(n, _buf(_D, r), c, _buf(_D, scratch, True), v, cv)
    if st:
        _fail(st, "nt_risk_hist_var", confidence=c)
    return RiskEstimate(v[0], cv[0])


@timed(_native)
def rolling_historical_var(returns: np.ndarray, window: int, confidence: float = 0.99) -> RollingRisk:
    """:func:`historical_var` over every trailing ``window`` (NaN before the first full window)."""
    if not COMPILED:
        return _twin.rolling_historical_var(returns, window, confidence)
    r = array_arg("returns", returns)
    w = check_positive("window", window)
    c = check_confidence(confidence)
    n = r.shape[0]
    scratch = np.empty(min(w, max(n, 1)))
    var, var_p = _out(n)
    cvar, cvar_p = _out(n)
    st = _lib.nt_risk_rolling_hist_var(n, _buf(_D, r), w, c, _buf(_D, scratch, True), var_p, cvar_p)
    if st:
        _fail(st, "nt_risk_rolling_hist_var", window=w, confidence=c)
    return RollingRisk(var=var, cvar=cvar)


# -- Monte Carlo -------------------------------------------------------------------------------


def _losses(weights: Any, means: Any, cov: Any, n_scenarios: Any, seed: Any, threads: Any) -> np.ndarray:
    w, mu, c = check_portfolio(weights, means, cov)
    n_s = check_positive("n_scenarios", n_scenarios)
    s = check_seed(seed)
    n_threads = check_positive("threads", threads)
    n = w.shape[0]
    _work, work_p = _out((n, n))
    _lower, lower_p = _out((n, n))
    perm = np.empty(n, np.int64)
    loading, loading_p = _out(n)
    mean = _ffi.new("double *")
    info = np.zeros(2, np.int64)
    st = _lib.nt_risk_mc_prepare(n, _buf(_D, w), _buf(_D, mu), _buf(_D, c), work_p, lower_p,
                                 _buf(_I64, perm, True), loading_p, mean, _buf(_I64, info, True))
    if st:
        reason, pos = int(info[0]), (-st) % 256
        if reason == _twin.NONFINITE and pos in (2, 3):
            raise array_error(ARGS["nt_risk_mc_prepare"][pos - 1])
        raise cov_error(reason, int(info[1]), n)
    n_chunks = -(-n_s // MC_CHUNK)
    states = np.empty(4 * n_chunks, np.uint64)
    _lib.nt_risk_seed_streams(s, n_chunks, _buf(_U64, states, True))
    losses, losses_p = _out(n_s)
    load_p, states_p = _buf(_D, loading), _buf(_U64, states)

    def run(begin: int, end: int) -> int:
        return int(_lib.nt_risk_mc_losses(n, load_p, mean[0], states_p, n_s, begin, end, losses_p))

    n_threads = min(n_threads, n_chunks)
    if n_threads == 1:
        statuses = [run(0, n_chunks)]
    else:
        # Contiguous runs of chunks; each chunk has its own stream, so the split changes nothing.
        bounds = [n_chunks * k // n_threads for k in range(n_threads + 1)]
        with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="nt-risk-mc") as pool:
            statuses = list(pool.map(run, bounds[:-1], bounds[1:]))
    for st in statuses:
        if st:
            _fail(st, "nt_risk_mc_losses", n_scenarios=n_s)
    return losses


@timed(_native)
def monte_carlo_losses(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, n_scenarios: int = 100_000,
                       seed: int = 0, threads: int = 1) -> np.ndarray:
    """Simulated one-period portfolio losses ``-(weights . r)`` with ``r ~ N(means, cov)``, in
    scenario order; the same for a seed whatever ``threads`` is."""
    if not COMPILED:
        return _twin.monte_carlo_losses(weights, means, cov, n_scenarios=n_scenarios, seed=seed, threads=threads)
    return _losses(weights, means, cov, n_scenarios, seed, threads)


@timed(_native)
def monte_carlo_var(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, confidence: float = 0.99,
                    n_scenarios: int = 100_000, seed: int = 0, threads: int = 1) -> RiskEstimate:
    """Monte Carlo VaR and CVaR of a portfolio of jointly normal assets.

    :param weights: position of each asset as a fraction of the portfolio (or in currency: the
        losses are then in currency).
    :param means: expected return of each asset over the horizon (e.g. one day).
    :param cov: covariance of the asset returns over the same horizon; Cholesky-factored, so it
        must be symmetric positive semi-definite.
    :param confidence: e.g. 0.99 for the loss exceeded in 1% of scenarios.
    :param seed: any integer in ``[0, 2**64)``; a seed reproduces the numbers exactly.
    :param threads: threads that generate the scenarios; the result does not depend on it.
    """
    c = check_confidence(confidence)
    if not COMPILED:
        return _twin.monte_carlo_var(weights, means, cov, confidence=c, n_scenarios=n_scenarios, seed=seed,
                                     threads=threads)
    losses = _losses(weights, means, cov, n_scenarios, seed, threads)
    v, cv = _ffi.new("double *"), _ffi.new("double *")
    st = _lib.nt_risk_var_cvar(losses.shape[0], _buf(_D, losses, True), c, v, cv)
    if st:
        raise cov_error(_twin.OVERFLOW, -1, losses.shape[0])
    return RiskEstimate(v[0], cv[0])


def parametric_var(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, confidence: float = 0.99) -> RiskEstimate:
    """The closed form for a normal portfolio: ``VaR = z*s - m``, ``CVaR = s*phi(z)/(1-a) - m``
    with ``m = w.means``, ``s = sqrt(w' cov w)`` and ``z`` the standard normal ``confidence``
    quantile. What Monte Carlo converges to; a check on it."""
    from statistics import NormalDist

    w, mu, c = check_portfolio(weights, means, cov)
    a = check_confidence(confidence)
    m = float(w @ mu)
    s = math.sqrt(max(float(w @ c @ w), 0.0))
    z = NormalDist().inv_cdf(a)
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return RiskEstimate(z * s - m, s * phi / (1.0 - a) - m)


__all__ = [
    "COMPILED", "MC_CHUNK", "STATUS_REASON", "Cholesky", "RiskEstimate", "RollingRisk", "cholesky", "correlation",
    "cov_to_corr", "covariance", "ewma_correlation", "ewma_covariance", "historical_var",
    "monte_carlo_losses", "monte_carlo_var", "parametric_var", "rolling_historical_var", "var_cvar",
]
