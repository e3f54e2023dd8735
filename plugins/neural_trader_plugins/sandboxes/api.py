"""Parameters, results and handlers of the ``sandbox.*`` operations (thin: the work is in the providers,
:mod:`.service` and :mod:`.strategy_inside`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import attrs

from neural_trader.backtest.api import RunReport
from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.errors import NtForbidden, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader.settings import plugin_env
from neural_trader_plugins.sandboxes import isolation
from neural_trader_plugins.sandboxes.limits import Limits, capped
from neural_trader_plugins.sandboxes.providers import Execution, InputFile, Job, SandboxSpec
from neural_trader_plugins.sandboxes.runner import check_env
from neural_trader_plugins.sandboxes.service import RunRecord, Sandbox, service_of

NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
NAME_HINT = "lowercase letters, digits, - and _ (63 at most), e.g. research-1"
RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def name_field(description: str, **kwargs: Any) -> Any:
    return param(pattern=NAME, pattern_hint=NAME_HINT, description=description, **kwargs)


def run_id_field() -> Any:
    return param(default=None, pattern=RUN_ID, pattern_hint="letters, digits, . - _ (64 at most)",
                 description="idempotency key: the same run_id returns the recorded run instead of running again "
                             "(another job under it is a conflict); default a new id")


# -- sandbox.create ----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class CreateParams:
    """Parameters of ``sandbox.create``."""

    name: str = name_field("the sandbox's name (creating the same sandbox again returns it)")
    provider: str = param(default="local", max_len=50, description="local (this machine) or e2b (cloud; needs "
                                                                   "E2B_API_KEY); sandbox.status lists them")
    limits: Limits = param(factory=Limits, description="the default limits of each run in it")
    files: list[InputFile] = param(factory=list, max_len=20, description="input files, read-only to the code "
                                                                         "(SANDBOX_INPUTS)")
    mounts: list[str] = param(factory=list, max_len=10, item_pattern=r"^[^\x00]{1,4096}$", description=(
        "files or folders of the server mounted read-only under the inputs (local provider); over REST and MCP "
        "they must lie in the sandbox input folder (NT_SANDBOXES_INPUT_DIR, default <data_dir>/sandbox-inputs)"))
    env: dict[str, str] = param(factory=dict, max_len=50, description=(
        "variables for the code; names like NT_*, *_KEY, *_SECRET, *_TOKEN are refused (secrets never enter)"))
    template: str | None = param(default=None, max_len=100, description="the provider's image (e2b: a template "
                                                                        "id); default the provider's own")


@attrs.frozen(kw_only=True)
class SandboxView:
    """A sandbox and what it runs under."""

    name: str
    provider: str
    status: str = param(description="running, creating or terminated")
    created_at: dt.datetime
    limits: Limits
    files: list[str] = param(description="the input files' names")
    mounts: list[str] = param(description="the mounted inputs' names")
    isolation: str = param(description="what isolates it, in words")
    runs: int = param(description="runs recorded (the latest ones)")

    @classmethod
    def of(cls, sandbox: Sandbox, isolation_text: str) -> SandboxView:
        spec = sandbox.spec
        return cls(name=spec.name, provider=sandbox.provider, status=sandbox.status, created_at=sandbox.created_at,
                   limits=spec.limits, files=[f.name for f in spec.files], mounts=[Path(m).name for m in spec.mounts],
                   isolation=isolation_text, runs=len(sandbox.runs))


def input_dir(ctx: Context) -> Path:
    configured = plugin_env(ctx.settings, "sandboxes", "input_dir")
    return Path(configured).expanduser() if configured else Path(ctx.settings.data_dir) / "sandbox-inputs"


def _check_mounts(mounts: list[str], ctx: Context) -> None:
    if ctx.frontend not in ("rest", "mcp"):
        return
    folder = input_dir(ctx).resolve()
    for i, raw in enumerate(mounts):
        if not Path(raw).expanduser().resolve().is_relative_to(folder):
            raise NtForbidden(f"mounts[{i}] lies outside the sandbox input folder; over {ctx.frontend} only files "
                              "under NT_SANDBOXES_INPUT_DIR may be mounted")


def spec_of(params: CreateParams, ctx: Context) -> SandboxSpec:
    check_env(params.env)
    names = [f.name for f in params.files]
    if len(set(names)) != len(names):
        raise NtUserError("files: two files have the same name; give each its own")
    _check_mounts(params.mounts, ctx)
    return SandboxSpec(name=params.name, limits=capped(params.limits, ctx.settings), files=tuple(params.files),
                       mounts=tuple(params.mounts), env=dict(params.env), template=params.template)


def view(ctx: Context, sandbox: Sandbox) -> SandboxView:
    return SandboxView.of(sandbox, service_of(ctx.host).provider(sandbox.provider).isolation(ctx.host))


async def create(params: CreateParams, ctx: Context) -> SandboxView:
    sandbox = await service_of(ctx.host).create(spec_of(params, ctx), params.provider)
    return view(ctx, sandbox)


# -- sandbox.exec / sandbox.run_code ---------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ExecParams:
    """Parameters of ``sandbox.exec``."""

    sandbox: str = name_field("the sandbox to run in")
    command: list[str] = param(min_len=1, max_len=200, item_pattern=r"^[^\x00]{0,8192}$",
                               description="the program and its arguments, e.g. [\"python3\", \"-c\", \"print(1)\"] "
                                           "(no shell unless you run one: [\"sh\", \"-c\", \"...\"])")
    stdin: str | None = param(default=None, max_len=1_000_000, description="text given on standard input")
    limits: Limits | None = param(default=None, description="this run's limits; default the sandbox's")
    run_id: str | None = run_id_field()


@attrs.frozen(kw_only=True)
class BacktestInside:
    """The bars a strategy script is backtested on (fetched by the host; the sandbox has no network)."""

    symbol: str = param(default="SPY", max_len=50, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT,
                        description="the symbol")
    provider: str | None = param(default=None, max_len=100, pattern=PROVIDER_PATTERN, description=(
        "data provider; default the fallback chain (synthetic ends it)"))
    start: dt.datetime | None = param(default=None, description="first bar (UTC)")
    end: dt.datetime | None = param(default=None, description="last bar (UTC); default now")
    max_trades: int = param(default=20, ge=0, le=10_000, description="how many trades to list")


@attrs.frozen(kw_only=True)
class RunCodeParams:
    """Parameters of ``sandbox.run_code``."""

    sandbox: str = name_field("the sandbox to run in")
    code: str = param(min_len=1, max_len=200_000, description="the code; with backtest, a script defining "
                                                              "signals(bars) -> target exposure per bar in [-1, 1]")
    language: Literal["python", "bash", "javascript", "r"] = param(
        default="python", description="python (every provider); bash, javascript, r on e2b")
    limits: Limits | None = param(default=None, description="this run's limits; default the sandbox's")
    run_id: str | None = run_id_field()
    backtest: BacktestInside | None = param(default=None, description=(
        "backtest the script's signals(bars) on these bars: the answer's backtest is backtest.run's report"))


@attrs.frozen(kw_only=True)
class RunResult:
    """How one run ended, what it printed (bounded), and what limit stopped it, if one did."""

    run_id: str
    sandbox: str
    provider: str
    kind: str = param(description="command or code")
    ok: bool = param(description="it exited 0 with no error and no limit hit")
    exit_code: int | None = param(description="null when a signal or a limit ended it")
    signal: str | None = param(description="the signal that ended it (SIGKILL, SIGXCPU...)")
    killed_by: str | None = param(description="wall_time or cpu_time when a limit ended it")
    stdout: str = param(description="standard output, the first limits.output_kb KiB")
    stderr: str = param(description="standard error, the first limits.output_kb KiB")
    stdout_bytes: int = param(description="bytes written to stdout in all (kept or not)")
    stderr_bytes: int
    truncated: bool = param(description="output beyond limits.output_kb was dropped")
    wall_s: float = param(description="wall-clock seconds")
    cpu_s: float | None = param(description="CPU seconds (null under bubblewrap, whose namespace reaps the code)")
    max_rss_mb: float | None = param(description="peak resident memory, MiB (null under bubblewrap)")
    process_limit_hit: bool = param(description="a fork was refused by the process limit")
    leftovers_killed: int = param(description="processes still alive after the run, killed")
    result: str | None = param(description="e2b: the value of the last expression")
    error: str | None = param(description="e2b: the error the code raised (name: value)")
    limits: Limits
    backtest: RunReport | None = param(default=None, description="with backtest: backtest.run's report of the "
                                                                 "script's signals")

    @classmethod
    def of(cls, sandbox: Sandbox, record: RunRecord) -> RunResult:
        e: Execution = record.execution
        ok = e.exit_code == 0 and e.error is None and e.killed_by is None
        return cls(run_id=record.run_id, sandbox=sandbox.spec.name, provider=sandbox.provider, kind=record.job.kind,
                   ok=ok, exit_code=e.exit_code, signal=e.signal, killed_by=e.killed_by, stdout=e.stdout,
                   stderr=e.stderr, stdout_bytes=e.stdout_bytes, stderr_bytes=e.stderr_bytes,
                   truncated=e.stdout_truncated or e.stderr_truncated, wall_s=e.wall_s, cpu_s=e.cpu_s,
                   max_rss_mb=e.max_rss_mb, process_limit_hit=e.process_limit_hit,
                   leftovers_killed=e.leftovers_killed, result=e.result, error=e.error, limits=record.job.limits,
                   backtest=record.extra)


def _limits(given: Limits | None, sandbox: Sandbox, ctx: Context) -> Limits:
    return capped(given, ctx.settings) if given is not None else sandbox.spec.limits


async def exec_command(params: ExecParams, ctx: Context) -> RunResult:
    svc = service_of(ctx.host)
    sandbox = svc.get(params.sandbox)
    job = Job(kind="command", argv=tuple(params.command), stdin=params.stdin,
              limits=_limits(params.limits, sandbox, ctx))
    return RunResult.of(sandbox, await svc.run(params.sandbox, job, params.run_id))


async def run_code(params: RunCodeParams, ctx: Context) -> RunResult:
    svc = service_of(ctx.host)
    sandbox = svc.get(params.sandbox)
    limits = _limits(params.limits, sandbox, ctx)
    if params.backtest is None:
        job = Job(kind="code", code=params.code, language=params.language, limits=limits)
        return RunResult.of(sandbox, await svc.run(params.sandbox, job, params.run_id))
    if params.language != "python":
        raise NtUserError("backtest: the strategy script must be python")
    from neural_trader_plugins.sandboxes import strategy_inside as backtest_inside

    prepared = await backtest_inside.bars_for(params.backtest, params.code, ctx)
    job = Job(kind="code", code=backtest_inside.code_for(params.code, prepared), limits=limits)

    async def report(execution: Execution) -> Any:
        return await anyio.to_thread.run_sync(backtest_inside.report_for, ctx.host, params, prepared, execution)

    return RunResult.of(sandbox, await svc.run(params.sandbox, job, params.run_id, after=report))


# -- sandbox.list / status / terminate -------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ListResult:
    sandboxes: list[SandboxView]


def list_sandboxes(params: Any, ctx: Context) -> ListResult:
    svc = service_of(ctx.host)
    return ListResult(sandboxes=[view(ctx, s) for _, s in sorted(svc.sandboxes.items())])


@attrs.frozen(kw_only=True)
class StatusParams:
    sandbox: str | None = name_field("a sandbox to show with its latest runs; default none (the providers only)",
                                     default=None)
    runs: int = param(default=5, ge=0, le=50,
                      description="how many of its latest runs to list")


@attrs.frozen(kw_only=True)
class ProviderInfo:
    name: str
    summary: str
    isolation: str = param(description="what isolates its sandboxes, in words")


@attrs.frozen(kw_only=True)
class StatusResult:
    """The isolation in force here, the providers, and a sandbox with its latest runs."""

    local_isolation: isolation.Isolation = param(description="what the local provider can enforce on this machine")
    providers: list[ProviderInfo]
    sandboxes: int = param(description="sandboxes held now")
    sandbox: SandboxView | None
    recent_runs: list[RunResult]


def status(params: StatusParams, ctx: Context) -> StatusResult:
    svc = service_of(ctx.host)
    providers = [ProviderInfo(name=p.name, summary=p.summary, isolation=p.isolation(ctx.host))
                 for p in ctx.host.registry("sandboxes")]
    chosen = svc.get(params.sandbox) if params.sandbox else None
    runs = [] if chosen is None or params.runs == 0 else [
        RunResult.of(chosen, r) for r in list(chosen.runs.values())[-params.runs:]]
    return StatusResult(local_isolation=isolation.probe(), providers=providers, sandboxes=len(svc.sandboxes),
                        sandbox=view(ctx, chosen) if chosen else None, recent_runs=runs)


@attrs.frozen(kw_only=True)
class TerminateParams:
    sandbox: str = name_field("the sandbox to end (its scratch files are deleted)")


@attrs.frozen(kw_only=True)
class TerminateResult:
    sandbox: str
    provider: str
    status: str
    runs: int = param(description="runs it had recorded")


async def terminate(params: TerminateParams, ctx: Context) -> TerminateResult:
    ended = await service_of(ctx.host).terminate(params.sandbox)
    return TerminateResult(sandbox=ended.spec.name, provider=ended.provider, status=ended.status, runs=len(ended.runs))
