"""Paper orders through REST: ``trade.execute`` (confirm: true, a unique client order id each) on a real
``rest.serve`` process, through the risk gate to the paper broker, each one committed before it is
answered; orders/second and p50/p99 latency on SQLite and on PostgreSQL.

    python -m bench orders [--quick]  # or: python -m bench.orders [--quick]
    python -m bench.orders --against REV [--pairs 4] [--database postgresql]

``--against`` compares this checkout with commit ``REV`` in one run: a temporary git worktree of
``REV`` serves the "before" side (its ``core/``, ``plugins/`` and ``hostcli/`` first on the server's
``PYTHONPATH``, ahead of the editable install), the two alternate ``--pairs`` times, 16 in flight, no
limits; medians and their ratio. The machine drifts too much for figures from separate runs.

The load generator is raw HTTP/1.1 on asyncio streams, one keep-alive connection per order in flight, in
this process (wrk cannot give every request its own client order id without a Lua script, and is not
always installed; httpx costs 4 ms of CPU an order, a core the server would need). Market orders fill
at fixed quotes from a tiny data provider the server script registers. PostgreSQL is the test server
(``NT_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``), in a fresh schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import machine_rows, table

POSTGRES_URL = os.environ.get("NT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

SERVER = textwrap.dedent('''
    import datetime as dt
    import sys

    from neural_trader.domain.market import Quote
    from neural_trader.frontends import rest
    from neural_trader.hookspecs import hookimpl
    from neural_trader.host import make_host
    from neural_trader.market.provider import BaseProvider, Capabilities, ProviderSpec
    from neural_trader.ops import Scope

    T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


    class FixedQuotes(BaseProvider):
        name = "fixed"
        capabilities = Capabilities(bars=False, quotes=True, cacheable=False)

        async def quote(self, symbol, *, as_of=None):
            return Quote(symbol=symbol, time=T0, bid=99.9, ask=100.1, provider=self.name)


    class BenchQuotes:
        @hookimpl
        def nt_register_data_providers(self, register):
            register(ProviderSpec(name="fixed", summary="fixed quotes", capabilities=FixedQuotes.capabilities,
                                  create=lambda ctx: FixedQuotes()))


    host = make_host(plugins=[BenchQuotes()])
    if sys.argv[2:] == ["limits"]:
        # Every limit set, none near: each check runs and none rejects (the benchmark's identity has
        # the trade scope only, so the limits are set here, in process, as the administrator).
        host.call("risk.limits.set", {
            "max_order_qty": "1000", "max_order_notional": "1000000", "max_position_qty": "100000",
            "max_gross_exposure": "1000000000", "max_daily_loss": "1000000000",
            "max_orders_per_minute": 1000000, "price_collar": "0.5", "restricted_symbols": ["XYZ"]})
        host.close()
        host = make_host(plugins=[BenchQuotes()])
    rest.serve(host, port=int(sys.argv[1]), anonymous_scopes=frozenset({Scope.TRADE}), log_level="warning")
''')


@contextlib.contextmanager
def _postgres_schema() -> Iterator[str]:
    import sqlalchemy as sa

    from neural_trader.services.storage import normalize_url

    schema = f"nt_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextlib.contextmanager
def _server(database_url: str | None, *, limits: bool = False, tree: Path | None = None) -> Iterator[str]:
    """The order server on a free loopback port with a fresh data dir; yields its base URL. ``tree``:
    a checkout whose code the server runs instead of the installed one."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "orders_server.py"
        script.write_text(SERVER)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
        # The per-identity trade limit (60 a minute by default) would cap the load generator's one
        # identity: this measures the order path, so it is off (NT_RATE_LIMIT_TRADE=0).
        env.update(NT_DATA_DIR=str(Path(tmp) / "data"), NT_CONFIG=str(Path(tmp) / "config.toml"),
                   NT_MARKET_CHAIN="fixed", NT_RATE_LIMIT_TRADE="0")
        if database_url:
            env["NT_DATABASE_URL"] = database_url
        if tree is not None:
            env["PYTHONPATH"] = os.pathsep.join(str(tree / part) for part in ("core", "plugins", "hostcli"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        proc = subprocess.Popen([sys.executable, str(script), str(port), *(["limits"] if limits else [])], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the order server did not start (exit code {proc.poll()})")
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _orders(base: str, prefix: str, n: int, concurrency: int) -> dict[str, float]:
    """``n`` market orders (alternately buy and sell, so no position grows) on ``concurrency``
    keep-alive connections, each sending its next order when the last one is answered; each must come
    back filled. The client is raw HTTP/1.1 on asyncio streams (about 50 µs of CPU an order, where
    httpx takes 4 ms and would take a core the server needs)."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    counter = iter(range(n))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                body = json.dumps({"client_order_id": f"{prefix}-{i}", "symbol": "AAPL",
                                   "side": "buy" if i % 2 else "sell", "qty": "1", "confirm": True}).encode()
                head = (f"POST /v1/trade/execute HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if b" 200 " not in status_line or json.loads(answer)["status"] != "filled":
                    raise RuntimeError(f"order {i}: {status_line!r} {answer[:300]!r}")
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    ordered = sorted(latencies)
    return {"rate": n / elapsed, "p50": statistics.median(ordered) * 1e3,
            "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1e3}


def _measure(database_url: str | None, *, warmup: int, n: int, concurrency: int,
             limits: bool = False, tree: Path | None = None) -> dict[str, float]:
    with _server(database_url, limits=limits, tree=tree) as base:
        asyncio.run(_orders(base, "warm", warmup, concurrency))
        return asyncio.run(_orders(base, "bench", n, concurrency))



def _measure_on(backend: str, **kwargs: Any) -> dict[str, float]:
    """:func:`_measure` on SQLite in the server's data dir, or in a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return _measure(None, **kwargs)
    with _postgres_schema() as url:
        return _measure(url, **kwargs)

def run(quick: bool = False) -> str:
    n, warmup, runs = (300, 50, 1) if quick else (2_000, 200, 3)
    rows = []
    # (database, orders in flight, every risk limit set)
    cases = [("sqlite", 1, False), ("sqlite", 16, False), ("sqlite", 16, True), ("sqlite", 64, False),
             ("postgresql", 1, False), ("postgresql", 16, False), ("postgresql", 16, True), ("postgresql", 64, False)]
    for backend, concurrency, limits in cases:
        samples = [_measure_on(backend, warmup=warmup, n=n, concurrency=concurrency, limits=limits)
                   for _ in range(runs)]
        rates = sorted(s["rate"] for s in samples)
        rows.append((backend, concurrency, "all" if limits else "none", f"{n:,}", runs,
                     f"{statistics.median(rates):.0f}", f"{rates[0]:.0f}-{rates[-1]:.0f}",
                     f"{statistics.median(s['p50'] for s in samples):.1f}",
                     f"{statistics.median(s['p99'] for s in samples):.1f}",
                     f"{statistics.median(rates) / 500:.2f}"))
    return "\n".join([
        table(["machine", ""], machine_rows()), "",
        "Paper market orders through `POST /v1/trade/execute` on one `rest.serve` process (1 worker), risk "
        f"gate and durable commit, after a warm-up of {warmup} orders on the same server; a fresh data dir "
        "(and PostgreSQL schema) per run; medians over the runs. Risk limits \"all\": every limit of the "
        "account set (quantity, notional, position, gross exposure, daily loss, orders a minute, price "
        "collar, a restricted symbol), none near; \"none\": the default account, whose gate checks the "
        "trading state and the price reference.", "",
        table(["database", "in flight", "risk limits", "orders", "runs", "orders/s (median)", "orders/s (range)",
               "p50 (ms)", "p99 (ms)", "x target (500/s)"], rows),
    ])


def compare(against: str, *, pairs: int = 4, backend: str = "postgresql", n: int = 2_000) -> str:
    """This checkout against commit ``against``, alternating in one run (see the module docstring)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "-q", str(tree), against], check=True)
        try:
            before, after = [], []
            for _ in range(pairs):
                before.append(_measure_on(backend, warmup=200, n=n, concurrency=16, tree=tree))
                after.append(_measure_on(backend, warmup=200, n=n, concurrency=16))
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=True)
    rows = []
    for label, samples in ((f"before ({against})", before), ("this checkout", after)):
        rates = sorted(s["rate"] for s in samples)
        rows.append((label, f"{statistics.median(rates):.0f}", " ".join(f"{r:.0f}" for r in rates),
                     f"{statistics.median(s['p99'] for s in samples):.1f}"))
    ratio = statistics.median(s["rate"] for s in after) / statistics.median(s["rate"] for s in before)
    return "\n".join([
        table(["machine", ""], machine_rows()), "",
        f"{backend}, 16 in flight, no limits, {n:,} orders a run, {pairs} alternating pairs; ratio of the medians "
        f"{ratio:.2f}x.", "",
        table(["server", "orders/s (median)", "orders/s (each run)", "p99 (ms, median)"], rows),
    ])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--against", metavar="REV", help="compare with this commit, in one run")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    if args.against:
        print(compare(args.against, pairs=args.pairs, backend=args.database))
    else:
        print(run(quick=args.quick))
