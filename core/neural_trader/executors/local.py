"""In-process executors: serial (the reference) and threads.

Threads pay off because the heavy parts of a backtest (indicators, the simulation kernel, metrics)
are C or numpy calls that release the GIL; the tasks share the caller's arrays with no copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import attrs

from neural_trader.executors import ProgressFn, Shared, TaskFn, chunk_bounds, default_workers, run_chunk

__all__ = ["SerialExecutor", "ThreadExecutor"]


@attrs.frozen
class SerialExecutor:
    """One task after another in the calling thread: the reference every other executor matches."""

    name: str = "serial"
    summary: str = "one task after another in the calling thread (the reference)"
    install: str | None = None

    def unavailable_reason(self) -> str | None:
        return None

    def map(self, fn: TaskFn, shared: Shared, tasks: Sequence[Any], *, workers: int | None = None,
            progress: ProgressFn | None = None) -> list[Any]:
        out = []
        total = len(tasks)
        for i, task in enumerate(tasks):
            out.append(fn(shared, task))
            if progress is not None:
                progress(i + 1, total)
        return out


@attrs.frozen
class ThreadExecutor:
    """A thread pool in this process; fast when the task's work releases the GIL (our kernels do)."""

    name: str = "threads"
    summary: str = "a thread pool in this process; the data is shared, kernels release the GIL"
    install: str | None = None

    def unavailable_reason(self) -> str | None:
        return None

    def map(self, fn: TaskFn, shared: Shared, tasks: Sequence[Any], *, workers: int | None = None,
            progress: ProgressFn | None = None) -> list[Any]:
        n_workers = max(1, workers or default_workers())
        # A chunk costs a queue hand-off here, not a message: small chunks balance the tail best.
        bounds = chunk_bounds(len(tasks), n_workers, per_worker=32)
        results: list[list[Any] | None] = [None] * len(bounds)
        pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="nt-sweep")
        try:
            pending: dict[Future[list[Any]], int] = {
                pool.submit(run_chunk, fn, shared, list(tasks[lo:hi])): j for j, (lo, hi) in enumerate(bounds)}
            done_tasks = 0
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    j = pending.pop(future)
                    results[j] = future.result()
                    done_tasks += bounds[j][1] - bounds[j][0]
                if progress is not None:
                    progress(done_tasks, len(tasks))
        finally:
            # On an error or a cancellation, drop what has not started; running chunks finish.
            pool.shutdown(wait=True, cancel_futures=True)
        return [r for chunk in results for r in (chunk or [])]
