"""``risk.analyze`` through REST: a 10-asset portfolio, 100k Monte Carlo scenarios, every VaR model.

One ``neural-trader serve rest --workers 1`` process (started as users start it, API key and all)
answers ``POST /v1/risk/analyze`` one request at a time from httpx in this process; p50 and p99 of
the round trip after a warm-up. The bars are the synthetic provider's (10 symbols, two years of
daily bars: 502 returns each), which the host caches like any completed history, so the figure is
the analysis and the frontend, not a data download. Variants: without Monte Carlo, 1M scenarios,
and with the clustered-correlation PNG.

The peer in the same run is the idiomatic numpy/scipy computation of the same figures in this
process, no frontend: covariance, normal/Student-t/Cornish-Fisher VaR, historical quantiles,
100k PCG64 normals through a Cholesky factor, and ``np.quantile``. Target: p50 under 20 ms (the
system we re-create claims 180 ms on a CPU).

    python -m bench risk_ops            # --quick for a smoke run
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import numpy as np

from bench.common import machine_rows, rest_server, table

SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "META", "NVDA", "JPM", "XOM", "JNJ", "PG"]
BODY: dict[str, Any] = {"symbols": SYMBOLS, "weights": [0.1] * 10, "provider": "synthetic",
                        "start": "2023-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z", "confidence": 0.99,
                        "n_scenarios": 100_000, "seed": 1, "value": 1_000_000}
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("every model, 100k scenarios", {}),
    ("historical + parametric, no Monte Carlo", {"methods": ["historical", "normal", "student_t",
                                                             "cornish_fisher"]}),
    ("every model, 1M scenarios", {"n_scenarios": 1_000_000}),
    ("every model, 100k, correlation PNG", {"chart": "correlation"}),
)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1e3


def _rest(base: str, key: str, body: dict[str, Any], warmup: int, n: int) -> tuple[float, float, str]:
    samples = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        engine = ""
        for i in range(warmup + n):
            t0 = time.perf_counter()
            response = client.post("/v1/risk/analyze", json=body)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"risk.analyze: {response.status_code} {response.text[:300]}")
            if i >= warmup:
                samples.append(elapsed)
            mc = response.json()["monte_carlo"]
            engine = mc["engine"] if mc else "-"
    p50, p99 = _percentiles(samples)
    return p50, p99, engine


def _numpy_peer(returns: np.ndarray, w: np.ndarray, n_scenarios: int) -> dict[str, float]:
    from scipy import stats

    c = 0.99
    mu, cov = returns.mean(axis=0), np.cov(returns, rowvar=False)
    port = returns @ w
    m, s = float(mu @ w), float(np.sqrt(w @ cov @ w))
    z = stats.norm.ppf(c)
    out = {"normal": -m + z * s}
    skew, kurt = stats.skew(port), stats.kurtosis(port)
    zc = z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36
    out["cornish_fisher"] = -m + zc * s
    dof = 4 + 6 / kurt if kurt > 0 else 1000.0
    out["student_t"] = -m + s * np.sqrt((dof - 2) / dof) * stats.t.ppf(c, dof)
    out["historical"] = float(np.quantile(-port, c))
    chol = np.linalg.cholesky(cov)
    normals = np.random.default_rng(1).standard_normal((n_scenarios, w.shape[0]))
    losses = -(normals @ (chol.T @ w) + m)
    v = float(np.quantile(losses, c))
    out["monte_carlo"] = v
    out["monte_carlo_cvar"] = float(losses[losses >= v].mean())
    out["corr"] = float(np.corrcoef(returns, rowvar=False)[0, 1])
    return out


def _peer_time(n: int) -> float:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0005, 0.015, (502, 10)) + rng.normal(0, 0.01, (502, 1))
    w = np.full(10, 0.1)
    _numpy_peer(returns, w, 100_000)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        _numpy_peer(returns, w, 100_000)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def run(quick: bool = False) -> str:
    warmup, n = (3, 10) if quick else (20, 200)
    rows = []
    with rest_server(workers=1) as (base, key):
        for label, change in VARIANTS:
            count = n if "1M" not in label and "PNG" not in label else max(10, n // 5)
            p50, p99, engine = _rest(base, key, {**BODY, **change}, warmup, count)
            target = f"{'met' if p50 < 20 else 'not met'} ({p50 / 20:.2f}x of 20 ms)" if not change else "-"
            rows.append((f"REST risk.analyze, {label}", engine, f"{p50:.1f} ms", f"{p99:.1f} ms", count, target))
    peer = _peer_time(10 if quick else 50)
    rows.append(("numpy/scipy in process (peer), same figures, 100k scenarios", "numpy PCG64", f"{peer:.1f} ms",
                 "-", 10 if quick else 50, "-"))
    lines = ["## Risk operations", "", table(("what", "Monte Carlo engine", "p50", "p99", "requests", "target"),
                                             rows), "", table(("machine", ""), machine_rows())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
