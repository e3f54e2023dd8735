"""The contract of a sandbox provider (what ``nt_register_sandboxes`` takes) and the values it trades in.

A provider has a ``name``, a ``summary``, and three coroutines: ``create`` a sandbox from a
:class:`SandboxSpec` (returning the provider's own handle), ``run`` a :class:`Job` in it (returning an
:class:`Execution`), ``terminate`` it. ``isolation(host)`` says in words what isolation is in force.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

from neural_trader.schema import param
from neural_trader_plugins.sandboxes.limits import Limits

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["Execution", "InputFile", "Job", "Provider", "SandboxSpec"]

#: An input's file name: plain, no directories.
FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"


@attrs.frozen(kw_only=True)
class InputFile:
    """A file given with the request, mounted read-only under the inputs directory."""

    name: str = param(pattern=FILE_NAME, pattern_hint="a plain file name such as data.csv",
                      description="file name under the inputs directory (SANDBOX_INPUTS)")
    content: str = param(max_len=1_000_000, description="the file's text (1 MB at most)")


@attrs.frozen(kw_only=True)
class SandboxSpec:
    """Everything a provider needs to create one sandbox."""

    name: str
    limits: Limits
    files: tuple[InputFile, ...] = ()
    mounts: tuple[str, ...] = ()
    env: dict[str, str] = attrs.field(factory=dict)
    template: str | None = None


@attrs.frozen(kw_only=True)
class Job:
    """One thing to run: a command (argv) or code in a language."""

    kind: Literal["command", "code"]
    argv: tuple[str, ...] = ()
    code: str = ""
    language: str = "python"
    stdin: str | None = None
    limits: Limits


@attrs.frozen(kw_only=True)
class Execution:
    """What a provider reports of one run."""

    exit_code: int | None
    signal: str | None = None
    killed_by: str | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_s: float
    cpu_s: float | None = None
    max_rss_mb: float | None = None
    process_limit_hit: bool = False
    leftovers_killed: int = 0
    result: str | None = None
    error: str | None = None


@runtime_checkable
class Provider(Protocol):
    name: str
    summary: str

    def isolation(self, host: Host) -> str: ...

    async def create(self, host: Host, spec: SandboxSpec) -> Any: ...

    async def run(self, host: Host, handle: Any, job: Job) -> Execution: ...

    async def terminate(self, host: Host, handle: Any) -> None: ...
