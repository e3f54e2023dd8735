"""Helpers shared by the benchmark modules: timing, the machine table, data, markdown."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
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
