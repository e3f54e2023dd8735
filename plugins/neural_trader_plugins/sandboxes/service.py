"""The sandboxes of one host: created by name, their runs kept by run id, all ended with the host.

A sandbox is a live resource of the machine that made it (a scratch folder and processes here, or a
microVM at E2B), so the registry lives in the server's memory, not in the database: replicas behind a
load balancer each have their own (docs/sandboxes.md). Creating is idempotent by name (the same
request returns the sandbox that exists; another request under that name is a conflict), and a run
with a ``run_id`` is idempotent the same way, so a client that retries sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import attrs

from neural_trader.errors import NtConflict, NtLimitExceeded, NtNotFound, NtUserError
from neural_trader.settings import plugin_env
from neural_trader_plugins.sandboxes.providers import Execution, Job, Provider, SandboxSpec

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["RunRecord", "Sandbox", "SandboxService", "service_of"]

#: Sandboxes one host holds at once unless ``NT_SANDBOXES_MAX_SANDBOXES`` says otherwise.
DEFAULT_MAX_SANDBOXES = 32
#: Runs remembered per sandbox (the oldest are forgotten first).
MAX_RUNS_KEPT = 200


@attrs.frozen(kw_only=True)
class RunRecord:
    run_id: str
    job: Job
    execution: Execution
    extra: Any = None


@attrs.define(kw_only=True)
class Sandbox:
    spec: SandboxSpec
    provider: str
    handle: Any
    created_at: dt.datetime
    status: str = "running"
    runs: OrderedDict[str, RunRecord] = attrs.field(factory=OrderedDict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


class SandboxService:
    def __init__(self, host: Host) -> None:
        self._host = weakref.ref(host)
        self._lock = threading.Lock()
        self.sandboxes: dict[str, Sandbox] = {}
        #: Sandboxes ended lately, so ending one again answers the same (idempotent) instead of 404.
        self.terminated: OrderedDict[str, Sandbox] = OrderedDict()

    @property
    def host(self) -> Host:
        host = self._host()
        if host is None:
            raise RuntimeError("the host of these sandboxes is gone")
        return host

    def provider(self, name: str) -> Provider:
        provider: Provider = self.host.registry("sandboxes").get(name)
        return provider

    def get(self, name: str) -> Sandbox:
        found = self.sandboxes.get(name)
        if found is None:
            known = ", ".join(sorted(self.sandboxes)) or "none yet (sandbox.create makes one)"
            raise NtNotFound(f"no sandbox named {name!r}; sandboxes: {known}")
        return found

    def _max(self) -> int:
        value = plugin_env(self.host.settings, "sandboxes", "max_sandboxes")
        return int(value) if value else DEFAULT_MAX_SANDBOXES

    async def create(self, spec: SandboxSpec, provider_name: str) -> Sandbox:
        provider = self.provider(provider_name)
        with self._lock:
            existing = self.sandboxes.get(spec.name)
            if existing is not None:
                if existing.spec == spec and existing.provider == provider_name:
                    return existing
                raise NtConflict(f"sandbox {spec.name!r} exists with other settings; terminate it first or pick "
                                 "another name")
            if len(self.sandboxes) >= self._max():
                raise NtLimitExceeded(f"this server holds {self._max()} sandboxes at most "
                                      "(NT_SANDBOXES_MAX_SANDBOXES); terminate one first")
            placeholder = Sandbox(spec=spec, provider=provider_name, handle=None,
                                  created_at=dt.datetime.now(dt.UTC).replace(microsecond=0), status="creating")
            self.sandboxes[spec.name] = placeholder
        try:
            placeholder.handle = await provider.create(self.host, spec)
        except BaseException:
            with self._lock:
                self.sandboxes.pop(spec.name, None)
            raise
        placeholder.status = "running"
        return placeholder

    async def run(self, name: str, job: Job, run_id: str | None,
                  after: Any = None) -> RunRecord:
        """Run ``job`` in sandbox ``name`` (``after(execution)`` computes the record's ``extra``)."""
        sandbox = self.get(name)
        if sandbox.status != "running":
            raise NtUserError(f"sandbox {name!r} is {sandbox.status}; create it again")
        if run_id is not None:
            with sandbox.lock:
                found = sandbox.runs.get(run_id)
            if found is not None:
                if found.job != job:
                    raise NtConflict(f"run_id {run_id!r} of sandbox {name!r} ran another job; use a new run_id")
                return found
        execution = await self.provider(sandbox.provider).run(self.host, sandbox.handle, job)
        extra = await after(execution) if after is not None else None
        record = RunRecord(run_id=run_id or uuid.uuid4().hex[:16], job=job, execution=execution, extra=extra)
        with sandbox.lock:
            sandbox.runs[record.run_id] = record
            while len(sandbox.runs) > MAX_RUNS_KEPT:
                sandbox.runs.popitem(last=False)
        return record

    async def terminate(self, name: str) -> Sandbox:
        if name not in self.sandboxes and name in self.terminated:
            return self.terminated[name]
        sandbox = self.get(name)
        await self.provider(sandbox.provider).terminate(self.host, sandbox.handle)
        sandbox.status = "terminated"
        with self._lock:
            self.sandboxes.pop(name, None)
            self.terminated[name] = sandbox
            while len(self.terminated) > MAX_RUNS_KEPT:
                self.terminated.popitem(last=False)
        return sandbox

    def close(self) -> None:
        """End every sandbox (the host is shutting down)."""
        import anyio

        for name in list(self.sandboxes):
            try:
                anyio.run(self.terminate, name)
            except Exception:  # a provider that cannot be reached must not stop the shutdown
                self.sandboxes.pop(name, None)


_SERVICES: weakref.WeakKeyDictionary[Any, SandboxService] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def service_of(host: Host) -> SandboxService:
    with _SERVICES_LOCK:
        found = _SERVICES.get(host)
        if found is None:
            found = _SERVICES[host] = SandboxService(host)
        return found


def close_for(host: Host) -> None:
    with _SERVICES_LOCK:
        found = _SERVICES.pop(host, None)
    if found is not None:
        found.close()
