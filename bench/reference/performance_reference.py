"""Reference values for the benchmark-relative performance metrics, computed by empyrical.

Writes ``tests/data/performance_reference.json``, which ``tests/risk/test_performance.py`` holds
``neural_trader_plugins.risk.performance.performance_report`` to. It runs in its own virtual
environment so that neither empyrical nor pandas becomes a dependency (run from the project root)::

    python3 -m venv /tmp/peers-risk-C-emp
    /tmp/peers-risk-C-emp/bin/pip install empyrical-reloaded==0.7.1   # pulls pandas, scipy
    /tmp/peers-risk-C-emp/bin/python bench/reference/performance_reference.py

Data: ORCL (the strategy) against NVDA (the benchmark), daily bars from tests/data (SOURCES.md),
simple returns of ``Adj Close`` on the dates both files hold (an inner join on ``Date``; the first
common date has no return). Cases ``rf0`` (risk-free 0) and ``rf1bp`` (risk-free 0.0001 per day).

Values: ``alpha_beta`` (alpha annualised as ``(1 + mean(r - rf - beta (b - rf))) ** 252 - 1``),
``excess_sharpe`` (mean active return over its standard deviation, per period, not annualised),
tracking error as ``annual_volatility(r - b)`` (empyrical has no tracking-error function; this is
its annualised standard deviation of the active returns), ``up_capture``/``down_capture``,
``roll_sharpe_ratio``/``roll_annual_volatility``/``roll_beta`` over 63 days at a few end points,
and ``aggregate_returns(..., "monthly")``.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
OUT = DATA / "performance_reference.json"
WINDOW = 63
ROLL_AT = (62, 63, 1000, 2500, -1)  # end indices (inclusive) of windows, into the return series


def aligned() -> tuple[pd.Series, pd.Series]:
    prices = {}
    for sym, name in (("ORCL", "orcl-1995-2014.txt"), ("NVDA", "nvda-1999-2014.txt")):
        bars = pd.read_csv(DATA / name, index_col="Date", parse_dates=True)
        prices[sym] = bars["Adj Close"].astype(np.float64)
    both = pd.concat(prices, axis=1, join="inner").sort_index()
    rets = both.pct_change().iloc[1:]
    return rets["ORCL"], rets["NVDA"]


def main() -> None:
    r, b = aligned()
    rn, bn = r.to_numpy(), b.to_numpy()
    n = len(rn)
    cases = {}
    for name, rf in (("rf0", 0.0), ("rf1bp", 0.0001)):
        alpha, beta = ep.alpha_beta(rn, bn, risk_free=rf, annualization=252)
        cases[name] = {
            "risk_free": rf,
            "alpha": float(alpha),
            "beta": float(beta),
            "excess_sharpe": float(ep.excess_sharpe(rn, bn)),
            "tracking_error": float(ep.annual_volatility(rn - bn, annualization=252)),
            "up_capture": float(ep.up_capture(rn, bn)),
            "down_capture": float(ep.down_capture(rn, bn)),
        }
    roll_sharpe = np.asarray(ep.roll_sharpe_ratio(rn, window=WINDOW, annualization=252))
    roll_vol = np.asarray(ep.roll_annual_volatility(rn, window=WINDOW, annualization=252))
    roll_beta = np.asarray(ep.roll_beta(rn, bn, window=WINDOW))
    rolling = []
    for end in ROLL_AT:
        e = end % n
        k = e - (WINDOW - 1)  # index into the rolled output, which starts at the first full window
        rolling.append({"index": e, "sharpe": float(roll_sharpe[k]), "volatility": float(roll_vol[k]),
                        "beta": float(roll_beta[k])})
    monthly = ep.aggregate_returns(r, "monthly")
    out = {
        "about": "empyrical benchmark-relative metrics of ORCL vs NVDA; see bench/reference/performance_reference.py",
        "command": "/tmp/peers-risk-C-emp/bin/python bench/reference/performance_reference.py",
        "data": "tests/data/orcl-1995-2014.txt vs tests/data/nvda-1999-2014.txt, simple returns of Adj Close "
                "on common dates",
        "versions": {
            "empyrical-reloaded": version("empyrical-reloaded"),
            "pandas": version("pandas"),
            "numpy": version("numpy"),
            "python": platform.python_version(),
        },
        "periods_per_year": 252,
        "n_returns": n,
        "first_date": str(r.index[0].date()),
        "last_date": str(r.index[-1].date()),
        "first_returns": {"strategy": rn[:3].tolist(), "benchmark": bn[:3].tolist()},
        "cases": cases,
        "window": WINDOW,
        "rolling": rolling,
        "monthly": [[int(y), int(m), float(v)] for (y, m), v in monthly.items()],
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
