"""The ``local`` provider (the embedded default): a scratch directory on this machine, each run a process
under :mod:`.runner` (bubblewrap and rlimits, or rlimits only where bubblewrap is missing)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
import attrs

from neural_trader.errors import NtUserError
from neural_trader_plugins.sandboxes import isolation, runner
from neural_trader_plugins.sandboxes.providers import Execution, Job, SandboxSpec

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["LocalHandle", "LocalProvider", "sandboxes_dir"]


def sandboxes_dir(host: Host) -> Path:
    """``<data_dir>/sandboxes``: one folder per local sandbox (scratch and inputs)."""
    return Path(host.settings.data_dir) / "sandboxes"


@attrs.frozen(kw_only=True)
class LocalHandle:
    layout: runner.Layout
    mounts: tuple[Path, ...]
    env: dict[str, str]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class LocalProvider:
    name = "local"
    summary = "a process on this machine: bubblewrap namespaces (when installed) and rlimits, a scratch directory"

    def isolation(self, host: Host) -> str:
        found = isolation.probe()
        return f"{found.mode}: network {found.network}; processes {found.processes}"

    async def create(self, host: Host, spec: SandboxSpec) -> LocalHandle:
        return await anyio.to_thread.run_sync(self._create, host, spec)

    def _create(self, host: Host, spec: SandboxSpec) -> LocalHandle:
        root = sandboxes_dir(host) / spec.name
        if root.exists():
            shutil.rmtree(root)
        scratch, inputs = root / "scratch", root / "inputs"
        scratch.mkdir(parents=True)
        inputs.mkdir()
        for file in spec.files:
            (inputs / file.name).write_text(file.content)
        mounts = []
        for i, raw in enumerate(spec.mounts):
            source = Path(raw).expanduser().resolve()
            if not source.exists():
                raise NtUserError(f"mounts[{i}]: {raw} does not exist; name a file or folder to mount read-only")
            target = inputs / source.name
            if target.exists():
                raise NtUserError(f"mounts[{i}]: {source.name} is already an input; rename one of them")
            # An empty stand-in the read-only bind lands on (bubblewrap), or a copy (rlimits only).
            mounts.append(source)
            if isolation.probe().sandboxed:
                target.mkdir() if source.is_dir() else target.touch()
            elif source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        return LocalHandle(layout=runner.Layout(scratch=scratch, inputs=inputs), mounts=tuple(mounts),
                           env=dict(spec.env))

    async def run(self, host: Host, handle: LocalHandle, job: Job) -> Execution:
        return await anyio.to_thread.run_sync(self._run, handle, job)

    def _run(self, handle: LocalHandle, job: Job) -> Execution:
        found = isolation.probe()
        if job.kind == "code":
            if job.language != "python":
                raise NtUserError(f"language {job.language!r}: the local provider runs python; use sandbox.exec "
                                  "for a command")
            argv = [*runner.python_argv(found), "-c", job.code]
        else:
            argv = list(job.argv)
        outcome = runner.run(argv, layout=handle.layout, limits=job.limits, isolation=found, env=handle.env,
                             stdin=job.stdin.encode() if job.stdin is not None else None,
                             extra_binds=[(str(m), f"{runner.INSIDE_INPUTS}/{m.name}") for m in handle.mounts])
        return Execution(exit_code=outcome.exit_code, signal=outcome.signal, killed_by=outcome.killed_by,
                         stdout=_text(outcome.stdout), stderr=_text(outcome.stderr),
                         stdout_bytes=outcome.stdout_bytes, stderr_bytes=outcome.stderr_bytes,
                         stdout_truncated=outcome.stdout_bytes > len(outcome.stdout),
                         stderr_truncated=outcome.stderr_bytes > len(outcome.stderr), wall_s=outcome.wall_s,
                         cpu_s=outcome.cpu_s, max_rss_mb=outcome.max_rss_mb,
                         process_limit_hit=outcome.process_limit_hit, leftovers_killed=outcome.leftovers_killed)

    async def terminate(self, host: Host, handle: LocalHandle) -> None:
        root = handle.layout.scratch.parent
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(root, ignore_errors=True))
