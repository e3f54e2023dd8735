"""The same strategy code from backtest to paper trading: real ORCL daily bars replayed one at a time
through the live runner (order manager, risk gate, paper broker, SQLite / PostgreSQL) give the same
orders and fills as the event-driven backtest on the same bars and the same config; a runner
restarted mid-run on the same database continues without sending any order twice.

Tolerances. With no slippage, whole-share sizing and a per-share commission in cents, the run is
exact: the file's prices have six decimals, a float's shortest decimal round-trips, so every fill
price, quantity and commission is equal. With slippage and a percentage commission the backtest
computes in float64 and the paper broker in Decimal (rounding commissions to the cent): prices agree
to 1e-12 relative (float rounding of ``price * (1 + bps)``), commissions to half a cent plus float
error, and all-in fractional quantities to 1e-6 relative (the cents the commissions were rounded
by change the cash that sizes the next position).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.engine import panel_of
from neural_trader.backtest.event import EventContext, EventEngine, Order
from neural_trader.domain.market import Bars, to_ns
from neural_trader.market.files import read_bars
from neural_trader.services.audit import AuditLog
from neural_trader.services.live_runner import BarPrices, FileCheckpoint, LiveRunner, ReplayBars, paper_costs
from neural_trader.services.orders import OrderManager
from neural_trader.services.storage import Storage
from neural_trader.strategies import Momentum, SmaCrossover
from neural_trader.strategies.base import Strategy
from neural_trader_plugins.brokers.paper import PaperBroker

D = decimal.Decimal
DATA = Path(__file__).resolve().parents[1] / "data" / "orcl-1995-2014.txt"
EXACT = BacktestConfig(init_cash=100_000.0, sizing="all_in_whole", commission_per_unit=0.01)
COSTLY = BacktestConfig(init_cash=100_000.0, sizing="all_in", commission_pct=0.001, slippage_bps=5.0)
AT_CLOSE = attrs.evolve(EXACT, fill_at="close")


@attrs.frozen
class NoParams:
    """No parameters."""


class DipAndBreakout(Strategy):
    """An event-style strategy with resting orders: when flat, a buy stop 100 shares above the
    20-bar high (replaced after 5 bars); when long, a take-profit sell limit 6 % over the entry and a
    time stop (a market close) after 15 bars."""

    name = "dip_and_breakout"
    params_type = NoParams

    def warmup(self, params: object) -> int:
        return 20

    def on_start(self, ctx: EventContext) -> None:
        ctx.state.entry = None
        ctx.state.exit = None
        ctx.state.since = 0

    def on_bar(self, ctx: EventContext, bar: int) -> None:
        st = ctx.state
        if bar < 20:
            return
        highs = ctx.data().high
        if ctx.position() == 0:
            if st.exit is not None:
                ctx.cancel(st.exit)
                st.exit = None
            if st.entry is not None and st.entry.status == "working" and bar - st.entry.created < 5:
                return
            if st.entry is not None:
                ctx.cancel(st.entry)
            st.entry = ctx.buy(100, stop=float(max(highs[bar - 19:bar + 1])))
            st.since = bar
            return
        if st.exit is None:
            st.exit = ctx.sell(ctx.position(), limit=round(ctx.price() * 1.06, 4))
            st.since = bar
        elif bar - st.since >= 15:
            ctx.cancel(st.exit)
            st.exit = None
            ctx.close()


class Recording(EventEngine):
    """The event engine, recording every fill as (bar, signed qty, price, commission)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.fills: list[tuple[int, float, float, float]] = []
        self.placed: list[Order] = []

    def trade(self, order: Order, j: int, qty: float, raw: float, i: int, reason: int,
              stops_from: int | None = None) -> None:
        price = raw * (1.0 + self.slip) if qty > 0.0 else raw * (1.0 - self.slip)
        self.fills.append((i, qty, price, self.fee_for(abs(qty), price)))
        super().trade(order, j, qty, raw, i, reason, stops_from)

    def place(self, *args: Any) -> Order:
        order = super().place(*args)
        self.placed.append(order)
        return order


@pytest.fixture(scope="module")
def orcl() -> Bars:
    return read_bars(DATA, symbol="ORCL")


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Storage]:
    with Storage(f"sqlite:///{tmp_path / 'live.db'}") as storage:
        yield storage


def backtest(bars: Bars, strategy: Any, config: BacktestConfig) -> Recording:
    engine = Recording(panel_of(bars), strategy, strategy.make_params(None), config)
    engine.run()
    return engine


class Live:
    """A paper account (manager + broker) on ``storage`` and a runner over it."""

    def __init__(self, storage: Storage, strategy: Any, config: BacktestConfig, checkpoint: Path,
                 run_id: str = "run1") -> None:
        self.prices = BarPrices()
        self.broker = PaperBroker(storage, initial_cash=D(repr(config.init_cash)), **paper_costs(config))
        self.manager = OrderManager(storage, self.broker, audit=AuditLog(storage, b"live-parity-secret"),
                                    quotes=self.prices, initial_cash=D(repr(config.init_cash)))
        self.runner = LiveRunner(run_id=run_id, strategy=strategy, params=None, symbol="ORCL",
                                 manager=self.manager, config=config, prices=self.prices,
                                 checkpoint=FileCheckpoint(checkpoint))

    async def replay(self, bars: Bars, max_bars: int | None = None) -> None:
        await self.runner.run(ReplayBars(bars, max_bars=max_bars), poll_interval=0)

    def fills(self, bars: Bars) -> list[tuple[int, float, float, float]]:
        index = {int(t): k for k, t in enumerate(bars.ts)}
        return [(index[to_ns(f.time)], float(f.signed_qty), float(f.price), float(f.commission))
                for f in self.manager.fills()]


def assert_same(live: list[tuple[int, float, float, float]], event: list[tuple[int, float, float, float]], *,
                exact: bool) -> None:
    assert len(live) == len(event) > 10
    for n, (a, b) in enumerate(zip(live, event, strict=True)):
        if exact:
            assert a == pytest.approx(b, rel=0, abs=1e-9), f"fill {n}: live {a} vs backtest {b}"
            assert a[:3] == b[:3], f"fill {n}: live {a} vs backtest {b}"
        else:
            assert a[0] == b[0], f"fill {n}: live bar {a[0]} vs backtest {b[0]}"
            assert a[1] == pytest.approx(b[1], rel=1e-6), f"fill {n} qty: {a} vs {b}"
            assert a[2] == pytest.approx(b[2], rel=1e-12), f"fill {n} price: {a} vs {b}"
            assert a[3] == pytest.approx(b[3], abs=0.0051), f"fill {n} commission: {a} vs {b}"


#: Each strategy over as many bars as keep the test short: every bar costs the order-heavy ones
#: several database transactions (sma_crossover: all 20 years, 5,036 bars).
STRATEGIES = [(SmaCrossover(), None), (Momentum(), 2500), (DipAndBreakout(), 1500)]


@pytest.mark.parametrize("config", [EXACT, COSTLY, AT_CLOSE], ids=["exact", "costs", "at-close"])
@pytest.mark.parametrize(("strategy", "n_bars"), STRATEGIES, ids=lambda s: getattr(s, "name", str(s)))
async def test_live_replay_trades_like_the_event_backtest(orcl: Bars, sqlite: Storage, tmp_path: Path, strategy: Any,
                                                          n_bars: int | None, config: BacktestConfig) -> None:
    bars = orcl[:n_bars]
    event = backtest(bars, strategy, config)
    live = Live(sqlite, strategy, config, tmp_path / "run1.json")
    await live.replay(bars)
    assert_same(live.fills(bars), event.fills, exact=config is not COSTLY)
    # the orders: each market order is one fill; resting orders are the same (bar, side, qty, type, level)
    orders = live.manager.list_orders(limit=100_000)
    resting = [(int(o.client_order_id.split(".")[1]), o.request.side.sign, float(o.request.qty), o.request.type.value,
                float(o.request.limit_price or o.request.stop_price or 0))
               for o in orders if o.request.type.value != "market" and not o.client_order_id.endswith((".sl", ".tp"))]
    expected = [(o.created, o.side, o.size, o.type, o.limit or o.stop or 0.0) for o in event.placed
                if o.type != "market"]
    assert resting == expected
    assert sum(1 for o in orders if o.request.type.value == "market") == \
        sum(1 for f in event.fills) - sum(1 for o in orders if o.status.value == "filled" and o.request.type.value != "market")
    held = {p.symbol: float(p.qty) for p in await live.broker.positions()}
    assert held.get("ORCL", 0.0) == pytest.approx(event.pos[0], rel=1e-6)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_restarted_run_continues_without_sending_an_order_twice(
        orcl: Bars, tmp_path: Path, db: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}" if db == "sqlite" else str(request.getfixturevalue("postgres_url"))
    strategy, config = DipAndBreakout(), EXACT
    bars = orcl[:1200]
    event = backtest(bars, strategy, config)
    checkpoint = tmp_path / "run.json"
    with Storage(url) as storage:
        first = Live(storage, strategy, config, checkpoint)
        await first.replay(bars, max_bars=700)
        before = {o.client_order_id for o in first.manager.list_orders(limit=100_000)}
        assert first.runner.stats.bars == 700 and before
    with Storage(url) as storage:  # a new process: new storage, broker, manager and runner
        second = Live(storage, strategy, config, checkpoint)
        await second.replay(bars)
        assert second.runner.stats.bars == len(bars)
        orders = second.manager.list_orders(limit=100_000)
        ids = [o.client_order_id for o in orders]
        assert len(ids) == len(set(ids)) and before < set(ids)
        assert_same(second.fills(bars), event.fills, exact=True)
        with storage.session() as session:
            from sqlmodel import select

            from neural_trader.services.tables_orders import PaperOrderRow
            at_broker = session.exec(select(PaperOrderRow.client_order_id)).all()
        assert sorted(at_broker) == sorted(ids)  # each order reached the broker exactly once
        report = await second.manager.reconcile()
        assert report.ok, report.error
