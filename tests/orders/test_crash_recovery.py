"""Reliability test 3: a real ``rest.serve`` process takes a stream of 2,000 orders over REST from a
few client threads and is killed with SIGKILL at random moments (a seeded RNG) and restarted; the
clients re-send every order they hold no acknowledgement for, under the same client order id.

After each restart (no client traffic meanwhile) and at the end, through the API: every acknowledged
order exists exactly once and still says what its acknowledgement said, no client order id is listed
twice, positions and cash equal the sum of the fills, our book equals the paper broker's, the start-up
reconciliation succeeded and ``audit.verify`` passes. Outcomes only, never timings: every wait has a
deadline, and a slow machine only makes the run longer.
"""

from __future__ import annotations

import collections
import decimal
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

D = decimal.Decimal
pytestmark = pytest.mark.slow

ORDERS = 2_000
KILLS = 3
CLIENTS = 4
SEED = 20260302
INITIAL_CASH = D(100_000)  # the paper account's; no commission, no slippage by default
RUN_DEADLINE_S = 300  # the whole stream; far above a normal run, so only a hang reaches it

# The server: every installed plugin plus a provider of fixed, observed quotes, so market orders
# have a price reference and fill at once (bid / ask). Written to tmp_path and run as a script.
SERVER = textwrap.dedent('''
    import datetime as dt
    import sys

    from neural_trader.domain.market import Quote
    from neural_trader.frontends import rest
    from neural_trader.hookspecs import hookimpl
    from neural_trader.host import make_host
    from neural_trader.market.provider import BaseProvider, Capabilities, ProviderSpec
    from neural_trader.ops import Scope

    PRICES = {"AAPL": (99.9, 100.1), "MSFT": (199.0, 201.0)}
    T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


    class FixedQuotes(BaseProvider):
        name = "fixed"
        capabilities = Capabilities(bars=False, quotes=True, cacheable=False)

        async def quote(self, symbol, *, as_of=None):
            bid, ask = PRICES[symbol]
            return Quote(symbol=symbol, time=T0, bid=bid, ask=ask, provider=self.name)


    class CrashQuotes:
        @hookimpl
        def nt_register_data_providers(self, register):
            register(ProviderSpec(name="fixed", summary="fixed quotes", capabilities=FixedQuotes.capabilities,
                                  create=lambda ctx: FixedQuotes()))


    host = make_host(plugins=[CrashQuotes()])
    rest.serve(host, port=int(sys.argv[1]), anonymous_scopes=frozenset({Scope.TRADE, Scope.ADMIN}),
               log_level="warning")
''')
PRICES = {"AAPL": (D("99.9"), D("100.1")), "MSFT": (D("199.0"), D("201.0"))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process on a fresh port (a killed one's port is never reused)."""

    def __init__(self, script: Path, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            out.write(f"\n--- server on port {self.port}\n".encode())
            out.flush()
            self.proc = subprocess.Popen([sys.executable, str(script), str(self.port)], env=env, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, f"the server exited ({self.proc.returncode}):\n{self.tail()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{self.tail()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


class Gate:
    """Where the clients send to: the live server's URL, or None while it is down and checked."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._url: str | None = None
        self.finished = False

    def open(self, url: str) -> None:
        with self._cond:
            self._url = url
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._url = None

    def finish(self) -> None:
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def url(self) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: self._url is not None or self.finished, timeout=RUN_DEADLINE_S)
            return None if self.finished else self._url


class Stream:
    """The orders, which are acknowledged (the 200 answer kept), and what went wrong on the way."""

    def __init__(self, rng: random.Random) -> None:
        self.orders = [{"client_order_id": f"crash-{i:04d}", "symbol": rng.choice(sorted(PRICES)),
                        "side": rng.choice(["buy", "sell"]), "qty": str(rng.randint(1, 9)), "confirm": True}
                       for i in range(ORDERS)]
        self.pending: queue.Queue[int] = queue.Queue()
        for i in range(ORDERS):
            self.pending.put(i)
        self.lock = threading.Lock()
        self.acked: dict[str, dict[str, Any]] = {}
        self.sends = collections.Counter[str]()
        self.resent: set[str] = set()
        self.refused: list[str] = []  # 4xx answers: a bug, never retried
        self.unavailable = 0  # transport errors and 5xx while the server was dying or starting

    def settled(self) -> int:
        with self.lock:
            return len(self.acked) + len(self.refused)

    def client(self, gate: Gate) -> None:
        with httpx.Client(timeout=httpx.Timeout(30, connect=5)) as http:
            while True:
                try:
                    i = self.pending.get(timeout=0.2)
                except queue.Empty:
                    if gate.finished:
                        return
                    continue
                url = gate.url()
                if url is None:
                    return
                order = self.orders[i]
                coid = order["client_order_id"]
                with self.lock:
                    self.sends[coid] += 1
                    if self.sends[coid] > 1:
                        self.resent.add(coid)
                try:
                    response = http.post(f"{url}/v1/trade/execute", json=order)
                except httpx.TransportError:
                    with self.lock:
                        self.unavailable += 1
                    self.pending.put(i)  # no acknowledgement: send it again, same client order id
                    continue
                if response.status_code == 200:
                    with self.lock:
                        self.acked[coid] = response.json()
                elif response.status_code >= 500:
                    with self.lock:
                        self.unavailable += 1
                    self.pending.put(i)
                    time.sleep(0.05)
                else:
                    with self.lock:
                        self.refused.append(f"{coid}: {response.status_code} {response.text[:300]}")


def _call(url: str, op: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/{op.replace('.', '/')}", json=params or {}, timeout=60)
    assert response.status_code == 200, f"{op}: {response.status_code} {response.text[:500]}"
    result: dict[str, Any] = response.json()
    return result


def _signed(order: dict[str, Any]) -> D:
    return D(order["filled_qty"]) * (1 if order["side"] == "buy" else -1)


def check(url: str, stream: Stream, rng: random.Random, *, when: str) -> dict[str, Any]:
    """Everything the issue asks of the state after a restart, through the API; returns what it saw."""
    with stream.lock:
        acked = dict(stream.acked)
    listed = _call(url, "orders.list", {"limit": 10_000})["orders"]
    counts = collections.Counter(o["client_order_id"] for o in listed)
    assert not [c for c, n in counts.items() if n > 1], f"{when}: orders listed twice"
    known = {o["client_order_id"] for o in stream.orders}
    assert set(counts) <= known, f"{when}: orders nobody sent: {sorted(set(counts) - known)[:5]}"
    stored = {o["client_order_id"]: o for o in listed}
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"{when}: {len(missing)} acknowledged orders are gone, e.g. {missing[:5]}"
    for coid, ack in acked.items():
        now = stored[coid]
        assert (now["symbol"], now["side"], D(now["qty"])) == (ack["symbol"], ack["side"], D(ack["qty"])), coid
        assert D(now["filled_qty"]) >= D(ack["filled_qty"]), f"{when}: {coid} lost fills: {ack} -> {now}"
        if ack["status"] in ("filled", "canceled", "rejected", "expired"):
            assert (now["status"], D(now["filled_qty"]), now["avg_fill_price"]) == (
                ack["status"], D(ack["filled_qty"]), ack["avg_fill_price"]), f"{when}: {coid}: {ack} -> {now}"

    # Positions and cash are the sum of the fills (no commission or slippage on this paper account).
    held: dict[str, D] = collections.defaultdict(D)
    spent = D(0)
    for o in listed:
        if D(o["filled_qty"]):
            held[o["symbol"]] += _signed(o)
            spent += _signed(o) * D(o["avg_fill_price"])
    positions = {p["symbol"]: D(p["qty"]) for p in _call(url, "positions.list")["positions"]}
    assert positions == {s: q for s, q in held.items() if q}, f"{when}: positions are not the sum of the fills"
    account = _call(url, "account.get")
    assert D(account["cash"]) == INITIAL_CASH - spent, f"{when}: cash is not the sum of the fills"
    # The paper broker keeps its own book (its orders and their fills): an order sent to it twice,
    # or a fill booked twice on our side, would part the two.
    assert D(account["broker_cash"]) == D(account["cash"]), f"{when}: {account}"

    # The fills themselves, as orders.get reports them, for a sample of the filled orders.
    filled = sorted(c for c, o in stored.items() if D(o["filled_qty"]))
    for coid in rng.sample(filled, min(25, len(filled))):
        detail = _call(url, "orders.get", {"client_order_id": coid})
        fills = detail["fills"]
        assert len({f["fill_id"] for f in fills}) == len(fills), f"{when}: {coid} has a fill twice"
        qty = sum((D(f["qty"]) for f in fills), D(0))
        assert qty == D(detail["order"]["filled_qty"]), f"{when}: {coid}: {detail}"
        side = PRICES[detail["order"]["symbol"]][1 if detail["order"]["side"] == "buy" else 0]
        assert all(D(f["price"]) == side for f in fills), f"{when}: {coid} filled off the quote: {fills}"

    status = _call(url, "trading.status")
    assert status["reconciled"] and status["reconcile_error"] is None, f"{when}: {status}"
    audit = _call(url, "audit.verify")
    assert audit["ok"] and audit["problem"] is None, f"{when}: {audit}"
    return {"orders": len(listed), "acked": len(acked), "audit_records": audit["records"],
            "statuses": collections.Counter(o["status"] for o in listed)}


def _wait(predicate: Callable[[], bool], deadline: float, what: str) -> None:
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env.update(NT_DATA_DIR=str(tmp_path / "data"), NT_CONFIG=str(tmp_path / "config.toml"),
               NT_MARKET_CHAIN="fixed")
    if request.param == "postgresql":
        env["NT_DATABASE_URL"] = str(request.getfixturevalue("postgres_url"))
    return env


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path, server_env: dict[str, str]) -> None:
    rng = random.Random(SEED)
    stream = Stream(rng)
    script = tmp_path / "crash_server.py"
    script.write_text(SERVER)
    log = tmp_path / "server.log"
    deadline = time.monotonic() + RUN_DEADLINE_S
    kill_after = sorted(rng.sample(range(ORDERS // 10, ORDERS - ORDERS // 10), KILLS))
    gate = Gate()
    server = Server(script, server_env, log)
    clients = [threading.Thread(target=stream.client, args=(gate,), daemon=True) for _ in range(CLIENTS)]
    seen: list[dict[str, Any]] = []
    try:
        gate.open(server.url)
        for t in clients:
            t.start()
        for n, after in enumerate(kill_after, 1):
            _wait(lambda after=after: stream.settled() >= after, deadline, f"{after} acknowledgements")
            time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next requests
            gate.close()  # requests not yet sent wait for the next server
            server.kill()
            server = Server(script, server_env, log)
            seen.append(check(server.url, stream, rng, when=f"after kill {n} (at {after} acknowledgements)"))
            gate.open(server.url)
        _wait(lambda: stream.settled() == ORDERS, deadline, "every order to be acknowledged")
        gate.finish()
        for t in clients:
            t.join(timeout=60)
        assert not stream.refused, f"orders refused: {stream.refused[:5]}"
        final = check(server.url, stream, rng, when="at the end")
        # One last restart: the end state survives it. (An order a kill caught after it was stored and
        # before it was sent is still ``new``; the reconciliation of a later start, once it is stale,
        # finds it never reached the broker and cancels it: that is the only change allowed.)
        server.kill()
        server = Server(script, server_env, log)
        again = check(server.url, stream, rng, when="after the last restart")
        assert again["orders"] == final["orders"] and again["audit_records"] >= final["audit_records"]
        assert again["statuses"]["filled"] == final["statuses"]["filled"]
        assert again["statuses"]["canceled"] - final["statuses"]["canceled"] <= final["statuses"]["new"]
        seen += [final, again]
    except BaseException:
        print(server.tail())
        raise
    finally:
        gate.finish()
        server.stop()
    assert len(stream.acked) == final["orders"] == ORDERS
    # The kills hit requests in flight: some orders were sent again, and the retries were answered
    # with the stored order (idempotency), never a second one.
    assert stream.resent and stream.unavailable
    print(json.dumps({"kills": kill_after, "resent": len(stream.resent), "unavailable": stream.unavailable,
                      "checks": [{**s, "statuses": dict(s["statuses"])} for s in seen]}, indent=1))
