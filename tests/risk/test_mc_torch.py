"""The torch Monte Carlo path (risk.mc_torch) on CPU torch: against the normal closed form, the
native kernel (statistically: a different random-number generator), and numpy.quantile on the
very losses it simulated."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from scipy import stats

from neural_trader import accelerators
from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader.native import risk as native_risk
from neural_trader_plugins.risk import mc_torch, var

C = 0.99


def portfolio(n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vol = rng.uniform(0.01, 0.03, n)
    a = rng.normal(size=(n, n))
    s = a @ a.T + n * np.eye(n)
    d = 1.0 / np.sqrt(np.diag(s))
    cov = np.ascontiguousarray(s * np.outer(d, d) * np.outer(vol, vol))
    w = rng.uniform(0.0, 1.0, n)
    return w / w.sum(), rng.normal(0.0005, 0.0005, n), cov


def closed_form(w, mu, cov, c=C):
    m, s = float(w @ mu), math.sqrt(float(w @ cov @ w))
    z = stats.norm.ppf(c)
    return -m + z * s, -m + s * stats.norm.pdf(z) / (1 - c), s


def var_standard_error(s: float, n: int, c: float = C) -> float:
    """Asymptotic standard error of a sample quantile: sqrt(c (1-c) / n) / f(q), f the normal density."""
    return math.sqrt(c * (1 - c) / n) / (stats.norm.pdf(stats.norm.ppf(c)) / s)


def test_imports_without_torch_and_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    accelerators.cuda_available.cache_clear()
    try:
        assert not mc_torch.torch_installed() and not mc_torch.cuda_available()
        w, mu, cov = portfolio(3)
        with pytest.raises(NtUnavailable, match=r"pip install 'neural-trader\[neural\]'"):
            mc_torch.monte_carlo_var_torch(w, mu, cov, n_scenarios=10)
        with pytest.raises(NtUnavailable, match="needs torch"):
            var.monte_carlo_var(w, mu, cov, engine="torch-cpu")
    finally:
        accelerators.cuda_available.cache_clear()


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_within_1pct_of_closed_form_at_1m(torch, dtype) -> None:
    w, mu, cov = portfolio()
    v, cv, s = closed_form(w, mu, cov)
    r = mc_torch.monte_carlo_var_torch(w, mu, cov, confidence=C, n_scenarios=1_000_000, seed=5, device="cpu",
                                       dtype=dtype)
    assert (r.engine, r.device, r.dtype, r.n_scenarios, r.seed) == ("torch-cpu", "cpu", dtype, 1_000_000, 5)
    assert abs(r.var / v - 1) < 0.01 and abs(r.cvar / cv - 1) < 0.01
    assert abs(r.var - v) < 4 * var_standard_error(s, 1_000_000)
    assert r.mean == pytest.approx(-float(w @ mu), abs=4 * s / 1000)
    assert r.std == pytest.approx(s, rel=0.005)


def test_consistent_with_the_native_kernel(torch) -> None:
    """Different generators, same model: the two estimates differ by sampling error only."""
    w, mu, cov = portfolio()
    _, _, s = closed_form(w, mu, cov)
    n = 1_000_000
    t = mc_torch.monte_carlo_var_torch(w, mu, cov, confidence=C, n_scenarios=n, seed=1, device="cpu")
    k = native_risk.monte_carlo_var(w, mu, cov, confidence=C, n_scenarios=n, seed=1)
    assert abs(t.var - k.var) < 4 * math.sqrt(2) * var_standard_error(s, n)
    assert abs(t.cvar / k.cvar - 1) < 0.01


def test_tail_rule_is_the_kernels_on_the_same_losses(torch) -> None:
    """VaR and quantiles are numpy.quantile(method="linear") of the very losses simulated; CVaR the
    mean beyond VaR; the native var_cvar on the same numbers agrees."""
    w, mu, cov = portfolio()
    losses = mc_torch.losses_torch(w, mu, cov, n_scenarios=100_003, seed=2, device="cpu")
    levels = (0.5, 0.9, 0.99, 0.999)
    v, cv, mean, std, qs = mc_torch.tail_risk_torch(losses, C, levels)
    x = losses.numpy()
    assert v == np.quantile(x, C, method="linear")
    assert cv == pytest.approx(x[x >= v].mean(), rel=1e-12)
    ref = native_risk.var_cvar(np.ascontiguousarray(x), C)
    assert v == ref.var and cv == pytest.approx(ref.cvar, rel=1e-12)
    assert qs == tuple(np.quantile(x, levels, method="linear").tolist())
    assert (mean, std) == pytest.approx((x.mean(), x.std(ddof=1)), rel=1e-10)
    assert x.shape == (100_003,)


def test_seeded_and_batched(torch) -> None:
    w, mu, cov = portfolio()
    kw = {"confidence": C, "n_scenarios": 200_000, "device": "cpu"}
    a = mc_torch.monte_carlo_var_torch(w, mu, cov, seed=3, **kw)
    assert a == mc_torch.monte_carlo_var_torch(w, mu, cov, seed=3, **kw)
    assert a.var != mc_torch.monte_carlo_var_torch(w, mu, cov, seed=4, **kw).var
    v, _, s = closed_form(w, mu, cov)
    b = mc_torch.monte_carlo_var_torch(w, mu, cov, seed=3, batch_size=7_777, **kw)  # 26 batches, a short last one
    assert b.n_scenarios == 200_000 and abs(b.var - v) < 4 * var_standard_error(s, 200_000)


def test_through_var_with_horizon(torch) -> None:
    w, mu, cov = portfolio()
    h = 10
    mc = var.monte_carlo_var(w, mu, cov, confidence=C, horizon=h, n_scenarios=1_000_000, seed=8, engine="torch-cpu")
    v, cv, _ = closed_form(w, mu * h, cov * h)
    assert (mc.engine, mc.note, mc.horizon) == ("torch-cpu", "", h)
    assert abs(mc.var / v - 1) < 0.01 and abs(mc.cvar / cv - 1) < 0.01
    assert mc.quantiles[mc.quantile_levels.index(C)] == mc.var


def test_var_report_runs_torch_from_the_cholesky_it_computed(torch) -> None:
    w, mu, cov = portfolio()
    x = np.random.default_rng(4).multivariate_normal(mu, cov, size=2000)
    rep = var.var_report(x, w, methods=("normal", "monte_carlo"), engine="torch-cpu", n_scenarios=400_000,
                         seed=6, mc_dtype="float32")
    assert rep.monte_carlo is not None
    assert (rep.monte_carlo.engine, rep.monte_carlo.dtype, rep.methods["monte_carlo"].params["engine"]) == (
        "torch-cpu", "float32", "torch-cpu")
    normal = rep.methods["normal"]
    assert abs(rep.monte_carlo.var - normal.var) < 4 * var_standard_error(normal.params["sigma"], 400_000)


def test_errors(torch) -> None:
    w, mu, cov = portfolio(3)
    with pytest.raises(NtUserError, match="dtype must be one of float64, float32"):
        mc_torch.monte_carlo_var_torch(w, mu, cov, dtype="float16", device="cpu")
    with pytest.raises(NtUserError, match="batch_size must be >= 1"):
        mc_torch.monte_carlo_var_torch(w, mu, cov, batch_size=0, device="cpu")
    with pytest.raises(NtUserError, match="device must be"):
        mc_torch.monte_carlo_var_torch(w, mu, cov, device="tpu")
    with pytest.raises(NtUserError, match="confidence"):
        mc_torch.monte_carlo_var_torch(w, mu, cov, confidence=1.0, device="cpu")
    with pytest.raises(NtUserError, match="cov must be positive semi-definite"):
        mc_torch.monte_carlo_var_torch(w[:2], mu[:2], np.array([[1.0, 2.0], [2.0, 1.0]]), device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(NtUnavailable, match="no CUDA device"):
            mc_torch.monte_carlo_var_torch(w, mu, cov, device="cuda")
