"""Metrics kernels: C == numpy twin on random inputs, empyrical on real ORCL returns, worked
values, edge cases and bad input."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neural_trader.errors import NtUserError
from neural_trader.native import metrics
from neural_trader.native import metrics_numpy as twin

DATA = Path(__file__).resolve().parents[1] / "data"

needs_compiled = pytest.mark.skipif(not metrics.COMPILED,
                                    reason=f"compiled kernels unavailable: {metrics.STATUS_REASON}")
PROPERTY = settings(max_examples=int(os.environ.get("NT_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
INTEGER_FIELDS = ("n_periods", "n_valid", "max_drawdown_duration", "n_wins", "n_losses")

# -- input strategies ---------------------------------------------------------------------------

daily = st.floats(-0.3, 0.3)
ticks = st.integers(-300, 300).map(lambda k: k / 10_000.0)
returns_series = st.one_of(
    hnp.arrays(np.float64, st.integers(0, 150), elements=st.one_of(daily, ticks, ticks, st.just(0.0), st.just(np.nan))),
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_nan=True, allow_infinity=True)),
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.one_of(st.floats(-1.0, 5.0), st.just(-1.0))),
    st.builds(lambda v, n: np.full(n, v), st.one_of(ticks, daily, st.just(np.nan)), st.integers(0, 30)),
)
rates = st.one_of(st.just(0.0), st.floats(-0.001, 0.001))
periods = st.one_of(st.sampled_from([252.0, 52.0, 12.0, 365.25, 1.0]), st.floats(0.5, 1e5))


def assert_same(a: twin.Metrics, b: twin.Metrics) -> None:
    """Integers exactly; floats within 1e-12 relative, NaN where NaN (in practice bit for bit)."""
    for name in twin.Metrics._fields:
        x, y = getattr(a, name), getattr(b, name)
        if name in INTEGER_FIELDS:
            assert type(x) is int and type(y) is int and x == y, name
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)


def orcl_returns() -> tuple[np.ndarray, np.ndarray]:
    """Simple returns of ORCL's Adj Close, and the Close column."""
    cols = np.loadtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skiprows=1, usecols=(4, 5))
    close, adj = np.ascontiguousarray(cols[:, 0]), np.ascontiguousarray(cols[:, 1])
    return metrics.returns_from_equity(adj), close


# -- kernel == twin -----------------------------------------------------------------------------


@needs_compiled
@PROPERTY
@given(r=returns_series, ppy=periods, rf=rates, req=rates)
def test_summary_matches_twin(r: np.ndarray, ppy: float, rf: float, req: float) -> None:
    kw = {"periods_per_year": ppy, "risk_free": rf, "required_return": req}
    assert_same(metrics.summary(r, **kw), twin.summary(r, **kw))


@needs_compiled
@PROPERTY
@given(data=st.data(), r=returns_series)
def test_summary_with_positions_matches_twin(data: st.DataObject, r: np.ndarray) -> None:
    positions = data.draw(hnp.arrays(np.float64, r.shape[0],
                                     elements=st.one_of(st.just(0.0), st.just(1.0), st.just(-0.5), st.just(np.nan))))
    assert_same(metrics.summary(r, positions=positions), twin.summary(r, positions=positions))


@needs_compiled
@PROPERTY
@given(r=returns_series)
def test_drawdown_matches_twin(r: np.ndarray) -> None:
    np.testing.assert_allclose(metrics.drawdown(r), twin.drawdown(r), rtol=1e-12, atol=0, equal_nan=True)


@needs_compiled
@PROPERTY
@given(e=hnp.arrays(np.float64, st.integers(0, 100), elements=st.floats(1e-300, 1e300)))
def test_returns_from_equity_matches_twin(e: np.ndarray) -> None:
    assert np.array_equal(metrics.returns_from_equity(e), twin.returns_from_equity(e), equal_nan=True)


@needs_compiled
def test_orcl_bit_identical() -> None:
    r, _ = orcl_returns()
    for kw in ({}, {"risk_free": 0.0001, "required_return": 0.0002}, {"periods_per_year": 52}):
        assert metrics.summary(r, **kw) == twin.summary(r, **kw)
    assert np.array_equal(metrics.drawdown(r), twin.drawdown(r))


# -- outside oracle: empyrical on ORCL ----------------------------------------------------------


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_orcl_against_empyrical(impl) -> None:
    """tests/data/orcl_metrics_reference.json was computed by empyrical-reloaded (and pandas for the
    metrics empyrical lacks); bench/reference/metrics_reference.py says how."""
    ref = json.loads((DATA / "orcl_metrics_reference.json").read_text())
    r, close = orcl_returns()
    assert ref["n_returns"] == r.shape[0]
    lag = ref["momentum_lag"]
    signal = np.zeros(close.shape[0])
    signal[lag:] = (close[lag:] > close[:-lag]).astype(np.float64)
    positions = np.ascontiguousarray(signal[:-1])
    strategy = positions * r
    checked = 0
    for name, case in ref["cases"].items():
        series, pos = (strategy, positions) if name == "momentum" else (r, None)
        got = impl.summary(series, positions=pos, **case["params"])
        for field, expected in case["metrics"].items():
            if field not in twin.Metrics._fields:
                continue  # the VaR entries belong to test_risk.py
            value = getattr(got, field)
            if field in INTEGER_FIELDS:
                assert value == expected, (name, field)
            else:
                assert value == pytest.approx(expected, rel=1e-12, abs=0), (name, field)
            checked += 1
    assert checked == 4 * 15


# -- worked values ------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_worked_example(impl) -> None:
    """Four periods worked by hand: wealth 1.01, 0.9898, 1.019494, 1.019494."""
    r = np.array([0.01, -0.02, 0.03, 0.0])
    m = impl.summary(r, periods_per_year=4)
    assert m.total_return == pytest.approx(0.019494, rel=1e-12)
    assert m.cagr == pytest.approx(0.019494, rel=1e-12)  # exactly one year of quarters
    assert m.max_drawdown == pytest.approx(-0.02, rel=1e-12)
    assert m.max_drawdown_duration == 1
    assert m.calmar == pytest.approx(0.019494 / 0.02, rel=1e-12)
    sd = math.sqrt(sum((v - 0.005) ** 2 for v in r) / 3)
    assert m.annual_volatility == pytest.approx(sd * 2, rel=1e-12)
    assert m.sharpe == pytest.approx(0.005 / sd * 2, rel=1e-12)
    downside = math.sqrt(0.02**2 / 4) * 2
    assert m.downside_risk == pytest.approx(downside, rel=1e-12)
    assert m.sortino == pytest.approx(0.005 * 4 / downside, rel=1e-12)
    assert (m.n_wins, m.n_losses) == (2, 1)
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(0.04 / 0.02, rel=1e-12)
    assert m.expectancy == pytest.approx(0.02 / 3, rel=1e-12)
    assert m.exposure == 0.75
    assert impl.summary(r, positions=np.array([1.0, 1.0, 0.0, 0.0])).exposure == 0.5


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_drawdown_duration_counts_unrecovered_drawdowns(impl) -> None:
    r = np.array([0.1, -0.1, 0.05, 0.06, -0.5, 0.1, 0.1])
    # wealth 1.1, .99, 1.0395, 1.10187 (new high), .550935, .606, .667: the last three are under water
    assert impl.summary(r).max_drawdown_duration == 3
    np.testing.assert_allclose(impl.drawdown(r)[:4], [0.0, -0.1, -0.055, 0.0], atol=1e-15)


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_equity_curve_gives_the_same_metrics_as_its_returns(impl) -> None:
    equity = np.array([100.0, 101.0, 98.98, 101.9494, 101.9494])
    r = impl.returns_from_equity(equity)
    np.testing.assert_allclose(r, [0.01, -0.02, 0.03, 0.0], atol=1e-15)
    assert impl.summary_from_equity(equity) == impl.summary(r)


# -- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_lengths_zero_and_one(impl) -> None:
    empty = impl.summary(np.empty(0))
    assert (empty.n_periods, empty.n_valid, empty.max_drawdown_duration, empty.n_wins) == (0, 0, 0, 0)
    for field in ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown", "calmar",
                  "win_rate", "profit_factor", "expectancy", "exposure", "downside_risk"):
        assert math.isnan(getattr(empty, field)), field
    one = impl.summary(np.array([0.05]))
    assert one.total_return == pytest.approx(0.05) and one.max_drawdown == 0.0
    assert math.isnan(one.annual_volatility) and math.isnan(one.sharpe) and math.isnan(one.sortino)  # as empyrical
    assert one.profit_factor == math.inf and one.win_rate == 1.0
    assert impl.returns_from_equity(np.array([5.0])).shape == (0,)
    assert impl.drawdown(np.empty(0)).shape == (0,)


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
def test_constant_and_nan_series(impl) -> None:
    flat = impl.summary(np.full(100, 0.001))
    assert flat.annual_volatility == 0.0  # exactly: empyrical's zero-dispersion rule
    assert flat.sharpe == math.inf and flat.max_drawdown == 0.0 and flat.max_drawdown_duration == 0
    zero = impl.summary(np.zeros(10))
    assert math.isnan(zero.sharpe) and math.isnan(zero.win_rate) and zero.exposure == 0.0
    holes = np.array([0.01, np.nan, -0.02, np.nan, 0.03])
    m = impl.summary(holes)
    assert (m.n_periods, m.n_valid) == (5, 3)
    assert m.total_return == impl.summary(np.array([0.01, 0.0, -0.02, 0.0, 0.03])).total_return
    assert m.sharpe == impl.summary(np.array([0.01, -0.02, 0.03])).sharpe  # NaN left out of the moments
    nan_only = impl.summary(np.full(3, np.nan))
    assert nan_only.total_return == 0.0 and math.isnan(nan_only.sharpe)


# -- bad input ----------------------------------------------------------------------------------

R = np.linspace(-0.02, 0.02, 30)


@pytest.mark.parametrize("impl", [metrics, twin], ids=["kernel", "twin"])
@pytest.mark.parametrize(("call", "names"), [
    (lambda m: m.summary(R.astype(np.float32)), ["returns", "float64"]),
    (lambda m: m.summary(R.tolist()), ["returns", "numpy array"]),
    (lambda m: m.summary(R.reshape(5, 6)), ["returns", "1-D"]),
    (lambda m: m.summary(R[::3]), ["returns", "contiguous"]),
    (lambda m: m.summary(R, positions=R[:5]), ["positions", "length 5", "returns"]),
    (lambda m: m.summary(R, positions=R.astype(np.int64)), ["positions", "float64"]),
    (lambda m: m.summary(R, periods_per_year=0), ["periods_per_year", "> 0", "got 0"]),
    (lambda m: m.summary(R, periods_per_year=-252), ["periods_per_year", "> 0"]),
    (lambda m: m.summary(R, periods_per_year=float("inf")), ["periods_per_year", "finite"]),
    (lambda m: m.summary(R, periods_per_year="daily"), ["periods_per_year", "number"]),
    (lambda m: m.summary(R, risk_free=float("nan")), ["risk_free", "finite"]),
    (lambda m: m.summary(R, required_return=float("inf")), ["required_return", "finite"]),
    (lambda m: m.returns_from_equity(np.array([100.0, 0.0, 50.0])), ["equity", "> 0"]),
    (lambda m: m.returns_from_equity(np.array([100.0, -5.0])), ["equity", "> 0"]),
    (lambda m: m.returns_from_equity(np.array([100.0, np.nan])), ["equity", "finite"]),
    (lambda m: m.summary_from_equity(np.array([1.0, 2.0, 3.0]), positions=np.ones(3)), ["positions", "length 3"]),
])
def test_bad_input_raises_user_error_naming_the_argument(impl, call, names) -> None:
    with pytest.raises(NtUserError) as info:
        call(impl)
    assert isinstance(info.value, ValueError)
    for fragment in names:
        assert fragment in str(info.value)


@needs_compiled
def test_c_status_codes_name_the_argument() -> None:
    """The C kernels check scalars and values themselves when called raw."""
    lib, ffi = metrics._lib, metrics._ffi
    r = np.linspace(-0.01, 0.01, 5)
    out = ffi.new("nt_metrics *")
    buf = ffi.from_buffer("double[]", r)
    for ppy, rf, req, name in ((0.0, 0.0, 0.0, "periods_per_year"), (252.0, math.nan, 0.0, "risk_free"),
                               (252.0, 0.0, math.inf, "required_return")):
        st = lib.nt_metrics_compute(5, buf, ffi.NULL, ppy, rf, req, out)
        assert metrics.ARGS["nt_metrics_compute"][(-st) % 256 - 1] == name and (-st) // 256 == 1
    st = lib.nt_metrics_compute(-1, buf, ffi.NULL, 252.0, 0.0, 0.0, out)
    assert metrics.ARGS["nt_metrics_compute"][(-st) % 256 - 1] == "n" and (-st) // 256 == 2
    equity = np.array([1.0, -1.0])
    st = lib.nt_metrics_returns_from_equity(2, ffi.from_buffer("double[]", equity),
                                            ffi.from_buffer("double[]", np.empty(1), True))
    with pytest.raises(NtUserError, match="equity must hold finite values > 0"):
        metrics._fail(st, "nt_metrics_returns_from_equity")


def test_argument_table_matches_the_c_signatures() -> None:
    """``ARGS`` names each C parameter as the cdef does, so a status code names the right argument."""
    import re

    cdef = " ".join((Path(__file__).resolve().parents[2] / "native" / "metrics" / "metrics_cdef.h").read_text().split())
    params = {m.group(1): tuple(re.findall(r"(\w+)\s*(?:,|$)", m.group(2)))
              for m in re.finditer(r"\bint (nt_\w+)\(([^)]*)\);", cdef)}
    assert params == metrics.ARGS
