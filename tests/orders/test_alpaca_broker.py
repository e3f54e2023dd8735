"""The Alpaca broker against recorded answers (tests/fixtures/MANIFEST.broker.json): the request
bodies of every order type, a duplicate client order id resolved by lookup, a lost answer that is
never re-sent, every error status, cancel, cancel all, brackets, paging, positions, the account, fills
that repeated lookups do not double-count, and the live-trading switch. Nothing reaches the internet.
"""

from __future__ import annotations

import asyncio
import copy
import decimal
import functools
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neural_trader.domain.orders import TERMINAL, Order, OrderRequest, OrderStatus
from neural_trader.errors import NtConflict, NtNotFound, NtRateLimited, NtUnavailable, NtUserError
from neural_trader.services.http import HttpService, NtProviderAuthError, NtProviderError
from neural_trader.settings import Settings, load_settings
from neural_trader_plugins.brokers.alpaca import (
    LIVE_URL,
    PAPER_URL,
    STATUS_MAP,
    AlpacaBroker,
    BrokerRejected,
    LiveTradingDisabled,
    create,
    order_body,
    order_from_alpaca,
    request_from_alpaca,
)

D = decimal.Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEYS = {"NT_ALPACA_API_KEY": "PKTESTKEYID0001", "NT_ALPACA_API_SECRET": "paper-secret-value-0001"}
LIVE_KEYS = {"NT_ALPACA_LIVE_API_KEY": "AKLIVEKEYID0001", "NT_ALPACA_LIVE_API_SECRET": "live-secret-value-0001"}
ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"
ORDER_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
COID = "strat-momo-20240315-AAPL-0001"


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    return {e["file"]: e for e in json.loads((FIXTURES / "MANIFEST.broker.json").read_text())}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / "alpaca" / name).read_text())


def recorded(name: str, *, status: int | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """The recorded answer ``alpaca/<name>`` with the status and headers its manifest entry gives."""
    entry = manifest()[f"alpaca/{name}"]
    return httpx.Response(status or entry["status"], headers={**entry["headers"], **(headers or {})},
                          content=(FIXTURES / "alpaca" / name).read_bytes())


def order_json(name: str = "order_market_accepted.json", **changes: Any) -> httpx.Response:
    return httpx.Response(200, json={**fixture(name), **changes})


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Replay:
    """A mock Alpaca: per (method, path) a queue of answers (the last repeats); records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def add(self, method: str, path: str, *answers: Answer) -> None:
        self.routes.setdefault((method, path), []).extend(answers)

    def hits(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(599, json={"message": f"no route for {request.method} {request.url.path}"})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("NT_ALPACA", "APCA_")) or name == "NT_ENABLE_LIVE_TRADING":
            monkeypatch.delenv(name)


@pytest.fixture
def replay() -> Replay:
    return Replay()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, data_dir=tmp_path / "data")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_broker(settings: Settings, replay: Replay, sleeps: list[float]) -> Iterator[Callable[..., AlpacaBroker]]:
    services: list[HttpService] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    def make(environ: dict[str, str] | None = None, plugins: dict[str, Any] | None = None) -> AlpacaBroker:
        import attrs

        s = attrs.evolve(settings, plugins=plugins) if plugins else settings
        http = HttpService(s, transport=httpx.MockTransport(replay), sleep=sleep)
        services.append(http)
        return AlpacaBroker(http=http, settings=s, environ=KEYS if environ is None else environ)

    yield make
    for http in services:
        http.close()


@pytest.fixture
def broker(make_broker: Callable[..., AlpacaBroker]) -> AlpacaBroker:
    return make_broker()


# -- request bodies ---------------------------------------------------------------------------------
def _request_from(body: dict[str, Any], client_order_id: str) -> OrderRequest:
    """Our request for the order a request fixture describes."""
    legs: dict[str, Any] = {}
    if body.get("order_class") == "bracket":
        legs = {"take_profit": body["take_profit"]["limit_price"], "stop_loss": body["stop_loss"]["stop_price"],
                "stop_loss_limit": body["stop_loss"].get("limit_price")}
    prices = {k: body[k] for k in ("limit_price", "stop_price", "trail_price", "trail_percent") if k in body}
    return OrderRequest(client_order_id=client_order_id, symbol=body["symbol"], side=body["side"], qty=body["qty"],
                        type=body["type"], time_in_force=body["time_in_force"], **prices, **legs)


@pytest.mark.parametrize("name", ["market", "limit", "stop", "stop_limit", "trailing_stop", "bracket"])
async def test_each_order_type_posts_the_documented_body(broker: AlpacaBroker, replay: Replay, name: str) -> None:
    expected = fixture(f"order_request_{name}.json")
    # The documented trailing and bracket examples carry no client order id; we always send ours.
    expected.setdefault("client_order_id", f"nt-{name.replace('_', '-')}-1")
    if expected.get("extended_hours") is False:
        del expected["extended_hours"]  # Alpaca's default; our requests do not trade extended hours
    request = _request_from(expected, expected["client_order_id"])
    replay.add("POST", ORDERS, order_json(client_order_id=expected["client_order_id"], symbol=expected["symbol"]))

    await broker.submit(request)

    (post,) = replay.hits("POST", ORDERS)
    assert json.loads(post.content) == expected
    assert post.url.host == "paper-api.alpaca.markets"
    assert post.headers["APCA-API-KEY-ID"] == KEYS["NT_ALPACA_API_KEY"]
    assert post.headers["APCA-API-SECRET-KEY"] == KEYS["NT_ALPACA_API_SECRET"]


async def test_an_accepted_order_comes_back_with_alpacas_id(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("order_market_accepted.json"))
    order = await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    assert (order.client_order_id, order.broker_order_id, order.status) == (COID, ORDER_ID, OrderStatus.ACCEPTED)
    assert order.filled_qty == 0 and order.avg_fill_price is None and order.fills == ()


# -- duplicates and lost answers --------------------------------------------------------------------
async def test_a_duplicate_client_order_id_is_looked_up_not_rejected(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("error_422_duplicate_client_order_id.json", status=422))
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"))

    order = await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))

    assert order.broker_order_id == ORDER_ID and order.status is OrderStatus.ACCEPTED
    assert len(replay.hits("POST", ORDERS)) == 1
    (get,) = replay.hits("GET", BY_CLIENT_ID)
    assert get.url.params["client_order_id"] == COID and get.url.params["nested"] == "true"


async def test_a_duplicate_id_held_by_a_different_order_is_a_conflict(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("error_422_duplicate_client_order_id.json", status=422))
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"))  # 1 AAPL, not 7
    with pytest.raises(NtConflict, match=r"already used at alpaca by another order: qty 1 \(asked 7\)"):
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="7"))


@pytest.mark.parametrize("lost", [
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.Response(500, json={"message": "internal server error"}),
    httpx.Response(503, text="<html>service unavailable</html>"),
    httpx.Response(504, text=""),
    httpx.Response(200, text="<html>captive portal</html>"),
    httpx.Response(200, json={"unexpected": True}),
], ids=["timeout", "dropped", "500", "503", "504", "200-html", "200-no-order"])
async def test_a_lost_answer_is_unavailable_after_exactly_one_post(broker: AlpacaBroker, replay: Replay,
                                                                 lost: Answer) -> None:
    replay.add("POST", ORDERS, lost, recorded("order_market_accepted.json"))
    with pytest.raises(NtUnavailable):
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    assert len(replay.hits("POST", ORDERS)) == 1  # the queued success was never asked for


async def test_a_lost_answer_resolves_by_lookup(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("POST", ORDERS, httpx.ReadTimeout("timed out"))
    replay.add("GET", BY_CLIENT_ID, recorded("error_404_order_not_found.json", status=404),
               recorded("order_by_client_order_id.json"))
    with pytest.raises(NtUnavailable):
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    assert await broker.lookup(COID) is None  # not there (yet)
    found = await broker.lookup(COID)
    assert found is not None and found.broker_order_id == ORDER_ID
    assert len(replay.hits("POST", ORDERS)) == 1


async def test_reads_are_retried_where_an_order_post_is_not(broker: AlpacaBroker, replay: Replay,
                                                           sleeps: list[float]) -> None:
    """The contrast that shows the POST rule is real: the same 503 on a GET is retried."""
    replay.add("GET", "/v2/account", httpx.Response(503, json={"message": "busy"}), recorded("account.json"))
    account = await broker.account()
    assert account.equity == D("103820.56")
    assert len(replay.hits("GET", "/v2/account")) == 2 and len(sleeps) == 1


# -- errors -----------------------------------------------------------------------------------------
async def test_401_is_a_credentials_error_that_names_the_settings_not_the_keys(
        broker: AlpacaBroker, replay: Replay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    replay.add("POST", ORDERS, recorded("error_401_unauthorized.json", status=401))
    with pytest.raises(NtProviderAuthError) as raised:
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    assert "NT_ALPACA_API_KEY" in raised.value.message
    assert len(replay.hits("POST", ORDERS)) == 1
    seen = raised.value.message + json.dumps(raised.value.details) + caplog.text + repr(broker)
    for secret in KEYS.values():
        assert secret not in seen


async def test_403_insufficient_buying_power_is_a_rejection_with_a_reason(broker: AlpacaBroker,
                                                                          replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("error_403_insufficient_buying_power.json", status=403))
    with pytest.raises(BrokerRejected) as raised:
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    error = raised.value
    assert error.reason_code == "insufficient_buying_power" and isinstance(error, NtUserError)
    assert "insufficient buying power" in error.message
    assert error.details["code"] == 40310000 and error.details["reason_code"] == "insufficient_buying_power"
    assert len(replay.hits("POST", ORDERS)) == 1


async def test_422_stop_price_is_a_user_error_with_alpacas_message(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("error_422_stop_price.json", status=422))
    with pytest.raises(NtUserError, match="stop price must be less than current price") as raised:
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="sell", qty="1",
                                         type="stop", stop_price="167.01"))
    assert not isinstance(raised.value, BrokerRejected | NtConflict)
    assert raised.value.details["code"] == 42210000


async def test_404_on_lookup_is_none(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("error_404_order_not_found.json", status=404))
    assert await broker.lookup("nt-nothing-here") is None


async def test_429_on_an_order_is_rate_limited_with_retry_after_and_not_resent(broker: AlpacaBroker,
                                                                              replay: Replay) -> None:
    replay.add("POST", ORDERS, recorded("error_429_rate_limited.json", status=429, headers={"Retry-After": "7"}),
               recorded("order_market_accepted.json"))
    with pytest.raises(NtRateLimited) as raised:
        await broker.submit(OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1"))
    assert raised.value.retry_after == 7.0
    assert len(replay.hits("POST", ORDERS)) == 1


# -- cancel -----------------------------------------------------------------------------------------
async def test_cancel_deletes_by_alpacas_id_and_returns_the_order_as_it_stands(broker: AlpacaBroker,
                                                                               replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"),
               order_json("order_by_client_order_id.json", status="pending_cancel"))
    replay.add("DELETE", f"{ORDERS}/{ORDER_ID}", recorded("cancel_order_204.json"))

    order = await broker.cancel(COID)

    assert order.status is OrderStatus.PENDING_CANCEL
    assert len(replay.hits("DELETE", f"{ORDERS}/{ORDER_ID}")) == 1


async def test_cancel_of_a_filled_order_sends_nothing(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, order_json("order_by_client_order_id.json", status="filled", filled_qty="1",
                                               filled_avg_price="170.5", filled_at="2021-03-16T18:38:02Z"))
    order = await broker.cancel(COID)
    assert order.status is OrderStatus.FILLED and order.fills[0].price == D("170.5")
    assert replay.hits("DELETE", f"{ORDERS}/{ORDER_ID}") == []


async def test_cancel_that_lost_the_race_to_a_fill_returns_the_fill(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"),
               order_json("order_by_client_order_id.json", status="filled", filled_qty="1", filled_avg_price="170.5"))
    replay.add("DELETE", f"{ORDERS}/{ORDER_ID}",
               httpx.Response(422, json={"code": 42210000, "message": "order is not cancelable"}))
    order = await broker.cancel(COID)
    assert order.status is OrderStatus.FILLED


async def test_cancel_that_is_refused_while_the_order_works_raises(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"))
    replay.add("DELETE", f"{ORDERS}/{ORDER_ID}",
               httpx.Response(422, json={"code": 42210000, "message": "order is not cancelable"}))
    with pytest.raises(NtUserError, match="not cancelable"):
        await broker.cancel(COID)


async def test_cancel_of_an_unknown_order_is_not_found(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("error_404_order_not_found.json", status=404))
    with pytest.raises(NtNotFound):
        await broker.cancel("nt-nothing-here")
    assert [r.method for r in replay.requests] == ["GET"]


async def test_cancel_all_reports_each_order_of_the_207(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("DELETE", ORDERS, recorded("cancel_all_orders_207.json"))
    done, missing = await broker.cancel_all()
    assert (done.broker_order_id, done.ok, done.status) == ("497f6eca-6276-4993-bfeb-53cbbbba6f08", True, 200)
    assert (missing.ok, missing.status, missing.message) == (False, 404, "order not found")


# -- brackets, listing, holdings ---------------------------------------------------------------------
async def test_bracket_legs_come_from_the_nested_order(broker: AlpacaBroker, replay: Replay) -> None:
    parent = fixture("order_bracket_nested.json")
    replay.add("GET", BY_CLIENT_ID, httpx.Response(200, json={**parent, "legs": None}))
    replay.add("GET", f"{ORDERS}/{parent['id']}", recorded("order_bracket_nested.json"))

    entry = await broker.lookup("strat-brk-0005")
    take_profit, stop_loss = await broker.legs("strat-brk-0005")

    assert entry is not None and entry.status is OrderStatus.ACCEPTED and entry.broker_order_id == parent["id"]
    assert (take_profit.client_order_id, stop_loss.client_order_id) == ("9d1b6f3e-tp", "9d1b6f3e-sl")
    assert take_profit.status is OrderStatus.ACCEPTED and take_profit.reason == "alpaca status held"
    (nested,) = replay.hits("GET", f"{ORDERS}/{parent['id']}")
    assert nested.url.params["nested"] == "true"


async def test_a_simple_order_has_no_legs(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, recorded("order_by_client_order_id.json"))
    assert await broker.legs(COID) == ()


async def test_open_orders_asks_for_open_nested_orders(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", ORDERS, recorded("orders_list.json"))
    (order,) = await broker.open_orders()
    assert order.client_order_id == COID and order.status is OrderStatus.ACCEPTED
    (get,) = replay.hits("GET", ORDERS)
    assert get.url.params["status"] == "open" and get.url.params["nested"] == "true"
    assert get.url.params["direction"] == "asc" and "after" not in get.url.params


def _listed(n: int, second: int) -> dict[str, Any]:
    body = copy.deepcopy(fixture("orders_list.json")[0])
    body.update(id=f"order-{n}", client_order_id=f"nt-{n}", submitted_at=f"2024-03-15T14:30:{second:02d}.5Z")
    return body


async def test_open_orders_follow_pages_without_losing_orders_at_a_shared_time(broker: AlpacaBroker,
                                                                              replay: Replay) -> None:
    broker.page_limit = 2
    one, two, three, four = _listed(1, 1), _listed(2, 2), _listed(3, 2), _listed(4, 3)
    # Orders 2 and 3 were submitted in the same microsecond; the page ends between them.
    replay.add("GET", ORDERS, httpx.Response(200, json=[one, two]), httpx.Response(200, json=[two, three]),
               httpx.Response(200, json=[three, four]), httpx.Response(200, json=[four]))
    orders = await broker.open_orders()
    assert [o.client_order_id for o in orders] == ["nt-1", "nt-2", "nt-3", "nt-4"]
    afters = [r.url.params.get("after") for r in replay.hits("GET", ORDERS)]
    assert afters == [None, "2024-03-15T14:30:02.499999Z", "2024-03-15T14:30:02.499999Z",
                      "2024-03-15T14:30:03.499999Z"]
    assert {r.url.params["limit"] for r in replay.hits("GET", ORDERS)} == {"2"}


async def test_open_orders_refuse_a_page_that_cannot_advance(broker: AlpacaBroker, replay: Replay) -> None:
    broker.page_limit = 2
    same = [_listed(1, 1), _listed(2, 1)]
    replay.add("GET", ORDERS, httpx.Response(200, json=same))
    with pytest.raises(NtProviderError, match="share one submission time"):
        await broker.open_orders()


async def test_positions(broker: AlpacaBroker, replay: Replay) -> None:
    short = {**fixture("positions.json")[0], "symbol": "TSLA", "qty": "-3", "side": "short", "avg_entry_price": "250.5"}
    unsigned_short = {**short, "symbol": "NFLX", "qty": "2"}  # a short given as a size: still negative
    replay.add("GET", "/v2/positions", httpx.Response(200, json=[*fixture("positions.json"), short, unsigned_short]))
    aapl, tsla, nflx = await broker.positions()
    assert (aapl.symbol, aapl.qty, aapl.avg_price) == ("AAPL", D("5"), D("100.0"))
    assert (tsla.symbol, tsla.qty, tsla.avg_price) == ("TSLA", D("-3"), D("250.5"))
    assert nflx.qty == D("-2")
    assert aapl.unrealized_pnl(D("120.0")) == D("100.0")  # Alpaca's unrealized_pl for that price


async def test_account(broker: AlpacaBroker, replay: Replay) -> None:
    replay.add("GET", "/v2/account", recorded("account.json"))
    account = await broker.account()
    assert (account.cash, account.equity, account.buying_power) == (D("-23140.2"), D("103820.56"), D("262113.632"))
    assert account.currency == "USD" and account.broker == "alpaca"


# -- fills ------------------------------------------------------------------------------------------
def _filled(filled: str, avg: str, status: str = "partially_filled") -> dict[str, Any]:
    return {**fixture("order_by_client_order_id.json"), "qty": "10", "filled_qty": filled, "filled_avg_price": avg,
            "status": status, "filled_at": "2024-03-15T14:31:00Z"}


async def test_repeated_lookups_give_the_same_fill_and_the_increase_after(broker: AlpacaBroker,
                                                                        replay: Replay) -> None:
    replay.add("GET", BY_CLIENT_ID, httpx.Response(200, json=_filled("5", "100")),
               httpx.Response(200, json=_filled("5", "100")), httpx.Response(200, json=_filled("8", "100.375")),
               httpx.Response(200, json=_filled("10", "100.5", "filled")))
    first = await broker.lookup(COID)
    again = await broker.lookup(COID)
    assert first is not None and again is not None and first.fills == again.fills
    (f1,) = first.fills
    assert (f1.fill_id, f1.qty, f1.price) == (f"{ORDER_ID}:5", D(5), D(100))

    # The caller applies each fill to its order (the domain's own average) and passes what it holds.
    request = OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="10")
    ours = Order(request=request, status=OrderStatus.ACCEPTED, broker="alpaca", created_at=f1.time,
                 updated_at=f1.time).with_fill(f1)
    later = await broker.lookup(COID, known_filled_qty=ours.filled_qty, known_avg_price=ours.avg_fill_price)
    assert later is not None
    (f2,) = later.fills
    assert (f2.fill_id, f2.qty, f2.price) == (f"{ORDER_ID}:8", D(3), D(101))  # 5 @ 100 + 3 @ 101 = 8 @ 100.375
    ours = ours.with_fill(f2)
    assert ours.avg_fill_price == D("100.375")

    last = await broker.lookup(COID, known_filled_qty=ours.filled_qty, known_avg_price=ours.avg_fill_price)
    assert last is not None and last.status is OrderStatus.FILLED
    ours = ours.with_fill(last.fills[0])
    assert ours.status is OrderStatus.FILLED and ours.filled_qty == 10 and ours.avg_fill_price == D("100.5")


def test_nothing_new_filled_is_no_fill() -> None:
    order = order_from_alpaca(_filled("5", "100"), known_filled_qty=D(5), known_avg_price=D(100))
    assert order.fills == () and order.filled_qty == 5


def test_fewer_filled_than_applied_is_the_brokers_error_not_a_negative_fill() -> None:
    with pytest.raises(NtProviderError, match="fewer than the 8 already applied"):
        order_from_alpaca(_filled("5", "100"), known_filled_qty=D(8), known_avg_price=D(100))


# -- statuses ---------------------------------------------------------------------------------------
ALPACA_STATUSES = ("new", "accepted", "pending_new", "accepted_for_bidding", "partially_filled", "filled",
                   "done_for_day", "canceled", "expired", "replaced", "pending_cancel", "pending_replace",
                   "rejected", "suspended", "calculated", "stopped", "held")


def test_every_alpaca_status_has_a_mapping() -> None:
    assert set(STATUS_MAP) == set(ALPACA_STATUSES)


@pytest.mark.parametrize(("alpaca", "filled", "ours"), [
    ("new", "0", "accepted"), ("pending_new", "0", "accepted"), ("accepted_for_bidding", "0", "accepted"),
    ("held", "0", "accepted"), ("partially_filled", "4", "partially_filled"), ("filled", "10", "filled"),
    ("done_for_day", "0", "accepted"), ("done_for_day", "4", "partially_filled"),
    ("pending_replace", "4", "partially_filled"), ("suspended", "0", "accepted"), ("stopped", "0", "accepted"),
    ("calculated", "10", "filled"), ("calculated", "4", "partially_filled"), ("canceled", "4", "canceled"),
    ("replaced", "0", "canceled"), ("expired", "0", "expired"), ("rejected", "0", "rejected"),
    ("pending_cancel", "0", "pending_cancel"),
])
def test_status_table(alpaca: str, filled: str, ours: str) -> None:
    body = {**_filled(filled, "100" if filled != "0" else ""), "status": alpaca, "replaced_by": "next-order"}
    order = order_from_alpaca(body)
    assert order.status == OrderStatus(ours)
    assert order.filled_qty == D(filled)
    if alpaca == "replaced":
        assert order.reason == "replaced by order next-order"
    assert order.status.terminal == (OrderStatus(ours) in TERMINAL)


def test_an_unknown_status_is_the_brokers_error() -> None:
    with pytest.raises(NtProviderError, match="unknown status 'teleported'"):
        order_from_alpaca({**fixture("order_by_client_order_id.json"), "status": "teleported"})


# -- paper and live ---------------------------------------------------------------------------------
async def test_paper_is_the_default(make_broker: Callable[..., AlpacaBroker], replay: Replay) -> None:
    broker = make_broker(environ={**KEYS, **LIVE_KEYS, "NT_ENABLE_LIVE_TRADING": "1"})
    replay.add("GET", "/v2/account", recorded("account.json"))
    await broker.account()
    assert not broker.live and broker.base_url == PAPER_URL
    assert replay.requests[0].url.host == "paper-api.alpaca.markets"


def test_live_is_refused_without_the_switch(make_broker: Callable[..., AlpacaBroker], replay: Replay) -> None:
    with pytest.raises(LiveTradingDisabled, match="NT_ENABLE_LIVE_TRADING=1"):
        make_broker(environ={**KEYS, **LIVE_KEYS, "NT_ALPACA_MODE": "live"})
    with pytest.raises(LiveTradingDisabled, match="NT_ENABLE_LIVE_TRADING=1"):
        make_broker(environ={**KEYS, **LIVE_KEYS, "NT_ALPACA_MODE": "live", "NT_ENABLE_LIVE_TRADING": "0"})
    assert replay.requests == []


def test_live_is_refused_without_live_keys(make_broker: Callable[..., AlpacaBroker]) -> None:
    # Paper keys never stand in for live ones.
    with pytest.raises(LiveTradingDisabled, match="NT_ALPACA_LIVE_API_KEY"):
        make_broker(environ={**KEYS, "NT_ALPACA_MODE": "live", "NT_ENABLE_LIVE_TRADING": "1"})


async def test_live_with_the_switch_and_live_keys(make_broker: Callable[..., AlpacaBroker], replay: Replay) -> None:
    broker = make_broker(environ={**KEYS, **LIVE_KEYS, "NT_ALPACA_MODE": "live", "NT_ENABLE_LIVE_TRADING": "1"})
    replay.add("GET", "/v2/account", recorded("account.json"))
    await broker.account()
    assert broker.live and broker.base_url == LIVE_URL
    (request,) = replay.requests
    assert request.url.host == "api.alpaca.markets"
    assert request.headers["APCA-API-KEY-ID"] == LIVE_KEYS["NT_ALPACA_LIVE_API_KEY"]
    assert request.headers["APCA-API-SECRET-KEY"] == LIVE_KEYS["NT_ALPACA_LIVE_API_SECRET"]


def test_without_keys_the_broker_is_not_configured(make_broker: Callable[..., AlpacaBroker]) -> None:
    with pytest.raises(NtUnavailable, match="NT_ALPACA_API_KEY"):
        make_broker(environ={})


async def test_alpacas_own_variable_names_and_the_config_file(make_broker: Callable[..., AlpacaBroker],
                                                              replay: Replay) -> None:
    replay.add("GET", "/v2/account", recorded("account.json"))
    await make_broker(environ={"APCA_API_KEY_ID": "PKAPCAID", "APCA_API_SECRET_KEY": "apca-secret"}).account()
    await make_broker(environ={}, plugins={"alpaca": {"api_key": "PKFILEID", "api_secret": "file-secret"}}).account()
    assert [r.headers["APCA-API-KEY-ID"] for r in replay.requests] == ["PKAPCAID", "PKFILEID"]


# -- adopting orders placed elsewhere; the host factory ----------------------------------------------
def test_the_request_behind_a_nested_bracket_order() -> None:
    request = request_from_alpaca(fixture("order_bracket_nested.json"))
    assert request is not None and request.is_bracket
    assert (request.client_order_id, request.symbol, request.side.value, request.qty) == (
        "strat-brk-0005", "SPY", "buy", D(100))
    assert (request.take_profit, request.stop_loss, request.stop_loss_limit) == (D(301), D(299), D("298.5"))
    assert order_body(request) | {"client_order_id": None} == fixture("order_request_bracket.json") | {
        "client_order_id": None}


def test_the_request_behind_simple_orders() -> None:
    market = request_from_alpaca(fixture("order_by_client_order_id.json"))
    assert market == OrderRequest(client_order_id=COID, symbol="AAPL", side="buy", qty="1")
    trailing = request_from_alpaca({**fixture("order_by_client_order_id.json"), "type": "trailing_stop",
                                    "side": "sell", "trail_price": "6.15", "stop_price": "160.1", "hwm": "166.25"})
    assert trailing is not None and (trailing.trail_price, trailing.stop_price) == (D("6.15"), None)


@pytest.mark.parametrize("changes", [{"qty": None, "notional": "500"}, {"order_class": "oco"},
                                     {"order_class": "bracket", "legs": None}])
def test_an_order_our_requests_cannot_say_has_no_request(changes: dict[str, Any]) -> None:
    assert request_from_alpaca({**fixture("order_by_client_order_id.json"), **changes}) is None


def test_create_builds_the_broker_from_a_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader.host import make_host

    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    host = make_host(autoload=False, plugins=[], settings=load_settings(env={}, data_dir=tmp_path / "host"))
    try:
        broker = create(host)
        assert broker.name == "alpaca" and broker.base_url == PAPER_URL and not broker.live
        assert host.services.http.status("alpaca_trading") is not None  # on the host's HTTP layer
    finally:
        host.close()
