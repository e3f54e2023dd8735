"""The kernels against backtrader's answers on the real ORCL bars (an outside oracle).

``tests/data/orcl-backtrader-oracle.json`` was written by ``make_backtrader_oracle.py`` running
backtrader 1.9.78.123 (see tests/data/SOURCES.md); backtrader is not installed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neural_trader.native import indicators as ind
from neural_trader.native import simulate as sim

ORACLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "orcl-backtrader-oracle.json").read_text())


@pytest.fixture(scope="module")
def ours(orcl: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    c, h, lo = orcl["close"], orcl["high"], orcl["low"]
    bb = ind.bollinger(c, 20, 2.0)
    macd = ind.macd(c, 12, 26, 9)
    return {
        "sma30": ind.sma(c, 30), "ema12": ind.ema(c, 12), "rsi14": ind.rsi(c, 14),
        "atr14": ind.atr(h, lo, c, 14), "highest20": ind.rolling_max(h, 20), "lowest20": ind.rolling_min(lo, 20),
        "bb_mid": bb.mid, "bb_top": bb.upper, "bb_bot": bb.lower, "macd": macd.macd, "macd_signal": macd.signal,
    }


#: backtrader's SMA is fsum/period and its StdDev is sqrt(E[x^2] - E[x]^2): equal up to rounding.
TOLERANCE = {"bb_top": 1e-9, "bb_bot": 1e-9}


@pytest.mark.parametrize("name", sorted(ORACLE["indicators"]))
def test_indicator_matches_backtrader(ours: dict[str, np.ndarray], name: str) -> None:
    assert len(ours[name]) == ORACLE["bars"]
    for i, want in ORACLE["indicators"][name].items():
        got = ours[name][int(i)]
        if want is None:
            assert np.isnan(got), f"{name}[{i}] should still be warming up"
        else:
            assert got == pytest.approx(want, rel=TOLERANCE.get(name, 1e-12)), f"{name}[{i}]"


def test_crossover_matches_backtrader(orcl: dict[str, np.ndarray]) -> None:
    c = orcl["close"]
    cross = ind.crossover(ind.sma(c, 10), ind.sma(c, 30))
    got = [[int(i), int(cross[i])] for i in np.flatnonzero(cross)]
    assert got == ORACLE["crossover_sma10_sma30"]


@pytest.mark.parametrize("impl", ["kernel", "twin"])
def test_crossover_strategy_matches_backtrader(orcl: dict[str, np.ndarray], impl: str) -> None:
    from neural_trader.native import simulate_numpy

    strategy = ORACLE["strategy"]
    c = orcl["close"]
    target = sim.targets_from_crossover(ind.crossover(ind.sma(c, 10), ind.sma(c, 30)), allow_short=False)
    params = sim.SimParams(init_cash=strategy["cash"], fill_at="next_open", sizing="fixed", size=strategy["stake"],
                           commission_pct=strategy["commission_pct"])
    run = sim.simulate if impl == "kernel" else simulate_numpy.simulate
    result = run(orcl["open"], orcl["high"], orcl["low"], c, target, params)
    closed = result.trades[result.trades["exit_reason"] == sim.ExitReason.SIGNAL]
    assert len(closed) == len(strategy["trades"])
    for ours, theirs in zip(closed, strategy["trades"], strict=True):
        assert (int(ours["entry_idx"]), int(ours["exit_idx"])) == (theirs["entry_idx"], theirs["exit_idx"])
        # backtrader reports an average fill price (value / size): equal to the open up to an ulp.
        assert ours["entry_price"] == pytest.approx(theirs["entry_price"], rel=1e-15)
        assert ours["exit_price"] == pytest.approx(theirs["exit_price"], rel=1e-15)
        assert ours["pnl"] == pytest.approx(theirs["pnlcomm"], rel=1e-9)
    still_open = result.trades[result.trades["exit_reason"] == sim.ExitReason.OPEN]
    assert [float(t["size"]) for t in still_open] == ([float(strategy["open_position"])] if strategy["open_position"] else [])
    assert result.equity[-1] == pytest.approx(strategy["final_value"], rel=1e-12)
