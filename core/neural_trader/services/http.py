"""The one HTTP layer every external adapter uses: httpx with timeouts, per-provider rate limits,
retries with backoff, a circuit breaker, error mapping and observable state.

An adapter asks the host's :class:`HttpService` (``ctx.services.http``) for a :class:`ProviderClient`
once, then calls :meth:`ProviderClient.get_json` / :meth:`ProviderClient.request`::

    client = services.http.client(
        "alpaca", base_url="https://data.alpaca.markets",
        headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret},
        rate=RateLimit.per_minute(200), credential_hint="NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")
    bars = await client.get_json("/v2/stocks/AAPL/bars", {"timeframe": "1Day"})

Each attempt passes, in order: the breaker (an open circuit refuses without a network call), the
token bucket (waits, or raises :class:`NtRateLimited`), then httpx. Idempotent requests (GET, HEAD,
PUT, DELETE, OPTIONS, or ``idempotent=True``) are retried on 408, 429, 500, 502, 503, 504, timeouts
and connection errors, with exponential backoff and jitter, or exactly ``Retry-After`` when the
provider sends it. A POST is never retried unless the caller says it is idempotent.

Errors the caller sees (messages never contain API keys: header values, secret-looking query
parameters and the provider's secret settings are replaced by ``***``):

=====================================  =======================================================
provider answer                         raised
=====================================  =======================================================
401                                     :class:`NtProviderAuthError` (check NT_<P>_API_KEY)
403                                     :class:`NtProviderForbidden` (your plan does not include it)
404                                     :class:`~neural_trader.errors.NtNotFound`
409                                     :class:`~neural_trader.errors.NtConflict`
other 4xx (400, 422...)                 :class:`~neural_trader.errors.NtUserError`
429 after retries                       :class:`~neural_trader.errors.NtRateLimited` (``retry_after``)
5xx, timeout, connection error          :class:`~neural_trader.errors.NtUnavailable`
circuit open                            :class:`CircuitOpen` (an ``NtUnavailable``), no request sent
2xx that is not JSON (``get_json``)     :class:`NtProviderError`
=====================================  =======================================================

``classify(response)`` lets an adapter name provider quirks first: return ``NtRateLimited`` (retried
with backoff, not a breaker failure), ``NtUnavailable`` (retried, a breaker failure), any other
``NtError`` (raised at once; the provider is healthy), or ``None`` for the default mapping above.

Per-provider settings (``[plugins.<provider>]`` in the TOML file, or ``NT_<PROVIDER>_<KEY>``) override
what the adapter passed:

==========================  ===============================================================
key                          meaning
==========================  ===============================================================
``rate_per_minute``          token refill, requests per minute (``0`` turns limiting off)
``rate_per_second``          the same per second (wins over ``rate_per_minute``)
``rate_burst``               bucket capacity (default: the per-period limit)
``rate_block``               ``false``: raise ``NtRateLimited`` at once instead of waiting
``rate_max_wait``            longest wait for a token, seconds (default 60)
``timeout``                  seconds for connect/read/write/pool (default 10)
``max_retries``              retries after the first attempt (default 3; ``0`` disables)
``breaker_failures``         consecutive failed attempts that open the circuit (default 5)
``breaker_cooldown``         seconds before the half-open probe (default 30)
==========================  ===============================================================

With ``NT_REDIS_URL`` set, token buckets live in Redis (key ``nt:ratelimit:<provider>``) so replicas
share a provider's quota; while Redis is down each process limits on its own. Breakers and
counters are per process. See docs/adr/0004-http-resilience.md for the libraries and why.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from neural_trader.errors import (
    NtConflict,
    NtError,
    NtForbidden,
    NtNotFound,
    NtRateLimited,
    NtUnavailable,
    NtUserError,
)
from neural_trader.services.breaker import BreakerPolicy, BreakerStatus, CircuitBreaker, CircuitOpen, Outcome
from neural_trader.services.ratelimit import RateLimit, RateLimiter, RateLimitStatus

if TYPE_CHECKING:
    import redis

    from neural_trader.settings import Settings

__all__ = [
    "BreakerPolicy",
    "BreakerStatus",
    "CircuitOpen",
    "HttpService",
    "LastError",
    "NtProviderAuthError",
    "NtProviderError",
    "NtProviderForbidden",
    "ProviderClient",
    "ProviderStatus",
    "RateLimit",
    "RateLimitStatus",
    "RetryPolicy",
]

log = logging.getLogger("neural_trader.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SECRET_WORDS = re.compile(r"(key|secret|token|password|passwd|credential|signature)", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"(?i)\b([\w-]*(?:key|secret|token|password|passwd|credential|signature)[\w-]*)=([^&\s\"'#]+)")
_PLAIN_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "content-type", "user-agent",
                            "cache-control", "connection"})
_MIN_SECRET_LENGTH = 4  # shorter values would turn ordinary words into ***


# -- errors ----------------------------------------------------------------------------------------
class NtProviderError(NtError):
    """An upstream provider answered something we cannot use (malformed JSON, a broken payload)."""

    exit_code = 8
    http_status = 502
    type = "provider_error"


class NtProviderAuthError(NtProviderError, PermissionError):
    """The provider rejected our credentials (HTTP 401). The operator must fix the key, not the caller.

    It is a 502 rather than a 401 on our REST API: the caller's own credentials were fine.
    """

    exit_code = 4
    type = "provider_unauthorized"


class NtProviderForbidden(NtForbidden):
    """The provider refused the request with valid credentials (HTTP 403): usually the plan."""

    type = "provider_forbidden"


# -- policy and status values ----------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retries after the first attempt, waiting ``backoff * exp_base**n`` (capped at ``backoff_max``)
    plus up to ``jitter`` random seconds, or exactly ``Retry-After`` when the provider sends one.

    A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the error is raised with it.
    """

    max_retries: int = attrs.field(default=3)
    backoff: float = 0.5
    backoff_max: float = 30.0
    exp_base: float = 2.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    @max_retries.validator
    def _check_retries(self, _attribute: attrs.Attribute, value: int) -> None:
        if value < 0:
            raise ValueError(f"max_retries must be >= 0, not {value!r}")


@attrs.frozen(kw_only=True)
class LastError:
    """The most recent error a provider gave (message already redacted)."""

    at: datetime
    type: str
    message: str
    status: int | None = None


@attrs.frozen(kw_only=True)
class ProviderStatus:
    """Everything observable about one provider, for ``market.providers`` and health checks.

    ``requests`` counts calls to :meth:`ProviderClient.request`; ``attempts`` the HTTP exchanges
    sent (first tries and retries); ``refused`` the attempts an open breaker refused.
    """

    provider: str
    base_urls: tuple[str, ...]
    rate_limit: RateLimitStatus | None
    breaker: BreakerStatus
    last_error: LastError | None
    last_success_at: datetime | None
    requests: int
    attempts: int
    retries: int
    refused: int


Classifier = Callable[[httpx.Response], "Exception | None"]


# -- redaction ----------------------------------------------------------------------------------------
class _Redactor:
    """Replaces known secret values, and values of secret-looking query parameters, with ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, values: Iterable[object]) -> None:
        new = set()
        for value in values:
            if not isinstance(value, str | bytes) or not value:
                continue
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            for part in (text, *text.split()):  # "Bearer abc": hide the whole value and the token
                if len(part) >= _MIN_SECRET_LENGTH:
                    new.add(part)
        if new - self._secrets:
            with self._lock:
                self._secrets |= new

    def add_headers(self, headers: Mapping[str, str]) -> None:
        self.add(v for k, v in headers.items() if k.lower() not in _PLAIN_HEADERS)

    def add_params(self, params: Any) -> None:
        if isinstance(params, Mapping):
            items: Iterable[Any] = params.items()
        elif isinstance(params, list | tuple):
            items = params
        else:
            return
        self.add(str(v) for k, v in items if _SECRET_WORDS.search(str(k)))

    def __call__(self, text: str) -> str:
        # Longest first, so a secret containing another is hidden whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _SECRET_QUERY.sub(r"\1=***", text)


# -- the per-provider state ------------------------------------------------------------------------
def _setting(values: Mapping[str, Any], provider: str, key: str, kind: type) -> Any:
    raw = values.get(key)
    if raw is None or raw == "":
        return None
    name = f"NT_{provider.upper()}_{key.upper()}"
    if kind is bool:
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw if isinstance(raw, bool) else text in ("1", "true", "yes", "on")
        raise NtUserError(f"{name} must be true or false, got {raw!r}")
    try:
        value = kind(raw)
        if kind is int and isinstance(raw, float | str) and float(raw) != value:
            raise ValueError
    except (TypeError, ValueError):
        raise NtUserError(f"{name} must be {'a whole number' if kind is int else 'a number'}, "
                          f"got {raw!r}") from None
    if value < 0:
        raise NtUserError(f"{name} must not be negative, got {raw!r}")
    return value


def _apply_settings(provider: str, values: Mapping[str, Any], rate: RateLimit | None, retry: RetryPolicy,
                    breaker: BreakerPolicy, timeout: float) -> tuple[RateLimit | None, RetryPolicy,
                                                                      BreakerPolicy, float]:
    """The adapter's policies with the operator's ``[plugins.<provider>]`` / env overrides applied."""
    def get(key: str, kind: type) -> Any:
        return _setting(values, provider, key, kind)

    per_second, per_minute = get("rate_per_second", float), get("rate_per_minute", float)
    try:
        if per_second is not None or per_minute is not None:
            count, per = (per_second, 1.0) if per_second is not None else (per_minute, 60.0)
            if count == 0:
                rate = None
            else:
                # A fractional rate (0.5 per second) becomes one token per 1/rate seconds.
                limit, per = (int(count), per) if float(count).is_integer() else (1, per / count)
                base = rate or RateLimit(limit=1)
                rate = attrs.evolve(base, limit=limit, per=per)
        if rate is not None:
            changes: dict[str, Any] = {}
            if (burst := get("rate_burst", int)) is not None:
                changes["burst"] = burst
            if (block := get("rate_block", bool)) is not None:
                changes["block"] = block
            if (max_wait := get("rate_max_wait", float)) is not None:
                changes["max_wait"] = max_wait
            rate = attrs.evolve(rate, **changes)
        if (retries := get("max_retries", int)) is not None:
            retry = attrs.evolve(retry, max_retries=retries)
        changes = {}
        if (failures := get("breaker_failures", int)) is not None:
            changes["failures"] = failures
        if (cooldown := get("breaker_cooldown", float)) is not None:
            changes["cooldown"] = cooldown
        breaker = attrs.evolve(breaker, **changes)
    except ValueError as exc:
        raise NtUserError(f"provider {provider} settings: {exc}") from None
    if (seconds := get("timeout", float)) is not None:
        if seconds == 0:
            raise NtUserError(f"NT_{provider.upper()}_TIMEOUT must be > 0 seconds")
        timeout = seconds
    return rate, retry, breaker, timeout


class _ProviderState:
    """What clients of one provider share: the bucket, the breaker, counters and the last error."""

    def __init__(self, provider: str, *, limiter: RateLimiter | None, breaker: CircuitBreaker,
                 retry: RetryPolicy, timeout: float, redactor: _Redactor) -> None:
        self.provider = provider
        self.limiter = limiter
        self.breaker = breaker
        self.retry = retry
        self.timeout = timeout
        self.redact = redactor
        self.lock = threading.Lock()
        self.base_urls: list[str] = []
        self.requests = self.attempts = self.retries = self.refused = 0
        self.last_error: LastError | None = None
        self.last_success_at: datetime | None = None

    def count(self, counter: str) -> None:
        with self.lock:
            setattr(self, counter, getattr(self, counter) + 1)


class _RetryAfterTooLong(stop_base):
    """Stop when the provider asks us to wait longer than we are willing to hold a request."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return isinstance(exc, _Retryable) and exc.retry_after is not None and exc.retry_after > self.limit


class _Retryable(Exception):
    """An attempt failed in a way worth retrying; ``error`` is what the caller gets if none succeeds."""

    def __init__(self, error: NtError, retry_after: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


# -- the client adapters use -----------------------------------------------------------------------
class ProviderClient:
    """HTTP to one provider's ``base_url`` with the provider's shared limits. Get one from
    :meth:`HttpService.client`; it is safe to use from any thread and any event loop."""

    def __init__(self, service: HttpService, state: _ProviderState, *, base_url: str,
                 headers: Mapping[str, str], classify: Classifier | None, credential_hint: str) -> None:
        self.provider = state.provider
        self.base_url = base_url
        self._service = service
        self._state = state
        self._headers = dict(headers)
        self._classify = classify
        self._credential_hint = credential_hint
        # httpx's connection pool belongs to the event loop that opened it, and the host may serve
        # several loops (anyio.run per CLI call, a server's loop): one AsyncClient per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                      headers: Mapping[str, str] | None = None, idempotent: bool | None = None) -> httpx.Response:
        """Send one request through breaker, rate limit and retries; return a successful response.

        ``idempotent`` defaults to whether ``method`` is one of GET, HEAD, PUT, DELETE, OPTIONS; only
        idempotent requests are retried. Raises the errors in the module docstring.
        """
        method = method.upper()
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        state = self._state
        state.redact.add_params(params)
        if headers:
            state.redact.add_headers(headers)
        state.count("requests")
        policy = state.retry

        def wait(retry_state: RetryCallState) -> float:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return exc.retry_after
            return backoff(retry_state)

        def before_sleep(retry_state: RetryCallState) -> None:
            state.count("retries")
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            log.info("provider %s: %s; retry %d/%d in %.2f s", self.provider, exc,
                     retry_state.attempt_number, policy.max_retries, retry_state.upcoming_sleep)

        backoff = wait_exponential_jitter(multiplier=policy.backoff, max=policy.backoff_max,
                                          exp_base=policy.exp_base, jitter=policy.jitter)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_retries + 1) | _RetryAfterTooLong(policy.max_retry_after),
            wait=wait, retry=retry_if_exception_type(_Retryable), sleep=self._service._sleep,
            before_sleep=before_sleep, reraise=True)
        from neural_trader.tracing import span

        try:
            with span(f"provider {self.provider}", method=method, path=path):
                return await retrying(self._attempt, method, path, params, json, headers, retryable)
        except _Retryable as exc:
            raise exc.error from None

    async def get_json(self, path: str, params: Any = None) -> Any:
        """GET ``path`` and decode the JSON body; a body that is not JSON raises :class:`NtProviderError`."""
        response = await self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            snippet = " ".join(response.text[:80].split())
            error = NtProviderError(
                f"provider {self.provider} returned malformed JSON for GET {_path_only(path)} "
                f"(HTTP {response.status_code}, starts {snippet!r})",
                details={"provider": self.provider, "status": response.status_code})
            raise self._note(error, response.status_code) from None

    def status(self) -> ProviderStatus:
        """This provider's state: rate limit, breaker, last error and counters."""
        return self._service._status(self._state)

    # -- one attempt -----------------------------------------------------------------------------------
    async def _attempt(self, method: str, path: str, params: Any, json: Any,
                       headers: Mapping[str, str] | None, retryable: bool) -> httpx.Response:
        state = self._state
        try:
            probe = state.breaker.admit()
        except CircuitOpen as exc:
            state.count("refused")
            raise self._redacted(exc) from None
        outcome = Outcome.NEUTRAL
        try:
            if state.limiter is not None:
                try:
                    await state.limiter.acquire()
                except NtRateLimited as exc:
                    raise self._note(exc, None) from None
            client = self._client()
            state.count("attempts")
            where = f"{method} {_path_only(path)}"
            try:
                response = await client.request(method, path, params=params, json=json, headers=headers)
            except httpx.TimeoutException:
                outcome = Outcome.FAILURE
                error: NtError = NtUnavailable(f"provider {self.provider} did not answer {where} within "
                                      f"{state.timeout:g} s", details={"provider": self.provider})
                raise self._fail(error, None, None, retryable) from None
            except httpx.TransportError as exc:
                outcome = Outcome.FAILURE
                error = NtUnavailable(f"provider {self.provider} could not be reached for {where} "
                                      f"({type(exc).__name__}: {exc})", details={"provider": self.provider})
                raise self._fail(error, None, None, retryable) from None
            judged, outcome, retry_after, worth_retrying = self._judge(response, where)
            if judged is None:
                with state.lock:
                    state.last_success_at = self._service._now()
                return response
            raise self._fail(judged, response.status_code, retry_after, retryable and worth_retrying)
        finally:
            state.breaker.record(outcome, probe=probe)

    def _judge(self, response: httpx.Response, where: str) -> tuple[NtError | None, Outcome, float | None, bool]:
        """(error or None, breaker outcome, Retry-After seconds, worth retrying)."""
        p, status = self.provider, response.status_code
        retry_after = self._retry_after(response)
        details = {"provider": p, "status": status}
        if self._classify is not None:
            try:
                found = self._classify(response)
            except ValueError:  # e.g. a body that is not JSON: let the default mapping decide
                found = None
            if found is not None:
                if not isinstance(found, NtError):
                    raise TypeError(f"classify for provider {p} must return an NtError or None, not {found!r}")
                if isinstance(found, NtRateLimited):
                    if found.retry_after is None:
                        found.retry_after = retry_after
                    return found, Outcome.NEUTRAL, found.retry_after, True
                if isinstance(found, NtUnavailable):
                    return found, Outcome.FAILURE, retry_after, True
                return found, Outcome.SUCCESS, None, False
        if status < 400:
            return None, Outcome.SUCCESS, None, False
        said = _provider_message(response)
        said = f": {said}" if said else ""
        retry = status in self._state.retry.statuses
        if status == 429:
            wait = f"; try again in {retry_after:.0f} s" if retry_after is not None else ""
            return (NtRateLimited(f"provider {p} is rate limiting requests (HTTP 429){said}{wait}",
                                  retry_after=retry_after, details=details), Outcome.NEUTRAL, retry_after, retry)
        if status >= 500 or status == 408:
            return (NtUnavailable(f"provider {p} failed on {where} (HTTP {status}){said}", details=details),
                    Outcome.FAILURE, retry_after, retry)
        error: NtError
        if status == 401:
            error = NtProviderAuthError(
                f"provider {p} rejected the credentials (check {self._credential_hint})", details=details)
        elif status == 403:
            error = NtProviderForbidden(
                f"provider {p} refused {where} (HTTP 403){said or ': your plan or API key does not include it'}",
                details=details)
        elif status == 404:
            error = NtNotFound(f"provider {p} has nothing at {where} (HTTP 404){said}", details=details)
        elif status == 409:
            error = NtConflict(f"provider {p} reports a conflict on {where} (HTTP 409){said}", details=details)
        else:
            error = NtUserError(f"provider {p} rejected {where} (HTTP {status}){said}", details=details)
        return error, Outcome.SUCCESS, None, retry

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds from ``Retry-After`` (seconds or an HTTP date), else an epoch ``X-RateLimit-Reset``."""
        value = response.headers.get("retry-after")
        if value is not None:
            value = value.strip()
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, when.timestamp() - self._service._wall_clock())
        if response.status_code == 429:
            reset = response.headers.get("x-ratelimit-reset")
            try:
                seconds = float(reset) if reset is not None else None
            except ValueError:
                return None
            if seconds is not None and seconds > 1e9:  # epoch seconds (Alpaca, Finnhub)
                return max(0.0, seconds - self._service._wall_clock())
        return None

    # -- helpers ----------------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None or client.is_closed:
                # No redirects: custom auth headers (APCA-API-KEY-ID...) would follow them to any host.
                client = httpx.AsyncClient(
                    base_url=self.base_url, headers=self._headers, timeout=self._state.timeout,
                    transport=self._service._transport, follow_redirects=False)
                self._clients[loop] = client
            return client

    def _redacted(self, error: NtError) -> NtError:
        clean = self._state.redact(error.message)
        if clean != error.message:
            error.message = clean
            error.args = (clean, *error.args[1:])
        return error

    def _note(self, error: NtError, status: int | None) -> NtError:
        """Redact ``error``, remember it as the provider's last error, and return it."""
        error = self._redacted(error)
        record = LastError(at=self._service._now(), type=error.type, message=error.message, status=status)
        with self._state.lock:
            self._state.last_error = record
        return error

    def _fail(self, error: NtError, status: int | None, retry_after: float | None, retry: bool) -> Exception:
        error = self._note(error, status)
        return _Retryable(error, retry_after) if retry else error

    async def aclose(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.items()), weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        for owner, client in clients:
            if owner is loop:
                await client.aclose()
            else:
                _close_elsewhere(owner, client)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.items()), weakref.WeakKeyDictionary()
        for owner, client in clients:
            _close_elsewhere(owner, client)


_background: set[asyncio.Future[Any]] = set()


def _close_elsewhere(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    """Close ``client`` on the loop that owns its connections, from wherever we are."""
    if loop.is_closed() or client.is_closed:
        return  # its sockets went with the loop
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    task: asyncio.Future[None]
    if current is loop:
        task = loop.create_task(client.aclose())
    elif loop.is_running():
        task = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.aclose(), loop), loop=loop)
    else:
        loop.run_until_complete(client.aclose())
        return
    _background.add(task)
    task.add_done_callback(_background.discard)


def _path_only(path: str) -> str:
    """The path without its query string (which may carry an API key)."""
    return path.split("?", 1)[0]


def _provider_message(response: httpx.Response) -> str:
    """A short message the provider put in an error body, if it put one."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return "" if not text or text.startswith("<") else text[:200]
    if isinstance(body, dict):
        for key in ("message", "error", "Error Message", "detail", "msg", "Information", "Note"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return " ".join(value.split())[:200]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return " ".join(value["message"].split())[:200]
    return ""


# -- the service ------------------------------------------------------------------------------------
class HttpService:
    """One per host: the provider clients and their shared state.

    :param transport: an ``httpx.AsyncBaseTransport`` for every client (tests pass ``httpx.MockTransport``).
    :param clock: monotonic seconds for backoff, breaker and (in memory) rate limits.
    :param sleep: how to wait (tests pass a fake that advances the fake clock).
    :param wall_clock: epoch seconds, for ``Retry-After`` dates, Redis rate limits and timestamps.
    :param redis_prefix: key prefix for Redis token buckets.
    """

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                 wall_clock: Callable[[], float] = time.time, redis_prefix: str = "nt:ratelimit:") -> None:
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._redis_prefix = redis_prefix
        self._redis: redis.Redis | None = None
        self._lock = threading.Lock()
        self._states: dict[str, _ProviderState] = {}
        self._clients: dict[tuple[str, str], ProviderClient] = {}

    def client(self, provider: str, *, base_url: str, headers: Mapping[str, str] | None = None,
               rate: RateLimit | None = None, retry: RetryPolicy | None = None,
               breaker: BreakerPolicy | None = None, timeout: float = 10.0,
               classify: Classifier | None = None, credential_hint: str | None = None) -> ProviderClient:
        """The client for ``provider`` at ``base_url``; the same name gets the same client and state.

        Policies apply when a provider is first seen (later calls share its bucket and breaker);
        ``[plugins.<provider>]`` / ``NT_<PROVIDER>_*`` settings override them (see the module doc).
        ``credential_hint`` names the settings a 401 tells the operator to check (default
        ``NT_<PROVIDER>_API_KEY``). Several base URLs of one provider share its limits.
        """
        if not _PROVIDER_NAME.match(provider):
            raise ValueError(f"provider names are lower-case letters, digits and _, not {provider!r}")
        headers = dict(headers or {})
        with self._lock:
            state = self._states.get(provider)
            if state is None:
                state = self._new_state(provider, rate, retry or RetryPolicy(), breaker or BreakerPolicy(),
                                        timeout)
                self._states[provider] = state
            state.redact.add_headers(headers)
            client = self._clients.get((provider, base_url))
            if client is None:
                client = ProviderClient(self, state, base_url=base_url, headers=headers, classify=classify,
                                        credential_hint=credential_hint or f"NT_{provider.upper()}_API_KEY")
                self._clients[(provider, base_url)] = client
                state.base_urls.append(state.redact(base_url))
            return client

    def _new_state(self, provider: str, rate: RateLimit | None, retry: RetryPolicy, breaker: BreakerPolicy,
                   timeout: float) -> _ProviderState:
        values = self.settings.plugin(provider)
        rate, retry, breaker, timeout = _apply_settings(provider, values, rate, retry, breaker, timeout)
        redactor = _Redactor()
        redactor.add(str(v) for k, v in values.items() if _SECRET_WORDS.search(k))
        limiter = None
        if rate is not None:
            redis_client = self._redis_client()
            limiter = RateLimiter(
                provider, rate, sleep=self._sleep, redis_client=redis_client,
                key=f"{self._redis_prefix}{provider}",
                clock=self._wall_clock if redis_client is not None else self._clock)
        return _ProviderState(
            provider, limiter=limiter, retry=retry, timeout=timeout, redactor=redactor,
            breaker=CircuitBreaker(provider, breaker, clock=self._clock, wall_clock=self._wall_clock))

    def _redis_client(self) -> redis.Redis | None:
        if not self.settings.redis_url:
            return None
        if self._redis is None:
            from neural_trader.services.cache import RedisCache

            self._redis = RedisCache.from_url(self.settings.redis_url).client
        return self._redis

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall_clock(), UTC)

    def _status(self, state: _ProviderState) -> ProviderStatus:
        rate = state.limiter.status() if state.limiter is not None else None
        with state.lock:
            return ProviderStatus(
                provider=state.provider, base_urls=tuple(state.base_urls), rate_limit=rate,
                breaker=state.breaker.status(), last_error=state.last_error,
                last_success_at=state.last_success_at, requests=state.requests, attempts=state.attempts,
                retries=state.retries, refused=state.refused)

    def status(self, provider: str) -> ProviderStatus | None:
        """``provider``'s state, or ``None`` if no adapter has asked for a client for it yet."""
        state = self._states.get(provider)
        return None if state is None else self._status(state)

    def statuses(self) -> list[ProviderStatus]:
        """Every provider seen so far, by name."""
        return [self._status(self._states[name]) for name in sorted(self._states)]

    async def aclose(self) -> None:
        """Close every client's connections (call from the loop that used them, where you can)."""
        for client in self._take_clients():
            await client.aclose()
        self._close_redis()

    def close(self) -> None:
        """Close every client's connections, from any thread, with or without a running loop."""
        for client in self._take_clients():
            client.close()
        self._close_redis()

    def _take_clients(self) -> list[ProviderClient]:
        with self._lock:
            return list(self._clients.values())

    def _close_redis(self) -> None:
        with self._lock:
            client, self._redis = self._redis, None
        if client is not None:
            client.close()
