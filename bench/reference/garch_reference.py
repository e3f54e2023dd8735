"""Reference GARCH(1,1) fits by the peer library ``arch``, and drawdowns by empyrical and pandas.

Writes ``tests/data/garch_reference.json`` (held to by ``tests/risk/test_volatility.py``) and
``tests/data/drawdown_reference.json`` (``tests/risk/test_drawdown.py``). It runs in its own virtual
environment so that neither arch, empyrical nor pandas becomes a dependency (from the project root)::

    python3 -m venv /tmp/peers-risk-B
    /tmp/peers-risk-B/bin/pip install arch empyrical-reloaded==0.7.1   # pulls pandas, scipy, statsmodels
    /tmp/peers-risk-B/bin/python bench/reference/garch_reference.py

Data: ORCL and NVDA daily bars (tests/data/SOURCES.md), simple returns of ``Adj Close``.

GARCH: ``arch_model(100 * r, mean=..., vol="GARCH", p=1, q=1, dist="normal", rescale=False)``
fitted with arch's defaults (SLSQP, its own starting values); ORCL with a constant mean, NVDA with
a zero mean, so both mean models of ``neural_trader_plugins.risk.volatility`` are checked. Stored
in arch's (percent) units: ``omega`` in percent**2, ``mu`` in percent, the conditional volatility in
percent, the 10-step variance forecast in percent**2, the log-likelihood of the percent data.

Drawdowns: ``empyrical.max_drawdown`` of the ORCL returns, and the top-5 drawdown periods by
pyfolio's algorithm (``pyfolio.timeseries.get_top_drawdowns``, restated here with pandas since
pyfolio itself no longer installs): the wealth curve starts at 1 on the first price date, the
underwater curve is ``wealth / running max - 1``; repeatedly take the deepest point, its peak (last
zero before it) and recovery (first zero after it), cut the period out, stop when nothing is under
water.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
from arch import arch_model

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GARCH_OUT = DATA / "garch_reference.json"
DRAWDOWN_OUT = DATA / "drawdown_reference.json"
CASES = {"ORCL": ("orcl-1995-2014.txt", "Constant"), "NVDA": ("nvda-1999-2014.txt", "Zero")}
HORIZON = 10
TOP = 5


def adj_returns(file: str) -> pd.Series:
    bars = pd.read_csv(DATA / file, parse_dates=["Date"])
    adj = bars.set_index("Date")["Adj Close"].astype(np.float64)
    return adj.pct_change().iloc[1:]


def versions() -> dict:
    return {name: version(name) for name in ("arch", "empyrical-reloaded", "pandas", "numpy", "scipy")} | {
        "python": platform.python_version()}


def garch_case(file: str, mean: str) -> dict:
    r = adj_returns(file)
    am = arch_model(100.0 * r.to_numpy(), mean=mean, vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    res = am.fit(disp="off")
    params = {k: float(v) for k, v in res.params.items()}
    fc = res.forecast(horizon=HORIZON, reindex=False)
    return {
        "file": f"tests/data/{file}",
        "mean": mean,
        "n_obs": int(r.shape[0]),
        "params": params,
        "loglikelihood": float(res.loglikelihood),
        "convergence_flag": int(res.convergence_flag),
        "first_conditional_volatility": float(res.conditional_volatility[0]),
        "last_conditional_volatility": float(res.conditional_volatility[-1]),
        "variance_forecast": [float(v) for v in fc.variance.to_numpy()[-1]],
    }


def top_drawdowns(r: pd.Series, top: int) -> list[dict]:
    start = r.index[0] - pd.Timedelta(days=1)  # placeholder date for the starting wealth, replaced below
    wealth = pd.concat([pd.Series([1.0], index=[start]), (1.0 + r).cumprod()])
    underwater = wealth / wealth.cummax() - 1.0
    dates = list(wealth.index)
    out = []
    for _ in range(top):
        valley = underwater.idxmin()
        peak = underwater[:valley][underwater[:valley] == 0].index[-1]
        after = underwater[valley:][underwater[valley:] == 0]
        recovery = after.index[0] if len(after) else None
        depth = float(wealth[valley] / wealth[peak] - 1.0)
        if recovery is not None:
            underwater = underwater.drop(underwater[peak:recovery].index[1:-1])
        else:
            underwater = underwater.loc[:peak]
        out.append({
            "peak": dates.index(peak), "trough": dates.index(valley),
            "recovery": None if recovery is None else dates.index(recovery),
            "peak_date": None if peak == start else peak.date().isoformat(),
            "trough_date": valley.date().isoformat(),
            "recovery_date": None if recovery is None else recovery.date().isoformat(),
            "depth": depth,
        })
        if len(underwater) == 0 or underwater.min() == 0:
            break
    return out


def main() -> None:
    command = "/tmp/peers-risk-B/bin/python bench/reference/garch_reference.py"
    garch = {
        "about": "arch GARCH(1,1) fits of percent daily returns; see bench/reference/garch_reference.py",
        "command": command,
        "model": "arch_model(100 * r, mean=<mean>, vol='GARCH', p=1, q=1, dist='normal', rescale=False).fit()",
        "scale": 100.0,
        "horizon": HORIZON,
        "versions": versions(),
        "cases": {sym: garch_case(file, mean) for sym, (file, mean) in CASES.items()},
    }
    GARCH_OUT.write_text(json.dumps(garch, indent=2) + "\n", encoding="utf-8")
    r = adj_returns(CASES["ORCL"][0])
    drawdown = {
        "about": ("empyrical max_drawdown and a pyfolio-style top-5 drawdown table of ORCL daily returns; "
                  "indices are on the wealth curve (0 = before the first return, i = after return i); "
                  "see bench/reference/garch_reference.py"),
        "command": command,
        "data": "tests/data/orcl-1995-2014.txt, simple returns of Adj Close",
        "versions": versions(),
        "n_returns": int(r.shape[0]),
        "max_drawdown": float(ep.max_drawdown(r.to_numpy())),
        "top_drawdowns": top_drawdowns(r, TOP),
    }
    DRAWDOWN_OUT.write_text(json.dumps(drawdown, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {GARCH_OUT.relative_to(ROOT)} and {DRAWDOWN_OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
