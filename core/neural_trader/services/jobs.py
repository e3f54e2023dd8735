"""In-process jobs: run an operation in the background, watch its progress, cancel it.

A network frontend submits ``(operation, raw params, identity)`` and gets a :class:`Job` back at once;
the operation runs on the frontend's event loop through the same ``op.call`` pipe as a direct call.
``ctx.progress(done, total, message)`` lands in :attr:`Job.progress`; cancelling sets the context's
:class:`~neural_trader.ops.CancelToken` (so the next ``ctx.progress`` raises) and cancels the task.

Jobs live in the process that started them. Retention is bounded: at most ``max_pending`` jobs wait or
run (more is :class:`NtRateLimited`), at most ``max_concurrent`` run at once, and finished jobs are
kept for ``ttl`` seconds and at most ``max_finished`` of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import math
import os
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import attrs

from neural_trader.errors import NtCancelled, NtForbidden, NtNotFound, NtRateLimited
from neural_trader.ops import CancelToken, Identity, Scope, error_payload

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Operation

__all__ = ["Job", "JobManager", "JobState"]

log = logging.getLogger("neural_trader.jobs")

#: Ids start with a per-process prefix, so a worker can tell "unknown" from "started elsewhere".
_PROCESS_PREFIX = f"{os.getpid() & 0xFFFF:04x}{secrets.token_hex(2)}"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@attrs.define(kw_only=True, eq=False)
class Job:
    """One background run of an operation. Mutated only by its :class:`JobManager`."""

    id: str
    operation: str
    owner: str
    request_id: str
    state: JobState = JobState.QUEUED
    created_at: dt.datetime = attrs.field(factory=_now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    progress: dict[str, Any] | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    cancel: CancelToken = attrs.field(factory=CancelToken, repr=False)
    task: asyncio.Task[None] | None = attrs.field(default=None, repr=False)
    finished_mono: float | None = attrs.field(default=None, repr=False)

    def _on_progress(self, done: float, total: float | None, message: str | None) -> None:
        # Called from the handler, possibly in a worker thread: one atomic attribute store.
        self.progress = {"done": done, "total": total, "message": message}

    def to_dict(self) -> dict[str, Any]:
        """The job as plain JSON (what ``GET /v1/jobs/{id}`` returns)."""
        return {
            "job_id": self.id,
            "operation": self.operation,
            "status": self.state.value,
            "cancel_requested": self.cancel.cancelled,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
        }


def owner_of(identity: Identity) -> str:
    return identity.key_id or identity.name


class JobManager:
    """Runs operations as jobs on the current event loop and remembers them for a while."""

    def __init__(
        self,
        host: Host,
        *,
        max_concurrent: int = 4,
        max_pending: int = 64,
        max_finished: int = 1000,
        ttl: float = 3600.0,
    ) -> None:
        if max_concurrent < 1 or max_pending < max_concurrent:
            raise ValueError("need max_concurrent >= 1 and max_pending >= max_concurrent")
        self.host = host
        self.max_concurrent = max_concurrent
        self.max_pending = max_pending
        self.max_finished = max_finished
        self.ttl = ttl
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._semaphore: asyncio.Semaphore | None = None

    # -- submitting ---------------------------------------------------------------------------
    def submit(self, op: Operation, raw: Any, *, identity: Identity, frontend: str = "rest",
               request_id: str | None = None) -> Job:
        """Check scope and parameters now (so those errors reach the caller at once), then start.

        Must be called on the event loop that is to run the job.
        """
        if not identity.allows(op.scope):
            raise NtForbidden(
                f"operation {op.name!r} needs scope '{op.scope.value}'; "
                f"the caller has {sorted(s.value for s in identity.scopes) or 'none'}"
            )
        op.parse(raw)  # NtValidationError now rather than a failed job later
        self._prune()
        active = sum(1 for j in self._jobs.values() if not j.state.finished)
        if active >= self.max_pending:
            raise NtRateLimited(
                f"{active} jobs are already queued or running (limit {self.max_pending}); "
                "wait for some to finish or cancel them", retry_after=5)
        job = Job(id=f"{_PROCESS_PREFIX}{secrets.token_hex(8)}", operation=op.name,
                  owner=owner_of(identity), request_id=request_id or secrets.token_hex(8))
        ctx = self.host.context(identity=identity, frontend=frontend, request_id=job.request_id,
                                cancel=job.cancel, on_progress=job._on_progress)
        self._jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job, op, raw, ctx),
                                                          name=f"nt-job-{job.id}")
        return job

    async def _run(self, job: Job, op: Operation, raw: Any, ctx: Any) -> None:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent)
        try:
            async with self._semaphore:
                job.cancel.raise_if_cancelled()
                job.state, job.started_at = JobState.RUNNING, _now()
                job.result = await op.call(raw, ctx)
                job.state = JobState.DONE
        except (asyncio.CancelledError, NtCancelled):
            # Our own task: cancellation is the job's outcome, not something to propagate.
            job.state = JobState.CANCELLED
            job.error = NtCancelled("the job was cancelled").to_dict()
        except Exception as exc:
            _, payload = error_payload(exc, job.request_id)
            job.state, job.error = JobState.FAILED, payload["error"]
        finally:
            job.finished_at, job.finished_mono, job.task = _now(), time.monotonic(), None

    # -- looking and cancelling ---------------------------------------------------------------
    def get(self, job_id: str, *, identity: Identity) -> Job:
        """The job, if it exists and the caller started it (or is an admin); else NtNotFound."""
        self._prune()
        job = self._jobs.get(job_id)
        if job is None or not (job.owner == owner_of(identity) or identity.allows(Scope.ADMIN)):
            if job is None and not job_id.startswith(_PROCESS_PREFIX) and len(job_id) == len(_PROCESS_PREFIX) + 16:
                raise NtNotFound(
                    f"no job {job_id!r} in this server process; jobs live in the process that started "
                    "them, so serve with one worker to use jobs (or the job finished long ago)")
            raise NtNotFound(f"no job {job_id!r} (finished jobs are kept for {self.ttl:g} s)")
        return job

    async def cancel(self, job_id: str, *, identity: Identity, grace: float = 2.0) -> Job:
        """Stop a job if it still runs (waiting up to ``grace`` seconds for it to), then forget it.

        The job is returned as it was last seen, so the caller learns how it ended; looking it up
        again finds nothing (``DELETE`` means gone). A handler in a worker thread may still be
        finishing its current step when this returns: its cancel token is set, and its next
        ``ctx.progress`` raises.
        """
        job = self.get(job_id, identity=identity)
        if not job.state.finished:
            job.cancel.cancel()
            task = job.task
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=grace)
        self._jobs.pop(job.id, None)
        return job

    def __len__(self) -> int:
        return len(self._jobs)

    async def aclose(self) -> None:
        """Cancel every unfinished job and wait for them (server shutdown)."""
        tasks = []
        for job in self._jobs.values():
            if job.task is not None:
                job.cancel.cancel()
                job.task.cancel()
                tasks.append(job.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _prune(self) -> None:
        cutoff = time.monotonic() - self.ttl
        finished = [j for j in self._jobs.values() if j.finished_mono is not None]
        excess = len(finished) - self.max_finished
        for i, job in enumerate(finished):  # oldest first: the dict keeps submission order
            if i < excess or (math.isfinite(self.ttl) and job.finished_mono < cutoff):  # type: ignore[operator]
                del self._jobs[job.id]
