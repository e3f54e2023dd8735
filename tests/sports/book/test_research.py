"""The research operations on the real 2023/24 closing odds: value bets against the formulas, the
walk-forward model without look-ahead, the backtests recomputed straight from the CSV, the model's
log loss and Brier score recomputed by hand, and the Monte Carlo simulation against closed forms."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from neural_trader.errors import NtUserError, NtValidationError
from neural_trader.host import Host
from neural_trader.testing import call_everywhere
from neural_trader_plugins.sports.book import backtest as bt
from neural_trader_plugins.sports.book import goals, seasons
from neural_trader_plugins.sports.events import slug

CSV = Path(__file__).resolve().parents[2] / "data" / "football-data_E0_2324.csv"


def rows() -> list[dict[str, str]]:
    with CSV.open(encoding="utf-8-sig", newline="") as f:
        return [r for r in csv.DictReader(f) if r["HomeTeam"]]


def day(row: dict[str, str]) -> dt.date:
    return dt.datetime.strptime(row["Date"], "%d/%m/%Y").date()


def test_value_bets_given_inline_follow_the_formulas(nt_host: Host) -> None:
    from neural_trader_plugins.sports.margins import remove_margin

    odds, q = [2.1, 3.4, 3.6], [0.52, 0.26, 0.22]
    got = nt_host.call("sports.value_bets", {"markets": [{"event_id": "m", "odds": odds, "probabilities": q,
                                                          "outcomes": ["home", "draw", "away"]}],
                                             "min_edge": 0.0, "kelly_fraction": 0.5})
    fair = remove_margin(odds, "shin").probabilities
    expected = [k for k in range(3) if q[k] * odds[k] - 1 > 0 and q[k] - fair[k] > 0]
    assert [v["outcome"] for v in got["value_bets"]] == [["home", "draw", "away"][k] for k in expected] == ["home"]
    v = got["value_bets"][0]
    assert v["ev"] == pytest.approx(0.52 * 2.1 - 1) and v["edge"] == pytest.approx(0.52 - fair[0])
    assert v["kelly_stake"] == pytest.approx(0.5 * (1.1 * 0.52 - 0.48) / 1.1)
    with pytest.raises(NtUserError, match=r"markets\[0\].probabilities"):
        nt_host.call("sports.value_bets", {"markets": [{"event_id": "m", "odds": odds, "probabilities": [0.5, 0.5, 0]}]})
    with pytest.raises(NtUserError, match=r"markets\[0\].odds\[0\] must be decimal odds > 1"):
        nt_host.call("sports.value_bets", {"markets": [{"event_id": "m", "odds": [1.0, 3.0], "probabilities": [0.5, 0.5]}]})


def test_walk_forward_never_looks_ahead() -> None:
    matches = seasons.load_season("E0_2324")
    cut = dt.date(2024, 4, 1)
    # The same season with every result from the cut on reversed: nothing priced before the cut may move.
    flipped = tuple(attrs.evolve(m, home_goals=m.away_goals, away_goals=m.home_goals,
                                 result={"H": "A", "A": "H", "D": "D"}[m.result]) if m.date >= cut else m
                    for m in matches)
    for refit in (3, 14):
        window = {"start": dt.date(2024, 3, 30), "end": dt.date(2024, 4, 20), "kind": "poisson", "xi": 0.0,
                  "min_train": 100, "refit_every_days": refit}
        a, _ = bt.walk_forward(matches, **window)
        b, _ = bt.walk_forward(flipped, **window)
        up_to = [(x.probabilities, y.probabilities) for x, y in zip(a, b, strict=True) if x.match.date <= cut]
        assert up_to and all(p == q for p, q in up_to)
        assert any(x.probabilities != y.probabilities for x, y in zip(a, b, strict=True) if x.match.date > cut)
    # Refitting daily, a match is priced by exactly a fit on the matches before its day.
    a, _ = bt.walk_forward(matches, start=dt.date(2024, 4, 13), end=dt.date(2024, 4, 14), kind="poisson", xi=0.0,
                           min_train=100, refit_every_days=1)
    for p in a:
        model = goals.fit_goal_model(seasons.results_of([m for m in matches if m.date < p.match.date]), kind="poisson")
        pr = model.predict(p.match.home_team, p.match.away_team)
        assert p.probabilities == pytest.approx((pr.home, pr.draw, pr.away), abs=1e-7)


def test_the_model_against_the_market_by_hand(nt_host: Host) -> None:
    got = nt_host.call("sports.goal_model", {"season": "E0_2324", "train_end": "2023-12-31", "kind": "poisson",
                                             "xi": 0, "method": "multiplicative"})
    model = goals.fit_goal_model(seasons.results_of([m for m in seasons.load_season("E0_2324")
                                                     if m.date <= dt.date(2023, 12, 31)]), kind="poisson")
    logs, briers, mlogs, mbriers = [], [], [], []
    for r in rows():
        if day(r) <= dt.date(2023, 12, 31):
            continue
        p = model.predict(r["HomeTeam"], r["AwayTeam"])
        q = np.array([p.home, p.draw, p.away])
        inv = 1 / np.array([float(r["PSCH"]), float(r["PSCD"]), float(r["PSCA"])])
        m = inv / inv.sum()
        y = np.array([r["FTR"] == k for k in "HDA"], dtype=float)
        logs.append(-math.log(q[y == 1][0]))
        mlogs.append(-math.log(m[y == 1][0]))
        briers.append(float(((q - y) ** 2).sum()))
        mbriers.append(float(((m - y) ** 2).sum()))
    test = got["test"]
    assert test["n_matches"] == len(logs) == 184
    assert test["model_log_loss"] == pytest.approx(np.mean(logs), abs=1e-6)
    assert test["model_brier"] == pytest.approx(np.mean(briers), abs=1e-6)
    assert test["market_log_loss"] == pytest.approx(np.mean(mlogs), rel=1e-12)
    assert test["market_brier"] == pytest.approx(np.mean(mbriers), rel=1e-12)
    assert test["market_log_loss"] < test["model_log_loss"]   # the closing market is the sharper forecaster


def test_favourite_and_longshot_backtests_recomputed_from_the_csv(nt_host: Host) -> None:
    got = nt_host.call("sports.backtest", {"season": "E0_2324", "start": "2024-04-01", "stake": 10,
                                           "strategies": [{"strategy": "favourite"}, {"strategy": "longshot"}]})
    expected = {"favourite": [0.0, 0, 0], "longshot": [0.0, 0, 0]}
    for r in rows():
        if day(r) < dt.date(2024, 4, 1):
            continue
        odds = [float(r["PSCH"]), float(r["PSCD"]), float(r["PSCA"])]
        for name, k in (("favourite", int(np.argmin(odds))), ("longshot", int(np.argmax(odds)))):
            won = "HDA"[k] == r["FTR"]
            expected[name][0] += 10 * (odds[k] - 1) if won else -10
            expected[name][1] += 1
            expected[name][2] += won
    by = {s["strategy"]: s for s in got["strategies"]}
    for name, (profit, n, wins) in expected.items():
        assert by[name]["n_bets"] == n and by[name]["profit"] == pytest.approx(profit, abs=1e-9)
        assert by[name]["hit_rate"] == pytest.approx(wins / n)
        assert by[name]["bankroll_end"] == pytest.approx(1000 + profit)
        assert by[name]["mean_clv"] == pytest.approx(0.0, abs=1e-12)   # bet at the close
    assert got["matches"] == expected["favourite"][1] and got["skipped"] == 0


def test_value_backtest_bets_where_the_model_beats_the_market(nt_host: Host) -> None:
    from neural_trader_plugins.sports.margins import remove_margin

    got = nt_host.call("sports.backtest", {"season": "E0_2324", "start": "2024-04-20", "include_bets": True,
                                           "price": "opening", "min_edge": 0.03,
                                           "strategies": [{"strategy": "value"}, {"strategy": "value",
                                                                                   "staking": "kelly"}]})
    flat, kelly = got["strategies"]
    assert flat["n_bets"] == kelly["n_bets"] > 0
    prices = {f"E0-{day(r):%Y%m%d}-{slug(r['HomeTeam'])}-{slug(r['AwayTeam'])}": r for r in rows()}
    for b in flat["bets"]:
        r = prices[b["event_id"]]
        opening = [float(r["PSH"]), float(r["PSD"]), float(r["PSA"])]
        k = ["home", "draw", "away"].index(b["selection"])
        assert b["odds"] == opening[k] and b["closing_odds"] == float(r[["PSCH", "PSCD", "PSCA"][k]])
        fair = remove_margin(opening, "shin").probabilities
        assert b["probability"] - fair[k] > 0.03 and b["probability"] * b["odds"] - 1 > 0
        assert b["won"] == (r["FTR"] == "HDA"[k]) and b["stake"] == 10
    assert flat["profit"] == pytest.approx(sum(b["profit"] for b in flat["bets"]))
    assert flat["mean_clv"] == pytest.approx(np.mean([b["odds"] / b["closing_odds"] - 1 for b in flat["bets"]]))
    for b in kelly["bets"]:
        o, q = b["odds"], b["probability"]
        assert b["stake"] > 0 and b["stake"] <= 0.25 * (q - (1 - q) / (o - 1)) * 1000 * 10  # a quarter of full Kelly
    with pytest.raises(NtUserError, match=r"strategies\[0\]: kelly"):
        nt_host.call("sports.backtest", {"strategies": [{"strategy": "favourite", "staking": "kelly"}]})


def test_backtest_chart_is_a_png(nt_host: Host) -> None:
    got = nt_host.call("sports.backtest", {"season": "E0_2324", "start": "2024-05-01", "chart": True,
                                           "strategies": [{"strategy": "favourite"}]})
    assert got["chart"]["media_type"] == "image/png"
    assert base64.b64decode(got["chart"]["data"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_flat_staking_meets_its_closed_form(nt_host: Host) -> None:
    p, o, n, paths, s = 0.55, 2.0, 200, 20_000, 1.0
    got = nt_host.call("sports.simulate", {"probability": p, "odds": o, "n_bets": n, "n_paths": paths,
                                           "staking": "flat", "stake": s, "bankroll": 1e6, "seed": 7})
    mean, std = 1e6 + n * s * (p * o - 1), math.sqrt(n * s * s * o * o * p * (1 - p))
    assert got["theory_mean"] == pytest.approx(mean) and got["theory_std"] == pytest.approx(std)
    assert abs(got["final_mean"] - mean) < 4 * std / math.sqrt(paths)
    assert got["final_std"] == pytest.approx(std, rel=0.03)
    assert got["ruin_probability"] == 0.0 and got["mean_bets_placed"] == n
    assert nt_host.call("sports.simulate", {"probability": p, "odds": o, "n_bets": n, "n_paths": paths,
                                            "staking": "flat", "stake": s, "bankroll": 1e6, "seed": 7}) == got


def test_simulate_kelly_growth_and_ruin_closed_forms(nt_host: Host) -> None:
    got = nt_host.call("sports.simulate", {"probability": 0.55, "odds": 2.0, "n_bets": 100, "n_paths": 20_000,
                                           "staking": "kelly", "fraction": 0.5, "seed": 3})
    f = 0.5 * (1.0 * 0.55 - 0.45) / 1.0
    assert got["stake_fraction"] == pytest.approx(f)
    g = 100 * (0.55 * math.log1p(f) + 0.45 * math.log1p(-f))
    assert got["theory_log_growth"] == pytest.approx(g)
    # The median path wins the median number of bets: log(B/B0) at the binomial median, ~ n g.
    assert math.log(got["final_percentiles"][2]["bankroll"] / 1000) == pytest.approx(g, abs=0.05)
    # Two units of bankroll at a fair coin, one unit a bet, two bets: ruined only by losing both (1/4).
    ruin = nt_host.call("sports.simulate", {"probability": 0.5, "odds": 2.0, "n_bets": 2, "n_paths": 40_000,
                                            "staking": "flat", "stake": 1, "bankroll": 2, "seed": 1})
    assert abs(ruin["ruin_probability"] - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 40_000)


def test_simulate_bounds_its_work(nt_host: Host) -> None:
    with pytest.raises(NtUserError, match="n_paths x n_bets"):
        nt_host.call("sports.simulate", {"probability": 0.5, "odds": 2.0, "n_bets": 10_000, "n_paths": 100_000,
                                         "stake": 1})
    with pytest.raises(NtUserError, match="stake"):
        nt_host.call("sports.simulate", {"probability": 0.5, "odds": 2.0, "stake": 2000, "bankroll": 1000})
    with pytest.raises(NtUserError, match="outgrows floating point"):
        nt_host.call("sports.simulate", {"probability": 0.6, "odds": 50, "n_bets": 1575, "staking": "fraction"})
    by_edge = nt_host.call("sports.simulate", {"edge": 0.1, "odds": 2.0, "stake": 10, "n_paths": 100})
    assert by_edge == nt_host.call("sports.simulate", {"probability": 0.55, "odds": 2.0, "stake": 10, "n_paths": 100})
    with pytest.raises(NtUserError, match="probability or edge"):
        nt_host.call("sports.simulate", {"odds": 2.0})
    with pytest.raises(NtUserError, match="edge"):
        nt_host.call("sports.simulate", {"odds": 2.0, "edge": 1.5})
    with pytest.raises(NtUserError, match="fraction 1"):
        nt_host.call("sports.simulate", {"probability": 0.5, "odds": 2.0, "staking": "fraction", "fraction": 1})
    with pytest.raises(NtValidationError, match="probability"):
        nt_host.call("sports.simulate", {"probability": 1.0, "odds": 2.0, "stake": 1})


async def test_value_bets_answer_the_same_from_every_frontend(nt_host: Host, nt_cli: Any, nt_mcp: Any,
                                                             nt_rest: Any) -> None:
    got = await call_everywhere("sports.value_bets", {"season": "E0_2324", "start": "2024-05-11", "limit": 5},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert got["markets"] == sum(day(r) >= dt.date(2024, 5, 11) for r in rows()) and len(got["value_bets"]) <= 5
    evs = [v["ev"] for v in got["value_bets"]]
    assert evs == sorted(evs, reverse=True) and all(v["edge"] > 0.02 and v["ev"] > 0 for v in got["value_bets"])


