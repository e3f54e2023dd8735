"""Portfolio construction against outside oracles: closed forms, He & Litterman's published tables,
and PyPortfolioOpt's HRP weights (tests/data/construction_reference.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk import construction as pc

DATA = Path(__file__).resolve().parents[1] / "data"


def random_cov(n: int, seed: int, scale: float = 1e-4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    return (a @ a.T / n + np.diag(rng.uniform(0.1, 1.0, n))) * scale


def gmv_closed_form(cov: np.ndarray) -> np.ndarray:
    x = np.linalg.solve(cov, np.ones(cov.shape[0]))
    return x / x.sum()


def tangency_closed_form(mu: np.ndarray, cov: np.ndarray, rf: float) -> np.ndarray:
    x = np.linalg.solve(cov, mu - rf)
    return x / x.sum()


# -- minimum variance ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 5, 12])
def test_min_variance_unconstrained_is_the_closed_form(n: int) -> None:
    """Sigma^-1 1 / 1' Sigma^-1 1 (Merton 1972), computed here with numpy independently."""
    cov = random_cov(n, seed=n)
    p = pc.optimize("min_variance", cov=cov, bounds=None)
    np.testing.assert_allclose(p.weights, gmv_closed_form(cov), rtol=1e-12, atol=1e-14)
    assert p.weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert p.volatility == pytest.approx(1.0 / np.sqrt(np.ones(n) @ np.linalg.solve(cov, np.ones(n))), rel=1e-12)
    assert p.status == "closed form" and p.expected_return is None and p.sharpe is None


def test_min_variance_bounded_matches_closed_form_when_not_binding() -> None:
    """Assets with equal variance and low correlation: the closed-form GMV is interior to [0, 1],
    so SLSQP with long-only bounds must land on it."""
    vol = np.array([0.10, 0.12, 0.15, 0.18])
    corr = np.full((4, 4), 0.2) + 0.8 * np.eye(4)
    cov = corr * np.outer(vol, vol)
    target = gmv_closed_form(cov)
    assert (target > 0).all()
    p = pc.optimize("min_variance", cov=cov)  # long-only default
    np.testing.assert_allclose(p.weights, target, atol=1e-7)
    assert p.status.startswith("SLSQP")


def test_min_variance_respects_bounds() -> None:
    cov = random_cov(6, seed=3)
    free = gmv_closed_form(cov)
    p = pc.optimize("min_variance", cov=cov, bounds=(0.05, 0.30))
    assert (p.weights >= 0.05 - 1e-12).all() and (p.weights <= 0.30 + 1e-12).all()
    assert p.weights.sum() == pytest.approx(1.0, abs=1e-10)
    # the bounds bind (the free optimum leaves them), so the bounded portfolio has more variance
    assert ((free < 0.05) | (free > 0.30)).any()
    assert p.volatility > np.sqrt(free @ cov @ free)
    # per-asset bounds
    bounds = [(0.0, 0.1), (0.0, 1.0), (0.2, 0.5), (0.0, 1.0), (0.0, 1.0), (None, None)]
    q = pc.optimize("min_variance", cov=cov, bounds=bounds)
    assert q.weights[0] <= 0.1 + 1e-12 and 0.2 - 1e-12 <= q.weights[2] <= 0.5 + 1e-12
    assert q.weights.sum() == pytest.approx(1.0, abs=1e-10)


def test_min_variance_is_optimal_among_feasible_portfolios() -> None:
    """No random long-only portfolio beats the optimiser's variance (a direct check of optimality)."""
    cov = random_cov(5, seed=9)
    p = pc.optimize("min_variance", cov=cov)
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(5), size=2000)
    assert np.einsum("ij,jk,ik->i", w, cov, w).min() >= p.volatility**2 * (1 - 1e-9)


# -- maximum Sharpe -----------------------------------------------------------------------------


def test_max_sharpe_unconstrained_is_the_tangency_portfolio() -> None:
    cov = random_cov(6, seed=21)
    mu = np.linspace(0.0004, 0.0012, 6)
    rf = 0.0001
    p = pc.optimize("max_sharpe", mu=mu, cov=cov, risk_free=rf, bounds=None)
    w = tangency_closed_form(mu, cov, rf)
    np.testing.assert_allclose(p.weights, w, rtol=1e-12, atol=1e-13)
    sharpe = (w @ mu - rf) / np.sqrt(w @ cov @ w)
    assert p.sharpe == pytest.approx(sharpe, rel=1e-12)
    # the tangency Sharpe ratio is sqrt((mu-rf)' Sigma^-1 (mu-rf)) when 1' Sigma^-1 (mu - rf) > 0
    e = mu - rf
    assert p.sharpe == pytest.approx(np.sqrt(e @ np.linalg.solve(cov, e)), rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_max_sharpe_bounded_matches_tangency_when_not_binding(seed: int) -> None:
    """mu = rf + delta Sigma w0 with w0 > 0 makes w0 the tangency portfolio (reverse optimisation);
    inside [0, 1] the bounded solver must return it."""
    rng = np.random.default_rng(seed)
    cov = random_cov(5, seed=seed + 100)
    w0 = rng.dirichlet(np.ones(5) * 3)
    rf = 0.0002
    mu = rf + 2.5 * cov @ w0
    np.testing.assert_allclose(tangency_closed_form(mu, cov, rf), w0, rtol=1e-10)
    p = pc.optimize("max_sharpe", mu=mu, cov=cov, risk_free=rf)
    np.testing.assert_allclose(p.weights, w0, atol=1e-7)
    assert p.sharpe == pytest.approx((w0 @ mu - rf) / np.sqrt(w0 @ cov @ w0), rel=1e-10)


def test_max_sharpe_respects_bounds_and_beats_random_portfolios() -> None:
    cov = random_cov(6, seed=5)
    mu = np.array([0.001, 0.0002, 0.0015, 0.0008, -0.0001, 0.0011])
    p = pc.optimize("max_sharpe", mu=mu, cov=cov, bounds=(0.0, 0.35))
    assert (p.weights >= -1e-12).all() and (p.weights <= 0.35 + 1e-12).all()
    assert p.weights.sum() == pytest.approx(1.0, abs=1e-10)
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(6), size=4000)
    w = w[(w <= 0.35).all(axis=1)]
    s = (w @ mu) / np.sqrt(np.einsum("ij,jk,ik->i", w, cov, w))
    assert s.max() <= p.sharpe * (1 + 1e-9)


def test_mu_defaults_to_the_mean_of_returns_and_cov_to_their_covariance() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal(0.001, 0.01, size=(300, 3)) + rng.normal(0, 0.005, size=(300, 1))
    p = pc.optimize("max_sharpe", returns=r, bounds=None)
    np.testing.assert_allclose(p.weights, tangency_closed_form(r.mean(axis=0), np.cov(r, rowvar=False), 0.0),
                               rtol=1e-9)


# -- risk parity --------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [-0.8, -0.3, 0.0, 0.5, 0.95])
def test_risk_parity_two_assets_is_inverse_volatility(rho: float) -> None:
    """Two assets: equal risk contributions iff w1 s1 = w2 s2, whatever the correlation
    (Maillard, Roncalli & Teiletche 2010, eq. for n = 2)."""
    s = np.array([0.15, 0.40])
    cov = np.array([[1.0, rho], [rho, 1.0]]) * np.outer(s, s)
    p = pc.optimize("risk_parity", cov=cov)
    np.testing.assert_allclose(p.weights, (1 / s) / (1 / s).sum(), rtol=1e-9)
    np.testing.assert_allclose(p.risk_contributions, [0.5, 0.5], rtol=1e-6)


@pytest.mark.parametrize("n", [3, 10, 30])
def test_risk_parity_contributions_are_equal(n: int) -> None:
    cov = random_cov(n, seed=40 + n)
    p = pc.optimize("risk_parity", cov=cov)
    rc = p.weights * (cov @ p.weights)  # recomputed here, not taken from the result
    rc = rc / rc.sum()
    np.testing.assert_allclose(rc, np.full(n, 1 / n), rtol=1e-6)
    assert (p.weights > 0).all() and p.weights.sum() == pytest.approx(1.0, abs=1e-14)


def test_risk_parity_with_budgets_and_closed_form_for_uncorrelated_assets() -> None:
    """Uncorrelated assets: RC_i = w_i^2 s_i^2 / sum, so w_i is proportional to sqrt(b_i) / s_i."""
    s = np.array([0.1, 0.2, 0.3, 0.25])
    b = np.array([0.4, 0.3, 0.2, 0.1])
    p = pc.optimize("risk_parity", cov=np.diag(s**2), budgets=b)
    w = np.sqrt(b) / s
    np.testing.assert_allclose(p.weights, w / w.sum(), rtol=1e-8)
    cov = random_cov(4, seed=77)
    q = pc.optimize("risk_parity", cov=cov, budgets=b)
    np.testing.assert_allclose(pc.risk_contributions(q.weights, cov), b, rtol=1e-6)


# -- Black-Litterman ----------------------------------------------------------------------------

# He & Litterman (1999), "The Intuition Behind Black-Litterman Model Portfolios", Goldman Sachs
# Investment Management Research. Table 1 (correlations), Table 2 (volatilities, equilibrium
# weights and returns), Tables 4-7 (posterior returns mu and optimal weights w*, in percent).
# The same tables are reproduced in the test suite of Hudson & Thames' PortfolioLab and in
# Walters, "The Black-Litterman Model in Detail" (2014).
HL_CORR = np.array([
    [1.000, 0.488, 0.478, 0.515, 0.439, 0.512, 0.491],
    [0.488, 1.000, 0.664, 0.655, 0.310, 0.608, 0.779],
    [0.478, 0.664, 1.000, 0.861, 0.355, 0.783, 0.668],
    [0.515, 0.655, 0.861, 1.000, 0.354, 0.777, 0.653],
    [0.439, 0.310, 0.355, 0.354, 1.000, 0.405, 0.306],
    [0.512, 0.608, 0.783, 0.777, 0.405, 1.000, 0.652],
    [0.491, 0.779, 0.668, 0.653, 0.306, 0.652, 1.000],
])  # Australia, Canada, France, Germany, Japan, UK, USA
HL_VOL = np.array([16.0, 20.3, 24.8, 27.1, 21.0, 20.0, 18.7]) / 100
HL_WEQ = np.array([1.6, 2.2, 5.2, 5.5, 11.6, 12.4, 61.5]) / 100
HL_PI = [3.9, 6.9, 8.4, 9.0, 4.3, 6.8, 7.6]  # Table 2, equilibrium expected excess returns
HL_COV = HL_CORR * np.outer(HL_VOL, HL_VOL)
# View 1: Germany outperforms the rest of Europe (France and UK, market-cap weighted) by 5%.
HL_P1 = [0.0, 0.0, -HL_WEQ[2] / (HL_WEQ[2] + HL_WEQ[5]), 1.0, 0.0, -HL_WEQ[5] / (HL_WEQ[2] + HL_WEQ[5]), 0.0]
# View 2: Canada outperforms the US by 3% (4% in Table 6).
HL_P2 = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
HL_TABLES = {
    "table4_view1": ([HL_P1], [0.05], None,
                     [4.3, 7.6, 9.3, 11.0, 4.5, 7.0, 8.1], [1.5, 2.1, -4.0, 35.4, 11.0, -9.5, 58.6]),
    "table5_views1_2": ([HL_P1, HL_P2], [0.05, 0.03], None,
                        [4.4, 8.7, 9.5, 11.2, 4.6, 7.0, 7.5], [1.5, 41.9, -3.4, 33.6, 11.0, -8.2, 18.8]),
    "table6_canada_4pct": ([HL_P1, HL_P2], [0.05, 0.04], None,
                           [4.4, 9.1, 9.5, 11.3, 4.6, 7.0, 7.3], [1.5, 53.3, -3.3, 33.1, 11.0, -7.8, 7.3]),
    # Table 7: less confidence in view 1, omega_1 doubled (omega / tau = 0.043 instead of 0.021).
    "table7_less_confident": ([HL_P1, HL_P2], [0.05, 0.04], "double_first",
                              [4.3, 8.9, 9.3, 10.6, 4.6, 6.9, 7.2], [1.5, 53.9, -0.5, 23.6, 11.0, -1.1, 6.8]),
}


def _published(x: np.ndarray, table: list[float]) -> None:
    """Equal at the paper's precision: one decimal in percent (rounding, half a unit of 0.1)."""
    np.testing.assert_allclose(np.asarray(x) * 100, table, atol=0.05 + 1e-9)


def test_black_litterman_equilibrium_returns_he_litterman_table2() -> None:
    bl = pc.black_litterman(HL_COV, HL_WEQ, {"P": [HL_P1], "Q": [0.05]}, tau=0.05, delta=2.5)
    _published(bl.equilibrium, HL_PI)


@pytest.mark.parametrize("case", sorted(HL_TABLES))
def test_black_litterman_reproduces_he_litterman_tables(case: str) -> None:
    picks, q, omega_rule, mu_pub, w_pub = HL_TABLES[case]
    p = np.array(picks)
    views: dict[str, object] = {"P": picks, "Q": q}
    if omega_rule == "double_first":
        om = np.diag(0.05 * np.diagonal(p @ HL_COV @ p.T))
        om[0, 0] *= 2.0
        views["omega"] = om
    res = pc.optimize("black_litterman", cov=HL_COV, market_weights=HL_WEQ, views=views, tau=0.05, delta=2.5,
                      bounds=None)
    bl = res.black_litterman
    assert bl is not None
    _published(bl.posterior_mean, mu_pub)
    _published(res.weights, w_pub)
    # He-Litterman's eq. (17): w* = (w_eq + P' Lambda) / (1 + tau); Japan and Australia carry no view,
    # so their weights are the equilibrium weights over 1 + tau (to machine precision).
    np.testing.assert_allclose(res.weights[[0, 4]], HL_WEQ[[0, 4]] / 1.05, rtol=1e-10)
    # the default omega is diag(tau P Sigma P')
    if omega_rule is None:
        np.testing.assert_allclose(np.diagonal(bl.omega), 0.05 * np.diagonal(p @ HL_COV @ p.T), rtol=1e-14)


def test_black_litterman_without_views_confidence_returns_equilibrium() -> None:
    """A view with huge omega carries no information: the posterior mean is Pi and the weights are
    w_eq / (1 + tau) (He & Litterman, eq. 17 with Lambda = 0)."""
    bl = pc.black_litterman(HL_COV, HL_WEQ, {"P": [HL_P1], "Q": [0.2], "omega": [[1e12]]})
    np.testing.assert_allclose(bl.posterior_mean, bl.equilibrium, rtol=1e-9)
    np.testing.assert_allclose(bl.weights, HL_WEQ / 1.05, rtol=1e-8)


def test_black_litterman_bounded_is_long_only_max_sharpe_of_posterior() -> None:
    res = pc.optimize("black_litterman", cov=HL_COV, market_weights=HL_WEQ,
                      views={"P": [HL_P1, HL_P2], "Q": [0.05, 0.03]})
    assert (res.weights >= -1e-12).all() and res.weights.sum() == pytest.approx(1.0, abs=1e-10)
    bl = res.black_litterman
    assert bl is not None
    free = pc.optimize("max_sharpe", mu=bl.posterior_mean, cov=bl.posterior_cov, bounds=None)
    assert res.sharpe is not None and free.sharpe is not None and res.sharpe <= free.sharpe * (1 + 1e-9)


# -- hierarchical risk parity -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["orcl_nvda_synthetic", "blocks_12"])
def test_hrp_matches_pyportfolioopt(case: str) -> None:
    """tests/data/construction_reference.json: PyPortfolioOpt 1.6.0 HRPOpt(returns).optimize("single")
    (bench/reference/construction_reference.py), on ORCL/NVDA daily returns plus synthetic assets."""
    ref = json.loads((DATA / "construction_reference.json").read_text())["cases"][case]
    r = np.array(ref["returns"])
    p = pc.optimize("hrp", returns=r)
    np.testing.assert_allclose(p.weights, ref["weights"], rtol=0, atol=1e-8)
    assert p.weights.sum() == pytest.approx(1.0, abs=1e-12) and (p.weights > 0).all()


def test_hrp_two_uncorrelated_assets_is_inverse_variance() -> None:
    """One bisection of two single-asset clusters: w_1 = 1 - s1^2 / (s1^2 + s2^2)."""
    p = pc.hrp(np.diag([0.04, 0.01]))
    np.testing.assert_allclose(p.weights, [0.2, 0.8], rtol=1e-14)


# -- results ------------------------------------------------------------------------------------


def test_result_fields_and_as_dict() -> None:
    cov = random_cov(3, seed=8)
    mu = np.array([0.001, 0.002, 0.0015])
    p = pc.optimize("min_variance", mu=mu.tolist(), cov=cov.tolist(), risk_free=0.0001)  # plain lists
    assert p.expected_return == pytest.approx(p.weights @ mu, rel=1e-14)
    assert p.sharpe == pytest.approx((p.weights @ mu - 0.0001) / p.volatility, rel=1e-14)
    assert p.risk_contributions.sum() == pytest.approx(1.0, abs=1e-12)
    d = p.as_dict()
    assert d["method"] == "min_variance" and len(d["weights"]) == 3 and json.dumps(d)


# -- errors -------------------------------------------------------------------------------------


def _raises(match: str, **kwargs: object) -> None:
    with pytest.raises(NtUserError, match=match):
        pc.optimize(**kwargs)  # type: ignore[arg-type]


def test_errors_name_the_field() -> None:
    cov = random_cov(3, seed=1)
    mu = [0.001, 0.002, 0.003]
    not_psd = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) * 1e-4
    _raises("cov must be positive semi-definite", method="min_variance", cov=not_psd)
    _raises("cov must be symmetric", method="min_variance", cov=cov + np.triu(np.full((3, 3), 1e-5), 1))
    _raises("cov must be finite", method="min_variance", cov=np.where(np.eye(3) > 0, np.nan, cov))
    _raises("cov must be square", method="min_variance", cov=np.zeros((3, 2)))
    _raises(r"mu has 2 values but cov has 3 assets", method="max_sharpe", mu=[0.1, 0.2], cov=cov)
    _raises("mu is required", method="max_sharpe", cov=cov)
    _raises(r"bounds\[1\] has lower 0.5 > upper 0.2", method="min_variance", cov=cov,
            bounds=[(0, 1), (0.5, 0.2), (0, 1)])
    _raises("bounds are infeasible: the upper bounds sum to 0.6", method="min_variance", cov=cov, bounds=(0, 0.2))
    _raises("bounds are infeasible: the lower bounds sum to 1.5", method="max_sharpe", mu=mu, cov=cov,
            bounds=(0.5, 1))
    _raises("bounds has 2 pairs but there are 3 assets", method="min_variance", cov=cov, bounds=[(0, 1), (0, 1)])
    _raises("returns needs at least assets \\+ 1 = 4 observations", method="hrp", returns=np.zeros((3, 3)))
    _raises("returns must be finite", method="hrp", returns=np.where(np.eye(5, 3) > 0, np.nan, 0.01))
    _raises("pass cov or returns, not both", method="hrp", cov=cov, returns=np.zeros((10, 3)))
    _raises("pass cov", method="hrp")
    _raises("method must be one of", method="magic", cov=cov)
    _raises("no portfolio within bounds earns more than risk_free", method="max_sharpe", mu=mu, cov=cov,
            risk_free=0.01)
    _raises("no tangency portfolio", method="max_sharpe", mu=mu, cov=cov, risk_free=0.01, bounds=None)
    _raises("cov is singular", method="min_variance", cov=np.ones((3, 3)) * 1e-4, bounds=None)
    _raises("bounds are not supported by risk_parity", method="risk_parity", cov=cov, bounds=(0.1, 0.5))
    _raises("budgets must sum to 1", method="risk_parity", cov=cov, budgets=[0.5, 0.3, 0.1])
    _raises("budgets must all be > 0", method="risk_parity", cov=cov, budgets=[0.5, 0.5, 0.0])
    _raises("risk_free must be a number", method="min_variance", cov=cov, risk_free="x")


def test_black_litterman_errors_name_views() -> None:
    base = {"method": "black_litterman", "cov": HL_COV, "market_weights": HL_WEQ}
    _raises("views.P must be k x 7", **base, views={"P": [[1.0, -1.0]], "Q": [0.01]})
    _raises("views.Q has 2 values but views.P has 1 rows", **base, views={"P": [HL_P1], "Q": [0.01, 0.02]})
    _raises("views.omega must be 1 x 1", **base, views={"P": [HL_P1], "Q": [0.01], "omega": np.eye(2)})
    _raises("views has unknown keys", **base, views={"P": [HL_P1], "Q": [0.01], "confidence": 0.5})
    _raises("views needs P", **base, views={"Q": [0.01]})
    _raises("views is required", **base)
    _raises("market_weights has 2 values", method="black_litterman", cov=HL_COV, market_weights=[0.5, 0.5],
            views={"P": [HL_P1], "Q": [0.01]})
    _raises("tau must be a finite number > 0", **base, views={"P": [HL_P1], "Q": [0.01]}, tau=0.0)
    _raises("views and market_weights are Black-Litterman inputs", method="min_variance", cov=HL_COV,
            views={"P": [HL_P1], "Q": [0.01]})
