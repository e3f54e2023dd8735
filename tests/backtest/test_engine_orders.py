"""Order-level rules of the event engine, on hand-made bars: fill timing, the gap rule, limit,
stop, stop-limit, trailing stop and bracket orders, costs, rejections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest

from neural_trader.backtest import BacktestConfig, run_event
from neural_trader.backtest.event import EventContext, Order
from neural_trader.errors import NtUserError
from neural_trader.native.simulate import ExitReason
from neural_trader.strategies.base import Strategy


@attrs.frozen
class NoParams:
    """No parameters."""


class Script(Strategy):
    """Runs ``actions[bar](ctx)`` after that bar's close and keeps what they return."""

    name = "script"
    params_type = NoParams

    def __init__(self, actions: dict[int, Callable[[EventContext], Any]]) -> None:
        self.actions = actions
        self.placed: dict[int, Any] = {}
        self.fills: list[Any] = []

    def warmup(self, params: object) -> int:
        return 0

    def on_bar(self, ctx: EventContext, bar: int) -> None:
        if bar in self.actions:
            self.placed[bar] = self.actions[bar](ctx)

    def on_fill(self, ctx: EventContext, fill: Any) -> None:
        self.fills.append(fill)


class Bars:
    def __init__(self, rows: list[tuple[float, float, float, float]]) -> None:
        a = np.array(rows, dtype=np.float64)
        self.open, self.high, self.low, self.close = (np.ascontiguousarray(a[:, k]) for k in range(4))
        self.symbol = "X"


#            open   high   low    close
ROWS = [(10.0, 10.5, 9.5, 10.0),   # 0
        (10.2, 10.8, 9.9, 10.4),   # 1
        (10.4, 11.0, 10.1, 10.9),  # 2
        (9.0, 9.4, 8.8, 9.2),      # 3  gap down
        (9.3, 9.9, 9.1, 9.8),      # 4
        (12.0, 12.5, 11.8, 12.2),  # 5  gap up
        (12.1, 12.3, 11.0, 11.2),  # 6
        (11.2, 11.5, 10.0, 10.2),  # 7
        (10.2, 10.6, 10.0, 10.5),  # 8
        (10.5, 10.7, 10.3, 10.6)]  # 9
BARS = Bars(ROWS)
CASH = BacktestConfig(init_cash=10_000.0)


def trades_of(actions: dict[int, Callable[[EventContext], Any]], config: BacktestConfig = CASH) -> tuple[Any, Script]:
    s = Script(actions)
    return run_event(BARS, s, None, config), s


def only(result: Any) -> dict[str, Any]:
    (row,) = result.trades.tolist()
    return dict(zip(result.trades.dtype.names, row, strict=True))


def test_market_order_fills_at_the_next_open_or_at_the_close() -> None:
    r, _ = trades_of({0: lambda c: c.buy(100), 2: lambda c: c.sell(100)})
    t = only(r)
    assert (t["entry_idx"], t["entry_price"], t["exit_idx"], t["exit_price"]) == (1, 10.2, 3, 9.0)
    r, _ = trades_of({0: lambda c: c.buy(100), 2: lambda c: c.sell(100)}, attrs.evolve(CASH, fill_at="close"))
    t = only(r)
    assert (t["entry_idx"], t["entry_price"], t["exit_idx"], t["exit_price"]) == (0, 10.0, 2, 10.9)
    assert t["pnl"] == pytest.approx(100 * 0.9)
    assert r.equity[1] == pytest.approx(10_000 + 100 * 0.4)


def test_limit_buy_fills_at_the_open_through_a_gap_else_at_the_limit() -> None:
    r, _ = trades_of({0: lambda c: c.buy(100, limit=9.5)})
    assert only(r)["entry_idx"] == 3 and only(r)["entry_price"] == 9.0  # opened below the limit
    r, _ = trades_of({0: lambda c: c.buy(100, limit=10.0)})
    assert only(r)["entry_idx"] == 1 and only(r)["entry_price"] == 10.0  # touched intrabar
    r, _ = trades_of({4: lambda c: c.sell(100, limit=11.5)}, attrs.evolve(CASH, allow_short=True))
    assert only(r)["entry_idx"] == 5 and only(r)["entry_price"] == 12.0  # opened above a sell limit
    assert only(r)["size"] == -100
    r, _ = trades_of({4: lambda c: c.sell(100, limit=12.1)}, attrs.evolve(CASH, allow_short=True))
    assert only(r)["entry_idx"] == 5 and only(r)["entry_price"] == 12.1  # reached inside the bar


def test_stop_orders_fill_at_the_level_or_at_a_gapped_open() -> None:
    r, _ = trades_of({0: lambda c: c.buy(100, stop=10.7)})
    assert only(r)["entry_idx"] == 1 and only(r)["entry_price"] == 10.7
    r, _ = trades_of({4: lambda c: c.buy(100, stop=10.0)})
    assert only(r)["entry_idx"] == 5 and only(r)["entry_price"] == 12.0  # gap through the stop
    r, _ = trades_of({0: lambda c: c.buy(100), 1: lambda c: c.sell(100, stop=9.5)})
    t = only(r)
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (3, 9.0, ExitReason.STOP_LOSS)


def test_stop_limit_orders() -> None:
    # triggered intrabar at 10.7 with a limit above: fills at the stop
    r, _ = trades_of({0: lambda c: c.buy(100, stop=10.7, limit=10.75)})
    assert (only(r)["entry_idx"], only(r)["entry_price"]) == (1, 10.7)
    # triggered by the gap up at bar 5 (open 12.0 above the 10.0 limit): waits as a limit order,
    # fills when the price comes back to 10.0 on bar 7
    r, s = trades_of({4: lambda c: c.buy(100, stop=9.95, limit=10.0)})
    assert (only(r)["entry_idx"], only(r)["entry_price"]) == (7, 10.0)
    assert s.placed[4].type == "stop_limit" and s.placed[4].triggered


def test_trailing_stop_follows_the_highs() -> None:
    # placed at the close of bar 5 (12.2) for a long bought at bar 5's open; 5 % trail
    r, _ = trades_of({4: lambda c: c.buy(100), 5: lambda c: c.sell(100, trail_percent=0.05)})
    t = only(r)
    # the extreme starts at bar 5's close, 12.2; bar 6 opens at 12.1 above the level
    # 12.2 * 0.95 = 11.59 and its low 11.0 reaches it: filled at the level
    assert (t["exit_idx"], t["exit_reason"]) == (6, ExitReason.TRAILING_STOP)
    assert t["exit_price"] == pytest.approx(12.2 * 0.95)
    r, _ = trades_of({1: lambda c: c.buy(100), 2: lambda c: c.sell(100, trail_amount=0.5)})
    t = only(r)
    # from 10.9 (bar 2's close): bar 3 opens at 9.0, below 10.4: gap fill at the open
    assert (t["exit_idx"], t["exit_price"]) == (3, 9.0)


def test_bracket_takes_the_stop_when_a_bar_reaches_both_legs() -> None:
    r, _ = trades_of({5: lambda c: c.bracket("buy", sl_price=11.5, tp_price=12.25, size=10)})
    t = only(r)
    # entry at bar 6's open (12.1); bar 6 reaches 12.3 >= tp and 11.0 <= stop: the stop wins
    assert (t["entry_idx"], t["entry_price"], t["exit_idx"], t["exit_price"], t["exit_reason"]) == (
        6, 12.1, 6, 11.5, ExitReason.STOP_LOSS)
    r, _ = trades_of({3: lambda c: c.bracket("buy", sl_price=8.0, tp_price=11.0, size=10)})
    t = only(r)
    # entry at bar 4's open 9.3; bar 5 opens at 12.0, through the take-profit: filled at the open
    assert (t["exit_idx"], t["exit_price"], t["exit_reason"]) == (5, 12.0, ExitReason.TAKE_PROFIT)


def test_bracket_with_a_limit_entry_protects_from_the_next_bar() -> None:
    r, _ = trades_of({5: lambda c: c.bracket("buy", sl_price=10.9, tp_price=13.0, size=10, limit=11.5)})
    t = only(r)
    # the limit fills inside bar 6 at 11.5; the bar's low 11.0 may have come before the fill, so
    # the stop is checked from bar 7 (low 10.0 <= 10.9: stop at 10.9)
    assert (t["entry_idx"], t["entry_price"], t["exit_idx"], t["exit_price"]) == (6, 11.5, 7, 10.9)


def test_costs_and_slippage() -> None:
    config = attrs.evolve(CASH, slippage_bps=10.0, commission_pct=0.001, commission_fixed=1.0,
                          commission_per_unit=0.01)
    r, s = trades_of({0: lambda c: c.buy(100), 2: lambda c: c.sell(100)}, config)
    t = only(r)
    buy, sell = 10.2 * 1.001, 9.0 * 0.999
    assert t["entry_price"] == pytest.approx(buy) and t["exit_price"] == pytest.approx(sell)
    fees = [1.0 + 0.001 * 100 * p + 0.01 * 100 for p in (buy, sell)]
    assert t["fees"] == pytest.approx(sum(fees))
    assert t["pnl"] == pytest.approx(100 * (sell - buy) - sum(fees))
    assert [f.fee for f in s.fills] == pytest.approx(fees)
    assert r.equity[-1] == pytest.approx(10_000 + t["pnl"])


def test_unaffordable_buys_are_rejected_and_long_only_sells_are_clipped() -> None:
    r, s = trades_of({0: lambda c: c.buy(5000)})
    assert r.trades.size == 0 and s.placed[0].status == "rejected"
    r, s = trades_of({0: lambda c: c.buy(100), 2: lambda c: c.sell(300)})
    assert only(r)["size"] == 100 and r.positions[-1, 0] == 0.0
    r, s = trades_of({0: lambda c: c.buy(100), 2: lambda c: c.sell(300)}, attrs.evolve(CASH, allow_short=True))
    assert r.positions[-1, 0] == -200.0
    assert [t["exit_reason"] for t in r.trade_records()] == ["signal", "open"]


def test_partial_closes_and_adds_keep_the_books() -> None:
    r, _ = trades_of({0: lambda c: c.buy(100), 1: lambda c: c.buy(100), 3: lambda c: c.sell(50),
                      5: lambda c: c.close()}, attrs.evolve(CASH, commission_fixed=2.0))
    closed = r.trades[r.trades["exit_reason"] == ExitReason.SIGNAL]
    assert closed["size"].tolist() == [50.0, 150.0]
    avg = (100 * 10.2 + 100 * 10.4) / 200
    assert closed["entry_price"] == pytest.approx([avg, avg])
    assert r.trades["pnl"].sum() + 10_000 == pytest.approx(r.equity[-1])
    assert r.trades["fees"].sum() == pytest.approx(8.0)


def test_order_target_replaces_and_cancel_removes() -> None:
    def twice(c: EventContext) -> Order:
        c.order_target(1.0)
        return c.order_target(0.5)

    r, s = trades_of({0: twice})
    t = only(r)
    assert t["size"] == pytest.approx(0.5 * 10_000 / 10.2)

    def place_and_cancel(c: EventContext) -> Order:
        o = c.buy(10, limit=9.5)
        c.cancel(o)
        return o

    r, s = trades_of({0: place_and_cancel})
    assert r.trades.size == 0 and s.placed[0].status == "cancelled"
    r, s = trades_of({8: lambda c: c.buy(10, limit=1.0)})
    assert s.placed[8].status == "expired"


def test_bad_orders_are_user_errors() -> None:
    for bad in (lambda c: c.buy(-1), lambda c: c.buy(1, limit=float("nan")), lambda c: c.sell(1, trail_percent=1.5),
                lambda c: c.order_target(2.0), lambda c: c.buy(1, symbol="NOPE"),
                lambda c: c.buy(1, stop=5.0, trail_percent=0.1)):
        with pytest.raises(NtUserError):
            trades_of({0: bad})
