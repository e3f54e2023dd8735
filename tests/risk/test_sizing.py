"""Position sizing against closed forms, numeric optimisation of the growth rate, numpy.linalg.solve,
a hand Wilder ATR and backtrader's ATR(14) on real ORCL bars (tests/data/orcl-backtrader-oracle.json)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk.sizing import (
    atr_position_size,
    kelly_binary,
    kelly_continuous,
    kelly_portfolio,
    volatility_target,
)

DATA = Path(__file__).resolve().parents[1] / "data"


# -- binary Kelly ------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "odds", "expected"), [
    (0.6, 1.0, 0.2),      # Kelly (1956) / Thorp: 60 % at evens -> bet 20 %
    (0.5, 2.0, 0.25),     # 0.5 - 0.5 / 2
    (0.25, 5.0, 0.1),     # 0.25 - 0.75 / 5
    (0.4, 1.0, -0.2),     # no edge: negative Kelly, stake 0
    (1.0, 3.0, 1.0),      # a sure thing: everything
])
def test_binary_kelly_known_values(p: float, odds: float, expected: float) -> None:
    k = kelly_binary(p, odds)
    assert k.full_kelly == pytest.approx(expected)
    assert k.stake == pytest.approx(max(expected, 0.0))
    assert k.edge == pytest.approx(p * odds - (1 - p))


def test_binary_kelly_maximises_exact_log_growth() -> None:
    p, b = 0.55, 1.5
    res = optimize.minimize_scalar(lambda f: -(p * math.log1p(f * b) + (1 - p) * math.log1p(-f)),
                                   bounds=(0.0, 0.99), method="bounded", options={"xatol": 1e-10})
    k = kelly_binary(p, b)
    assert k.stake == pytest.approx(res.x, abs=1e-7)
    assert k.growth_rate == pytest.approx(-res.fun, rel=1e-9)
    half = kelly_binary(p, b, fraction=0.5)
    assert half.stake == pytest.approx(k.stake / 2)


# -- continuous Kelly --------------------------------------------------------------------------


def test_continuous_kelly_maximises_growth() -> None:
    """f* = (mu - r) / sigma**2 maximises g(f) = r + f (mu - r) - f**2 sigma**2 / 2 (found numerically),
    and is close to the maximiser of the exact E[log(1 + r + f (R - r))], R ~ N(mu, sigma**2), by
    Gauss-Hermite quadrature, for daily-sized moments."""
    mu, sigma, r = 0.0006, 0.015, 0.0001
    k = kelly_continuous(mu, sigma, risk_free=r)
    assert k.full_kelly == pytest.approx((mu - r) / sigma**2)
    g = optimize.minimize_scalar(lambda f: -(r + f * (mu - r) - 0.5 * f * f * sigma**2))
    assert k.fraction == pytest.approx(g.x, rel=1e-6)
    assert k.growth_rate == pytest.approx(-g.fun, rel=1e-9)
    x, w = np.polynomial.hermite_e.hermegauss(60)
    ret = mu + sigma * x

    def exact(f: float) -> float:
        return -float(w @ np.log1p(r + f * (ret - r)) / w.sum())

    e = optimize.minimize_scalar(exact, bounds=(0.0, 5.0), method="bounded", options={"xatol": 1e-9})
    assert k.full_kelly == pytest.approx(e.x, rel=0.02)
    capped = kelly_continuous(mu, sigma, risk_free=r, fraction=0.5, max_leverage=1.0)
    assert capped.fraction == 1.0


# -- multi-asset Kelly -------------------------------------------------------------------------


MU = np.array([0.0008, 0.0005, 0.0003])
COV = np.array([[4e-4, 1e-4, 5e-5], [1e-4, 2.5e-4, 2e-5], [5e-5, 2e-5, 1e-4]])


def test_portfolio_kelly_is_the_linear_solve() -> None:
    k = kelly_portfolio(MU, COV, risk_free=0.0001)
    np.testing.assert_allclose(k.unconstrained, np.linalg.solve(COV, MU - 0.0001), rtol=1e-12)
    np.testing.assert_allclose(k.weights, k.unconstrained)
    assert not k.constrained
    half = kelly_portfolio(MU.tolist(), COV.tolist(), risk_free=0.0001, fraction=0.5)
    np.testing.assert_allclose(half.weights, k.weights / 2, rtol=1e-12)


def growth(w: np.ndarray) -> float:
    return float(w @ MU - 0.5 * w @ COV @ w)


def test_portfolio_kelly_with_limits_beats_a_grid() -> None:
    """Under a leverage cap the optimiser's weights are feasible and no grid point of the feasible set
    grows faster."""
    k = kelly_portfolio(MU, COV, max_leverage=2.0, long_only=True)
    assert k.constrained
    assert k.leverage <= 2.0 + 1e-9 and (k.weights >= -1e-12).all()
    grid = np.linspace(0.0, 2.0, 41)
    best = max(growth(np.array(w)) for w in itertools.product(grid, grid, grid) if sum(w) <= 2.0 + 1e-12)
    assert k.growth_rate >= best - 1e-12
    boxed = kelly_portfolio(MU, COV, max_weight=0.5)
    assert np.abs(boxed.weights).max() <= 0.5 + 1e-9
    # With only a box limit and independent assets the answer is the clipped solve.
    diag = np.diag(np.diag(COV))
    np.testing.assert_allclose(kelly_portfolio(MU, diag, max_weight=2.5).weights,
                               np.minimum(MU / np.diag(COV), 2.5), atol=1e-7)


def test_single_asset_portfolio_cap_is_the_clip() -> None:
    k = kelly_portfolio([0.001], [[1e-4]], max_leverage=1.5)
    assert k.unconstrained[0] == pytest.approx(10.0)
    assert k.weights[0] == pytest.approx(1.5, abs=1e-8)


# -- volatility targeting ----------------------------------------------------------------------


def test_volatility_target() -> None:
    r = np.array([0.01, -0.02, 0.015, -0.005, 0.0, 0.012, -0.011])
    realized = math.sqrt(sum((x - r.mean()) ** 2 for x in r) / (len(r) - 1)) * math.sqrt(252)
    vt = volatility_target(r, 0.05)
    assert vt.realized_vol == pytest.approx(realized)
    assert vt.weight == pytest.approx(0.05 / realized) and not vt.capped
    big = volatility_target(r, 1.0, max_leverage=2.0)
    assert big.weight == 2.0 and big.capped
    last = volatility_target(r, 0.05, window=3)
    assert last.realized_vol == pytest.approx(np.std(r[-3:], ddof=1) * math.sqrt(252))


# -- ATR sizing --------------------------------------------------------------------------------


def orcl_hlc() -> np.ndarray:
    return np.loadtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skiprows=1, usecols=(2, 3, 4))


def test_atr_size_against_hand_wilder() -> None:
    """Wilder (1978): TR_t = max(H - L, |H - C_{t-1}|, |L - C_{t-1}|); ATR = mean of the first n TRs,
    then ATR_t = (ATR_{t-1} (n - 1) + TR_t) / n."""
    hlc = orcl_hlc()[:60]
    h, lo, c = hlc[:, 0], hlc[:, 1], hlc[:, 2]
    n = 14
    tr = [max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])) for t in range(1, len(c))]
    atr = sum(tr[:n]) / n
    for x in tr[n:]:
        atr = (atr * (n - 1) + x) / n
    size = atr_position_size(h, lo, c, equity=100_000.0, risk_per_trade=0.01, atr_multiple=2.0, window=n)
    assert size.atr == pytest.approx(atr, rel=1e-12)
    assert size.shares == pytest.approx(1000.0 / (2.0 * atr))
    assert size.whole_shares == math.floor(1000.0 / (2.0 * atr))
    assert size.risk_amount == 1000.0 and size.stop_distance == pytest.approx(2 * atr)


def test_atr_matches_backtrader() -> None:
    """backtrader 1.9.78.123's ATR(14) on the raw ORCL bars (tests/native/make_backtrader_oracle.py)."""
    ref = json.loads((DATA / "orcl-backtrader-oracle.json").read_text())["indicators"]["atr14"]
    last = max(int(i) for i, v in ref.items() if v is not None)
    hlc = orcl_hlc()[: last + 1]
    size = atr_position_size(hlc[:, 0], hlc[:, 1], hlc[:, 2], equity=50_000.0)
    assert size.atr == pytest.approx(ref[str(last)], rel=1e-9)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda: kelly_binary(1.2, 1.0), r"p must be a probability in \[0, 1\], got 1.2"),
    (lambda: kelly_binary(-0.1, 1.0), "p must be a probability"),
    (lambda: kelly_binary(0.5, 0.0), "odds must be a finite number > 0"),
    (lambda: kelly_binary(0.5, -2.0), "odds must be"),
    (lambda: kelly_binary(0.5, 1.0, fraction=1.5), "fraction must be"),
    (lambda: kelly_continuous(0.01, 0.0), "sigma must be"),
    (lambda: kelly_continuous(float("nan"), 0.1), "mu must be"),
    (lambda: kelly_portfolio([0.1, 0.2], [[1.0]]), "cov has shape"),
    (lambda: kelly_portfolio([0.1, 0.2], [[1.0, 2.0], [2.0, 1.0]]), "cov must be positive semi-definite"),
    (lambda: kelly_portfolio([0.1, 0.2], [[1.0, 1.0], [1.0, 1.0]]), "cov must be positive definite"),
    (lambda: kelly_portfolio([0.1], [[1.0]], max_leverage=0), "max_leverage must be"),
    (lambda: volatility_target([0.01, 0.02], 0.0), "target_vol must be"),
    (lambda: volatility_target([0.01, 0.01, 0.01], 0.1), "zero volatility"),
    (lambda: volatility_target([0.01, 0.02], 0.1, window=5), "returns needs at least window=5"),
    (lambda: atr_position_size([1.0] * 5, [0.9] * 5, [1.0] * 5, equity=1e4), "need at least window"),
    (lambda: atr_position_size([1.0] * 20, [0.9] * 20, [1.0] * 20, equity=1e4, risk_per_trade=2),
     "risk_per_trade must be"),
    (lambda: atr_position_size([1.0] * 20, [0.9] * 19, [1.0] * 20, equity=1e4), "low has length 19"),
])
def test_errors(call, message: str) -> None:
    with pytest.raises(NtUserError, match=message):
        call()
