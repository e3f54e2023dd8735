"""Reference values for the forecasting baselines, metrics and conformal intervals, from the peer
libraries statsforecast (Naive, RandomWalkWithDrift, SeasonalNaive), utilsforecast (mae, rmse, mape,
smape) and MAPIE (SplitConformalRegressor).

Writes ``tests/data/forecasting_reference.json``, which ``tests/forecasting/test_reference.py`` holds
``neural_trader_plugins.forecasting.baselines`` and ``.evaluation`` to. It runs in its own virtual
environment so that neither library (nor pandas, numba, statsmodels) becomes a dependency (run from
the project root)::

    python3 -m venv /tmp/peers-forecast
    /tmp/peers-forecast/bin/pip install statsforecast==2.1.1 utilsforecast==0.2.17 mapie==1.6.0
    /tmp/peers-forecast/bin/python bench/reference/forecasting_reference.py

Data: ORCL daily bars (tests/data/SOURCES.md), the unadjusted ``Close`` column. For each window end
``t`` in ``ENDS`` the peers are fitted on the log closes of the ``LOOKBACK`` bars ending at ``t``
and forecast ``HORIZON`` log prices (Neural Trader's baselines forecast ``log(close[t+h]/close[t])``:
the same numbers less ``log close[t]``). The metrics compare the actual closes ``close[t+1..t+h]``
with the forecast prices ``exp(log price forecast)``, pooled over every window and step (one
``unique_id``). utilsforecast's ``mape`` and ``smape`` are fractions and its sMAPE has no factor 2:
Neural Trader's ``mape`` is 100 times it and ``smape`` 200 times it (the M4 scale).

Conformal: a scikit-learn ``LinearRegression`` of the next log return on the previous ``LAGS``
(``FIT`` windows), prefit, is conformalized by MAPIE's ``SplitConformalRegressor`` (absolute
residual score) on the next ``CAL`` windows and predicts intervals on the following ``TEST``, at
each confidence level; the JSON keeps the regression's forecasts and MAPIE's bounds.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from mapie.regression import SplitConformalRegressor
from sklearn.linear_model import LinearRegression
from statsforecast.models import Naive, RandomWalkWithDrift, SeasonalNaive
from utilsforecast import losses

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "orcl-1995-2014.txt"
OUT = ROOT / "tests" / "data" / "forecasting_reference.json"
LOOKBACK, HORIZON, SEASON = 30, 7, 5
ENDS = [200 + 120 * i for i in range(40)]
LAGS, FIT, CAL, TEST = 5, 2000, 500, 500
CONFIDENCE = (0.9, 0.8, 0.95)


def conformal(close: np.ndarray) -> dict:
    r = np.diff(np.log(close))
    x = np.column_stack([r[i:len(r) - LAGS + i] for i in range(LAGS)])  # x[j] = r[j .. j+LAGS-1]
    y = r[LAGS:]                                                         # y[j] = r[j+LAGS]
    fit, cal, test = slice(0, FIT), slice(FIT, FIT + CAL), slice(FIT + CAL, FIT + CAL + TEST)
    reg = LinearRegression().fit(x[fit], y[fit])
    out: dict = {"lags": LAGS, "fit": FIT, "cal": CAL, "test": TEST,
                 "y_index": "y[j] = log(close[j+LAGS+1] / close[j+LAGS])",
                 "pred_cal": reg.predict(x[cal]).tolist(), "pred_test": reg.predict(x[test]).tolist(), "levels": {}}
    for level in CONFIDENCE:
        scr = SplitConformalRegressor(reg, confidence_level=level, prefit=True).conformalize(x[cal], y[cal])
        _, bounds = scr.predict_interval(x[test])
        out["levels"][str(level)] = {"lower": bounds[:, 0, 0].tolist(), "upper": bounds[:, 1, 0].tolist()}
    return out


def main() -> None:
    close = np.genfromtxt(DATA, delimiter=",", skip_header=1, usecols=(4,))
    models = {"naive": Naive(), "drift": RandomWalkWithDrift(), "seasonal_naive": SeasonalNaive(season_length=SEASON)}
    forecasts: dict[str, list[list[float]]] = {k: [] for k in models}
    for t in ENDS:
        history = np.log(close[t - LOOKBACK + 1:t + 1])
        for name, model in models.items():
            forecasts[name].append([float(v) for v in model.forecast(y=history, h=HORIZON)["mean"]])
    truth = np.array([close[t + 1:t + 1 + HORIZON] for t in ENDS])
    frame = pd.DataFrame({"unique_id": "ORCL", "y": truth.ravel(),
                          **{k: np.exp(np.array(v)).ravel() for k, v in forecasts.items()}})
    names = list(models)
    metrics = {}
    for metric in ("mae", "rmse", "mape", "smape"):
        row = getattr(losses, metric)(frame, models=names)
        metrics[metric] = {k: float(row[k].iloc[0]) for k in names}
    OUT.write_text(json.dumps({
        "source": "bench/reference/forecasting_reference.py",
        "command": "/tmp/peers-forecast/bin/python bench/reference/forecasting_reference.py",
        "versions": {"python": platform.python_version(), "statsforecast": version("statsforecast"),
                     "utilsforecast": version("utilsforecast"),
                     "mapie": version("mapie"), "scikit-learn": version("scikit-learn"), "numpy": np.__version__, "pandas": pd.__version__},
        "platform": platform.platform(),
        "data": "tests/data/orcl-1995-2014.txt, Close",
        "lookback": LOOKBACK, "horizon": HORIZON, "season": SEASON, "ends": ENDS,
        "log_price_forecasts": forecasts,
        "metrics_on_prices": metrics,
        "conformal": conformal(close),
    }, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
