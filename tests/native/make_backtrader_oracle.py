"""Record backtrader's answers on the ORCL bars, as an outside oracle for the native kernels.

Run it with a Python that has backtrader (not a dependency of Neural Trader), from the repo root::

    python -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install backtrader
    /tmp/peers-venv/bin/python tests/native/make_backtrader_oracle.py

It writes ``tests/data/orcl-backtrader-oracle.json``: indicator values at sampled bars, every
SMA(10)/SMA(30) crossover, and the trades and final value of a long-only crossover strategy with
next-open market orders, a fixed stake and a 0.1 % commission. ``test_oracles.py`` checks the
kernels against it. Nothing here imports neural_trader.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import backtrader as bt

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "orcl-1995-2014.txt"
OUT = ROOT / "tests" / "data" / "orcl-backtrader-oracle.json"

STAKE = 100
COMMISSION = 0.001
CASH = 100_000.0


def _feed() -> bt.feeds.GenericCSVData:
    # Generic CSV: the raw Open/High/Low/Close columns, no Yahoo adjustment or rounding.
    return bt.feeds.GenericCSVData(dataname=str(DATA), dtformat="%Y-%m-%d", datetime=0, open=1, high=2,
                                   low=3, close=4, volume=6, openinterest=-1, headers=True)


class Record(bt.Strategy):
    """Computes the indicators and trades the SMA(10)/SMA(30) crossover, long only."""

    def __init__(self) -> None:
        c = self.data.close
        self.ind = {
            "sma30": bt.ind.SMA(c, period=30),
            "ema12": bt.ind.EMA(c, period=12),
            "rsi14": bt.ind.RSI(c, period=14),
            "atr14": bt.ind.ATR(self.data, period=14),
            "highest20": bt.ind.Highest(self.data.high, period=20),
            "lowest20": bt.ind.Lowest(self.data.low, period=20),
        }
        bb = bt.ind.BollingerBands(c, period=20, devfactor=2.0)
        self.ind.update(bb_mid=bb.mid, bb_top=bb.top, bb_bot=bb.bot)
        macd = bt.ind.MACD(c, period_me1=12, period_me2=26, period_signal=9)
        self.ind.update(macd=macd.macd, macd_signal=macd.signal)
        self.cross = bt.ind.CrossOver(bt.ind.SMA(c, period=10), bt.ind.SMA(c, period=30))
        self.values: dict[str, list[float]] = {k: [] for k in self.ind}
        self.crosses: list[tuple[int, int]] = []
        self.trades: list[dict[str, float | int]] = []
        self._entry: dict[str, float | int] | None = None

    def _record(self) -> None:
        for k, line in self.ind.items():  # NaN while an indicator warms up
            self.values[k].append(float(line[0]))

    def prenext(self) -> None:
        self._record()

    def next(self) -> None:
        i = len(self.data) - 1
        self._record()
        if self.cross[0] != 0:
            self.crosses.append((i, int(self.cross[0])))
        if self.cross[0] > 0 and not self.position:
            self.buy(size=STAKE)
        elif self.cross[0] < 0 and self.position:
            self.close()

    def notify_order(self, order: bt.Order) -> None:
        if order.status != order.Completed:
            return
        i = len(self.data) - 1
        if order.isbuy():
            self._entry = {"entry_idx": i, "entry_price": order.executed.price}
        elif self._entry is not None:
            self._entry.update(exit_idx=i, exit_price=order.executed.price)

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isclosed and self._entry is not None:
            self.trades.append({**self._entry, "pnlcomm": trade.pnlcomm})
            self._entry = None


def main() -> None:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(_feed())
    cerebro.addstrategy(Record)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=COMMISSION)
    strat = cerebro.run()[0]
    n = len(strat.values["sma30"])
    sample = sorted(set(range(0, n, 25)) | {n - 1} | set(range(0, 40)))
    out = {
        "generator": f"tests/native/make_backtrader_oracle.py with backtrader {bt.__version__}",
        "data": "tests/data/orcl-1995-2014.txt (Open/High/Low/Close columns, unadjusted)",
        "bars": n,
        "indicators": {k: {str(i): (None if math.isnan(v[i]) else v[i]) for i in sample}
                       for k, v in strat.values.items()},
        "crossover_sma10_sma30": strat.crosses,
        "strategy": {
            "rule": "long on CrossOver(SMA10, SMA30) > 0, close on < 0; market orders fill at the next open",
            "stake": STAKE, "commission_pct": COMMISSION, "cash": CASH,
            "trades": strat.trades,
            "open_position": strat.position.size,
            "final_value": cerebro.broker.getvalue(),
        },
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {n} bars, {len(strat.trades)} trades, {len(strat.crosses)} crosses")


if __name__ == "__main__":
    main()
