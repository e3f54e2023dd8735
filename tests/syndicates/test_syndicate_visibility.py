"""Syndicates are invisible to non-members, and members are bound to callers (issue 16), through the
REST app and MCP over HTTP with real identities, API keys and JWTs, on SQLite and PostgreSQL.

A caller without the admin scope sees a syndicate only where an active member is bound to its
identity: every other syndicate answers, on every operation, exactly what a syndicate that does not
exist answers. It acts only as its own member; an admin caller sees and acts as everyone.
"""

from __future__ import annotations

import decimal
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from neural_trader.errors import NtConflict, NtForbidden, NtNotFound, NtValidationError
from neural_trader.frontends import mcp, rest
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Scope
from neural_trader.services.audit import canonical_json
from neural_trader.services.identity import identities_of
from neural_trader.settings import load_settings
from neural_trader_plugins.syndicates.tables import LedgerRow, MemberRow

from .conftest import call, founders

SECRET = "visibility-secret-" + "v" * 40
ISSUER, AUDIENCE = "https://auth.example.test", "neural-trader"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
#: The club: alice founds it; manny manages; carol is a member; "Zed" (no identity name) only an operator acts as.
CLUB = {"syndicate_id": "club", "name": "Club", "rules": {"lockup_days": 0, "notice_days": 0, "min_balance": "0"},
        "founders": [{"member_id": "alice", "name": "Alice", "role": "admin", "deposit": "1000.00"},
                     {"member_id": "manny", "name": "Manny", "role": "manager", "deposit": "500.00"},
                     {"member_id": "carol", "name": "Carol", "role": "member", "deposit": "500.00"},
                     {"member_id": "Zed", "name": "Zed", "role": "member", "deposit": "100.00"}]}


@pytest.fixture
def club_host(db_url: str, tmp_path: Path) -> Iterator[Host]:
    """Every plugin, on SQLite and on the real PostgreSQL (the list is SQL), HS256 tokens, no rate limits."""
    values: dict[str, Any] = {"jwt_secret": SECRET, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
                              "rate_limit_read": "0", "rate_limit_trade": "0"}
    if not db_url.startswith("sqlite"):
        values["database_url"] = db_url
    host = make_host(settings=load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path / "data",
                                            **values))
    yield host
    host.close()


@pytest.fixture
def keys(club_host: Host) -> dict[str, str]:
    """An API key each: four traders and an administrator."""
    identities, out = identities_of(club_host), {}
    for name, role, scope in (("alice", "trader", Scope.TRADE), ("manny", "trader", Scope.TRADE),
                              ("carol", "trader", Scope.TRADE), ("bob", "trader", Scope.TRADE),
                              ("ops", "admin", Scope.ADMIN)):
        identities.create(name, roles=[role])
        out[name] = club_host.services.keys.create(name, frozenset({scope}))[1]
    return out


def token_for(sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600,
                       "jti": f"jti-{sub}-{time.monotonic_ns()}", "roles": ["trader"]}, SECRET, algorithm="HS256")


class Rest:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, token: str, op: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/v1/syndicate/{op}", json=body, headers={"Authorization": f"Bearer {token}"})

    async def ok(self, token: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self(token, op, body)
        assert response.status_code == 200, (op, response.text)
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def api(club_host: Host, keys: dict[str, str]) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rest.build_app(club_host)),
                                 base_url="http://127.0.0.1") as client:
        api = Rest(client)
        await api.ok(keys["alice"], "create", CLUB)
        yield api


def _error(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    body = response.json()["error"]
    return response.status_code, {k: v for k, v in body.items() if k != "request_id"}


def _by_syndicate(club_host: Host) -> list[str]:
    """Every syndicate operation on one syndicate (all but create and list), from the registry."""
    return sorted(op.name.removeprefix("syndicate.") for op in club_host.operations
                  if op.name.startswith("syndicate.") and op.name not in ("syndicate.create", "syndicate.list"))


async def test_a_non_member_finds_no_syndicate_on_any_operation(club_host: Host, keys: dict[str, str],
                                                                api: Rest) -> None:
    ops = _by_syndicate(club_host)
    assert len(ops) == 23 and "status" in ops and "ledger_verify" in ops
    for name in ops:
        example = dict(club_host.operation(f"syndicate.{name}").examples[0])
        theirs = await api(keys["bob"], name, {**example, "syndicate_id": "club", "actor": "bob"})
        absent = await api(keys["bob"], name, {**example, "syndicate_id": "nowhere", "actor": "bob"})
        status, error = _error(theirs)
        assert status == 404, (name, theirs.text)
        # byte for byte what a syndicate that does not exist answers: nothing says it is there
        assert (status, {**error, "message": error["message"].replace("'club'", "'nowhere'")}) == _error(absent), name
    # a JWT for bob is bob: the same answer
    assert (await api(token_for("bob"), "status", {"syndicate_id": "club", "actor": "alice"})).status_code == 404
    # nothing was written by the attempts: the ledger is as alice left it
    verified = await api.ok(keys["alice"], "ledger_verify", {"syndicate_id": "club", "actor": "alice"})
    assert verified["ok"] and verified["records"] == 1 + 4 + 4


async def test_the_list_holds_only_the_callers_syndicates(keys: dict[str, str], api: Rest) -> None:
    assert (await api.ok(keys["bob"], "list", {}))["syndicates"] == []
    assert (await api.ok(keys["bob"], "list", {"actor": "alice"}))["syndicates"] == []   # naming a member won't help
    await api.ok(keys["bob"], "create", {"syndicate_id": "bobs", "name": "Bob's", "founders": founders(
        ("bob", "admin", "50.00"), ("carol", "member", None))})
    mine = {s["syndicate_id"]: s["role"] for s in (await api.ok(keys["alice"], "list", {}))["syndicates"]}
    assert mine == {"club": "admin"}
    assert {s["syndicate_id"]: s["role"] for s in (await api.ok(keys["bob"], "list", {}))["syndicates"]} == {
        "bobs": "admin"}
    carols = await api.ok(token_for("carol"), "list", {})
    assert {s["syndicate_id"]: s["role"] for s in carols["syndicates"]} == {"bobs": "member", "club": "member"}
    # an administrator sees every syndicate, as the operator does
    assert [s["syndicate_id"] for s in (await api.ok(keys["ops"], "list", {}))["syndicates"]] == ["bobs", "club"]
    assert (await api(keys["alice"], "status", {"syndicate_id": "bobs", "actor": "alice"})).status_code == 404


async def test_a_member_may_not_act_as_another(keys: dict[str, str], api: Rest) -> None:
    club = {"syndicate_id": "club"}
    refusals = (
        ("vote_cast", {"actor": "alice", "proposal_id": "p1", "option": "approve"}),
        ("withdraw_request", {"actor": "alice", "request_id": "as-alice", "amount": "100.00"}),
        ("withdraw_approve", {"actor": "manny", "request_id": "c1", "approve": True}),
        ("deposit", {"actor": "Zed", "deposit_id": "as-zed", "amount": "1.00"}),
        ("member_performance", {"actor": "manny", "member_id": "alice"}),
    )
    await api.ok(keys["alice"], "vote_create", {**club, "actor": "alice", "proposal_id": "p1", "title": "More tennis"})
    await api.ok(keys["carol"], "withdraw_request", {**club, "actor": "carol", "request_id": "c1", "amount": "100.00"})
    for token in (keys["carol"], token_for("carol")):
        for op, body in refusals:
            response = await api(token, op, {**club, **body})
            assert response.status_code == 403, (op, response.text)
            message = response.json()["error"]["message"]
            assert message == (f"the caller 'carol' may act only as the member of syndicate 'club' bound to its "
                               f"identity, not as {body['actor']!r}: act as your member 'carol' (callers with the admin "
                               "scope may act as any member)"), op
    # as herself, her role decides: a member approves nobody's withdrawal
    own = await api(keys["carol"], "withdraw_approve", {**club, "actor": "carol", "request_id": "c1", "approve": True})
    assert own.status_code == 403 and "approve withdrawals needs the role admin, manager" in own.text
    # the manager's role allows deciding carol's request, as manny
    approved = await api.ok(keys["manny"], "withdraw_approve", {**club, "actor": "manny", "request_id": "c1",
                                                                "approve": True})
    assert approved["status"] == "approved"
    await api.ok(keys["carol"], "vote_cast", {**club, "actor": "carol", "proposal_id": "p1", "option": "approve"})
    # nothing was recorded as alice's: her money and her vote are untouched, only carol's 500 units were cast
    alice = await api.ok(keys["alice"], "member_performance", {**club, "actor": "alice"})
    assert alice["contributed"] == "1000.00"
    results = await api.ok(keys["alice"], "vote_results", {**club, "actor": "alice", "proposal_id": "p1"})
    assert decimal.Decimal(results["cast_weight"]) == 500
    requests = await api.ok(keys["manny"], "withdrawals", {**club, "actor": "manny"})
    assert [(w["request_id"], w["member_id"]) for w in requests["withdrawals"]] == [("c1", "carol")]
    # an administrator may act as any member, the unbound Zed included
    zed = await api.ok(keys["ops"], "deposit", {**club, "actor": "Zed", "deposit_id": "ops-zed", "amount": "1.00"})
    assert zed["member_id"] == "Zed"


async def test_creating_binds_the_caller_and_taken_ids_leak_nothing(keys: dict[str, str], api: Rest) -> None:
    without = await api(keys["bob"], "create", {"syndicate_id": "b1", "name": "B", "founders": founders(
        ("someone", "admin", None))})
    assert without.status_code == 403 and "must be one of the founders, as an admin" in without.text
    as_member = await api(keys["bob"], "create", {"syndicate_id": "b1", "name": "B", "founders": founders(
        ("ann", "admin", None), ("bob", "member", None))})
    assert as_member.status_code == 403
    # bound by an explicit identity: the member id need not be the identity's name
    made = await api.ok(keys["bob"], "create", {"syndicate_id": "b1", "name": "B", "founders": [
        {"member_id": "Robert", "name": "Robert", "role": "admin", "identity": "bob"}]})
    assert made["members"] == 1
    members = await api.ok(keys["bob"], "members", {"syndicate_id": "b1", "actor": "Robert"})
    assert [(m["member_id"], m["identity"], m["role"]) for m in members["members"]] == [("Robert", "bob", "admin")]
    # the same request again is idempotent for bob; from anyone else it is a conflict that shows no books
    again = await api.ok(keys["bob"], "create", {"syndicate_id": "b1", "name": "B", "founders": [
        {"member_id": "Robert", "name": "Robert", "role": "admin", "identity": "bob"}]})
    assert again["ledger_hash"] == made["ledger_hash"]
    taken = await api(keys["carol"], "create", {**CLUB, "founders": [*CLUB["founders"][:2], {
        "member_id": "carol", "name": "Carol", "role": "admin"}]})
    assert taken.status_code == 409 and "nav" not in taken.text and "choose another id" in taken.text
    # one identity is one member of a syndicate
    twice = await api(keys["bob"], "create", {"syndicate_id": "b2", "name": "B", "founders": [
        {"member_id": "bob", "name": "Bob", "role": "admin"}, {"member_id": "b", "name": "B", "identity": "bob"}]})
    assert twice.status_code == 422 and "each identity may act as one founder only" in twice.text


async def test_a_syndicate_admin_manages_members_and_their_bindings(keys: dict[str, str], api: Rest) -> None:
    club = {"syndicate_id": "club", "actor": "alice"}
    assert (await api(keys["bob"], "members", {**club, "actor": "bob"})).status_code == 404
    added = await api.ok(keys["alice"], "member_add", {**club, "member_id": "robert", "name": "Robert",
                                                       "identity": "bob"})
    assert added["identity"] == "bob"
    status = await api.ok(keys["bob"], "status", {"syndicate_id": "club", "actor": "robert"})
    assert status["members"] == 5
    # the manager may not change members (a syndicate admin's right), even with the trade scope
    refused = await api(keys["manny"], "member_update", {"syndicate_id": "club", "actor": "manny",
                                                         "member_id": "robert", "identity": "manny"})
    assert refused.status_code == 403 and "manage members needs the role admin" in refused.text
    clash = await api(keys["alice"], "member_update", {**club, "member_id": "robert", "identity": "carol"})
    assert clash.status_code == 409 and "already acts as member 'carol'" in clash.text
    await api.ok(keys["alice"], "member_remove", {**club, "member_id": "robert", "confirm": True})
    # a removed member's identity sees the syndicate no more
    assert (await api(keys["bob"], "status", {"syndicate_id": "club", "actor": "robert"})).status_code == 404
    assert (await api.ok(keys["bob"], "list", {}))["syndicates"] == []


def _mcp(client: TestClient, tool: str, arguments: dict[str, Any], token: str) -> dict[str, Any]:
    response = client.post("/mcp", headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"},
                           json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                 "params": {"name": tool, "arguments": arguments}})
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
    message = json.loads(text)
    assert "result" in message, message
    return message["result"]  # type: ignore[no-any-return]


async def test_the_same_rules_hold_over_mcp_http(club_host: Host, keys: dict[str, str], api: Rest) -> None:
    with TestClient(mcp.build_http_app(club_host), base_url="http://127.0.0.1") as client:
        theirs = _mcp(client, "syndicate_status", {"syndicate_id": "club", "actor": "bob"}, keys["bob"])
        absent = _mcp(client, "syndicate_status", {"syndicate_id": "nowhere", "actor": "bob"}, keys["bob"])
        assert theirs["isError"] and absent["isError"]
        assert theirs["content"][0]["text"].replace("'club'", "'nowhere'") == absent["content"][0]["text"]
        assert _mcp(client, "syndicate_list", {}, keys["bob"])["structuredContent"]["syndicates"] == []
        as_alice = _mcp(client, "syndicate_deposit", {"syndicate_id": "club", "actor": "alice", "deposit_id": "m",
                                                      "amount": "1.00"}, keys["carol"])
        assert as_alice["isError"] and "may act only as the member of syndicate 'club'" in as_alice["content"][0]["text"]
        mine = _mcp(client, "syndicate_list", {}, keys["carol"])["structuredContent"]["syndicates"]
        assert [s["syndicate_id"] for s in mine] == ["club"]


# -- in process: the operator, bindings by default, the members table -----------------------------------
def test_the_operator_sees_and_acts_as_everyone(sqlite_host: Host) -> None:
    call(sqlite_host, "create", **CLUB)
    assert [s["syndicate_id"] for s in call(sqlite_host, "list")["syndicates"]] == ["club"]
    members = {m["member_id"]: m["identity"] for m in call(sqlite_host, "members", syndicate_id="club",
                                                           actor="Zed")["members"]}
    # a member id that is an identity's name binds it; "Zed" (capital) is none, so only an operator acts as Zed
    assert members == {"alice": "alice", "carol": "carol", "manny": "manny", "Zed": None}


async def test_a_context_identity_without_a_bound_caller_is_checked_too(sqlite_host: Host) -> None:
    """In-process calls with a non-admin identity are held to the same rules as a network caller."""
    await sqlite_host.acall("syndicate.create", CLUB)
    status = sqlite_host.operation("syndicate.status")
    carol = sqlite_host.context(identity=Identity(name="carol", scopes=frozenset({Scope.READ})))
    stranger = sqlite_host.context(identity=Identity(name="zed", scopes=frozenset({Scope.READ})))
    assert (await status.call({"syndicate_id": "club", "actor": "carol"}, carol))["members"] == 4
    with pytest.raises(NtNotFound, match="no syndicate 'club'"):
        await status.call({"syndicate_id": "club", "actor": "Zed"}, stranger)
    with pytest.raises(NtForbidden, match="act as your member 'carol'"):
        await status.call({"syndicate_id": "club", "actor": "Zed"}, carol)


def test_members_table_follows_the_ledger_and_is_rebuilt_by_its_migration(host: Host) -> None:
    """On both databases (the migration's own SQL)."""
    call(host, "create", **CLUB)
    call(host, "member_update", syndicate_id="club", actor="alice", member_id="Zed", identity="zed")
    call(host, "member_add", syndicate_id="club", actor="alice", member_id="erin", name="Erin",
         role="observer")
    call(host, "member_remove", syndicate_id="club", actor="alice", member_id="erin", confirm=True)
    with pytest.raises(NtConflict, match="identity 'zed' already acts as member 'Zed'"):
        call(host, "member_add", syndicate_id="club", actor="alice", member_id="z2", name="Z", identity="zed")
    storage = host.services.storage

    def rows() -> set[tuple[str, str | None, str, bool]]:
        with storage.session() as session:
            return {(r.member_id, r.identity, r.role, r.active) for r in session.exec(select(MemberRow)).all()}

    expected = {("alice", "alice", "admin", True), ("manny", "manny", "manager", True),
                ("carol", "carol", "member", True), ("Zed", "zed", "member", True),
                ("erin", "erin", "observer", False)}
    assert rows() == expected
    # the migration fills the table from the ledgers already written, records from before members were
    # bound included (no identity named: a member id that is an identity's name is it)
    storage.downgrade("s0001", branch="syndicates")
    ledger = LedgerRow.__table__
    with storage.engine.begin() as connection:   # a database behind its head opens no session (PostgreSQL)
        legacy = connection.execute(sa.select(ledger.c.seq, ledger.c.data).where(ledger.c.kind == "member_added")).all()
        assert len(legacy) == 5 and all("identity" in json.loads(data) for _, data in legacy)
        for seq, data in legacy:
            plain = canonical_json({k: v for k, v in json.loads(data).items() if k != "identity"})
            connection.execute(sa.update(ledger).where(ledger.c.seq == seq).values(data=plain))
    storage.upgrade()
    assert rows() == expected
    # and the books read such records the same way
    assert {m["member_id"]: m["identity"] for m in call(host, "members", syndicate_id="club", actor="alice",
                                                       include_inactive=True)["members"]} == {
        "alice": "alice", "manny": "manny", "carol": "carol", "Zed": "zed", "erin": "erin"}


def test_an_identity_that_is_no_identity_name_is_refused_naming_the_field(sqlite_host: Host) -> None:
    call(sqlite_host, "create", **CLUB)
    with pytest.raises(NtValidationError, match=r"\"Bob:k1\" is not an identity name: .* @ \$\.identity"):
        call(sqlite_host, "member_add", syndicate_id="club", actor="alice", member_id="x", name="X", identity="Bob:k1")
