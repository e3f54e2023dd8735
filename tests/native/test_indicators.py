"""Indicator kernels: C == numpy twin on random inputs, outside oracles, and bad input."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neural_trader.errors import NtUserError
from neural_trader.native import indicators as ind
from neural_trader.native import indicators_numpy as twin

heavy = pytest.mark.skipif(os.environ.get("NT_VALGRIND") == "1", reason="too slow under valgrind")
needs_compiled = pytest.mark.skipif(not ind.COMPILED, reason=f"compiled kernels unavailable: {ind.STATUS_REASON}")

# -- input strategies ---------------------------------------------------------------------------

#: Prices with two decimals (the exact SMA path), with a few NaN holes.
cents = st.integers(-10**7, 10**7).map(lambda c: c / 100.0)
decimal_series = hnp.arrays(np.float64, st.integers(0, 80),
                            elements=st.one_of(cents, cents, cents, cents, st.just(np.nan)))
#: Anything a float64 can hold: NaN, infinities, subnormals, huge values (the float fallback).
wild_series = hnp.arrays(np.float64, st.integers(0, 60), elements=st.floats(allow_nan=True, allow_infinity=True))
#: Doubles that are not short decimals.
noisy_series = hnp.arrays(np.float64, st.integers(0, 60),
                          elements=st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: v + 1.0 / 3.0))
constant_series = st.builds(lambda v, n: np.full(n, v), st.one_of(cents, st.floats(-1e9, 1e9)), st.integers(0, 40))
series = st.one_of(decimal_series, wild_series, noisy_series, constant_series)
windows = st.integers(1, 70)

PROPERTY = settings(max_examples=int(os.environ.get("NT_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Within 1e-12 relative, NaN where NaN (in practice the twins agree bit for bit)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


# -- kernel == twin -----------------------------------------------------------------------------


@needs_compiled
@PROPERTY
@given(x=series, window=windows)
def test_window_indicators_match_twin(x: np.ndarray, window: int) -> None:
    for name in ("sma", "ema", "rsi", "rolling_max", "rolling_min"):
        assert_same(getattr(ind, name)(x, window), getattr(twin, name)(x, window))
    assert ind.decimal_digits(x, window) == twin.decimal_digits(x, window)


@needs_compiled
@PROPERTY
@given(x=series, window=windows, ddof=st.integers(0, 1), k=st.floats(0, 4))
def test_dispersion_matches_twin(x: np.ndarray, window: int, ddof: int, k: float) -> None:
    ddof = min(ddof, window - 1)
    assert_same(ind.rolling_std(x, window, ddof), twin.rolling_std(x, window, ddof))
    assert_same(ind.zscore(x, window, ddof), twin.zscore(x, window, ddof))
    for a, b in zip(ind.bollinger(x, window, k), twin.bollinger(x, window, k), strict=True):
        assert_same(a, b)


@needs_compiled
@PROPERTY
@given(x=series, fast=st.integers(1, 20), extra=st.integers(1, 20), signal=st.integers(1, 15))
def test_macd_matches_twin(x: np.ndarray, fast: int, extra: int, signal: int) -> None:
    for a, b in zip(ind.macd(x, fast, fast + extra, signal), twin.macd(x, fast, fast + extra, signal), strict=True):
        assert_same(a, b)


@needs_compiled
@PROPERTY
@given(data=st.data(), n=st.integers(0, 60), window=windows)
def test_bar_indicators_match_twin(data: st.DataObject, n: int, window: int) -> None:
    elements = st.one_of(cents, cents, cents, st.just(np.nan), st.floats(allow_nan=True, allow_infinity=True))
    high, low, close = (data.draw(hnp.arrays(np.float64, n, elements=elements)) for _ in range(3))
    assert_same(ind.atr(high, low, close, window), twin.atr(high, low, close, window))
    for a, b in zip(ind.donchian(high, low, window), twin.donchian(high, low, window), strict=True):
        assert_same(a, b)


@needs_compiled
@PROPERTY
@given(data=st.data(), n=st.integers(0, 80))
def test_crossover_matches_twin_exactly(data: st.DataObject, n: int) -> None:
    # Few distinct values so that ties are frequent.
    elements = st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.just(np.nan), st.floats(allow_nan=True))
    fast = data.draw(hnp.arrays(np.float64, n, elements=elements))
    slow = data.draw(hnp.arrays(np.float64, n, elements=elements))
    a, b = ind.crossover(fast, slow), twin.crossover(fast, slow)
    assert a.dtype == b.dtype == np.int8
    assert np.array_equal(a, b)


def backtrader_crossover(fast: list[float], slow: list[float]) -> list[int]:
    """backtrader's CrossOver, transcribed from its NonZeroDifference/_CrossBase (an oracle)."""
    out, nzd_prev = [], float("nan")
    for f, s in zip(fast, slow, strict=True):
        d = f - s
        up = nzd_prev < 0.0 and f > s
        down = nzd_prev > 0.0 and f < s
        out.append(int(up) - int(down))
        nzd_prev = d if d else nzd_prev  # NaN is truthy, as in backtrader
    return out


@PROPERTY
@given(data=st.data(), n=st.integers(0, 80))
def test_crossover_is_backtraders(data: st.DataObject, n: int) -> None:
    elements = st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.just(np.nan))
    fast = data.draw(hnp.arrays(np.float64, n, elements=elements))
    slow = data.draw(hnp.arrays(np.float64, n, elements=elements))
    expected = backtrader_crossover(fast.tolist(), slow.tolist())
    assert ind.crossover(fast, slow).tolist() == expected
    assert twin.crossover(fast, slow).tolist() == expected


@needs_compiled
def test_real_data_bit_identical(orcl: dict[str, np.ndarray]) -> None:
    c, h, lo = orcl["close"], orcl["high"], orcl["low"]
    for name, args in [("sma", (c, 30)), ("ema", (c, 12)), ("rsi", (c, 14)), ("zscore", (c, 20)),
                       ("rolling_std", (c, 20, 1)), ("atr", (h, lo, c, 14)), ("rolling_max", (h, 55))]:
        a, b = getattr(ind, name)(*args), getattr(twin, name)(*args)
        assert np.array_equal(a, b, equal_nan=True), name


# -- semantics ----------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [ind, twin], ids=["kernel", "twin"])
def test_warmup_short_and_empty(impl) -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert np.array_equal(impl.sma(x, 3), [np.nan, np.nan, 2.0, 3.0, 4.0], equal_nan=True)
    assert np.isnan(impl.sma(x, 6)).all()  # shorter than the window
    assert impl.sma(np.empty(0), 3).shape == (0,)
    assert np.array_equal(impl.sma(np.array([7.5]), 1), [7.5])
    assert np.array_equal(impl.rolling_max(x, 2), [np.nan, 2, 3, 4, 5], equal_nan=True)
    assert np.array_equal(impl.ema(x, 3), [np.nan, np.nan, 2.0, 3.0, 4.0], equal_nan=True)
    assert impl.rsi(np.empty(0), 14).shape == (0,)
    assert impl.crossover(np.empty(0), np.empty(0)).shape == (0,)


@pytest.mark.parametrize("impl", [ind, twin], ids=["kernel", "twin"])
def test_nan_rules(impl) -> None:
    x = np.array([np.nan, np.nan, 1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    # A window holding a NaN is NaN.
    assert np.array_equal(impl.sma(x, 2), [np.nan, np.nan, np.nan, 1.5, np.nan, np.nan, 4.5, 5.5], equal_nan=True)
    # Recursions start at the first non-NaN value; a later NaN propagates.
    e = impl.ema(x, 2)
    assert np.isnan(e[:3]).all() and e[3] == 1.5 and np.isnan(e[4:]).all()


@pytest.mark.parametrize("impl", [ind, twin], ids=["kernel", "twin"])
def test_constant_series(impl) -> None:
    x = np.full(50, 12.34)
    assert (impl.sma(x, 10)[9:] == 12.34).all()
    assert (impl.rolling_std(x, 10)[9:] == 0.0).all()
    assert np.isnan(impl.zscore(x, 10)).all()  # flat window: no z-score
    assert (impl.rsi(x, 14)[14:] == 50.0).all()
    assert (impl.crossover(impl.sma(x, 3), impl.sma(x, 7)) == 0).all()


# -- exact SMA: ties on real data -----------------------------------------------------------------


def exact_mean(texts: list[str]) -> Fraction:
    return sum((Fraction(t) for t in texts), Fraction(0)) / len(texts)


@heavy
def test_sma_is_correctly_rounded_mean_of_the_decimals(orcl: dict[str, np.ndarray], orcl_close_text: list[str]) -> None:
    """Oracle: exact rational arithmetic on the CSV's decimal strings (Fraction -> float rounds
    correctly), for every bar and three windows."""
    c = orcl["close"]
    assert ind.decimal_digits(c, 30) == 6
    for window in (10, 30, 200):
        got = ind.sma(c, window)
        sums = [Fraction(0)]
        for t in orcl_close_text:
            sums.append(sums[-1] + Fraction(t))
        want = [float((sums[i + 1] - sums[i + 1 - window]) / window) for i in range(window - 1, len(c))]
        assert got[window - 1:].tolist() == want


def running_sum_sma(x: list[float], window: int) -> list[float]:
    """The textbook streaming SMA (add the new value, subtract the old): it drifts."""
    out, s = [], 0.0
    for i, v in enumerate(x):
        s += v
        if i >= window:
            s -= x[i - window]
        out.append(s / window if i >= window - 1 else float("nan"))
    return out


@heavy
@pytest.mark.parametrize(("fast_w", "slow_w"), [(10, 30), (5, 10), (2, 6)])
def test_sma_ties_on_orcl_are_ties(orcl: dict[str, np.ndarray], orcl_close_text: list[str], fast_w: int,
                                   slow_w: int) -> None:
    """Wherever two SMAs of the real closes are mathematically equal they compare equal, and
    nowhere else; the streaming float sum misses some of these ties (and would flip trades)."""
    c = orcl["close"]
    fast, slow = ind.sma(c, fast_w), ind.sma(c, slow_w)
    exact_ties = [i for i in range(slow_w - 1, len(c))
                  if exact_mean(orcl_close_text[i - fast_w + 1:i + 1]) == exact_mean(orcl_close_text[i - slow_w + 1:i + 1])]
    assert exact_ties, "the ORCL file has ties for these windows; this test relies on them"
    assert np.flatnonzero(fast == slow).tolist() == exact_ties
    naive_fast, naive_slow = running_sum_sma(c.tolist(), fast_w), running_sum_sma(c.tolist(), slow_w)
    naive_ties = [i for i in range(len(c)) if naive_fast[i] == naive_slow[i]]
    assert set(naive_ties) != set(exact_ties)


def test_tie_does_not_flip_crossover(orcl: dict[str, np.ndarray]) -> None:
    """At a tie the crossover keeps its side: no spurious +1/-1 pair around it."""
    c = orcl["close"]
    fast, slow = ind.sma(c, 10), ind.sma(c, 30)
    cross = ind.crossover(fast, slow)
    for i in np.flatnonzero(fast == slow):
        assert cross[i] == 0
    expected = backtrader_crossover(fast.tolist(), slow.tolist())
    assert cross.tolist() == expected


def test_decimal_fallback_is_documented_path() -> None:
    thirds = np.arange(1, 40) / 3.0
    assert ind.decimal_digits(thirds, 5) == -1
    assert ind.decimal_digits(np.array([1.0, np.inf]), 2) == -1
    assert ind.decimal_digits(np.array([0.1, 0.25, np.nan]), 2) == 2
    # Window sums that could leave the exact double range fall back too.
    assert ind.decimal_digits(np.array([2.0**50]), 16) == -1
    got = ind.sma(thirds, 5)
    want = np.array([sum(thirds[i - 4:i + 1].tolist()) / 5 for i in range(4, len(thirds))])
    np.testing.assert_allclose(got[4:], want, rtol=1e-15)


# -- outside oracles ----------------------------------------------------------------------------

#: StockCharts ChartSchool "Relative Strength Index (RSI)" worked example (cs-rsi.xls: QQQQ closes
#: Dec 2009 - Feb 2010; the sheet shows 2 decimals but computes on these 4) and its published
#: 14-day RSI column, rounded to 2 decimals. The first value to 8 decimals, 70.53278948, is the one
#: PyAlgoTrade's RSI test asserts for the same closes.
STOCKCHARTS_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
    46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
    45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]
STOCKCHARTS_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46,
    41.87, 45.46, 37.30, 33.08, 37.77,
]


@pytest.mark.parametrize("impl", [ind, twin], ids=["kernel", "twin"])
def test_rsi_stockcharts_worked_example(impl) -> None:
    rsi = impl.rsi(np.array(STOCKCHARTS_CLOSES), 14)
    assert np.isnan(rsi[:14]).all()
    assert np.round(rsi[14:], 2).tolist() == STOCKCHARTS_RSI
    assert round(float(rsi[14]), 8) == 70.53278948


def test_indicators_against_pandas(orcl: dict[str, np.ndarray]) -> None:
    pd = pytest.importorskip("pandas")
    c = pd.Series(orcl["close"])
    np.testing.assert_allclose(ind.sma(orcl["close"], 20), c.rolling(20).mean(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ind.rolling_std(orcl["close"], 20, 1), c.rolling(20).std(ddof=1), rtol=1e-9,
                               equal_nan=True)
    np.testing.assert_allclose(ind.rolling_max(orcl["close"], 20), c.rolling(20).max(), rtol=0, equal_nan=True)


# -- bad input ----------------------------------------------------------------------------------

X = np.arange(10.0)


@pytest.mark.parametrize("impl", [ind, twin], ids=["kernel", "twin"])
@pytest.mark.parametrize(("call", "names"), [
    (lambda m: m.sma(X.astype(np.float32), 3), ["x", "float64"]),
    (lambda m: m.sma(X.tolist(), 3), ["x", "numpy array"]),
    (lambda m: m.sma(X.reshape(2, 5), 3), ["x", "1-D"]),
    (lambda m: m.sma(X[::2], 3), ["x", "contiguous"]),
    (lambda m: m.sma(X, 0), ["window", ">= 1", "got 0"]),
    (lambda m: m.ema(X, -3), ["window", ">= 1"]),
    (lambda m: m.sma(X, 2.5), ["window", "integer"]),
    (lambda m: m.sma(X, True), ["window", "integer"]),
    (lambda m: m.sma(X, 2**70), ["window", "64 bits"]),
    (lambda m: m.rolling_std(X, 3, 3), ["ddof", "ddof < window"]),
    (lambda m: m.bollinger(X, 3, -1.0), ["k", ">= 0"]),
    (lambda m: m.bollinger(X, 3, float("nan")), ["k", ">= 0"]),
    (lambda m: m.macd(X, 12, 12, 9), ["slow", "greater than fast"]),
    (lambda m: m.macd(X, 0, 12, 9), ["fast", ">= 1"]),
    (lambda m: m.macd(X, 3, 12, 0), ["signal", ">= 1"]),
    (lambda m: m.crossover(X, X[:5]), ["slow", "length 5", "fast"]),
    (lambda m: m.atr(X, X, X[:3], 14), ["close", "length 3"]),
    (lambda m: m.donchian(X, X.astype(np.int64), 3), ["low", "float64"]),
])
def test_bad_input_raises_user_error_naming_the_argument(impl, call, names) -> None:
    with pytest.raises(NtUserError) as info:
        call(impl)
    assert isinstance(info.value, ValueError)
    for fragment in names:
        assert fragment in str(info.value)


@needs_compiled
def test_c_status_codes_name_the_argument() -> None:
    """The C kernels check scalars themselves: called raw, they report the argument's position."""
    from neural_trader.native._buffers import raise_for_status

    lib, ffi = ind._lib, ind._ffi
    x = np.arange(5.0)
    out = np.empty(5)
    st = lib.nt_sma(ffi.from_buffer("double[]", x), 5, 0, ffi.from_buffer("double[]", out, require_writable=True))
    assert st == -(1 * 256 + 3)
    with pytest.raises(NtUserError, match="window must be >= 1, got 0"):
        raise_for_status(st, "nt_sma", ind.ARGS["nt_sma"], {"window": 0}, twin.RULES)
    outs = [ffi.from_buffer("double[]", np.empty(5), require_writable=True) for _ in range(3)]
    st = lib.nt_macd(ffi.from_buffer("double[]", x), 5, 5, 3, 2, *outs)
    assert ind.ARGS["nt_macd"][(-st) % 256 - 1] == "slow"
