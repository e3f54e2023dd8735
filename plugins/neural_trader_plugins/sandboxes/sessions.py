"""Agents at work: each step an agent reads prices, decides, and sends its orders through ``trade.execute``
(the same risk gate, order manager, broker and audit log as a person's orders, under the caller's
identity and with the agent's name as the order's ``strategy``, so per-strategy limits apply).

Where agents run: in the server's process (the agent types are first-party rules, not strangers'
code; the code of strangers runs in sandboxes). A step's price is the market service's quote (the
paper account's synthetic quote on the embedded defaults) appended to the symbol's daily closes.
Client order ids are ``<run>:<agent>:<step>:<symbol>``: a run retried with its run id sends nothing twice.
"""

from __future__ import annotations

import decimal
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neural_trader.errors import NtError
from neural_trader.schema import param
from neural_trader_plugins.sandboxes.agents import AgentType, Decision, Veto, risk_check

if TYPE_CHECKING:
    from neural_trader.ops import Context

__all__ = ["AgentSession", "AgentStep", "Market", "ReviewFn"]

D = decimal.Decimal
#: Decisions kept per agent (the latest).
MAX_DECISIONS = 500
ReviewFn = Callable[["AgentSession", str, str], Awaitable[Veto | None]]


@attrs.frozen(kw_only=True)
class AgentStep:
    """One decision of one agent about one symbol, and what became of its order."""

    step: int
    agent: str
    symbol: str
    price: float = param(description="the price the agent saw")
    signal: float | None = param(description="target exposure (units of qty), null for a quote or no view")
    action: str = param(description="hold, buy, sell, quote, veto or error")
    reason: str = param(description="why, in the agent's words (or the veto's, or the error)")
    client_order_id: str | None = None
    order_status: str | None = param(default=None, description="the order's status after the risk gate and the "
                                                               "broker (filled, accepted, rejected...)")
    reason_code: str | None = param(default=None, description="the risk gate's code when it rejected the order")
    filled_qty: D = attrs.field(default=D(0))
    fill_price: D | None = None


class Market:
    """Prices for agents: daily closes once, a fresh quote each step."""

    def __init__(self, ctx: Context, provider: str | None) -> None:
        from neural_trader.market.service import MarketData

        self.market = MarketData.for_host(ctx.host)
        self.provider = provider
        self.history: dict[str, list[float]] = {}
        self.synthetic = False

    async def load(self, symbols: list[str], bars: int) -> None:
        from neural_trader.domain.market import Timeframe

        for symbol in symbols:
            if symbol not in self.history:
                got = await self.market.bars(symbol, Timeframe.DAY_1, limit=bars, provider=self.provider)
                self.synthetic |= bool(got.synthetic)
                self.history[symbol] = [float(x) for x in np.asarray(got.close, dtype=np.float64)[-bars:]]

    async def tick(self, symbols: list[str]) -> dict[str, float]:
        prices = {}
        for symbol in symbols:
            q = await self.market.quote(symbol, provider=self.provider)
            self.synthetic |= bool(q.synthetic)
            price = q.mid if q.mid is not None else q.last
            if price is None:
                price = self.history[symbol][-1]
            prices[symbol] = float(price)
            self.history[symbol].append(float(price))
        return prices

    def view(self, symbols: list[str]) -> dict[str, np.ndarray]:
        return {s: np.asarray(self.history[s], dtype=np.float64) for s in symbols}


@attrs.define(kw_only=True)
class AgentSession:
    """One agent's state across steps: its positions, cash flows, decisions and counts."""

    name: str
    kind: AgentType
    params: Any
    symbols: list[str]
    qty: D
    run_id: str
    positions: dict[str, D] = attrs.field(factory=dict)
    cash: D = attrs.field(default=D(0))
    last_prices: dict[str, float] = attrs.field(factory=dict)
    decisions: list[AgentStep] = attrs.field(factory=list)
    equity: list[float] = attrs.field(factory=list)
    orders: int = 0
    filled: int = 0
    rejected: int = 0
    vetoed: int = 0
    errors: int = 0
    open_orders: list[str] = attrs.field(factory=list)

    def units(self) -> dict[str, float]:
        return {s: float(q / self.qty) for s, q in self.positions.items()}

    def pnl(self) -> D:
        """Cash from the fills plus the positions at the last prices (before commissions)."""
        marks = sum((q * D(repr(self.last_prices.get(s, 0.0))) for s, q in self.positions.items()), D(0))
        return (self.cash + marks).quantize(D("0.0001"))

    def record(self, step: AgentStep) -> None:
        self.decisions.append(step)
        del self.decisions[:-MAX_DECISIONS]

    async def step(self, ctx: Context, number: int, market: Market, review: ReviewFn | None = None,
                   peers: Mapping[str, float] | None = None) -> list[Decision]:
        """Decide on the prices seen now and send the orders; returns the decisions (for peers)."""
        prices = {s: market.history[s][-1] for s in self.symbols}
        self.last_prices.update(prices)
        if not self.kind.trades:
            veto = risk_check(market.view(self.symbols), self.params, self.equity)
            self.record(AgentStep(step=number, agent=self.name, symbol=",".join(self.symbols), price=0.0, signal=None,
                                  action="veto" if veto else "hold", reason=veto.reason if veto else "within limits"))
            self.equity.append(float(self.pnl()))
            return []
        decisions = self.kind.decide(market.view(self.symbols), self.params, self.units())
        for d in decisions:
            await self._act(ctx, number, d, prices[d.symbol], review, peers)
        self.equity.append(float(self.pnl()))
        return decisions

    async def _act(self, ctx: Context, number: int, d: Decision, price: float, review: ReviewFn | None,
                   peers: Mapping[str, float] | None) -> None:
        held = self.positions.get(d.symbol, D(0))
        base = AgentStep(step=number, agent=self.name, symbol=d.symbol, price=price, signal=d.target, action="hold",
                         reason=d.reason)
        if d.target is None and d.bid is None and d.ask is None:
            self.record(base)
            return
        orders: list[tuple[str, D, D | None]] = []  # (side, qty, limit price)
        if d.target is not None:
            if peers is not None and d.symbol in peers and peers[d.symbol] * (d.target - 0.5) < 0:
                self.record(attrs.evolve(base, reason=f"{d.reason}; peers disagree (consensus {peers[d.symbol]:+.2f})"))
                return
            want = self.qty * D(repr(d.target))
            if want != held:
                orders.append(("buy" if want > held else "sell", abs(want - held), None))
        else:
            if d.bid is not None:
                orders.append(("buy", self.qty, D(repr(round(d.bid, 2)))))
            if d.ask is not None:
                orders.append(("sell", self.qty, D(repr(round(d.ask, 2)))))
        if not orders:
            self.record(base)
            return
        for side, qty, limit in orders:
            coid = f"{self.run_id}:{self.name}:{number}:{d.symbol}:{side}"[:128]
            if review is not None and side == "buy":
                veto = await review(self, d.symbol, side)
                if veto is not None:
                    self.vetoed += 1
                    self.record(attrs.evolve(base, action="veto", reason=f"{d.reason}; vetoed: {veto.reason}"))
                    continue
            self.record(await self._send(ctx, base, coid, side, qty, limit))

    async def _send(self, ctx: Context, base: AgentStep, coid: str, side: str, qty: D, limit: D | None) -> AgentStep:
        order: dict[str, Any] = {"symbol": base.symbol, "side": side, "qty": str(qty), "client_order_id": coid,
                                 "strategy": self.name, "confirm": True}
        if limit is not None:
            order.update(type="limit", limit_price=str(limit), time_in_force="day")
        self.orders += 1
        try:
            view = await ctx.host.acall("trade.execute", order, identity=ctx.identity, frontend=ctx.frontend)
        except NtError as exc:
            self.errors += 1
            return attrs.evolve(base, action="error", reason=f"{base.reason}; {exc}", client_order_id=coid)
        filled = D(str(view.get("filled_qty") or 0))
        fill_price = D(str(view["avg_fill_price"])) if view.get("avg_fill_price") is not None else None
        if view["status"] == "rejected":
            self.rejected += 1
        if filled and fill_price is not None:
            self.filled += 1
            sign = 1 if side == "buy" else -1
            self.positions[base.symbol] = self.positions.get(base.symbol, D(0)) + sign * filled
            self.cash -= sign * filled * fill_price
        if view["status"] in ("new", "accepted", "partially_filled"):
            self.open_orders.append(coid)
        return attrs.evolve(base, action="quote" if limit is not None else side, client_order_id=coid,
                            order_status=view["status"], reason_code=view.get("reason_code"), filled_qty=filled,
                            fill_price=fill_price)

    async def cancel_open(self, ctx: Context) -> int:
        """Cancel the orders this agent left resting (a market maker's quotes); returns how many."""
        cancelled = 0
        for coid in self.open_orders:
            try:
                await ctx.host.acall("orders.cancel", {"client_order_id": coid, "confirm": True},
                                     identity=ctx.identity, frontend=ctx.frontend)
                cancelled += 1
            except NtError:
                pass
        self.open_orders.clear()
        return cancelled
