"""Executors: where the tasks of a sweep run (serial, threads, processes, Ray).

A sweep is one pure function applied to many small tasks that all read the same large data. An
executor gets the function, a :class:`Shared` value holding that data (numpy arrays, sent to the
workers **once**: shared memory for processes, the object store for Ray) plus a small picklable
context, and the tasks; it returns the results in task order. Because every executor runs the same
function on the same bytes, a sweep gives identical results on each of them.

Plugins contribute executors through ``nt_register_executors``; :func:`get_executor` finds one by
name, and when the name belongs to a plugin that could not load (Ray not installed) it says so,
with the install command.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import numpy as np

from neural_trader.errors import NtNotFound

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = [
    "Executor",
    "ProgressFn",
    "Shared",
    "TaskFn",
    "chunk_bounds",
    "default_workers",
    "get_executor",
    "run_chunk",
]

@attrs.frozen(kw_only=True, eq=False)
class Shared:
    """What every task of a sweep reads: large numpy ``arrays`` (moved to workers once, read-only
    there) and a small picklable ``context`` (the strategy, the configuration...)."""

    arrays: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    context: Any = None

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays.values())


#: ``fn(shared, task) -> result``: a module-level function (processes and Ray pickle it by name).
TaskFn = Callable[[Shared, Any], Any]
#: ``progress(done, total)``, called in the caller's thread; it may raise to cancel the sweep.
ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(shared, task)`` for every task; results come back in task order."""

    name: str
    summary: str
    #: The command that makes an unavailable executor available, or None.
    install: str | None

    def unavailable_reason(self) -> str | None:
        """Why this executor cannot run here (a missing package...), or None when it can."""
        ...

    def map(self, fn: TaskFn, shared: Shared, tasks: Sequence[Any], *, workers: int | None = None,
            progress: ProgressFn | None = None) -> list[Any]:
        """``[fn(shared, t) for t in tasks]``, possibly in parallel. ``workers`` caps the parallelism
        (None: the executor's default). If ``progress`` raises, pending work is dropped and the
        exception propagates."""
        ...


def default_workers() -> int:
    """CPUs this process may use (the affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def run_chunk(fn: TaskFn, shared: Shared, tasks: Sequence[Any]) -> list[Any]:
    """Run ``fn`` over a chunk of tasks, in order (the unit of work every executor ships)."""
    return [fn(shared, task) for task in tasks]


def chunk_bounds(n_tasks: int, workers: int, *, per_worker: int = 8, max_chunk: int = 256) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` slices of the task list: about ``per_worker`` chunks per worker, so
    that the last chunks leave little idle time, progress moves, and there is not one message per
    task."""
    if n_tasks <= 0:
        return []
    size = max(1, min(max_chunk, math.ceil(n_tasks / (max(1, workers) * per_worker))))
    return [(lo, min(n_tasks, lo + size)) for lo in range(0, n_tasks, size)]


def get_executor(host: Host, name: str) -> Executor:
    """The executor registered as ``name``, checked to be usable here.

    :raises NtNotFound: no such executor; the message lists the registered ones and any executor
        plugin that is unavailable, with its install command.
    :raises NtUnavailable: the executor is registered but cannot run (its reason and install command).
    """
    from neural_trader.errors import NtUnavailable

    registry = host.registry("executors")
    if name not in registry:
        hints = [f"{info.name} ({info.reason}; {info.install})" if info.install else f"{info.name} ({info.reason})"
                 for info in host.plugin_infos.values()
                 if info.status == "unavailable" and name in info.name]
        extra = f"; unavailable: {', '.join(hints)}" if hints else ""
        raise NtNotFound(f"no executor named {name!r}; available: {', '.join(registry.names()) or 'none'}{extra}")
    executor: Executor = registry.get(name)
    reason = executor.unavailable_reason()
    if reason is not None:
        install = f"; {executor.install}" if executor.install else ""
        raise NtUnavailable(f"executor {name!r} is unavailable: {reason}{install}")
    return executor
