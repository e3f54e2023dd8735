"""Risk and metrics kernels: our C kernel, our numpy twin, and peers, in the same run.

* Monte Carlo VaR/CVaR at 99% of 10 correlated assets, 100k and 1M scenarios: the kernel on one
  thread and on every core (the numbers are identical), the bit-identical numpy twin, and the
  idiomatic numpy way (PCG64 normals, one matrix product, ``np.partition``). Target: kernel >= 5x
  the twin.
* Historical VaR/CVaR of 5,000 returns (target < 20 µs a call, wrapper included), against the
  twin, ``np.quantile`` alone and empyrical's ``value_at_risk`` + ``conditional_value_at_risk``.
* Rolling historical VaR, plain and EWMA covariance matrices.
* The metrics of ORCL's 5,035 daily returns: one ``metrics.summary`` call (17 numbers) against the
  twin and against empyrical computing the 8 of them it has.

empyrical runs in its own interpreter (it is not a dependency): set ``NT_BENCH_METRICS_PYTHON`` to
a Python that has it (default ``/tmp/peers-metrics/bin/python`` if present)::

    python -m venv /tmp/peers-metrics && /tmp/peers-metrics/bin/pip install empyrical-reloaded
    python -m bench risk            # from the project root; --quick for a smoke run
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script (the peer interpreter does this)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ORCL, fmt_seconds, machine_rows, median_seconds, table

DEFAULT_PEERS_PYTHON = "/tmp/peers-metrics/bin/python"
CONFIDENCE = 0.99


def portfolio(n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, daily means and a positive-definite covariance (1-3% daily volatilities)."""
    rng = np.random.default_rng(7)
    vol = rng.uniform(0.01, 0.03, n)
    a = rng.normal(size=(n, n))
    s = a @ a.T + n * np.eye(n)
    d = 1.0 / np.sqrt(np.diag(s))
    cov = np.ascontiguousarray(s * np.outer(d, d) * np.outer(vol, vol))
    w = rng.uniform(0.0, 1.0, n)
    return w / w.sum(), rng.normal(0.0005, 0.0005, n), cov


def numpy_way_mc(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, n: int, seed: int) -> tuple[float, float]:
    """How one writes it in numpy: PCG64 normals, one matrix product, a partition for the tail."""
    z = np.random.default_rng(seed).standard_normal((n, w.shape[0]))
    losses = -(mu @ w + z @ (np.linalg.cholesky(cov).T @ w))
    k = int(CONFIDENCE * (n - 1))
    part = np.partition(losses, k)
    var = float(part[k])
    tail = part[k:]
    return var, float(tail[tail >= var].mean())


def orcl_returns() -> np.ndarray:
    """Simple daily returns of ORCL's Adj Close (dividends included), 1995-2014."""
    adj = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=5, dtype=np.float64)
    return np.ascontiguousarray(np.diff(adj) / adj[:-1])


# -- the empyrical peer (runs in the peer interpreter) ----------------------------------------------


def _peer_main(data: str, repeat: int) -> None:
    from importlib.metadata import version

    import empyrical as ep

    r = np.load(data)
    hist = np.ascontiguousarray(np.random.default_rng(3).standard_t(4, 5000) * 0.01)

    def metrics() -> list[float]:
        return [ep.cum_returns_final(r), ep.annual_return(r), ep.annual_volatility(r), ep.sharpe_ratio(r),
                ep.sortino_ratio(r), ep.downside_risk(r), ep.max_drawdown(r), ep.calmar_ratio(r)]

    def tail() -> tuple[float, float]:
        return ep.value_at_risk(hist, 1 - CONFIDENCE), ep.conditional_value_at_risk(hist, 1 - CONFIDENCE)

    print(json.dumps({
        "metrics_s": median_seconds(metrics, repeat=repeat),
        "hist_var_s": median_seconds(tail, repeat=repeat),
        "version": f"empyrical-reloaded {version('empyrical-reloaded')}",
    }))


def peer(returns: np.ndarray, repeat: int) -> dict[str, Any] | str:
    """Time empyrical in the peer interpreter; a string says why it could not be measured."""
    python = os.environ.get("NT_BENCH_METRICS_PYTHON", DEFAULT_PEERS_PYTHON)
    if not Path(python).exists():
        return f"not measured: no peer Python at {python} (set NT_BENCH_METRICS_PYTHON)"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "returns.npy"
        np.save(data, returns)
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--peer", str(data), str(repeat)],
                              capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"not measured: {last}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- sections -------------------------------------------------------------------------------------


def _monte_carlo_section(quick: bool) -> str:
    from neural_trader.native import risk, risk_numpy

    cores = os.cpu_count() or 1
    w, mu, cov = portfolio()
    exact = risk.parametric_var(w, mu, cov, CONFIDENCE)
    rows = []
    for n in (100_000, 1_000_000):
        kw: dict[str, Any] = {"confidence": CONFIDENCE, "n_scenarios": n, "seed": 1}
        reps = 3 if quick else (9 if n > 100_000 else 21)
        one = median_seconds(lambda kw=kw: risk.monte_carlo_var(w, mu, cov, threads=1, **kw), repeat=reps)
        many = median_seconds(lambda kw=kw: risk.monte_carlo_var(w, mu, cov, threads=cores, **kw), repeat=reps)
        twin = median_seconds(lambda kw=kw: risk_numpy.monte_carlo_var(w, mu, cov, **kw), repeat=3, min_sample_s=0)
        way = median_seconds(lambda n=n: numpy_way_mc(w, mu, cov, n, 1), repeat=reps)
        est = risk.monte_carlo_var(w, mu, cov, threads=cores, **kw)
        same = est == risk.monte_carlo_var(w, mu, cov, threads=1, **kw) == risk_numpy.monte_carlo_var(w, mu, cov, **kw)
        off = f"VaR {est.var / exact.var - 1:+.2%}, CVaR {est.cvar / exact.cvar - 1:+.2%}"
        rows += [
            (f"{n:,}", "kernel, 1 thread", fmt_seconds(one), f"{twin / one:.1f}", off),
            (f"{n:,}", f"kernel, {cores} threads", fmt_seconds(many), f"{twin / many:.1f}",
             f"{one / many:.2f}x over 1 thread; identical: {same}"),
            (f"{n:,}", "numpy twin (same numbers)", fmt_seconds(twin), "1.0", ""),
            (f"{n:,}", "numpy way (PCG64, matmul, partition)", fmt_seconds(way), f"{twin / way:.1f}",
             f"kernel (1 thread) is {way / one:.1f}x faster"),
        ]
    return "\n".join([
        f"### Monte Carlo VaR/CVaR {CONFIDENCE:.0%}, 10 correlated assets",
        "",
        f"Closed form: VaR {exact.var:.6f}, CVaR {exact.cvar:.6f} (daily, fraction of the portfolio); "
        "the last column of the kernel rows is the estimate's error against it. Target: kernel >= 5x the twin.",
        "",
        table(["scenarios", "implementation", "median", "twin / this", "notes"], rows),
    ])


def _historical_section(quick: bool, empyrical: dict[str, Any] | str) -> str:
    from neural_trader.native import risk, risk_numpy

    r = np.ascontiguousarray(np.random.default_rng(3).standard_t(4, 5000) * 0.01)
    reps = 7 if quick else 21
    rows = []
    for c in (0.99, 0.95):
        k = median_seconds(lambda c=c: risk.historical_var(r, c), repeat=reps)
        t = median_seconds(lambda c=c: risk_numpy.historical_var(r, c), repeat=reps)
        rows.append((f"historical VaR+CVaR {c:.0%}, 5,000 returns, kernel (wrapper included)", fmt_seconds(k),
                     f"{t / k:.1f}"))
        rows.append((f"historical VaR+CVaR {c:.0%}, numpy twin", fmt_seconds(t), "1.0"))
    base = median_seconds(lambda: risk.historical_var(r, 0.99), repeat=reps)
    rows.append(("np.quantile(-r, 0.99) alone (VaR only)",
                 fmt_seconds(median_seconds(lambda: np.quantile(-r, 0.99), repeat=reps)), "-"))
    if isinstance(empyrical, dict):
        rows.append((f"{empyrical['version']} value_at_risk + conditional_value_at_risk (1%)",
                     fmt_seconds(empyrical["hist_var_s"]), f"kernel {empyrical['hist_var_s'] / base:.1f}x faster"))
    ret = orcl_returns()
    k = median_seconds(lambda: risk.rolling_historical_var(ret, 250, 0.99), repeat=reps)
    t = median_seconds(lambda: risk_numpy.rolling_historical_var(ret, 250, 0.99), repeat=3, min_sample_s=0)
    rows.append((f"rolling historical VaR 99%, window 250, ORCL ({ret.shape[0]:,} returns), kernel", fmt_seconds(k),
                 f"{t / k:.1f}"))
    rows.append(("rolling historical VaR, numpy twin", fmt_seconds(t), "1.0"))
    x = np.ascontiguousarray(np.random.default_rng(4).normal(0, 0.01, (5000, 10)))
    for label, fk, ft in (
        ("covariance 5,000 x 10", lambda: risk.covariance(x), lambda: risk_numpy.covariance(x)),
        ("EWMA covariance 5,000 x 10, lambda 0.94", lambda: risk.ewma_covariance(x, 0.94),
         lambda: risk_numpy.ewma_covariance(x, 0.94)),
    ):
        k, t = median_seconds(fk, repeat=reps), median_seconds(ft, repeat=5)
        rows.append((f"{label}, kernel", fmt_seconds(k), f"{t / k:.1f}"))
    rows.append(("np.cov(x, rowvar=False) (pairwise sums, BLAS)",
                 fmt_seconds(median_seconds(lambda: np.cov(x, rowvar=False), repeat=reps)), "-"))
    notes = [] if isinstance(empyrical, dict) else [f"\nempyrical: {empyrical}"]
    return "\n".join(["### Historical VaR, rolling VaR, covariance (target: historical VaR < 20 µs)", "",
                      table(["measurement", "median", "twin / this"], rows), *notes])


def _metrics_section(quick: bool, empyrical: dict[str, Any] | str) -> str:
    from neural_trader.native import metrics, metrics_numpy

    r = orcl_returns()
    reps = 7 if quick else 21
    k = median_seconds(lambda: metrics.summary(r), repeat=reps)
    t = median_seconds(lambda: metrics_numpy.summary(r), repeat=reps)
    assert metrics.summary(r) == metrics_numpy.summary(r)
    rows = [("metrics.summary (17 metrics), kernel", fmt_seconds(k), "1.0"),
            ("metrics.summary, numpy twin (same numbers)", fmt_seconds(t), f"{t / k:.1f}")]
    if isinstance(empyrical, dict):
        rows.append((f"{empyrical['version']}: the 8 it has (total return, CAGR, volatility, Sharpe, Sortino, "
                     "downside risk, max drawdown, Calmar)", fmt_seconds(empyrical["metrics_s"]),
                     f"{empyrical['metrics_s'] / k:.1f}"))
        notes = []
    else:
        notes = [f"\nempyrical: {empyrical}"]
    return "\n".join([f"### Metrics of ORCL's daily returns ({r.shape[0]:,})", "",
                      table(["implementation", "median", "this / kernel"], rows), *notes])


def run(quick: bool = False) -> str:
    from neural_trader.native import metrics, risk

    if not (risk.COMPILED and metrics.COMPILED):
        return f"not measured: compiled kernels unavailable ({risk.STATUS_REASON or metrics.STATUS_REASON})"
    empyrical = peer(orcl_returns(), repeat=7 if quick else 21)
    parts = [
        table(["machine", ""], machine_rows()),
        "Medians of repeated calls through the public wrappers (argument checks and allocation included).",
        _monte_carlo_section(quick),
        _historical_section(quick, empyrical),
        _metrics_section(quick, empyrical),
    ]
    return "\n\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        _peer_main(sys.argv[2], int(sys.argv[3]))
    else:
        print(run(quick="--quick" in sys.argv))
