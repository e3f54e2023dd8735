"""Reference weights for hierarchical risk parity, computed by the peer library PyPortfolioOpt.

Writes ``tests/data/construction_reference.json``, which ``tests/risk/test_construction.py`` holds
``neural_trader_plugins.risk.construction.hrp`` to. It runs in its own virtual environment so that
neither PyPortfolioOpt nor pandas becomes a dependency of Neural Trader (run from the project root)::

    python3 -m venv /tmp/peers-risk-C-hrp
    /tmp/peers-risk-C-hrp/bin/pip install pyportfolioopt   # pulls pandas, scipy, cvxpy
    /tmp/peers-risk-C-hrp/bin/python bench/reference/construction_reference.py

Cases (each stores its returns matrix, so the test needs neither the generator nor the data files):

* ``orcl_nvda_synthetic``: the last 250 daily simple returns of ORCL and NVDA ``Adj Close`` on their
  common dates (tests/data/SOURCES.md), plus four synthetic assets correlated with them (seed 7).
* ``blocks_12``: twelve synthetic assets in three correlated blocks with different volatilities,
  200 periods (seed 11), so the tree is several levels deep.

``HRPOpt(returns).optimize("single")``: correlation distance ``sqrt((1 - rho) / 2)``, single
linkage, quasi-diagonalisation, recursive bisection with inverse-variance cluster weights.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from pypfopt import HRPOpt

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
OUT = DATA / "construction_reference.json"


def aligned_returns() -> pd.DataFrame:
    frames = {}
    for sym, name in (("ORCL", "orcl-1995-2014.txt"), ("NVDA", "nvda-1999-2014.txt")):
        bars = pd.read_csv(DATA / name, index_col="Date")
        frames[sym] = bars["Adj Close"].astype(np.float64)
    prices = pd.concat(frames, axis=1, join="inner").sort_index()
    return prices.pct_change().iloc[1:]


def case_orcl_nvda() -> pd.DataFrame:
    real = aligned_returns().iloc[-250:].reset_index(drop=True)
    rng = np.random.default_rng(7)
    t = len(real)
    o, n = real["ORCL"].to_numpy(), real["NVDA"].to_numpy()
    cols = {
        "ORCL": o,
        "NVDA": n,
        "S1": 0.7 * o + 0.01 * rng.standard_normal(t),
        "S2": 0.5 * n + 0.02 * rng.standard_normal(t),
        "S3": 0.3 * o + 0.3 * n + 0.015 * rng.standard_normal(t),
        "S4": 0.008 * rng.standard_normal(t),
    }
    return pd.DataFrame(cols)


def case_blocks() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = 200
    factors = rng.standard_normal((t, 3)) * np.array([0.01, 0.015, 0.02])
    cols = {}
    for i in range(12):
        block = i % 3
        loading = 0.6 + 0.1 * (i // 3)
        cols[f"A{i}"] = loading * factors[:, block] + (0.004 + 0.001 * i) * rng.standard_normal(t)
    return pd.DataFrame(cols)


def main() -> None:
    out = {
        "about": "PyPortfolioOpt HRPOpt weights (single linkage); see bench/reference/construction_reference.py",
        "command": "/tmp/peers-risk-C-hrp/bin/python bench/reference/construction_reference.py",
        "versions": {
            "pyportfolioopt": version("pyportfolioopt"),
            "pandas": version("pandas"),
            "numpy": version("numpy"),
            "scipy": version("scipy"),
            "python": platform.python_version(),
        },
        "cases": {},
    }
    for name, frame in (("orcl_nvda_synthetic", case_orcl_nvda()), ("blocks_12", case_blocks())):
        weights = HRPOpt(returns=frame).optimize(linkage_method="single")
        out["cases"][name] = {
            "assets": list(frame.columns),
            "returns": frame.to_numpy().tolist(),
            "weights": [float(weights[c]) for c in frame.columns],
        }
    OUT.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
