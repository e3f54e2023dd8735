"""Numpy/Python twin of the simulation kernel: the reference semantics, bit for bit.

:func:`simulate` walks the bars in a Python loop doing exactly the floating-point operations of
``native/sim/sim.c`` in the same order (the C build forbids FMA contraction), so the compiled
kernel and this twin produce identical fills, trades and equity. The rules are in docs/native.md:

* ``target[i]`` is the exposure wanted after bar ``i``: ``+1`` long all-in, ``-1`` short, ``0``
  flat, NaN no change; a change closes the open position and opens the new one.
* Fills happen at bar ``i``'s close (``fill_at="close"``) or at bar ``i + 1``'s open
  (``"next_open"``), buys at ``price * (1 + slippage)``, sells at ``price * (1 - slippage)``.
* Stops are checked inside each bar from its open, high and low; a gap through a level fills at
  the open; if one bar reaches both the stop and the take-profit the stop wins.
"""

from __future__ import annotations

import enum
import math
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native import indicators_numpy as _ind
from neural_trader.native._buffers import F64, I8, I64, array_arg, int_arg, same_length

FillAt = Literal["close", "next_open"]
Sizing = Literal["all_in", "all_in_whole", "fixed", "percent"]

FILL_AT_CODES: dict[str, int] = {"close": 0, "next_open": 1}
SIZING_CODES: dict[str, int] = {"all_in": 0, "all_in_whole": 1, "fixed": 2, "percent": 3}


class ExitReason(enum.IntEnum):
    """Why a trade ended (``trades["exit_reason"]``)."""

    SIGNAL = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING_STOP = 3
    OPEN = 4  #: still open after the last bar, marked at the last close without exit costs


#: One trade; laid out exactly like ``struct nt_trade`` so the kernel writes into it directly.
TRADE_DTYPE = np.dtype([
    ("entry_idx", np.int64), ("exit_idx", np.int64), ("entry_price", np.float64),
    ("exit_price", np.float64), ("size", np.float64), ("pnl", np.float64), ("ret", np.float64),
    ("fees", np.float64), ("exit_reason", np.int32), ("pad", np.int32),
])

#: One parameter set of a batch; laid out exactly like ``struct nt_batch_row``.
BATCH_DTYPE = np.dtype([
    ("fast", np.int64), ("slow", np.int64), ("final_equity", np.float64),
    ("total_return", np.float64), ("max_drawdown", np.float64), ("n_trades", np.int64),
    ("n_wins", np.int64),
])


def _number(rule: str, ok: Any) -> Any:
    def check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not ok(float(value)):
            raise NtUserError(f"{attribute.name} {rule}, got {value!r}")

    return check


def _choice(choices: dict[str, int]) -> Any:
    def check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise NtUserError(f"{attribute.name} must be one of {', '.join(map(repr, choices))}, got {value!r}")

    return check


_finite_pos = _number("must be a finite number > 0", lambda v: 0.0 < v < math.inf)
_finite_nonneg = _number("must be a finite number >= 0", lambda v: 0.0 <= v < math.inf)
_fraction = _number("must be a fraction in [0, 1) (0 turns it off)", lambda v: 0.0 <= v < 1.0)


@attrs.frozen(kw_only=True)
class SimParams:
    """How a backtest trades. Costs are charged on every fill; 0 turns a stop off."""

    init_cash: float = attrs.field(default=100_000.0, validator=_finite_pos)
    fill_at: FillAt = attrs.field(default="close", validator=_choice(FILL_AT_CODES))
    #: ``all_in``: all cash (fractional units); ``all_in_whole``: whole units only;
    #: ``fixed``: ``size`` units; ``percent``: ``size`` (a fraction) of cash. Scaled by |target|.
    sizing: Sizing = attrs.field(default="all_in", validator=_choice(SIZING_CODES))
    size: float = attrs.field(default=1.0, validator=_finite_nonneg)
    commission_per_unit: float = attrs.field(default=0.0, validator=_finite_nonneg)
    #: A fraction of traded value: 0.001 is 0.1 %.
    commission_pct: float = attrs.field(default=0.0, validator=_finite_nonneg)
    commission_fixed: float = attrs.field(default=0.0, validator=_finite_nonneg)
    slippage_bps: float = attrs.field(default=0.0, validator=_number(
        "must be a number of basis points in [0, 10000)", lambda v: 0.0 <= v < 10000.0))
    #: Fractions of the entry fill price (0.05 = 5 %).
    stop_loss: float = attrs.field(default=0.0, validator=_fraction)
    take_profit: float = attrs.field(default=0.0, validator=_finite_nonneg)
    #: A fraction below the highest high (long) / above the lowest low (short) since entry.
    trailing_stop: float = attrs.field(default=0.0, validator=_fraction)

    def c_fields(self) -> dict[str, float | int]:
        """The values of ``struct nt_sim_params``."""
        return {
            "init_cash": float(self.init_cash), "size": float(self.size),
            "commission_per_unit": float(self.commission_per_unit),
            "commission_pct": float(self.commission_pct),
            "commission_fixed": float(self.commission_fixed),
            "slippage_bps": float(self.slippage_bps), "stop_loss": float(self.stop_loss),
            "take_profit": float(self.take_profit), "trailing_stop": float(self.trailing_stop),
            "fill_at": FILL_AT_CODES[self.fill_at], "sizing": SIZING_CODES[self.sizing],
        }


@attrs.frozen(kw_only=True, eq=False)
class SimResult:
    """Per-bar state after each bar's close, and the trades (:data:`TRADE_DTYPE`).

    ``position`` is in signed units; ``equity`` is cash plus position marked at the close.
    """

    position: np.ndarray
    equity: np.ndarray
    trades: np.ndarray


# -- argument checks (shared with the compiled wrapper) ----------------------------------------


def check_params(params: object) -> SimParams:
    if params is None:
        return SimParams()
    if not isinstance(params, SimParams):
        raise NtUserError(f"params must be a SimParams, got {type(params).__name__}")
    return params


def check_bars(open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               target: np.ndarray | None = None) -> None:
    """Raise for the first bar (then the first array, in argument order) the kernel refuses:
    prices must be finite and positive; a target may be NaN (no change) but not infinite."""
    named: list[tuple[str, np.ndarray, np.ndarray]] = [
        (name, arr, ~((arr > 0.0) & (arr < np.inf))) for name, arr in
        (("open", open), ("high", high), ("low", low), ("close", close))]
    if target is not None:
        named.append(("target", target, np.isinf(target)))
    bad = np.zeros(close.shape[0], bool)
    for _, _, mask in named:
        bad |= mask
    if not bad.any():
        return
    i = int(np.argmax(bad))
    name, arr, _ = next(item for item in named if item[2][i])
    rule = "must be finite or NaN (no change)" if name == "target" else "must be finite and > 0 on every bar"
    raise NtUserError(f"{name} {rule}; {name}[{i}] is {float(arr[i])!r}")


def check_windows(fast: object, slow: object) -> tuple[np.ndarray, np.ndarray]:
    fast, slow = array_arg("fast", fast, I64), array_arg("slow", slow, I64)
    same_length(fast=fast, slow=slow)
    for name, arr in (("fast", fast), ("slow", slow)):
        if arr.size and arr.min() < 1:
            i = int(np.argmin(arr))
            raise NtUserError(f"{name} windows must be >= 1; {name}[{i}] is {int(arr[i])}")
    return fast, slow


def check_threads(threads: object) -> int:
    t = int_arg("threads", threads)
    if t < 1:
        raise NtUserError(f"threads must be >= 1, got {t}")
    return t


# -- targets ------------------------------------------------------------------------------------


def targets_from_crossover(cross: np.ndarray, allow_short: bool = False) -> np.ndarray:
    """Targets from :func:`~neural_trader.native.indicators.crossover`: long on a cross up; on a
    cross down short (``allow_short``) or flat; NaN (hold) elsewhere."""
    cross = array_arg("cross", cross, I8)
    target = np.full(cross.shape[0], np.nan)
    target[cross == 1] = 1.0
    target[cross == -1] = -1.0 if allow_short else 0.0
    return target


def targets_from_signals(entries: np.ndarray, exits: np.ndarray, short_entries: np.ndarray | None = None,
                         short_exits: np.ndarray | None = None) -> np.ndarray:
    """Targets from boolean signals: an entry goes long (a short entry short), an exit of either
    side goes flat, NaN holds. A bar with conflicting signals is ignored."""
    entries = array_arg("entries", entries, np.dtype(bool))
    exits = array_arg("exits", exits, np.dtype(bool))
    n = same_length(entries=entries, exits=exits)
    se = np.zeros(n, bool) if short_entries is None else array_arg("short_entries", short_entries, np.dtype(bool))
    sx = np.zeros(n, bool) if short_exits is None else array_arg("short_exits", short_exits, np.dtype(bool))
    same_length(entries=entries, short_entries=se, short_exits=sx)
    go_flat = exits | sx
    wants = entries.astype(np.int8) + go_flat.astype(np.int8) + se.astype(np.int8)
    target = np.full(n, np.nan)
    target[go_flat & (wants == 1)] = 0.0
    target[entries & (wants == 1)] = 1.0
    target[se & (wants == 1)] = -1.0
    return target


# -- the simulation -----------------------------------------------------------------------------


class _Sim:
    """``struct sim_state`` and its functions, line for line."""

    __slots__ = (
        "cash",
        "count",
        "cur_target",
        "entry_fee",
        "entry_idx",
        "entry_price",
        "extreme",
        "has_pending",
        "p",
        "pending",
        "pos",
        "slip",
        "stops_from",
        "trades",
        "wins",
    )

    def __init__(self, p: SimParams, record_trades: bool) -> None:
        self.p = p
        self.slip = p.slippage_bps / 10000.0
        self.cash = float(p.init_cash)
        self.pos = 0.0
        self.cur_target = 0.0
        self.has_pending = False
        self.pending = 0.0
        self.entry_idx = -1
        self.entry_price = 0.0
        self.entry_fee = 0.0
        self.stops_from = 0
        self.extreme = 0.0
        self.trades: list[tuple[Any, ...]] | None = [] if record_trades else None
        self.count = 0
        self.wins = 0

    def fee_for(self, units: float, price: float) -> float:
        p = self.p
        return p.commission_fixed + p.commission_pct * (units * price) + p.commission_per_unit * units

    def record(self, exit_idx: int, exit_price: float, exit_fee: float, reason: int) -> None:
        units = abs(self.pos)
        pnl = self.pos * (exit_price - self.entry_price) - self.entry_fee - exit_fee
        if pnl > 0.0:
            self.wins += 1
        if self.trades is not None:
            self.trades.append((self.entry_idx, exit_idx, self.entry_price, exit_price, self.pos, pnl,
                                pnl / (units * self.entry_price), self.entry_fee + exit_fee, reason, 0))
        self.count += 1

    def close_position(self, i: int, raw: float, reason: int) -> None:
        price = raw * (1.0 - self.slip) if self.pos > 0.0 else raw * (1.0 + self.slip)
        fee = self.fee_for(abs(self.pos), price)
        self.cash = self.cash + self.pos * price - fee
        self.record(i, price, fee, reason)
        self.pos = 0.0

    def open_position(self, i: int, raw: float, t: float, stops_from: int) -> None:
        p = self.p
        price = raw * (1.0 + self.slip) if t > 0.0 else raw * (1.0 - self.slip)
        mag = abs(t)
        if p.sizing == "fixed":
            units = p.size * mag
        else:
            budget = self.cash * p.size * mag if p.sizing == "percent" else self.cash * mag
            units = (budget - p.commission_fixed) / (price * (1.0 + p.commission_pct) + p.commission_per_unit)
            if p.sizing == "all_in_whole":
                units = float(math.floor(units))
        if not units > 0.0:
            return
        fee = self.fee_for(units, price)
        self.pos = units if t > 0.0 else -units
        self.cash = self.cash - self.pos * price - fee
        self.entry_idx = i
        self.entry_price = price
        self.entry_fee = fee
        self.stops_from = stops_from
        self.extreme = price

    def check_stops(self, i: int, o: float, h: float, lo: float) -> None:
        p = self.p
        if self.pos == 0.0 or i < self.stops_from:
            return
        e = self.entry_price
        have_tp = p.take_profit > 0.0
        have_stop = False
        stop = 0.0
        reason = ExitReason.STOP_LOSS
        if self.pos > 0.0:
            if p.stop_loss > 0.0:
                stop = e * (1.0 - p.stop_loss)
                have_stop = True
            if p.trailing_stop > 0.0:
                trail = self.extreme * (1.0 - p.trailing_stop)
                if not have_stop or trail > stop:
                    stop, reason, have_stop = trail, ExitReason.TRAILING_STOP, True
            tp = e * (1.0 + p.take_profit)
            if have_stop and o <= stop:
                self.close_position(i, o, reason)
            elif have_tp and o >= tp:
                self.close_position(i, o, ExitReason.TAKE_PROFIT)
            elif have_stop and lo <= stop:
                self.close_position(i, stop, reason)
            elif have_tp and h >= tp:
                self.close_position(i, tp, ExitReason.TAKE_PROFIT)
            elif h > self.extreme:
                self.extreme = h
        else:
            if p.stop_loss > 0.0:
                stop = e * (1.0 + p.stop_loss)
                have_stop = True
            if p.trailing_stop > 0.0:
                trail = self.extreme * (1.0 + p.trailing_stop)
                if not have_stop or trail < stop:
                    stop, reason, have_stop = trail, ExitReason.TRAILING_STOP, True
            tp = e * (1.0 - p.take_profit)
            if have_stop and o >= stop:
                self.close_position(i, o, reason)
            elif have_tp and o <= tp:
                self.close_position(i, o, ExitReason.TAKE_PROFIT)
            elif have_stop and h >= stop:
                self.close_position(i, stop, reason)
            elif have_tp and lo <= tp:
                self.close_position(i, tp, ExitReason.TAKE_PROFIT)
            elif lo < self.extreme:
                self.extreme = lo

    def step(self, i: int, n: int, o: float, h: float, lo: float, c: float, t: float) -> None:
        if self.has_pending:
            self.has_pending = False
            if self.pos != 0.0:
                self.close_position(i, o, ExitReason.SIGNAL)
            if self.pending != 0.0:
                self.open_position(i, o, self.pending, i)
        self.check_stops(i, o, h, lo)
        if t == t and t != self.cur_target:
            self.cur_target = t
            if self.p.fill_at == "close":
                if self.pos != 0.0:
                    self.close_position(i, c, ExitReason.SIGNAL)
                if t != 0.0:
                    self.open_position(i, c, t, i + 1)
            elif i + 1 < n:
                self.has_pending = True
                self.pending = t

    def finish(self, n: int, last_close: float) -> None:
        if self.pos != 0.0:
            self.record(n - 1, last_close, 0.0, ExitReason.OPEN)


def _run(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, t: np.ndarray, p: SimParams,
         record_trades: bool) -> tuple[_Sim, np.ndarray, np.ndarray]:
    n = c.shape[0]
    sim = _Sim(p, record_trades)
    position, equity = [0.0] * n, [0.0] * n
    step = sim.step
    for i, (oi, hi, li, ci, ti) in enumerate(zip(o.tolist(), h.tolist(), lo.tolist(), c.tolist(), t.tolist(),
                                                 strict=True)):
        step(i, n, oi, hi, li, ci, ti)
        position[i] = sim.pos
        equity[i] = sim.cash + sim.pos * ci
    if n > 0:
        sim.finish(n, float(c[n - 1]))
    return sim, np.array(position, F64), np.array(equity, F64)


def simulate(open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, target: np.ndarray,
             params: SimParams | None = None) -> SimResult:
    """Simulate trading ``target`` over OHLC bars; see the module docstring for the rules."""
    arrays = {name: array_arg(name, a) for name, a in
              (("open", open), ("high", high), ("low", low), ("close", close), ("target", target))}
    same_length(**arrays)
    p = check_params(params)
    check_bars(**arrays)
    sim, position, equity = _run(arrays["open"], arrays["high"], arrays["low"], arrays["close"],
                                       arrays["target"], p, True)
    trades = np.array(sim.trades or [], dtype=TRADE_DTYPE)
    return SimResult(position=position, equity=equity, trades=trades)


def sma_cross_batch(open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    fast: np.ndarray, slow: np.ndarray, params: SimParams | None = None, *,
                    allow_short: bool = False, threads: int = 1) -> np.ndarray:
    """One :data:`BATCH_DTYPE` row per ``(fast[j], slow[j])``: the SMA crossover strategy
    (:func:`targets_from_crossover` of :func:`~neural_trader.native.indicators.crossover`)
    simulated with ``params``. ``threads`` is accepted for signature parity; the twin runs serially.
    """
    arrays = {name: array_arg(name, a) for name, a in
              (("open", open), ("high", high), ("low", low), ("close", close))}
    n = same_length(**arrays)
    fast, slow = check_windows(fast, slow)
    p = check_params(params)
    check_threads(threads)
    check_bars(**arrays)
    o, h, lo, c = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    rows = np.zeros(fast.shape[0], BATCH_DTYPE)
    for j, (fw, sw) in enumerate(zip(fast.tolist(), slow.tolist(), strict=True)):
        cross = _ind.crossover(_ind._sma(c, fw), _ind._sma(c, sw))
        sim, _, equity = _run(o, h, lo, c, targets_from_crossover(cross, allow_short), p, False)
        eq = float(equity[-1]) if n else float(p.init_cash)
        peak = np.maximum.accumulate(np.concatenate(([float(p.init_cash)], equity)))[1:]
        mdd = float(max(0.0, ((peak - equity) / peak).max(initial=0.0)))
        rows[j] = (fw, sw, eq, eq / p.init_cash - 1.0, mdd, sim.count, sim.wins)
    return rows
