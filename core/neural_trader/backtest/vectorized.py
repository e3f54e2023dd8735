"""The vectorized engine: a strategy's target exposures through the native simulation kernel.

Each symbol is a sleeve with ``init_cash * weight`` of the cash (``BacktestConfig.allocation``,
equal by default) simulated by :func:`neural_trader.native.simulate.simulate`; the portfolio's
equity is the sleeves' sum. Sleeves do not rebalance into each other (the event engine, which sizes
from the whole portfolio's value, does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.result import TRADES_DTYPE, BacktestResult
from neural_trader.errors import NtUserError
from neural_trader.native import simulate as sim

__all__ = ["check_targets", "simulate_panel", "targets_for"]


def targets_for(panel: Any, strategy: Any, params: Any, config: BacktestConfig) -> np.ndarray:
    """The strategy's targets for every symbol of ``panel``, shape ``(n, k)``, checked and with
    shorts turned flat unless ``config.allow_short``."""
    need = int(getattr(strategy, "symbols_required", 1))
    if need == panel.k:
        raw = strategy.signals(panel.series[0] if need == 1 else panel.series, params)
        targets = check_targets(raw, panel.n, panel.k, strategy.name)
    elif need == 1:
        targets = np.column_stack([check_targets(strategy.signals(s, params), panel.n, 1, strategy.name)
                                   for s in panel.series])
    else:
        raise NtUserError(f"strategy {strategy.name!r} trades {need} symbols together; give it exactly {need} "
                          f"series, not {panel.k}")
    if not config.allow_short:
        if getattr(strategy, "needs_short", False):
            raise NtUserError(f"strategy {strategy.name!r} sells one leg short; set the config's "
                              f"allow_short to true")
        if targets.size and np.fmin.reduce(targets, axis=None) < 0.0:
            targets = np.where(targets < 0.0, 0.0, targets)
    return targets


def check_targets(raw: Any, n: int, k: int, name: str) -> np.ndarray:
    """``raw`` as float64 ``(n, k)``; every value in [-1, 1] or NaN."""
    t = np.asarray(raw, dtype=np.float64)
    if t.ndim == 1 and k == 1:
        t = t.reshape(n if t.shape[0] == n else -1, 1)
    if t.shape != (n, k):
        raise NtUserError(f"strategy {name!r} returned signals of shape {np.shape(raw)}, expected "
                          f"({n},)" + ("" if k == 1 else f" or ({n}, {k})"))
    # fmin/fmax skip NaN (hold) and catch infinities; two passes, no temporaries. Both are NaN only
    # when every target is NaN: a strategy that holds throughout, a flat run.
    lo = np.fmin.reduce(t, axis=None) if t.size else np.nan
    hi = np.fmax.reduce(t, axis=None) if t.size else np.nan
    if not (np.isnan(lo) and np.isnan(hi)) and not (lo >= -1.0 and hi <= 1.0):
        bad = np.abs(t) > 1.0
        i = int(np.argmax(bad.any(axis=1)))
        raise NtUserError(f"strategy {name!r} returned target {t[i]} at bar {i}; targets must be in [-1, 1] or NaN")
    return t


def simulate_panel(panel: Any, strategy: Any, params: Any, config: BacktestConfig, *,
                   benchmark: np.ndarray | None = None) -> BacktestResult:
    """Run every sleeve through the kernel and assemble the result."""
    targets = targets_for(panel, strategy, params, config)
    overrides = strategy.sim_overrides(params) if hasattr(strategy, "sim_overrides") else {}
    weights = config.weights(panel.symbols)
    runs = []
    for j in range(panel.k):
        sp = config.to_sim_params(weight=weights[j], overrides=overrides)
        t = targets[:, j] if panel.k > 1 else targets.reshape(-1)
        runs.append(sim.simulate(panel.open[j], panel.high[j], panel.low[j], panel.close[j],
                                 np.ascontiguousarray(t), sp))
    if panel.k == 1:
        equity = runs[0].equity
        positions = runs[0].position.reshape(-1, 1)
    else:
        equity = np.sum([r.equity for r in runs], axis=0)
        positions = np.column_stack([r.position for r in runs])
    parts = []
    for j, r in enumerate(runs):
        part = r.trades.view(TRADES_DTYPE)  # same layout: the kernel's padding is the symbol
        part["symbol"] = j
        parts.append(part)
    trades = parts[0] if panel.k == 1 else np.concatenate(parts)
    if panel.k > 1:
        trades = trades[np.lexsort((trades["symbol"], trades["entry_idx"]))]
    return BacktestResult(strategy=strategy.name, params=params, config=config, engine="vectorized",
                          symbols=panel.symbols, timestamps=panel.timestamps, prices=panel.prices(),
                          positions=positions, equity=equity, trades=trades,
                          benchmark=_benchmark(benchmark, panel.n))


def _benchmark(benchmark: Any, n: int) -> np.ndarray | None:
    if benchmark is None:
        return None
    b = np.ascontiguousarray(getattr(benchmark, "close", benchmark), dtype=np.float64)
    if b.shape != (n,):
        raise NtUserError(f"benchmark must have one value per bar ({n}), got shape {b.shape}")
    return b
