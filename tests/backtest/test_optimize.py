"""Optimisation: the grid search finds the brute-force best, searches are seeded and bounded, the
space is checked against the strategy's bounds, and every executor gives the same sweep.

Data: ORCL daily bars 1995-2014 (tests/data/SOURCES.md).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from neural_trader.backtest import engine
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import RunData, fingerprint
from neural_trader.backtest.optimize import dims_for, max_warmup, propose, search, sweep_evaluator
from neural_trader.backtest.params import describe_params, validate_params
from neural_trader.backtest.space import ParamRange, default_space, resolve_space
from neural_trader.backtest.sweep import shared_for
from neural_trader.domain.market import Bars
from neural_trader.errors import NtUserError, NtValidationError
from neural_trader.executors.local import SerialExecutor, ThreadExecutor
from neural_trader.executors.processes import ProcessExecutor
from neural_trader.executors.ray_executor import RayExecutor, ray_available
from neural_trader.strategies.momentum import Momentum
from neural_trader.strategies.sma_crossover import SmaCrossover

ORCL = Path(__file__).resolve().parents[1] / "data" / "orcl-1995-2014.txt"
SMA = SmaCrossover()
CONFIG = BacktestConfig(commission_pct=0.001)

@pytest.fixture(scope="module", autouse=True)
def _stop_ray_after_this_module() -> Iterator[None]:
    """A local Ray started by a test here stops when the module is done (it keeps processes busy)."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()



def orcl() -> RunData:
    dates = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=0, dtype="datetime64[D]")
    cols = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4, 6))
    bars = Bars.from_arrays(symbol="ORCL", timeframe="1Day", provider="csv", ts=dates, open=cols[:, 0],
                            high=cols[:, 1], low=cols[:, 2], close=cols[:, 3], volume=cols[:, 4])
    return RunData(bars=(bars,), benchmark=None, fingerprint=fingerprint([bars]))


DATA = orcl()
SPACE = {"fast": ParamRange(values=[5, 10, 15, 20]), "slow": ParamRange(values=[20, 30, 50])}


def evaluator(executor=None, workers=2):  # type: ignore[no-untyped-def]
    shared = shared_for(DATA, SMA, CONFIG, "vectorized")
    return sweep_evaluator(executor or ThreadExecutor(), shared, workers=workers)


def test_the_grid_search_finds_the_brute_force_best() -> None:
    dims = resolve_space(SMA, SPACE)
    found = search(SMA, dims, {}, method="grid", objective="sharpe", evaluate_batch=evaluator())
    best = found.order("sharpe")[0]

    brute = []
    for fast, slow in itertools.product([5, 10, 15, 20], [20, 30, 50]):
        if fast >= slow:
            continue
        m = engine.run(DATA.bars[0], SMA, {"fast": fast, "slow": slow}, CONFIG).metrics
        brute.append(((fast, slow), m["sharpe"]))
    (fast, slow), sharpe = max(brute, key=lambda item: item[1])
    assert found.points[best] == {"fast": fast, "slow": slow}
    assert found.scores[best] == pytest.approx(sharpe, rel=1e-12)
    assert len(found.points) == len(brute) == 11 and found.refused == 1
    assert sorted(s for s in found.scores if s is not None) == pytest.approx(sorted(s for _, s in brute))


def test_an_objective_to_minimise_ranks_the_smallest_first() -> None:
    dims = resolve_space(SMA, SPACE)
    found = search(SMA, dims, {}, method="grid", objective="annual_volatility", evaluate_batch=evaluator())
    ranked = [found.scores[i] for i in found.order("annual_volatility")]
    assert ranked == sorted(ranked)


def test_a_grid_larger_than_the_limit_asks_for_a_limit() -> None:
    dims = resolve_space(SMA, {"fast": ParamRange(low=1, high=200), "slow": ParamRange(low=2, high=300)})
    with pytest.raises(NtUserError, match=r"the grid has 59,800 parameter combinations, more than "
                                          r"max_combinations=10,000; raise max_combinations"):
        propose(SMA, dims, {}, method="grid")
    points, refused, size = propose(SMA, resolve_space(SMA, {"fast": ParamRange(low=1, high=20),
                                                             "slow": ParamRange(low=2, high=30, step=2)}),
                                    {}, method="grid", max_combinations=300)
    assert size == 20 * 15 and len(points) + refused == size
    assert all(p["fast"] < p["slow"] for p in points)


def test_random_search_is_seeded_distinct_and_within_the_ranges() -> None:
    dims = resolve_space(SMA, {"fast": ParamRange(low=2, high=50), "slow": ParamRange(low=20, high=200)})
    a, _, _ = propose(SMA, dims, {}, method="random", n_trials=40, seed=7)
    b, _, _ = propose(SMA, dims, {}, method="random", n_trials=40, seed=7)
    c, _, _ = propose(SMA, dims, {}, method="random", n_trials=40, seed=8)
    assert a == b and a != c
    assert len(a) == 40 and len({tuple(p.values()) for p in a}) == 40
    assert all(2 <= p["fast"] <= 50 and 20 <= p["slow"] <= 200 and p["fast"] < p["slow"] for p in a)
    assert all(isinstance(p["fast"], int) for p in a)


def test_random_search_stops_when_a_small_space_runs_out() -> None:
    points, refused, _ = propose(SMA, resolve_space(SMA, SPACE), {}, method="random", n_trials=100, seed=0)
    assert len(points) == 11 and refused == 1


def test_optuna_is_seeded_and_independent_of_the_executor() -> None:
    pytest.importorskip("optuna")
    dims = resolve_space(SMA, {"fast": ParamRange(low=2, high=40), "slow": ParamRange(low=20, high=120)})
    runs = []
    for executor, workers in ((SerialExecutor(), 1), (ThreadExecutor(), 2), (ThreadExecutor(), 3)):
        runs.append(search(SMA, dims, {}, method="optuna", objective="sharpe", n_trials=24, seed=5, batch_size=4,
                           evaluate_batch=evaluator(executor, workers)))
    assert runs[0].points == runs[1].points == runs[2].points
    assert runs[0].scores == runs[1].scores == runs[2].scores
    assert len(runs[0].points) + runs[0].refused == 24
    assert all(2 <= p["fast"] <= 40 and 20 <= p["slow"] <= 120 for p in runs[0].points)
    other = search(SMA, dims, {}, method="optuna", objective="sharpe", n_trials=24, seed=6, batch_size=4,
                   evaluate_batch=evaluator())
    assert other.points != runs[0].points


def test_a_float_space_with_steps_and_log_spreads() -> None:
    mom = Momentum()
    dims = resolve_space(mom, {"threshold": ParamRange(low=0.01, high=0.05, step=0.01),
                               "stop_loss": ParamRange(low=0.01, high=0.16, num=5, log=True)})
    assert dims[0].grid_values() == (0.01, 0.02, 0.03, 0.04, 0.05)
    np.testing.assert_allclose(dims[1].grid_values(), [0.01, 0.02, 0.04, 0.08, 0.16])


def test_the_space_is_checked_against_the_strategy_bounds() -> None:
    with pytest.raises(NtValidationError) as info:
        resolve_space(SMA, {"fast": ParamRange(low=0, high=10), "slwo": ParamRange(values=[3]),
                            "slow": ParamRange(values=[1.5, 30])})
    problems = {p["path"]: p["message"] for p in info.value.details}
    assert problems["$.space.fast"] == "fast must be >= 1 and <= 10000; the range 0..10 goes outside"
    assert "has no parameter 'slwo'; its parameters are fast, slow" in problems["$.space.slwo"]
    assert problems["$.space.slow.values"] == "slow must be an integer >= 2 and <= 10000; not 1.5"
    with pytest.raises(NtValidationError, match="low 9 is above high 3"):
        resolve_space(SMA, {"fast": ParamRange(low=9, high=3)})
    with pytest.raises(NtUserError, match="fast both fixed in strategy_params and searched"):
        dims_for(SMA, {"fast": ParamRange(values=[3])}, {"fast": 4})


def test_the_default_space_spreads_around_each_default_within_bounds() -> None:
    space = default_space(SMA, {})
    assert space["fast"].values == [5, 8, 10, 15, 20]
    assert space["slow"].values == [15, 22, 30, 45, 60]
    assert "fast" not in default_space(SMA, {"fast": 4})
    mom = default_space(Momentum(), {})
    assert mom["threshold"].values == [0.01, 0.015, 0.02, 0.03, 0.04]


def test_the_longest_window_of_a_space_is_its_largest_slow() -> None:
    dims = resolve_space(SMA, {"fast": ParamRange(values=[5, 10]), "slow": ParamRange(low=20, high=250)})
    assert max_warmup(SMA, dims, {}) == 250


def test_strategy_params_are_checked_with_field_and_bounds() -> None:
    with pytest.raises(NtValidationError) as info:
        validate_params(SMA, {"fast": 0, "slow": "x", "speed": 3})
    problems = {p["path"]: p["message"] for p in info.value.details}
    assert problems == {
        "$.params.fast": "fast must be >= 1 and <= 10000, got 0",
        "$.params.slow": "slow must be an integer (>= 2 and <= 10000), got 'x'",
        "$.params.speed": "strategy 'sma_crossover' has no parameter 'speed'; its parameters are fast, slow",
    }
    with pytest.raises(NtUserError, match=r"fast \(30\) must be less than slow \(10\)"):
        validate_params(SMA, {"fast": 30, "slow": 10})
    assert validate_params(SMA, {"fast": 3.0}).fast == 3
    info_fast = describe_params(SmaCrossover.params_type)[0]
    assert (info_fast.name, info_fast.minimum, info_fast.maximum, info_fast.default) == ("fast", 1, 10_000, 10)


SWEEP_EXECUTORS = [
    pytest.param(SerialExecutor(), id="serial"),
    pytest.param(ThreadExecutor(), id="threads"),
    pytest.param(ProcessExecutor(recycle_every=3), id="processes"),
    pytest.param(RayExecutor(), id="ray", marks=[pytest.mark.slow, pytest.mark.skipif(
        not ray_available(), reason="ray is not installed: pip install 'neural-trader[ray]'")]),
]


@pytest.mark.parametrize("executor", SWEEP_EXECUTORS)
def test_a_sweep_gives_identical_results_on_every_executor(executor) -> None:
    dims = resolve_space(SMA, SPACE)
    reference = search(SMA, dims, {}, method="grid", objective="sharpe",
                       evaluate_batch=evaluator(SerialExecutor(), 1))
    found = search(SMA, dims, {}, method="grid", objective="sharpe", evaluate_batch=evaluator(executor, 2))
    assert found.points == reference.points
    for (m, err), (m_ref, err_ref) in zip(found.evaluations, reference.evaluations, strict=True):
        assert err is None and err_ref is None
        assert m.keys() == m_ref.keys()
        assert all(m[k] == m_ref[k] or (math.isnan(m[k]) and math.isnan(m_ref[k])) for k in m)
