"""Run storage (SQLite and the real PostgreSQL), concurrent writers, run ids and the code they
cover, data fingerprints, and the Monte Carlo bootstrap against a direct simulation.

Backtests here run on real data: ORCL daily bars 1995-2014 (tests/data/SOURCES.md).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import numpy as np
import pytest

from neural_trader.backtest import engine, runs
from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.data import RunData, fingerprint, parse_symbols
from neural_trader.backtest.robustness import bootstrap_paths, bootstrap_trades
from neural_trader.backtest.runs import (
    RunSpec,
    _insert,
    code_inputs,
    code_version,
    fetch_run,
    list_runs,
    result_fingerprint,
    run_or_fetch,
    trade_rows,
)
from neural_trader.domain.market import Bars
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.services.storage import Storage
from neural_trader.strategies.sma_crossover import SmaCrossover
from neural_trader_plugins.backtest import MIGRATIONS

ORCL = Path(__file__).resolve().parents[1] / "data" / "orcl-1995-2014.txt"


def orcl_bars(symbol: str = "ORCL") -> Bars:
    dates = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=0, dtype="datetime64[D]")
    cols = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4, 6))
    return Bars.from_arrays(symbol=symbol, timeframe="1Day", provider="csv", ts=dates, open=cols[:, 0],
                            high=cols[:, 1], low=cols[:, 2], close=cols[:, 3], volume=cols[:, 4])


def run_data(bars: Bars) -> RunData:
    return RunData(bars=(bars,), benchmark=None, fingerprint=fingerprint([bars]))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    url = (f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("postgres_url")))
    with Storage(url, branches=[MIGRATIONS]) as s:
        yield s


STRATEGY = SmaCrossover()


def spec(fast: int = 10, slow: int = 30, **changes: object) -> RunSpec:
    base = RunSpec(strategy="sma_crossover", params={"fast": fast, "slow": slow}, symbols=("ORCL",),
                   provider="csv", timeframe="1Day", config=BacktestConfig(), engine="vectorized")
    return attrs.evolve(base, **changes)


def compute(data: RunData, s: RunSpec):  # type: ignore[no-untyped-def]
    calls = []

    def run():  # type: ignore[no-untyped-def]
        calls.append(1)
        return engine.run(data.strategy_input(), STRATEGY, s.params, s.config, engine=s.engine)

    return run, calls


def test_a_run_is_stored_once_and_read_back_exactly(storage: Storage) -> None:
    data = run_data(orcl_bars())
    s = spec()
    fn, calls = compute(data, s)
    stored, fresh = run_or_fetch(storage, s, data, STRATEGY, fn)
    assert fresh is not None and calls == [1]
    again, fresh_again = run_or_fetch(storage, s, data, STRATEGY, fn)
    assert fresh_again is None and calls == [1]  # the second ask reads the row, it does not recompute
    assert again.id == stored.id and again.created_at == stored.created_at
    assert again.created_at.tzinfo is not None

    assert np.array_equal(again.arrays["equity"], fresh.equity)
    assert np.array_equal(again.arrays["trades"], fresh.trades)
    assert np.array_equal(again.arrays["ts"], data.bars[0].ts)
    assert again.result_fingerprint == result_fingerprint(fresh.equity, fresh.trades)
    assert again.data_fingerprint == data.fingerprint
    assert again.code_version == code_version(STRATEGY)
    assert again.spec == s
    expected = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in fresh.metrics.items()}
    assert again.metrics == json.loads(json.dumps(expected))
    assert (again.first_bar, again.last_bar, again.n_bars) == (data.first, data.last, len(data.bars[0]))
    assert again.first_bar == dt.datetime(1995, 1, 3, tzinfo=dt.UTC)


def test_run_ids_follow_the_request_the_data_and_the_code() -> None:
    bars = orcl_bars()
    data = run_data(bars)
    code = code_version(STRATEGY)
    base = spec().run_id(data.fingerprint, code)
    assert base == spec().run_id(data.fingerprint, code)
    assert len(base) == 24 and int(base, 16) >= 0
    assert spec(fast=11).run_id(data.fingerprint, code) != base
    assert spec(config=BacktestConfig(commission_pct=0.001)).run_id(data.fingerprint, code) != base
    assert spec(engine="event").run_id(data.fingerprint, code) != base
    assert spec().run_id(data.fingerprint, code + "x") != base
    # One changed price is other data.
    close = bars.close.copy()
    close[100] *= 1.0001
    changed = attrs.evolve(bars, close=close)
    assert fingerprint([changed]) != data.fingerprint
    assert spec().run_id(fingerprint([changed]), code) != base
    # The same arrays under another provider label are the same data.
    assert fingerprint([bars.relabel("local")]) == data.fingerprint


def test_the_code_version_is_the_package_version_plus_a_source_hash() -> None:
    from neural_trader import __version__
    from neural_trader.strategies.momentum import Momentum

    version = code_version(STRATEGY)
    assert version.startswith(__version__ + "+")
    assert code_version(Momentum()) != version  # another module's source


def _ensemble() -> object:
    from neural_trader.strategies.ensemble import Ensemble

    return Ensemble()


#: What a result depends on, for the ensemble (which composes other strategies): each must be among
#: the code inputs, and changing it must change the code version.
COVERED = [
    "version",
    "neural_trader.backtest.engine", "neural_trader.backtest.vectorized", "neural_trader.backtest.event",
    "neural_trader.backtest.result", "neural_trader.backtest.config",
    "neural_trader.strategies.ensemble", "neural_trader.strategies.momentum",  # composed by the ensemble
    "neural_trader.strategies.breakout", "neural_trader.strategies.base", "neural_trader.strategies._signals",
    "neural_trader.native.indicators", "neural_trader.native.indicators_numpy",  # wrapper and twin
    "neural_trader.native.simulate", "neural_trader.native.simulate_numpy",
    "neural_trader.native.metrics", "neural_trader.native.metrics_numpy", "neural_trader.native._buffers",
    "kernel:indicators", "kernel:sim", "kernel:metrics",
]


@pytest.mark.parametrize("name", COVERED)
def test_changing_any_code_a_result_depends_on_changes_the_code_version(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = _ensemble()
    inputs = code_inputs(strategy)
    assert name in inputs
    before = code_version(strategy)
    if name == "version":
        monkeypatch.setattr(runs, "__version__", "9.9.9")
    elif name.startswith("kernel:"):
        # Another build of the compiled module (or the twin instead of it) is other code.
        changed = {**runs._kernel_inputs(), name: "another build"}
        monkeypatch.setattr(runs, "_kernel_inputs", lambda: changed)
    else:
        import importlib.util

        origin = importlib.util.find_spec(name).origin  # type: ignore[union-attr]
        real_read = runs._read
        monkeypatch.setattr(runs, "_read", lambda path: real_read(path) + (b"\n# edited\n" if path == origin else b""))
        runs._inputs.cache_clear()
    try:
        assert code_version(strategy) != before
    finally:
        runs._inputs.cache_clear()


def test_the_compiled_kernels_are_fingerprinted_by_their_file() -> None:
    from neural_trader.native import load_native

    native = load_native("indicators")
    if not native.compiled:
        pytest.skip(f"the indicators kernel is not compiled here: {native.reason}")
    import hashlib
    import importlib.util

    origin = importlib.util.find_spec(native.module_name).origin  # type: ignore[union-attr]
    with open(origin, "rb") as fh:  # type: ignore[arg-type]
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert code_inputs(STRATEGY)["kernel:indicators"] == f"{native.built_version} {digest}"


def test_a_plugins_strategy_covers_its_own_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "nt_probe_strategies"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def signal(x):\n    return x\n")
    (package / "mine.py").write_text(
        "from neural_trader.strategies.sma_crossover import SmaCrossover\n"
        "from . import helpers\n\n\nclass Mine(SmaCrossover):\n    name = 'mine'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from nt_probe_strategies.mine import Mine  # type: ignore[import-not-found]

    inputs = code_inputs(Mine())
    assert {"nt_probe_strategies.mine", "nt_probe_strategies.helpers", "neural_trader.strategies.sma_crossover",
            "neural_trader.strategies.base"} <= set(inputs)
    assert "neural_trader.backtest.api" not in inputs  # operations and storage decide no result


def test_storing_the_same_run_concurrently_keeps_one_row(storage: Storage) -> None:
    data = run_data(orcl_bars())
    s = spec()
    stored, _ = run_or_fetch(storage, s, data, STRATEGY, compute(data, s)[0])
    row = {"id": stored.id, "strategy": "x", "symbols": "ORCL", "provider": "csv", "timeframe": "1Day",
           "engine": "vectorized", "first_bar": stored.first_bar, "last_bar": stored.last_bar, "n_bars": 1,
           "spec": "{}", "data_fingerprint": "", "result_fingerprint": "", "code_version": "", "metrics": "{}",
           "results": b"", "created_at": stored.created_at}
    assert not _insert(storage, row)  # a second writer with the same id: no error, the first row stays
    assert fetch_run(storage, stored.id).result_fingerprint == stored.result_fingerprint


def test_fifty_concurrent_runs_all_store_and_identical_ones_store_one_row(storage: Storage) -> None:
    """50 distinct runs at once, and 10 callers of one more run at once: every call succeeds (no
    "database is locked", no IntegrityError) and each run is one row."""
    bars = orcl_bars()
    data = run_data(bars)
    same = spec(fast=3, slow=40)
    jobs = [spec(fast=2 + k % 25, slow=30 + k // 25) for k in range(50)] + [same] * 10
    start = threading.Barrier(len(jobs))

    def one(s: RunSpec) -> str:
        fn, _ = compute(data, s)

        def at_once():  # type: ignore[no-untyped-def]
            start.wait()  # every caller has read "not stored" before any stores
            return fn()

        return run_or_fetch(storage, s, data, STRATEGY, at_once)[0].id

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        ids = list(pool.map(one, jobs))
    assert len(set(ids[:50])) == 50 and len(set(ids[50:])) == 1
    assert list_runs(storage, limit=1000)[1] == 51


def test_runs_are_listed_newest_first_and_filtered_by_whole_symbols(storage: Storage) -> None:
    bars = orcl_bars()
    ids = []
    for symbol, fast in (("ORCL", 5), ("ORC", 8), ("ORCL", 12)):
        data = run_data(attrs.evolve(bars, symbol=symbol))
        s = spec(fast=fast, symbols=(symbol,))
        ids.append(run_or_fetch(storage, s, data, STRATEGY, compute(data, s)[0])[0].id)
    runs, total = list_runs(storage)
    assert total == 3 and [r.id for r in runs] == ids[::-1]
    runs, total = list_runs(storage, symbol="ORC")
    assert total == 1 and runs[0].id == ids[1]
    runs, total = list_runs(storage, symbol="ORCL", limit=1)
    assert total == 2 and [r.id for r in runs] == [ids[2]]
    runs, _ = list_runs(storage, symbol="ORCL", limit=1, offset=1)
    assert [r.id for r in runs] == [ids[0]]
    assert list_runs(storage, strategy="momentum") == ([], 0)


def test_the_symbol_filter_takes_percent_and_underscore_as_letters(storage: Storage) -> None:
    bars = orcl_bars()
    ids = {}
    for symbol in ("BRK_B", "BRKXB", "A%B"):
        data = run_data(attrs.evolve(bars, symbol=symbol))
        s = spec(symbols=(symbol,))
        ids[symbol] = run_or_fetch(storage, s, data, STRATEGY, compute(data, s)[0])[0].id
    assert [r.id for r in list_runs(storage, symbol="BRK_B")[0]] == [ids["BRK_B"]]
    assert [r.id for r in list_runs(storage, symbol="A%B")[0]] == [ids["A%B"]]
    assert list_runs(storage, symbol="%") == ([], 0)
    assert list_runs(storage, symbol="BRK%")[1] == 0
    with pytest.raises(NtNotFound):
        fetch_run(storage, "%%%%%%")  # a prefix is a prefix, not a pattern


def test_a_run_is_found_by_a_unique_prefix_and_an_unknown_id_is_not_found(storage: Storage) -> None:
    data = run_data(orcl_bars())
    stored, _ = run_or_fetch(storage, spec(), data, STRATEGY, compute(data, spec())[0])
    assert fetch_run(storage, stored.id[:8]).id == stored.id
    with pytest.raises(NtNotFound, match="backtest list"):
        fetch_run(storage, "0123456789abcdef01234567")


def test_trade_rows_carry_times_and_reasons() -> None:
    bars = orcl_bars()
    result = engine.run(bars, STRATEGY, {"fast": 10, "slow": 30}, BacktestConfig())
    rows = trade_rows(result.trades, bars.ts, ("ORCL",), limit=3)
    assert len(rows) == 3
    first = result.trades[0]
    assert rows[0].entry_time == bars[int(first["entry_idx"])].time
    assert rows[0].pnl == first["pnl"] and rows[0].side == "long"
    assert {r.exit_reason for r in trade_rows(result.trades, bars.ts, ("ORCL",))} <= {"signal", "open"}


def test_symbols_parse_from_text_or_lists() -> None:
    assert parse_symbols("ko, pep") == ("KO", "PEP")
    assert parse_symbols(["SPY", "QQQ,IWM"]) == ("SPY", "QQQ", "IWM")
    with pytest.raises(NtUserError, match="repeat"):
        parse_symbols("SPY,spy")
    with pytest.raises(NtUserError, match="at least one"):
        parse_symbols(" , ")


# -- Monte Carlo -------------------------------------------------------------------------------
def _direct(returns: np.ndarray, n_sims: int, seed: int, init: float) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap written out trade by trade, with the generator's draws in the same order."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(returns), size=(n_sims, len(returns)))
    finals, mdds = [], []
    for row in draws:
        equity = peak = init
        worst = 0.0
        for k in row:
            equity *= 1.0 + returns[k]
            peak = max(peak, equity)
            worst = min(worst, equity / peak - 1.0)
        finals.append(equity)
        mdds.append(worst)
    return np.array(finals), np.array(mdds)


def test_bootstrap_percentiles_match_a_direct_simulation() -> None:
    result = engine.run(orcl_bars(), STRATEGY, {"fast": 10, "slow": 30}, BacktestConfig())
    returns = result.trades["ret"]
    assert returns.size > 50
    summary = bootstrap_trades(returns, n_sims=400, seed=11, init_cash=100_000.0)
    finals, mdds = _direct(returns, 400, 11, 100_000.0)
    np.testing.assert_allclose(
        [summary.final_equity.p5, summary.final_equity.p50, summary.final_equity.p95],
        np.percentile(finals, [5, 50, 95]), rtol=1e-9)
    np.testing.assert_allclose(
        [summary.max_drawdown.p5, summary.max_drawdown.p25, summary.max_drawdown.p75],
        np.percentile(mdds, [5, 25, 75]), rtol=1e-9)
    assert summary.probability_of_loss == pytest.approx(np.mean(finals < 100_000.0))
    assert summary.total_return.p50 == pytest.approx(np.median(finals) / 100_000.0 - 1.0)


def test_the_bootstrap_is_seeded_and_does_not_depend_on_its_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader.backtest import robustness

    r = np.array([0.05, -0.02, 0.01, -0.04, 0.03])
    a = bootstrap_paths(r, 1000, 3)
    monkeypatch.setattr(robustness, "_BLOCK_VALUES", 7)  # 1 path per block
    b = bootstrap_paths(r, 1000, 3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], bootstrap_paths(r, 1000, 4)[0])


def test_a_bootstrap_of_identical_trades_has_no_spread() -> None:
    summary = bootstrap_trades(np.full(10, 0.01), n_sims=50, seed=0, init_cash=100.0)
    assert summary.final_equity.p5 == pytest.approx(100.0 * 1.01**10)
    assert summary.final_equity.p95 == pytest.approx(summary.final_equity.p5)
    assert summary.max_drawdown.p50 == 0.0 and summary.probability_of_loss == 0.0


def test_a_bootstrap_without_trades_says_so() -> None:
    with pytest.raises(NtUserError, match="made none"):
        bootstrap_trades(np.empty(0))
