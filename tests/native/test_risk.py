"""Risk kernels: C == numpy twin on random inputs, outside oracles (numpy, closed forms, published
generator vectors, empyrical on ORCL), the random streams, and bad input."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neural_trader.errors import NtUserError
from neural_trader.native import _ziggurat_tables as zt
from neural_trader.native import metrics, risk
from neural_trader.native import risk_numpy as twin

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

needs_compiled = pytest.mark.skipif(not risk.COMPILED, reason=f"compiled kernels unavailable: {risk.STATUS_REASON}")
EXAMPLES = os.environ.get("NT_HYPOTHESIS_EXAMPLES")  # tests/native/run_valgrind.sh sets it low
PROPERTY = settings(max_examples=int(EXAMPLES or 150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_PROPERTY = settings(max_examples=min(int(EXAMPLES or 12), 12), deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
heavy = pytest.mark.skipif(os.environ.get("NT_VALGRIND") == "1", reason="too slow under valgrind")

# -- input strategies ---------------------------------------------------------------------------

daily = st.floats(-0.3, 0.3, allow_nan=False)
ticks = st.integers(-500, 500).map(lambda k: k / 10_000.0)  # many ties, like real quotes
returns_series = st.one_of(
    hnp.arrays(np.float64, st.integers(0, 120), elements=st.one_of(daily, ticks, ticks, st.just(np.nan))),
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.one_of(st.floats(-1e300, 1e300), st.just(np.nan))),
    st.builds(lambda v, n: np.full(n, v), st.one_of(ticks, daily), st.integers(0, 30)),
)
confidences = st.one_of(st.sampled_from([0.5, 0.9, 0.95, 0.975, 0.99, 0.999]),
                        st.floats(1e-6, 1.0 - 1e-6))
windows = st.integers(1, 60)


def matrices(max_t: int = 40, max_n: int = 5):
    """(t, n) return matrices with ties, constants and occasionally NaN."""
    return st.tuples(st.integers(0, max_t), st.integers(1, max_n)).flatmap(
        lambda shape: hnp.arrays(np.float64, shape, elements=st.one_of(daily, ticks, st.just(0.0))))


@st.composite
def portfolios(draw, max_n: int = 5):
    """(weights, means, cov) with a valid, sometimes singular, covariance."""
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(1, n + 2))  # k < n factors: a singular (semi-definite) covariance
    f = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-0.05, 0.05)))
    cov = f @ f.T
    cov = np.ascontiguousarray((cov + cov.T) / 2.0)
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(-2.0, 2.0)))
    mu = draw(hnp.arrays(np.float64, n, elements=st.floats(-0.01, 0.01)))
    return w, mu, cov


def same(a, b) -> None:
    """Within 1e-12 relative, NaN where NaN (in practice kernel and twin agree bit for bit)."""
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=0,
                               equal_nan=True)


def ten_asset_portfolio() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    vol = rng.uniform(0.01, 0.03, 10)
    a = rng.normal(size=(10, 10))
    s = a @ a.T + 10 * np.eye(10)  # positive definite
    d = 1.0 / np.sqrt(np.diag(s))
    cov = np.ascontiguousarray(s * np.outer(d, d) * np.outer(vol, vol))
    w = rng.uniform(0.0, 1.0, 10)
    return w / w.sum(), rng.normal(0.0005, 0.0005, 10), cov


# -- kernel == twin -----------------------------------------------------------------------------


@needs_compiled
@PROPERTY
@given(r=returns_series, c=confidences)
def test_historical_var_matches_twin(r: np.ndarray, c: float) -> None:
    same(risk.historical_var(r, c), twin.historical_var(r, c))


@needs_compiled
@PROPERTY
@given(r=returns_series, window=windows, c=confidences)
def test_rolling_historical_var_matches_twin(r: np.ndarray, window: int, c: float) -> None:
    k, t = risk.rolling_historical_var(r, window, c), twin.rolling_historical_var(r, window, c)
    same(k.var, t.var)
    same(k.cvar, t.cvar)


@needs_compiled
@PROPERTY
@given(x=matrices(), ddof=st.integers(0, 2), lam=st.floats(0.5, 1.0), demean=st.booleans())
def test_covariances_match_twin(x: np.ndarray, ddof: int, lam: float, demean: bool) -> None:
    same(risk.covariance(x, ddof), twin.covariance(x, ddof))
    same(risk.ewma_covariance(x, lam, demean), twin.ewma_covariance(x, lam, demean))
    same(risk.correlation(x), twin.correlation(x))
    same(risk.ewma_correlation(x, lam, demean), twin.ewma_correlation(x, lam, demean))


@needs_compiled
@PROPERTY
@given(p=portfolios(max_n=8))
def test_cholesky_matches_twin(p) -> None:
    _, _, cov = p
    k, t = risk.cholesky(cov), twin.cholesky(cov)
    assert np.array_equal(k.lower, t.lower) and np.array_equal(k.perm, t.perm) and k.rank == t.rank
    assert np.array_equal(k.lower, np.tril(k.lower)) and sorted(k.perm) == list(range(cov.shape[0]))
    assert not k.lower[:, k.rank :].any()
    scale = max(float(np.max(np.diag(cov))), 1e-300)
    np.testing.assert_allclose(k.factor @ k.factor.T, cov, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(k.lower @ k.lower.T, cov[k.perm][:, k.perm], rtol=0, atol=1e-6 * scale)


@needs_compiled
@SLOW_PROPERTY
@given(p=portfolios(), n_scenarios=st.integers(1, 5000), seed=st.integers(0, 2**64 - 1), c=confidences)
def test_monte_carlo_matches_twin_exactly(p, n_scenarios: int, seed: int, c: float) -> None:
    w, mu, cov = p
    losses = risk.monte_carlo_losses(w, mu, cov, n_scenarios=n_scenarios, seed=seed)
    assert np.array_equal(losses, twin.monte_carlo_losses(w, mu, cov, n_scenarios=n_scenarios, seed=seed))
    est = risk.monte_carlo_var(w, mu, cov, confidence=c, n_scenarios=n_scenarios, seed=seed)
    assert est == twin.var_cvar(losses, c) == risk.var_cvar(losses, c)


@heavy
@needs_compiled
def test_normals_and_streams_match_twin() -> None:
    ffi, lib = risk._ffi, risk._lib
    states = np.empty(4 * 9, np.uint64)
    lib.nt_risk_seed_streams(987654321, 9, ffi.from_buffer("uint64_t[]", states, True))
    assert np.array_equal(states.reshape(9, 4), twin.seed_streams(987654321, 9))
    s = states[:4].copy()
    z = np.empty(300_000)
    lib.nt_risk_normals(ffi.from_buffer("uint64_t[]", s, True), z.shape[0], ffi.from_buffer("double[]", z, True))
    assert np.array_equal(z, twin.normals(states[:4].copy(), z.shape[0]))  # tails and wedges included


def test_ziggurat_tables_are_the_headers() -> None:
    """The C header and the twin's module hold the same bit patterns (one generator wrote both)."""
    text = (ROOT / "native" / "risk" / "ziggurat_tables.h").read_text()
    k = [int(v, 16) for v in re.findall(r"UINT64_C\((0x[0-9a-f]+)\)", text)]
    body = lambda name: text.split(f"{name}[")[1].split("};")[0].split("=", 1)[1]  # noqa: E731
    w = [float.fromhex(v) for v in re.findall(r"-?0x[0-9a-f.]+p[-+]\d+", body("nt_zig_w"))]
    f = [float.fromhex(v) for v in re.findall(r"-?0x[0-9a-f.]+p[-+]\d+", body("nt_zig_f"))]
    assert k == list(zt.K)
    assert w == [float.fromhex(h) for h in zt.W_HEX]
    assert f == [float.fromhex(h) for h in zt.F_HEX]
    assert len(k) == len(w) == 256 and len(f) == 257


# -- outside oracles ----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
def test_xoshiro256pp_and_splitmix64_published_vectors(impl) -> None:
    """xoshiro256++ from state (0, 0, 0, 1), plain and jumped (the vectors of DSCF-1224/xoshiro-fortran,
    test/README.md, produced with Vigna's reference C); SplitMix64 of 1234567 (rand_xoshiro's test)."""
    state = np.array([0, 0, 0, 1], np.uint64)
    if impl is risk:
        if not risk.COMPILED:
            pytest.skip(risk.STATUS_REASON)
        out = np.empty(10, np.uint64)
        risk._lib.nt_risk_raw(risk._ffi.from_buffer("uint64_t[]", state, True), 10,
                              risk._ffi.from_buffer("uint64_t[]", out, True))
    else:
        out = twin.raw(state, 10)
    assert [f"{int(v):016X}" for v in out] == [
        "0000000000800000", "0000000000800011", "0002200000800011", "0002200044000020", "00022000448008A1",
        "01102100802208A0", "0114002284200880", "0402896644A64095", "8A14A0A244ACC891", "8C88BA4680B20495"]
    s = [0, 0, 0, 1]
    twin._jump(s)
    assert [f"{v:016X}" for v in s] == ["934D05E8B2076310", "EABDD0BF76A1BE51", "75DD6A992ACCB1E8", "C660C602A7330187"]
    assert twin.seed_streams(1234567, 1).tolist() == [
        [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431]]


@heavy
def test_normal_sampler_is_standard_normal() -> None:
    """2M draws: moments, a Kolmogorov-Smirnov distance and the tail beyond the ziggurat's base."""
    z = risk.monte_carlo_losses(np.array([1.0]), np.array([0.0]), np.array([[1.0]]), n_scenarios=2_000_000,
                                seed=2024)
    n = z.shape[0]
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(((z - z.mean()) ** 4).mean() / z.var() ** 2 - 3.0) < 0.02
    s = np.sort(z)
    cdf = np.array([NormalDist().cdf(v) for v in s[:: n // 20_000]])
    ks = np.max(np.abs(cdf - (np.arange(n)[:: n // 20_000] + 0.5) / n))
    assert ks < 1.63 / math.sqrt(n)  # the 1% critical value (a subset of points can only lower it)
    beyond = np.count_nonzero(np.abs(z) > zt.R) / n  # only the tail algorithm produces these
    expected = 2 * (1 - NormalDist().cdf(zt.R))
    assert abs(beyond - expected) < 5 * math.sqrt(expected / n)


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
@given(r=returns_series, c=confidences)
@settings(max_examples=min(int(EXAMPLES or 60), 60), deadline=None)
def test_historical_var_is_numpys_linear_quantile(impl, r: np.ndarray, c: float) -> None:
    losses = 0.0 - r[~np.isnan(r)]
    est = impl.historical_var(r, c)
    if losses.size == 0:
        assert math.isnan(est.var) and math.isnan(est.cvar)
        return
    assert est.var == np.quantile(losses, c, method="linear")
    tail = losses[losses >= est.var]
    np.testing.assert_allclose(est.cvar, tail.mean(), rtol=1e-12, atol=1e-14 * np.abs(tail).max())  # sums may cancel
    assert est.cvar >= est.var


def test_rolling_is_historical_over_each_window() -> None:
    r = np.random.default_rng(5).normal(0, 0.01, 300)
    r[[7, 50, 51]] = np.nan
    roll = risk.rolling_historical_var(r, 60, 0.95)
    assert np.isnan(roll.var[:59]).all() and np.isnan(roll.cvar[:59]).all()
    for i in range(59, 300):
        assert (roll.var[i], roll.cvar[i]) == tuple(risk.historical_var(np.ascontiguousarray(r[i - 59 : i + 1]), 0.95))


def test_historical_var_on_orcl_matches_empyrical() -> None:
    """empyrical's value_at_risk is numpy's percentile of the returns: minus our loss quantile. Its
    CVaR averages the lowest int((n-1)*(1-c)) + 1 returns, which on ORCL is our tail {loss >= VaR}."""
    ref = json.loads((DATA / "orcl_metrics_reference.json").read_text())
    adj = np.ascontiguousarray(np.loadtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skiprows=1, usecols=5))
    r = metrics.returns_from_equity(adj)
    for c in (0.95, 0.99):
        est = risk.historical_var(r, c)
        got = ref["cases"]["buy_and_hold"]["metrics"]
        np.testing.assert_allclose(-est.var, got[f"value_at_risk_{round(c * 100)}"], rtol=1e-12)
        np.testing.assert_allclose(-est.cvar, got[f"conditional_value_at_risk_{round(c * 100)}"], rtol=1e-12)


@given(x=matrices(max_t=60, max_n=6).filter(lambda a: a.shape[0] >= 3), lam=st.floats(0.8, 0.999))
@settings(max_examples=min(int(EXAMPLES or 60), 60), deadline=None)
def test_covariances_against_numpy(x: np.ndarray, lam: float) -> None:
    scale = max(float(np.abs(x).max()), 1e-300) ** 2
    np.testing.assert_allclose(risk.covariance(x), np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], -1),
                               rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(risk.covariance(x, 0), np.cov(x, rowvar=False, ddof=0).reshape(x.shape[1], -1),
                               rtol=1e-9, atol=1e-12 * scale)
    age = np.arange(x.shape[0])[::-1]
    weights = lam**age
    np.testing.assert_allclose(risk.ewma_covariance(x, lam),
                               np.cov(x, rowvar=False, aweights=weights, bias=True).reshape(x.shape[1], -1),
                               rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(risk.ewma_covariance(x, lam, demean=False), (x * weights[:, None]).T @ x / weights.sum(),
                               rtol=1e-9, atol=1e-12 * scale)
    if (np.ptp(x, axis=0) > 1e-6).all():
        with np.errstate(all="ignore"):
            expected = np.corrcoef(x, rowvar=False).reshape(x.shape[1], -1)
        np.testing.assert_allclose(risk.correlation(x), expected, rtol=1e-9, atol=1e-9)


@heavy
def test_monte_carlo_converges_to_the_closed_form() -> None:
    """1M scenarios of a 10-asset normal portfolio: VaR and CVaR within 1% of z*s - m and
    s*phi(z)/(1-a) - m."""
    w, mu, cov = ten_asset_portfolio()
    for c in (0.95, 0.99):
        est = risk.monte_carlo_var(w, mu, cov, confidence=c, n_scenarios=1_000_000, seed=11, threads=2)
        exact = risk.parametric_var(w, mu, cov, c)
        s = math.sqrt(w @ cov @ w)
        z = NormalDist().inv_cdf(c)
        assert exact.var == pytest.approx(z * s - w @ mu, rel=1e-12)
        assert exact.cvar == pytest.approx(s * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / (1 - c) - w @ mu,
                                           rel=1e-12)
        assert est.var == pytest.approx(exact.var, rel=0.01)
        assert est.cvar == pytest.approx(exact.cvar, rel=0.01)


# -- reproducibility and threads ----------------------------------------------------------------


@needs_compiled
def test_same_numbers_whatever_the_thread_count() -> None:
    w, mu, cov = ten_asset_portfolio()
    n = 3 * risk.MC_CHUNK * 5 + 17  # 16 chunks, the last one partial
    base = risk.monte_carlo_losses(w, mu, cov, n_scenarios=n, seed=99, threads=1)
    for threads in (2, 3, 7, 16, 64):
        assert np.array_equal(risk.monte_carlo_losses(w, mu, cov, n_scenarios=n, seed=99, threads=threads), base)
    assert risk.monte_carlo_var(w, mu, cov, n_scenarios=n, seed=99, threads=5) == risk.var_cvar(base, 0.99)


def test_seeds_reproduce_and_differ() -> None:
    w, mu, cov = ten_asset_portfolio()
    a = risk.monte_carlo_var(w, mu, cov, n_scenarios=20_000, seed=1)
    assert a == risk.monte_carlo_var(w, mu, cov, n_scenarios=20_000, seed=1)
    assert a != risk.monte_carlo_var(w, mu, cov, n_scenarios=20_000, seed=2)
    # a longer run extends a shorter one: scenario i does not depend on n_scenarios
    short = risk.monte_carlo_losses(w, mu, cov, n_scenarios=5000, seed=3)
    assert np.array_equal(risk.monte_carlo_losses(w, mu, cov, n_scenarios=9000, seed=3)[:5000], short)


def test_semi_definite_covariance_is_accepted() -> None:
    """Two perfectly correlated assets: the second Cholesky column is zero and the risk is that of
    one asset; a rank-deficient sample covariance factors too."""
    cov = np.array([[0.25, 0.25], [0.25, 0.25]])
    chol = risk.cholesky(cov)
    assert chol.lower.tolist() == [[0.5, 0.0], [0.5, 0.0]] and chol.rank == 1
    est = risk.monte_carlo_var(np.array([0.5, 0.5]), np.zeros(2), cov, n_scenarios=100_000, seed=8)
    assert est.var == pytest.approx(NormalDist().inv_cdf(0.99) * 0.5, rel=0.02)
    x = np.random.default_rng(4).normal(0, 0.01, (3, 6))  # 3 observations of 6 assets: rank 2
    sample = risk.covariance(x)
    chol = risk.cholesky(sample)
    assert chol.rank == 2
    np.testing.assert_allclose(chol.factor @ chol.factor.T, sample, rtol=0, atol=1e-15)


def test_cholesky_of_a_positive_definite_matrix_is_numpys_up_to_the_pivoting() -> None:
    _, _, cov = ten_asset_portfolio()
    chol = risk.cholesky(cov)
    assert chol.rank == 10
    np.testing.assert_allclose(chol.lower, np.linalg.cholesky(cov[chol.perm][:, chol.perm]), rtol=1e-12,
                               atol=1e-15)
    assert chol.perm[0] == int(np.argmax(np.diag(cov)))


# -- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
def test_lengths_zero_and_one(impl) -> None:
    est = impl.historical_var(np.empty(0), 0.99)
    assert math.isnan(est.var) and math.isnan(est.cvar)
    assert impl.historical_var(np.array([0.02]), 0.99) == (-0.02, -0.02)
    assert impl.historical_var(np.array([np.nan, -0.03, np.nan]), 0.5) == (0.03, 0.03)
    roll = impl.rolling_historical_var(np.empty(0), 5, 0.9)
    assert roll.var.shape == roll.cvar.shape == (0,)
    roll = impl.rolling_historical_var(np.array([0.01, 0.02]), 5, 0.9)  # window longer than the data
    assert np.isnan(roll.var).all()
    assert impl.monte_carlo_losses(np.ones(1), np.zeros(1), np.eye(1), n_scenarios=1, seed=0).shape == (1,)
    assert impl.covariance(np.empty((0, 2))).shape == (2, 2)
    assert np.isnan(impl.covariance(np.empty((0, 2)))).all()
    assert np.isnan(impl.covariance(np.ones((1, 2)))).all()  # t - ddof <= 0
    assert impl.covariance(np.ones((1, 2)), 0).tolist() == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
def test_cvar_of_huge_losses_does_not_overflow(impl) -> None:
    est = impl.historical_var(np.array([-1.7e308, -1.6e308, -1.5e308, 0.0]), 0.5)
    assert est.var == pytest.approx(1.55e308) and est.cvar == pytest.approx(1.65e308)  # 1.6 + 1.7 overflows


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
def test_constant_returns(impl) -> None:
    r = np.full(50, -0.01)
    assert impl.historical_var(r, 0.99) == (0.01, 0.01)
    x = np.column_stack([np.full(30, 0.01), np.linspace(-0.01, 0.01, 30)])
    c = impl.covariance(x)
    assert c[0, 0] == 0.0 and c[0, 1] == 0.0
    corr = impl.correlation(x)
    assert math.isnan(corr[0, 0]) and corr[1, 1] == pytest.approx(1.0, abs=1e-15)


# -- bad input ----------------------------------------------------------------------------------

R = np.linspace(-0.02, 0.02, 40)
W, MU, COV = np.array([0.6, 0.4]), np.array([0.001, 0.0]), np.array([[1e-4, 2e-5], [2e-5, 4e-4]])


@pytest.mark.parametrize("impl", [risk, twin], ids=["kernel", "twin"])
@pytest.mark.parametrize(("call", "names"), [
    (lambda m: m.historical_var(R.astype(np.float32)), ["returns", "float64"]),
    (lambda m: m.historical_var(R.tolist()), ["returns", "numpy array"]),
    (lambda m: m.historical_var(R[::2]), ["returns", "contiguous"]),
    (lambda m: m.historical_var(R, 1.0), ["confidence", "between 0 and 1", "got 1.0"]),
    (lambda m: m.historical_var(R, 0.0), ["confidence", "between 0 and 1"]),
    (lambda m: m.historical_var(R, float("nan")), ["confidence"]),
    (lambda m: m.historical_var(np.array([0.01, np.inf])), ["returns", "finite"]),
    (lambda m: m.rolling_historical_var(R, 0), ["window", ">= 1", "got 0"]),
    (lambda m: m.rolling_historical_var(R, -5), ["window", ">= 1"]),
    (lambda m: m.rolling_historical_var(R, 2.5), ["window", "integer"]),
    (lambda m: m.rolling_historical_var(np.array([np.inf, 0.0]), 2), ["returns", "finite"]),
    (lambda m: m.var_cvar(np.array([1.0, np.nan])), ["losses", "finite"]),
    (lambda m: m.var_cvar(np.empty(0)), ["losses", "at least one"]),
    (lambda m: m.covariance(R), ["returns", "2-D"]),
    (lambda m: m.covariance(np.ones((5, 2)), -1), ["ddof", ">= 0"]),
    (lambda m: m.ewma_covariance(np.ones((5, 2)), 0.0), ["lam", "(0, 1]"]),
    (lambda m: m.ewma_covariance(np.ones((5, 2)), 1.5), ["lam", "(0, 1]"]),
    (lambda m: m.ewma_covariance(np.ones((5, 2), np.float32)), ["returns", "float64"]),
    (lambda m: m.cholesky(np.ones((2, 3))), ["cov", "square"]),
    (lambda m: m.cholesky(np.array([[1.0, np.nan], [np.nan, 1.0]])), ["cov", "finite", "cov[0, 1]"]),
    (lambda m: m.cholesky(np.array([[1.0, 0.5], [0.2, 1.0]])), ["cov", "symmetric", "cov[1, 0]"]),
    (lambda m: m.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]])), ["cov", "positive semi-definite", "row 1"]),
    (lambda m: m.cholesky(np.array([[-1.0]])), ["cov", "positive semi-definite", "row 0"]),
    (lambda m: m.monte_carlo_var(W, MU, np.array([[1e-4, 2e-5], [2e-5, -4e-4]])), ["cov", "semi-definite"]),
    (lambda m: m.monte_carlo_var(W, MU, np.array([[1e-4, np.inf], [np.inf, 4e-4]])), ["cov", "finite"]),
    (lambda m: m.monte_carlo_var(W, MU[:1], COV), ["means", "length 1", "weights"]),
    (lambda m: m.monte_carlo_var(W, MU, np.eye(3)), ["cov", "2 x 2"]),
    (lambda m: m.monte_carlo_var(W, MU, COV.astype(np.float32)), ["cov", "float64"]),
    (lambda m: m.monte_carlo_var(W, MU, np.asfortranarray(np.array([[1e-4, 0.0], [2e-5, 4e-4]]).T)),
     ["cov", "contiguous"]),
    (lambda m: m.monte_carlo_var(W.astype(np.int64), MU, COV), ["weights", "float64"]),
    (lambda m: m.monte_carlo_var(np.array([0.5, np.nan]), MU, COV), ["weights", "finite"]),
    (lambda m: m.monte_carlo_var(W, np.array([np.inf, 0.0]), COV), ["means", "finite"]),
    (lambda m: m.monte_carlo_var(np.empty(0), np.empty(0), np.empty((0, 0))), ["weights", "at least one"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, n_scenarios=0), ["n_scenarios", ">= 1"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, seed=-1), ["seed", "2**64"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, seed=2**64), ["seed", "2**64"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, seed=1.5), ["seed"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, threads=0), ["threads", ">= 1"]),
    (lambda m: m.monte_carlo_var(W, MU, COV, confidence=99), ["confidence", "between 0 and 1"]),
    (lambda m: m.monte_carlo_var(np.array([1e300, 1e300]), MU, np.eye(2) * 1e300), ["overflow"]),
])
def test_bad_input_raises_user_error_naming_the_argument(impl, call, names) -> None:
    with pytest.raises(NtUserError) as info:
        call(impl)
    assert isinstance(info.value, ValueError)
    for fragment in names:
        assert fragment in str(info.value)


@needs_compiled
def test_c_status_codes_name_the_argument() -> None:
    """The C kernels check what they are given even when called raw, and report the argument."""
    lib, ffi = risk._lib, risk._ffi

    def buf(a: np.ndarray, require_writable: bool = False):
        return ffi.from_buffer("uint64_t[]" if a.dtype == np.uint64 else "double[]", a, require_writable)

    r = np.linspace(-1, 1, 9)
    scratch, v, cv = np.empty(9), ffi.new("double *"), ffi.new("double *")
    st = lib.nt_risk_hist_var(9, buf(r), 1.5, buf(scratch, require_writable=True), v, cv)
    assert risk.ARGS["nt_risk_hist_var"][(-st) % 256 - 1] == "confidence" and (-st) // 256 == 1
    out = np.empty(9)
    st = lib.nt_risk_rolling_hist_var(9, buf(r), 0, 0.9, buf(scratch, require_writable=True),
                                      buf(out, require_writable=True), buf(out, require_writable=True))
    assert risk.ARGS["nt_risk_rolling_hist_var"][(-st) % 256 - 1] == "window"
    states = np.zeros(4, np.uint64)
    st = lib.nt_risk_mc_losses(1, buf(np.ones(1)), 0.0, buf(states), 10, 0, 2, buf(out, require_writable=True))
    assert risk.ARGS["nt_risk_mc_losses"][(-st) % 256 - 1] == "chunk_end"  # 10 scenarios are one chunk
    st = lib.nt_risk_ewma_covariance(2, 1, buf(r), 0.0, 1, buf(out, require_writable=True),
                                     buf(out, require_writable=True))
    with pytest.raises(NtUserError, match=r"lam must be in \(0, 1\], got 0.0"):
        risk._fail(st, "nt_risk_ewma_covariance", lam=0.0)
    info = np.zeros(2, np.int64)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    st = lib.nt_risk_cholesky(2, buf(bad), buf(np.empty(4), require_writable=True),
                              buf(np.empty(4), require_writable=True), ffi.from_buffer("int64_t[]", np.empty(2, np.int64), True),
                              ffi.new("int64_t *"), ffi.from_buffer("int64_t[]", info, True))
    assert st == -(1 * 256 + 2) and info.tolist() == [twin.NOT_PSD, 1]


def test_families_are_registered() -> None:
    from neural_trader.native import FAMILIES, kernel_statuses

    assert {"metrics", "risk"} <= set(FAMILIES)
    status = {s.name: s for s in kernel_statuses()}
    assert status["risk"].compiled == risk.COMPILED and status["metrics"].compiled == metrics.COMPILED


def test_argument_table_matches_the_c_signatures() -> None:
    """``ARGS`` names each C parameter as the cdef does, so a status code names the right argument."""
    import re

    cdef = " ".join((Path(__file__).resolve().parents[2] / "native" / "risk" / "risk_cdef.h").read_text().split())
    params = {m.group(1): tuple(re.findall(r"(\w+)\s*(?:,|$)", m.group(2)))
              for m in re.finditer(r"\bint (nt_\w+)\(([^)]*)\);", cdef)}
    assert params == risk.ARGS
