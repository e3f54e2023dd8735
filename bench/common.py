"""Helpers shared by the benchmark modules: timing, the machine table, data, markdown."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORCL = ROOT / "tests" / "data" / "orcl-1995-2014.txt"


def median_seconds(fn: Callable[[], Any], *, repeat: int = 7, min_sample_s: float = 0.02,
                   warmup: bool = True) -> float:
    """Median over ``repeat`` samples of the time of one call, in seconds.

    Each sample times enough back-to-back calls to last ``min_sample_s`` (so that microsecond
    calls are measured above the clock's resolution) and divides by their number.
    """
    if warmup:
        fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_sample_s or number >= 1 << 20:
            break
        number *= 2 if elapsed == 0 else max(2, min(100, int(min_sample_s / elapsed) + 1))
    samples = [elapsed / number]
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiler() -> str:
    try:
        out = subprocess.run(["cc", "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_rows() -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    import neural_trader

    return [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical cores"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("C compiler", compiler()),
        ("neural-trader", neural_trader.__version__),
        ("load average (1, 5, 15 min) at start", ", ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_seconds(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_rate(per_s: float) -> str:
    return f"{per_s:.3g}"


def orcl_bars() -> dict[str, np.ndarray]:
    """ORCL daily bars (tests/data/SOURCES.md): contiguous float64 open/high/low/close."""
    cols = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), dtype=np.float64)
    return {k: np.ascontiguousarray(cols[:, i]) for i, k in enumerate(("open", "high", "low", "close"))}


def synthetic_bars(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """A geometric random walk quoted in cents: open, high, low, close with high >= max(open, close)."""
    rng = np.random.default_rng(seed)
    close = np.round(50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.012, n))), 2).clip(0.01)
    open_ = np.round(np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n)), 2).clip(0.01)
    spread = np.round(np.abs(rng.normal(0.0, 0.005, n)) * close, 2)
    high = np.maximum(open_, close) + spread
    low = (np.minimum(open_, close) - spread).clip(0.01)
    return {"open": open_, "high": high, "low": low, "close": close}


# -- REST load tests (a real server in its own processes, wrk as the load generator) -----------------


@contextlib.contextmanager
def rest_server(workers: int = 2) -> Iterator[tuple[str, str]]:
    """``neural-trader serve rest --workers N`` on a free loopback port, started the way users start it,
    with a fresh data dir and a read-scope API key; yields ``(base_url, key)``."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NT_DATA_DIR": tmp}
        for name in ("NT_REDIS_URL", "NT_DATABASE_URL", "NT_AUTH"):
            env.pop(name, None)
        created = subprocess.run([sys.executable, "-m", "neural_trader_cli.main", "keys", "create", "bench",
                                  "--scopes", "read", "--json"], env=env, capture_output=True, text=True, check=True)
        key = json.loads(created.stdout)["key"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        server = subprocess.Popen(
            [sys.executable, "-m", "neural_trader_cli.main", "serve", "rest", "--port", str(port),
             "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield base, key
        finally:
            server.terminate()
            server.wait(timeout=20)


def wrk(url: str, key: str, seconds: int) -> dict[str, Any]:
    """Requests/second and latency percentiles of ``GET url`` with the API key (2 threads, 64
    connections, after a 2 s warm-up). Raises if wrk is not installed."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    header = f"Authorization: Bearer {key}"
    subprocess.run(["wrk", "-t2", "-c32", "-d2s", "-H", header, url], capture_output=True, check=True)
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-H", header, url],
                         capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    # Anchored: "+/- Stdev" columns such as "87.50%" must not be read as the latency percentiles.
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1),  # type: ignore[union-attr]
            "p99": re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1),  # type: ignore[union-attr]
            "non_2xx": int(errors.group(1)) if errors else 0}
