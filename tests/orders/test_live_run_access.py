"""Whose live runs: through the REST app, a trader lists, reads and stops only the runs it started
(another's run is not found, and absent from lists), its run's orders are its own (it sees them,
and a resumed run finds them), an admin and the operator see every run; and a start that is refused
(an account the caller may not trade, a live broker with live trading off, settings a run cannot
simulate, no bars) answers the error and leaves no run behind, not one left "running"."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from neural_trader.domain.orders import BrokerSpec
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.frontends import rest
from neural_trader.hookspecs import hookimpl
from neural_trader.host import Host, make_host
from neural_trader.ops import Scope
from neural_trader.services.identity import identities_of
from neural_trader.services.live_runner import LiveRuns, RunSpec
from neural_trader.settings import load_settings

SECRET = "test-secret-" + "s" * 40
ISSUER, AUDIENCE = "https://auth.example.test", "neural-trader"
REPLAY: dict[str, Any] = {"strategy": "sma_crossover", "symbol": "SPY", "mode": "replay", "provider": "synthetic",
                          "start": "2024-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z",
                          "strategy_params": {"fast": 5, "slow": 20}, "wait": True, "confirm": True}


def _never(host: Any) -> Any:
    raise AssertionError("a live broker must be refused before it is built")


class LivePlugin:
    @hookimpl
    def nt_register_brokers(self, register: Any) -> None:
        register(BrokerSpec(name="realmoney", summary="a broker that moves real money", live=True, create=_never))


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NT_BROKER", "NT_TRADING_ACCOUNT", "NT_ENABLE_LIVE_TRADING", "NT_MARKET_CHAIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    settings = load_settings(env={"NT_CONFIG": str(tmp_path / "none.toml")}, data_dir=tmp_path / "data",
                             jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                             rate_limit_read="0", rate_limit_trade="0")
    built = make_host(settings=settings, plugins=[LivePlugin()])
    yield built
    built.close()


@pytest.fixture
def keys(host: Host) -> dict[str, tuple[str, str]]:
    """(key id, token) of alice and bob (traders) and ops (an admin)."""
    out = {}
    for name, role, scope in (("alice", "trader", Scope.TRADE), ("bob", "trader", Scope.TRADE),
                              ("ops", "admin", Scope.ADMIN)):
        identities_of(host).create(name, roles=[role])
        record, token = host.services.keys.create(name, frozenset({scope}))
        out[name] = (record.key_id, token)
    return out


def _jwt(sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600,
                       "jti": f"jti-{sub}-{time.monotonic_ns()}", "roles": ["trader"]}, SECRET, algorithm="HS256")


def _client(host: Host) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rest.build_app(host)), base_url="http://127.0.0.1")


async def _call(client: httpx.AsyncClient, token: str, op: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/" + op.replace(".", "/"), json=body, headers={"Authorization": f"Bearer {token}"})


async def _ok(client: httpx.AsyncClient, token: str, op: str, body: dict[str, Any] | None = None) -> Any:
    response = await _call(client, token, op, body or {})
    assert response.status_code == 200, (op, response.text)
    return response.json()


async def _ids(client: httpx.AsyncClient, token: str) -> set[str]:
    return {r["run_id"] for r in (await _ok(client, token, "strategy.status"))["runs"]}


async def _operator(host: Host, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A call with no bound caller: the operator (as from the CLI)."""
    return await host.operation(name).call(params, host.context())


async def test_a_traders_replay_is_invisible_to_another(host: Host, keys: dict[str, tuple[str, str]]) -> None:
    (alice_key, alice), (_, bob), (_, ops) = keys["alice"], keys["bob"], keys["ops"]
    async with _client(host) as client:
        mine = await _ok(client, alice, "strategy.run", REPLAY)
        assert mine["state"] == "finished" and mine["orders"] > 5 and mine["error"] is None
        assert mine["owner"] == f"alice:{alice_key}"
        run_id = mine["run_id"]
        # starting it again resumes it: her orders are found as hers, nothing is sent twice
        assert await _ok(client, alice, "strategy.run", REPLAY) == mine

        # bob: no run at all, and alice's reads as one that does not exist
        assert await _ids(client, bob) == set()
        for op, body in (("strategy.status", {"run_id": run_id}), ("strategy.stop", {"run_id": run_id})):
            response = await _call(client, bob, op, body)
            assert response.status_code == 404 and run_id in response.text, (op, response.text)
        assert (await _ok(client, bob, "strategy.stop", {"all": True}))["runs"] == []
        # the same settings started by bob are a run of his own, with its own paper account
        his = await _ok(client, bob, "strategy.run", REPLAY)
        assert his["run_id"] != run_id and his["account"] == his["run_id"] and his["owner"].startswith("bob:")
        assert his["fills"] == mine["fills"]  # the same bars, the same strategy
        assert await _ids(client, bob) == {his["run_id"]}
        assert await _ids(client, alice) == {run_id}
        # alice's JWT is alice: her run shows
        assert await _ids(client, _jwt("alice")) == {run_id}
        # an admin sees every run
        assert await _ids(client, ops) == {run_id, his["run_id"]}
        assert (await _ok(client, ops, "strategy.status", {"run_id": run_id}))["runs"] == [mine]

    # the operator sees every run; its own run of the same settings has the id it had before owners
    assert {r["run_id"] for r in (await _operator(host, "strategy.status", {}))["runs"]} == {run_id, his["run_id"]}
    spec = RunSpec(strategy="sma_crossover", params={"fast": 5, "slow": 20}, symbol="SPY", mode="replay",
                   provider="synthetic", start="2024-01-01T00:00:00+00:00", end="2024-12-31T00:00:00+00:00")
    operators = await _operator(host, "strategy.run", REPLAY)
    assert operators["run_id"] == spec.run_id and operators["owner"] is None
    assert operators["run_id"] not in (run_id, his["run_id"])
    async with _client(host) as client:
        assert await _ids(client, alice) == {run_id}  # the operator's run is not hers either
        # an admin, who sees every run, shares the operator's: the same settings are the same run, resumed
        resumed = await _ok(client, ops, "strategy.run", REPLAY)
        assert resumed == operators


async def test_a_traders_live_run_is_stopped_only_by_itself(host: Host, keys: dict[str, tuple[str, str]]) -> None:
    (_, alice), (_, bob), (_, ops) = keys["alice"], keys["bob"], keys["ops"]
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=120)).replace(hour=0, minute=0, second=0, microsecond=0)
    live = {"strategy": "sma_crossover", "symbol": "SPY", "provider": "synthetic", "mode": "live",
            "start": start.isoformat(), "poll_interval": 0.05, "strategy_params": {"fast": 3, "slow": 8},
            "confirm": True}
    async with _client(host) as client:
        run = await _ok(client, alice, "strategy.run", live)
        run_id = run["run_id"]
        assert run["state"] == "running" and run["account"] == "alice" and run["broker"] == "paper"
        for _ in range(200):
            status = (await _ok(client, alice, "strategy.status", {"run_id": run_id}))["runs"][0]
            if status["fills"] > 0:
                break
            await asyncio.sleep(0.05)
        assert status["fills"] > 0 and status["error"] is None, status

        # bob can neither see nor stop it; it keeps running
        assert await _ids(client, bob) == set()
        assert (await _call(client, bob, "strategy.stop", {"run_id": run_id})).status_code == 404
        assert (await _ok(client, bob, "strategy.stop", {"all": True}))["runs"] == []
        assert LiveRuns.for_host(host).runs[run_id].state == "running"
        assert await _ids(client, ops) == {run_id}

        stopped = (await _ok(client, alice, "strategy.stop", {"run_id": run_id}))["runs"][0]
        assert stopped["state"] == "stopped"
        # the run's orders are alice's: in her account, hers to see; bob's account has none
        orders = [o["client_order_id"] for o in (await _ok(client, alice, "orders.list"))["orders"]]
        assert len(orders) == stopped["orders"] + stopped["rejected"] > 0
        assert all(c.startswith(run_id + ".") for c in orders)
        assert (await _ok(client, bob, "orders.list"))["orders"] == []


async def _refused(client: httpx.AsyncClient, token: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    response = await _call(client, token, "strategy.run", body)
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def test_a_refused_start_leaves_no_run(host: Host, keys: dict[str, tuple[str, str]]) -> None:
    (_, alice), (_, ops) = keys["alice"], keys["ops"]
    live = {"strategy": "sma_crossover", "symbol": "SPY", "provider": "synthetic", "mode": "live",
            "poll_interval": 0.05, "confirm": True}
    runs = LiveRuns.for_host(host)
    async with _client(host) as client:
        for _ in range(2):  # twice: the second is refused again, not answered with a run left "running"
            # an account alice may not trade
            assert "trades account 'alice' only" in str(await _refused(client, alice, {**live, "account": "bob"}, 403))
            # a broker that moves real money, with live trading off
            payload = await _refused(client, alice, {**live, "broker": "realmoney"}, 403)
            assert "live trading is off" in str(payload) and "live_trading_disabled" in str(payload)
            # settings a run cannot simulate, found as it starts
            costs = {**REPLAY, "config": {"commission_fixed": 1.0}}
            assert "set commission_fixed to 0" in str(await _refused(client, alice, costs, 422))
            trailing = {**live, "config": {"trailing_stop": 0.05}}
            assert "trailing-stop exits are not simulated" in str(await _refused(client, alice, trailing, 422))
            # no bars to replay
            none = await _call(client, alice, "strategy.run", {**REPLAY, "provider": "no_such_provider"})
            assert none.status_code in (400, 404), none.text
            assert runs.runs == {}
            assert await _ids(client, alice) == set() and await _ids(client, ops) == set()
        # nothing of them on disk either
        assert not list((Path(host.settings.data_dir) / "live-runs").glob("*.json"))
        # an admin may name another account: the same settings run
        theirs = await _ok(client, ops, "strategy.run", {**live, "account": "bob", "wait": False})
        assert theirs["state"] == "running" and theirs["account"] == "bob"
        assert (await _ok(client, ops, "strategy.stop", {"all": True}))["runs"][0]["state"] == "stopped"


async def test_a_refused_restart_keeps_the_run_it_would_have_replaced(host: Host,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = await _operator(host, "strategy.run", REPLAY)
    assert first["state"] == "finished"

    async def no_bars(self: LiveRuns, spec: RunSpec) -> Any:
        raise NtNotFound("no bars today")

    monkeypatch.setattr(LiveRuns, "_source", no_bars)
    with pytest.raises(NtNotFound, match="no bars today"):
        await _operator(host, "strategy.run", REPLAY)
    assert (await _operator(host, "strategy.status", {"run_id": first["run_id"]}))["runs"] == [first]


async def test_a_start_waiting_on_one_that_is_refused_learns_why(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()

    async def slow_refusal(self: LiveRuns, spec: RunSpec) -> Any:
        await release.wait()
        raise NtUserError("refused while starting")

    monkeypatch.setattr(LiveRuns, "_source", slow_refusal)
    runs = LiveRuns.for_host(host)
    spec = RunSpec(strategy="sma_crossover", symbol="SPY", mode="replay", start="2024-01-01T00:00:00+00:00")
    starting = asyncio.ensure_future(runs.start(spec))
    await asyncio.sleep(0.01)
    assert runs.runs[spec.run_id].state == "running"  # launching: a second start finds it
    waiting = asyncio.ensure_future(runs.start(spec, wait=True))
    await asyncio.sleep(0.01)
    release.set()
    with pytest.raises(NtUserError, match="refused while starting"):
        await starting
    joined = await asyncio.wait_for(waiting, 5)
    assert joined.state == "failed" and joined.error == "NtUserError: refused while starting"
    assert runs.runs == {}
