"""Templates: named setups of a sandbox or a swarm, deployed by name and exported as plain JSON.

A template is ``{kind: "sandbox" | "swarm", summary, setup}`` where ``setup`` is the parameters of
``sandbox.create`` or ``swarm.init`` without the name. ``template.export`` gives a built-in's, or the
setup of a sandbox or swarm that exists (to keep it, or deploy it again elsewhere);
``template.deploy`` takes a built-in's name or such an exported setup.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader.serde import wire
from neural_trader_plugins.sandboxes import agent_api, api
from neural_trader_plugins.sandboxes.service import service_of
from neural_trader_plugins.sandboxes.swarms import registry_of

Kind = Literal["sandbox", "swarm"]

_STRATEGY_EXAMPLE = (
    "import numpy as np\n\n"
    "def signals(bars):\n"
    "    close = bars['close']\n"
    "    fast = np.convolve(close, np.ones(10) / 10)[:len(close)]\n"
    "    slow = np.convolve(close, np.ones(30) / 30)[:len(close)]\n"
    "    out = np.where(fast > slow, 1.0, 0.0)\n"
    "    out[:30] = np.nan\n"
    "    return out\n")

BUILTIN: dict[str, dict[str, Any]] = {
    "python-research": {"kind": "sandbox", "summary": "a local sandbox for analysis scripts: 30 s, 1 GiB, no network",
                        "setup": {"provider": "local", "limits": {"wall_s": 30, "cpu_s": 30, "memory_mb": 1024}}},
    "strategy-backtest": {"kind": "sandbox", "summary": "a local sandbox holding an example strategy script "
                                                        "(inputs/strategy.py) for sandbox.run_code with backtest",
                          "setup": {"provider": "local", "limits": {"wall_s": 30, "output_kb": 1024},
                                    "files": [{"name": "strategy.py", "content": _STRATEGY_EXAMPLE}]}},
    "e2b-python": {"kind": "sandbox", "summary": "an E2B code-interpreter sandbox (needs E2B_API_KEY)",
                   "setup": {"provider": "e2b", "template": "code-interpreter-v1"}},
    "guarded-trend": {"kind": "swarm", "summary": "trend follower and mean reverter on SPY and QQQ, a risk monitor "
                                                  "vetoing buys (hierarchical)",
                      "setup": {"topology": "hierarchical", "symbols": ["SPY", "QQQ"], "rounds": 10, "interval_s": 1,
                                "agents": [{"name": "trend", "type": "trend_follower"},
                                           {"name": "reverter", "type": "mean_reverter"},
                                           {"name": "guard", "type": "risk_monitor",
                                            "agent_params": {"max_drawdown": 0.05}}]}},
    "consensus-mesh": {"kind": "swarm", "summary": "three differently tuned trend followers trading only on "
                                                   "consensus (mesh)",
                       "setup": {"topology": "mesh", "symbols": ["SPY"], "rounds": 10, "interval_s": 1,
                                 "agents": [{"name": "fast", "type": "trend_follower", "agent_params": {"fast": 3, "slow": 10}},
                                            {"name": "mid", "type": "trend_follower", "agent_params": {"fast": 5, "slow": 20}},
                                            {"name": "slow", "type": "trend_follower",
                                             "agent_params": {"fast": 10, "slow": 50}}]}},
}


@attrs.frozen(kw_only=True)
class Template:
    """A named setup."""

    name: str = param(min_len=1, max_len=100, description="the template's name")
    kind: Kind = param(description="sandbox (setup: sandbox.create's parameters) or swarm (swarm.init's)")
    summary: str = param(max_len=500, description="what the setup is for, in a line")
    setup: dict[str, Any] = param(description="the parameters, without the name")


@attrs.frozen(kw_only=True)
class ExportParams:
    """Parameters of ``template.export``: one of template, sandbox or swarm (none: every built-in)."""

    template: str | None = param(default=None, max_len=100, description="a built-in template's name")
    sandbox: str | None = api.name_field("export the setup of this sandbox", default=None)
    swarm: str | None = api.name_field("export the setup of this swarm", default=None)


@attrs.frozen(kw_only=True)
class ExportResult:
    templates: list[Template]


def _builtin(name: str) -> Template:
    found = BUILTIN.get(name)
    if found is None:
        raise NtUserError(f"no template {name!r}; built-in: {', '.join(BUILTIN)}")
    return Template(name=name, **found)


def export(params: ExportParams, ctx: Context) -> ExportResult:
    given = [x for x in (params.template, params.sandbox, params.swarm) if x is not None]
    if len(given) > 1:
        raise NtUserError("give one of template, sandbox or swarm")
    if params.template is not None:
        return ExportResult(templates=[_builtin(params.template)])
    if params.sandbox is not None:
        spec = service_of(ctx.host).get(params.sandbox).spec
        setup = wire.unstructure(api.CreateParams(name=spec.name, provider=service_of(ctx.host).get(
            params.sandbox).provider, limits=spec.limits, files=list(spec.files), mounts=list(spec.mounts),
            env=dict(spec.env), template=spec.template))
        setup.pop("name")
        return ExportResult(templates=[Template(name=params.sandbox, kind="sandbox", summary=f"sandbox {spec.name}",
                                                setup=setup)])
    if params.swarm is not None:
        swarm = registry_of(ctx.host).swarm(params.swarm)
        setup = wire.unstructure(swarm.request)
        setup["agents"] = [{"name": a.name, "type": a.kind.name, "agent_params": wire.unstructure(a.params),
                            "symbols": a.symbols} for a in swarm.members()]
        for key in ("name", "start"):
            setup.pop(key, None)
        return ExportResult(templates=[Template(name=params.swarm, kind="swarm", summary=f"swarm {swarm.name}",
                                                setup=setup)])
    return ExportResult(templates=[_builtin(n) for n in BUILTIN])


@attrs.frozen(kw_only=True)
class DeployParams:
    """Parameters of ``template.deploy``."""

    name: str = api.name_field("the name of the sandbox or swarm it makes")
    template: str | None = param(default=None, max_len=100, description="a built-in template (template.export "
                                                                        "lists them)")
    setup: Template | None = param(default=None, description="a template as template.export gives it, instead")
    start: bool = param(default=False, description="swarm templates: start playing at once")


@attrs.frozen(kw_only=True)
class DeployResult:
    template: str
    kind: Kind
    sandbox: api.SandboxView | None
    swarm: agent_api.SwarmView | None


async def deploy(params: DeployParams, ctx: Context) -> DeployResult:
    if (params.template is None) == (params.setup is None):
        raise NtUserError("give template (a built-in's name) or setup (an exported template), one of them")
    chosen = params.setup if params.setup is not None else _builtin(params.template or "")
    raw = {**chosen.setup, "name": params.name}
    if chosen.kind == "sandbox":
        op, path = ctx.host.operation("sandbox.create"), "setup"
    else:
        raw["start"] = params.start
        op, path = ctx.host.operation("swarm.init"), "setup"
    try:
        structured = op.parse(raw)
    except NtUserError as exc:
        raise NtUserError(f"template {chosen.name!r}: its {path} is not valid: {exc}") from None
    made = await op.invoke(structured, ctx)
    return DeployResult(template=chosen.name, kind=chosen.kind,
                        sandbox=made if chosen.kind == "sandbox" else None,
                        swarm=made if chosen.kind == "swarm" else None)
