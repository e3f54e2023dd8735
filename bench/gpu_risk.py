"""Monte Carlo VaR/CVaR on the GPU (torch) against the native CPU kernel, in the same run.

10 correlated assets (the portfolio of ``bench/risk.py``), 99% one-day VaR/CVaR, 1M and 10M
scenarios; torch on CUDA in float32 and float64 (warm-up, ``torch.cuda.synchronize`` around each
run, median of ``--repeat`` runs), and the native kernel on one thread and on every core. Every
estimate is checked against the closed form: the run fails if the GPU's VaR is more than 5 standard
errors of a sample quantile away from it, or its CVaR more than 1%.

Runs from the repository root with only torch, numpy and scipy installed (plus attrs, which the
kernel loader needs)::

    python bench/gpu_risk.py            # the GPU run (under 3 minutes on an H100/H200)
    python bench/gpu_risk.py --quick    # a smoke run, on the CPU when there is no GPU

When the compiled kernels are not there (a copy of the repository that was never installed), the
numpy twin runs in their place, at 1M scenarios only (it takes seconds a run); the table says so.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
# A bare copy of the repository (nothing installed): import the sources.
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "core"))
sys.path.insert(0, str(ROOT))

try:
    from bench.common import fmt_seconds, table
    from bench.risk import portfolio
    from neural_trader.native import risk
    from neural_trader_plugins.risk import mc_torch
except ModuleNotFoundError as exc:  # attrs, which the kernel loader needs, is the usual one
    sys.exit(f"bench/gpu_risk.py needs the module {exc.name!r}: pip install {exc.name} (pure Python), "
             "or put a copy of it on PYTHONPATH")

CONFIDENCE = 0.99
SEED = 20_250_101


def closed_form(w: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> tuple[float, float, float]:
    m, s = float(w @ mu), math.sqrt(float(w @ cov @ w))
    z = float(stats.norm.ppf(CONFIDENCE))
    return -m + z * s, -m + s * float(stats.norm.pdf(z)) / (1 - CONFIDENCE), s


def quantile_se(s: float, n: int) -> float:
    """Standard error of the sample ``CONFIDENCE`` quantile of n normal losses of deviation s."""
    z = float(stats.norm.ppf(CONFIDENCE))
    return math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / n) * s / float(stats.norm.pdf(z))


def timed(fn: Callable[[], Any], repeat: int, cuda: bool) -> tuple[float, Any]:
    """(median seconds, last result) of ``repeat`` runs after one warm-up."""
    out = fn()
    times = []
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 100k and 1M scenarios, 2 repeats")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per row (default 7, quick 2)")
    ap.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    args = ap.parse_args(argv)

    cuda = torch.cuda.is_available() if args.device is None else args.device.startswith("cuda")
    device = args.device or ("cuda" if cuda else "cpu")
    sizes = (100_000, 1_000_000) if args.quick else (1_000_000, 10_000_000)
    repeat = args.repeat or (2 if args.quick else 7)
    cores = os.cpu_count() or 1
    w, mu, cov = portfolio()
    var, cvar, s = closed_form(w, mu, cov)
    factor = risk.cholesky(cov).factor

    gpu_name = torch.cuda.get_device_name(0) if cuda else f"none (torch on the CPU: {platform.processor() or 'cpu'})"
    kernel = "compiled C kernel" if risk.COMPILED else f"numpy twin (compiled kernel absent: {risk.STATUS_REASON})"
    print("## Monte Carlo VaR/CVaR 99%, 10 correlated assets: torch vs the native kernel\n")
    print(table(["", ""], [
        ("GPU", gpu_name),
        ("torch", f"{torch.__version__} (CUDA {torch.version.cuda})"),
        ("CPU", f"{platform.machine()}, {cores} logical cores"),
        ("native", kernel),
        ("python / numpy", f"{platform.python_version()} / {np.__version__}"),
    ]))
    print(f"\nClosed form: VaR {var:.6f}, CVaR {cvar:.6f}, sigma {s:.6f}. Error columns: estimate - closed form, "
          "in standard errors of a sample quantile (VaR) and in % (CVaR).\n")

    rows: list[tuple[object, ...]] = []
    failures: list[str] = []
    native_s: dict[int, float] = {}
    for n in sizes:
        native_runs = [(1, "native, 1 thread"), (cores, f"native, {cores} threads")]
        if not risk.COMPILED:
            native_runs = [(1, "numpy twin, 1 run")] if n <= 1_000_000 else []
        for threads, label in native_runs:
            reps = repeat if risk.COMPILED else 1

            def run_native(threads: int = threads, n: int = n) -> Any:
                return risk.monte_carlo_var(w, mu, cov, confidence=CONFIDENCE, n_scenarios=n, seed=SEED,
                                            threads=threads)

            sec, est = timed(run_native, reps, cuda=False)
            native_s.setdefault(n, sec)
            rows.append((f"{n:,}", label, "float64", fmt_seconds(sec), f"{n / sec / 1e6:.1f}", "1.0" if threads == 1
                         else f"{native_s[n] / sec:.1f}", f"{(est.var - var) / quantile_se(s, n):+.2f}",
                         f"{est.cvar / cvar - 1:+.3%}"))
        if not native_runs:
            rows.append((f"{n:,}", "numpy twin", "float64", "skipped (too slow at this size)", "", "", "", ""))
        for dtype in ("float32", "float64"):
            if cuda:
                torch.cuda.reset_peak_memory_stats()

            def run_torch(n: int = n, dtype: str = dtype) -> mc_torch.TorchMonteCarlo:
                return mc_torch.monte_carlo_var_torch(w, mu, cov, confidence=CONFIDENCE, n_scenarios=n, seed=SEED,
                                                      device=device, dtype=dtype, factor=factor)

            sec, r = timed(run_torch, repeat, cuda=cuda)
            peak = f", peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if cuda else ""
            err = (r.var - var) / quantile_se(s, n)
            cerr = r.cvar / cvar - 1
            base = native_s.get(n)
            rows.append((f"{n:,}", f"torch {r.device}{peak}", dtype, fmt_seconds(sec), f"{n / sec / 1e6:.1f}",
                         f"{base / sec:.1f}" if base else "n/a", f"{err:+.2f}", f"{cerr:+.3%}"))
            if abs(err) > 5 or abs(cerr) > 0.01:
                failures.append(f"torch {dtype} at {n:,}: VaR {r.var:.6f} ({err:+.2f} SE), CVaR {r.cvar:.6f} "
                                f"({cerr:+.3%}) against the closed form {var:.6f} / {cvar:.6f}")
    print(table(["scenarios", "engine", "dtype", "median", "M scenarios/s", "native 1 thread / this",
                 "VaR error (SE)", "CVaR error"], rows))
    print(f"\nmedian of {repeat} runs after one warm-up; native speed-up column: the 1-thread native time over this one"
          + ("" if risk.COMPILED else " (here the numpy twin's, timed once)"))
    if failures:
        print("\nFAILED: " + "; ".join(failures))
        return 1
    print("\nOK: every torch estimate is within Monte Carlo error of the closed form")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
