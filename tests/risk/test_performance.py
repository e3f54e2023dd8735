"""The performance report against empyrical (tests/data/performance_reference.json, written by
bench/reference/performance_reference.py with empyrical-reloaded 0.7.1): ORCL against NVDA."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader.native import metrics
from neural_trader_plugins.risk.performance import performance_png, performance_report

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "performance_reference.json").read_text())
RTOL = 1e-10


def _adj_close(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates and Adj Close of a Yahoo CSV in tests/data (format in tests/data/SOURCES.md)."""
    rows = np.genfromtxt(DATA / name, delimiter=",", skip_header=1, usecols=(0, 5), encoding="ascii",
                         dtype=[("date", "datetime64[D]"), ("adj", "f8")])
    return rows["date"], np.ascontiguousarray(rows["adj"])


@cache
def orcl_vs_nvda() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates, ORCL returns, NVDA returns) on the dates both files hold; a return is dated at its end."""
    do, po = _adj_close("orcl-1995-2014.txt")
    dn, pn = _adj_close("nvda-1999-2014.txt")
    common, io, inv = np.intersect1d(do, dn, return_indices=True)
    r = metrics.returns_from_equity(np.ascontiguousarray(po[io]))
    b = metrics.returns_from_equity(np.ascontiguousarray(pn[inv]))
    return common[1:], r, b


def test_the_data_is_the_reference_data() -> None:
    d, r, b = orcl_vs_nvda()
    assert r.shape[0] == REF["n_returns"] and str(d[0]) == REF["first_date"] and str(d[-1]) == REF["last_date"]
    np.testing.assert_allclose(r[:3], REF["first_returns"]["strategy"], rtol=1e-13)  # (p1 - p0) / p0 vs p1 / p0 - 1
    np.testing.assert_allclose(b[:3], REF["first_returns"]["benchmark"], rtol=1e-13)


@pytest.mark.parametrize("case", sorted(REF["cases"]))
def test_relative_metrics_match_empyrical(case: str) -> None:
    ref = REF["cases"][case]
    _, r, b = orcl_vs_nvda()
    rep = performance_report(r, b, risk_free=ref["risk_free"])
    rel = rep.relative
    assert rel is not None
    for name in ("alpha", "beta", "tracking_error", "up_capture", "down_capture"):
        assert getattr(rel, name) == pytest.approx(ref[name], rel=RTOL), name
    # ours is annualised; empyrical's excess_sharpe is per period
    assert rel.information_ratio / math.sqrt(252) == pytest.approx(ref["excess_sharpe"], rel=RTOL)
    assert rel.correlation == pytest.approx(np.corrcoef(r, b)[0, 1], rel=1e-12)
    assert rel.excess_return == pytest.approx(rep.metrics.cagr - rep.benchmark_metrics.cagr, rel=1e-15)  # type: ignore[union-attr]


def test_absolute_metrics_are_the_native_summary() -> None:
    _, r, b = orcl_vs_nvda()
    rep = performance_report(r, b, risk_free=0.0001, periods_per_year=252)
    assert rep.metrics == metrics.summary(r, risk_free=0.0001)
    assert rep.benchmark_metrics == metrics.summary(b, risk_free=0.0001)


def test_rolling_series_match_empyrical() -> None:
    _, r, b = orcl_vs_nvda()
    rep = performance_report(r, b, window=REF["window"])
    w = REF["window"]
    assert np.isnan(rep.rolling.sharpe[: w - 1]).all() and np.isnan(rep.rolling.volatility[: w - 1]).all()
    assert rep.rolling.beta is not None and np.isnan(rep.rolling.beta[: w - 1]).all()
    for point in REF["rolling"]:
        i = point["index"]
        assert rep.rolling.sharpe[i] == pytest.approx(point["sharpe"], rel=RTOL), i
        assert rep.rolling.volatility[i] == pytest.approx(point["volatility"], rel=RTOL), i
        assert rep.rolling.beta[i] == pytest.approx(point["beta"], rel=RTOL), i


def test_monthly_table_matches_empyrical_aggregate_returns() -> None:
    d, r, b = orcl_vs_nvda()
    rep = performance_report(r, b, dates=d)
    mo = rep.monthly
    assert mo is not None and mo.years == list(range(1999, 2015))
    assert np.isfinite(mo.table).sum() == len(REF["monthly"])
    for year, month, value in REF["monthly"]:
        assert mo.table[year - 1999, month - 1] == pytest.approx(value, rel=1e-12, abs=1e-15), (year, month)
    # a year compounds its months
    np.testing.assert_allclose(mo.yearly, np.prod(1 + mo.table, axis=1) - 1, rtol=1e-12)
    # ISO strings work as dates too
    rep2 = performance_report(r[:40], dates=[str(x) for x in d[:40]])
    assert rep2.monthly is not None and np.array_equal(rep2.monthly.table, performance_report(r[:40], dates=d[:40]).monthly.table,  # type: ignore[union-attr]
                                                       equal_nan=True)


def test_closed_forms_on_a_constructed_series() -> None:
    """r = 0.0002 + 1.5 b exactly: beta 1.5, alpha (1.0002)^252 - 1, correlation 1."""
    rng = np.random.default_rng(3)
    b = rng.normal(0.0005, 0.01, 500)
    r = 0.0002 + 1.5 * b
    rel = performance_report(r, b).relative
    assert rel is not None
    assert rel.beta == pytest.approx(1.5, rel=1e-12)
    assert rel.alpha == pytest.approx(1.0002**252 - 1, rel=1e-9)
    assert rel.correlation == pytest.approx(1.0, abs=1e-12)
    active = r - b
    assert rel.tracking_error == pytest.approx(np.std(active, ddof=1) * math.sqrt(252), rel=1e-12)


def test_without_benchmark_and_as_dict() -> None:
    _, r, _ = orcl_vs_nvda()
    rep = performance_report(r[:100])
    assert rep.relative is None and rep.benchmark_metrics is None and rep.rolling.beta is None
    d = rep.as_dict()
    json.dumps(d, allow_nan=False)  # NaN became None
    assert d["rolling"]["sharpe"][0] is None and d["metrics"]["n_periods"] == 100


def test_charts_are_png() -> None:
    pytest.importorskip("matplotlib")
    d, r, b = orcl_vs_nvda()
    rep = performance_report(r[-300:], b[-300:], dates=d[-300:])
    for kind in ("equity", "drawdown", "rolling_sharpe"):
        png = performance_png(rep, kind, width=4, height=2, dpi=50)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, kind
    with pytest.raises(NtUserError, match="kind must be one of"):
        performance_png(rep, "pie")


def test_errors_name_the_field() -> None:
    r = np.full(10, 0.01)
    b = np.linspace(-0.01, 0.01, 10)
    with pytest.raises(NtUserError, match="benchmark has 9 returns but returns has 10"):
        performance_report(r, b[:9])
    with pytest.raises(NtUserError, match=r"returns must be finite, but returns\[3\] is nan"):
        performance_report(np.where(np.arange(10) == 3, np.nan, r), b)
    with pytest.raises(NtUserError, match=r"benchmark must be finite, but benchmark\[0\] is inf"):
        performance_report(r, np.where(np.arange(10) == 0, np.inf, b))
    with pytest.raises(NtUserError, match="returns needs at least 2 observations, got 1"):
        performance_report([0.01])
    with pytest.raises(NtUserError, match="periods_per_year must be"):
        performance_report(r, periods_per_year=0)
    with pytest.raises(NtUserError, match="risk_free must be"):
        performance_report(r, risk_free=math.inf)
    with pytest.raises(NtUserError, match="window must be an integer >= 2"):
        performance_report(r, window=1)
    with pytest.raises(NtUserError, match="dates has 3 values but returns has 10"):
        performance_report(r, dates=["2020-01-01", "2020-01-02", "2020-01-03"])
    with pytest.raises(NtUserError, match="dates must be in ascending order"):
        performance_report(r[:2], dates=["2020-01-02", "2020-01-01"])
    with pytest.raises(NtUserError, match="benchmark has zero variance"):
        performance_report(b, r)
