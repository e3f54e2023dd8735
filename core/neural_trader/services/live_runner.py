"""Live strategy runs: a registered strategy, bar by bar, through the order manager and a broker.

The strategy sees the same API as in the event-driven backtest (:class:`LiveContext` mirrors
:class:`~neural_trader.backtest.event.EventContext`), so the code that backtests is the code that
trades. Per new bar ``i`` the runner does what :class:`~neural_trader.backtest.event.EventEngine`
does, in its order:

1. market orders from bar ``i - 1`` (``fill_at="next_open"``) are sized **now, at bar ``i``'s open**,
   exactly as the engine sizes them (``EventEngine.execute`` / ``units_for``: targets close the
   position and open the new one as two orders), submitted through :meth:`OrderManager.submit`
   (risk gate included) and, on the paper broker, filled by showing it bar ``i`` as a bar tick
   (``PaperBroker.process_market``: a market order on a bar fills at its open, with slippage);
2. working conditional orders and protective exits are shown bar ``i`` one at a time, in the order
   they were placed (the paper broker's gap rule is the engine's; of an exit pair the stop goes
   first unless only the take-profit gaps at the open, the engine's priority);
3. ``on_bar(ctx, i)`` runs; its orders are submitted after it returns. With ``fill_at="close"``
   market orders are sized at the close and filled at once (a quote tick at the close).

Client order ids are ``<run id>.<bar>.<n>`` (``n``: the run's order count), with ``.c`` / ``.o``
for a target's closing / opening leg and ``.sl`` / ``.tp`` for exits: a restarted runner recomputes
the same ids, so the order manager answers a resubmission with the stored order and nothing is sent
twice. A restart replays the run from its first bar: the strategy's state, the run's position and
cash are rebuilt from the manager's stored orders and fills (a fill counts at the bar whose time it
carries); bars already shown to the paper broker (the :class:`Checkpoint`) are not shown again.

Position and cash as the strategy sees them are the run's own: the account's cash when the run
started plus this run's fills (Decimals from the manager, given to the strategy as floats).

Not simulated yet (refused with :class:`~neural_trader.errors.NtUserError`): trailing stops (orders
and the config's ``trailing_stop``), limit / stop orders without a size, several symbols, and a
``commission_fixed`` (the paper broker charges per share and per notional). Known differences from
the engine: an exit's quantity is the position when it was attached (the engine closes the position
as it stands when the exit fires), a sized conditional sell is not cut down to the position at its
fill, and a conditional buy is not refused for cash at its fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import json
import logging
import math
import os
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs
import numpy as np

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.event import Fill as EventFill
from neural_trader.backtest.event import Order, OrderType
from neural_trader.domain.market import Bar, Bars, from_ns
from neural_trader.domain.orders import Fill, OrderRequest, OrderSide, OrderStatus, to_decimal
from neural_trader.errors import NtError, NtUserError
from neural_trader.native.simulate import ExitReason
from neural_trader.ops import Identity, Scope
from neural_trader.services.identity import current_caller, owner_matches
from neural_trader.services.orders import OrderManager, PriceRef

__all__ = [
    "BarPrices",
    "BarSource",
    "Checkpoint",
    "FileCheckpoint",
    "LiveContext",
    "LiveRun",
    "LiveRunner",
    "LiveRuns",
    "LiveStats",
    "MarketBars",
    "MemoryCheckpoint",
    "ReplayBars",
    "RunSpec",
    "paper_costs",
]

log = logging.getLogger("neural_trader.live")

D = decimal.Decimal
_SL, _TP = int(ExitReason.STOP_LOSS), int(ExitReason.TAKE_PROFIT)


def paper_costs(config: BacktestConfig) -> dict[str, Any]:
    """The paper broker's cost settings that charge what ``config`` charges in a backtest
    (``PaperBroker(**paper_costs(config))``): per-unit commission per share, the percentage in basis
    points, slippage on every fill (the engine slips limit fills too), and prices unrounded (a
    float's shortest decimal has at most 17 digits; 1e-18 keeps them all)."""
    if config.commission_fixed:
        raise NtUserError("the paper broker has no fixed commission per fill; set commission_fixed to 0 for a live run")
    return {"commission_per_share": to_decimal(config.commission_per_unit, field="commission_per_unit"),
            "commission_bps": to_decimal(config.commission_pct, field="commission_pct") * 10_000,
            "slippage_bps": to_decimal(config.slippage_bps, field="slippage_bps"), "slip_limits": True,
            "price_increment": D("1e-18")}


# -- bar sources -------------------------------------------------------------------------------------
class BarSource(Protocol):
    """Where a run's bars come from: closed bars, oldest first."""

    async def poll(self) -> list[Bar]:
        """The bars closed since the last call (empty: none yet)."""
        ...

    @property
    def exhausted(self) -> bool:
        """True when no bar will ever come again (the end of a replay)."""
        ...


class ReplayBars:
    """Historical bars replayed one per poll (``max_bars``: stop after that many)."""

    def __init__(self, bars: Bars, *, max_bars: int | None = None, per_poll: int = 1) -> None:
        self.bars = bars
        self.end = len(bars) if max_bars is None else min(len(bars), max_bars)
        self.per_poll = per_poll
        self.at = 0

    async def poll(self) -> list[Bar]:
        out = [self.bars[k] for k in range(self.at, min(self.end, self.at + self.per_poll))]
        self.at += len(out)
        return out

    @property
    def exhausted(self) -> bool:
        return self.at >= self.end


class MarketBars:
    """New bars from the host's market data service (its provider chain), from ``start`` on."""

    def __init__(self, market: Any, symbol: str, timeframe: Any, *, start: dt.datetime | None = None,
                 provider: str | None = None) -> None:
        self.market, self.symbol, self.timeframe, self.start = market, symbol, timeframe, start
        self.provider = provider
        self.last: dt.datetime | None = None

    async def poll(self) -> list[Bar]:
        bars = await self.market.bars(self.symbol, self.timeframe, self.last or self.start, provider=self.provider,
                                      use_cache=False)
        fresh = [bars[k] for k in range(len(bars))]
        fresh = [b for b in fresh if self.last is None or b.time > self.last]
        if fresh:
            self.last = fresh[-1].time
        return fresh

    @property
    def exhausted(self) -> bool:
        return False


# -- checkpoints ---------------------------------------------------------------------------------------
class Checkpoint(Protocol):
    """What a restart needs besides the database: the cash the run started from and the last bar
    index shown to the broker (``{"start_cash": "100000", "fed": 41}``; ``{}`` before the first)."""

    def load(self) -> dict[str, Any]: ...

    def save(self, state: dict[str, Any]) -> None: ...


class MemoryCheckpoint:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        return dict(self.state)

    def save(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


class FileCheckpoint:
    """A JSON file, replaced atomically (write, then rename)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)


class BarPrices:
    """A price source (:data:`~neural_trader.services.orders.PriceSource`) that the runner sets to
    the price it trades at (the open, then the close): the risk gate's reference for market orders."""

    def __init__(self) -> None:
        self.prices: dict[str, D] = {}

    def set(self, symbol: str, price: float) -> None:
        self.prices[symbol] = D(repr(price))

    async def __call__(self, symbol: str) -> PriceRef | None:
        p = self.prices.get(symbol)
        return None if p is None else PriceRef(bid=p, ask=p, last=p)


# -- the run -------------------------------------------------------------------------------------------
@attrs.define
class LiveStats:
    """What a run has done so far."""

    bars: int = 0
    orders: int = 0
    fills: int = 0
    rejected: int = 0
    #: Equity now less the cash the run started from.
    pnl: float = 0.0
    equity: float = 0.0
    position: float = 0.0
    cash: float = 0.0
    last_bar: dt.datetime | None = None
    last_error: str | None = None


@attrs.define(eq=False)
class _Exits:
    """A position's protective stop and take-profit, as broker orders (client order ids)."""

    episode: int
    stop: str | None
    take: str | None
    stop_price: float
    take_price: float
    long: bool
    qty: D
    active_from: int


class _Series:
    """The bars so far, as the strategy's ``ctx.data()``."""

    def __init__(self, symbol: str, ts: list[int], cols: dict[str, list[float]]) -> None:
        self.symbol = symbol
        self.ts = np.array(ts, dtype=np.int64)
        self.open, self.high, self.low, self.close, self.volume = (
            np.array(cols[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))

    def __len__(self) -> int:
        return int(self.close.shape[0])


class LiveContext:
    """What the strategy sees: :class:`~neural_trader.backtest.event.EventContext`'s API over a
    live run (data so far, the run's position and cash, orders that go to the order manager)."""

    __slots__ = ("_run", "config", "i", "params", "state", "symbols")

    def __init__(self, run: LiveRunner) -> None:
        self._run = run
        self.params: Any = run.params
        self.config: BacktestConfig = run.config
        self.state = types.SimpleNamespace()
        self.symbols: tuple[str, ...] = (run.symbol,)
        self.i: int = -1

    @property
    def n(self) -> int:
        """Bars so far (a live run does not know how many will come)."""
        return len(self._run.closes)

    def _check(self, symbol: int | str | None) -> None:
        if symbol not in (None, 0, self._run.symbol):
            raise NtUserError(f"unknown symbol {symbol!r}; this run trades {self._run.symbol}")

    def data(self, symbol: int | str | None = None) -> Any:
        self._check(symbol)
        return self._run.series()

    def price(self, symbol: int | str | None = None) -> float:
        self._check(symbol)
        return self._run.closes[self.i]

    def ohlc(self, symbol: int | str | None = None) -> tuple[float, float, float, float]:
        self._check(symbol)
        r, i = self._run, self.i
        return r.opens[i], r.highs[i], r.lows[i], r.closes[i]

    def position(self, symbol: int | str | None = None) -> float:
        self._check(symbol)
        return float(self._run.pos)

    @property
    def cash(self) -> float:
        return float(self._run.cash)

    def value(self) -> float:
        return float(self._run.cash) + float(self._run.pos) * self._run.closes[self.i]

    def open_orders(self, symbol: int | str | None = None) -> list[Order]:
        self._check(symbol)
        return [o for o in self._run.working if isinstance(o, Order)] + list(self._run.pending)

    def buy(self, size: float | None = None, *, symbol: int | str | None = None, limit: float | None = None,
            stop: float | None = None, trail_percent: float | None = None, trail_amount: float | None = None,
            sl_price: float | None = None, tp_price: float | None = None) -> Order:
        self._check(symbol)
        return self._run.place(+1, size, limit, stop, trail_percent, trail_amount, sl_price, tp_price)

    def sell(self, size: float | None = None, *, symbol: int | str | None = None, limit: float | None = None,
             stop: float | None = None, trail_percent: float | None = None, trail_amount: float | None = None,
             sl_price: float | None = None, tp_price: float | None = None) -> Order:
        self._check(symbol)
        return self._run.place(-1, size, limit, stop, trail_percent, trail_amount, sl_price, tp_price)

    def bracket(self, side: Literal["buy", "sell"], sl_price: float, tp_price: float, size: float | None = None, *,
                symbol: int | str | None = None, limit: float | None = None) -> Order:
        fn = self.buy if side == "buy" else self.sell
        return fn(size, symbol=symbol, limit=limit, sl_price=sl_price, tp_price=tp_price)

    def close(self, symbol: int | str | None = None) -> Order | None:
        self._check(symbol)
        p = float(self._run.pos)
        if p == 0.0:
            return None
        return self._run.place(-1 if p > 0 else +1, abs(p), None, None, None, None, None, None)

    def order_target(self, target: float, symbol: int | str | None = None, *, stop_loss: float = 0.0,
                     take_profit: float = 0.0, trailing_stop: float = 0.0) -> Order:
        self._check(symbol)
        return self._run.place_target(float(target), {"stop_loss": stop_loss, "take_profit": take_profit,
                                                      "trailing_stop": trailing_stop})

    def cancel(self, order: Order) -> None:
        self._run.cancel(order)


class LiveRunner:
    """One live run of ``strategy`` on ``symbol`` through ``manager`` (and its broker); feed it
    bars with :meth:`step` or :meth:`run`. See the module docstring.

    :param prices: the manager's price source, when it is a :class:`BarPrices` the runner sets.
    :param checkpoint: the last bar shown to the broker (a restart must not show it again).
    :param start_cash: the cash the run starts from (default: the account's cash now).
    """

    def __init__(self, *, run_id: str, strategy: Any, params: Any, symbol: str, manager: OrderManager,
                 broker: Any = None, config: BacktestConfig | None = None, prices: BarPrices | None = None,
                 checkpoint: Checkpoint | None = None, start_cash: D | None = None, actor: str | None = None) -> None:
        self.run_id, self.strategy, self.symbol, self.manager = run_id, strategy, symbol, manager
        self.broker = broker if broker is not None else manager.broker
        self.config = config or BacktestConfig()
        make = getattr(strategy, "make_params", None)
        self.params = make(params) if make is not None else params
        if int(getattr(strategy, "symbols_required", 1)) != 1:
            raise NtUserError(f"strategy {strategy.name!r} trades several symbols together; live runs trade one "
                              "symbol so far")
        if self.config.commission_fixed:
            raise NtUserError("live runs charge the broker's commission; commission_fixed must be 0")
        overrides = strategy.sim_overrides(self.params) if hasattr(strategy, "sim_overrides") else {}
        sp = self.config.to_sim_params(overrides=overrides)
        if sp.trailing_stop:
            raise NtUserError("trailing-stop exits are not simulated in live runs yet; set trailing_stop to 0")
        self.default_exits = {"stop_loss": sp.stop_loss, "take_profit": sp.take_profit}
        self.slip = self.config.slippage_bps / 10000.0
        self.prices = prices
        self.checkpoint: Checkpoint = checkpoint or MemoryCheckpoint()
        saved = self.checkpoint.load()
        #: The last bar shown to the broker before this runner started (a restart catches up to it).
        self.fed = self.resume_from = int(saved.get("fed", -1))
        self.actor = actor or f"strategy:{strategy.name}:{run_id}"
        self.start_cash = D(saved["start_cash"]) if "start_cash" in saved else (
            None if start_cash is None else D(start_cash))
        self.times: list[int] = []
        self.cols: dict[str, list[float]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
        self.opens, self.highs, self.lows, self.closes = (self.cols[k] for k in ("open", "high", "low", "close"))
        self.pos = D(0)
        self.cash = D(0)
        self.episode = 0
        self.pending: list[Order] = []
        self.working: list[Order | _Exits] = []
        self.outbox: list[tuple[str, Order]] = []
        self.coids: dict[int, str] = {}
        self.sent: set[str] = set()
        self.seen: set[str] = set()
        self._exits_to_send: list[_Exits] = []
        self._begun = False
        self._shown = self._replaying = False
        self.n_orders = 0
        self.stats = LiveStats()
        #: What :attr:`stats` was at the end of the last bar: what a status shows (never a bar half done,
        #: with an order counted and its fill not yet).
        self.published = LiveStats()
        self.ctx = LiveContext(self)
        self.i = -1
        self._series: _Series | None = None
        self._started = False
        self._events = _overrides(strategy, "on_bar")
        self._signals: list[float] | None = None
        self._target = 0.0
        self._on_fill = strategy.on_fill if _overrides(strategy, "on_fill") else None
        if not self._events and not hasattr(strategy, "signals"):
            raise NtUserError(f"strategy {strategy.name!r} has neither on_bar nor signals")

    # -- the strategy's view ---------------------------------------------------------------------------
    def series(self) -> _Series:
        if self._series is None or len(self._series) != len(self.closes):
            self._series = _Series(self.symbol, self.times, self.cols)
        return self._series

    def _refresh(self) -> None:
        """Recompute what ``on_start`` precomputes over the bars so far: attributes holding one value
        per bar are indicators and are replaced; everything else is the strategy's own state."""
        if not self._events:
            from neural_trader.backtest.engine import panel_of
            from neural_trader.backtest.vectorized import targets_for

            self._signals = targets_for(panel_of(self.series()), self.strategy, self.params, self.config)[:, 0].tolist()
            return
        if not self._started:
            self.strategy.on_start(self.ctx)
            self._started = True
            return
        scratch = LiveContext(self)
        scratch.i = self.i
        self.strategy.on_start(scratch)
        n = len(self.closes)
        for key, value in vars(scratch.state).items():
            if isinstance(value, list | tuple | np.ndarray) and len(value) == n:
                setattr(self.ctx.state, key, value)

    def _signal_bar(self, i: int) -> None:
        # the event engine's signal_adapter: a changed target becomes an order_target
        assert self._signals is not None
        t = self._signals[i]
        if t == t and t != self._target:
            self._target = t
            self.place_target(t, {})

    # -- placing (from the strategy, synchronous; sent after it returns) ---------------------------------
    def _next_id(self) -> int:
        self.n_orders += 1
        return self.n_orders

    def place(self, side: int, size: float | None, limit: float | None, stop: float | None,
              trail_pct: float | None, trail_amount: float | None, sl_price: float | None,
              tp_price: float | None) -> Order:
        if size is not None and not (size > 0.0 and math.isfinite(size)):
            raise NtUserError(f"order size must be a finite number > 0, got {size!r}")
        for name, v in (("limit", limit), ("stop", stop), ("sl_price", sl_price), ("tp_price", tp_price)):
            if v is not None and not (v > 0.0 and math.isfinite(v)):
                raise NtUserError(f"{name} must be a finite price > 0, got {v!r}")
        if trail_pct is not None or trail_amount is not None:
            raise NtUserError("trailing-stop orders are not simulated in live runs yet")
        kind: OrderType = ("stop_limit" if stop is not None and limit is not None else "stop" if stop is not None
                           else "limit" if limit is not None else "market")
        if kind != "market" and size is None:
            raise NtUserError(f"a {kind} order in a live run needs a size (it is sent before its fill price is known)")
        i = self.i
        order = Order(id=self._next_id(), symbol=0, side=side, type=kind, size=size, created=i, active_from=i + 1,
                      limit=limit, stop=stop, sl_price=sl_price, tp_price=tp_price)
        if kind in ("stop", "stop_limit"):
            order.reason = _SL
        self.coids[order.id] = f"{self.run_id}.{i}.{order.id}"
        if kind == "market":
            self.pending.append(order)
        else:
            self.working.append(order)
            self.outbox.append(("submit", order))
        return order

    def place_target(self, target: float, exits: dict[str, float]) -> Order:
        if not (-1.0 <= target <= 1.0):
            raise NtUserError(f"target must be in [-1, 1], got {target!r}")
        if exits.get("trailing_stop"):
            raise NtUserError("trailing-stop exits are not simulated in live runs yet")
        if target < 0.0 and not self.config.allow_short:
            target = 0.0
        for prior in self.pending:
            if prior.target is not None and prior.status == "working":
                prior.status = "cancelled"
        self.pending = [o for o in self.pending if o.status == "working"]
        i = self.i
        order = Order(id=self._next_id(), symbol=0, side=1 if target > 0 else -1, type="market", size=None,
                      created=i, active_from=i + 1, target=target, exits=exits)
        self.coids[order.id] = f"{self.run_id}.{i}.{order.id}"
        self.pending.append(order)
        return order

    def cancel(self, order: Order) -> None:
        if order.status != "working":
            return
        order.status = "cancelled"
        if order in self.pending:
            self.pending.remove(order)
        elif order in self.working:
            self.working.remove(order)
            self.outbox.append(("cancel", order))

    # -- the broker side -----------------------------------------------------------------------------------
    async def _flush(self) -> None:
        """Send what the strategy asked for, in its order."""
        out, self.outbox = self.outbox, []
        for verb, order in out:
            coid = self.coids[order.id]
            if verb == "submit":
                if order.status != "working":
                    continue  # cancelled before it was sent
                await self._submit(order, coid, order.side, D(repr(order.size)))
            elif coid in self.sent:
                await self._cancel_quietly(coid)

    async def _submit(self, order: Order | None, coid: str, side: int, qty: D, *, kind: str = "market",
                      limit: float | None = None, stop: float | None = None) -> bool:
        if order is not None:
            kind = order.type
            limit, stop = order.limit, order.stop
        request = OrderRequest(
            client_order_id=coid, symbol=self.symbol, side=OrderSide.BUY if side > 0 else OrderSide.SELL, qty=qty,
            type=kind, time_in_force="gtc" if kind != "market" else "day",
            limit_price=None if limit is None else D(repr(limit)), stop_price=None if stop is None else D(repr(stop)),
            strategy=self.strategy.name)
        try:
            placed = await self.manager.submit(request, actor=self.actor)
        except NtError as exc:
            self._error(f"submit {coid}: {exc}")
            if order is not None:
                order.status = "rejected"
            return False
        self.sent.add(coid)
        if placed.status is OrderStatus.REJECTED:
            self.stats.rejected += 1
            self._error(f"order {coid} rejected: {placed.reason}")
            if order is not None:
                order.status = "rejected"
                if order in self.working:
                    self.working.remove(order)
            return False
        self.stats.orders += 1
        return True

    def _error(self, message: str) -> None:
        log.warning("live run %s: %s", self.run_id, message)
        self.stats.last_error = message
        self.published = attrs.evolve(self.published, last_error=message)

    async def _show(self, coid: str, tick: Any) -> list[Fill]:
        """Show ``tick`` to the broker for order ``coid`` only (paper), then learn what happened to it:
        the manager records the broker's answer; the run takes the fills up to this bar."""
        process = getattr(self.broker, "process_market", None)
        if tick is not None and process is not None and not self._replaying:
            await process([tick], only={coid})
            self._shown = True
        answer = await self.broker.lookup(coid)
        if answer is None:
            return []
        self.manager.record(answer, actor=f"broker:{self.broker.name}")
        # catching up after a restart, a fill counts at the bar whose time it carries (paper fills
        # on bars carry the bar's time); running, every new fill counts now
        now = from_ns(self.times[self.i])
        fresh = [f for f in answer.fills if f.fill_id not in self.seen
                 and (self.i > self.resume_from or f.time <= now)]
        for f in fresh:
            self.seen.add(f.fill_id)
        return fresh

    def _bar_tick(self, i: int) -> Any:
        from neural_trader_plugins.brokers.paper import MarketTick

        return MarketTick.from_bar(self.symbol, from_ns(self.times[i]), self.opens[i], self.highs[i], self.lows[i],
                                   self.closes[i])

    def _close_tick(self, i: int) -> Any:
        from neural_trader_plugins.brokers.paper import MarketTick

        return MarketTick(symbol=self.symbol, time=from_ns(self.times[i]), last=D(repr(self.closes[i])))

    # -- executing market orders (EventEngine.execute, on the manager) --------------------------------------
    def _units(self, price: float, mag: float) -> float:
        c = self.config
        if c.sizing == "fixed":
            return c.size * mag
        base = float(self.cash)
        budget = base * c.size * mag if c.sizing == "percent" else base * mag
        units = (budget - c.commission_fixed) / (price * (1.0 + c.commission_pct) + c.commission_per_unit)
        if c.sizing == "all_in_whole":
            units = float(math.floor(units))
        return units

    async def _market(self, order: Order, coid: str, qty: D, raw_tick: Any, *, at_close: bool) -> None:
        if not await self._submit(None, coid, 1 if qty > 0 else -1, abs(qty)):
            return
        for fill in await self._show(coid, raw_tick):
            self._apply(order, fill, stops_from=self.i + 1 if at_close else self.i)

    async def _execute(self, order: Order, raw: float, tick: Any, *, at_close: bool) -> None:
        coid = self.coids[order.id]
        order.status = "filled"
        order.fill_bar, order.fill_price = self.i, raw
        if order.target is not None:
            if self.pos != 0:
                await self._market(order, coid + ".c", -self.pos, tick, at_close=at_close)
            t = order.target
            if t != 0.0:
                slipped = raw * (1.0 + self.slip) if t > 0.0 else raw * (1.0 - self.slip)
                units = self._units(slipped, abs(t))
                if units > 0.0:
                    q = D(repr(units))
                    await self._market(order, coid + ".o", q if t > 0.0 else -q, tick, at_close=at_close)
            return
        p = float(self.pos)
        if order.size is None:
            slipped = raw * (1.0 + self.slip) if order.side > 0 else raw * (1.0 - self.slip)
            units = self._units(slipped, 1.0)
            if not units > 0.0:
                order.status = "rejected"
                return
        else:
            units = order.size
        qty = D(repr(units)) * order.side
        if not self.config.allow_short and p + float(qty) < 0.0:
            qty = -self.pos
            if qty == 0:
                order.status = "rejected"
                return
        if qty > 0 and p >= 0.0:
            price = raw * (1.0 + self.slip)
            c = self.config
            fee = c.commission_pct * (float(qty) * price) + c.commission_per_unit * float(qty)
            if float(self.cash) - float(qty) * price - fee < -1e-9 * c.init_cash:
                order.status = "rejected"
                return
        await self._market(order, coid, qty, tick, at_close=at_close)

    # -- fills -------------------------------------------------------------------------------------------
    def _apply(self, order: Order, fill: Fill, *, stops_from: int) -> None:
        before = self.pos
        self.pos += fill.signed_qty
        self.cash -= fill.signed_qty * fill.price + fill.commission
        self.stats.fills += 1
        opened = self.pos != 0 and (before == 0 or (before > 0) != (self.pos > 0))
        if opened:
            self.episode += 1
            self._attach_exits(order, fill, float(fill.price), stops_from)
        if self._on_fill is not None:
            self._on_fill(self.ctx, EventFill(order=order, symbol=0, bar=self.i, qty=float(fill.signed_qty),
                                              price=float(fill.price), fee=float(fill.commission)))

    def _attach_exits(self, order: Order, fill: Fill, price: float, active_from: int) -> None:
        long = self.pos > 0
        if order.sl_price is not None or order.tp_price is not None:
            stop, take = order.sl_price or 0.0, order.tp_price or 0.0
        else:
            ex = dict(self.default_exits)
            for key, v in (order.exits or {}).items():
                if v and key in ex:
                    ex[key] = v
            sl, tp = ex["stop_loss"], ex["take_profit"]
            if not (sl or tp):
                return
            stop = (price * (1.0 - sl) if long else price * (1.0 + sl)) if sl > 0.0 else 0.0
            take = (price * (1.0 + tp) if long else price * (1.0 - tp)) if tp > 0.0 else 0.0
        base = fill.client_order_id
        group = _Exits(episode=self.episode, stop=base + ".sl" if stop > 0.0 else None,
                       take=base + ".tp" if take > 0.0 else None, stop_price=stop, take_price=take, long=long,
                       qty=abs(self.pos), active_from=active_from)
        self.working.append(group)
        self._exits_to_send.append(group)

    async def _send_exits(self) -> None:
        groups, self._exits_to_send = self._exits_to_send, []
        for g in groups:
            if g.episode != self.episode or self.pos == 0:
                continue  # the position closed before its exits went out
            side = -1 if g.long else +1
            if g.stop is not None:
                await self._submit(None, g.stop, side, g.qty, kind="stop", stop=g.stop_price)
            if g.take is not None:
                await self._submit(None, g.take, side, g.qty, kind="limit", limit=g.take_price)

    async def _check_exits(self, g: _Exits, i: int) -> None:
        legs = [c for c in (g.stop, g.take) if c is not None]
        if self.pos == 0 or self.episode != g.episode:
            self.working.remove(g)
            for coid in legs:
                await self._cancel_quietly(coid)
            return
        o = self.opens[i]
        stop_gaps = g.stop is not None and (o <= g.stop_price if g.long else o >= g.stop_price)
        take_gaps = g.take is not None and (o >= g.take_price if g.long else o <= g.take_price)
        if take_gaps and not stop_gaps:
            legs.reverse()
        tick = self._bar_tick(i)
        for coid in legs:
            fills = await self._show(coid, tick)
            if fills:
                self.working.remove(g)
                exit_order = Order(id=0, symbol=0, side=-1 if g.long else 1, type="stop" if coid == g.stop else "limit",
                                   size=None, created=i, active_from=i, status="filled",
                                   reason=_SL if coid == g.stop else _TP)
                for f in fills:
                    self._apply(exit_order, f, stops_from=i)
                for other in legs:
                    if other != coid:
                        await self._cancel_quietly(other)
                return

    async def _cancel_quietly(self, coid: str) -> None:
        if coid not in self.sent:
            return
        try:
            order = self.manager.get(coid)
            if not order.status.terminal:
                await self.manager.cancel(coid, actor=self.actor)
        except NtError as exc:
            self._error(f"cancel {coid}: {exc}")

    async def _check_order(self, order: Order, i: int) -> None:
        coid = self.coids[order.id]
        if order.side < 0 and not self.config.allow_short and self.pos <= 0:
            # the engine refuses such a sell at its fill (a long-only run never sells what it does
            # not hold); the broker would sell short, so it never gets to fill
            self.working.remove(order)
            order.status = "rejected"
            await self._cancel_quietly(coid)
            return
        fills = await self._show(coid, self._bar_tick(i))
        if fills:
            self.working.remove(order)
            order.status, order.fill_bar = "filled", i
            # the engine's rule: exits of a fill at the open start on this bar, of an intrabar fill
            # on the next (the bar's path after the fill is unknown)
            at_open = self.opens[i] * (1.0 + order.side * self.slip)
            for f in fills:
                order.fill_price = float(f.price)
                self._apply(order, f, stops_from=i if abs(order.fill_price - at_open) <= 1e-12 * at_open else i + 1)

    # -- one bar -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile the manager if it has not been, and fix the run's starting cash."""
        if self._begun:
            return
        if not self.manager.reconciled:
            report = await self.manager.start()
            if not report.ok:
                raise NtError(f"the order manager could not reconcile with {self.broker.name}: {report.error}")
        if self.start_cash is None:
            self.start_cash = self.manager.cash()
        self.cash = self.start_cash
        self._save()
        self._begun = True

    def _save(self) -> None:
        self.checkpoint.save({"fed": self.fed, "start_cash": format(self.start_cash, "f")})

    async def step(self, bar: Bar) -> None:
        """Process one new closed bar (see the module docstring)."""
        await self.start()
        ns = int((bar.time - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1)) * 1000
        if self.times and ns <= self.times[-1]:
            return  # a bar seen before
        self.times.append(ns)
        for key in ("open", "high", "low", "close", "volume"):
            self.cols[key].append(float(getattr(bar, key)))
        self.i = i = len(self.closes) - 1
        self.ctx.i = i
        self._shown = False
        #: A bar the broker saw before a restart: what happened on it is read back, not redone.
        self._replaying = i <= self.fed
        if self.prices is not None:
            self.prices.set(self.symbol, self.opens[i])
        if self.config.fill_at == "next_open":
            due, self.pending = self.pending, []
            tick = self._bar_tick(i)
            for order in due:
                if order.status == "working":
                    await self._execute(order, self.opens[i], tick, at_close=False)
        await self._send_exits()
        for item in list(self.working):
            if item not in self.working or item.active_from > i:
                continue
            if isinstance(item, _Exits):
                await self._check_exits(item, i)
            elif item.status == "working":
                await self._check_order(item, i)
        await self._send_exits()
        await self._flush()
        self._mark_fed()
        if self.prices is not None:
            self.prices.set(self.symbol, self.closes[i])
        self._refresh()
        if self._events:
            self.strategy.on_bar(self.ctx, i)
        else:
            self._signal_bar(i)
        if self.config.fill_at == "close":
            due, self.pending = self.pending, []
            tick = self._close_tick(i)
            for order in due:
                if order.status == "working":
                    await self._execute(order, self.closes[i], tick, at_close=True)
        await self._send_exits()
        await self._flush()
        self._mark_fed()
        self._update_stats(bar.time)

    def _mark_fed(self) -> None:
        # only a bar the broker has been shown must not be shown again after a restart
        if self._shown and self.i > self.fed:
            self.fed = self.i
            self._save()

    def _update_stats(self, time: dt.datetime) -> None:
        s = self.stats
        s.bars, s.last_bar = len(self.closes), time
        s.position, s.cash = float(self.pos), float(self.cash)
        s.equity = s.cash + s.position * self.closes[-1]
        s.pnl = s.equity - float(self.start_cash or 0)
        self.published = attrs.evolve(s)

    async def run(self, source: BarSource, *, poll_interval: float = 60.0, stop: asyncio.Event | None = None,
                  max_bars: int | None = None) -> LiveStats:
        """Poll ``source`` until it is exhausted, ``stop`` is set, or ``max_bars`` bars were processed."""
        await self.start()
        while stop is None or not stop.is_set():
            fresh = await source.poll()
            for bar in fresh:
                await self.step(bar)
                if max_bars is not None and self.stats.bars >= max_bars:
                    return self.stats
            if source.exhausted:
                break
            if fresh:
                continue  # more may be waiting: wait only when a poll brings nothing new
            if stop is None:
                await asyncio.sleep(poll_interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=poll_interval)
        return self.stats

    def submitted(self) -> Sequence[str]:
        """Client order ids this run has computed so far."""
        return list(self.coids.values())


def _overrides(strategy: Any, name: str) -> bool:
    from neural_trader.backtest.event import _overrides as engine_overrides

    return engine_overrides(strategy, name)


# -- managed runs ----------------------------------------------------------------------------------
RunMode = Literal["live", "replay"]
RunState = Literal["running", "finished", "stopped", "failed"]


@attrs.frozen(kw_only=True)
class RunSpec:
    """What a run is: its id is a hash of it, so starting the same spec again is the same run
    (resumed, nothing sent twice); ``name`` tells two otherwise equal runs apart."""

    strategy: str
    params: dict[str, Any] = attrs.field(factory=dict)
    symbol: str
    broker: str | None = None
    account: str | None = None
    timeframe: str = "1Day"
    provider: str | None = None
    poll_interval: float = 60.0
    config: dict[str, Any] = attrs.field(factory=dict)
    mode: RunMode = "live"
    start: str | None = None
    end: str | None = None
    max_bars: int | None = None
    name: str = ""
    #: The identity whose run it is (:meth:`LiveRuns.start` sets the name of a bound caller without the
    #: ``admin`` scope); ``None``: the operator's and the admins'. Part of the id: two traders starting
    #: the same settings start two runs.
    owner: str | None = None

    @property
    def run_id(self) -> str:
        import hashlib

        fields = attrs.asdict(self)
        if fields["owner"] is None:
            del fields["owner"]  # the operator's runs keep the ids they had before runs had owners
        text = json.dumps(fields, sort_keys=True, default=str)
        return "lr-" + hashlib.sha256(text.encode()).hexdigest()[:12]


@attrs.define(eq=False)
class LiveRun:
    spec: RunSpec
    run_id: str
    state: RunState = "running"
    runner: LiveRunner | None = None
    error: str | None = None
    broker: str = ""
    account: str = ""
    #: Who started it, as an order records its owner (``name`` or ``name:<key id>``); ``None``: the operator.
    owner: str | None = None
    started_at: dt.datetime | None = None
    stop_event: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    task: Any = None  # the asyncio task (held here: the loop keeps only a weak reference)
    done: Any = None  # a concurrent.futures.Future, set when the task ends

    @property
    def stats(self) -> LiveStats:
        return self.runner.published if self.runner is not None else LiveStats()


def _owner_of(caller: Identity) -> str:
    return f"{caller.name}:{caller.key_id}" if caller.key_id else caller.name


class LiveRuns:
    """The host's live runs: background tasks on the trading loop (:mod:`neural_trader.services.trading`).

    What survives a restart of the process: each run's spec (``data_dir/live-runs/<id>.json``), its
    checkpoint (``<id>.checkpoint.json``) and its orders and fills in the database; a run started
    again with the same spec replays from its first bar and continues where it stopped. A ``replay``
    run trades a paper account of its own (broker ``paper-<id>``, account ``<id>``) on bars the
    data provider has, as fast as they come, filled on bars like the backtest; a ``live`` run trades
    the caller's account at the configured broker and polls for new bars every ``poll_interval``.

    Whose runs: a run belongs to the caller that first started it, and its orders are that
    caller's (their owner). A bound caller without the ``admin`` scope sees and stops only its own runs;
    another's run is not there (:meth:`get` answers not found). The operator (no bound caller) and
    ``admin`` callers see every run. A start that fails before the run's task exists (the account
    refused, live trading off, no bars, settings the runner cannot simulate) raises and leaves no
    run behind.
    """

    _of: Any = None

    def __init__(self, host: Any) -> None:
        import threading
        import weakref

        self._host = weakref.ref(host)
        self.runs: dict[str, LiveRun] = {}
        # Between a start that is given up (its caller went away) and the trading loop starting its task.
        self._lock = threading.Lock()

    @classmethod
    def for_host(cls, host: Any) -> LiveRuns:
        import weakref

        if cls._of is None:
            cls._of = weakref.WeakKeyDictionary()
        found: LiveRuns | None = cls._of.get(host)
        if found is None:
            found = cls._of[host] = cls(host)
        return found

    @classmethod
    def forget(cls, host: Any) -> None:
        """Stop the runs of ``host`` (its shutdown) and drop them."""
        found = None if cls._of is None else cls._of.pop(host, None)
        if found is not None:
            found.close()

    @property
    def host(self) -> Any:
        host = self._host()
        if host is None:
            raise RuntimeError("the host of these live runs is gone")
        return host

    @property
    def folder(self) -> Path:
        return Path(self.host.settings.data_dir) / "live-runs"

    # -- whose runs ------------------------------------------------------------------------------------
    @staticmethod
    def sees(run: LiveRun) -> bool:
        """May the current caller see (and stop) ``run``? See the class docstring."""
        caller = current_caller()
        if caller is None or caller.allows(Scope.ADMIN):
            return True
        return run.owner is not None and owner_matches(run.owner, caller)

    def visible(self) -> list[LiveRun]:
        """The runs the current caller may see, in the order they were started."""
        return [r for r in list(self.runs.values()) if self.sees(r)]

    def get(self, run_id: str) -> LiveRun:
        from neural_trader.errors import NtNotFound

        run = self.runs.get(run_id)
        if run is None or not self.sees(run):
            raise NtNotFound(f"no live run {run_id!r} in this process; `strategy status` lists them")
        return run

    # -- starting and stopping -------------------------------------------------------------------------
    async def start(self, spec: RunSpec, *, wait: bool = False) -> LiveRun:
        """Start ``spec`` (or return it when it runs already); ``wait``: until it ends.

        The settings are completed first, so that the id tells apart runs that must not meet: a bound
        caller without the ``admin`` scope starts a run of its own (``owner``: its name), and a live
        run names the account it trades (``account``: the caller's, :meth:`Trading.account_for`, 403
        for one it may not trade) unless that is the configured account (the operator's runs keep
        their ids)."""
        caller = current_caller()
        if caller is not None and not caller.allows(Scope.ADMIN):
            spec = attrs.evolve(spec, owner=caller.name)
        if spec.mode == "live" and spec.account is None:
            trading = self.host.services.trading
            account = trading.account_for(None)
            if account != trading.configured_account:
                spec = attrs.evolve(spec, account=account)
        run_id = spec.run_id
        run = self.runs.get(run_id)
        if run is None or run.state != "running":
            # A run resumed keeps the owner it had (its orders are that owner's).
            owner = run.owner if run is not None else None if caller is None else _owner_of(caller)
            run = await self._launch(spec, run_id, owner=owner)
        if wait:
            await asyncio.wrap_future(run.done)
        return run

    async def _launch(self, spec: RunSpec, run_id: str, *, owner: str | None) -> LiveRun:
        import concurrent.futures

        strategy = self.host.registry("strategies").get(spec.strategy)
        params = strategy.make_params(spec.params)
        config = BacktestConfig(**spec.config)
        run = LiveRun(spec=spec, run_id=run_id, owner=owner, started_at=dt.datetime.now(dt.UTC))
        run.done = concurrent.futures.Future()
        before = self.runs.get(run_id)
        self.runs[run_id] = run  # at once: a second start of the same spec meanwhile finds this one
        try:
            await self._spawn(run, strategy, params, config)
        except BaseException as exc:
            with self._lock:
                spawned = run.task is not None
                if not spawned and self.runs.get(run_id) is run:
                    if before is None:
                        del self.runs[run_id]
                    else:
                        self.runs[run_id] = before
            if spawned:
                raise  # only the caller going away comes after the task exists: the run goes on
            # Refused: no run is left "running" (a waiter on this one learns why it failed).
            run.state, run.error = "failed", f"{type(exc).__name__}: {exc}"
            run.done.set_result(run.state)
            raise
        return run

    async def _spawn(self, run: LiveRun, strategy: Any, params: Any, config: BacktestConfig) -> None:
        """Build the run's runner and start its task on the trading loop; raise if it cannot start."""
        spec, run_id, host = run.spec, run.run_id, self.host
        trading = host.services.trading
        self.folder.mkdir(parents=True, exist_ok=True)
        checkpoint = FileCheckpoint(self.folder / f"{run_id}.checkpoint.json")
        source = await self._source(spec)

        def begin(manager: OrderManager, prices: BarPrices | None) -> None:
            runner = LiveRunner(run_id=run_id, strategy=strategy, params=params, symbol=spec.symbol, manager=manager,
                                config=config, prices=prices, checkpoint=checkpoint, actor=run.owner)
            with self._lock:
                if self.runs.get(run_id) is not run:
                    return  # its start was given up meanwhile
                run.runner, run.loop, run.stop_event = runner, asyncio.get_running_loop(), asyncio.Event()
                run.task = run.loop.create_task(self._body(run, source))
            (self.folder / f"{run_id}.json").write_text(json.dumps(attrs.asdict(spec), sort_keys=True, default=str))

        if spec.mode == "replay":
            from neural_trader_plugins.brokers.paper import PaperBroker

            run.broker, run.account = f"paper-{run_id}", run_id
            cash = D(repr(config.init_cash))

            def begin_replay() -> None:
                prices = BarPrices()
                broker = PaperBroker(host.services.storage, name=run.broker, initial_cash=cash, **paper_costs(config))
                manager = OrderManager(host.services.storage, broker, audit=host.services.audit, account=run.account,
                                       quotes=prices, initial_cash=cash)
                begin(manager, prices)

            await trading.run(begin_replay)
        else:
            # The caller's account unless it names one it may trade (Trading.account_for: 403 otherwise).
            run.broker, run.account = spec.broker or trading.broker_name, trading.account_for(spec.account)
            await trading.call(lambda manager: begin(manager, None), broker=run.broker, account=run.account)

    @staticmethod
    async def _body(run: LiveRun, source: BarSource) -> None:
        assert run.runner is not None and run.stop_event is not None
        try:
            await run.runner.run(source, poll_interval=run.spec.poll_interval, stop=run.stop_event,
                                 max_bars=run.spec.max_bars)
            run.state = "stopped" if run.stop_event.is_set() else "finished"
        except asyncio.CancelledError:
            run.state = "stopped"
        except Exception as exc:  # a run's failure is its status, not the host's
            log.exception("live run %s failed", run.run_id)
            run.state, run.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            run.done.set_result(run.state)

    async def _source(self, spec: RunSpec) -> BarSource:
        from neural_trader.domain.market import Timeframe
        from neural_trader.market.service import MarketData
        from neural_trader.serde import parse_datetime

        market = MarketData.for_host(self.host)
        timeframe = Timeframe.parse(spec.timeframe)
        start = None if spec.start is None else parse_datetime(spec.start)
        if spec.mode == "replay":
            end = None if spec.end is None else parse_datetime(spec.end)
            bars = await market.bars(spec.symbol, timeframe, start, end, provider=spec.provider)
            return ReplayBars(bars, max_bars=spec.max_bars)
        return MarketBars(market, spec.symbol, timeframe, start=start, provider=spec.provider)

    async def stop(self, run_id: str, *, timeout: float = 30.0) -> LiveRun:
        """Ask a run to stop after the bar it is on; wait for it (up to ``timeout`` seconds)."""
        run = self.get(run_id)
        if run.state == "running" and run.loop is not None and run.stop_event is not None:
            run.loop.call_soon_threadsafe(run.stop_event.set)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wrap_future(run.done), timeout)
        return run

    def close(self, timeout: float = 10.0) -> None:
        """Stop every run (host shutdown): each finishes the bar it is on."""
        import concurrent.futures

        running = [r for r in self.runs.values() if r.state == "running"]
        for run in running:
            if run.loop is not None and run.stop_event is not None and not run.loop.is_closed():
                run.loop.call_soon_threadsafe(run.stop_event.set)
        if running:
            concurrent.futures.wait([r.done for r in running], timeout=timeout)
