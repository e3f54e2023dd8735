"""Identities and roles (deny by default), and object-level checks: one identity's orders are
invisible to another, over REST and MCP, with API keys and JWTs alike; an admin sees every order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from neural_trader.frontends import mcp
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Scope
from neural_trader.services.identity import (
    ROLES,
    identities_of,
    intersect_scopes,
    may_see_owner,
    owner_matches,
    scopes_for_roles,
)

from .conftest import claims, hs256, mcp_call, mcp_result, rest_client, settings_for

READ, TRADE, ADMIN = Scope.READ, Scope.TRADE, Scope.ADMIN


def test_roles_map_to_scopes_and_unknown_roles_grant_nothing() -> None:
    assert scopes_for_roles(["viewer"]) == {READ}
    assert scopes_for_roles(["trader"]) == {READ, TRADE}
    assert scopes_for_roles(["admin"]) == {ADMIN}
    assert scopes_for_roles([]) == frozenset() and scopes_for_roles(["root", "superuser"]) == frozenset()
    assert set(ROLES) == {"viewer", "trader", "admin"}
    key = Identity(name="k", scopes=frozenset({ADMIN}))
    assert intersect_scopes(key, frozenset({READ, TRADE})) == {READ, TRADE}
    assert intersect_scopes(Identity(name="k", scopes=frozenset({READ})), frozenset({ADMIN})) == {READ}


def test_owner_matching_is_exact() -> None:
    alice = Identity(name="alice", scopes=frozenset({TRADE}))
    assert owner_matches("alice", alice) and owner_matches("alice:0123456789ab", alice)
    for other in ("alicex", "alice:bob", "alice:0123456789ab:x", "bob:0123456789ab", "ALICE", "alic"):
        assert not owner_matches(other, alice), other
    assert may_see_owner("bob", Identity(name="ops", scopes=frozenset({ADMIN})))
    assert may_see_owner("bob")  # no bound caller: trusted in-process code (CLI, reconciliation)


async def _status(client: httpx.AsyncClient, token: str, path: str = "/v1/system/ping", **body: Any) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    response = await (client.post(path, json=body, headers=headers) if body else client.get(path, headers=headers))
    return response.status_code


async def test_deny_by_default_and_roles_cap_keys(security_host: Host) -> None:
    identities = identities_of(security_host)
    keys = security_host.services.keys
    identities.create("nobody", roles=[])
    identities.create("viewer1", roles=["viewer"])
    _, nobody = keys.create("nobody", frozenset({ADMIN}))
    _, viewer = keys.create("viewer1", frozenset({TRADE}))
    async with rest_client(security_host) as client:
        assert await _status(client, nobody) == 403  # no role: not even read
        assert await _status(client, viewer) == 200
        # the key says trade, the identity's role only read: read wins
        assert await _status(client, viewer, "/v1/trade/execute", symbol="AAPL") == 403
        assert await _status(client, hs256(claims("someone", roles=("root",)))) == 403  # unknown role
        assert await _status(client, hs256(claims("viewer1", roles=("admin",))), "/v1/trade/execute",
                             symbol="AAPL") == 403  # a token cannot raise its identity's roles
        identities.set_roles("viewer1", ["trader"])
        assert await _status(client, viewer, "/v1/trade/execute", symbol="AAPL") == 422  # now allowed: validation
        identities.disable("viewer1")
        assert await _status(client, viewer) == 401


def _buy(coid: str) -> dict[str, Any]:
    return {"client_order_id": coid, "symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit",
            "limit_price": "0.50", "confirm": True}


async def _post(client: httpx.AsyncClient, token: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


async def _listed(client: httpx.AsyncClient, token: str) -> set[str]:
    response = await _post(client, token, "/v1/orders/list", {})
    assert response.status_code == 200, response.text
    return {o["client_order_id"] for o in response.json()["orders"]}


@pytest.fixture
def order_host(db_url: str, tmp_path: Path) -> Iterator[Host]:
    """Every plugin, on SQLite and on the real PostgreSQL (the owner checks are SQL)."""
    host = make_host(settings=settings_for(tmp_path, **({} if db_url.startswith("sqlite") else {"database_url": db_url})))
    yield host
    host.close()


@pytest.fixture
def traders(order_host: Host) -> dict[str, str]:
    identities = identities_of(order_host)
    keys = order_host.services.keys
    tokens = {}
    # One desk account shared by all three: the owner checks within an account (tests/security/
    # test_account_isolation.py has identities on accounts of their own).
    for name, role, scope in (("alice", "trader", TRADE), ("bob", "trader", TRADE), ("ops", "admin", ADMIN)):
        identities.create(name, roles=[role], account="desk")
        tokens[name] = keys.create(name, frozenset({scope}))[1]
    return tokens


async def test_orders_of_one_identity_are_invisible_to_another(order_host: Host, traders: dict[str, str]) -> None:
    alice, bob, ops = traders["alice"], traders["bob"], traders["ops"]
    async with rest_client(order_host) as client:
        for token, coid in ((alice, "alice-1"), (bob, "bob-1")):
            placed = await _post(client, token, "/v1/trade/execute", _buy(coid))
            assert placed.status_code == 200, placed.text
        assert await _listed(client, alice) == {"alice-1"}
        assert await _listed(client, bob) == {"bob-1"}
        assert await _listed(client, ops) == {"alice-1", "bob-1"}
        # a JWT for alice sees what her key placed (the owner is the identity)
        assert await _listed(client, hs256(claims("alice"))) == {"alice-1"}
        # bob cannot read, cancel, replace or re-use alice's order: it reads as absent
        for path, body in (("/v1/orders/get", {"client_order_id": "alice-1"}),
                           ("/v1/orders/cancel", {"client_order_id": "alice-1", "confirm": True}),
                           ("/v1/orders/replace", {"client_order_id": "alice-1", "qty": "2", "confirm": True})):
            response = await _post(client, bob, path, body)
            assert response.status_code == 404, (path, response.text)
            assert "alice-1" in response.json()["error"]["message"]
        reused = await _post(client, bob, "/v1/trade/execute", _buy("alice-1"))
        assert reused.status_code == 409 and "already used" in reused.json()["error"]["message"]
        # cancel_all cancels only the caller's own orders
        canceled = await _post(client, bob, "/v1/orders/cancel_all", {"confirm": True})
        assert canceled.status_code == 200, canceled.text
        assert {o["client_order_id"] for o in canceled.json()["orders"]} == {"bob-1"}
        mine = await _post(client, alice, "/v1/orders/get", {"client_order_id": "alice-1"})
        assert mine.status_code == 200 and mine.json()["order"]["status"] not in ("canceled", "pending_cancel")
        assert (await _post(client, ops, "/v1/orders/get", {"client_order_id": "alice-1"})).status_code == 200


async def test_object_level_checks_hold_over_mcp_http(order_host: Host, traders: dict[str, str]) -> None:
    with TestClient(mcp.build_http_app(order_host), base_url="http://127.0.0.1") as mcp_http:
        _mcp_isolation(mcp_http, traders)


def _mcp_isolation(mcp_http: TestClient, traders: dict[str, str]) -> None:
    placed = mcp_result(mcp_call(mcp_http, "trade_execute", _buy("alice-mcp"), traders["alice"]))
    assert not placed.get("isError"), placed
    bobs = mcp_result(mcp_call(mcp_http, "orders_list", {}, traders["bob"]))["structuredContent"]["orders"]
    assert bobs == []
    got = mcp_result(mcp_call(mcp_http, "orders_get", {"client_order_id": "alice-mcp"}, traders["bob"]))
    assert got["isError"] and "alice-mcp" in got["content"][0]["text"]
    alices = mcp_result(mcp_call(mcp_http, "orders_list", {}, traders["alice"]))["structuredContent"]["orders"]
    assert [o["client_order_id"] for o in alices] == ["alice-mcp"]


def test_identity_store_and_revocations_on_every_backend(storage: object, tmp_path: object) -> None:
    """The identities and revoked_tokens tables on SQLite and PostgreSQL (the ``storage`` fixture)."""
    import datetime as dt

    from neural_trader.errors import NtConflict, NtUnauthorized, NtUserError
    from neural_trader.services.identity import IdentityStore
    from neural_trader.services.tokens import TokenVerifier

    from .conftest import settings_for

    store = IdentityStore(storage, cache_ttl=0)  # type: ignore[arg-type]
    created = store.create("Svc-1", roles=["viewer", "trader"], kind="service")
    assert (created.name, created.roles, created.scopes) == ("svc-1", ("trader", "viewer"), ("read", "trade"))
    with pytest.raises(NtConflict):
        store.create("svc-1", roles=[])
    with pytest.raises(NtUserError, match="unknown role"):
        store.create("svc-2", roles=["root"])
    with pytest.raises(NtUserError, match="no ':'"):
        store.create("a:b", roles=[])
    assert [r.name for r in store.list()] == ["svc-1"]
    assert store.disable("svc-1").disabled_at is not None and store.enable("svc-1").active
    assert store.revoke_tokens("svc-1").tokens_valid_after is not None
    key = Identity(name="svc-1", scopes=frozenset({ADMIN}), key_id="0123456789ab")
    assert store.apply(key).scopes == {READ, TRADE}
    store.disable("svc-1")
    with pytest.raises(NtUnauthorized, match="disabled"):
        store.apply(key)
    verifier = TokenVerifier(settings_for(tmp_path), storage, store)  # type: ignore[arg-type]
    verifier.revoke("jti-1", subject="svc-1")
    verifier.revoke("jti-1", subject="svc-1")  # twice: the first stands
    verifier.revoke("jti-old", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert verifier.is_revoked("jti-1") and not verifier.is_revoked("jti-2")
    assert verifier.purge_expired() == 1
