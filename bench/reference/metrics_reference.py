"""Reference values for the metrics kernels, computed by the peer library empyrical.

Writes ``tests/data/orcl_metrics_reference.json``, which ``tests/native/test_metrics.py`` holds the
kernels to. It runs in its own virtual environment so that neither empyrical nor pandas becomes a
dependency of Neural Trader (run from the project root)::

    python3 -m venv /tmp/peers-metrics
    /tmp/peers-metrics/bin/pip install empyrical-reloaded==0.7.1   # pulls pandas, scipy
    /tmp/peers-metrics/bin/python bench/reference/metrics_reference.py

Data: ORCL daily bars (tests/data/SOURCES.md), simple returns of ``Adj Close`` (dividends
included). Cases:

* ``buy_and_hold``: the returns as they are, every empyrical default (252 periods a year,
  risk-free 0, required return 0).
* ``rates``: the same with a per-period risk-free rate (Sharpe) and required return (Sortino).
* ``weekly_factor``: the same returns annualised with 52 periods a year (checks that the
  factor is a parameter, not a constant).
* ``momentum``: a long/flat strategy, long for the next day whenever ``Close`` is above its value
  20 days earlier: ``r_strategy[t] = position[t-1] * r[t]``; its zero days exercise win rate,
  profit factor, expectancy and exposure.

empyrical has no win rate, profit factor, expectancy, exposure or drawdown duration; those are
computed here with pandas from their textbook definitions (docs/native.md, "Metrics"), written
independently of the kernels. Historical VaR/CVaR come from empyrical's ``value_at_risk`` and
``conditional_value_at_risk`` (on returns, so they are minus the kernels' losses).
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
DATA = ROOT / "tests" / "data" / "orcl-1995-2014.txt"
OUT = ROOT / "tests" / "data" / "orcl_metrics_reference.json"
MOMENTUM_LAG = 20


def empyrical_metrics(r: np.ndarray, *, annualization: int, risk_free: float, required_return: float) -> dict:
    kw = {"annualization": annualization}
    return {
        "total_return": float(ep.cum_returns_final(r)),
        "cagr": float(ep.annual_return(r, **kw)),
        "annual_volatility": float(ep.annual_volatility(r, **kw)),
        "sharpe": float(ep.sharpe_ratio(r, risk_free=risk_free, **kw)),
        "sortino": float(ep.sortino_ratio(r, required_return=required_return, **kw)),
        "downside_risk": float(ep.downside_risk(r, required_return=required_return, **kw)),
        "max_drawdown": float(ep.max_drawdown(r)),
        "calmar": float(ep.calmar_ratio(r, **kw)),
    }


def pandas_metrics(r: np.ndarray, positions: np.ndarray | None) -> dict:
    s = pd.Series(r)
    gains, losses = s[s > 0], s[s < 0]
    wealth = (1.0 + s).cumprod()
    peak = np.maximum(wealth.cummax(), 1.0)  # the peak includes the starting wealth of 1
    underwater = wealth < peak
    runs = underwater.groupby((~underwater).cumsum()).sum()
    held = (pd.Series(positions) != 0) if positions is not None else (s != 0)
    return {
        "n_wins": len(gains),
        "n_losses": len(losses),
        "win_rate": float(len(gains) / (len(gains) + len(losses))),
        "profit_factor": float(gains.sum() / -losses.sum()),
        "expectancy": float(s[s != 0].mean()),
        "exposure": float(held.mean()),
        "max_drawdown_duration": int(runs.max()),
    }


def tail_metrics(r: np.ndarray) -> dict:
    return {
        f"{name}_{round(c * 100)}": float(fn(r, cutoff=1.0 - c))
        for c in (0.95, 0.99)
        for name, fn in (("value_at_risk", ep.value_at_risk), ("conditional_value_at_risk", ep.conditional_value_at_risk))
    }


def main() -> None:
    bars = pd.read_csv(DATA)
    adj = bars["Adj Close"].to_numpy(dtype=np.float64)
    close = bars["Close"].to_numpy(dtype=np.float64)
    r = np.asarray(ep.simple_returns(adj))  # (p[i] - p[i-1]) / p[i-1]
    signal = np.zeros(len(close))
    signal[MOMENTUM_LAG:] = (close[MOMENTUM_LAG:] > close[:-MOMENTUM_LAG]).astype(np.float64)
    positions = signal[:-1]  # held over return t = (p[t+1] - p[t]) / p[t], decided at bar t
    strategy = positions * r

    cases = {
        "buy_and_hold": (r, None, {"periods_per_year": 252, "risk_free": 0.0, "required_return": 0.0}),
        "rates": (r, None, {"periods_per_year": 252, "risk_free": 0.0001, "required_return": 0.0002}),
        "weekly_factor": (r, None, {"periods_per_year": 52, "risk_free": 0.0, "required_return": 0.0}),
        "momentum": (strategy, positions, {"periods_per_year": 252, "risk_free": 0.0, "required_return": 0.0}),
    }
    out = {
        "about": "empyrical (and pandas) metrics of ORCL daily returns; see bench/reference/metrics_reference.py",
        "command": "/tmp/peers-metrics/bin/python bench/reference/metrics_reference.py",
        "data": "tests/data/orcl-1995-2014.txt, simple returns of Adj Close",
        "momentum_lag": MOMENTUM_LAG,
        "versions": {
            "empyrical-reloaded": version("empyrical-reloaded"),
            "pandas": version("pandas"),
            "numpy": version("numpy"),
            "python": platform.python_version(),
        },
        "n_returns": len(r),
        "cases": {},
    }
    for name, (series, pos, params) in cases.items():
        metrics = empyrical_metrics(series, annualization=params["periods_per_year"], risk_free=params["risk_free"],
                                    required_return=params["required_return"])
        metrics.update(pandas_metrics(series, pos))
        metrics.update(tail_metrics(series))
        out["cases"][name] = {"params": params, "metrics": metrics}
    OUT.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
