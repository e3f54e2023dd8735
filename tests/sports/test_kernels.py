"""The betting kernels (native/sports) against their numpy twin (bit for bit, held to 1e-12) and
against the pure-Python functions they vectorise: ``arbitrage.scan_arbitrage``/``find_arbitrage``
and ``margins.remove_margin(..., "shin")`` (itself held to the shin package in test_margins)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.errors import NtUserError
from neural_trader.native import sports, sports_numpy
from neural_trader_plugins.sports.arbitrage import MarketQuotes, find_arbitrage, scan_arbitrage
from neural_trader_plugins.sports.margins import remove_margin


def _odds(seed: int, shape: tuple[int, ...], missing: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = 1.0 + rng.exponential(1.5, size=shape) + 1e-9
    a[rng.random(shape) < missing] = np.nan
    return a


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), events=st.integers(0, 30), books=st.integers(1, 8),
       outcomes=st.integers(2, 4), missing=st.sampled_from([0.0, 0.3, 0.9]))
def test_scan_kernel_twin_and_python_agree(seed: int, events: int, books: int, outcomes: int, missing: float) -> None:
    odds = _odds(seed, (events, books, outcomes), missing)
    k, t = sports.arbitrage_scan(odds), sports_numpy.arbitrage_scan(odds)
    for x, y in zip(k, t, strict=True):
        _same(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    ref = scan_arbitrage(odds)                            # the arbitrages, pure numpy, as before
    complete = np.isfinite(k.booksum)
    assert ref.n_complete == int(complete.sum())
    arbs = complete & (k.booksum < 1.0) & (1.0 / k.booksum - 1.0 > 0.0)
    assert sorted(ref.event_index.tolist()) == np.flatnonzero(arbs).tolist()
    _same(k.booksum[ref.event_index], ref.booksum)
    _same(k.best[ref.event_index], ref.best_odds)
    for e in np.flatnonzero(complete)[:5]:                # and market by market against find_arbitrage
        books_odds = {str(j): tuple(None if np.isnan(x) else float(x) for x in odds[e, j]) for j in range(books)}
        one = find_arbitrage(MarketQuotes(event="e", market="h2h", line=None,
                                          outcomes=tuple(str(i) for i in range(outcomes)), odds=books_odds))
        assert k.best[e].tolist() == list(one.best_odds)
        assert k.booksum[e] == pytest.approx(one.booksum, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), markets=st.integers(0, 40), outcomes=st.integers(2, 6))
def test_shin_kernel_twin_and_remove_margin_agree(seed: int, markets: int, outcomes: int) -> None:
    rng = np.random.default_rng(seed)
    fair = rng.dirichlet(np.ones(outcomes), size=markets)
    odds = np.ascontiguousarray(1.0 / (fair * rng.uniform(1.0, 1.2, size=(markets, 1))))
    odds = np.maximum(odds, 1.0 + 1e-6)
    k, t = sports.shin(odds), sports_numpy.shin(odds)
    _same(k.z, t.z)
    _same(k.probabilities, t.probabilities)
    for m in range(min(markets, 6)):
        if np.isnan(k.z[m]):
            assert np.sum(1.0 / odds[m]) < 1.0
            continue
        ref = remove_margin(odds[m], "shin")
        assert k.z[m] == pytest.approx(ref.parameter, abs=1e-12)
        np.testing.assert_allclose(k.probabilities[m], ref.probabilities, rtol=0, atol=1e-12)


def test_shin_without_margin_and_exact_books() -> None:
    got = sports.shin(np.array([[2.0, 2.0], [2.1, 2.1]]))
    assert got.z[0] == 0.0 and got.probabilities[0].tolist() == [0.5, 0.5]
    assert np.isnan(got.z[1]) and np.isnan(got.probabilities[1]).all()


@pytest.mark.parametrize("module", [sports, sports_numpy])
def test_bad_input_is_refused_the_same_way(module: object) -> None:
    with pytest.raises(NtUserError, match="odds must hold decimal odds > 1"):
        module.arbitrage_scan(np.array([[[2.0, 0.9]]]))  # type: ignore[attr-defined]
    with pytest.raises(NtUserError, match="odds must hold decimal odds > 1"):
        module.shin(np.array([[2.0, np.inf]]))  # type: ignore[attr-defined]
    with pytest.raises(NtUserError, match="n_outcomes must be >= 2"):
        module.shin(np.array([[2.0]]))  # type: ignore[attr-defined]
    with pytest.raises(NtUserError, match="float64"):
        module.arbitrage_scan(np.ones((2, 2, 2), dtype=np.float32))  # type: ignore[attr-defined]
    with pytest.raises(NtUserError, match="C-contiguous"):
        module.shin(np.full((3, 4), 2.0)[:, ::2])  # type: ignore[attr-defined]


def test_the_compiled_kernel_is_built_here() -> None:
    if not sports.COMPILED:
        pytest.skip(f"not built: {sports.STATUS_REASON}")
    assert sports.STATUS_REASON is None
