"""Volatility models: EWMA against a hand recursion and the native EWMA kernel, GARCH(1,1) against
the peer library ``arch`` on real ORCL and NVDA returns, and the closed-form forecast."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader.native import risk
from neural_trader_plugins.risk.volatility import GARCH_SCALE, ewma_volatility, fit_garch, garch_forecast

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "garch_reference.json").read_text())
FILES = {"ORCL": ("orcl-1995-2014.txt", "constant"), "NVDA": ("nvda-1999-2014.txt", "zero")}


def adj_returns(file: str) -> np.ndarray:
    adj = np.loadtxt(DATA / file, delimiter=",", skiprows=1, usecols=5)
    return adj[1:] / adj[:-1] - 1.0


# -- EWMA --------------------------------------------------------------------------------------


def test_ewma_matches_hand_recursion() -> None:
    """RiskMetrics (1996) eq. 5.3 in recursive form with normalised weights: S_t = lam S_{t-1} + r_t**2,
    W_t = lam W_{t-1} + 1, sigma_t**2 = S_t / W_t, written out as a plain loop."""
    r = adj_returns("orcl-1995-2014.txt")[:600]
    lam = 0.94
    s = w = 0.0
    hand = []
    for x in r:
        s, w = lam * s + x * x, lam * w + 1.0
        hand.append(math.sqrt(s / w))
    out = ewma_volatility(r, lam)
    np.testing.assert_allclose(out.series, hand, rtol=1e-12)
    assert out.last == pytest.approx(hand[-1], rel=1e-12)
    # The same estimate as the native kernel's zero-mean EWMA covariance of the whole window.
    native = risk.ewma_covariance(np.ascontiguousarray(r[:, None]), lam, demean=False)[0, 0]
    assert out.last == pytest.approx(math.sqrt(native), rel=1e-10)


def test_ewma_annualised_and_list_input() -> None:
    r = [0.01, -0.02, 0.015, 0.0, -0.005]
    daily = ewma_volatility(r)
    yearly = ewma_volatility(r, periods_per_year=252)
    np.testing.assert_allclose(yearly.series, daily.series * math.sqrt(252), rtol=1e-14)
    assert daily.lam == 0.94
    # One return: the estimate is its absolute value.
    assert ewma_volatility([0.03]).last == pytest.approx(0.03)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"returns": [0.01, float("nan")]}, "returns"),
    ({"returns": []}, "returns"),
    ({"returns": [[0.01, 0.02]]}, "returns"),
    ({"returns": [0.01], "lam": 1.5}, "lam"),
    ({"returns": [0.01], "periods_per_year": 0}, "periods_per_year"),
])
def test_ewma_errors_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(NtUserError, match=field):
        ewma_volatility(**kwargs)


# -- GARCH(1,1) against arch -------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(FILES))
def fitted(request: pytest.FixtureRequest):
    sym = request.param
    file, mean = FILES[sym]
    return sym, fit_garch(adj_returns(file), mean=mean)


def test_garch_params_match_arch(fitted) -> None:
    """tests/data/garch_reference.json: arch 8.0 ``arch_model(100 r, mean=..., vol='GARCH', p=1, q=1,
    dist='normal', rescale=False).fit()`` (bench/reference/garch_reference.py)."""
    sym, g = fitted
    ref = REF["cases"][sym]
    p = ref["params"]
    assert g.converged
    assert g.n_obs == ref["n_obs"]
    if "mu" in p:
        assert g.mu * GARCH_SCALE == pytest.approx(p["mu"], rel=1e-3)
    else:
        assert g.mu == 0.0
    assert g.omega * GARCH_SCALE**2 == pytest.approx(p["omega"], rel=1e-3)
    assert g.alpha == pytest.approx(p["alpha[1]"], rel=1e-3)
    assert g.beta == pytest.approx(p["beta[1]"], rel=1e-3)
    assert g.loglik == pytest.approx(ref["loglikelihood"], rel=1e-4)
    # Our optimum is no worse than arch's beyond rounding (both maximise the same likelihood).
    assert g.loglik >= ref["loglikelihood"] - 1e-3
    assert g.persistence < 1.0


def test_garch_volatility_and_forecast_match_arch(fitted) -> None:
    sym, g = fitted
    ref = REF["cases"][sym]
    vol = g.conditional_volatility * GARCH_SCALE
    assert vol[0] == pytest.approx(ref["first_conditional_volatility"], rel=1e-3)
    assert vol[-1] == pytest.approx(ref["last_conditional_volatility"], rel=1e-3)
    fc = g.forecast(REF["horizon"]) * GARCH_SCALE**2
    np.testing.assert_allclose(fc, ref["variance_forecast"], rtol=1e-3)


def test_forecast_closed_form_is_the_recursion(fitted) -> None:
    """E[s2_{T+h}] = omega + (alpha + beta) E[s2_{T+h-1}], iterated from s2_{T+1}; it tends to the
    long-run variance omega / (1 - alpha - beta)."""
    _, g = fitted
    s2 = [g.next_variance]
    for _ in range(49):
        s2.append(g.omega + g.persistence * s2[-1])
    np.testing.assert_allclose(garch_forecast(g, 50), s2, rtol=1e-10)
    assert g.long_run_variance == pytest.approx(g.omega / (1 - g.alpha - g.beta))
    assert g.long_run_volatility == pytest.approx(math.sqrt(g.long_run_variance))


def test_garch_recovers_simulated_parameters() -> None:
    """A long simulated GARCH(1,1) path: the fit lands near the parameters that generated it."""
    rng = np.random.default_rng(7)
    omega, alpha, beta, n = 2e-6, 0.08, 0.9, 20_000
    s2, r = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    g = fit_garch(r, mean="zero")
    assert g.alpha == pytest.approx(alpha, abs=0.02)
    assert g.beta == pytest.approx(beta, abs=0.02)
    assert g.long_run_variance == pytest.approx(omega / (1 - alpha - beta), rel=0.15)


def test_garch_errors() -> None:
    with pytest.raises(NtUserError, match="returns needs at least 100 observations, got 12"):
        fit_garch([0.01] * 12)
    with pytest.raises(NtUserError, match="mean must be"):
        fit_garch(adj_returns("orcl-1995-2014.txt")[:200], mean="ar1")
    with pytest.raises(NtUserError, match="returns are constant"):
        fit_garch([0.0] * 200)
    g = fit_garch(adj_returns("orcl-1995-2014.txt")[:300])
    with pytest.raises(NtUserError, match="horizon"):
        garch_forecast(g, 0)
