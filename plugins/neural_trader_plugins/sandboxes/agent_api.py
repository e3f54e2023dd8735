"""Parameters, results and handlers of ``agent.*`` and ``swarm.*`` (the work is in :mod:`.sessions` and
:mod:`.swarms`)."""

from __future__ import annotations

import decimal
import enum
from typing import Any

import attrs

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sandboxes.agents import AGENT_TYPES, agent_type, params_of
from neural_trader_plugins.sandboxes.api import NAME, NAME_HINT, RUN_ID, name_field
from neural_trader_plugins.sandboxes.sessions import AgentSession, AgentStep, Market
from neural_trader_plugins.sandboxes.swarms import HISTORY_BARS, AgentRun, Swarm, check_symbols, registry_of

D = decimal.Decimal
AgentKind = enum.StrEnum("AgentKind", {name: name for name in AGENT_TYPES})  # type: ignore[misc]
#: An agent run holds the call this long at most (steps x interval): a request answers in seconds, and
#: longer work runs as a swarm in the background.
MAX_RUN_SECONDS = 5.0
WHERE = "in the server's process (first-party agent rules; orders through trade.execute)"


# -- agent.run / agent.status -------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AgentRunParams:
    """Parameters of ``agent.run``."""

    run_id: str = param(pattern=RUN_ID, pattern_hint="letters, digits, . - _ (64 at most)", description=(
        "the run's id: its orders' client order ids start with it, and the same run_id returns the recorded run"))
    agent: AgentKind = param(description="trend_follower, mean_reverter, arbitrage_scanner, risk_monitor or "
                                         "market_maker")
    agent_params: dict[str, Any] = param(factory=dict, max_len=20, description="the agent type's parameters "
                                                                         "(docs/sandboxes.md lists them)")
    symbols: list[str] = param(min_len=1, max_len=10, item_pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                                 description="the symbols it trades (arbitrage_scanner: a pair)")
    steps: int = param(default=5, ge=1, le=100, description="decisions to make")
    interval_s: float = param(default=0.0, ge=0, le=60, description="seconds between steps")
    qty: D | None = param(default=None, gt=0, le=1_000_000, description="units one signal of +1 holds (shares, coins); default 1")
    provider: str | None = param(default=None, max_len=100, pattern=PROVIDER_PATTERN, description="market data provider for the prices; "
                                                                        "default the fallback chain")


@attrs.frozen(kw_only=True)
class AgentRunView:
    """An agent run: its decisions, what the risk gate and the broker made of them, and its P&L."""

    run_id: str
    agent: str
    agent_params: dict[str, Any] = param(description="the agent type's parameters, defaults filled in")
    symbols: list[str]
    status: str = param(description="running, completed or failed")
    steps_done: int
    decisions: list[AgentStep] = param(description="each decision and its order (the latest 500)")
    positions: dict[str, D] = param(description="what the agent holds from its fills")
    pnl: D = param(description="cash from its fills plus its positions at the last prices, before commissions")
    orders: int
    filled: int
    rejected: int = param(description="orders the risk gate or the broker rejected")
    vetoed: int
    errors: int
    synthetic: bool = param(description="the prices were generated (the embedded default), not observed")
    runs_in: str = param(description="where the agent ran")
    error: str | None = None

    @classmethod
    def of(cls, run: AgentRun) -> AgentRunView:
        s = run.session
        return cls(run_id=run.run_id, agent=s.kind.name, agent_params=attrs.asdict(s.params), symbols=s.symbols,
                   status=run.status, steps_done=run.steps_done, decisions=list(s.decisions),
                   positions=dict(s.positions), pnl=s.pnl(), orders=s.orders, filled=s.filled, rejected=s.rejected,
                   vetoed=s.vetoed, errors=s.errors, synthetic=run.synthetic, runs_in=WHERE, error=run.error)


def _session(name: str, kind_name: str, values: dict[str, Any], symbols: list[str], qty: D, run_id: str,
             path: str) -> AgentSession:
    kind = agent_type(kind_name)
    check_symbols(kind, symbols, path + ".symbols")
    return AgentSession(name=name, kind=kind, params=params_of(kind, values, path=path + ".agent_params"),
                        symbols=[s.upper() for s in symbols], qty=qty, run_id=run_id)


async def agent_run(params: AgentRunParams, ctx: Context) -> AgentRunView:
    if params.steps * params.interval_s > MAX_RUN_SECONDS:
        raise NtUserError(f"steps x interval_s is {params.steps * params.interval_s:g} s, above {MAX_RUN_SECONDS:g} s; "
                          "run longer work as a swarm")
    session = _session(params.agent.value, params.agent.value, params.agent_params, params.symbols, params.qty or D(1),
                       params.run_id, "$")
    run = registry_of(ctx.host).add_run(AgentRun(run_id=params.run_id, request=params, session=session))
    if run.session is not session:
        return AgentRunView.of(run)
    market = Market(ctx, params.provider)
    try:
        await market.load(session.symbols, HISTORY_BARS)
        for step in range(1, params.steps + 1):
            ctx.progress(step - 1, params.steps, f"step {step}")
            await market.tick(session.symbols)
            await session.step(ctx, step, market)
            run.steps_done = step
            if step < params.steps and params.interval_s:
                import anyio

                await anyio.sleep(params.interval_s)
        run.cancelled_orders = await session.cancel_open(ctx)
        run.status = "completed"
    except Exception as exc:
        run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.synthetic = market.synthetic
    return AgentRunView.of(run)


@attrs.frozen(kw_only=True)
class AgentStatusParams:
    run_id: str = param(pattern=RUN_ID, pattern_hint="the run_id given to agent.run", description="the run")


def agent_status(params: AgentStatusParams, ctx: Context) -> AgentRunView:
    return AgentRunView.of(registry_of(ctx.host).run(params.run_id))


# -- swarms -------------------------------------------------------------------------------------------
class Topology(enum.StrEnum):
    INDEPENDENT = "independent"
    MESH = "mesh"
    HIERARCHICAL = "hierarchical"


@attrs.frozen(kw_only=True)
class AgentSpec:
    """One agent of a swarm."""

    name: str = param(pattern=NAME, pattern_hint=NAME_HINT, description="its name in the swarm")
    type: AgentKind = param(description="the agent type")
    agent_params: dict[str, Any] = param(factory=dict, max_len=20, description="the type's parameters")
    symbols: list[str] | None = param(default=None, min_len=1, max_len=10, item_pattern=SYMBOL_PATTERN,
                                      pattern_hint=SYMBOL_HINT, description="its symbols; default the swarm's")


@attrs.frozen(kw_only=True)
class SwarmInitParams:
    """Parameters of ``swarm.init``."""

    name: str = name_field("the swarm's name (the same request again returns it)")
    topology: Topology = param(default=Topology.HIERARCHICAL, description=(
        "independent (each agent alone), mesh (agents share signals; one trades only when the others' consensus "
        "does not disagree) or hierarchical (risk_monitor agents veto the others' buys)"))
    symbols: list[str] = param(min_len=1, max_len=10, item_pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                                 description="the swarm's symbols (explicit: a swarm trades only what it is told)")
    agents: list[AgentSpec] = param(factory=list, max_len=20, description="agents to start with")
    rounds: int = param(default=5, ge=1, le=1000, description="rounds to play (each agent decides once a round)")
    interval_s: float = param(default=1.0, ge=0, le=3600, description="seconds between rounds")
    qty: D | None = param(default=None, gt=0, le=1_000_000, description="units one signal of +1 holds (shares, coins); default 1")
    max_agents: int = param(default=10, ge=1, le=20, description="agents it may hold (swarm.scale included)")
    provider: str | None = param(default=None, max_len=100, pattern=PROVIDER_PATTERN, description="market data provider for the prices")
    start: bool = param(default=True, description="start playing now (in the background); false: only set it up")


@attrs.frozen(kw_only=True)
class AgentSummary:
    name: str
    type: str
    symbols: list[str]
    positions: dict[str, D]
    pnl: D
    orders: int
    filled: int
    rejected: int
    vetoed: int
    errors: int
    last: AgentStep | None = param(description="its latest decision")


@attrs.frozen(kw_only=True)
class SwarmView:
    """A swarm: its topology, state and agents."""

    name: str
    topology: Topology
    status: str = param(description="idle (set up), running, completed, stopped or failed")
    round: int = param(description="rounds played")
    rounds: int
    interval_s: float
    symbols: list[str]
    agents: list[AgentSummary]
    synthetic: bool = param(description="the prices were generated, not observed")
    runs_in: str = param(description="where the agents run")
    error: str | None = None

    @classmethod
    def of(cls, swarm: Swarm) -> SwarmView:
        agents = [AgentSummary(name=a.name, type=a.kind.name, symbols=a.symbols, positions=dict(a.positions),
                               pnl=a.pnl(), orders=a.orders, filled=a.filled, rejected=a.rejected, vetoed=a.vetoed,
                               errors=a.errors, last=a.decisions[-1] if a.decisions else None)
                  for a in swarm.members()]
        return cls(name=swarm.name, topology=Topology(swarm.topology), status=swarm.status, round=swarm.round,
                   rounds=swarm.rounds, interval_s=swarm.interval_s, symbols=swarm.symbols, agents=agents,
                   synthetic=swarm.synthetic, runs_in="a background thread of the server, " + WHERE,
                   error=swarm.error)


def _agent(swarm: Swarm, spec: AgentSpec, path: str) -> AgentSession:
    return _session(spec.name, spec.type.value, spec.agent_params, list(spec.symbols or swarm.symbols), swarm.qty,
                    f"swarm-{swarm.name}", path)


async def swarm_init(params: SwarmInitParams, ctx: Context) -> SwarmView:
    if params.rounds * params.interval_s > 24 * 3600:
        raise NtUserError("rounds x interval_s is above a day; play fewer or shorter rounds")
    names = [a.name for a in params.agents]
    if len(set(names)) != len(names):
        raise NtUserError("agents: two agents have the same name")
    if len(params.agents) > params.max_agents:
        raise NtUserError(f"agents: {len(params.agents)} agents, above max_agents ({params.max_agents})")
    request = attrs.evolve(params, start=False)
    swarm = Swarm(name=params.name, topology=params.topology.value, symbols=[s.upper() for s in params.symbols],
                  rounds=params.rounds, interval_s=params.interval_s, qty=params.qty or D(1), max_agents=params.max_agents,
                  provider=params.provider, request=request)
    sessions = [_agent(swarm, spec, f"$.agents[{i}]") for i, spec in enumerate(params.agents)]
    registered, new = registry_of(ctx.host).add_swarm(swarm, same=lambda found: found.request == request)
    if new:
        for session in sessions:
            registered.add(session)
    if params.start and registered.status == "idle":
        registered.start(ctx)
    return SwarmView.of(registered)


@attrs.frozen(kw_only=True)
class SwarmRef:
    swarm: str = name_field("the swarm")


@attrs.frozen(kw_only=True)
class DeployParams:
    """Parameters of ``swarm.deploy_agent``."""

    swarm: str = name_field("the swarm")
    agent: AgentSpec = param(description="the agent to add (it joins at the next round)")


async def swarm_deploy(params: DeployParams, ctx: Context) -> SwarmView:
    swarm = registry_of(ctx.host).swarm(params.swarm)
    swarm.add(_agent(swarm, params.agent, "$.agent"))
    return SwarmView.of(swarm)


def swarm_status(params: SwarmRef, ctx: Context) -> SwarmView:
    return SwarmView.of(registry_of(ctx.host).swarm(params.swarm))


@attrs.frozen(kw_only=True)
class SwarmMetrics:
    """The swarm's totals and each agent's figures."""

    swarm: str
    status: str
    round: int
    agents: int
    pnl: D = param(description="the agents' P&L together, before commissions")
    orders: int
    filled: int
    rejected: int
    vetoed: int = param(description="buys a risk monitor vetoed (hierarchical)")
    errors: int
    by_agent: list[AgentSummary]


def swarm_metrics(params: SwarmRef, ctx: Context) -> SwarmMetrics:
    view = SwarmView.of(registry_of(ctx.host).swarm(params.swarm))
    a = view.agents
    return SwarmMetrics(swarm=view.name, status=view.status, round=view.round, agents=len(a),
                        pnl=sum((x.pnl for x in a), D(0)), orders=sum(x.orders for x in a),
                        filled=sum(x.filled for x in a), rejected=sum(x.rejected for x in a),
                        vetoed=sum(x.vetoed for x in a), errors=sum(x.errors for x in a), by_agent=a)


@attrs.frozen(kw_only=True)
class ScaleParams:
    """Parameters of ``swarm.scale``."""

    swarm: str = name_field("the swarm")
    type: AgentKind = param(description="which agent type to scale")
    count: int = param(ge=0, le=20, description="how many agents of that type the swarm should have")
    agent_params: dict[str, Any] = param(factory=dict, max_len=20, description="parameters of agents it adds")


async def swarm_scale(params: ScaleParams, ctx: Context) -> SwarmView:
    swarm = registry_of(ctx.host).swarm(params.swarm)
    mine = [a for a in swarm.members() if a.kind.name == params.type.value]
    for extra in mine[params.count:]:
        await extra.cancel_open(ctx)
        swarm.remove(extra.name)
    taken = {a.name for a in swarm.members()}
    i = 1
    while len([a for a in swarm.members() if a.kind.name == params.type.value]) < params.count:
        name = f"{params.type.value.replace('_', '-')}-{i}"
        if name not in taken:
            swarm.add(_agent(swarm, AgentSpec(name=name, type=params.type, agent_params=params.agent_params), "$"))
        i += 1
    return SwarmView.of(swarm)


async def swarm_shutdown(params: SwarmRef, ctx: Context) -> SwarmView:
    import anyio.to_thread

    swarm = registry_of(ctx.host).swarm(params.swarm)
    await anyio.to_thread.run_sync(swarm.shutdown)
    for session in swarm.members():
        await session.cancel_open(ctx)
    return SwarmView.of(swarm)
