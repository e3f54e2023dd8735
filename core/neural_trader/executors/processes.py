"""A pool of worker processes that read the sweep's arrays from one shared-memory block.

The arrays are copied once into a :class:`multiprocessing.shared_memory.SharedMemory` block; each
worker maps it when it starts (read-only numpy views, no copy) and receives only small task chunks
afterwards. Workers are replaced after about ``recycle_every`` tasks each: the sweep runs in
generations of ``recycle_every`` x workers tasks, one fresh pool each, so whatever a task leaks (a
cache, a fragmented heap) never accumulates; a new worker maps the same block again, nothing is
resent.

Workers start with ``forkserver`` on Linux (forking a process that runs threads is unsafe) and
``spawn`` elsewhere. The task function and the context are pickled once per worker start, so they
must be importable by name (module-level functions, strategy objects of importable classes).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.executors import ProgressFn, Shared, TaskFn, chunk_bounds, default_workers, run_chunk

__all__ = ["ProcessExecutor", "SharedBlock"]

_ALIGN = 64


@attrs.frozen
class _Slot:
    key: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    offset: int


class SharedBlock:
    """Numpy arrays laid out in one shared-memory block (64-byte aligned); the creator unlinks it."""

    def __init__(self, shm: shared_memory.SharedMemory, slots: tuple[_Slot, ...], owner: bool) -> None:
        self.shm = shm
        self.slots = slots
        self.owner = owner

    @classmethod
    def create(cls, arrays: Mapping[str, np.ndarray]) -> SharedBlock:
        slots, offset = [], 0
        for key, arr in arrays.items():
            a = np.asarray(arr)
            if a.dtype.hasobject:
                raise TypeError(f"shared array {key!r} holds Python objects; only plain numpy dtypes travel")
            slots.append(_Slot(key, a.dtype, a.shape, offset))
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
        shm = shared_memory.SharedMemory(create=True, size=max(offset, 1))
        block = cls(shm, tuple(slots), owner=True)
        for slot, arr in zip(block.slots, arrays.values(), strict=True):
            block._view(slot)[...] = arr
        return block

    @classmethod
    def attach(cls, name: str, slots: tuple[_Slot, ...]) -> SharedBlock:
        return cls(shared_memory.SharedMemory(name=name), slots, owner=False)

    @property
    def handle(self) -> tuple[str, tuple[_Slot, ...]]:
        """What a worker needs to map the block: its name and layout (a few hundred bytes)."""
        return self.shm.name, self.slots

    def _view(self, slot: _Slot) -> np.ndarray:
        return np.ndarray(slot.shape, dtype=slot.dtype, buffer=self.shm.buf, offset=slot.offset)

    def arrays(self) -> dict[str, np.ndarray]:
        """Read-only views of every array (valid while the block is open)."""
        out = {}
        for slot in self.slots:
            view = self._view(slot)
            view.flags.writeable = False
            out[slot.key] = view
        return out

    def close(self) -> None:
        self.shm.close()
        if self.owner:
            self.shm.unlink()


# -- the worker side ------------------------------------------------------------------------------
_worker: tuple[TaskFn, Shared, SharedBlock] | None = None


def _init_worker(fn: TaskFn, handle: tuple[str, tuple[_Slot, ...]], context: Any) -> None:
    global _worker
    block = SharedBlock.attach(*handle)
    _worker = (fn, Shared(arrays=block.arrays(), context=context), block)


def _run_in_worker(tasks: list[Any]) -> list[Any]:
    assert _worker is not None, "worker was not initialised"
    fn, shared, _block = _worker
    return run_chunk(fn, shared, tasks)


def _mp_context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["neural_trader.executors.processes"])
        return ctx
    return multiprocessing.get_context("spawn")


@attrs.frozen
class ProcessExecutor:
    """A process pool: arrays in shared memory (sent once), workers recycled every N tasks."""

    name: str = "processes"
    summary: str = "worker processes reading the data from shared memory; recycled every N tasks"
    install: str | None = None
    #: Replace a worker after it has run about this many tasks (memory stays flat).
    recycle_every: int = 256

    def unavailable_reason(self) -> str | None:
        return None

    def map(self, fn: TaskFn, shared: Shared, tasks: Sequence[Any], *, workers: int | None = None,
            progress: ProgressFn | None = None) -> list[Any]:
        if not tasks:
            return []
        n_workers = max(1, min(workers or default_workers(), len(tasks)))
        generation = n_workers * max(1, self.recycle_every)
        block = SharedBlock.create(shared.arrays)
        results: list[Any] = []
        try:
            # One pool per generation of about recycle_every tasks per worker: fresh workers map the
            # same block again. (concurrent.futures rather than multiprocessing.Pool: a worker that
            # cannot start breaks the pool with an error instead of being respawned forever; and its
            # own max_tasks_per_child can hang on Python 3.11.)
            for start in range(0, len(tasks), generation):
                part = tasks[start:start + generation]
                results += self._generation(fn, shared, block, part, n_workers,
                                            None if progress is None else _offset(progress, start, len(tasks)))
            return results
        finally:
            block.close()

    def _generation(self, fn: TaskFn, shared: Shared, block: SharedBlock, tasks: Sequence[Any], n_workers: int,
                    progress: ProgressFn | None) -> list[Any]:
        bounds = chunk_bounds(len(tasks), n_workers, max_chunk=max(1, self.recycle_every))
        pool = ProcessPoolExecutor(n_workers, mp_context=_mp_context(), initializer=_init_worker,
                                   initargs=(fn, block.handle, shared.context))
        try:
            futures = {pool.submit(_run_in_worker, list(tasks[lo:hi])): hi - lo for lo, hi in bounds}
            done = 0
            for future in as_completed(futures):
                future.result()  # a task's exception surfaces here, before the rest finish
                done += futures[future]
                if progress is not None:
                    progress(done, len(tasks))
            results = [r for future in futures for r in future.result()]
        except BrokenProcessPool as exc:
            _stop(pool)
            raise NtUserError(
                f"a worker process of the processes executor died ({exc}); the task function and the "
                "strategy must be importable by name in a fresh process (not defined in an interactive "
                "session or a script read from stdin). The threads executor has no such limit") from exc
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)
        return results


def _offset(progress: ProgressFn, start: int, total: int) -> ProgressFn:
    return lambda done, _total: progress(start + done, total)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop queued chunks and end the workers now (a cancelled sweep should not finish its chunks)."""
    pool.shutdown(wait=False, cancel_futures=True)
    # concurrent.futures has no public terminate before Python 3.14; its process table is stable.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.join(timeout=5)
