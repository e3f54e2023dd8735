"""VaR/CVaR models of risk.var against outside oracles: closed forms (scipy.stats), numpy.quantile,
numerical integration (scipy.integrate.quad / scipy.stats expect), finite differences, and real
ORCL and NVDA returns (tests/data/SOURCES.md)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk import mc_torch, var

DATA = Path(__file__).resolve().parents[1] / "data"


def adj_close(file: str) -> dict[str, float]:
    """Date -> Adj Close of a Yahoo-format daily file."""
    out = {}
    for line in (DATA / file).read_text().splitlines()[1:]:
        if line:
            f = line.split(",")
            out[f[0]] = float(f[5])
    return out


@pytest.fixture(scope="module")
def orcl_nvda() -> np.ndarray:
    """Simple daily returns of ORCL and NVDA Adj Close on their common dates (1999-01-22 on)."""
    a, b = adj_close("orcl-1995-2014.txt"), adj_close("nvda-1999-2014.txt")
    dates = sorted(set(a) & set(b))
    p = np.array([[a[d], b[d]] for d in dates])
    return np.ascontiguousarray(p[1:] / p[:-1] - 1.0)


def portfolio(n: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    vol = rng.uniform(0.01, 0.03, n)
    a = rng.normal(size=(n, n))
    s = a @ a.T + n * np.eye(n)
    d = 1.0 / np.sqrt(np.diag(s))
    cov = s * np.outer(d, d) * np.outer(vol, vol)
    w = rng.uniform(0.1, 1.0, n)
    return w / w.sum(), rng.normal(0.0005, 0.0005, n), cov


def closed_form_normal(w, mu, cov, c, h=1):
    m, s = float(w @ mu) * h, math.sqrt(float(w @ cov @ w) * h)
    z = stats.norm.ppf(c)
    return -m + z * s, -m + s * stats.norm.pdf(z) / (1 - c)


# -- parametric normal ---------------------------------------------------------------------------


@pytest.mark.parametrize(("c", "h"), [(0.95, 1), (0.99, 1), (0.999, 1), (0.99, 10)])
def test_normal_is_the_closed_form(c, h) -> None:
    w, mu, cov = portfolio()
    est = var.normal_var(w, mu, cov, confidence=c, horizon=h)
    v, cv = closed_form_normal(w, mu, cov, c, h)
    assert est.var == pytest.approx(v, rel=1e-12)
    assert est.cvar == pytest.approx(cv, rel=1e-12)
    assert (est.method, est.confidence, est.horizon) == ("normal", c, h)


def test_normal_horizon_is_square_root_of_time() -> None:
    w, _, cov = portfolio()
    one = var.normal_var(w, np.zeros(5), cov, confidence=0.99)
    for h in (4, 25):
        assert var.normal_var(w, np.zeros(5), cov, confidence=0.99, horizon=h).var == pytest.approx(
            one.var * math.sqrt(h), rel=1e-12)


# -- Monte Carlo ---------------------------------------------------------------------------------


def test_monte_carlo_native_within_1pct_of_closed_form() -> None:
    w, mu, cov = portfolio()
    for h in (1, 5):
        mc = var.monte_carlo_var(w, mu, cov, confidence=0.99, horizon=h, n_scenarios=1_000_000, seed=9,
                                 engine="native")
        v, cv = closed_form_normal(w, mu, cov, 0.99, h)
        assert (mc.engine, mc.n_scenarios, mc.seed, mc.note) == ("native", 1_000_000, 9, "")
        assert abs(mc.var / v - 1) < 0.01
        assert abs(mc.cvar / cv - 1) < 0.01
        assert mc.mean == pytest.approx(-float(w @ mu) * h, abs=4 * math.sqrt(float(w @ cov @ w) * h / 1e6))
        assert mc.std == pytest.approx(math.sqrt(float(w @ cov @ w) * h), rel=0.005)
        assert mc.quantiles[mc.quantile_levels.index(0.99)] == mc.var


def test_loss_quantiles_equal_numpy_quantile() -> None:
    x = np.random.default_rng(2).standard_t(3, 10_001)
    levels = (0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9999)
    assert var.loss_quantiles(x, levels) == tuple(np.quantile(x, levels, method="linear").tolist())


def test_use_gpu_without_cuda_falls_back_with_a_note(monkeypatch) -> None:
    w, mu, cov = portfolio()
    monkeypatch.setattr(mc_torch, "torch_installed", lambda: True)  # whether or not it is, here
    monkeypatch.setattr(mc_torch, "cuda_available", lambda: False)
    mc = var.monte_carlo_var(w, mu, cov, n_scenarios=10_000, use_gpu=True)
    assert mc.engine == "native" and "no CUDA device" in mc.note
    monkeypatch.setattr(mc_torch, "torch_installed", lambda: False)
    mc = var.monte_carlo_var(w, mu, cov, n_scenarios=10_000, use_gpu=True)
    assert mc.engine == "native" and "pip install 'neural-trader[neural]'" in mc.note
    assert var.choose_engine(None, None, 10_000_000) == ("native", "")


# -- historical ------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.9, 0.95, 0.99, 0.995])
def test_historical_is_numpy_quantile_on_orcl_nvda(orcl_nvda, c) -> None:
    w = np.array([0.6, 0.4])
    est = var.historical_var(orcl_nvda, w, confidence=c)
    losses = -(orcl_nvda @ w)
    q = np.quantile(losses, c, method="linear")
    assert est.var == pytest.approx(q, rel=1e-15)
    assert est.cvar == pytest.approx(losses[losses >= q].mean(), rel=1e-12)
    assert est.params["n_windows"] == orcl_nvda.shape[0]


def test_historical_horizon_is_overlapping_compounded_windows(orcl_nvda) -> None:
    w, h = np.array([0.3, 0.7]), 10
    r = orcl_nvda[:2000]
    windows = np.array([np.prod(1.0 + r[t : t + h], axis=0) - 1.0 for t in range(len(r) - h + 1)])
    losses = -(windows @ w)
    est = var.historical_var(r.tolist(), w.tolist(), confidence=0.99, horizon=h)
    assert est.var == pytest.approx(np.quantile(losses, 0.99), rel=1e-12)
    assert est.cvar == pytest.approx(losses[losses >= est.var].mean(), rel=1e-12)
    assert est.params["n_windows"] == len(r) - h + 1


# -- Student-t -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dof", "c", "h"), [(3.0, 0.99, 1), (5.0, 0.95, 1), (8.0, 0.99, 10)])
def test_student_t_against_scipy(dof, c, h) -> None:
    """VaR: the scipy.stats.t.ppf closed form with the t scaled to the portfolio's standard
    deviation; CVaR: scipy.stats.t.expect, a numerical integral of the loss over the tail."""
    w, mu, cov = portfolio()
    est = var.student_t_var(w, mu, cov, dof=dof, confidence=c, horizon=h)
    m, s = float(w @ mu) * h, math.sqrt(float(w @ cov @ w) * h)
    scale = s / math.sqrt(dof / (dof - 2))  # t(dof) has variance dof / (dof - 2)
    loss = stats.t(dof, loc=-m, scale=scale)
    assert loss.std() == pytest.approx(s, rel=1e-12)
    assert est.var == pytest.approx(-m + scale * stats.t.ppf(c, dof), rel=1e-12)
    assert est.var == pytest.approx(loss.ppf(c), rel=1e-12)
    assert est.cvar == pytest.approx(loss.expect(lambda x: x, lb=est.var, conditional=True), rel=1e-7)
    assert est.params["dof"] == dof


def test_student_t_tends_to_normal_and_dof_fit() -> None:
    w, mu, cov = portfolio()
    t = var.student_t_var(w, mu, cov, dof=1e7, confidence=0.99)
    n = var.normal_var(w, mu, cov, confidence=0.99)
    assert t.var == pytest.approx(n.var, rel=1e-5) and t.cvar == pytest.approx(n.cvar, rel=1e-5)
    x = np.random.default_rng(5).standard_t(6, 20_000)
    k = stats.kurtosis(x, fisher=True, bias=True)
    assert var.fit_dof(x) == pytest.approx(4 + 6 / k, rel=1e-12)
    assert var.fit_dof(np.random.default_rng(5).uniform(size=500)) == var.MAX_DOF  # kurtosis < 0


def test_shape_moments_match_scipy() -> None:
    x = np.random.default_rng(8).gamma(2.0, size=3000)
    skew, kurt = var.shape_moments(x)
    assert skew == pytest.approx(stats.skew(x, bias=True), rel=1e-12)
    assert kurt == pytest.approx(stats.kurtosis(x, fisher=True, bias=True), rel=1e-12)


# -- Cornish-Fisher --------------------------------------------------------------------------------


def cf_quantile(u: float, s: float, k: float) -> float:
    """The Cornish-Fisher expansion of the standardised quantile to the second order, as in
    Zangari (1996), "A VaR methodology for portfolios that include options", RiskMetrics Monitor Q1,
    and Favre & Galeano (2002), "Mean-modified value-at-risk optimization with hedge funds",
    J. Alternative Investments 5(2), eq. 2 (the ``modified VaR`` of PerformanceAnalytics)."""
    x = stats.norm.ppf(u)
    h1 = (x**2 - 1) / 6
    h2 = (x**3 - 3 * x) / 24
    h3 = -(2 * x**3 - 5 * x) / 36
    return x + h1 * s + h2 * k + h3 * s**2


@pytest.mark.parametrize(("skew", "kurt", "c"), [(-0.5, 2.0, 0.99), (0.3, 1.0, 0.95), (-1.0, 4.0, 0.975),
                                                 (0.0, 0.0, 0.99)])
def test_cornish_fisher_by_hand(skew, kurt, c) -> None:
    w, mu, cov = portfolio()
    est = var.cornish_fisher_var(w, mu, cov, skew=skew, excess_kurtosis=kurt, confidence=c)
    m, s = float(w @ mu), math.sqrt(float(w @ cov @ w))
    a = 1 - c
    assert est.var == pytest.approx(-(m + s * cf_quantile(a, skew, kurt)), rel=1e-12)
    tail, _ = integrate.quad(lambda u: cf_quantile(u, skew, kurt), 0.0, a, epsabs=1e-13, epsrel=1e-12, limit=200)
    assert est.cvar == pytest.approx(-(m + s * tail / a), rel=1e-8)
    if skew == kurt == 0.0:
        n = var.normal_var(w, mu, cov, confidence=c)
        assert (est.var, est.cvar) == pytest.approx((n.var, n.cvar), rel=1e-12)


def test_cornish_fisher_worked_value() -> None:
    """A hand computation (calculator) of Favre & Galeano's eq. 2: mean 0, sigma 1, skew -1,
    excess kurtosis 3 at 99%. z = -2.326348, z^2 - 1 = 4.411894, z^3 - 3z = -5.610905,
    2z^3 - 5z = -13.548159, so z_cf = -2.326348 - 0.735316 - 0.701363 + 0.376338 = -3.386689:
    VaR 3.3867, against 2.3263 for the normal (the fat left tail raises it)."""
    est = var.cornish_fisher_var([1.0], [0.0], [[1.0]], skew=-1.0, excess_kurtosis=3.0, confidence=0.99)
    assert est.var == pytest.approx(3.386689, abs=2e-6)


def test_cornish_fisher_horizon_scales_the_shape() -> None:
    w, mu, cov = portfolio()
    h = 9
    est = var.cornish_fisher_var(w, mu, cov, skew=-0.6, excess_kurtosis=3.0, confidence=0.99, horizon=h)
    ref = var.cornish_fisher_var(w, mu * h, cov * h, skew=-0.6 / 3, excess_kurtosis=3.0 / 9, confidence=0.99)
    assert (est.var, est.cvar) == pytest.approx((ref.var, ref.cvar), rel=1e-12)


# -- decomposition ---------------------------------------------------------------------------------


def test_components_sum_to_var_and_marginals_are_derivatives() -> None:
    w, mu, cov = portfolio()
    for h in (1, 10):
        con = var.risk_contributions(w, mu, cov, confidence=0.99, horizon=h)
        total = var.normal_var(w, mu, cov, confidence=0.99, horizon=h).var
        assert con.total == pytest.approx(total, rel=1e-12)
        assert math.fsum(con.component) == pytest.approx(total, rel=1e-12)
        assert math.fsum(con.percent) == pytest.approx(1.0, rel=1e-12)
        eps = 1e-6
        for i in range(len(w)):
            up, dn = w.copy(), w.copy()
            up[i] += eps
            dn[i] -= eps
            fd = (var.normal_var(up, mu, cov, confidence=0.99, horizon=h).var
                  - var.normal_var(dn, mu, cov, confidence=0.99, horizon=h).var) / (2 * eps)
            assert con.marginal[i] == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("n", [2, 4, 9])
def test_diversification_ratio_of_uncorrelated_equal_vols_is_sqrt_n(n) -> None:
    cov = np.eye(n) * 0.02**2
    d = var.diversification(np.full(n, 1 / n), np.zeros(n), cov, confidence=0.99)
    assert d.volatility_ratio == pytest.approx(math.sqrt(n), rel=1e-12)
    assert d.var_ratio == pytest.approx(math.sqrt(n), rel=1e-12)
    assert d.benefit == pytest.approx(d.standalone_var_sum - d.portfolio_var, rel=1e-12)


# -- the report ------------------------------------------------------------------------------------


def test_var_report_on_orcl_nvda(orcl_nvda) -> None:
    w = [0.5, 0.5]
    rep = var.var_report(orcl_nvda, w, confidence=0.99, n_scenarios=200_000, seed=3, use_gpu=False)
    assert set(rep.methods) == set(var.METHODS)
    mu, cov = orcl_nvda.mean(axis=0), np.cov(orcl_nvda, rowvar=False)
    ww = np.array(w)
    v, cv = closed_form_normal(ww, mu, cov, 0.99)
    assert (rep.methods["normal"].var, rep.methods["normal"].cvar) == pytest.approx((v, cv), rel=1e-12)
    losses = -(orcl_nvda @ ww)
    assert rep.methods["historical"].var == pytest.approx(np.quantile(losses, 0.99), rel=1e-15)
    assert rep.skew == pytest.approx(stats.skew(-losses), rel=1e-10)
    assert rep.excess_kurtosis == pytest.approx(stats.kurtosis(-losses), rel=1e-10)
    # fat tails: the t fitted by moments and Cornish-Fisher (with the report's moments) are the standalones
    t = var.student_t_var(ww, mu, cov, dof=4 + 6 / rep.excess_kurtosis, confidence=0.99)
    assert rep.methods["student_t"].var == pytest.approx(t.var, rel=1e-12)
    cf = var.cornish_fisher_var(ww, mu, cov, skew=rep.skew, excess_kurtosis=rep.excess_kurtosis, confidence=0.99)
    assert rep.methods["cornish_fisher"].cvar == pytest.approx(cf.cvar, rel=1e-12)
    mc = rep.monte_carlo
    assert mc is not None and mc.engine == "native" and rep.methods["monte_carlo"].params["n_scenarios"] == 200_000
    assert abs(mc.var / v - 1) < 0.02
    for i, a in enumerate(rep.assets):
        pos = -(orcl_nvda[:, i] * w[i])
        assert a.historical_var == pytest.approx(np.quantile(pos, 0.99), rel=1e-15)
        assert a.volatility == pytest.approx(math.sqrt(cov[i, i]), rel=1e-12)
    assert math.fsum(rep.contributions.component) == pytest.approx(v, rel=1e-12)
    assert rep.diversification.var_ratio == pytest.approx(sum(a.normal_var for a in rep.assets) / v, rel=1e-12)
    assert rep.diversification.var_ratio > 1.0
    assert rep.n_observations == orcl_nvda.shape[0] and rep.n_assets == 2


def test_var_report_horizon_and_normalize(orcl_nvda) -> None:
    r = orcl_nvda[:1500]
    rep = var.var_report(r, [3.0, 1.0], normalize=True, horizon=5, methods=("historical", "normal"))
    assert rep.weights == (0.75, 0.25)
    assert set(rep.methods) == {"historical", "normal"} and rep.monte_carlo is None
    assert rep.methods["historical"] == var.historical_var(r, [0.75, 0.25], horizon=5)
    assert rep.methods["normal"].var == pytest.approx(
        closed_form_normal(np.array([0.75, 0.25]), r.mean(axis=0), np.cov(r, rowvar=False), 0.99, 5)[0], rel=1e-12)


# -- bad input ---------------------------------------------------------------------------------------


R = np.random.default_rng(0).normal(0, 0.01, (50, 3))
W = [0.2, 0.3, 0.5]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"weights": [0.5, 0.5]}, ["weights has 2 entries", "3 asset"]),
    ({"weights": [0.5, 0.2, 0.1]}, ["weights must sum to 1 (got 0.8)", "normalize=true"]),
    ({"weights": [0.5, math.nan, 0.5]}, ["weights must be finite"]),
    ({"confidence": 1.5}, ["confidence", "between 0 and 1", "1.5"]),
    ({"confidence": 0.0}, ["confidence"]),
    ({"returns": R[:3]}, ["returns needs at least 4 observations", "got 3"]),
    ({"returns": np.where(np.arange(150).reshape(50, 3) == 77, np.nan, R)}, ["returns must be finite", "returns[25, 2]"]),
    ({"returns": R - 2.0}, ["returns must be >= -1"]),
    ({"returns": [[0.1, 0.2], [0.3]]}, ["returns must be a 2-D (periods, assets) matrix"]),
    ({"horizon": 0}, ["horizon must be an integer >= 1"]),
    ({"horizon": 50}, ["horizon (50)", "shorter horizon"]),
    ({"horizon": 80}, ["horizon (80)", "shorter horizon"]),
    ({"methods": ("normal", "garch")}, ["methods must be drawn from", "'garch'"]),
    ({"dof": 2.0}, ["dof must be > 2"]),
    ({"n_scenarios": 0}, ["n_scenarios"]),
    ({"seed": -1}, ["seed"]),
    ({"engine": "gpu"}, ["engine must be one of native, torch-cuda, torch-cpu"]),
    ({"engine": "gpu", "methods": ("normal",)}, ["engine must be one of"]),
    ({"use_gpu": "yes"}, ["use_gpu must be true, false or null"]),
    ({"mc_dtype": "float16"}, ["mc_dtype must be one of"]),
])
def test_report_errors_name_the_field(kwargs, words) -> None:
    args = {"returns": R, "weights": W, **kwargs}
    with pytest.raises(NtUserError) as err:
        var.var_report(args.pop("returns"), args.pop("weights"), **args)
    for word in words:
        assert word in str(err.value)


def test_parametric_errors_name_the_field() -> None:
    with pytest.raises(NtUserError, match="cov must be positive semi-definite"):
        var.normal_var([0.5, 0.5], [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(NtUserError, match="cov must be symmetric"):
        var.normal_var([0.5, 0.5], [0.0, 0.0], [[1.0, 0.5], [0.1, 1.0]])
    with pytest.raises(NtUserError, match="means has 3 entries"):
        var.normal_var([0.5, 0.5], [0.0, 0.0, 0.0], np.eye(2))
    with pytest.raises(NtUserError, match=r"weights has 3 entries but cov is 2 x 2"):
        var.student_t_var([0.2, 0.3, 0.5], [0.0, 0.0], np.eye(2), dof=5)
    with pytest.raises(NtUserError, match="weights must be a list of numbers"):
        var.normal_var([[0.2], [0.3, 0.5]], [0.0, 0.0], np.eye(2))
    with pytest.raises(NtUserError, match="cov must be a square matrix"):
        var.normal_var([0.5, 0.5], [0.0, 0.0], [[1.0], [0.0, 1.0]])
    with pytest.raises(NtUserError, match="dof must be a number"):
        var.student_t_var([1.0], [0.0], [[1.0]], dof="five")
    with pytest.raises(NtUserError, match="skew must be a number"):
        var.cornish_fisher_var([1.0], [0.0], [[1.0]], skew="big", excess_kurtosis=0.0)
    with pytest.raises(NtUserError, match="cov must be positive semi-definite"):
        var.monte_carlo_var([0.5, 0.5], [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
