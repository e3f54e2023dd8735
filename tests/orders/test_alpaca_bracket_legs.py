"""Alpaca bracket legs are ours: a bracket entry sent through the order manager to a faked Alpaca
(recorded answers through httpx's mock transport) fills while nobody listens; after a restart Alpaca
lists its two legs as open orders of their own, under client order ids it made up. Reconciliation
stores them as the entry's legs (its owner, its id as their parent) and adopts nothing; a leg whose
id one of our other orders holds, or that is not the entry's take profit / stop loss, fails it and
overwrites nothing; an order really placed outside is still adopted."""

from __future__ import annotations

import copy
import decimal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from neural_trader.domain.orders import OrderRequest, OrderStatus
from neural_trader.services.http import HttpService
from neural_trader.services.orders import OrderManager
from neural_trader.services.storage import Storage
from neural_trader.services.tables_orders import OrderRow
from neural_trader.settings import load_settings
from neural_trader_plugins.brokers.alpaca import AlpacaBroker
from neural_trader_plugins.trading.api import OrderView

from .conftest import fixed_quotes
from .test_alpaca_broker import (
    BY_CLIENT_ID,
    KEYS,
    ORDERS,
    Replay,
    _no_real_keys,  # noqa: F401  (autouse: no real keys from the environment)
    fixture,
)

D = decimal.Decimal
S = OrderStatus
ENTRY = "strat-brk-0005"  # the recorded bracket's client order id
TP, SL = "9d1b6f3e-tp", "9d1b6f3e-sl"  # its legs' ids, made up by Alpaca


@pytest.fixture
def alpaca(tmp_path: Path) -> Iterator[Callable[[Replay], AlpacaBroker]]:
    """A new Alpaca broker (a process start) over ``replay``."""
    settings = load_settings(env={}, data_dir=tmp_path / "data")
    services: list[HttpService] = []

    def make(replay: Replay) -> AlpacaBroker:
        http = HttpService(settings, transport=httpx.MockTransport(replay))
        services.append(http)
        return AlpacaBroker(http=http, settings=settings, environ=KEYS)

    yield make
    for http in services:
        http.close()


def entry_request() -> OrderRequest:
    """The recorded bracket as our request: buy 100 SPY at market, take profit 301, stop 299 / 298.5."""
    return OrderRequest(client_order_id=ENTRY, symbol="SPY", side="buy", qty="100", type="market",
                        time_in_force="gtc", take_profit="301", stop_loss="299", stop_loss_limit="298.5")


def filled_entry(**leg_changes: dict[str, Any]) -> dict[str, Any]:
    """The recorded bracket after its entry filled at 300: its legs released (``new``), each changed
    by ``leg_changes[client order id]``."""
    body = copy.deepcopy(fixture("order_bracket_nested.json"))
    body.update(status="filled", filled_qty="100", filled_avg_price="300", filled_at="2021-03-16T18:39:00Z")
    for leg in body["legs"]:
        leg.update(status="new", **leg_changes.get(leg["client_order_id"], {}))
    return body


def top_level(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The open legs as ``GET /v2/orders`` lists them once the entry is done: orders of their own."""
    return [leg for leg in copy.deepcopy(body["legs"]) if leg["status"] not in ("filled", "canceled")]


def outside_order() -> dict[str, Any]:
    return fixture("order_by_client_order_id.json")  # AAPL, client order id nobody here made


SPY_100 = [{"symbol": "SPY", "qty": "100", "avg_entry_price": "300", "side": "long"}]


def make(make_manager: Callable[..., OrderManager], broker: AlpacaBroker) -> OrderManager:
    return make_manager(broker, quotes=fixed_quotes(SPY=("299.9", "300.1"), AAPL=("99.9", "100.1")))


async def placed(make_manager: Callable[..., OrderManager], alpaca: Callable[[Replay], AlpacaBroker],
                 *others: tuple[OrderRequest, dict[str, Any]]) -> OrderManager:
    """A manager that sent the bracket (Alpaca answers it ``new``, legs held) and ``others`` for alice."""
    replay = Replay()
    replay.add("GET", ORDERS, httpx.Response(200, json=[]))
    replay.add("GET", "/v2/positions", httpx.Response(200, json=[]))
    manager = make(make_manager, alpaca(replay))
    assert (await manager.start()).ok
    replay.add("POST", ORDERS, httpx.Response(200, json=fixture("order_bracket_nested.json")),
               *(httpx.Response(200, json=answer) for _, answer in others))
    order = await manager.submit(entry_request(), actor="alice")
    assert order.status is S.ACCEPTED and order.broker_order_id == fixture("order_bracket_nested.json")["id"]
    for request, _ in others:
        await manager.submit(request, actor="alice")
    return manager


def restart_replay(entry: dict[str, Any], open_orders: list[dict[str, Any]],
                   positions: list[dict[str, Any]] = SPY_100) -> Replay:
    replay = Replay()
    replay.add("GET", ORDERS, httpx.Response(200, json=open_orders))
    replay.add("GET", BY_CLIENT_ID, lambda request: httpx.Response(200, json=entry) if
               request.url.params["client_order_id"] == ENTRY else
               httpx.Response(404, json={"code": 40410000, "message": "order not found"}))
    replay.add("GET", "/v2/positions", httpx.Response(200, json=positions))
    return replay


def rows(storage: Storage) -> dict[str, OrderRow]:
    with storage.session() as session:
        return {r.client_order_id: r for r in session.exec(select(OrderRow)).all()}


async def test_a_restart_stores_the_alpaca_legs_of_our_filled_bracket_and_adopts_nothing(
        make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry()
    replay = restart_replay(entry, top_level(entry))
    restarted = make(make_manager, alpaca(replay))

    report = await restarted.start()

    assert report.ok, report
    assert report.adopted == ()
    assert {(d.kind, d.target) for d in report.discrepancies if d.kind != "order"} == {
        ("bracket_leg", TP), ("bracket_leg", SL)}
    assert all(d.repaired for d in report.discrepancies)
    stored = rows(storage)
    assert set(stored) == {ENTRY, TP, SL}
    for coid in (TP, SL):
        assert (stored[coid].owner, stored[coid].adopted, stored[coid].fingerprint["parent"]) == (
            "alice", False, ENTRY)
    take, stop = restarted.get(TP), restarted.get(SL)
    assert (take.parent, take.status, take.request.type.value, take.request.limit_price) == (
        ENTRY, S.ACCEPTED, "limit", D("301"))
    assert (stop.request.type.value, stop.request.stop_price, stop.request.limit_price) == (
        "stop_limit", D("299"), D("298.5"))
    assert take.request.side.value == stop.request.side.value == "sell"
    assert take.broker_order_id == entry["legs"][0]["id"] and stop.broker_order_id == entry["legs"][1]["id"]
    assert OrderView.of(take).parent == OrderView.of(stop).parent == ENTRY
    filled = restarted.get(ENTRY)
    assert (filled.status, filled.filled_qty, filled.avg_fill_price) == (S.FILLED, D(100), D(300))
    assert [(p.symbol, p.qty) for p in restarted.positions()] == [("SPY", D(100))]
    assert not replay.hits("POST", ORDERS)  # legs are Alpaca's orders: never sent
    # Once stored, a second reconciliation syncs them as ours, asking for no legs again.
    before = len(replay.hits("GET", BY_CLIENT_ID))
    again = await restarted.reconcile()
    assert again.ok and again.adopted == () and not [d for d in again.discrepancies if d.kind == "bracket_leg"]
    assert len(replay.hits("GET", BY_CLIENT_ID)) == before


async def test_legs_missing_from_the_lookup_come_from_the_nested_order(
        make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry()
    replay = restart_replay({**entry, "legs": None}, top_level(entry))
    replay.add("GET", f"{ORDERS}/{entry['id']}", httpx.Response(200, json=entry))
    restarted = make(make_manager, alpaca(replay))

    report = await restarted.start()

    assert report.ok and report.adopted == (), report
    assert rows(storage)[SL].fingerprint["parent"] == ENTRY
    (nested,) = replay.hits("GET", f"{ORDERS}/{entry['id']}")
    assert nested.url.params["nested"] == "true"


async def test_the_entry_names_the_alpaca_legs_it_stored(make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry()
    restarted = make(make_manager, alpaca(restart_replay(entry, top_level(entry))))
    assert (await restarted.start()).ok
    assert restarted.get(ENTRY).legs == (TP, SL)
    assert OrderView.of(restarted.get(ENTRY)).legs == [TP, SL]


async def test_a_leg_id_held_by_another_order_of_ours_fails_reconciliation_and_overwrites_nothing(
        make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    other = OrderRequest(client_order_id=TP, symbol="AAPL", side="buy", qty="1", type="market")
    answer = {**outside_order(), "client_order_id": TP, "id": "aaaaaaaa-0000-4000-8000-000000000001"}
    await placed(make_manager, alpaca, (other, answer))
    held = rows(storage)[TP]
    entry = filled_entry()
    restarted = make(make_manager, alpaca(restart_replay(entry, top_level(entry), positions=[])))

    report = await restarted.start()

    assert not report.ok and report.error is not None and TP in report.error and "NtConflict" in report.error
    assert report.adopted == ()
    after = rows(storage)
    assert set(after) == {ENTRY, TP}  # the stop loss is neither stored nor adopted
    assert (after[TP].symbol, after[TP].side, after[TP].status, after[TP].broker_order_id, after[TP].owner) == (
        held.symbol, held.side, held.status, held.broker_order_id, held.owner) == (
        "AAPL", "buy", "accepted", answer["id"], "alice")
    assert after[TP].fingerprint.get("parent") is None
    assert after[ENTRY].status == "accepted"  # the whole repair was rolled back
    with pytest.raises(Exception, match="reconcil"):
        await restarted.submit(OrderRequest(client_order_id="after-1", symbol="SPY", side="buy", qty="1"),
                               actor="alice")


@pytest.mark.parametrize("changes", [
    pytest.param({TP: {"limit_price": "350"}}, id="another take profit"),
    pytest.param({SL: {"stop_price": "250"}}, id="another stop"),
    pytest.param({TP: {"symbol": "QQQ"}}, id="another symbol"),
    pytest.param({SL: {"side": "buy"}}, id="the same side"),
    pytest.param({TP: {"qty": "101"}}, id="more than the entry"),
])
async def test_a_nested_order_that_is_not_the_brackets_exit_is_refused(
        make_manager, alpaca, storage, changes) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry(**changes)
    restarted = make(make_manager, alpaca(restart_replay(entry, top_level(entry))))

    report = await restarted.start()

    assert not report.ok and report.error is not None and "NtConflict" in report.error, report
    assert report.adopted == ()
    assert set(rows(storage)) == {ENTRY}


async def test_an_order_really_placed_outside_is_still_adopted(make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry()
    outside = outside_order()
    restarted = make(make_manager, alpaca(restart_replay(entry, [*top_level(entry), outside])))

    report = await restarted.start()

    assert report.ok, report
    assert report.adopted == (outside["client_order_id"],)
    stored = rows(storage)
    assert (stored[outside["client_order_id"]].owner, stored[outside["client_order_id"]].adopted) == (
        "outside", True)
    assert restarted.get(outside["client_order_id"]).parent is None
    assert stored[TP].owner == stored[SL].owner == "alice"


async def test_legs_of_someone_elses_bracket_are_not_made_ours(make_manager, alpaca, storage) -> None:  # type: ignore[no-untyped-def]
    await placed(make_manager, alpaca)
    entry = filled_entry()
    # Listed top level, they match no entry of ours; Alpaca's leg alone does not say what it is.
    strangers = [{**leg, "client_order_id": f"x-{leg['client_order_id']}", "id": f"{leg['id'][:-4]}ffff"}
                 for leg in top_level(entry)]
    restarted = make(make_manager, alpaca(restart_replay(entry, [*top_level(entry), *strangers])))

    report = await restarted.start()

    assert not report.ok and report.adopted == ()
    assert {(d.kind, d.target, d.repaired) for d in report.discrepancies if d.kind == "outside_order"} == {
        ("outside_order", s["client_order_id"], False) for s in strangers}
    assert set(rows(storage)) == {ENTRY, TP, SL}
