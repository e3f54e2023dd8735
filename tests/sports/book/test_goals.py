"""The goal model against penaltyblog 1.13.1 fitted on the same football-data matches
(tests/data/goal_model_reference.json, written by bench/reference/goal_model_reference.py), its
gradient against finite differences, and the time-decay weights against their closed form.

Tolerance: 5e-6 on ratings and probabilities, 1e-7 on the log-likelihood. The reference is
penaltyblog's own fit with SLSQP on finite differences (its analytic Dixon-Coles gradient is off, see
the script), which places the optimum to about 1e-6; ours uses the exact gradient, so its
log-likelihood is never below the reference's by more than rounding.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.book import goals, seasons
from neural_trader_plugins.sports.football_data import read_football_data

DATA = Path(__file__).resolve().parents[2] / "data"
REFERENCE = json.loads((DATA / "goal_model_reference.json").read_text())


def _results(name: str, last: dt.date) -> list[goals.Result]:
    return seasons.results_of([m for m in read_football_data(DATA / name) if m.date <= last])


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['file'][-8:-4]}-{c['model']}-{c['xi']}")
def test_fit_matches_penaltyblog(case: dict) -> None:
    model = goals.fit_goal_model(_results(case["file"], dt.date.fromisoformat(case["last_date"])),
                                 kind=case["model"], xi=case["xi"])
    assert model.n_matches == case["n_matches"] and list(model.teams) == sorted(case["attack"])
    # penaltyblog states mean(attack) = 1: its attack is ours + 1, its defence ours - 1.
    assert model.attack == pytest.approx([case["attack"][t] - 1 for t in model.teams], abs=5e-6)
    assert model.defence == pytest.approx([case["defence"][t] + 1 for t in model.teams], abs=5e-6)
    assert model.home_advantage == pytest.approx(case["home_advantage"], abs=5e-6)
    assert model.rho == pytest.approx(case["rho"] or 0.0, abs=5e-6)
    assert model.loglikelihood == pytest.approx(case["loglikelihood"], abs=1e-7)
    assert model.loglikelihood >= case["loglikelihood"] - 1e-9
    for p in case["predictions"]:
        got = model.predict(p["home_team"], p["away_team"])
        assert [got.home, got.draw, got.away] == pytest.approx(p["home_draw_away"], abs=5e-6)
        assert got.over_2_5 == pytest.approx(p["over_2_5"], abs=5e-6)
        assert (got.home_goals, got.away_goals) == pytest.approx((p["home_goals"], p["away_goals"]), abs=5e-6)


def test_poisson_prediction_is_the_product_of_two_poisson_laws() -> None:
    model = goals.fit_goal_model(_results("football-data_E0_2324.csv", dt.date(2023, 12, 31)), kind="poisson")
    lam, mu = model.expected_goals("Arsenal", "Liverpool")
    p = model.predict("Arsenal", "Liverpool", max_goals=30)
    grid = np.outer(stats.poisson.pmf(np.arange(30), lam), stats.poisson.pmf(np.arange(30), mu))
    assert p.home == pytest.approx(np.tril(grid, -1).sum(), abs=1e-12)
    assert p.draw == pytest.approx(np.trace(grid), abs=1e-12)
    assert p.under_2_5 == pytest.approx(sum(grid[i, j] for i in range(3) for j in range(3 - i)), abs=1e-12)
    assert p.home + p.draw + p.away == pytest.approx(1.0, abs=1e-12)
    assert (p.home_goals, p.away_goals) == pytest.approx((lam, mu), abs=1e-9)


def test_dixon_coles_likelihood_is_at_its_maximum() -> None:
    """The fitted parameters are a stationary point of the weighted log-likelihood written out here
    from Dixon and Coles' formulas (finite differences, independent of the module's gradient)."""
    results = _results("football-data_E0_2324.csv", dt.date(2023, 10, 31))
    model = goals.fit_goal_model(results, kind="dixon_coles", xi=0.002)
    index = {t: i for i, t in enumerate(model.teams)}
    w = goals.time_weights([r.date for r in results], 0.002)
    n = len(model.teams)

    def loglik(theta: np.ndarray) -> float:
        a, d, h, rho = theta[:n], theta[n:2 * n], theta[2 * n], theta[2 * n + 1]
        total = 0.0
        for r, wi in zip(results, w, strict=True):
            lam = math.exp(h + a[index[r.home_team]] + d[index[r.away_team]])
            mu = math.exp(a[index[r.away_team]] + d[index[r.home_team]])
            x, y = r.home_goals, r.away_goals
            tau = {(0, 0): 1 - rho * lam * mu, (0, 1): 1 + rho * lam, (1, 0): 1 + rho * mu, (1, 1): 1 - rho}.get((x, y), 1.0)
            total += wi * (stats.poisson.logpmf(x, lam) + stats.poisson.logpmf(y, mu) + math.log(tau))
        return total

    theta = np.array([*model.attack, *model.defence, model.home_advantage, model.rho])
    grad = optimize.approx_fprime(theta, loglik, 1e-6)
    assert np.max(np.abs(grad)) < 1e-4
    assert loglik(theta) == pytest.approx(model.loglikelihood, abs=1e-9)


def test_time_weights_closed_form() -> None:
    days = [dt.date(2024, 1, 1), dt.date(2024, 1, 11), dt.date(2024, 2, 1)]
    assert goals.time_weights(days, 0.01) == pytest.approx([math.exp(-0.31), math.exp(-0.21), 1.0])
    assert goals.time_weights(days, 0.0) == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(NtUserError, match="xi"):
        goals.time_weights(days, -1.0)


def test_bad_input_names_the_field() -> None:
    results = _results("football-data_E0_2324.csv", dt.date(2023, 9, 30))
    model = goals.fit_cached(results, kind="poisson")
    assert goals.fit_cached(results, kind="poisson") is model   # cached by data fingerprint and settings
    with pytest.raises(NtUserError, match="home_team 'Wrexham'"):
        model.predict("Wrexham", "Arsenal")
    with pytest.raises(NtUserError, match="at least 10"):
        goals.fit_goal_model(results[:5])
    with pytest.raises(NtUserError, match="kind"):
        goals.fit_goal_model(results, kind="negative_binomial")


def test_a_degenerate_fit_is_refused_not_a_nan() -> None:
    """A team that never scores has attack -> -inf: its predictions would be 0/0; they are refused."""
    teams = ["A", "B", "C", "D"]
    results = [goals.Result(date=dt.date(2024, 1, 1) + dt.timedelta(days=i), home_team=h, away_team=a,
                            home_goals=0 if h == "D" else 2, away_goals=0 if a == "D" else 1)
               for i, (h, a) in enumerate((h, a) for h in teams for a in teams if h != a)]
    model = goals.fit_goal_model(results, kind="poisson")
    with pytest.raises(NtUserError, match="degenerate"):
        model.predict("D", "A")

