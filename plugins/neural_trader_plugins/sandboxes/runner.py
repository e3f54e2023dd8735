"""Run one process inside a local sandbox: bubblewrap (when there) around rlimits, a pids cgroup (when
writable), a wall-clock timeout that kills everything the run started, and bounded output capture.

The environment is built from nothing (an allow-list), so no variable of the server (``NT_*``, API
keys, tokens) reaches the code. Blocking: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from neural_trader.errors import NtUserError
from neural_trader_plugins.sandboxes.isolation import Isolation, PidsCgroup, system_binds
from neural_trader_plugins.sandboxes.limits import Limits

__all__ = ["INSIDE_INPUTS", "INSIDE_SCRATCH", "Layout", "Outcome", "check_env", "python_argv", "run"]

#: Where the scratch directory and the inputs appear to the code under bubblewrap.
INSIDE_SCRATCH = "/sandbox"
INSIDE_INPUTS = "/inputs"
_MIB = 1 << 20
#: Variable names never passed into a sandbox, even when a caller asks.
SECRET_NAME = re.compile(r"^(NT_.*|.*_(KEY|SECRET|TOKEN|PASSWORD)|.*(KEY|SECRET|TOKEN|PASSWORD))$", re.IGNORECASE)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@attrs.frozen(kw_only=True)
class Layout:
    """The host directories of one sandbox: scratch (read-write) and inputs (read-only)."""

    scratch: Path
    inputs: Path

    def inside(self, isolation: Isolation) -> tuple[str, str]:
        """(scratch, inputs) as the code sees them."""
        if isolation.sandboxed:
            return INSIDE_SCRATCH, INSIDE_INPUTS
        return str(self.scratch), str(self.inputs)


@attrs.frozen(kw_only=True)
class Outcome:
    """How one process ended and what it printed."""

    exit_code: int | None
    signal: str | None
    killed_by: str | None
    stdout: bytes
    stderr: bytes
    stdout_bytes: int
    stderr_bytes: int
    wall_s: float
    #: CPU seconds and peak memory of the processes the server reaps itself: null under bubblewrap,
    #: whose namespace reaps the code's processes out of the server's sight.
    cpu_s: float | None
    max_rss_mb: float | None
    process_limit_hit: bool
    leftovers_killed: int


def check_env(env: Mapping[str, str]) -> None:
    """Refuse variables that look like secrets or that are not plain names."""
    for name in env:
        if not ENV_NAME.match(name):
            raise NtUserError(f"env name {name!r} is not a variable name (letters, digits, _; 64 at most)")
        if SECRET_NAME.match(name):
            raise NtUserError(f"env {name!r} looks like a secret (NT_*, *_KEY, *_SECRET, *_TOKEN, *_PASSWORD): "
                              "secrets are never passed into a sandbox; give the code what it needs as an input")


def _python_runtime() -> tuple[str, list[str], str]:
    """(the interpreter, directories to bind read-only, PYTHONPATH) for code under bubblewrap: the
    base installation and this environment's site-packages (numpy, pandas...), at their own paths."""
    base = Path(sys.base_prefix)
    executable = base / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not executable.exists():
        executable = Path(sys.executable).resolve()
    site = sysconfig.get_paths()["purelib"]
    binds = [str(base)] if not str(base).startswith("/usr") else []
    if not site.startswith(str(base)):
        binds.append(site)
    return str(executable), binds, site


def python_argv(isolation: Isolation) -> list[str]:
    """How to start Python inside a sandbox (no bytecode writes)."""
    if isolation.sandboxed:
        return [_python_runtime()[0], "-B"]
    return [sys.executable, "-B"]


def _env(layout: Layout, isolation: Isolation, extra: Mapping[str, str]) -> dict[str, str]:
    scratch, inputs = layout.inside(isolation)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": scratch, "TMPDIR": "/tmp" if isolation.sandboxed
           else str(layout.scratch), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "SANDBOX_SCRATCH": scratch, "SANDBOX_INPUTS": inputs}
    if isolation.sandboxed:
        env["PYTHONPATH"] = _python_runtime()[2]
    env.update(extra)
    return env


def bwrap_argv(bwrap: str, layout: Layout, limits: Limits, env: Mapping[str, str], argv: Sequence[str],
               extra_binds: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The bubblewrap command line: every namespace, a read-only system, scratch and inputs, no host env."""
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
            "--hostname", "sandbox", *system_binds()]
    for path in _python_runtime()[1]:
        args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_mb * _MIB), "--tmpfs", "/tmp",
             "--bind", str(layout.scratch), INSIDE_SCRATCH, "--ro-bind", str(layout.inputs), INSIDE_INPUTS,
             "--chdir", INSIDE_SCRATCH, "--clearenv"]
    for source, target in extra_binds:
        args += ["--ro-bind", source, target]
    args += ["--remount-ro", "/"]  # bubblewrap's own root (a tmpfs) too: nothing but scratch and /tmp is writable
    for name, value in env.items():
        args += ["--setenv", name, value]
    return [*args, "--", *argv]


def _preexec(limits: Limits, cgroup: PidsCgroup | None) -> Callable[[], None]:
    procs = str(cgroup.path / "cgroup.procs") if cgroup else None

    def apply() -> None:
        if procs is not None:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * _MIB,) * 2)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * _MIB,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class _Capture(threading.Thread):
    """Reads a pipe to the end: keeps the first ``cap`` bytes, counts the rest."""

    def __init__(self, pipe: object, cap: int) -> None:
        super().__init__(daemon=True)
        self.pipe, self.cap = pipe, cap
        self.kept = bytearray()
        self.total = 0

    def run(self) -> None:
        fd = self.pipe.fileno()  # type: ignore[attr-defined]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.total += len(chunk)
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run(argv: Sequence[str], *, layout: Layout, limits: Limits, isolation: Isolation,
        env: Mapping[str, str] | None = None, stdin: bytes | None = None,
        extra_binds: Sequence[tuple[str, str]] = ()) -> Outcome:
    """Run ``argv`` in the sandbox ``layout`` under ``limits``; never raises for what the code does."""
    inner_env = _env(layout, isolation, env or {})
    if isolation.bwrap:
        command = bwrap_argv(isolation.bwrap, layout, limits, inner_env, argv, extra_binds)
        popen_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        cwd = str(layout.scratch)
    else:
        command, popen_env, cwd = list(argv), inner_env, str(layout.scratch)
    # The run's own process, and under bubblewrap bwrap's own two, do not count against the limit.
    own = 3 if isolation.bwrap else 1
    cgroup = PidsCgroup.create(limits.processes + own) if isolation.cgroup else None
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=popen_env,
                                preexec_fn=_preexec(limits, cgroup), start_new_session=True)
    except OSError as exc:
        if cgroup:
            cgroup.sweep()
        raise NtUserError(f"could not start {argv[0]!r}: {exc.strerror or exc}") from None
    out, err = _Capture(proc.stdout, limits.output_kb * 1024), _Capture(proc.stderr, limits.output_kb * 1024)
    out.start()
    err.start()
    if stdin is not None and proc.stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(proc.pid)
        if cgroup:
            cgroup.sweep()

    timer = threading.Timer(limits.wall_s, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # what the run left behind in its process group (without bubblewrap)
    limit_hit = cgroup.hit_limit() if cgroup else False
    leftovers = cgroup.sweep() if cgroup else 0
    for reader in (out, err):
        reader.join(timeout=2)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    cpu = usage.ru_utime + usage.ru_stime
    code, sig = _status(proc.returncode, isolation)
    # SIGXCPU comes only from RLIMIT_CPU's soft limit (its hard limit, a second later, is a SIGKILL).
    killed_by = "wall_time" if timed_out.is_set() else "cpu_time" if sig == "SIGXCPU" or (
        sig == "SIGKILL" and not isolation.bwrap and cpu >= limits.cpu_s - 0.5) else None
    accounted = not isolation.bwrap
    return Outcome(exit_code=code, signal=sig, killed_by=killed_by, stdout=bytes(out.kept), stderr=bytes(err.kept),
                   stdout_bytes=out.total, stderr_bytes=err.total, wall_s=round(wall, 3),
                   cpu_s=round(cpu, 3) if accounted else None,
                   max_rss_mb=round(usage.ru_maxrss / 1024, 1) if accounted else None, process_limit_hit=limit_hit,
                   leftovers_killed=leftovers)


def _feed(pipe: object, data: bytes) -> None:
    try:
        pipe.write(data)  # type: ignore[attr-defined]
        pipe.close()  # type: ignore[attr-defined]
    except OSError:
        pass


def _status(returncode: int, isolation: Isolation) -> tuple[int | None, str | None]:
    """(exit code, signal name): bubblewrap reports a child killed by a signal as 128 + the signal."""
    if returncode < 0:
        return None, signal.Signals(-returncode).name
    if isolation.bwrap and returncode > 128 and returncode - 128 in signal.Signals._value2member_map_:
        return None, signal.Signals(returncode - 128).name
    return returncode, None
