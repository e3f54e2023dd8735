"""Reference values for the exponential-smoothing baseline (``neural_trader_plugins.forecasting.ets``)
from statsmodels' ``SimpleExpSmoothing`` and ``Holt`` (``statsmodels.tsa.holtwinters``).

Writes ``tests/data/ets_reference.json``, which ``tests/forecasting/test_ets.py`` holds ours to. It runs
in its own virtual environment so statsmodels never becomes a dependency (run from the project root)::

    python3 -m venv /tmp/sm
    /tmp/sm/bin/pip install statsmodels numpy
    /tmp/sm/bin/python bench/reference/ets_reference.py

Data: ORCL daily bars (tests/data/SOURCES.md), the unadjusted ``Close`` column. Each series is the log
closes of the ``lookback`` bars ending at a window end ``t`` (``ENDS``, two lookbacks).

Our "known" initialisation takes ``l_0 = y_0`` (and ``b_0 = y_1 - y_0``) from the first value(s) and
scores the one-step errors of ``y_1 .. y_{L-1}``. statsmodels' known initial states come *before* its
first observation, so it is given ``y_1 .. y_{L-1}`` with ``initial_level = y_0`` (and
``initial_trend = y_1 - y_0``): both then score the same errors. For each series the JSON keeps the
optimised parameters, SSE and the ``HORIZON``-step forecast, and, at fixed ``FIXED`` parameters
(``optimized=False``), the fitted one-step forecasts and the forecast.
"""

from __future__ import annotations

import json
import platform
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
from statsmodels.tsa.holtwinters import Holt, SimpleExpSmoothing

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "orcl-1995-2014.txt"
OUT = ROOT / "tests" / "data" / "ets_reference.json"
HORIZON = 5
LOOKBACKS = (30, 60)
ENDS = [300 + 125 * i for i in range(36)]
FIXED = {"alpha": 0.3, "beta": 0.1}


def one(y: np.ndarray) -> dict:
    body = y[1:]
    level, trend = float(y[0]), float(y[1] - y[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ses = SimpleExpSmoothing(body, initialization_method="known", initial_level=level).fit(optimized=True)
        holt = Holt(body, initialization_method="known", initial_level=level, initial_trend=trend).fit(
            optimized=True)
        ses_fixed = SimpleExpSmoothing(body, initialization_method="known", initial_level=level).fit(
            smoothing_level=FIXED["alpha"], optimized=False)
        holt_fixed = Holt(body, initialization_method="known", initial_level=level, initial_trend=trend).fit(
            smoothing_level=FIXED["alpha"], smoothing_trend=FIXED["beta"], optimized=False)
    return {
        "y": y.tolist(),
        "ses": {"alpha": float(ses.params["smoothing_level"]), "sse": float(ses.sse),
                "forecast": ses.forecast(HORIZON).tolist()},
        "holt": {"alpha": float(holt.params["smoothing_level"]), "beta": float(holt.params["smoothing_trend"]),
                 "sse": float(holt.sse), "forecast": holt.forecast(HORIZON).tolist()},
        "ses_fixed": {"fitted": ses_fixed.fittedvalues.tolist(), "forecast": ses_fixed.forecast(HORIZON).tolist()},
        "holt_fixed": {"fitted": holt_fixed.fittedvalues.tolist(), "forecast": holt_fixed.forecast(HORIZON).tolist()},
    }


def main() -> None:
    close = np.genfromtxt(DATA, delimiter=",", skip_header=1, usecols=(4,))
    logc = np.log(close)
    series = [{"end": end, "lookback": lb, **one(logc[end - lb + 1:end + 1])} for lb in LOOKBACKS for end in ENDS]
    out = {"peer": {"statsmodels": version("statsmodels"), "numpy": version("numpy"),
                    "python": platform.python_version()},
           "command": "/tmp/sm/bin/python bench/reference/ets_reference.py",
           "data": "tests/data/orcl-1995-2014.txt, log Close", "horizon": HORIZON, "fixed": FIXED, "series": series}
    OUT.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(series)} series)")


if __name__ == "__main__":
    main()
