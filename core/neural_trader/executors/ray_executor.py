"""Ray: sweeps on a Ray cluster (``NT_RAY_ADDRESS``) or on a local Ray started on demand.

The :class:`~neural_trader.executors.Shared` value goes into the object store once (``ray.put``);
every remote chunk receives a reference, so workers on one node map the same numpy buffers without
copying. Remote workers must be able to import ``neural_trader`` and the strategy's plugin (install
the same packages on the cluster, or pass a ``runtime_env`` when you start it).

A local Ray is started with ``num_cpus`` = the ``workers`` asked for (2 by default), with this
process's ``sys.path`` as its workers' code search path, and kept for the life of the process,
since starting one costs seconds.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import attrs

from neural_trader.errors import NtUnavailable
from neural_trader.executors import ProgressFn, Shared, TaskFn, chunk_bounds, run_chunk

__all__ = ["INSTALL", "RayExecutor", "ray_available"]

INSTALL = "pip install 'neural-trader[ray]'"
#: CPUs of a local Ray started by this module when the caller does not say.
LOCAL_NUM_CPUS = 2

_init_lock = threading.Lock()
_remote_chunk: Any = None


def ray_available() -> bool:
    """Whether the ``ray`` package is installed (without importing it: that takes a second)."""
    return importlib.util.find_spec("ray") is not None


def _ray(num_cpus: int) -> Any:
    """The ``ray`` module, connected: to ``NT_RAY_ADDRESS`` if set, else to a local Ray."""
    global _remote_chunk
    if not ray_available():
        raise NtUnavailable(f"ray is not installed; {INSTALL}")
    import ray

    with _init_lock:
        if not ray.is_initialized():
            address = os.environ.get("NT_RAY_ADDRESS") or None
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    # Workers of a local Ray see what this process sees, as threads and processes do.
                    from ray.job_config import JobConfig

                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                             job_config=JobConfig(code_search_path=[p for p in sys.path if p]))
            except Exception as exc:
                where = address or "a local Ray"
                raise NtUnavailable(f"cannot start or reach {where}: {exc}") from exc
            _remote_chunk = None  # a remote function belongs to the Ray session it was made in
        if _remote_chunk is None:
            _remote_chunk = ray.remote(num_cpus=1)(run_chunk)
    return ray


@attrs.frozen
class RayExecutor:
    """Tasks as Ray remote calls; the data goes to the object store once."""

    name: str = "ray"
    summary: str = "a Ray cluster (NT_RAY_ADDRESS) or a local Ray; data sent once via the object store"
    install: str | None = INSTALL

    def unavailable_reason(self) -> str | None:
        return None if ray_available() else "the ray package is not installed"

    def map(self, fn: TaskFn, shared: Shared, tasks: Sequence[Any], *, workers: int | None = None,
            progress: ProgressFn | None = None) -> list[Any]:
        if not tasks:
            return []
        ray = _ray(workers or LOCAL_NUM_CPUS)
        parallel = workers or max(1, int(ray.available_resources().get("CPU", LOCAL_NUM_CPUS)))
        bounds = chunk_bounds(len(tasks), parallel)
        shared_ref = ray.put(shared)
        fn_ref = ray.put(fn)
        refs = [_remote_chunk.remote(fn_ref, shared_ref, list(tasks[lo:hi])) for lo, hi in bounds]
        index = {ref: j for j, ref in enumerate(refs)}
        results: list[list[Any] | None] = [None] * len(refs)
        pending = list(refs)
        done_tasks = 0
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    j = index[ref]
                    results[j] = ray.get(ref)
                    done_tasks += bounds[j][1] - bounds[j][0]
                if progress is not None:
                    progress(done_tasks, len(tasks))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return [r for chunk in results for r in (chunk or [])]
