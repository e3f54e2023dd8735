"""Correlation: Pearson against numpy.corrcoef, Spearman against scipy.stats.spearmanr, rolling
correlations against a direct per-window numpy computation, the clustering order on two blocks of
correlated assets, and the heatmap PNG's signature and pixel size."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk.correlation import (
    cluster_order,
    clustered_heatmap_png,
    correlation_matrix,
    rolling_correlation,
    rolling_correlations,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def orcl_nvda() -> np.ndarray:
    """Aligned daily Adj Close returns of ORCL and NVDA over their common dates."""
    cols = {}
    for sym, file in (("ORCL", "orcl-1995-2014.txt"), ("NVDA", "nvda-1999-2014.txt")):
        dates = np.loadtxt(DATA / file, delimiter=",", skiprows=1, usecols=0, dtype=str)
        adj = np.loadtxt(DATA / file, delimiter=",", skiprows=1, usecols=5)
        cols[sym] = dict(zip(dates, adj, strict=True))
    common = sorted(set(cols["ORCL"]) & set(cols["NVDA"]))
    prices = np.array([[cols["ORCL"][d], cols["NVDA"][d]] for d in common])
    return prices[1:] / prices[:-1] - 1.0


def blocks(seed: int = 3, t: int = 500) -> tuple[np.ndarray, list[str]]:
    """Six assets in two blocks (a0..a2 driven by one factor, b0..b2 by another), interleaved."""
    rng = np.random.default_rng(seed)
    f, g = rng.standard_normal(t), rng.standard_normal(t)
    cols = {f"a{i}": f + 0.3 * rng.standard_normal(t) for i in range(3)}
    cols |= {f"b{i}": g + 0.3 * rng.standard_normal(t) for i in range(3)}
    names = ["a0", "b0", "a1", "b1", "a2", "b2"]
    return np.column_stack([cols[n] for n in names]) * 0.01, names


def test_pearson_and_spearman_on_real_returns() -> None:
    r = orcl_nvda()
    pearson = correlation_matrix(r, symbols=["ORCL", "NVDA"])
    np.testing.assert_allclose(pearson.matrix, np.corrcoef(r, rowvar=False), rtol=1e-12)
    assert pearson.n_obs == r.shape[0] and pearson.as_dict()["ORCL"]["NVDA"] == pytest.approx(pearson.matrix[0, 1])
    spearman = correlation_matrix(r.tolist(), method="spearman")
    rho = stats.spearmanr(r).statistic
    assert spearman.matrix[0, 1] == pytest.approx(rho, rel=1e-12)
    assert spearman.symbols == ("asset0", "asset1")
    x, _ = blocks()
    np.testing.assert_allclose(correlation_matrix(x, method="spearman").matrix, stats.spearmanr(x).statistic,
                               rtol=1e-12)


def test_rolling_correlation_against_per_window_numpy() -> None:
    r = orcl_nvda()[:400]
    w = 60
    got = rolling_correlation(r[:, 0], r[:, 1], w)
    assert np.isnan(got[: w - 1]).all()
    want = [np.corrcoef(r[t - w + 1 : t + 1, 0], r[t - w + 1 : t + 1, 1])[0, 1] for t in range(w - 1, len(r))]
    np.testing.assert_allclose(got[w - 1 :], want, rtol=1e-10)
    x, _ = blocks(t=1200)  # more windows than one chunk
    allpairs = rolling_correlations(x, 30)
    assert allpairs.shape == (1200, 6, 6)
    for t in (29, 511, 540, 1199):
        np.testing.assert_allclose(allpairs[t], np.corrcoef(x[t - 29 : t + 1], rowvar=False), rtol=1e-10)


def test_cluster_order_groups_the_blocks() -> None:
    x, names = blocks()
    c = correlation_matrix(x, symbols=names)
    order = cluster_order(c)
    first, second = frozenset(order.symbols[:3]), frozenset(order.symbols[3:])
    assert {first, second} == {frozenset({"a0", "a1", "a2"}), frozenset({"b0", "b1", "b2"})}
    np.testing.assert_allclose(order.matrix, c.matrix[np.ix_(order.order, order.order)])
    assert order.linkage.shape == (5, 4)
    # The plain-matrix form gives the same order.
    assert cluster_order(c.matrix, symbols=names).order == order.order


def test_heatmap_png() -> None:
    pytest.importorskip("matplotlib")
    x, names = blocks()
    png = clustered_heatmap_png(correlation_matrix(x, symbols=names), width=4.0, height=3.0, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (200, 150)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: correlation_matrix([[0.1, 0.2]]), "returns needs at least 3 observations per asset, got 1"),
    (lambda: correlation_matrix([0.1, 0.2, 0.3]), "returns must be a 2-D"),
    (lambda: correlation_matrix([[0.1, float("nan")]] * 4), r"returns\[0, 1\] is nan"),
    (lambda: correlation_matrix([[0.1, 0.2], [0.1, 0.3], [0.1, 0.1]], symbols=["X", "Y"]), "returns of X are constant"),
    (lambda: correlation_matrix(np.ones((5, 2)).cumsum(0), symbols=["X"]), "symbols has 1 names"),
    (lambda: correlation_matrix(np.eye(4), method="kendall"), "method must be one of"),
    (lambda: rolling_correlation([1.0, 2.0, 3.0], [1.0, 2.0], 3), "y has length 2"),
    (lambda: rolling_correlation([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], 5), "window"),
    (lambda: cluster_order([[1.0, 2.0], [2.0, 1.0]]), r"corr must hold finite correlations in \[-1, 1\]"),
    (lambda: cluster_order(np.eye(2), method="median2"), "method must be one of"),
])
def test_errors(call, message: str) -> None:
    with pytest.raises(NtUserError, match=message):
        call()
