"""The ``e2b`` provider: cloud sandboxes from E2B (https://e2b.dev), spoken to over httpx.

Why not the ``e2b`` SDK: its commands go through envd's Connect RPC (protobuf streams), and running
code belongs to ``e2b-code-interpreter``, another package; the wire format both end in is small and
recorded (tests/fixtures/e2b/), so the provider speaks it directly:

* create: ``POST {api}/v2/sandboxes`` with ``X-API-KEY`` and ``{templateID, timeout, metadata, envVars}``
  -> 201 ``{sandboxID, envdAccessToken, domain, ...}``; errors are ``{code, message}``;
* run: ``POST https://49999-{sandboxID}.{domain}/execute`` with ``X-Access-Token`` and ``{code,
  context_id, language, env_vars}`` -> newline-delimited JSON events (``stdout``, ``stderr``,
  ``result``, ``error``, ``end_of_execution``); a command runs as ``language: bash``;
* kill: ``DELETE {api}/sandboxes/{sandboxID}`` -> 204 (404: already gone).

Configuration (the SDK's variable names): ``E2B_API_KEY`` (required; never logged or returned),
``E2B_DOMAIN`` (default ``e2b.app``), ``E2B_API_URL`` (default ``https://api.<domain>``),
``E2B_SANDBOX_URL`` (one base URL for every sandbox's ``/execute``, the sandbox named by the
``E2b-Sandbox-Id`` header: a proxy, or the tests' stand-in), ``E2B_TEMPLATE`` (default
``code-interpreter-v1``). Each may also be ``[plugins.sandboxes] e2b_<name>``.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from neural_trader.errors import NtNotFound, NtRateLimited, NtUnavailable, NtUserError
from neural_trader.settings import plugin_env
from neural_trader_plugins.sandboxes.providers import Execution, Job, SandboxSpec

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["E2BConfig", "E2BHandle", "E2BProvider"]

EXECUTE_PORT = 49999
DEFAULT_TEMPLATE = "code-interpreter-v1"
#: Seconds a sandbox lives at E2B without a kill (E2B ends it then).
SANDBOX_LIFETIME_S = 600


@attrs.frozen(kw_only=True)
class E2BConfig:
    api_key: str | None = attrs.field(repr=False)
    domain: str
    api_url: str
    sandbox_url: str | None
    template: str

    @classmethod
    def of(cls, host: Host) -> E2BConfig:
        def get(name: str, default: str | None = None) -> str | None:
            return os.environ.get(f"E2B_{name.upper()}") or plugin_env(host.settings, "sandboxes",
                                                                        f"e2b_{name}") or default

        domain = get("domain", "e2b.app") or "e2b.app"
        return cls(api_key=get("api_key"), domain=domain, api_url=(get("api_url") or f"https://api.{domain}")
                   .rstrip("/"), sandbox_url=(get("sandbox_url") or None), template=get("template") or
                   DEFAULT_TEMPLATE)

    def key(self) -> str:
        if not self.api_key:
            raise NtUnavailable("the e2b provider needs an API key: set E2B_API_KEY (https://e2b.dev/dashboard); "
                                "the local provider needs none")
        return self.api_key


@attrs.frozen(kw_only=True)
class E2BHandle:
    sandbox_id: str
    access_token: str | None = attrs.field(repr=False)
    domain: str
    template: str
    env: dict[str, str]


def _error(response: httpx.Response, what: str) -> Exception:
    """E2B's ``{code, message}`` error body as the host's error (the key itself is never in it)."""
    try:
        message = str(response.json().get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        message = response.reason_phrase or f"HTTP {response.status_code}"
    text = f"E2B refused to {what}: {response.status_code} {message}"
    if response.status_code in (401, 403):
        return NtUnavailable(f"{text}; check E2B_API_KEY")
    if response.status_code == 404:
        return NtNotFound(f"{text}; the sandbox is gone (E2B ends sandboxes after their timeout)")
    if response.status_code == 429:
        return NtRateLimited(f"{text}; wait and try again")
    if response.status_code >= 500:
        return NtUnavailable(f"{text}; E2B is unavailable, try again later")
    return NtUserError(text)


class E2BProvider:
    name = "e2b"
    summary = "an E2B cloud sandbox (a Firecracker microVM) through E2B's API; needs E2B_API_KEY"

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    def isolation(self, host: Host) -> str:
        config = E2BConfig.of(host)
        state = "configured" if config.api_key else "not configured (set E2B_API_KEY)"
        return f"E2B microVM at {config.api_url} ({state}): its own kernel, filesystem and network"

    def _client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=httpx.Timeout(timeout, connect=10.0))

    async def create(self, host: Host, spec: SandboxSpec) -> E2BHandle:
        config = E2BConfig.of(host)
        template = spec.template or config.template
        body = {"templateID": template, "timeout": SANDBOX_LIFETIME_S, "metadata": {"neural_trader": spec.name},
                "envVars": dict(spec.env)}
        if spec.mounts:
            raise NtUserError("mounts: an E2B sandbox cannot see this machine's files; pass files instead")
        async with self._client(30.0) as client:
            try:
                response = await client.post(f"{config.api_url}/v2/sandboxes", json=body,
                                             headers={"X-API-KEY": config.key()})
            except httpx.HTTPError as exc:
                raise NtUnavailable(f"E2B did not answer at {config.api_url}: {type(exc).__name__}") from None
        if response.status_code not in (200, 201):
            raise _error(response, "create a sandbox")
        data = response.json()
        handle = E2BHandle(sandbox_id=str(data["sandboxID"]), access_token=data.get("envdAccessToken"),
                           domain=data.get("domain") or config.domain, template=str(data.get("templateID", template)),
                           env=dict(spec.env))
        for file in spec.files:  # the inputs, written where the code expects them
            await self._execute(host, handle, _write_file_code(file.name, file.content), "python", 30.0, 1 << 20)
        return handle

    def _execute_url(self, config: E2BConfig, handle: E2BHandle) -> str:
        if config.sandbox_url:
            return config.sandbox_url.rstrip("/") + "/execute"
        return f"https://{EXECUTE_PORT}-{handle.sandbox_id}.{handle.domain}/execute"

    async def run(self, host: Host, handle: E2BHandle, job: Job) -> Execution:
        if job.stdin is not None:
            raise NtUserError("stdin: the e2b provider takes no standard input; put the data in a file")
        if job.kind == "command":
            code, language = shlex.join(job.argv), "bash"
        else:
            code, language = job.code, job.language
        return await self._execute(host, handle, code, language, job.limits.wall_s, job.limits.output_kb * 1024)

    async def _execute(self, host: Host, handle: E2BHandle, code: str, language: str, wall_s: float,
                       cap: int) -> Execution:
        config = E2BConfig.of(host)
        headers = {"E2b-Sandbox-Id": handle.sandbox_id, "E2b-Sandbox-Port": str(EXECUTE_PORT)}
        if handle.access_token:
            headers["X-Access-Token"] = handle.access_token
        body = {"code": code, "context_id": None, "language": language, "env_vars": dict(handle.env)}
        events = _Events(cap)
        started = time.monotonic()
        killed_by = None
        try:
            async with self._client(wall_s) as client, client.stream(
                    "POST", self._execute_url(config, handle), json=body, headers=headers) as response:
                if response.status_code == 502:
                    raise NtNotFound(f"E2B sandbox {handle.sandbox_id} timed out (502); create a new one")
                if response.status_code != 200:
                    await response.aread()
                    raise _error(response, "run code")
                async for line in response.aiter_lines():
                    if time.monotonic() - started > wall_s:
                        killed_by = "wall_time"
                        break
                    if line.strip():
                        events.add(json.loads(line))
        except httpx.TimeoutException:
            killed_by = "wall_time"
        except httpx.HTTPError as exc:
            raise NtUnavailable(f"E2B sandbox {handle.sandbox_id} did not answer: {type(exc).__name__}") from None
        return events.execution(time.monotonic() - started, killed_by)

    async def terminate(self, host: Host, handle: E2BHandle) -> None:
        config = E2BConfig.of(host)
        async with self._client(30.0) as client:
            try:
                response = await client.delete(f"{config.api_url}/sandboxes/{handle.sandbox_id}",
                                               headers={"X-API-KEY": config.key()})
            except httpx.HTTPError as exc:
                raise NtUnavailable(f"E2B did not answer at {config.api_url}: {type(exc).__name__}") from None
        if response.status_code not in (200, 204, 404):  # 404: E2B ended it already
            raise _error(response, "kill the sandbox")


class _Events:
    """The ``/execute`` stream folded into one :class:`Execution`, output bounded."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.out: list[str] = []
        self.err: list[str] = []
        self.sizes = {"stdout": 0, "stderr": 0}
        self.result: str | None = None
        self.error: str | None = None
        self.ended = False

    def _keep(self, stream: str, text: str) -> None:
        kept = self.out if stream == "stdout" else self.err
        room = self.cap - sum(len(t) for t in kept)
        if room > 0:
            kept.append(text[:room])
        self.sizes[stream] += len(text.encode())

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("stdout", "stderr"):
            self._keep(kind, str(event.get("text", "")))
        elif kind == "result" and event.get("is_main_result"):
            self.result = event.get("text")
        elif kind == "error":
            self.error = f"{event.get('name', 'Error')}: {event.get('value', '')}"
            self._keep("stderr", str(event.get("traceback", "")))
        elif kind == "end_of_execution":
            self.ended = True

    def execution(self, wall: float, killed_by: str | None) -> Execution:
        out, err = "".join(self.out), "".join(self.err)
        failed = self.error is not None or killed_by is not None
        return Execution(exit_code=None if killed_by else (1 if failed else 0), killed_by=killed_by, stdout=out,
                         stderr=err, stdout_bytes=self.sizes["stdout"], stderr_bytes=self.sizes["stderr"],
                         stdout_truncated=self.sizes["stdout"] > len(out.encode()),
                         stderr_truncated=self.sizes["stderr"] > len(err.encode()), wall_s=round(wall, 3),
                         result=self.result, error=self.error)


def _write_file_code(name: str, content: str) -> str:
    return (f"import os\nos.makedirs('/home/user/inputs', exist_ok=True)\n"
            f"open(os.path.join('/home/user/inputs', {name!r}), 'w').write({content!r})\n")
