"""Agent runs and swarms of one host: bounded in steps and time, kept in memory by id.

An agent run (``agent.run``) steps one agent ``steps`` times, ``interval_s`` apart, within the call.
A swarm runs its agents together, round by round, in a background thread of the server
(``swarm.init`` with ``start``): each round every agent sees the same fresh prices; the topology
decides how they coordinate:

* ``independent``: each agent trades its own view;
* ``mesh``: agents share their signals per symbol and an agent trades only when the consensus of
  the others does not disagree with it;
* ``hierarchical``: ``risk_monitor`` agents review every buy of the others and veto it when the
  swarm's drawdown or a symbol's volatility breaks their limits.

Every order goes through ``trade.execute``: the risk gate of a person's orders.
"""

from __future__ import annotations

import decimal
import threading
import weakref
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from neural_trader.errors import NtConflict, NtLimitExceeded, NtNotFound, NtUserError
from neural_trader_plugins.sandboxes.agents import AgentType, Veto, risk_check
from neural_trader_plugins.sandboxes.sessions import AgentSession, Market

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Context

__all__ = ["AgentRun", "Swarm", "registry_of"]

D = decimal.Decimal
HISTORY_BARS = 120
MAX_SWARMS = 16
MAX_RUNS = 200


@attrs.define(kw_only=True)
class AgentRun:
    run_id: str
    request: Any
    session: AgentSession
    status: str = "running"
    steps_done: int = 0
    synthetic: bool = False
    error: str | None = None
    cancelled_orders: int = 0


@attrs.define(kw_only=True)
class Swarm:
    name: str
    topology: str
    symbols: list[str]
    rounds: int
    interval_s: float
    qty: D
    max_agents: int
    provider: str | None
    request: Any = None
    agents: dict[str, AgentSession] = attrs.field(factory=dict)
    status: str = "idle"
    round: int = 0
    synthetic: bool = False
    error: str | None = None
    stop: threading.Event = attrs.field(factory=threading.Event)
    thread: threading.Thread | None = None
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def add(self, session: AgentSession) -> AgentSession:
        with self.lock:
            found = self.agents.get(session.name)
            if found is not None:
                if (found.kind, found.params, found.symbols) != (session.kind, session.params, session.symbols):
                    raise NtConflict(f"agent {session.name!r} of swarm {self.name!r} exists with other settings")
                return found
            if len(self.agents) >= self.max_agents:
                raise NtLimitExceeded(f"swarm {self.name!r} holds {self.max_agents} agents at most (max_agents)")
            self.agents[session.name] = session
            return session

    def remove(self, name: str) -> None:
        with self.lock:
            self.agents.pop(name, None)

    def members(self) -> list[AgentSession]:
        with self.lock:
            return list(self.agents.values())

    def all_symbols(self) -> list[str]:
        return sorted({s for a in self.members() for s in a.symbols} | set(self.symbols))

    async def review(self, market: Market) -> Any:
        """The hierarchical topology's reviewer: any risk monitor's veto stops a buy."""
        monitors = [a for a in self.members() if not a.kind.trades]

        async def check(session: AgentSession, symbol: str, side: str) -> Veto | None:
            equity = [sum(v) for v in zip(*(a.equity for a in self.members() if a.kind.trades), strict=False)]
            for monitor in monitors:
                veto = risk_check(market.view([symbol]), monitor.params, equity)
                if veto is not None:
                    return Veto(reason=f"{monitor.name}: {veto.reason}")
            return None

        return check if monitors else None

    async def play(self, ctx: Context) -> None:
        market = Market(ctx, self.provider)
        try:
            while self.round < self.rounds and not self.stop.is_set():
                symbols = self.all_symbols()
                await market.load(symbols, HISTORY_BARS)
                await market.tick(symbols)
                self.synthetic = market.synthetic
                number = self.round + 1
                review = await self.review(market) if self.topology == "hierarchical" else None
                peers = None
                if self.topology == "mesh":
                    peers = _consensus(self.members(), market)
                for session in self.members():
                    if self.stop.is_set():
                        break
                    await session.step(ctx, number, market, review=review, peers=peers)
                self.round = number
                if self.round < self.rounds and self.interval_s > 0:
                    with anyio.move_on_after(self.interval_s):
                        while not self.stop.is_set():
                            await anyio.sleep(0.05)
            for session in self.members():
                await session.cancel_open(ctx)
            self.status = "stopped" if self.stop.is_set() else "completed"
        except Exception as exc:  # the swarm's thread must say why it ended, not die silently
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"

    def start(self, ctx: Context) -> None:
        if self.status == "running":
            return
        self.status = "running"
        self.stop.clear()
        self.thread = threading.Thread(target=lambda: anyio.run(self.play, ctx), name=f"swarm-{self.name}",
                                       daemon=True)
        self.thread.start()

    def shutdown(self, wait_s: float = 10.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=wait_s)
        if self.status in ("idle", "running"):
            self.status = "stopped"


def _consensus(members: list[AgentSession], market: Market) -> dict[str, float]:
    """Mean signal per symbol of the trading agents (+1 long, -1 flat), the mesh's shared view."""
    votes: dict[str, list[float]] = {}
    for session in members:
        if session.kind.trades and session.kind.name != "market_maker":
            for d in session.kind.decide(market.view(session.symbols), session.params, session.units()):
                if d.target is not None:
                    votes.setdefault(d.symbol, []).append(1.0 if d.target > 0.5 else -1.0)
    return {s: sum(v) / len(v) for s, v in votes.items()}


class Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, AgentRun] = {}
        self.swarms: dict[str, Swarm] = {}

    def run(self, run_id: str) -> AgentRun:
        found = self.runs.get(run_id)
        if found is None:
            raise NtNotFound(f"no agent run {run_id!r}; agent.run starts one")
        return found

    def swarm(self, name: str) -> Swarm:
        found = self.swarms.get(name)
        if found is None:
            known = ", ".join(sorted(self.swarms)) or "none yet (swarm.init makes one)"
            raise NtNotFound(f"no swarm named {name!r}; swarms: {known}")
        return found

    def add_run(self, run: AgentRun) -> AgentRun:
        with self.lock:
            found = self.runs.get(run.run_id)
            if found is not None:
                if found.request != run.request:
                    raise NtConflict(f"agent run {run.run_id!r} exists with another request; use a new run_id")
                return found
            if len(self.runs) >= MAX_RUNS:
                oldest = next((k for k, r in self.runs.items() if r.status != "running"), None)
                if oldest is None:
                    raise NtLimitExceeded("too many agent runs at once; wait for one to finish")
                del self.runs[oldest]
            self.runs[run.run_id] = run
            return run

    def add_swarm(self, swarm: Swarm, same: Any) -> tuple[Swarm, bool]:
        with self.lock:
            found = self.swarms.get(swarm.name)
            if found is not None:
                if not same(found):
                    raise NtConflict(f"swarm {swarm.name!r} exists with other settings; shut it down or pick another "
                                     "name")
                return found, False
            if len([s for s in self.swarms.values() if s.status == "running"]) >= MAX_SWARMS:
                raise NtLimitExceeded(f"{MAX_SWARMS} swarms run at most at once; shut one down")
            self.swarms[swarm.name] = swarm
            return swarm, True

    def close(self) -> None:
        for swarm in list(self.swarms.values()):
            swarm.shutdown(wait_s=2)


_REGISTRIES: weakref.WeakKeyDictionary[Any, Registry] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def registry_of(host: Host) -> Registry:
    with _LOCK:
        found = _REGISTRIES.get(host)
        if found is None:
            found = _REGISTRIES[host] = Registry()
        return found


def close_for(host: Host) -> None:
    with _LOCK:
        found = _REGISTRIES.pop(host, None)
    if found is not None:
        found.close()


def check_symbols(kind: AgentType, symbols: list[str], path: str) -> None:
    if kind.name == "arbitrage_scanner" and len(symbols) != 2:
        raise NtUserError(f"{path}: arbitrage_scanner trades a pair; give exactly two symbols")
