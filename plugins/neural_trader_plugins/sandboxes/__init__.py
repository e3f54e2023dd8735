"""Sandboxes: strategy and agent code run isolated, bounded and observed (local bubblewrap or rlimits,
and E2B).

Providers (``nt_register_sandboxes``): ``local`` (:mod:`.local`, :mod:`.runner`, :mod:`.isolation`) and
``e2b`` (:mod:`.e2b`). Agents and swarms (:mod:`.agents`, :mod:`.sessions`, :mod:`.swarms`) run in the
server's process and trade through ``trade.execute``. Templates: :mod:`.templates`. docs/sandboxes.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import NoParams, Operation, Scope

#: The first examples run offline and answer the same each time (run ids make runs idempotent).
_SANDBOX = {"name": "example", "limits": {"wall_s": 10, "memory_mb": 512},
            "files": [{"name": "prices.csv", "content": "close\n100\n101\n99\n"}]}
_HELLO = "import csv, os\nrows = list(csv.DictReader(open(os.path.join(os.environ['SANDBOX_INPUTS'], 'prices.csv'))))\n" \
         "print(sum(float(r['close']) for r in rows) / len(rows))\n"
_SMA = ("import numpy as np\n\ndef signals(bars):\n    c = bars['close']\n"
        "    fast = np.array([c[max(0, i - 9):i + 1].mean() for i in range(len(c))])\n"
        "    slow = np.array([c[max(0, i - 29):i + 1].mean() for i in range(len(c))])\n"
        "    out = np.where(fast > slow, 1.0, 0.0)\n    out[:29] = np.nan\n    return out\n")
_BARS = {"symbol": "SPY", "provider": "synthetic", "start": "2023-01-01T00:00:00Z", "end": "2023-12-29T00:00:00Z"}
_SWARM = {"name": "example", "topology": "hierarchical", "symbols": ["SPY"], "start": False,
          "agents": [{"name": "trend", "type": "trend_follower"}, {"name": "guard", "type": "risk_monitor"}]}


@hookimpl
def nt_register_sandboxes(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.sandboxes.e2b import E2BProvider
    from neural_trader_plugins.sandboxes.local import LocalProvider

    register(LocalProvider())
    register(E2BProvider())


@hookimpl
def nt_plugin_notes() -> list[str]:
    from neural_trader_plugins.sandboxes.isolation import probe

    isolation = probe()
    return [f"local sandboxes: {isolation.mode}; network {isolation.network}; processes: {isolation.processes}",
            *isolation.notes]


@hookimpl
def nt_shutdown(host: Any) -> None:
    from neural_trader_plugins.sandboxes import service, swarms

    swarms.close_for(host)
    service.close_for(host)


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.sandboxes import agent_api, api, templates

    admin, trade = Scope.ADMIN, Scope.TRADE
    acts = {"read_only": False, "idempotent": True}
    register(Operation(
        name="sandbox.create", summary="Create a sandbox (local: bubblewrap + rlimits; e2b: a cloud microVM) with its "
                                       "limits, input files and variables.",
        description="Idempotent by name. Secrets never enter: the environment is built from nothing, and variable "
                    "names like NT_*, *_KEY, *_TOKEN are refused. sandbox.status says what isolation is in force.",
        params=api.CreateParams, result=api.SandboxView, handler=api.create, scope=admin, **acts,
        examples=(_SANDBOX, {"name": "cloud", "provider": "e2b"})))
    register(Operation(
        name="sandbox.exec", summary="Run a command in a sandbox, bounded in time, CPU, memory, processes, files and "
                                     "output.",
        params=api.ExecParams, result=api.RunResult, handler=api.exec_command, scope=admin, **acts,
        examples=({"sandbox": "example", "command": ["sh", "-c", "ls \"$SANDBOX_INPUTS\"; echo done"],
                   "run_id": "example-ls"},)))
    register(Operation(
        name="sandbox.run_code", summary="Run code in a sandbox; with backtest, backtest a strategy script's "
                                         "signals(bars) inside it and get backtest.run's report.",
        description="The host fetches the bars (the sandbox has no network) and embeds them in the harness; the "
                    "script's targets come back on one marked line and go to the backtest engine.",
        params=api.RunCodeParams, result=api.RunResult, handler=api.run_code, scope=admin, **acts,
        examples=({"sandbox": "example", "code": _HELLO, "run_id": "example-mean"},
                  {"sandbox": "example", "code": _SMA, "backtest": _BARS, "run_id": "example-sma"})))
    register(Operation(
        name="sandbox.list", summary="The sandboxes this server holds.", params=NoParams, result=api.ListResult,
        handler=api.list_sandboxes))
    register(Operation(
        name="sandbox.status", summary="The isolation in force here (bubblewrap, cgroup, rlimits), the providers, and "
                                       "a sandbox with its latest runs.",
        params=api.StatusParams, result=api.StatusResult, handler=api.status))
    register(Operation(
        name="sandbox.terminate", summary="End a sandbox: its processes stop and its scratch files are deleted.",
        params=api.TerminateParams, result=api.TerminateResult, handler=api.terminate, scope=admin, read_only=False,
        destructive=True, idempotent=False, confirm=True, examples=({"sandbox": "example", "confirm": True},)))
    register(Operation(
        name="agent.run", summary="Run a named agent (trend follower, mean reverter, arbitrage scanner, risk monitor, "
                                  "market maker) for a bounded number of steps on the paper broker.",
        description="Every order goes through trade.execute (the risk gate of a person's orders). The run_id makes "
                    "it idempotent: the same run_id returns the recorded run.",
        params=agent_api.AgentRunParams, result=agent_api.AgentRunView, handler=agent_api.agent_run, scope=trade,
        open_world=True, **acts,
        examples=({"run_id": "example-trend", "agent": "trend_follower", "symbols": ["SPY"], "steps": 2},)))
    register(Operation(
        name="agent.status", summary="An agent run: its decisions, orders and P&L.",
        params=agent_api.AgentStatusParams, result=agent_api.AgentRunView, handler=agent_api.agent_status,
        examples=({"run_id": "example-trend"},)))
    register(Operation(
        name="swarm.init", summary="Set up (and start) a swarm of agents with a coordination topology: independent, "
                                   "mesh or hierarchical.",
        params=agent_api.SwarmInitParams, result=agent_api.SwarmView, handler=agent_api.swarm_init, scope=trade,
        open_world=True, **acts, examples=(_SWARM,)))
    register(Operation(
        name="swarm.deploy_agent", summary="Add an agent to a swarm (it joins at the next round).",
        params=agent_api.DeployParams, result=agent_api.SwarmView, handler=agent_api.swarm_deploy, scope=trade,
        **acts, examples=({"swarm": "example", "agent": {"name": "reverter", "type": "mean_reverter"}},)))
    register(Operation(
        name="swarm.status", summary="A swarm's state, round and agents with their latest decisions.",
        params=agent_api.SwarmRef, result=agent_api.SwarmView, handler=agent_api.swarm_status,
        examples=({"swarm": "example"},)))
    register(Operation(
        name="swarm.metrics", summary="A swarm's P&L, orders, rejections and vetoes, in all and by agent.",
        params=agent_api.SwarmRef, result=agent_api.SwarmMetrics, handler=agent_api.swarm_metrics,
        examples=({"swarm": "example"},)))
    register(Operation(
        name="swarm.scale", summary="Set how many agents of a type a swarm has (adds or removes them).",
        params=agent_api.ScaleParams, result=agent_api.SwarmView, handler=agent_api.swarm_scale, scope=trade,
        **acts, examples=({"swarm": "example", "type": "trend_follower", "count": 2},)))
    register(Operation(
        name="swarm.shutdown", summary="Stop a swarm: its agents stop and their resting orders are cancelled.",
        params=agent_api.SwarmRef, result=agent_api.SwarmView, handler=agent_api.swarm_shutdown, scope=trade,
        **acts, examples=({"swarm": "example"},)))
    register(Operation(
        name="template.deploy", summary="Make a sandbox or a swarm from a template (a built-in, or one "
                                        "template.export gave).",
        params=templates.DeployParams, result=templates.DeployResult, handler=templates.deploy, scope=admin, **acts,
        examples=({"name": "research", "template": "python-research"},)))
    register(Operation(
        name="template.export", summary="The built-in templates, or the setup of a sandbox or swarm as a template.",
        params=templates.ExportParams, result=templates.ExportResult, handler=templates.export))
