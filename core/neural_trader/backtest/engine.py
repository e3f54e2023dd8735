"""Backtest entry points: the vectorized fast path and the event-driven engine, one result type.

``bars`` is one price series (anything with float64 ``open``/``high``/``low``/``close`` columns,
such as ``neural_trader.domain.market.Bars``) or a sequence of aligned series:

* a strategy with ``symbols_required == 1`` given several series runs on each symbol, and the
  portfolio allocates ``config.allocation`` (equal weights by default) across them;
* a strategy with ``symbols_required == 2`` (pairs) takes exactly that many series.

:func:`run_vectorized` turns the strategy's target exposures into trades with the native
simulation kernel (one call per symbol sleeve). :func:`run_event` calls the strategy bar by bar
and fills its orders with order-level realism (market, limit, stop, stop-limit, trailing stop,
bracket; the gap rule of docs/strategies.md). Both fill at the close or at the next open
(``config.fill_at``) and return a :class:`~neural_trader.backtest.result.BacktestResult`; for a
strategy with both styles they give the same trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.backtest.config import BacktestConfig
from neural_trader.backtest.result import BacktestResult
from neural_trader.errors import NtUserError

__all__ = ["Engine", "Panel", "panel_of", "run", "run_event", "run_vectorized"]

Engine = Literal["vectorized", "event"]


@attrs.frozen(kw_only=True, eq=False)
class Panel:
    """Aligned columns of ``k`` symbols over ``n`` bars, as the engines consume them."""

    symbols: tuple[str, ...]
    timestamps: np.ndarray | None
    open: tuple[np.ndarray, ...]
    high: tuple[np.ndarray, ...]
    low: tuple[np.ndarray, ...]
    close: tuple[np.ndarray, ...]
    #: The caller's series, in order (what ``Strategy.signals`` receives).
    series: tuple[Any, ...]

    @property
    def n(self) -> int:
        return int(self.close[0].shape[0])

    @property
    def k(self) -> int:
        return len(self.symbols)

    def prices(self) -> np.ndarray:
        """Closes, shape ``(n, k)`` (a view for one symbol)."""
        return self.close[0].reshape(-1, 1) if self.k == 1 else np.column_stack(self.close)


def _column(series: Any, name: str, where: str) -> np.ndarray:
    try:
        col = getattr(series, name)
    except AttributeError:
        raise NtUserError(f"{where} has no {name!r} column; pass Bars (or an object with open, high, "
                          f"low and close arrays)") from None
    arr = np.ascontiguousarray(col, dtype=np.float64)
    if arr.ndim != 1:
        raise NtUserError(f"{where}.{name} must be 1-D, got shape {arr.shape}")
    return arr


def _times(series: Any) -> np.ndarray | None:
    """Bar times: ``Bars.ts`` (int64 ns), or a ``timestamps`` attribute, or None."""
    for name in ("ts", "timestamps"):
        value = getattr(series, name, None)
        if value is not None:
            return np.asarray(value)
    return None


def panel_of(bars: Any) -> Panel:
    """Normalise one series or a sequence of aligned series into a :class:`Panel`."""
    many = isinstance(bars, Sequence) and not isinstance(bars, str | bytes)
    series = tuple(bars) if many else (bars,)
    if not series:
        raise NtUserError("no bars given")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("open", "high", "low", "close")}
    symbols: list[str] = []
    for j, s in enumerate(series):
        where = f"bars[{j}]" if many else "bars"
        for k in cols:
            cols[k].append(_column(s, k, where))
        symbols.append(str(getattr(s, "symbol", None) or f"asset{j}"))
    n = cols["close"][0].shape[0]
    for j in range(len(series)):
        lengths = {k: cols[k][j].shape[0] for k in cols}
        if set(lengths.values()) != {n}:
            raise NtUserError(f"bars are not aligned: expected {n} bars, got {lengths} for {symbols[j]}")
    if len(set(symbols)) != len(symbols):
        symbols = [f"{s}#{j}" for j, s in enumerate(symbols)]
    timestamps = _times(series[0])
    if timestamps is not None:
        for j, s in enumerate(series[1:], 1):
            other = _times(s)
            if other is not None and not np.array_equal(np.asarray(other), timestamps):
                raise NtUserError(f"bars are not aligned: {symbols[j]}'s timestamps differ from {symbols[0]}'s; "
                                  f"align them (same bar times) before a multi-symbol backtest")
    return Panel(symbols=tuple(symbols), timestamps=timestamps,
                 **{k: tuple(v) for k, v in cols.items()}, series=series)


def resolve(strategy: Any, params: Any, config: BacktestConfig | None) -> tuple[Any, BacktestConfig]:
    """Validated params (defaults when None; a mapping is accepted) and the config."""
    if config is None:
        config = BacktestConfig()
    elif not isinstance(config, BacktestConfig):
        raise NtUserError(f"config must be a BacktestConfig, got {type(config).__name__}")
    make = getattr(strategy, "make_params", None)
    if make is not None:
        params = make(params)
    elif params is None:
        params = strategy.params_type()
    return params, config


def run_vectorized(bars: Any, strategy: Any, params: Any = None, config: BacktestConfig | None = None, *,
                   benchmark: np.ndarray | None = None) -> BacktestResult:
    """Backtest ``strategy.signals`` with the native simulation kernel (the fast path)."""
    from neural_trader.backtest.vectorized import simulate_panel

    params, config = resolve(strategy, params, config)
    return simulate_panel(panel_of(bars), strategy, params, config, benchmark=benchmark)


def run_event(bars: Any, strategy: Any, params: Any = None, config: BacktestConfig | None = None, *,
              benchmark: np.ndarray | None = None) -> BacktestResult:
    """Backtest bar by bar with the event-driven engine (orders, partial realism at bar level)."""
    from neural_trader.backtest.event import EventEngine

    params, config = resolve(strategy, params, config)
    return EventEngine(panel_of(bars), strategy, params, config).run(benchmark=benchmark)


def run(bars: Any, strategy: Any, params: Any = None, config: BacktestConfig | None = None, *,
        engine: Engine = "vectorized", benchmark: np.ndarray | None = None) -> BacktestResult:
    """Backtest with the named engine (``"vectorized"`` or ``"event"``)."""
    if engine == "vectorized":
        return run_vectorized(bars, strategy, params, config, benchmark=benchmark)
    if engine == "event":
        return run_event(bars, strategy, params, config, benchmark=benchmark)
    raise NtUserError(f"engine must be 'vectorized' or 'event', got {engine!r}")
