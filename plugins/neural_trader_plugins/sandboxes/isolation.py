"""What this machine offers to isolate a local sandbox, found once per process and said in words.

Three layers, each reported (``sandbox.status``, the docs' isolation table):

* **bubblewrap** (``bwrap``): namespaces (no network, own pids, private ``/tmp``), a root made of
  read-only system directories, the scratch directory the only writable place, declared inputs
  read-only, nothing else of the host (no repository, no ``/root``, no ``/etc``);
* **a pids cgroup** (``pids.max``): the only limit that holds a fork bomb when the server runs as
  root (``RLIMIT_NPROC`` counts per user and root is exempt), and the way every process a run left
  behind is found and killed;
* **rlimits** (CPU time, address space, processes, file size, open files): always.

``NT_SANDBOXES_BWRAP=0`` turns bubblewrap off (rlimits only, as on a machine without it);
``NT_SANDBOXES_CGROUP=0`` the cgroup.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import attrs

from neural_trader.schema import param

__all__ = ["Isolation", "PidsCgroup", "probe", "system_binds"]

_OFF = ("0", "false", "no", "off")


@attrs.frozen(kw_only=True)
class Isolation:
    """The isolation a local sandbox gets on this machine."""

    mode: str = param(description="bubblewrap (namespaces + rlimits) or rlimits (resource limits only: the code "
                                  "can read what the server's user can read and reach the network)")
    bwrap: str | None = param(description="the bubblewrap executable in use, or null")
    network: str = param(description="what the code can reach: none (own network namespace) or host")
    filesystem: str = param(description="what the code sees of the host's files")
    processes: str = param(description="what holds the number of processes (a fork bomb)")
    cgroup: bool = param(description="a pids cgroup bounds and sweeps each run's processes")
    notes: list[str] = param(description="why a layer is missing and what to install or set")

    @property
    def sandboxed(self) -> bool:
        return self.bwrap is not None


def _off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _OFF


def system_binds() -> list[str]:
    """bubblewrap arguments for the read-only system: ``/usr`` and the top-level links into it."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


@functools.cache
def _working_bwrap(path: str | None) -> tuple[str | None, str | None]:
    """``(path, None)`` when ``bwrap`` runs here with every namespace, else ``(None, why)``."""
    found = path or shutil.which("bwrap")
    if not found:
        return None, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        done = subprocess.run([found, "--unshare-all", "--die-with-parent", *system_binds(), "--proc", "/proc",
                               "--dev", "/dev", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bubblewrap at {found} does not run: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip()[:200]
        return None, f"bubblewrap at {found} cannot create namespaces here ({why}); run the server where user " \
                     "namespaces are allowed, or as root"
    return found, None


class PidsCgroup:
    """A pids cgroup for one run: ``pids.max`` bounds its processes; :meth:`sweep` kills what is left.

    cgroup v1 (``/sys/fs/cgroup/pids``) or v2 (a child of this process's own cgroup, when the pids
    controller is delegated there)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def parent() -> Path | None:
        v1 = Path("/sys/fs/cgroup/pids")
        if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
            return v1
        try:
            own = next(line.split("::", 1)[1] for line in Path("/proc/self/cgroup").read_text().splitlines()
                       if line.startswith("0::"))
        except (OSError, StopIteration):
            return None
        v2 = Path("/sys/fs/cgroup") / own.lstrip("/")
        controllers = v2 / "cgroup.subtree_control"
        try:
            if "pids" in controllers.read_text().split() and os.access(v2, os.W_OK):
                return v2
        except OSError:
            return None
        return None

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        parent = cls.parent()
        if parent is None:
            return None
        path = parent / f"neural-trader-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def procs_fd(self) -> int:
        """An fd of ``cgroup.procs``, opened before the fork so the child only writes its pid to it."""
        return os.open(self.path / "cgroup.procs", os.O_WRONLY)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def hit_limit(self) -> bool:
        """Whether a fork was refused because of ``pids.max``."""
        try:
            events = (self.path / "pids.events").read_text().split()
        except OSError:
            return False
        return len(events) >= 2 and events[0] == "max" and int(events[1]) > 0

    def sweep(self) -> int:
        """Kill every process still in the cgroup and remove it; returns how many were killed."""
        import signal
        import time

        killed = 0
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        with contextlib.suppress(OSError):
            self.path.rmdir()
        return killed


@functools.cache
def _cgroup_available() -> bool:
    probe_group = PidsCgroup.create(8)
    if probe_group is None:
        return False
    probe_group.sweep()
    return True


def cgroup_enabled() -> bool:
    return not _off("NT_SANDBOXES_CGROUP") and _cgroup_available()


def probe() -> Isolation:
    """The isolation in force now (bubblewrap found and working, a writable pids cgroup, the user)."""
    notes: list[str] = []
    bwrap, why = (None, "bubblewrap is off (NT_SANDBOXES_BWRAP=0)") if _off("NT_SANDBOXES_BWRAP") else \
        _working_bwrap(os.environ.get("NT_SANDBOXES_BWRAP_PATH") or None)
    if why:
        notes.append(why + ": code runs with rlimits only, sees the host's files as the server's user does and "
                           "can reach the network")
    cgroup = cgroup_enabled()
    root = os.geteuid() == 0
    if cgroup:
        processes = "pids cgroup (pids.max) and RLIMIT_NPROC"
    elif root:
        processes = "not bounded: the server runs as root (exempt from RLIMIT_NPROC) and no pids cgroup is writable"
        notes.append("fork bombs are not contained: give the server a writable pids cgroup "
                     "(/sys/fs/cgroup/pids) or run it as an unprivileged user")
    else:
        processes = "RLIMIT_NPROC (counts every process of the server's user)"
    if bwrap:
        network, filesystem = "none (own network namespace)", (
            "read-only /usr and Python runtime, the scratch directory (/sandbox) writable, declared inputs "
            "read-only under /inputs, a private /tmp; nothing else of the host")
    else:
        network, filesystem = "host (no namespace: not isolated)", (
            "everything the server's user can read; the scratch directory is the working directory")
    return Isolation(mode="bubblewrap" if bwrap else "rlimits", bwrap=bwrap, network=network,
                     filesystem=filesystem, processes=processes, cgroup=cgroup, notes=notes)
