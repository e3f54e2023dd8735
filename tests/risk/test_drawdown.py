"""Drawdowns: empyrical's max drawdown and a pyfolio-style top-5 table on real ORCL returns
(tests/data/drawdown_reference.json), the Ulcer index against its definition, time under water
against the pandas-computed longest spell in tests/data/orcl_metrics_reference.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk.drawdown import (
    drawdown_periods,
    drawdown_series,
    time_under_water,
    ulcer_index,
    underwater_stats,
)

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "drawdown_reference.json").read_text())


def orcl() -> tuple[np.ndarray, np.ndarray]:
    """Simple returns of ORCL's Adj Close and the price dates (one more than returns)."""
    adj = np.loadtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skiprows=1, usecols=5)
    dates = np.loadtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skiprows=1, usecols=0, dtype=str)
    return adj[1:] / adj[:-1] - 1.0, dates


def test_top_drawdowns_match_pyfolio_rule() -> None:
    """bench/reference/garch_reference.py: empyrical-reloaded 0.7.1 ``max_drawdown`` and pyfolio's
    ``get_top_drawdowns`` algorithm restated in pandas."""
    r, dates = orcl()
    assert r.shape[0] == REF["n_returns"]
    periods = drawdown_periods(r, dates=dates, top=5)
    assert len(periods) == len(REF["top_drawdowns"])
    for got, want in zip(periods, REF["top_drawdowns"], strict=True):
        assert (got.peak, got.trough, got.recovery) == (want["peak"], want["trough"], want["recovery"])
        assert (got.peak_date, got.trough_date, got.recovery_date) == (
            want["peak_date"], want["trough_date"], want["recovery_date"])
        assert got.depth == pytest.approx(-want["depth"], rel=1e-12)
        assert got.decline == got.trough - got.peak
        assert got.duration == got.recovery - got.peak
    assert periods[0].depth == pytest.approx(-REF["max_drawdown"], rel=1e-12)
    assert underwater_stats(r).max_drawdown == pytest.approx(-REF["max_drawdown"], rel=1e-12)


def test_unrecovered_drawdown_and_start_peak() -> None:
    """A hand example: wealth 1 -> 0.9 -> 0.99 -> 1.089 -> 0.5445 (peak at point 3, no recovery)."""
    r = [-0.1, 0.1, 0.1, -0.5]
    periods = drawdown_periods(r, dates=["d1", "d2", "d3", "d4"])
    first, second = periods
    assert (first.peak, first.trough, first.recovery) == (3, 4, None)
    assert first.depth == pytest.approx(0.5)
    assert first.duration == 1 and first.recovery_time is None
    assert first.trough_date == "d4" and first.recovery_date is None
    # The first dip starts at the initial wealth, which has no date when one date per return is given.
    assert (second.peak, second.trough, second.recovery) == (0, 1, 3)
    assert second.peak_date is None and second.recovery_date == "d3"
    assert second.depth == pytest.approx(0.1)
    assert second.recovery_time == 2


def test_ulcer_index_definition() -> None:
    """Martin & McCann (1989): UI = sqrt(mean(D_i**2)), D_i the percent fall from the highest close so far;
    computed here from the wealth curve, independently of the native drawdown kernel."""
    r, _ = orcl()
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum(np.maximum.accumulate(wealth), 1.0)
    d = 100.0 * (wealth / peak - 1.0)
    assert ulcer_index(r) == pytest.approx(math.sqrt(np.mean(d**2)), rel=1e-12)
    np.testing.assert_allclose(drawdown_series(r), d / 100.0, atol=1e-14)
    # A series that only rises has no drawdown.
    assert ulcer_index([0.01, 0.02, 0.0]) == 0.0


def test_time_under_water() -> None:
    """The longest spell equals ``max_drawdown_duration`` of tests/data/orcl_metrics_reference.json (pandas)."""
    r, _ = orcl()
    ref = json.loads((DATA / "orcl_metrics_reference.json").read_text())
    tuw = time_under_water(r)
    assert tuw.longest == ref["cases"]["buy_and_hold"]["metrics"]["max_drawdown_duration"]
    hand = time_under_water([0.1, -0.1, 0.05, 0.2, -0.01, -0.01])
    # wealth 1.1, .99, 1.0395, 1.2474, 1.2349, 1.2226: under water at 1, 2 and at 4, 5
    assert (hand.periods, hand.longest, hand.current) == (4, 2, 2)
    assert hand.fraction == pytest.approx(4 / 6)
    stats = underwater_stats([0.1, -0.1, 0.05, 0.2, -0.01, -0.01])
    assert stats.current_drawdown == pytest.approx(1 - 0.99 * 0.99)
    assert stats.mean_drawdown == pytest.approx(np.mean([0.1, 1 - 1.0395 / 1.1, 0.01, 1 - 0.99**2]))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: drawdown_series([]), "returns needs at least 1"),
    (lambda: drawdown_series([0.1, float("inf")]), "returns must be finite"),
    (lambda: drawdown_series([0.1, -1.0]), "returns must be > -1"),
    (lambda: drawdown_periods([0.1, -0.1], top=0), "top must be"),
    (lambda: drawdown_periods([0.1, -0.1], dates=["a"]), "dates has 1 entries but returns has 2"),
])
def test_errors(call, message: str) -> None:
    with pytest.raises(NtUserError, match=message):
        call()
