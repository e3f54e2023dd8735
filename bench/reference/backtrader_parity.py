"""Record backtrader's trades for the built-in strategies' rules, as the parity reference.

Run with a Python that has backtrader (not a dependency of Neural Trader), from the repo root::

    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install backtrader
    /tmp/peers-venv/bin/python bench/reference/backtrader_parity.py

It writes ``tests/data/orcl-backtrader-parity.json``. Conventions, chosen to be the ones Neural
Trader's ``BacktestConfig(fill_at="next_open", sizing=..., no costs)`` means:

* the signal is computed at a bar's close (``next``) and the order fills at the next bar's open;
* all-in sizing at the fill price: with ``cheat_on_open`` the strategy sizes its order in
  ``next_open`` from the cash and the bar's open, and the order executes at that open
  (``all_in``: fractional units ``cash / open``; ``all_in_whole``: ``floor(cash / open)``);
* fractional buys are stepped down by an ulp or two when ``units * open`` rounds above the cash
  (backtrader rejects such an order as Margin); the kernel's ``cash / open`` may be that ulp larger;
* a reversal (long to short) closes first and sizes the new side from the cash after the close;
* no commission, no slippage, 100,000 cash; the last position stays open and is marked at the
  final close.

The rules are written here with backtrader's own indicators (SMA and CrossOver; Highest/Lowest
of the previous bars), independently of Neural Trader. Nothing here imports neural_trader.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import backtrader as bt

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "orcl-1995-2014.txt"
OUT = ROOT / "tests" / "data" / "orcl-backtrader-parity.json"
CASH = 100_000.0


def feed() -> bt.feeds.GenericCSVData:
    """The raw Open/High/Low/Close columns (no Yahoo adjustment or rounding)."""
    return bt.feeds.GenericCSVData(dataname=str(DATA), dtformat="%Y-%m-%d", datetime=0, open=1, high=2,
                                   low=3, close=4, volume=6, openinterest=-1, headers=True)


class TargetStrategy(bt.Strategy):
    """Turns a per-bar target (+1, 0, -1; None = hold) into next-open all-in orders."""

    params = (("whole", False), ("allow_short", False))

    def __init__(self) -> None:
        self.want: float | None = None
        self.current = 0.0
        self.fills: list[dict[str, float | int]] = []
        self.trades: list[dict[str, float | int]] = []
        self.open_trade: dict[str, float | int] | None = None

    def target(self) -> float | None:
        raise NotImplementedError

    def next(self) -> None:
        t = self.target()
        if t is None:
            return
        if t < 0 and not self.p.allow_short:
            t = 0.0
        if t != self.current:
            self.current = t
            self.want = t  # acted on at the next bar's open

    def next_open(self) -> None:
        if self.want is None:
            return
        t, self.want = self.want, None
        pos = self.position.size
        price = self.data.open[0]
        cash = self.broker.getcash()
        if pos:
            self.close()
            # the close fills first, at the same open; the cash it frees, in backtrader's own
            # arithmetic (BackBroker._execute: closed value at the entry price plus the pnl)
            # and in its pre-submit check (pseudo-execution at the open, no pnl term)
            pp = self.position.price
            cash = min(cash + (pos * pp + pos * (price - pp)), cash + pos * price)
        if t:
            units = cash / price
            if self.p.whole:
                units = math.floor(units)
            elif t > 0:
                # backtrader refuses a buy that leaves cash below 0.0 by even an ulp (Margin);
                # step the size down until units * price <= cash (at most 1 ulp off cash / price)
                while units * price > cash:
                    units = math.nextafter(units, 0.0)
            if units > 0:
                (self.buy if t > 0 else self.sell)(size=units)

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.fills.append({"bar": len(self.data) - 1, "size": order.executed.size,
                               "price": order.executed.price})
        elif order.status in (order.Margin, order.Rejected, order.Canceled):
            raise RuntimeError(f"order {order.ref} ended {order.getstatusname()}")

    def notify_trade(self, trade: bt.Trade) -> None:
        i = len(self.data) - 1
        if trade.justopened:
            self.open_trade = {"entry_idx": i, "entry_price": trade.price, "size": trade.size}
        if trade.isclosed and self.open_trade is not None:
            self.trades.append({**self.open_trade, "exit_idx": i, "exit_price": self.data.open[0],
                                "pnl": trade.pnlcomm})
            self.open_trade = None


class SmaCross(TargetStrategy):
    """+1 on CrossOver(SMA(10), SMA(30)) > 0, -1 on < 0."""

    def __init__(self) -> None:
        super().__init__()
        c = self.data.close
        self.cross = bt.ind.CrossOver(bt.ind.SMA(c, period=10), bt.ind.SMA(c, period=30))

    def target(self) -> float | None:
        x = self.cross[0]
        return 1.0 if x > 0 else -1.0 if x < 0 else None


class Donchian(TargetStrategy):
    """Long above the prior 20-bar high, short below the prior 20-bar low; exit a long below the
    prior 10-bar low, a short above the prior 10-bar high."""

    def __init__(self) -> None:
        super().__init__()
        self.upper = bt.ind.Highest(self.data.high(-1), period=20)
        self.lower = bt.ind.Lowest(self.data.low(-1), period=20)
        self.exit_lo = bt.ind.Lowest(self.data.low(-1), period=10)
        self.exit_hi = bt.ind.Highest(self.data.high(-1), period=10)
        self.state = 0.0

    def target(self) -> float | None:
        c = self.data.close[0]
        if c > self.upper[0]:
            self.state = 1.0
        elif c < self.lower[0]:
            self.state = -1.0
        elif (self.state > 0 and c < self.exit_lo[0]) or (self.state < 0 and c > self.exit_hi[0]):
            self.state = 0.0
        return self.state


CASES = {
    "sma_crossover_long_all_in": (SmaCross, {"whole": False, "allow_short": False},
                                  {"strategy": "sma_crossover", "params": {"fast": 10, "slow": 30},
                                   "sizing": "all_in", "allow_short": False}),
    "sma_crossover_long_all_in_whole": (SmaCross, {"whole": True, "allow_short": False},
                                        {"strategy": "sma_crossover", "params": {"fast": 10, "slow": 30},
                                         "sizing": "all_in_whole", "allow_short": False}),
    "sma_crossover_long_short_all_in": (SmaCross, {"whole": False, "allow_short": True},
                                        {"strategy": "sma_crossover", "params": {"fast": 10, "slow": 30},
                                         "sizing": "all_in", "allow_short": True}),
    "breakout_long_short_all_in_whole": (Donchian, {"whole": True, "allow_short": True},
                                         {"strategy": "breakout", "params": {"window": 20, "exit_window": 10},
                                          "sizing": "all_in_whole", "allow_short": True}),
}


def run_case(cls: type, kwargs: dict[str, bool]) -> dict[str, object]:
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.adddata(feed())
    cerebro.addstrategy(cls, **kwargs)
    cerebro.broker.setcash(CASH)
    strat = cerebro.run()[0]
    return {"fills": strat.fills, "trades": strat.trades, "open_trade": strat.open_trade,
            "final_value": cerebro.broker.getvalue(), "bars": len(strat.data)}


def main() -> None:
    cases = {}
    for name, (cls, kwargs, ours) in CASES.items():
        got = run_case(cls, kwargs)
        cases[name] = {"neural_trader": ours, **got}
        print(f"{name}: {len(got['trades'])} closed trades, final value {got['final_value']:.6f}")
    out = {
        "generator": f"bench/reference/backtrader_parity.py with backtrader {bt.__version__}",
        "data": "tests/data/orcl-1995-2014.txt (Open/High/Low/Close columns, unadjusted)",
        "conventions": "signal at close, fill at next open (cheat_on_open sizing at that open), "
                       "all-in, no costs, 100000 cash, last position marked at the final close",
        "cash": CASH,
        "cases": cases,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
