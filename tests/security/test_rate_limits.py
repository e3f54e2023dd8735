"""Caller rate limits: per identity, per operation class (trade stricter than read), 429 with
Retry-After on REST and a tool error on MCP, and one limit shared by two replicas through Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from neural_trader.errors import NtUserError
from neural_trader.frontends import mcp, rest
from neural_trader.host import Host, make_host
from neural_trader.services.call_limits import operation_class, parse_rate

from .conftest import claims, hs256, mcp_call, mcp_result, settings_for


def test_rates_parse_and_classes_follow_the_registry() -> None:
    assert parse_rate("0", setting="x") is None
    rate = parse_rate("60/30", setting="x")
    assert rate is not None and (rate.limit, rate.per, rate.block) == (60, 30.0, False)
    assert parse_rate("10", setting="x").per == 60  # type: ignore[union-attr]
    with pytest.raises(NtUserError, match="rate_limit_trade"):
        parse_rate("ten a minute", setting="rate_limit_trade")
    host = make_host()
    assert operation_class(host.operation("system.ping")) == "read"
    assert operation_class(host.operation("trade.execute")) == "trade"
    assert operation_class(host.operation("orders.cancel")) == "trade"


def _limited_host(tmp: Path, **overrides: str) -> Host:
    return make_host(settings=settings_for(tmp, rate_limit_read="5/60", rate_limit_trade="2/60", **overrides))


def _client(host: Host) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rest.build_app(host)), base_url="http://127.0.0.1")


async def test_limits_are_per_identity_and_per_class(tmp_path: Path) -> None:
    host = _limited_host(tmp_path)
    alice = {"Authorization": f"Bearer {hs256(claims('alice'))}"}
    bob = {"Authorization": f"Bearer {hs256(claims('bob'))}"}
    async with _client(host) as client:
        trade = [(await client.post("/v1/trade/execute", json={}, headers=alice)).status_code for _ in range(3)]
        assert trade == [422, 422, 429]  # the third trade-class call is over 2/60, before validation
        refused = await client.post("/v1/trade/execute", json={}, headers=alice)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["type"] == "rate_limited"
        assert refused.json()["error"]["details"]["class"] == "trade"
        # reads have a bucket of their own, and bob has his own buckets
        assert (await client.get("/v1/system/ping", headers=alice)).status_code == 200
        assert (await client.post("/v1/trade/execute", json={}, headers=bob)).status_code == 422
        reads = [(await client.get("/v1/system/ping", headers=bob)).status_code for _ in range(6)]
        assert reads == [200] * 5 + [429]
        # a caller without the scope is refused (403) before its rate limit is touched
        viewer = {"Authorization": f"Bearer {hs256(claims('vic', roles=('viewer',)))}"}
        assert [(await client.post("/v1/trade/execute", json={}, headers=viewer)).status_code
                for _ in range(4)] == [403] * 4
    host.close()


def test_mcp_http_callers_are_limited_too(tmp_path: Path) -> None:
    host = _limited_host(tmp_path)
    token = hs256(claims("carol"))
    with TestClient(mcp.build_http_app(host), base_url="http://127.0.0.1") as client:
        answers = [mcp_result(mcp_call(client, "trade_execute", {}, token)) for _ in range(3)]
    assert [a.get("isError") for a in answers] == [True, True, True]
    assert "used them up" in answers[2]["content"][0]["text"]
    assert "used them up" not in answers[1]["content"][0]["text"]
    host.close()


@pytest.mark.redis
async def test_two_replicas_on_one_redis_share_the_limit(tmp_path: Path, redis_url: str) -> None:
    """Two hosts (two replicas: own processes' state, one database, one Redis) enforce one limit."""
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    replicas = [_limited_host(tmp_path / name, redis_url=redis_url, database_url=db) for name in ("a", "b")]
    who = f"dana-{uuid.uuid4().hex[:8]}"  # a fresh bucket in the shared Redis
    headers = {"Authorization": f"Bearer {hs256(claims(who))}"}
    async with _client(replicas[0]) as one, _client(replicas[1]) as two:
        first = (await one.post("/v1/trade/execute", json={}, headers=headers)).status_code
        second = (await two.post("/v1/trade/execute", json={}, headers=headers)).status_code
        third_here = await one.post("/v1/trade/execute", json={}, headers=headers)
        third_there = await two.post("/v1/trade/execute", json={}, headers=headers)
    assert (first, second) == (422, 422)
    assert third_here.status_code == 429 and third_there.status_code == 429, (third_here.text, third_there.text)
    for host in replicas:
        host.close()
