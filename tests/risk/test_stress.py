"""Stress tests: scenario replays on real ORCL and NVDA returns checked against the close prices in
the files (computed here directly from tests/data, independently of the replay), linearity of
shocks, ladder symmetry, and the errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.risk.stress import (
    SCENARIOS,
    list_scenarios,
    replay_scenario,
    replay_window,
    scenario_window,
    sensitivity_ladder,
    shock_assets,
    shock_factors,
)

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = {"ORCL": "orcl-1995-2014.txt", "NVDA": "nvda-1999-2014.txt"}


def adj_close(sym: str) -> dict[str, float]:
    """``{ISO date: Adj Close}`` read straight from the file."""
    out = {}
    for line in (DATA / FILES[sym]).read_text().splitlines()[1:]:
        f = line.split(",")
        out[f[0]] = float(f[5])
    return out


def aligned() -> tuple[np.ndarray, np.ndarray]:
    """Returns of ORCL and NVDA on their common dates, and those dates (one per return)."""
    a, n = adj_close("ORCL"), adj_close("NVDA")
    days = sorted(set(a) & set(n))
    prices = np.array([[a[d], n[d]] for d in days])
    return prices[1:] / prices[:-1] - 1.0, np.array(days[1:])


def test_scenario_table() -> None:
    names = [s.name for s in list_scenarios()]
    assert {"dotcom_2000_2002", "gfc_2008", "covid_2020"} <= set(names)
    assert names == sorted(names, key=lambda n: SCENARIOS[n].start)
    dotcom = scenario_window("dotcom_2000_2002")
    assert (dotcom.start, dotcom.end) == (dt.date(2000, 3, 24), dt.date(2002, 10, 9))
    gfc = scenario_window("gfc_2008")
    assert (gfc.start, gfc.end) == (dt.date(2008, 9, 1), dt.date(2009, 3, 9))
    assert all(s.start < s.end and s.description for s in list_scenarios())


@pytest.mark.parametrize("name", ["dotcom_2000_2002", "gfc_2008"])
def test_replay_against_close_prices(name: str) -> None:
    r, dates = aligned()
    sc = scenario_window(name)
    positions = {"ORCL": 60_000.0, "NVDA": 40_000.0}
    rep = replay_scenario(name, {"ORCL": r[:, 0], "NVDA": r[:, 1]}, dates=dates, positions=positions)

    # Direct from the file: the last close on or before each end of the window.
    a, n = adj_close("ORCL"), adj_close("NVDA")
    days = sorted(d for d in set(a) & set(n))
    d0 = max(d for d in days if d <= sc.start.isoformat())
    path = [d for d in days if d0 <= d <= sc.end.isoformat()]
    value = np.array([60_000.0 * a[d] / a[d0] + 40_000.0 * n[d] / n[d0] for d in path])
    assert rep.total_return == pytest.approx(value[-1] / 100_000.0 - 1.0, rel=1e-10)
    assert rep.pnl == pytest.approx(value[-1] - 100_000.0, rel=1e-10)
    orcl = rep.assets[0]
    assert orcl.symbol == "ORCL"
    assert orcl.total_return == pytest.approx(a[path[-1]] / a[d0] - 1.0, rel=1e-10)
    assert sum(x.contribution for x in rep.assets) == pytest.approx(rep.total_return, rel=1e-12)
    daily = value[1:] / value[:-1] - 1.0
    assert rep.worst_day == pytest.approx(daily.min(), rel=1e-9)
    assert rep.worst_day_date.isoformat() == path[1 + int(np.argmin(daily))]
    assert rep.max_drawdown == pytest.approx(np.max(1.0 - value / np.maximum.accumulate(value)), rel=1e-9)
    assert rep.n_days == len(path) - 1 and rep.last_date == sc.end
    np.testing.assert_allclose(rep.equity, value, rtol=1e-10)
    # A matrix with symbols gives the same answer, whatever the column order.
    again = replay_scenario(name, r[:, ::-1].copy(), dates=list(dates), positions=positions, symbols=["NVDA", "ORCL"])
    assert again.pnl == pytest.approx(rep.pnl, rel=1e-12)


def test_replay_window_and_dotcom_depth() -> None:
    """ORCL alone from the 2000 peak: -71 %-ish; a short position gains what the long loses."""
    r, dates = aligned()
    long = replay_scenario("dotcom_2000_2002", r[:, :1].copy(), dates=dates, positions=[1.0], symbols=["ORCL"])
    assert -0.95 < long.total_return < -0.5
    short = replay_window(r[:, :1].copy(), dates=dates, positions=[-1.0], symbols=["ORCL"], start="2000-03-24",
                          end="2002-10-09", capital=1.0)
    assert short.pnl == pytest.approx(-long.pnl, rel=1e-12)


def test_replay_errors() -> None:
    r, dates = aligned()
    data = {"ORCL": r[:, 0], "NVDA": r[:, 1]}
    pos = {"ORCL": 1.0, "NVDA": 1.0}
    with pytest.raises(NtUserError, match=r"scenario covid_2020 \(2020-02-19..2020-03-23\) is outside the data's "
                                          r"range \(1999-01-25..2014-12-31\)"):
        replay_scenario("covid_2020", data, dates=dates, positions=pos)
    with pytest.raises(NtUserError, match=r"scenario must be one of .*dotcom_2000_2002.*got 'crash'"):
        replay_scenario("crash", data, dates=dates, positions=pos)
    with pytest.raises(NtUserError, match="no returns for NVDA"):
        replay_scenario("gfc_2008", {"ORCL": r[:, 0]}, dates=dates, positions=pos)
    with pytest.raises(NtUserError, match="returns for AAPL which hold no position"):
        replay_scenario("gfc_2008", data | {"AAPL": r[:, 0]}, dates=dates, positions=pos)
    with pytest.raises(NtUserError, match="dates has 10 entries"):
        replay_scenario("gfc_2008", data, dates=dates[:10], positions=pos)
    with pytest.raises(NtUserError, match="dates must be strictly increasing"):
        replay_scenario("gfc_2008", data, dates=dates[::-1], positions=pos)
    with pytest.raises(NtUserError, match="capital must be given"):
        replay_scenario("gfc_2008", data, dates=dates, positions={"ORCL": 1.0, "NVDA": -1.0})


# -- shocks and ladders ------------------------------------------------------------------------


POS = {"AAA": 50_000.0, "BBB": 30_000.0, "CCC": -10_000.0}


def test_asset_shocks_are_linear() -> None:
    s1 = {"AAA": -0.2, "BBB": 0.05}
    s2 = {"AAA": 0.1, "CCC": -0.3}
    both = {k: s1.get(k, 0.0) + s2.get(k, 0.0) for k in POS}
    r1, r2, r12 = shock_assets(POS, s1), shock_assets(POS, s2), shock_assets(POS, both)
    assert r12.pnl == pytest.approx(r1.pnl + r2.pnl)
    assert r1.pnl == pytest.approx(50_000 * -0.2 + 30_000 * 0.05)
    assert r1.asset_pnl == {"AAA": pytest.approx(-10_000.0), "BBB": pytest.approx(1_500.0), "CCC": 0.0}
    assert r1.total_return == pytest.approx(r1.pnl / 70_000.0)
    assert shock_assets(POS, {k: 2 * v for k, v in s1.items()}).pnl == pytest.approx(2 * r1.pnl)


def test_factor_shocks() -> None:
    loadings = {"AAA": {"market": 1.2, "rates": -0.5}, "BBB": {"market": 0.8}, "CCC": {"market": 1.0, "oil": 2.0}}
    res = shock_factors(POS, loadings, {"market": -0.1, "rates": 0.02})
    expected = {"AAA": 1.2 * -0.1 - 0.5 * 0.02, "BBB": 0.8 * -0.1, "CCC": -0.1}
    assert res.asset_shocks == pytest.approx(expected)
    assert res.pnl == pytest.approx(sum(POS[s] * expected[s] for s in POS))
    # The factor result is the asset shock of the implied moves.
    assert shock_assets(POS, expected).pnl == pytest.approx(res.pnl)
    with pytest.raises(NtUserError, match="factor_shocks names gold, which no asset loads on"):
        shock_factors(POS, loadings, {"gold": 0.1})
    with pytest.raises(NtUserError, match="loadings has no entry for CCC"):
        shock_factors(POS, {"AAA": {}, "BBB": {}}, {"market": 0.1})


def test_ladders_are_symmetric_for_linear_positions() -> None:
    lad = sensitivity_ladder(POS)
    np.testing.assert_allclose(lad.shocks, np.round(np.arange(-6, 7) * 0.05, 12), atol=1e-12)
    np.testing.assert_allclose(lad.pnl, -lad.pnl[::-1], atol=1e-9)
    assert lad.pnl[lad.shocks == 0.0][0] == 0.0
    np.testing.assert_allclose(lad.pnl, lad.shocks * 70_000.0, rtol=1e-12)
    one = sensitivity_ladder(POS, shocks=[-0.1, 0.1], asset="BBB")
    np.testing.assert_allclose(one.pnl, [-3_000.0, 3_000.0])
    beta = sensitivity_ladder(POS, shocks=[-0.2, 0.0, 0.2], betas={"AAA": 1.5, "BBB": 0.5, "CCC": 2.0})
    np.testing.assert_allclose(beta.pnl, np.array([-0.2, 0.0, 0.2]) * (75_000 + 15_000 - 20_000))
    np.testing.assert_allclose(beta.asset_pnl.sum(axis=1), beta.pnl)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: shock_assets(POS, {"ZZZ": -0.1}), "shocks names ZZZ, which hold no position"),
    (lambda: shock_assets(POS, {"AAA": -1.5}), r"shocks\['AAA'\] must be a return >= -1"),
    (lambda: sensitivity_ladder(POS, asset="ZZZ"), "asset 'ZZZ' holds no position"),
    (lambda: sensitivity_ladder(POS, betas={"AAA": 1.0}), "betas has no entry for BBB, CCC"),
    (lambda: sensitivity_ladder(POS, step=0), "step must be > 0"),
    (lambda: sensitivity_ladder({"AAA": 1.0, "BBB": -1.0}), "capital must be given"),
])
def test_shock_errors(call, message: str) -> None:
    with pytest.raises(NtUserError, match=message):
        call()
