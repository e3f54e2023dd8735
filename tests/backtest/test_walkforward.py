"""Walk-forward: windows tile the data without overlap, every out-of-sample segment comes after its
in-sample window, the choice in a window never sees later bars, and the stitched equity chains the
segments. Data: ORCL daily bars 1995-2014 (tests/data/SOURCES.md), through ``walkforward.run``.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from neural_trader.backtest.sweep import OBJECTIVES
from neural_trader.backtest.walkforward import Window, degradation, stitch, windows
from neural_trader.errors import NtUserError
from neural_trader.host import Host, make_host
from neural_trader.plugins import PluginUnavailable

ORCL = Path(__file__).resolve().parents[1] / "data" / "orcl-1995-2014.txt"
PLUGINS = ("neural_trader_plugins.backtest", "neural_trader_plugins.executors", "neural_trader_plugins.executors_ray",
           "neural_trader_plugins.strategies", "neural_trader_plugins.market")


def make_bt_host() -> Host:
    """The installed plugins, plus any of ours whose entry point is not installed yet."""
    installed = {ep.value for ep in entry_points(group="neural_trader")}
    extra = []
    for name in PLUGINS:
        if name not in installed:
            with contextlib.suppress(PluginUnavailable):
                extra.append(importlib.import_module(name))
    return make_host(strict=True, plugins=extra)


@pytest.mark.parametrize("mode", ["rolling", "anchored"])
@pytest.mark.parametrize(("n", "splits", "train", "test"), [
    (1000, 5, None, None), (1000, 4, 300, None), (1000, 3, None, 100), (977, 7, 250, 60), (50, 1, 40, 10)])
def test_windows_tile_the_end_of_the_data_without_overlap(mode: str, n: int, splits: int, train: int | None,
                                                          test: int | None) -> None:
    cuts = windows(n, n_splits=splits, mode=mode, train_bars=train, test_bars=test, min_train=10)
    assert len(cuts) == splits
    assert cuts[-1].oos_stop == n
    for a, b in itertools.pairwise(cuts):
        assert a.oos_stop == b.oos_start  # consecutive and disjoint
    lengths = {w.oos_stop - w.oos_start for w in cuts}
    assert len(lengths) == 1 and (test is None or lengths == {test})
    for w in cuts:
        assert 0 <= w.is_start < w.is_stop == w.oos_start < w.oos_stop  # IS strictly before its OOS
        if mode == "anchored":
            assert w.is_start == 0
        else:
            assert w.is_stop - w.is_start == cuts[0].is_stop - cuts[0].is_start
    if train is not None and mode == "rolling":
        assert cuts[0].is_stop - cuts[0].is_start == train
    if train is not None and mode == "anchored":  # bars the segments leave over go to the first window
        assert cuts[0].is_stop - cuts[0].is_start >= train
    if train is None and test is None:
        assert cuts[0].is_stop - cuts[0].is_start >= 3 * (cuts[0].oos_stop - cuts[0].oos_start)


def test_windows_that_do_not_fit_are_refused_with_the_numbers() -> None:
    with pytest.raises(NtUserError, match=r"100 bars cannot hold 5 out-of-sample segments of 20 bars after an "
                                          r"in-sample window of 30 bars"):
        windows(100, n_splits=5, train_bars=30, test_bars=20)
    with pytest.raises(NtUserError, match="window of 90 bars \\(at least 200 are needed"):
        windows(300, n_splits=7, min_train=200)


def test_stitching_chains_segment_returns() -> None:
    returns, equity = stitch([np.array([0.1, -0.1]), np.array([0.05])], 100.0)
    np.testing.assert_allclose(equity, [110.0, 99.0, 103.95])
    assert returns.shape == (3,)


def _orcl_csv(tmp_path: Path) -> Path:
    lines = ORCL.read_text().splitlines()
    out = tmp_path / "ORCL.csv"
    out.write_text("\n".join(["date,open,high,low,close,volume"] + [
        ",".join([d, o, h, lo, c, v]) for d, o, h, lo, c, _, v in (row.split(",") for row in lines[1:])]) + "\n")
    return out


SPACE = {"fast": {"values": [5, 10, 20]}, "slow": {"values": [30, 60]}}


def _walk(host: Host, **changes: object) -> dict:
    params = {"symbol": "SPY", "provider": "synthetic", "start": "2010-01-01", "end": "2019-12-31",
              "strategy": "sma_crossover", "space": SPACE, "n_splits": 4, "executor": "serial", **changes}
    return host.call("walkforward.run", params)


def test_a_walk_forward_reports_windows_in_order_and_the_stitched_equity() -> None:
    with make_bt_host() as host:
        out = _walk(host, equity_points=10_000)
    wins = out["windows"]
    assert [w["index"] for w in wins] == [0, 1, 2, 3]
    for a, b in itertools.pairwise(wins):
        assert a["oos_last"] < b["oos_first"]
    for w in wins:
        assert w["is_last"] < w["oos_first"]
        assert w["best_params"] in [{"fast": f, "slow": s} for f in (5, 10, 20) for s in (30, 60)]
    total = np.prod([1 + w["oos_return"] for w in wins]) - 1
    assert out["oos_metrics"]["total_return"] == pytest.approx(total, rel=1e-9)
    assert out["equity"][-1]["equity"] == pytest.approx(100_000 * (1 + total), rel=1e-9)
    assert len(out["equity"]) == sum(w["oos_bars"] for w in wins)
    assert out["oos_first"] == wins[0]["oos_first"] and out["oos_last"] == wins[-1]["oos_last"]
    is_mean = np.mean([w["is_objective"] for w in wins])
    oos_mean = np.mean([w["oos_objective"] for w in wins])
    # sharpe: larger is better, so the degradation is IS - OOS, and its share of a positive IS
    assert out["degradation"] == pytest.approx(is_mean - oos_mean)
    assert out["degradation_ratio"] == (pytest.approx(1 - oos_mean / is_mean) if is_mean > 0 else None)


def test_the_choice_in_a_window_never_sees_later_bars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scramble every bar after the second window's in-sample end: windows 0 and 1 must choose
    exactly as before (their in-sample bars are unchanged), and their scores must be equal too."""
    csv = _orcl_csv(tmp_path)
    monkeypatch.setenv("NT_CSV_DIR", str(tmp_path))
    params = {"symbol": "ORCL", "provider": "csv", "start": "1995-01-01", "end": "2014-12-31", "n_splits": 5,
              "mode": "rolling", "objective": "total_return"}
    with make_bt_host() as host:
        before = _walk(host, **params)
    rows = csv.read_text().splitlines()
    cut = before["windows"][1]["oos_first"][:10]
    rng = np.random.default_rng(0)
    out = [rows[0]]
    for row in rows[1:]:
        d, o, h, lo, c, v = row.split(",")
        if d >= cut:
            f = float(rng.uniform(0.5, 1.5))
            o, h, lo, c = (f"{float(x) * f:.6f}" for x in (o, h, lo, c))
        out.append(",".join([d, o, h, lo, c, v]))
    csv.write_text("\n".join(out) + "\n")
    with make_bt_host() as host:
        after = _walk(host, **params)
    for k in (0, 1):
        assert after["windows"][k]["best_params"] == before["windows"][k]["best_params"]
        assert after["windows"][k]["is_objective"] == before["windows"][k]["is_objective"]
    assert after["windows"][1]["oos_return"] != before["windows"][1]["oos_return"]


def test_anchored_windows_start_at_the_first_bar() -> None:
    with make_bt_host() as host:
        out = _walk(host, mode="anchored")
    firsts = {w["is_first"] for w in out["windows"]}
    assert len(firsts) == 1
    sizes = [w["is_bars"] for w in out["windows"]]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_a_window_shorter_than_the_longest_indicator_is_refused() -> None:
    with make_bt_host() as host, pytest.raises(NtUserError, match="at least 252 are needed"):
        _walk(host, start="2018-01-01", space={"fast": {"values": [5]}, "slow": {"values": [250]}}, n_splits=8)


def test_window_dataclass_is_plain() -> None:
    w = Window(index=0, is_start=0, is_stop=5, oos_start=5, oos_stop=7)
    assert (w.oos_stop - w.oos_start, w.is_stop - w.is_start) == (2, 5)


def test_a_walk_forward_with_optuna_is_seeded() -> None:
    pytest.importorskip("optuna")
    space = {"fast": {"low": 3, "high": 25}, "slow": {"low": 30, "high": 90}}
    with make_bt_host() as host:
        a = _walk(host, method="optuna", n_trials=8, seed=4, batch_size=4, n_splits=2, space=space)
        b = _walk(host, method="optuna", n_trials=8, seed=4, batch_size=4, n_splits=2, space=space,
                  executor="threads", workers=2)
    assert {**a, "executor": "threads"} == b
    for w in a["windows"]:
        assert 3 <= w["best_params"]["fast"] <= 25 and 30 <= w["best_params"]["slow"] <= 90


# -- degradation, for every objective -----------------------------------------------------------------
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_degradation_is_positive_when_out_of_sample_is_worse_for_every_objective(objective: str) -> None:
    """Worse out of sample means positive, whichever way the objective points and whatever the
    sign of its values (a negative Sharpe ratio, a drawdown <= 0, a volatility where less is better)."""
    better = OBJECTIVES[objective]
    for is_value in (-2.0, -0.5, 0.0, 0.3, 5.0):
        worse, improved = is_value - better * 0.25, is_value + better * 0.25
        diff, _ = degradation(objective, is_value, worse)
        assert diff == pytest.approx(0.25)
        assert degradation(objective, is_value, improved)[0] == pytest.approx(-0.25)
        assert degradation(objective, is_value, is_value) == (0.0, 0.0 if is_value * _natural(objective) > 0 else None)
    assert degradation(objective, None, 1.0) == (None, None) == degradation(objective, 1.0, None)


def _natural(objective: str) -> float:
    return -1.0 if objective == "max_drawdown" else 1.0


@pytest.mark.parametrize(("objective", "is_value", "oos_value", "ratio"), [
    ("sharpe", 2.0, 0.5, 0.75),             # 1 - OOS/IS: three quarters of the Sharpe ratio lost
    ("sharpe", -0.5, -1.0, None),           # a negative in-sample Sharpe has no share to lose
    ("sharpe", 0.0, -1.0, None),            # nor has zero (the old 1 - OOS/IS divided by it)
    ("total_return", 0.2, -0.1, 1.5),       # lost all of it and half as much again
    ("max_drawdown", -0.1, -0.25, 1.5),     # the drawdown is 2.5 times as deep: OOS/IS - 1
    ("max_drawdown", 0.0, -0.05, None),
    ("annual_volatility", 0.2, 0.3, 0.5),   # half as volatile again: OOS/IS - 1
    ("max_drawdown_duration", 40.0, 20.0, -0.5),
    ("profit_factor", 2.0, 1.0, 0.5),
])
def test_the_degradation_ratio_is_given_where_a_share_means_something(objective: str, is_value: float,
                                                                       oos_value: float, ratio: float | None) -> None:
    got = degradation(objective, is_value, oos_value)[1]
    assert got == (None if ratio is None else pytest.approx(ratio))


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_a_walk_forward_has_an_out_of_sample_value_and_a_degradation_for_every_objective(objective: str) -> None:
    with make_bt_host() as host:
        out = _walk(host, objective=objective)
    wins = out["windows"]
    paired = [w for w in wins if w["is_objective"] is not None and w["oos_objective"] is not None]
    assert paired, "no window has both values"
    # every objective is scored out of sample under the name it has in sample
    assert all(w["oos_objective"] is not None for w in wins if w["oos_trades"] > 1 or objective != "trade_win_rate")
    is_mean = np.mean([w["is_objective"] for w in paired])
    oos_mean = np.mean([w["oos_objective"] for w in paired])
    assert out["degradation"] == pytest.approx(OBJECTIVES[objective] * (is_mean - oos_mean), abs=1e-12)
    if is_mean * _natural(objective) > 0:
        assert out["degradation_ratio"] == pytest.approx(out["degradation"] / abs(is_mean))
    else:
        assert out["degradation_ratio"] is None


def test_out_of_sample_trade_statistics_count_the_segments_closed_trades() -> None:
    with make_bt_host() as host:
        out = _walk(host, objective="trade_win_rate")
    m = out["oos_metrics"]
    assert m["n_trades"] + m["open_trades"] == sum(w["oos_trades"] for w in out["windows"])
    assert m["winning_trades"] / m["n_trades"] == pytest.approx(m["trade_win_rate"])
    assert "n_wins" not in m and m["winning_bars"] >= m["winning_trades"]
