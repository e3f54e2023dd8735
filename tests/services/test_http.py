"""The shared HTTP layer: retries, Retry-After, the breaker, token buckets, error mapping, redaction.

Every test talks to ``httpx.MockTransport`` (no network) on fake time: ``sleep`` records the wait and
advances the clock, so backoff, cooldowns and refills run instantly and exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis

from neural_trader.errors import NtConflict, NtError, NtNotFound, NtRateLimited, NtUnavailable, NtUserError
from neural_trader.services import Services
from neural_trader.services.http import (
    BreakerPolicy,
    CircuitOpen,
    HttpService,
    NtProviderAuthError,
    NtProviderError,
    NtProviderForbidden,
    ProviderClient,
    RateLimit,
    RetryPolicy,
)
from neural_trader.settings import Settings, load_settings

BASE = "https://api.example.test"
NO_JITTER = RetryPolicy(jitter=0)


class FakeTime:
    """A monotonic clock, a wall clock moving with it, and a sleep that advances both."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


Reply = httpx.Response | Exception | Callable[[httpx.Request], Any]


class Upstream:
    """A scripted provider: answers with ``replies`` in order (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
            if asyncio.iscoroutine(reply):
                reply = await reply
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def calls(self) -> int:
        return len(self.requests)


def ok(body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if body is None else body, **kwargs)


def status(code: int, **kwargs: Any) -> httpx.Response:
    return httpx.Response(code, **kwargs)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make(settings: Settings, fake: FakeTime) -> Callable[..., tuple[ProviderClient, Upstream]]:
    """``make(*replies, **client_kwargs)``: a fresh service and client for provider ``acme``."""

    def build(*replies: Reply, provider: str = "acme", service_settings: Settings | None = None,
              **kwargs: Any) -> tuple[ProviderClient, Upstream]:
        upstream = Upstream(*replies)
        service = HttpService(service_settings or settings, transport=httpx.MockTransport(upstream),
                              clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall)
        kwargs.setdefault("retry", NO_JITTER)
        return service.client(provider, base_url=BASE, **kwargs), upstream

    return build


# -- success and retries -----------------------------------------------------------------------------
async def test_success_sends_headers_and_params_and_counts(make, fake: FakeTime) -> None:
    client, upstream = make(ok({"price": 1.5}), headers={"Accept": "application/json"})
    assert await client.get_json("/v1/quote", {"symbol": "AAPL"}) == {"price": 1.5}
    request = upstream.requests[0]
    assert str(request.url) == f"{BASE}/v1/quote?symbol=AAPL"
    assert request.headers["accept"] == "application/json"
    st = client.status()
    assert (st.requests, st.attempts, st.retries, st.refused) == (1, 1, 0, 0)
    assert st.last_error is None and st.last_success_at is not None
    assert st.breaker.state == "closed" and fake.sleeps == []


async def test_429_with_retry_after_waits_exactly_that_long(make, fake: FakeTime) -> None:
    client, upstream = make(status(429, headers={"Retry-After": "7"}), ok())
    assert await client.get_json("/x") == {"ok": True}
    assert fake.sleeps == [7.0] and upstream.calls == 2
    st = client.status()
    assert st.retries == 1 and st.breaker.failures == 0  # a 429 says nothing about health
    assert st.last_error is not None and st.last_error.type == "rate_limited" and st.last_error.status == 429


async def test_retry_after_as_http_date(make, fake: FakeTime) -> None:
    when = datetime.fromtimestamp(fake.wall() + 12, UTC)
    client, _ = make(status(503, headers={"Retry-After": format_datetime(when, usegmt=True)}), ok())
    await client.get_json("/x")
    assert fake.sleeps == [pytest.approx(12.0)]


async def test_429_without_retry_after_uses_epoch_ratelimit_reset(make, fake: FakeTime) -> None:
    client, _ = make(status(429, headers={"X-RateLimit-Reset": str(int(fake.wall()) + 5)}), ok())
    await client.get_json("/x")
    assert fake.sleeps == [pytest.approx(5.0, abs=1)]


async def test_5xx_then_success_backs_off(make, fake: FakeTime) -> None:
    client, upstream = make(status(502), status(503), ok())
    assert await client.get_json("/x") == {"ok": True}
    assert fake.sleeps == [0.5, 1.0] and upstream.calls == 3


async def test_backoff_jitter_stays_within_bounds(make, fake: FakeTime) -> None:
    client, _ = make(status(500), status(500), status(500), ok(),
                     retry=RetryPolicy(backoff=1.0, jitter=0.5, backoff_max=3.0))
    await client.get_json("/x")
    assert len(fake.sleeps) == 3
    for base, slept in zip([1.0, 2.0, 3.0], fake.sleeps, strict=True):
        assert base <= slept <= min(base + 0.5, 3.0)


async def test_timeout_then_success(make, fake: FakeTime) -> None:
    client, upstream = make(httpx.ReadTimeout("slow"), ok())
    assert await client.get_json("/x") == {"ok": True}
    assert upstream.calls == 2 and fake.sleeps == [0.5]
    assert "did not answer GET /x within 10 s" in client.status().last_error.message


async def test_post_is_never_retried(make, fake: FakeTime) -> None:
    client, upstream = make(status(503), ok())
    with pytest.raises(NtUnavailable, match=r"provider acme failed on POST /v2/orders \(HTTP 503\)"):
        await client.request("POST", "/v2/orders", json={"qty": 1})
    assert upstream.calls == 1 and fake.sleeps == []


async def test_post_timeout_is_never_retried(make) -> None:
    client, upstream = make(httpx.ReadTimeout("slow"), ok())
    with pytest.raises(NtUnavailable):
        await client.request("POST", "/v2/orders", json={"qty": 1})
    assert upstream.calls == 1


async def test_post_marked_idempotent_is_retried(make) -> None:
    client, upstream = make(status(503), ok())
    response = await client.request("POST", "/v2/orders", json={"client_order_id": "a"}, idempotent=True)
    assert response.status_code == 200 and upstream.calls == 2


async def test_retries_exhausted_on_5xx(make, fake: FakeTime) -> None:
    client, upstream = make(status(503))
    with pytest.raises(NtUnavailable) as info:
        await client.get_json("/x")
    assert not isinstance(info.value, CircuitOpen)
    assert upstream.calls == 4 and fake.sleeps == [0.5, 1.0, 2.0]
    assert info.value.details == {"provider": "acme", "status": 503}
    st = client.status()
    assert (st.attempts, st.retries) == (4, 3)


async def test_retries_exhausted_on_429_carries_retry_after(make, fake: FakeTime) -> None:
    client, upstream = make(status(429, headers={"Retry-After": "2"}))
    with pytest.raises(NtRateLimited) as info:
        await client.get_json("/x")
    assert info.value.retry_after == 2.0 and upstream.calls == 4 and fake.sleeps == [2.0] * 3
    assert "try again in 2 s" in info.value.message


async def test_retry_after_too_long_is_raised_without_waiting(make, fake: FakeTime) -> None:
    client, upstream = make(status(429, headers={"Retry-After": "3600"}), ok())
    with pytest.raises(NtRateLimited) as info:
        await client.get_json("/x")
    assert info.value.retry_after == 3600 and upstream.calls == 1 and fake.sleeps == []


async def test_connection_error_is_retried_then_unavailable(make) -> None:
    client, upstream = make(httpx.ConnectError("connection refused"), retry=RetryPolicy(max_retries=1, jitter=0))
    with pytest.raises(NtUnavailable, match="could not be reached for GET /x"):
        await client.get_json("/x")
    assert upstream.calls == 2


@pytest.mark.parametrize(("code", "error", "text"), [
    (400, NtUserError, "rejected GET /x (HTTP 400): bad symbol"),
    (401, NtProviderAuthError, "provider acme rejected the credentials (check NT_ACME_API_KEY)"),
    (403, NtProviderForbidden, "refused GET /x (HTTP 403): bad symbol"),
    (404, NtNotFound, "has nothing at GET /x (HTTP 404): bad symbol"),
    (409, NtConflict, "conflict on GET /x (HTTP 409)"),
    (422, NtUserError, "rejected GET /x (HTTP 422): bad symbol"),
])
async def test_client_errors_map_and_are_not_retried(make, code: int, error: type[NtError], text: str) -> None:
    client, upstream = make(status(code, json={"message": "bad symbol"}))
    with pytest.raises(error) as info:
        await client.get_json("/x")
    assert text in info.value.message
    assert upstream.calls == 1 and client.status().breaker.failures == 0


async def test_403_default_message_and_custom_credential_hint(make) -> None:
    client, _ = make(status(403))
    with pytest.raises(NtProviderForbidden, match="your plan or API key does not include it"):
        await client.get_json("/x")
    client, _ = make(status(401), provider="alpaca", credential_hint="NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")
    with pytest.raises(NtProviderAuthError, match="check NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET"):
        await client.get_json("/x")
    assert NtProviderAuthError.http_status == 502  # the caller's own credentials were fine


async def test_malformed_json(make) -> None:
    client, _ = make(httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(NtProviderError, match=r"provider acme returned malformed JSON for GET /x"):
        await client.get_json("/x")
    assert client.status().last_error.type == "provider_error"


# -- classify -------------------------------------------------------------------------------------------
def alpha_vantage(response: httpx.Response) -> Exception | None:
    body = response.json()
    if "Note" in body:
        return NtRateLimited("provider acme: call frequency exceeded")
    if "Error Message" in body:
        return NtUserError(f"provider acme: {body['Error Message']}")
    return None


async def test_classify_turns_200_into_rate_limited_with_backoff(make, fake: FakeTime) -> None:
    client, upstream = make(ok({"Note": "5 calls per minute"}), ok({"Note": "again"}), ok({"price": 2}),
                            classify=alpha_vantage, breaker=BreakerPolicy(failures=1))
    assert await client.get_json("/query") == {"price": 2}
    assert fake.sleeps == [0.5, 1.0] and upstream.calls == 3
    assert client.status().breaker.state == "closed"


async def test_classify_user_error_is_not_retried(make) -> None:
    client, upstream = make(ok({"Error Message": "Invalid API call"}), classify=alpha_vantage)
    with pytest.raises(NtUserError, match="Invalid API call"):
        await client.get_json("/query")
    assert upstream.calls == 1


async def test_classify_unavailable_counts_as_breaker_failure(make) -> None:
    client, _ = make(ok({"down": 1}), classify=lambda r: NtUnavailable("acme is down"),
                            retry=RetryPolicy(max_retries=0), breaker=BreakerPolicy(failures=1))
    with pytest.raises(NtUnavailable, match="acme is down"):
        await client.get_json("/x")
    assert client.status().breaker.state == "open"


async def test_classify_that_cannot_parse_falls_back_to_default_mapping(make) -> None:
    client, _ = make(httpx.Response(500, text="oops"), classify=alpha_vantage, retry=RetryPolicy(max_retries=0))
    with pytest.raises(NtUnavailable, match=r"HTTP 500\): oops"):
        await client.get_json("/x")


# -- breaker --------------------------------------------------------------------------------------------
BREAKER = BreakerPolicy(failures=3, cooldown=30)
ONCE = RetryPolicy(max_retries=0)


async def _fail_n(client: ProviderClient, n: int) -> None:
    for _ in range(n):
        with pytest.raises(NtUnavailable):
            await client.get_json("/x")


async def test_breaker_opens_after_consecutive_failures_and_refuses_without_calling(make, fake: FakeTime) -> None:
    client, upstream = make(status(500), breaker=BREAKER, retry=ONCE)
    await _fail_n(client, 2)
    assert client.status().breaker.state == "closed" and client.status().breaker.failures == 2
    await _fail_n(client, 1)
    st = client.status()
    assert st.breaker.state == "open" and st.breaker.next_probe_in == 30
    assert st.breaker.opened_at == datetime.fromtimestamp(fake.wall(), UTC)
    with pytest.raises(CircuitOpen, match="provider acme is failing; circuit open, next probe in 30 s") as info:
        await client.get_json("/x")
    assert info.value.retry_after == 30 and info.value.http_status == 503
    assert upstream.calls == 3 and client.status().refused == 1


async def test_success_resets_the_consecutive_count(make) -> None:
    client, _ = make(status(500), status(500), ok(), status(500), status(500), breaker=BREAKER, retry=ONCE)
    await _fail_n(client, 2)
    await client.get_json("/x")
    await _fail_n(client, 2)
    assert client.status().breaker.state == "closed"


async def test_open_breaker_stops_a_retry_loop(make) -> None:
    client, upstream = make(status(500), breaker=BreakerPolicy(failures=2, cooldown=30))
    with pytest.raises(CircuitOpen):
        await client.get_json("/x")
    assert upstream.calls == 2


async def test_half_open_lets_exactly_one_probe_through_and_success_closes(make, fake: FakeTime) -> None:
    release = asyncio.Event()

    async def slow_ok(_request: httpx.Request) -> httpx.Response:
        await release.wait()
        return ok()

    client, upstream = make(status(500), status(500), status(500), slow_ok, breaker=BREAKER, retry=ONCE)
    await _fail_n(client, 3)
    fake.now += 29
    with pytest.raises(CircuitOpen, match="next probe in 1 s"):
        await client.get_json("/x")
    fake.now += 1
    assert client.status().breaker.state == "half_open"
    probe = asyncio.create_task(client.get_json("/x"))
    while upstream.calls < 4:
        await asyncio.sleep(0)
    for _ in range(3):  # everyone else is refused while the probe runs, without a request
        with pytest.raises(CircuitOpen, match="a probe request is in flight"):
            await client.get_json("/x")
    assert upstream.calls == 4 and client.status().breaker.state == "half_open"
    release.set()
    assert await probe == {"ok": True}
    st = client.status()
    assert st.breaker.state == "closed" and st.breaker.failures == 0 and st.breaker.opened_at is None
    await client.get_json("/x")
    assert upstream.calls == 5


async def test_failed_probe_reopens_for_a_full_cooldown(make, fake: FakeTime) -> None:
    client, upstream = make(status(500), breaker=BREAKER, retry=ONCE)
    await _fail_n(client, 3)
    fake.now += 30
    await _fail_n(client, 1)  # the probe
    assert upstream.calls == 4
    st = client.status()
    assert st.breaker.state == "open" and st.breaker.next_probe_in == 30
    with pytest.raises(CircuitOpen, match="next probe in 30 s"):
        await client.get_json("/x")
    assert upstream.calls == 4


async def test_probe_that_is_cancelled_frees_the_slot(make, fake: FakeTime) -> None:
    async def hang(_request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client, upstream = make(status(500), status(500), status(500), hang, ok(), breaker=BREAKER, retry=ONCE)
    await _fail_n(client, 3)
    fake.now += 30
    probe = asyncio.create_task(client.get_json("/x"))
    while upstream.calls < 4:
        await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await client.get_json("/x") == {"ok": True}  # the next caller becomes the probe
    assert client.status().breaker.state == "closed"


async def test_client_errors_do_not_trip_the_breaker(make) -> None:
    client, _ = make(status(404), breaker=BreakerPolicy(failures=1), retry=ONCE)
    for _ in range(3):
        with pytest.raises(NtNotFound):
            await client.get_json("/x")
    assert client.status().breaker.state == "closed"


# -- token bucket ---------------------------------------------------------------------------------------
async def test_token_bucket_passes_n_then_waits_then_refills(make, fake: FakeTime) -> None:
    client, upstream = make(ok(), rate=RateLimit(limit=3, per=60))
    for _ in range(3):
        await client.get_json("/x")
    assert fake.sleeps == []
    st = client.status().rate_limit
    assert (st.capacity, st.remaining, st.refill_per_second, st.backend) == (3, 0, 0.05, "memory")
    await client.get_json("/x")  # the 4th waits for one token: 60 s / 3
    assert fake.sleeps == [pytest.approx(20.0, abs=0.01)] and upstream.calls == 4
    fake.now += 60
    assert client.status().rate_limit.remaining == 3
    for _ in range(3):
        await client.get_json("/x")
    assert len(fake.sleeps) == 1


async def test_token_bucket_non_blocking_raises_without_a_request(make, fake: FakeTime) -> None:
    client, upstream = make(ok(), rate=RateLimit(limit=2, per=60, block=False))
    await client.get_json("/x")
    await client.get_json("/x")
    with pytest.raises(NtRateLimited, match=r"provider acme allows 2 per minute and that is used up") as info:
        await client.get_json("/x")
    assert info.value.retry_after == pytest.approx(30, abs=0.01)
    assert upstream.calls == 2 and fake.sleeps == []
    assert client.status().last_error.type == "rate_limited"


async def test_token_bucket_wait_longer_than_max_wait_raises(make, fake: FakeTime) -> None:
    client, upstream = make(ok(), rate=RateLimit(limit=25, per=86400, max_wait=60))
    for _ in range(25):
        await client.get_json("/x")
    with pytest.raises(NtRateLimited):
        await client.get_json("/x")
    assert upstream.calls == 25 and fake.sleeps == []


async def test_retries_take_tokens_too(make, fake: FakeTime) -> None:
    client, upstream = make(status(503), ok(), rate=RateLimit(limit=1, per=10, burst=1))
    await client.get_json("/x")
    # 0.5 s of backoff, then 9.5 s more for the next token.
    assert fake.sleeps == [0.5, pytest.approx(9.5, abs=0.01)] and upstream.calls == 2


async def test_concurrent_callers_share_the_bucket(make, fake: FakeTime) -> None:
    client, upstream = make(ok(), rate=RateLimit(limit=2, per=1))
    await asyncio.gather(*(client.get_json("/x") for _ in range(6)))
    assert upstream.calls == 6
    assert fake.now - 1000 == pytest.approx(2.0, abs=0.01)  # 2 at once, then 2 per second


# -- redaction ------------------------------------------------------------------------------------------
async def test_secrets_never_reach_errors_or_status(make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_ACME_API_SECRET", "env-secret-value")
    key, param_key = "hdr-key-123", "AVKEY999"

    def echo_url(request: httpx.Request) -> Exception:
        return httpx.ConnectError(f"cannot connect to {request.url} with {request.headers['x-api-key']} "
                                  f"and env-secret-value")

    client, _ = make(echo_url, headers={"X-Api-Key": key, "Authorization": "Bearer tok-abcdef"},
                     retry=ONCE)
    with pytest.raises(NtUnavailable) as info:
        await client.get_json("/query", {"function": "QUOTE", "apikey": param_key})
    message = str(info.value)
    assert "could not be reached" in message and "apikey=***" in message
    st = repr(client.status())
    for secret in (key, param_key, "env-secret-value", "tok-abcdef"):
        assert secret not in message and secret not in info.value.message and secret not in st


async def test_secret_echoed_in_error_body_is_redacted(make) -> None:
    client, _ = make(status(401, json={"message": "invalid key hdr-key-123"}),
                     status(400, json={"message": "bad token=zzzz9999"}),
                     headers={"X-Api-Key": "hdr-key-123"})
    with pytest.raises(NtProviderAuthError) as info:
        await client.get_json("/x")
    assert "hdr-key-123" not in str(info.value)
    with pytest.raises(NtUserError) as info2:
        await client.get_json("/x")
    assert "zzzz9999" not in str(info2.value) and "token=***" in str(info2.value)


# -- status, settings, sharing --------------------------------------------------------------------------
async def test_status_reports_everything(make, fake: FakeTime) -> None:
    client, _ = make(status(500), ok(), rate=RateLimit.per_minute(200), breaker=BREAKER)  # 0.5 s refills 1.67
    await client.get_json("/x")
    st = client.status()
    assert st.provider == "acme" and st.base_urls == (BASE,)
    assert st.rate_limit.limit == 200 and st.rate_limit.per == 60 and st.rate_limit.capacity == 200
    assert st.rate_limit.remaining == 199 and st.rate_limit.refill_per_second == pytest.approx(200 / 60)
    assert st.breaker.state == "closed" and st.breaker.threshold == 3 and st.breaker.cooldown == 30
    assert (st.requests, st.attempts, st.retries, st.refused) == (1, 2, 1, 0)
    assert st.last_error.status == 500 and st.last_error.type == "unavailable"
    assert st.last_error.at == datetime.fromtimestamp(1_700_000_000.0 + 1000, UTC)
    assert st.last_success_at == datetime.fromtimestamp(fake.wall(), UTC)


def test_same_provider_same_client_and_shared_state(settings: Settings) -> None:
    service = HttpService(settings, transport=httpx.MockTransport(Upstream(ok())))
    a = service.client("acme", base_url=BASE, rate=RateLimit.per_minute(10))
    assert service.client("acme", base_url=BASE) is a
    b = service.client("acme", base_url="https://trading.example.test")
    assert b is not a and b.status().rate_limit.limit == 10
    assert service.status("acme").base_urls == (BASE, "https://trading.example.test")
    assert service.status("other") is None and [s.provider for s in service.statuses()] == ["acme"]
    with pytest.raises(ValueError, match="provider names"):
        service.client("Bad-Name", base_url=BASE)


async def test_settings_override_adapter_policies(make, monkeypatch: pytest.MonkeyPatch, fake: FakeTime) -> None:
    for key, value in {"RATE_PER_MINUTE": "100", "RATE_BURST": "5", "MAX_RETRIES": "0",
                       "BREAKER_FAILURES": "1", "BREAKER_COOLDOWN": "7", "TIMEOUT": "2.5"}.items():
        monkeypatch.setenv(f"NT_ACME_{key}", value)
    client, upstream = make(httpx.ReadTimeout("slow"), rate=RateLimit.per_minute(200), breaker=BREAKER)
    with pytest.raises(NtUnavailable, match=r"within 2\.5 s"):
        await client.get_json("/x")
    st = client.status()
    assert (st.rate_limit.limit, st.rate_limit.capacity) == (100, 5)
    assert st.breaker.state == "open" and st.breaker.cooldown == 7 and upstream.calls == 1


async def test_settings_can_add_or_remove_a_rate_limit(make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_ACME_RATE_PER_SECOND", "0.5")
    client, _ = make(ok())
    st = client.status().rate_limit
    assert st.refill_per_second == pytest.approx(0.5) and st.capacity == 1
    monkeypatch.setenv("NT_ACME_RATE_PER_SECOND", "0")
    client, _ = make(ok(), rate=RateLimit.per_minute(200))
    assert client.status().rate_limit is None


def test_settings_from_toml_plugins_section(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[plugins.acme]\nrate_per_minute = 30\nrate_block = false\n', encoding="utf-8")
    settings = load_settings(env={"NT_CONFIG": str(config)}, data_dir=tmp_path)
    client = HttpService(settings).client("acme", base_url=BASE, rate=RateLimit.per_minute(200))
    st = client.status().rate_limit
    assert st.limit == 30 and st.block is False


@pytest.mark.parametrize(("key", "value", "text"), [
    ("RATE_PER_MINUTE", "lots", "NT_ACME_RATE_PER_MINUTE must be a number, got 'lots'"),
    ("MAX_RETRIES", "1.5", "NT_ACME_MAX_RETRIES must be a whole number"),
    ("RATE_BLOCK", "maybe", "NT_ACME_RATE_BLOCK must be true or false"),
    ("TIMEOUT", "-1", "NT_ACME_TIMEOUT must not be negative"),
    ("BREAKER_FAILURES", "0", "breaker failures must be >= 1"),
])
def test_bad_settings_say_which_variable(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                         key: str, value: str, text: str) -> None:
    monkeypatch.setenv(f"NT_ACME_{key}", value)
    with pytest.raises(NtUserError, match=text):
        HttpService(settings).client("acme", base_url=BASE, rate=RateLimit.per_minute(1))


def test_services_http_is_lazy_shared_and_closed(settings: Settings) -> None:
    services = Services(settings)
    assert services._http is None
    http = services.http
    assert services.http is http
    http.client("acme", base_url=BASE)
    services.close()
    assert services._http is None


def test_clients_work_across_event_loops(settings: Settings) -> None:
    """The CLI runs each call in its own ``anyio.run``; a pooled client must not outlive its loop."""
    upstream = Upstream(ok())
    service = HttpService(settings, transport=httpx.MockTransport(upstream))
    client = service.client("acme", base_url=BASE)
    for _ in range(3):
        assert anyio.run(client.get_json, "/x") == {"ok": True}
    assert upstream.calls == 3
    service.close()


async def test_aclose_closes_the_loops_client(settings: Settings) -> None:
    service = HttpService(settings, transport=httpx.MockTransport(Upstream(ok())))
    client = service.client("acme", base_url=BASE)
    await client.get_json("/x")
    inner = client._client()
    await service.aclose()
    assert inner.is_closed
    assert await client.get_json("/x") == {"ok": True}  # a new pool opens on demand


# -- Redis-shared buckets ------------------------------------------------------------------------------
@pytest.mark.redis
async def test_replicas_share_a_provider_quota_through_redis(tmp_path: Path, redis_url: str,
                                                             fake: FakeTime) -> None:
    settings = load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path,
                             redis_url=redis_url)
    prefix = f"nt:test:{uuid.uuid4().hex[:12]}:ratelimit:"
    upstream = Upstream(ok())
    replicas = [HttpService(settings, transport=httpx.MockTransport(upstream), clock=fake.clock,
                            sleep=fake.sleep, wall_clock=fake.wall, redis_prefix=prefix) for _ in range(2)]
    clients = [r.client("acme", base_url=BASE, rate=RateLimit(limit=4, per=60, block=False)) for r in replicas]
    try:
        for i in range(4):
            await clients[i % 2].get_json("/x")
        for client in clients:
            with pytest.raises(NtRateLimited):
                await client.get_json("/x")
        st = clients[1].status().rate_limit
        assert st.backend == "redis" and st.remaining == 0
        fake.now += 15  # one token back, for whichever replica asks first
        await clients[1].get_json("/x")
        with pytest.raises(NtRateLimited):
            await clients[0].get_json("/x")
        assert upstream.calls == 5
    finally:
        cleaner = redis.Redis.from_url(redis_url)
        cleaner.delete(*cleaner.keys(f"{prefix}*") or [f"{prefix}none"])
        cleaner.close()
        for r in replicas:
            r.close()


async def test_redis_down_falls_back_to_memory(tmp_path: Path, fake: FakeTime,
                                               caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path,
                             redis_url="redis://127.0.0.1:1/0")
    service = HttpService(settings, transport=httpx.MockTransport(Upstream(ok())), clock=fake.clock,
                          sleep=fake.sleep, wall_clock=fake.wall)
    client = service.client("acme", base_url=BASE, rate=RateLimit(limit=2, per=60, block=False))
    await client.get_json("/x")
    await client.get_json("/x")
    with pytest.raises(NtRateLimited):
        await client.get_json("/x")
    assert client.status().rate_limit.backend == "memory (redis down)"
    warnings = [r.getMessage() for r in caplog.records if "Redis is not answering" in r.getMessage()]
    assert len(warnings) == 1 and "rate limiting provider acme in this process only" in warnings[0]
    service.close()
