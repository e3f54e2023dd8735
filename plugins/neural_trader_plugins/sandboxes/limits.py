"""The resource limits of a sandbox: every run is bounded in time, memory, processes, files and output.

The bounds of the fields are what any caller may ask for; the server's operator caps them lower
with ``NT_SANDBOXES_MAX_<FIELD>`` (``[plugins.sandboxes] max_<field>``), so a fuzzer or a stranger
cannot hold the server for long.
"""

from __future__ import annotations

from typing import Any

import attrs

from neural_trader.errors import NtUserError
from neural_trader.schema import param
from neural_trader.settings import plugin_env

__all__ = ["DEFAULT_CAPS", "Limits", "capped"]


@attrs.frozen(kw_only=True)
class Limits:
    """What one run inside a sandbox may use."""

    wall_s: float = param(default=10.0, gt=0, le=600, description="wall-clock seconds before the whole run is "
                                                                   "killed")
    cpu_s: int = param(default=10, ge=1, le=600, description="CPU seconds per process (RLIMIT_CPU)")
    memory_mb: int = param(default=512, ge=32, le=16_384, description="address space per process, MiB "
                                                                      "(RLIMIT_AS)")
    processes: int = param(default=32, ge=1, le=4096, description="processes and threads at once (pids cgroup, "
                                                                  "RLIMIT_NPROC)")
    file_size_mb: int = param(default=64, ge=1, le=16_384, description="largest file a run may write, MiB "
                                                                       "(RLIMIT_FSIZE)")
    open_files: int = param(default=64, ge=16, le=4096, description="open file descriptors per process "
                                                                    "(RLIMIT_NOFILE)")
    output_kb: int = param(default=256, ge=1, le=16_384, description="stdout and stderr kept, KiB each; the rest "
                                                                     "is counted and dropped (truncated: true)")
    tmp_mb: int = param(default=64, ge=1, le=4096, description="size of the private /tmp (bubblewrap only), MiB")


#: The server's caps unless configured otherwise: generous for a person, short for a fuzzer.
DEFAULT_CAPS: dict[str, float] = {"wall_s": 60, "cpu_s": 60, "memory_mb": 2048, "processes": 256,
                                  "file_size_mb": 512, "open_files": 1024, "output_kb": 4096, "tmp_mb": 512}


def capped(limits: Limits, settings: Any, *, path: str = "$.limits") -> Limits:
    """``limits`` if each field is within the server's cap, else :class:`NtUserError` naming it."""
    for field, default in DEFAULT_CAPS.items():
        configured = plugin_env(settings, "sandboxes", f"max_{field}")
        cap = float(configured) if configured else default
        value = getattr(limits, field)
        if value > cap:
            raise NtUserError(f"{path}.{field} is {value}, above this server's cap of {cap:g} "
                              f"(NT_SANDBOXES_MAX_{field.upper()}); ask for less")
    return limits
