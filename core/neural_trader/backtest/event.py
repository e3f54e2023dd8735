"""The event-driven engine: the strategy sees each bar after its close and works orders.

Per bar ``i``, in this order (the same as the simulation kernel's, so both engines agree):

1. market orders from bar ``i - 1`` fill at bar ``i``'s open (``fill_at="next_open"``);
2. working conditional orders and protective exits are checked against bar ``i``'s open, high and
   low, in the order they were placed (**gap rule**: a bar that opens through an order's level fills
   at the open, otherwise at the level; when one bar reaches a position's stop and its take-profit,
   the stop is taken);
3. ``strategy.on_bar(ctx, i)`` runs; with ``fill_at="close"`` its market orders fill at once at bar
   ``i``'s close, conditional orders work from bar ``i + 1``.

Fill prices carry ``slippage_bps`` against the trader and every fill pays the config's commission.
Market orders without a size (``ctx.order_target``, ``ctx.buy()``) are sized from the config's
``sizing`` like the kernel's; with several symbols the budget is the symbol's allocation weight of
the portfolio's value (capped at the cash). A buy that would leave negative cash is rejected.
Each position gets the config's (or the strategy's ``sim_overrides``) stop-loss, take-profit and
trailing stop from its first fill. Details: docs/strategies.md.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.result import TRADES_DTYPE, BacktestResult
from neural_trader.errors import NtUserError
from neural_trader.native.simulate import ExitReason

__all__ = ["EventContext", "EventEngine", "Fill", "Order", "OrderType", "signal_adapter"]

OrderType = Literal["market", "limit", "stop", "stop_limit", "trailing_stop"]
_SIGNAL, _SL, _TP, _TRAIL = (int(ExitReason.SIGNAL), int(ExitReason.STOP_LOSS), int(ExitReason.TAKE_PROFIT),
                             int(ExitReason.TRAILING_STOP))


@attrs.define(eq=False, slots=True)
class Order:
    """An order and its state. ``side`` is +1 (buy) or -1 (sell); ``size`` is units (None: sized at
    the fill from the config's sizing); ``target`` marks an :meth:`EventContext.order_target` order."""

    id: int
    symbol: int
    side: int
    type: OrderType
    size: float | None
    created: int
    active_from: int
    limit: float | None = None
    stop: float | None = None
    trail_pct: float | None = None
    trail_amount: float | None = None
    target: float | None = None
    #: Absolute bracket legs attached to the position this order opens, when it fills.
    sl_price: float | None = None
    tp_price: float | None = None
    #: Fractional exits for a target order (override the config's).
    exits: dict[str, float] | None = None
    status: Literal["working", "filled", "cancelled", "rejected", "expired"] = "working"
    triggered: bool = False
    extreme: float = math.nan
    reason: int = _SIGNAL
    fill_price: float = math.nan
    fill_bar: int = -1

    @property
    def is_working(self) -> bool:
        return self.status == "working"


@attrs.frozen(slots=True)
class Fill:
    """One execution: ``qty`` signed units at ``price`` (slippage included) paying ``fee``."""

    order: Order
    symbol: int
    bar: int
    qty: float
    price: float
    fee: float


@attrs.define(eq=False, slots=True)
class _Exits:
    """A position's protective stop / take-profit / trailing stop (absolute levels), as one group."""

    symbol: int
    episode: int
    long: bool
    stop: float
    take: float
    trail: float
    extreme: float
    active_from: int
    stop_reason: int = _SL
    size: float | None = None
    take_reason: int = _TP


class EventContext:
    """What ``on_start``/``on_bar`` see: the bar, the portfolio, and the order methods.

    ``symbol`` arguments take a name or an index and default to the first symbol.
    """

    __slots__ = ("_eng", "_j", "config", "i", "n", "params", "state", "symbols")

    def __init__(self, engine: EventEngine, default_symbol: int = 0) -> None:
        self._eng = engine
        #: The symbol that ``symbol=None`` means: a one-symbol strategy run over several symbols
        #: gets one context per symbol.
        self._j = default_symbol
        self.params: Any = engine.params
        self.config: BacktestConfig = engine.config
        #: Per-run scratch space for the strategy (indicators, flags).
        self.state = types.SimpleNamespace()
        self.symbols: tuple[str, ...] = engine.panel.symbols
        self.n: int = engine.panel.n
        #: The current bar's index.
        self.i: int = -1

    def _sym(self, symbol: int | str | None) -> int:
        return self._j if symbol is None else self._eng.sym(symbol)

    # -- data ------------------------------------------------------------------------------------
    def data(self, symbol: int | str | None = None) -> Any:
        """The caller's series for ``symbol`` (whole history: use only bars ``<= ctx.i`` in
        ``on_bar``; precomputing causal indicators in ``on_start`` is the fast idiom)."""
        return self._eng.panel.series[self._sym(symbol)]

    def price(self, symbol: int | str | None = None) -> float:
        """The current bar's close."""
        return self._eng.closes[self._sym(symbol)][self.i]

    def ohlc(self, symbol: int | str | None = None) -> tuple[float, float, float, float]:
        """The current bar's open, high, low and close."""
        e, j, i = self._eng, self._sym(symbol), self.i
        return e.opens[j][i], e.highs[j][i], e.lows[j][i], e.closes[j][i]

    # -- portfolio -------------------------------------------------------------------------------
    def position(self, symbol: int | str | None = None) -> float:
        """Signed units held."""
        return self._eng.pos[self._j if symbol is None else self._eng.sym(symbol)]

    @property
    def cash(self) -> float:
        return self._eng.cash

    def value(self) -> float:
        """Cash plus positions at the current closes."""
        e = self._eng
        return e.cash + sum(p * c[self.i] for p, c in zip(e.pos, e.closes, strict=True) if p)

    def open_orders(self, symbol: int | str | None = None) -> list[Order]:
        """Working orders of ``symbol`` (of every symbol when None)."""
        j = None if symbol is None else self._eng.sym(symbol)
        return [o for o in self._eng.working if isinstance(o, Order) and (j is None or o.symbol == j)]

    # -- orders ----------------------------------------------------------------------------------
    def buy(self, size: float | None = None, *, symbol: int | str | None = None, limit: float | None = None,
            stop: float | None = None, trail_percent: float | None = None, trail_amount: float | None = None,
            sl_price: float | None = None, tp_price: float | None = None) -> Order:
        """Buy ``size`` units (None: sized from the config). With ``limit`` a limit order, with
        ``stop`` a stop order, both a stop-limit, with ``trail_percent``/``trail_amount`` a trailing
        stop; ``sl_price``/``tp_price`` attach bracket legs to the position when it fills."""
        return self._eng.place(+1, size, self._sym(symbol), limit, stop, trail_percent, trail_amount,
                               sl_price, tp_price)

    def sell(self, size: float | None = None, *, symbol: int | str | None = None, limit: float | None = None,
             stop: float | None = None, trail_percent: float | None = None, trail_amount: float | None = None,
             sl_price: float | None = None, tp_price: float | None = None) -> Order:
        """Sell ``size`` units (see :meth:`buy`); selling more than is held goes short (only when
        ``config.allow_short``; otherwise the excess is not sold)."""
        return self._eng.place(-1, size, self._sym(symbol), limit, stop, trail_percent, trail_amount,
                               sl_price, tp_price)

    def bracket(self, side: Literal["buy", "sell"], sl_price: float, tp_price: float, size: float | None = None, *,
                symbol: int | str | None = None, limit: float | None = None) -> Order:
        """An entry (market, or limit at ``limit``) with a stop-loss and a take-profit that cancel
        each other once it fills (checked from the bar after a close or intrabar fill, from the fill
        bar after a fill at the open)."""
        fn = self.buy if side == "buy" else self.sell
        return fn(size, symbol=symbol, limit=limit, sl_price=sl_price, tp_price=tp_price)

    def close(self, symbol: int | str | None = None) -> Order | None:
        """A market order that flattens ``symbol``; None when flat."""
        j = self._sym(symbol)
        p = self._eng.pos[j]
        if p == 0.0:
            return None
        return self._eng.place(-1 if p > 0 else +1, abs(p), j, None, None, None, None, None, None)

    def order_target(self, target: float, symbol: int | str | None = None, *, stop_loss: float = 0.0,
                     take_profit: float = 0.0, trailing_stop: float = 0.0) -> Order:
        """Hold exposure ``target`` (+1 all-in long, -1 short, 0 flat; the magnitude scales the
        size) like a vectorized target: close the position and open the new one at the next fill.
        Fractional exits override the config's for the position this opens. Replaces a still
        unfilled target order of the same symbol."""
        return self._eng.place_target(float(target), self._sym(symbol),
                                      {"stop_loss": stop_loss, "take_profit": take_profit,
                                       "trailing_stop": trailing_stop})

    def cancel(self, order: Order) -> None:
        """Cancel a working order (a filled or cancelled one is left as it is)."""
        if order.status == "working":
            order.status = "cancelled"
            self._eng.working.remove(order)


class EventEngine:
    """One event-driven run. Build it and call :meth:`run` once."""

    def __init__(self, panel: Any, strategy: Any, params: Any, config: BacktestConfig) -> None:
        self.panel, self.strategy, self.params, self.config = panel, strategy, params, config
        k = panel.k
        need = int(getattr(strategy, "symbols_required", 1))
        if need != 1 and need != k:
            raise NtUserError(f"strategy {strategy.name!r} trades {need} symbols together; give it exactly "
                              f"{need} series, not {k}")
        if need > 1 and not config.allow_short and getattr(strategy, "needs_short", False):
            raise NtUserError(f"strategy {strategy.name!r} sells one leg short; set the config's allow_short to true")
        self.opens = [c.tolist() for c in panel.open]
        self.highs = [c.tolist() for c in panel.high]
        self.lows = [c.tolist() for c in panel.low]
        self.closes = [c.tolist() for c in panel.close]
        _check_prices(panel)
        self.index = {s: j for j, s in enumerate(panel.symbols)}
        self.weights = config.weights(panel.symbols)
        overrides = strategy.sim_overrides(params) if hasattr(strategy, "sim_overrides") else {}
        sp = config.to_sim_params(overrides=overrides)
        self.default_exits = {"stop_loss": sp.stop_loss, "take_profit": sp.take_profit,
                              "trailing_stop": sp.trailing_stop}
        self.slip = config.slippage_bps / 10000.0
        self.cash = float(config.init_cash)
        self.pos = [0.0] * k
        self.entry_price = [0.0] * k
        self.entry_fee = [0.0] * k
        self.entry_idx = [-1] * k
        self.episode = [0] * k
        self.working: list[Order | _Exits] = []
        self.pending_target: list[Order | None] = [None] * k
        self.trades: list[tuple[Any, ...]] = []
        #: (bar, symbol, position after, cash after) per fill, to rebuild the curves at the end.
        self.fill_log: list[tuple[int, int, float, float]] = []
        self.n_orders = 0
        self.i = -1
        self.ctx = EventContext(self)
        self.on_fill: Callable[[EventContext, Fill], None] | None = (
            strategy.on_fill if _overrides(strategy, "on_fill") else None)

    # -- helpers ---------------------------------------------------------------------------------
    def sym(self, symbol: int | str | None) -> int:
        if symbol is None:
            return 0
        if isinstance(symbol, int | np.integer):
            if 0 <= symbol < self.panel.k:
                return int(symbol)
        elif symbol in self.index:
            return self.index[symbol]
        raise NtUserError(f"unknown symbol {symbol!r}; this run has {', '.join(self.panel.symbols)}")

    def fee_for(self, units: float, price: float) -> float:
        c = self.config
        return c.commission_fixed + c.commission_pct * (units * price) + c.commission_per_unit * units

    # -- placing ---------------------------------------------------------------------------------
    def place(self, side: int, size: float | None, j: int, limit: float | None, stop: float | None,
              trail_pct: float | None, trail_amount: float | None, sl_price: float | None,
              tp_price: float | None) -> Order:
        if size is not None and not (size > 0.0 and math.isfinite(size)):
            raise NtUserError(f"order size must be a finite number > 0, got {size!r}")
        for name, v in (("limit", limit), ("stop", stop), ("trail_amount", trail_amount),
                        ("sl_price", sl_price), ("tp_price", tp_price)):
            if v is not None and not (v > 0.0 and math.isfinite(v)):
                raise NtUserError(f"{name} must be a finite price > 0, got {v!r}")
        if trail_pct is not None and not 0.0 < trail_pct < 1.0:
            raise NtUserError(f"trail_percent must be a fraction in (0, 1), got {trail_pct!r}")
        trailing = trail_pct is not None or trail_amount is not None
        if trailing and (limit is not None or stop is not None):
            raise NtUserError("a trailing stop takes no limit or stop price")
        kind: OrderType = ("trailing_stop" if trailing else "stop_limit" if stop is not None and limit is not None
                           else "stop" if stop is not None else "limit" if limit is not None else "market")
        i = self.i
        self.n_orders += 1
        order = Order(id=self.n_orders, symbol=j, side=side, type=kind, size=size, created=i,
                      active_from=i + 1, limit=limit, stop=stop, trail_pct=trail_pct, trail_amount=trail_amount,
                      sl_price=sl_price, tp_price=tp_price)
        if kind in ("stop", "stop_limit"):
            order.reason = _SL
        elif kind == "trailing_stop":
            order.reason = _TRAIL
            order.extreme = self.closes[j][i] if i >= 0 else self.opens[j][0]
        if kind == "market" and self.config.fill_at == "close" and i >= 0:
            self.execute(order, self.closes[j][i], i, at_close=True)
        else:
            self.working.append(order)
        return order

    def place_target(self, target: float, j: int, exits: dict[str, float]) -> Order:
        if not (-1.0 <= target <= 1.0):
            raise NtUserError(f"target must be in [-1, 1], got {target!r}")
        if target < 0.0 and not self.config.allow_short:
            target = 0.0
        prior = self.pending_target[j]
        if prior is not None and prior.status == "working":
            prior.status = "cancelled"
            self.working.remove(prior)
        i = self.i
        self.n_orders += 1
        order = Order(id=self.n_orders, symbol=j, side=1 if target > 0 else -1, type="market", size=None,
                      created=i, active_from=i + 1, target=target, exits=exits)
        if self.config.fill_at == "close" and i >= 0:
            self.execute(order, self.closes[j][i], i, at_close=True)
        else:
            self.pending_target[j] = order
            self.working.append(order)
        return order

    # -- executing -------------------------------------------------------------------------------
    def units_for(self, j: int, price: float, mag: float, at_close: bool) -> float:
        c = self.config
        if c.sizing == "fixed":
            return c.size * mag
        base = self.cash
        if self.panel.k > 1:
            i = self.i
            marks = self.closes if at_close else self.opens
            value = self.cash + sum(p * marks[m][i] for m, p in enumerate(self.pos) if p and m != j)
            base = min(self.cash, value * self.weights[j])
        budget = base * c.size * mag if c.sizing == "percent" else base * mag
        units = (budget - c.commission_fixed) / (price * (1.0 + c.commission_pct) + c.commission_per_unit)
        if c.sizing == "all_in_whole":
            units = float(math.floor(units))
        return units

    def execute(self, order: Order, raw: float, i: int, *, at_close: bool, stops_from: int | None = None) -> None:
        """Fill ``order`` at ``raw`` (before slippage) on bar ``i``."""
        j = order.symbol
        order.status = "filled"
        order.fill_bar = i
        order.fill_price = raw
        if stops_from is None:
            stops_from = i + 1 if at_close else i
        if order.target is not None:
            if self.pending_target[j] is order:
                self.pending_target[j] = None
            p = self.pos[j]
            if p != 0.0:
                self.trade(order, j, -p, raw, i, _SIGNAL)
            t = order.target
            if t != 0.0:
                slipped = raw * (1.0 + self.slip) if t > 0.0 else raw * (1.0 - self.slip)
                units = self.units_for(j, slipped, abs(t), at_close)
                if units > 0.0:
                    self.trade(order, j, units if t > 0.0 else -units, raw, i, _SIGNAL, stops_from)
            return
        p = self.pos[j]
        if order.size is None:
            slipped = raw * (1.0 + self.slip) if order.side > 0 else raw * (1.0 - self.slip)
            units = self.units_for(j, slipped, 1.0, at_close)
            if not units > 0.0:
                order.status = "rejected"
                return
        else:
            units = order.size
        qty = units * order.side
        if not self.config.allow_short and p + qty < 0.0:
            qty = -p  # a long-only run never sells more than it holds
            if qty == 0.0:
                order.status = "rejected"
                return
        if qty > 0.0 and p >= 0.0:
            price = raw * (1.0 + self.slip)
            if self.cash - qty * price - self.fee_for(qty, price) < -1e-9 * self.config.init_cash:
                order.status = "rejected"
                return
        self.trade(order, j, qty, raw, i, order.reason, stops_from)

    def trade(self, order: Order, j: int, qty: float, raw: float, i: int, reason: int,
              stops_from: int | None = None) -> None:
        """Apply a fill of ``qty`` signed units to cash, position and the trade records."""
        price = raw * (1.0 + self.slip) if qty > 0.0 else raw * (1.0 - self.slip)
        units = abs(qty)
        fee = self.fee_for(units, price)
        self.cash = self.cash - qty * price - fee
        p = self.pos[j]
        if p == 0.0 or (p > 0.0) == (qty > 0.0):
            if p == 0.0:
                self.entry_price[j], self.entry_fee[j], self.entry_idx[j] = price, fee, i
                self.episode[j] += 1
                self.pos[j] = qty
                self.attach_exits(order, j, price, i if stops_from is None else stops_from)
            else:
                new = p + qty
                self.entry_price[j] = (p * self.entry_price[j] + qty * price) / new
                self.entry_fee[j] += fee
                self.pos[j] = new
        else:
            closed = min(units, abs(p))
            share = closed / abs(p)
            closed_signed = p * share if share != 1.0 else p
            exit_fee = fee * (closed / units) if closed != units else fee
            entry_fee = self.entry_fee[j] * share if share != 1.0 else self.entry_fee[j]
            e = self.entry_price[j]
            pnl = closed_signed * (price - e) - entry_fee - exit_fee
            self.trades.append((self.entry_idx[j], i, e, price, closed_signed, pnl,
                                pnl / (closed * e), entry_fee + exit_fee, reason, j))
            if share == 1.0:
                self.pos[j] = 0.0
                rest = units - closed
                if rest > 0.0:
                    self.entry_price[j], self.entry_fee[j], self.entry_idx[j] = price, fee - exit_fee, i
                    self.episode[j] += 1
                    self.pos[j] = math.copysign(rest, qty)
                    self.attach_exits(order, j, price, i if stops_from is None else stops_from)
            else:
                self.pos[j] = p + qty
                self.entry_fee[j] -= entry_fee
        self.fill_log.append((i, j, self.pos[j], self.cash))
        if self.on_fill is not None:
            self.on_fill(self.ctx, Fill(order=order, symbol=j, bar=i, qty=qty, price=price, fee=fee))

    def attach_exits(self, order: Order, j: int, price: float, active_from: int) -> None:
        """Protective exits of a new position: the order's bracket legs, else its fractional exits
        over the defaults."""
        long = self.pos[j] > 0.0
        if order.sl_price is not None or order.tp_price is not None:
            self.working.append(_Exits(symbol=j, episode=self.episode[j], long=long, stop=order.sl_price or 0.0,
                                       take=order.tp_price or 0.0, trail=0.0, extreme=price,
                                       active_from=active_from))
            return
        ex = dict(self.default_exits)
        for key, v in (order.exits or {}).items():
            if v:
                ex[key] = v
        sl, tp, tr = ex["stop_loss"], ex["take_profit"], ex["trailing_stop"]
        if not (sl or tp or tr):
            return
        stop = (price * (1.0 - sl) if long else price * (1.0 + sl)) if sl > 0.0 else 0.0
        take = (price * (1.0 + tp) if long else price * (1.0 - tp)) if tp > 0.0 else 0.0
        self.working.append(_Exits(symbol=j, episode=self.episode[j], long=long, stop=stop, take=take, trail=tr,
                                   extreme=price, active_from=active_from))

    # -- per-bar order processing ----------------------------------------------------------------
    def process(self, i: int) -> None:
        """Steps 1 and 2 of the bar (see the module docstring)."""
        due = [w for w in self.working if isinstance(w, Order) and w.type == "market" and w.active_from <= i]
        for order in due:
            if order.status == "working":
                self.working.remove(order)
                self.execute(order, self.opens[order.symbol][i], i, at_close=False)
        for item in list(self.working):
            if item.active_from > i:
                continue
            if isinstance(item, _Exits):
                self.check_exits(item, i)
            elif item.status == "working" and item.type != "market":
                self.check_order(item, i)

    def check_exits(self, ex: _Exits, i: int) -> None:
        j = ex.symbol
        p = self.pos[j]
        if p == 0.0 or self.episode[j] != ex.episode:
            self.working.remove(ex)
            return
        o, h, lo = self.opens[j][i], self.highs[j][i], self.lows[j][i]
        stop, reason, have_stop = ex.stop, ex.stop_reason, ex.stop > 0.0
        tp, have_tp = ex.take, ex.take > 0.0
        if ex.long:
            if ex.trail > 0.0:
                trail = ex.extreme * (1.0 - ex.trail)
                if not have_stop or trail > stop:
                    stop, reason, have_stop = trail, _TRAIL, True
            if have_stop and o <= stop:
                hit, at = reason, o
            elif have_tp and o >= tp:
                hit, at = ex.take_reason, o
            elif have_stop and lo <= stop:
                hit, at = reason, stop
            elif have_tp and h >= tp:
                hit, at = ex.take_reason, tp
            else:
                if h > ex.extreme:
                    ex.extreme = h
                return
        else:
            if ex.trail > 0.0:
                trail = ex.extreme * (1.0 + ex.trail)
                if not have_stop or trail < stop:
                    stop, reason, have_stop = trail, _TRAIL, True
            if have_stop and o >= stop:
                hit, at = reason, o
            elif have_tp and o <= tp:
                hit, at = ex.take_reason, o
            elif have_stop and h >= stop:
                hit, at = reason, stop
            elif have_tp and lo <= tp:
                hit, at = ex.take_reason, tp
            else:
                if lo < ex.extreme:
                    ex.extreme = lo
                return
        self.working.remove(ex)
        self.n_orders += 1
        qty = -p if ex.size is None else -math.copysign(min(ex.size, abs(p)), p)
        exit_order = Order(id=self.n_orders, symbol=j, side=1 if qty > 0 else -1,
                           type="stop" if hit != _TP else "limit", size=abs(qty), created=i, active_from=i,
                           status="filled", reason=hit, fill_price=at, fill_bar=i)
        self.trade(exit_order, j, qty, at, i, hit)

    def check_order(self, order: Order, i: int) -> None:
        j = order.symbol
        o, h, lo = self.opens[j][i], self.highs[j][i], self.lows[j][i]
        buy = order.side > 0
        at: float | None = None
        kind = order.type
        if kind == "limit" or (kind == "stop_limit" and order.triggered):
            lim = order.limit
            assert lim is not None
            if buy:
                at = o if o <= lim else lim if lo <= lim else None
            else:
                at = o if o >= lim else lim if h >= lim else None
        elif kind == "stop":
            s = order.stop
            assert s is not None
            at = (o if o >= s else s if h >= s else None) if buy else (o if o <= s else s if lo <= s else None)
        elif kind == "stop_limit":
            s, lim = order.stop, order.limit
            assert s is not None and lim is not None
            if buy:
                if o >= s:
                    order.triggered = True
                    at = o if o <= lim else None
                elif h >= s:
                    order.triggered = True
                    at = s if s <= lim else None
            else:
                if o <= s:
                    order.triggered = True
                    at = o if o >= lim else None
                elif lo <= s:
                    order.triggered = True
                    at = s if s >= lim else None
        else:  # trailing stop
            if buy:
                level = (order.extreme * (1.0 + order.trail_pct) if order.trail_pct is not None
                         else order.extreme + (order.trail_amount or 0.0))
                at = o if o >= level else level if h >= level else None
                if at is None and lo < order.extreme:
                    order.extreme = lo
            else:
                level = (order.extreme * (1.0 - order.trail_pct) if order.trail_pct is not None
                         else order.extreme - (order.trail_amount or 0.0))
                at = o if o <= level else level if lo <= level else None
                if at is None and h > order.extreme:
                    order.extreme = h
        if at is not None:
            self.working.remove(order)
            # an intrabar fill's exits start next bar: the bar's path after the fill is unknown
            self.execute(order, at, i, at_close=False, stops_from=i if at == o else i + 1)

    # -- the run ---------------------------------------------------------------------------------
    def run(self, *, benchmark: Any = None) -> BacktestResult:
        """Walk every bar once; returns the result (``benchmark``: prices aligned with the bars)."""
        strategy, ctx = self.strategy, self.ctx
        n = self.panel.n
        need = int(getattr(strategy, "symbols_required", 1))
        if _overrides(strategy, "on_bar"):
            on_bar = strategy.on_bar
            if need == 1 and self.panel.k > 1:
                self.run_per_symbol(on_bar)
                return self.finish(benchmark)
            strategy.on_start(ctx)
        elif hasattr(strategy, "signals"):
            on_bar = signal_adapter(self)
        else:
            raise NtUserError(f"strategy {strategy.name!r} has neither on_bar nor signals")
        working = self.working
        process = self.process
        for i in range(n):
            self.i = i
            ctx.i = i
            if working:
                process(i)
            on_bar(ctx, i)
        return self.finish(benchmark)

    def run_per_symbol(self, on_bar: Callable[[EventContext, int], None]) -> None:
        """A one-symbol strategy over several symbols: one context (and state) per symbol."""
        contexts = [self.ctx] + [EventContext(self, j) for j in range(1, self.panel.k)]
        for c in contexts:
            self.strategy.on_start(c)
        working, process = self.working, self.process
        for i in range(self.panel.n):
            self.i = i
            if working:
                process(i)
            for c in contexts:
                c.i = i
                on_bar(c, i)
        for c in contexts[1:]:
            c._eng = None  # type: ignore[assignment]  # no engine <-> context cycles outlive the run

    def finish(self, benchmark: Any) -> BacktestResult:
        from neural_trader.backtest.vectorized import _benchmark

        for item in self.working:
            if isinstance(item, Order) and item.status == "working":
                item.status = "expired"
        result = self.result(_benchmark(benchmark, self.panel.n))
        self.ctx._eng = None  # type: ignore[assignment]  # break the engine <-> context cycle
        return result

    def result(self, benchmark: np.ndarray | None) -> BacktestResult:
        panel, n, k = self.panel, self.panel.n, self.panel.k
        trades = list(self.trades)
        for j in range(k):
            p = self.pos[j]
            if p != 0.0 and n:
                c = self.closes[j][n - 1]
                e = self.entry_price[j]
                pnl = p * (c - e) - self.entry_fee[j] - 0.0
                trades.append((self.entry_idx[j], n - 1, e, c, p, pnl, pnl / (abs(p) * e),
                               self.entry_fee[j] + 0.0, int(ExitReason.OPEN), j))
        table = np.array(trades, dtype=TRADES_DTYPE) if trades else np.empty(0, TRADES_DTYPE)
        if k > 1 and table.size:
            table = table[np.lexsort((table["symbol"], table["entry_idx"]))]
        positions, cash = self.curves()
        prices = panel.prices()
        equity = cash + (positions * prices).sum(axis=1) if k > 1 else cash + positions[:, 0] * prices[:, 0]
        return BacktestResult(strategy=self.strategy.name, params=self.params, config=self.config, engine="event",
                              symbols=panel.symbols, timestamps=panel.timestamps, prices=prices,
                              positions=positions, equity=equity, trades=table, benchmark=benchmark,
                              n_orders=self.n_orders)

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``(n, k)`` and cash ``(n,)`` after each bar, from the fill log."""
        n, k = self.panel.n, self.panel.k
        positions = np.zeros((n, k))
        cash = np.full(n, float(self.config.init_cash))
        if not self.fill_log or n == 0:
            return positions, cash
        log = np.array(self.fill_log, dtype=[("bar", np.int64), ("sym", np.int64), ("pos", np.float64),
                                             ("cash", np.float64)])
        bars = np.arange(n)
        last = np.searchsorted(log["bar"], bars, side="right") - 1
        cash = np.where(last >= 0, log["cash"][np.maximum(last, 0)], cash)
        for j in range(k):
            mine = log[log["sym"] == j]
            if mine.size:
                at = np.searchsorted(mine["bar"], bars, side="right") - 1
                positions[:, j] = np.where(at >= 0, mine["pos"][np.maximum(at, 0)], 0.0)
        return positions, cash


def signal_adapter(engine: EventEngine) -> Callable[[EventContext, int], None]:
    """An ``on_bar`` for a signals-only strategy: its targets become :meth:`EventContext.order_target`
    calls whenever they change (exactly the kernel's rule), symbol by symbol."""
    from neural_trader.backtest.vectorized import targets_for

    targets = targets_for(engine.panel, engine.strategy, engine.params, engine.config)
    columns = [targets[:, j].tolist() for j in range(engine.panel.k)]
    current = [0.0] * engine.panel.k
    place = engine.place_target
    none: dict[str, float] = {}

    def on_bar(ctx: EventContext, i: int) -> None:
        for j, col in enumerate(columns):
            t = col[i]
            if t == t and t != current[j]:
                current[j] = t
                if i + 1 < ctx.n or ctx.config.fill_at == "close":
                    place(t, j, none)

    return on_bar


def _overrides(strategy: Any, name: str) -> bool:
    from neural_trader.strategies.base import Strategy

    fn = getattr(type(strategy), name, None)
    if fn is None:
        return False
    return fn is not getattr(Strategy, name, None)


def _check_prices(panel: Any) -> None:
    from neural_trader.native.simulate_numpy import check_bars

    for j in range(panel.k):
        check_bars(panel.open[j], panel.high[j], panel.low[j], panel.close[j])
