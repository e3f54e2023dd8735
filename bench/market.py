"""Market data: parsing a real CSV file, loading a million bars from the local store, and cached
``market.quote`` through REST.

* Parse the 5,036-row ORCL Yahoo file (tests/data) into validated bars; peers in the same run:
  ``pandas.read_csv`` with date parsing and ``numpy.loadtxt`` of the numbers only (no dates, no
  validation), when installed.
* Load 1,000,000 one-minute bars from the local store (a read into memory, and a memory map
  touched end to end); peer: the same bars as Parquet through pyarrow, when installed. Target:
  < 100 ms.
* Cached ``market.quote`` (provider synthetic) through REST on loopback, 2 uvicorn workers, API
  key auth, wrk as the load generator: requests/second and p50/p99, with ``system.ping`` on the same
  server as the floor. Target: >= 2,000 req/s. Plus the in-process (ASGI) latency of the same call.

    python -m bench market            # from the project root; --quick for a smoke run
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ORCL, fmt_seconds, machine_rows, median_seconds, rest_server, table, wrk

QUOTE = {"symbol": "AAPL", "provider": "synthetic"}


# -- the REST app the workers serve ----------------------------------------------------------------
def _host(**settings: Any) -> Any:
    """``make_host()``, with the market plugin added when its entry point is not installed yet (so
    the benchmark runs before and after it is)."""
    from neural_trader.host import make_host
    from neural_trader.settings import load_settings

    host = make_host(settings=load_settings(**settings))
    if "market.quote" not in host.operations:
        from neural_trader_plugins import market

        host = make_host(settings=host.settings, plugins=[market])
    return host


# -- parsing -----------------------------------------------------------------------------------------
def _parse(repeat: int) -> list[tuple[str, str, str]]:
    from neural_trader.market.files import read_bars

    rows = []
    bars = read_bars(ORCL)
    ours = median_seconds(lambda: read_bars(ORCL), repeat=repeat)
    rows.append(("neural_trader `read_bars` (dates, validation, Bars)", fmt_seconds(ours),
                 f"{len(bars) / ours:,.0f} rows/s"))
    try:
        import pandas as pd

        peer = median_seconds(lambda: pd.read_csv(ORCL, parse_dates=["Date"]), repeat=repeat)
        rows.append((f"pandas {pd.__version__} `read_csv(parse_dates=['Date'])`", fmt_seconds(peer),
                     f"{len(bars) / peer:,.0f} rows/s"))
    except ImportError:
        rows.append(("pandas `read_csv`", "not installed", "-"))
    peer = median_seconds(lambda: np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4, 6)),
                          repeat=repeat)
    rows.append(("numpy `loadtxt` (numbers only: no dates, no checks)", fmt_seconds(peer),
                 f"{len(bars) / peer:,.0f} rows/s"))
    return rows


# -- the local store ---------------------------------------------------------------------------------
def _store(n: int, repeat: int) -> list[tuple[str, str, str]]:
    from neural_trader.market.store import LocalStore
    from neural_trader.market.synthetic import series

    bars = series("BENCH", "1Min").bars_by_index(0, n - 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp))
        t0 = time.perf_counter()
        store.save(bars, merge=False)
        save = time.perf_counter() - t0
        back = store.load("BENCH", "1Min")
        assert back is not None and back.equals(bars), "the store must round-trip exactly"
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.npy"))
        load = median_seconds(lambda: store.load("BENCH", "1Min"), repeat=repeat, warmup=True)
        rows.append((f"`LocalStore.load` {n:,} bars (read into memory)", fmt_seconds(load),
                     f"{'meets' if load < 0.1 else 'MISSES'} < 100 ms; file {size / 2**20:.1f} MiB, "
                     f"save {fmt_seconds(save)}"))

        def mapped() -> float:
            b = store.load("BENCH", "1Min", mmap=True)
            assert b is not None
            return float(b.close.sum() + b.volume.sum() + b.ts[-1])

        touch = median_seconds(mapped, repeat=repeat)
        rows.append((f"`LocalStore.load(mmap=True)` {n:,} bars + sum of two columns", fmt_seconds(touch), "-"))
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq

            path = Path(tmp) / "bench.parquet"
            pq.write_table(pa.table({"ts": bars.ts, **{c: getattr(bars, c) for c in
                                                      ("open", "high", "low", "close", "volume")}}),
                           path, compression="none")

            def parquet() -> Any:
                t = pq.read_table(path)
                return [t.column(c).to_numpy() for c in t.column_names]

            peer = median_seconds(parquet, repeat=repeat)
            rows.append((f"pyarrow {pa.__version__} Parquet read of the same bars (uncompressed)",
                         fmt_seconds(peer), f"file {path.stat().st_size / 2**20:.1f} MiB"))
        except ImportError:
            rows.append(("pyarrow Parquet", "not installed", "-"))
    return rows


# -- REST ----------------------------------------------------------------------------------------------
def _rest(seconds: int, workers: int) -> list[tuple[str, str, str, str]]:
    import httpx

    if shutil.which("wrk") is None:
        return [("REST loopback (install wrk: apt-get install wrk)", "-", "-", "not measured")]
    with rest_server(workers) as (base, key):
        quote_url = f"{base}/v1/market/quote?symbol=AAPL&provider=synthetic"
        check = httpx.get(quote_url, headers={"Authorization": f"Bearer {key}"})
        assert check.status_code == 200 and check.json()["synthetic"], check.text
        quote = wrk(quote_url, key, seconds)
        ping = wrk(f"{base}/v1/system/ping?echo=bench", key, seconds)
    return [
        (f"GET /v1/market/quote (cached, synthetic), {workers} workers, API key", quote["p50"], quote["p99"],
         f"{quote['rps']:,.0f} req/s ({'meets' if quote['rps'] >= 2000 else 'MISSES'} ≥ 2,000); "
         f"non-2xx {quote['non_2xx']}"),
        ("GET /v1/system/ping on the same server (the floor)", ping["p50"], ping["p99"],
         f"{ping['rps']:,.0f} req/s; non-2xx {ping['non_2xx']}"),
    ]


async def _in_process(n: int, data_dir: str) -> tuple[float, float]:
    import httpx

    from neural_trader.frontends import rest
    from neural_trader.ops import Identity

    host = _host(data_dir=data_dir)
    app = rest.build_app(host, authenticate=lambda _h: Identity.local())
    samples = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        for _ in range(200):
            await client.post("/v1/market/quote", json=QUOTE)
        for _ in range(n):
            t0 = time.perf_counter()
            response = await client.post("/v1/market/quote", json=QUOTE)
            samples.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text
    host.close()
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1e6, ordered[int(0.99 * (len(ordered) - 1))] * 1e6


def run(quick: bool = False) -> str:
    repeat = 3 if quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        p50, p99 = asyncio.run(_in_process(300 if quick else 3000, tmp))
    parts = [
        table(("what", "value"), machine_rows()),
        "",
        "**Parse the ORCL daily file (5,036 rows)**",
        "",
        table(("reader", "median", "rate"), _parse(repeat)),
        "",
        "**Local bar store**",
        "",
        table(("load", "median", "notes"), _store(100_000 if quick else 1_000_000, repeat)),
        "",
        "**Cached market.quote**",
        "",
        table(("measurement", "p50", "p99", "result"),
              [("REST in-process (ASGI transport), POST /v1/market/quote, cached",
                f"{p50:.0f} µs", f"{p99:.0f} µs", "-"), *_rest(3 if quick else 10, 2)]),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
