"""Fit penaltyblog's Poisson and Dixon-Coles goal models on the football-data E0 files, as the reference
for Neural Trader's goal model (``neural_trader_plugins.sports.book.goals``).

Run with a Python that has penaltyblog (not a dependency of Neural Trader), from the repo root::

    python3 -m venv /tmp/pb && /tmp/pb/bin/pip install 'penaltyblog==1.13.1'
    /tmp/pb/bin/python bench/reference/goal_model_reference.py

It writes ``tests/data/goal_model_reference.json``: for each case (file, the matches fitted on, model,
time-decay ``xi``) the fitted parameters in penaltyblog's convention (attack, defence, home advantage,
rho; penaltyblog constrains ``sum(attack) = n_teams``), its log-likelihood, and the predicted
home/draw/away, over 2.5 and expected goals of the first fixtures after the training window
(penaltyblog's grid: 0 to 14 goals each, normalised).

penaltyblog minimises with SLSQP, whose default ``ftol`` (1e-6) stops short of the optimum; the
reference tightens it to ``ftol=1e-12``. It also fits with ``use_gradient=False`` (SLSQP's finite
differences): in penaltyblog 1.13.1 the Dixon-Coles model's analytic gradient disagrees with finite
differences of its own loss (by 0.74 where the gradient is 0.11, on the 2023/24 fit), and SLSQP then
stops "successfully" 0.06 log-likelihood below the maximum. With finite differences the parameters
are the maximum-likelihood estimate to about 1e-6 (the finite-difference step's accuracy). Nothing here imports neural_trader: the CSVs are read with ``csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import penaltyblog as pb

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
OUT = DATA / "goal_model_reference.json"
#: SLSQP's default ftol (1e-6) stops short of the optimum; tightened so the reference is the MLE itself.
OPTIONS = {"ftol": 1e-12, "maxiter": 3000}
MODELS = {"poisson": pb.models.PoissonGoalsModel, "dixon_coles": pb.models.DixonColesGoalModel}
#: (file, the fit's last date (inclusive; None: the whole file), model, xi, fixtures predicted)
CASES = (
    ("football-data_E0_2324.csv", "2023-12-31", "poisson", 0.0, 10),
    ("football-data_E0_2324.csv", "2023-12-31", "dixon_coles", 0.0, 10),
    ("football-data_E0_2324.csv", "2023-12-31", "dixon_coles", 0.0018, 10),
    ("football-data_E0_2324.csv", "2023-12-31", "poisson", 0.005, 10),
    ("football-data_E0_1819.csv", None, "dixon_coles", 0.0018, 0),
)


def matches(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("HomeTeam")]
    return [{"date": dt.datetime.strptime(r["Date"], "%d/%m/%Y").date(), "home": r["HomeTeam"],
             "away": r["AwayTeam"], "hg": int(r["FTHG"]), "ag": int(r["FTAG"])} for r in rows]


def case(name: str, last: str | None, model: str, xi: float, n_predict: int) -> dict:
    all_matches = matches(name)
    cut = dt.date.fromisoformat(last) if last else max(m["date"] for m in all_matches)
    train = [m for m in all_matches if m["date"] <= cut]
    test = [m for m in all_matches if m["date"] > cut][:n_predict]
    weights = pb.models.dixon_coles_weights([m["date"] for m in train], xi) if xi else None
    fitted = MODELS[model]([m["hg"] for m in train], [m["ag"] for m in train], [m["home"] for m in train],
                           [m["away"] for m in train], weights=weights)
    fitted.fit(minimizer_options=OPTIONS, use_gradient=False)
    params = fitted.get_params()
    teams = sorted(fitted.teams)
    predictions = []
    for m in test:
        grid = fitted.predict(m["home"], m["away"])
        predictions.append({"date": m["date"].isoformat(), "home_team": m["home"], "away_team": m["away"],
                            "home_draw_away": [float(x) for x in grid.home_draw_away],
                            "over_2_5": float(grid.total_goals("over", 2.5)),
                            "home_goals": float(grid.home_goal_expectation),
                            "away_goals": float(grid.away_goal_expectation)})
    return {"file": name, "last_date": cut.isoformat(), "model": model, "xi": xi, "n_matches": len(train),
            "attack": {t: float(params[f"attack_{t}"]) for t in teams},
            "defence": {t: float(params.get(f"defence_{t}", params.get(f"defense_{t}"))) for t in teams},
            "home_advantage": float(params["home_advantage"]),
            "rho": float(params["rho"]) if "rho" in params else None,
            "loglikelihood": float(fitted.loglikelihood), "predictions": predictions}


def main() -> None:
    out = {"peer": f"penaltyblog {version('penaltyblog')}", "numpy": np.__version__,
           "python": sys.version.split()[0], "command": "/tmp/pb/bin/python bench/reference/goal_model_reference.py",
           "minimizer_options": OPTIONS, "use_gradient": False, "max_goals": 15,
           "cases": [case(*c) for c in CASES]}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(out['cases'])} cases")


if __name__ == "__main__":
    main()
