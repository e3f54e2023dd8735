"""One identity's account is invisible to another: each registered identity trades an account of its
own (or the one it is bound to), with its own order manager and its own paper book, so another
trader's positions, cash, orders and limits never show, over REST and MCP, with keys and JWTs; an
admin acts on its own account; the CLI and unregistered callers trade the configured account. On
SQLite and on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from neural_trader.domain.market import Quote
from neural_trader.domain.orders import BrokerSpec, OrderRequest, OrderSide, OrderType
from neural_trader.errors import NtForbidden, NtNotFound, NtUserError
from neural_trader.frontends import mcp
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.market.provider import BaseProvider, Capabilities, ProviderSpec
from neural_trader.ops import Identity, Scope
from neural_trader.services.identity import IdentityStore, account_of, bound_caller, identities_of
from neural_trader.services.tables_orders import PaperOrderRow
from neural_trader.testing import CliRunner

from .conftest import claims, hs256, mcp_call, mcp_result, rest_client, settings_for

D = decimal.Decimal
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
START_CASH = D(100_000)  # the paper broker's initial cash
# A market buy of 10 AAPL fills at the ask, 100.1, with no costs: 1001 paid.
ALICE_CASH = START_CASH - 10 * D("100.1")


class FixedQuotes(BaseProvider):
    """Observed quotes (a price reference for market orders): AAPL 99.9 / 100.1."""

    name = "fixed"
    capabilities = Capabilities(bars=False, quotes=True, cacheable=False)

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        if symbol != "AAPL":
            raise NtNotFound(f"no fixed quote for {symbol}")
        return Quote(symbol=symbol, time=T0, bid=99.9, ask=100.1, provider=self.name)


def _one_book(host: Any) -> Any:
    from neural_trader_plugins.brokers.paper import PaperBroker

    class OneBook(PaperBroker):
        """A broker whose book cannot be split by our accounts (like one real account at Alpaca)."""

        for_account = None

    return OneBook(host.services.storage, name="onebook")


class TestPlugin:
    @hookimpl
    def nt_register_data_providers(self, register: Any) -> None:
        register(ProviderSpec(name="fixed", summary="fixed test quotes", capabilities=FixedQuotes.capabilities,
                              create=lambda ctx: FixedQuotes()))

    @hookimpl
    def nt_register_brokers(self, register: Any) -> None:
        register(BrokerSpec(name="onebook", summary="one book for every account", live=False, create=_one_book))


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_MARKET_CHAIN", "fixed")
    for name in ("NT_BROKER", "NT_TRADING_ACCOUNT", "NT_ENABLE_LIVE_TRADING"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def host(db_url: str, tmp_path: Path) -> Iterator[Host]:
    """Every plugin plus the fixed quotes, on SQLite and on the real PostgreSQL."""
    overrides: dict[str, Any] = {} if db_url.startswith("sqlite") else {"database_url": db_url}
    built = make_host(settings=settings_for(tmp_path, **overrides), plugins=[TestPlugin()])
    yield built
    built.close()


@pytest.fixture
def keys(host: Host) -> dict[str, str]:
    """API keys of alice and bob (traders), ops (an admin) and legacy (a key of no registered identity)."""
    identities = identities_of(host)
    out = {}
    for name, role, scope in (("alice", "trader", Scope.TRADE), ("bob", "trader", Scope.TRADE),
                              ("ops", "admin", Scope.ADMIN)):
        identities.create(name, roles=[role])
        out[name] = host.services.keys.create(name, frozenset({scope}))[1]
    out["legacy"] = host.services.keys.create("legacy", frozenset({Scope.TRADE}))[1]
    return out


def _buy(coid: str, **extra: Any) -> dict[str, Any]:
    return {"client_order_id": coid, "symbol": "AAPL", "side": "buy", "qty": "10", "confirm": True, **extra}


async def _post(client: httpx.AsyncClient, token: str, op: str, body: dict[str, Any] | None = None) -> Any:
    response = await client.post("/v1/" + op.replace(".", "/"), json=body or {},
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, (op, response.text)
    return response.json()


async def _status(client: httpx.AsyncClient, token: str, op: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/" + op.replace(".", "/"), json=body, headers={"Authorization": f"Bearer {token}"})


async def _book(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """What ``token``'s caller sees of its account, through every reading operation."""
    return {
        "positions": {p["symbol"]: D(p["qty"]) for p in (await _post(client, token, "positions.list"))["positions"]},
        "account": await _post(client, token, "account.get"),
        "portfolio": await _post(client, token, "portfolio.status"),
        "orders": [o["client_order_id"] for o in (await _post(client, token, "orders.list"))["orders"]],
        "analytics": await _post(client, token, "execution.analytics"),
        "status": await _post(client, token, "trading.status"),
        "limits": await _post(client, token, "risk.limits.get"),
    }


def _is_empty(book: dict[str, Any], account: str) -> None:
    assert book["positions"] == {} and book["orders"] == []
    assert book["account"]["account"] == account
    assert D(book["account"]["cash"]) == D(book["account"]["broker_cash"]) == START_CASH
    assert book["portfolio"]["holdings"] == [] and D(book["portfolio"]["cash"]) == START_CASH
    assert book["portfolio"]["account"] == account
    assert book["analytics"]["orders"] == 0 and book["analytics"]["executions"] == []
    assert book["status"]["account"] == account and book["status"]["open_orders"] == 0
    assert book["limits"] == {"account": account, "limits": []}


async def test_one_traders_portfolio_is_invisible_to_another_over_rest(host: Host, keys: dict[str, str]) -> None:
    alice, bob = keys["alice"], keys["bob"]
    async with rest_client(host) as client:
        placed = await _post(client, alice, "trade.execute", _buy("alice-1"))
        assert placed["status"] == "filled" and D(placed["avg_fill_price"]) == D("100.1")
        await _post(client, alice, "trade.execute", _buy("alice-2", type="limit", limit_price="50"))  # rests

        mine = await _book(client, alice)
        assert mine["positions"] == {"AAPL": D(10)} and mine["orders"] == ["alice-1", "alice-2"]
        assert mine["account"]["account"] == "alice"
        # booked from the fills, and as her own paper book reports it
        assert D(mine["account"]["cash"]) == D(mine["account"]["broker_cash"]) == ALICE_CASH
        assert D(mine["portfolio"]["cash"]) == ALICE_CASH and mine["status"]["open_orders"] == 1

        # bob: an account of his own, untouched; nothing of alice's shows anywhere
        _is_empty(await _book(client, bob), "bob")
        for op, body in (("orders.get", {"client_order_id": "alice-1"}),
                         ("orders.cancel", {"client_order_id": "alice-2", "confirm": True}),
                         ("orders.replace", {"client_order_id": "alice-2", "qty": "1", "confirm": True})):
            response = await _status(client, bob, op, body)
            assert response.status_code == 404, (op, response.text)
        reused = await _status(client, bob, "trade.execute", _buy("alice-1"))
        assert reused.status_code == 409 and "already used" in reused.text
        assert (await _post(client, bob, "orders.cancel_all", {"confirm": True}))["orders"] == []
        # bob's sell has no position to come from: his own book is flat, so it opens a short of his
        sold = await _post(client, bob, "trade.execute", {**_buy("bob-1"), "side": "sell", "qty": "3"})
        assert sold["status"] == "filled"
        bobs = await _book(client, bob)
        assert bobs["positions"] == {"AAPL": D(-3)} and bobs["orders"] == ["bob-1"]
        assert D(bobs["account"]["cash"]) == START_CASH + 3 * D("99.9")

        # alice's account is unchanged by all that: her order still rests, her cash is hers
        again = await _book(client, alice)
        assert again["positions"] == {"AAPL": D(10)} and D(again["account"]["cash"]) == ALICE_CASH
        assert (await _post(client, alice, "orders.get", {"client_order_id": "alice-2"}))["order"]["status"] \
            == "accepted"
        # a JWT for alice trades the same account as her key (the account is the identity's)
        assert (await _book(client, hs256(claims("alice"))))["positions"] == {"AAPL": D(10)}
        # a rebalance dry run sizes from her equity and holdings only
        plan = await _post(client, alice, "portfolio.rebalance", {"targets": {"AAPL": "0"}, "prices": {"AAPL": "100"}})
        assert D(plan["equity"]) == ALICE_CASH + 10 * 100
        assert [(line["symbol"], line["side"], D(line["qty"])) for line in plan["lines"]] == [("AAPL", "sell", D(10))]

    # each account's paper orders live in a book of its own (the configured account keeps "paper")
    with host.services.storage.session() as session:
        books = {r.client_order_id: r.broker for r in session.exec(select(PaperOrderRow)).all()}
    assert books == {"alice-1": "paper/alice", "alice-2": "paper/alice", "bob-1": "paper/bob"}


async def test_an_admin_acts_on_its_own_account_until_bound_to_another(host: Host, keys: dict[str, str]) -> None:
    alice, bob, ops = keys["alice"], keys["bob"], keys["ops"]
    async with rest_client(host) as client:
        await _post(client, alice, "trade.execute", _buy("alice-1"))
        # an admin without a bound account trades an account of its own: alice's is not in it
        _is_empty(await _book(client, ops), "ops")
        assert (await _status(client, ops, "orders.get", {"client_order_id": "alice-1"})).status_code == 404
        # a trader cannot halt or set limits at all
        for op, body in (("trading.halt", {"confirm": True}), ("risk.limits.set", {"max_order_qty": "1"})):
            assert (await _status(client, bob, op, body)).status_code == 403, op

        identities_of(host).set_account("ops", "alice")
        theirs = await _book(client, ops)
        assert theirs["positions"] == {"AAPL": D(10)} and theirs["orders"] == ["alice-1"]
        assert D(theirs["account"]["cash"]) == ALICE_CASH
        limits = await _post(client, ops, "risk.limits.set", {"max_order_qty": "5"})
        assert limits["account"] == "alice"
        halted = await _post(client, ops, "trading.halt", {"reason": "review", "confirm": True})
        assert halted["state"] == "halted"

        # alice's account is halted and limited; bob's is not
        refused = await _post(client, alice, "trade.execute", _buy("alice-2", qty="1"))
        assert refused["status"] == "rejected" and refused["reason_code"] == "trading_halted"
        assert (await _post(client, alice, "risk.limits.get"))["limits"][0]["max_order_qty"] == "5"
        assert (await _post(client, bob, "trading.status"))["state"] == "active"
        assert (await _post(client, bob, "risk.limits.get"))["limits"] == []
        assert (await _post(client, bob, "trade.execute", _buy("bob-1")))["status"] == "filled"

        identities_of(host).set_account("ops", None)  # back to its own
        assert (await _post(client, ops, "trading.status"))["account"] == "ops"


async def test_the_cli_and_unregistered_callers_trade_the_configured_account(host: Host,
                                                                             keys: dict[str, str]) -> None:
    cli = CliRunner(host)
    done = cli.invoke("trade", "execute", "--params", json.dumps(_buy("cli-1")), "--json")
    assert done.exit_code == 0, done.output
    async with rest_client(host) as client:
        _is_empty(await _book(client, keys["alice"]), "alice")
        # a key whose name is no registered identity (from before identities) trades the configured account
        legacy = await _book(client, keys["legacy"])
        assert legacy["account"]["account"] == "default" and legacy["positions"] == {"AAPL": D(10)}
        await _post(client, keys["alice"], "trade.execute", _buy("alice-1", qty="4"))
    shown = cli.invoke("positions", "list", "--json")
    assert shown.exit_code == 0, shown.output
    assert [(p["symbol"], D(p["qty"])) for p in json.loads(shown.output)["positions"]] == [("AAPL", D(10))]
    account = json.loads(cli.invoke("account", "get", "--json").output)
    assert account["account"] == "default" and D(account["cash"]) == START_CASH - 10 * D("100.1")


def test_accounts_are_isolated_over_mcp_http(host: Host, keys: dict[str, str]) -> None:
    with TestClient(mcp.build_http_app(host), base_url="http://127.0.0.1") as client:
        def call(tool: str, arguments: dict[str, Any], token: str) -> dict[str, Any]:
            result = mcp_result(mcp_call(client, tool, arguments, token))
            assert not result.get("isError"), result
            content: dict[str, Any] = result["structuredContent"]
            return content

        assert call("trade_execute", _buy("alice-mcp"), keys["alice"])["status"] == "filled"
        assert [p["symbol"] for p in call("positions_list", {}, keys["alice"])["positions"]] == ["AAPL"]
        assert call("positions_list", {}, keys["bob"])["positions"] == []
        account = call("account_get", {}, keys["bob"])
        assert account["account"] == "bob" and D(account["cash"]) == D(account["broker_cash"]) == START_CASH
        portfolio = call("portfolio_status", {}, keys["bob"])
        assert portfolio["holdings"] == [] and D(portfolio["equity"]) == START_CASH
        assert call("orders_list", {}, keys["bob"])["orders"] == []
        assert D(call("account_get", {}, keys["alice"])["cash"]) == ALICE_CASH


async def test_only_the_operator_and_admins_may_name_another_account(host: Host) -> None:
    identities = identities_of(host)
    identities.create("alice", roles=["trader"])
    identities.create("carol", roles=["trader"], account="desk")
    identities.create("ops", roles=["admin"])
    trading = host.services.trading
    alice = Identity(name="alice", scopes=frozenset({Scope.TRADE}))
    carol = Identity(name="carol", scopes=frozenset({Scope.TRADE}))
    ops = Identity(name="ops", scopes=frozenset({Scope.ADMIN}))
    assert trading.account_for() == "default" and trading.account_for("bob") == "bob"
    with bound_caller(alice):
        assert trading.account_for() == trading.account_for("alice") == trading.account_name == "alice"
        with pytest.raises(NtForbidden, match=r"alice trades account 'alice' only, not 'bob'.*set-account alice bob"):
            trading.account_for("bob")
        with pytest.raises(NtForbidden):
            await trading.call(lambda m: m.cash(), account="default")
    with bound_caller(carol):
        assert trading.account_for() == "desk"
    with bound_caller(ops):
        assert trading.account_for() == "ops" and trading.account_for("alice") == "alice"
        assert await trading.call(lambda m: m.account, account="alice") == "alice"


async def test_a_broker_with_one_book_trades_only_the_configured_account(host: Host, keys: dict[str, str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_BROKER", "onebook")
    async with rest_client(host) as client:
        legacy = await _post(client, keys["legacy"], "account.get")
        assert (legacy["account"], legacy["broker"]) == ("default", "onebook")
        refused = await _status(client, keys["alice"], "positions.list", {})
        assert refused.status_code == 403
        message = refused.json()["error"]["message"]
        assert "only the configured account 'default', not 'alice'" in message and "set-account" in message
        identities_of(host).set_account("alice", "default")
        assert (await _post(client, keys["alice"], "account.get"))["account"] == "default"


def test_identities_are_bound_to_accounts_on_every_backend(storage: Any) -> None:
    store = IdentityStore(storage, cache_ttl=0)
    assert store.create("alice", roles=["trader"]).account is None
    assert store.get("alice").trading_account == "alice"
    desk = store.create("svc", roles=["trader"], kind="service", account=" Desk-1 ")
    assert (desk.account, desk.trading_account) == ("Desk-1", "Desk-1")
    assert store.set_account("alice", "desk.eu").trading_account == "desk.eu"
    assert store.set_account("alice", None).trading_account == "alice"
    for bad in ("", "a b", "-x", "a:b", "x" * 65):
        with pytest.raises(NtUserError, match="account must be 1 to 64"):
            store.create("bad", roles=[], account=bad)
        with pytest.raises(NtUserError, match="account must be 1 to 64"):
            store.set_account("alice", bad)
    with pytest.raises(NtNotFound):
        store.set_account("nobody", "desk")
    # who trades what: the operator and unregistered callers the configured account
    assert account_of(None, store, default="main") == "main"
    assert account_of(Identity(name="legacy", scopes=frozenset({Scope.TRADE})), store, default="main") == "main"
    assert account_of(Identity(name="svc", scopes=frozenset({Scope.TRADE})), store, default="main") == "Desk-1"


def test_the_identity_commands_bind_accounts(host: Host) -> None:
    cli = CliRunner(host)
    made = cli.invoke("identities", "create", "dave", "--roles", "trader", "--account", "desk", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["account"] == "desk"
    moved = cli.invoke("identities", "set-account", "dave", "desk-2", "--json")
    assert moved.exit_code == 0 and json.loads(moved.output)["account"] == "desk-2"
    own = cli.invoke("identities", "set-account", "dave", "--own", "--json")
    assert own.exit_code == 0 and json.loads(own.output)["account"] is None
    for args in (("dave",), ("dave", "desk", "--own")):
        wrong = cli.invoke("identities", "set-account", *args, "--json")
        assert wrong.exit_code != 0 and "--own" in wrong.output
    bad = cli.invoke("identities", "set-account", "dave", "no way", "--json")
    assert bad.exit_code != 0 and "account must be" in bad.output


async def test_the_paper_broker_keeps_one_book_per_account(storage: Any) -> None:
    from neural_trader_plugins.brokers.paper import PaperBroker

    shared = PaperBroker(storage)
    alice, bob = shared.for_account("alice"), shared.for_account("bob")
    assert (shared.book, alice.book, bob.book, alice.name) == ("paper", "paper/alice", "paper/bob", "paper")
    assert len(shared.for_account("x" * 64).book) <= 64
    assert shared.for_account("x" * 64).book != shared.for_account("x" * 63 + "y").book
    for broker, coid in ((alice, "a-1"), (bob, "b-1")):
        await broker.submit(OrderRequest(client_order_id=coid, symbol="AAPL", side=OrderSide.BUY, qty=D(1),
                                         type=OrderType.LIMIT, limit_price=D(1)))
    assert [o.client_order_id for o in await alice.open_orders()] == ["a-1"]
    assert [o.client_order_id for o in await bob.open_orders()] == ["b-1"]
    assert await shared.open_orders() == [] and await alice.lookup("b-1") is None
