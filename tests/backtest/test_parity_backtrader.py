"""Both engines against backtrader on real ORCL bars, under equivalent conventions.

``tests/data/orcl-backtrader-parity.json`` was written by ``bench/reference/backtrader_parity.py``
running backtrader 1.9.78.123 in a separate virtual environment (backtrader is not installed
here): signal at the close, fill at the next open, all-in, no costs (tests/data/SOURCES.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neural_trader.backtest import BacktestConfig, run
from neural_trader.native.simulate import ExitReason
from neural_trader.strategies import Breakout, SmaCrossover

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = json.loads((DATA / "orcl-backtrader-parity.json").read_text())
STRATEGIES = {"sma_crossover": SmaCrossover(), "breakout": Breakout()}


@pytest.fixture(scope="module")
def orcl():  # type: ignore[no-untyped-def]
    from neural_trader.market.files import read_bars

    return read_bars(DATA / "orcl-1995-2014.txt", symbol="ORCL")


@pytest.mark.parametrize("engine", ["vectorized", "event"])
@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_trades_and_final_equity_equal_backtrader(orcl, case: str, engine: str) -> None:  # type: ignore[no-untyped-def]
    ref = REFERENCE["cases"][case]
    ours = ref["neural_trader"]
    config = BacktestConfig(init_cash=REFERENCE["cash"], fill_at="next_open", sizing=ours["sizing"],
                            allow_short=ours["allow_short"])
    result = run(orcl, STRATEGIES[ours["strategy"]], ours["params"], config, engine=engine)
    assert len(orcl) == ref["bars"]

    closed = result.trades[result.trades["exit_reason"] == ExitReason.SIGNAL]
    assert len(closed) == len(ref["trades"])
    for got, want in zip(closed.tolist(), ref["trades"], strict=True):
        row = dict(zip(closed.dtype.names, got, strict=True))
        assert (row["entry_idx"], row["exit_idx"]) == (want["entry_idx"], want["exit_idx"])
        # backtrader's trade price is an average (value / size): the open, up to an ulp
        assert row["entry_price"] == pytest.approx(want["entry_price"], rel=1e-15)
        assert row["exit_price"] == pytest.approx(want["exit_price"], rel=1e-15)
        assert row["size"] == pytest.approx(want["size"], rel=1e-12)
        assert row["pnl"] == pytest.approx(want["pnl"], rel=1e-9, abs=1e-6)

    still_open = result.trades[result.trades["exit_reason"] == ExitReason.OPEN]
    if ref["open_trade"] is None:
        assert still_open.size == 0
    else:
        (row,) = still_open.tolist()
        row = dict(zip(still_open.dtype.names, row, strict=True))
        assert row["entry_idx"] == ref["open_trade"]["entry_idx"]
        assert row["size"] == pytest.approx(ref["open_trade"]["size"], rel=1e-12)
    assert result.equity[-1] == pytest.approx(ref["final_value"], rel=1e-9)
    assert result.metrics["final_equity"] == result.equity[-1]


def test_fills_are_at_the_next_open(orcl) -> None:  # type: ignore[no-untyped-def]
    """Every backtrader fill is at the open of the bar after the signal, as ours are."""
    ref = REFERENCE["cases"]["sma_crossover_long_all_in"]
    result = run(orcl, STRATEGIES["sma_crossover"], None, BacktestConfig(init_cash=REFERENCE["cash"]),
                 engine="event")
    ours = sorted({int(i) for i in result.trades["entry_idx"]} | {int(i) for i in result.trades["exit_idx"]
                                                                  if i != len(orcl) - 1})
    assert [f["bar"] for f in ref["fills"]] == ours
    for f in ref["fills"]:
        assert f["price"] == pytest.approx(float(orcl.open[f["bar"]]), rel=1e-15)
