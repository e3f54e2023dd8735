"""Frontend benchmarks: system.ping through MCP and REST, a stdio MCP round trip from another process,
REST requests/second on loopback with 2 uvicorn workers (wrk as the load generator), and CLI cold start.

    python -m bench frontends            # or: python bench/frontends.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import rest_server, wrk

PING = {"echo": "bench"}


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1e6, p99 * 1e6


async def _in_process_mcp(n: int) -> tuple[float, float]:
    from neural_trader.frontends import mcp
    from neural_trader.host import make_host
    from neural_trader.ops import Identity

    host = make_host()
    samples = []
    async with mcp.in_memory_client(host, identity=Identity.local()) as session:
        for _ in range(200):
            await session.call_tool("system_ping", PING)
        for _ in range(n):
            t0 = time.perf_counter()
            await session.call_tool("system_ping", PING)
            samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


async def _in_process_rest(n: int) -> tuple[float, float]:
    from neural_trader.frontends import rest
    from neural_trader.host import make_host
    from neural_trader.ops import Identity

    host = make_host()
    app = rest.build_app(host, authenticate=lambda _h: Identity.local())
    samples = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        for _ in range(200):
            await client.post("/v1/system/ping", json=PING)
        for _ in range(n):
            t0 = time.perf_counter()
            await client.post("/v1/system/ping", json=PING)
            samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


async def _stdio_mcp(n: int) -> tuple[float, float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    server = StdioServerParameters(command=sys.executable, args=["-m", "neural_trader.frontends.mcp", "--scopes", "read"],
                                   env={**os.environ})
    samples = []
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for _ in range(200):
            await session.call_tool("system_ping", PING)
        for _ in range(n):
            t0 = time.perf_counter()
            await session.call_tool("system_ping", PING)
            samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


def _rest_throughput(seconds: int, workers: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"tool": "none (install wrk: apt-get install wrk)", "rps": float("nan")}
    with rest_server(workers) as (base, key):
        url = f"{base}/v1/system/ping?echo=bench"
        assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        return {"tool": "wrk -t2 -c64", **wrk(url, key, seconds)}


def _cold_start(runs: int) -> float:
    exe = shutil.which("neural-trader") or str(Path(sys.executable).with_name("neural-trader"))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run(quick: bool = False) -> str:
    n = 300 if quick else 3000
    rows = []
    p50, p99 = asyncio.run(_in_process_mcp(n))
    rows.append(("MCP in-process (memory transport), system_ping", f"{p50:.0f}", f"{p99:.0f}", "-"))
    p50, p99 = asyncio.run(_in_process_rest(n))
    rows.append(("REST in-process (ASGI transport), POST /v1/system/ping", f"{p50:.0f}", f"{p99:.0f}", "-"))
    p50, p99 = asyncio.run(_stdio_mcp(n))
    rows.append(("MCP stdio round trip, separate server process", f"{p50:.0f}", f"{p99:.0f}", "p50 < 1000 µs"))
    rest = _rest_throughput(3 if quick else 10, 2)
    rows.append((f"REST loopback, 2 workers, GET ping with API key ({rest['tool']})",
                 rest.get("p50", "-"), rest.get("p99", "-"), f"{rest['rps']:.0f} req/s (target ≥ 3000)"))
    cold = _cold_start(5 if quick else 15)
    rows.append(("`neural-trader --help` cold start (median)", "-", "-", f"{cold:.0f} ms (target < 400 ms)"))
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "| measurement | p50 (µs) | p99 (µs) | result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
