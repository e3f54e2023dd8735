"""What a backtest produces: :class:`BacktestResult`.

Both engines return the same type: the trades table, per-bar positions, equity and drawdown, a
metrics dict computed by the native metrics kernel (:mod:`neural_trader.native.metrics`), an
optional comparison against a benchmark price series (alpha, beta, tracking error, information
ratio), and PNG pictures (:meth:`BacktestResult.plot_png`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.backtest.config import BacktestConfig
from neural_trader.errors import NtUserError
from neural_trader.native import metrics as _metrics
from neural_trader.native.simulate import ExitReason

__all__ = [
    "TRADES_DTYPE", "BacktestResult", "PlotKind", "bar_metrics", "benchmark_stats", "closed_trades",
    "per_period_rate", "trade_stats",
]

#: One row per trade. ``entry_idx``/``exit_idx`` index the bars; ``size`` is signed units
#: (negative = short); ``pnl`` is net of both fills' costs; ``ret`` is
#: ``pnl / (|size| * entry_price)``; ``exit_reason`` is an
#: :class:`~neural_trader.native.simulate.ExitReason` (``OPEN``: still open at the end, marked at
#: the last close without exit costs); ``symbol`` indexes ``BacktestResult.symbols``. The layout is
#: the kernel's ``TRADE_DTYPE`` with its padding named ``symbol``, so kernel output is viewed, not copied.
TRADES_DTYPE = np.dtype([
    ("entry_idx", np.int64), ("exit_idx", np.int64), ("entry_price", np.float64), ("exit_price", np.float64),
    ("size", np.float64), ("pnl", np.float64), ("ret", np.float64), ("fees", np.float64),
    ("exit_reason", np.int32), ("symbol", np.int32),
])

PlotKind = Literal["equity", "drawdown", "trades"]
PLOT_KINDS: tuple[str, ...] = ("equity", "drawdown", "trades")


@attrs.frozen(kw_only=True, slots=False, eq=False)
class BacktestResult:
    """The outcome of one backtest. Arrays are per bar (``n``) or per bar and symbol (``n, k``)."""

    strategy: str
    params: Any
    config: BacktestConfig
    engine: Literal["vectorized", "event"]
    symbols: tuple[str, ...]
    #: Bar times as given by the data (``Bars.timestamps``), or None.
    timestamps: np.ndarray | None = attrs.field(repr=False)
    #: Close prices, shape ``(n, k)``: the marks for equity and the trades-on-price plot.
    prices: np.ndarray = attrs.field(repr=False)
    #: Signed units held after each bar's close, shape ``(n, k)``.
    positions: np.ndarray = attrs.field(repr=False)
    #: Cash plus positions at each bar's close, shape ``(n,)``.
    equity: np.ndarray = attrs.field(repr=False)
    trades: np.ndarray = attrs.field(repr=False)
    #: A benchmark price (or value) series aligned with the bars, or None.
    benchmark: np.ndarray | None = attrs.field(default=None, repr=False)
    #: Orders the event engine saw (0 for the vectorized engine, which has no order objects).
    n_orders: int = 0

    # -- derived series --------------------------------------------------------------------------
    @functools.cached_property
    def returns(self) -> np.ndarray:
        """Simple return of each bar, the first one from ``init_cash`` (shape ``(n,)``)."""
        if self.equity.shape[0] == 0:
            return np.empty(0)
        ruined = np.flatnonzero(~(self.equity > 0.0) | ~np.isfinite(self.equity))
        if ruined.size:
            i = int(ruined[0])
            raise NtUserError(
                f"the account's equity fell to {float(self.equity[i]):.6g} at bar {i} (from {self.config.init_cash:g} "
                "cash): costs or a fixed size larger than the cash can pay for ruined it, and returns are undefined "
                "from there; lower commission_per_unit, commission_fixed or size, or raise init_cash",
                details={"bar": i, "equity": float(self.equity[i])} if math.isfinite(self.equity[i]) else {"bar": i})
        full = np.concatenate(([self.config.init_cash], self.equity))
        return _metrics.returns_from_equity(full)

    @functools.cached_property
    def drawdown(self) -> np.ndarray:
        """``equity / running peak - 1`` after each bar (<= 0), from the metrics kernel."""
        return _metrics.drawdown(self.returns)

    @functools.cached_property
    def metrics(self) -> dict[str, float | int]:
        """Performance metrics of the bars (native kernel) plus statistics of the trades, keyed by
        name (the glossary is in docs/backtesting.md). Trade statistics count closed trades; a
        position still open at the last bar is reported apart (``open_trades``, ``open_trade_*``)."""
        n = self.equity.shape[0]
        held = np.abs(self.positions).sum(axis=1) if self.positions.size else np.zeros(n)
        # a period (previous close to this close) is exposed when a position was held at its start
        # or at its end (a fill at the open is inside the period)
        held_over = np.maximum(np.concatenate(([0.0], held[:-1])), held) if n else held
        out: dict[str, float | int] = bar_metrics(self.returns, self.config, positions=np.ascontiguousarray(held_over))
        out.update(
            init_cash=float(self.config.init_cash),
            final_equity=float(self.equity[-1]) if n else float(self.config.init_cash),
            **trade_stats(self.trades),
            buy_and_hold_return=_buy_and_hold(self.prices),
        )
        if self.benchmark is not None:
            out.update({f"benchmark_{k}" if not k.startswith("benchmark") else k: v
                        for k, v in self.benchmark_stats.items()})
        return out

    @functools.cached_property
    def benchmark_stats(self) -> dict[str, float]:
        """Alpha (annualised), beta, correlation, tracking error, information ratio and the
        benchmark's total return; empty without a benchmark."""
        if self.benchmark is None:
            return {}
        return benchmark_stats(self.returns[1:], self.benchmark, self.config.periods_per_year,
                               self.config.risk_free)

    # -- presentation ----------------------------------------------------------------------------
    def trade_records(self) -> list[dict[str, Any]]:
        """The trades as plain-JSON rows (symbol names, ISO times when the bars have them)."""
        times = _iso_times(self.timestamps)
        rows = []
        for t in self.trades.tolist():
            ei, xi, ep, xp, size, pnl, ret, fees, reason, sym = t
            rows.append({
                "symbol": self.symbols[sym], "side": "long" if size > 0 else "short",
                "entry_index": ei, "exit_index": xi,
                "entry_time": times[ei] if times else None, "exit_time": times[xi] if times else None,
                "entry_price": ep, "exit_price": xp, "size": size, "pnl": pnl, "return": ret,
                "fees": fees, "exit_reason": ExitReason(reason).name.lower(),
            })
        return rows

    def summary(self) -> dict[str, Any]:
        """Plain JSON: the run's identity and metrics (non-finite numbers become None)."""
        return {
            "strategy": self.strategy,
            "params": attrs.asdict(self.params) if attrs.has(type(self.params)) else self.params,
            "engine": self.engine,
            "symbols": list(self.symbols),
            "bars": int(self.equity.shape[0]),
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
        }

    def plot_png(self, kind: PlotKind = "equity", *, width: float = 10.0, height: float = 4.0,
                 dpi: int = 100, synthetic: bool = False) -> bytes:
        """A PNG of the equity curve (with the benchmark scaled to the same start), the drawdown,
        or the trades on the price (``"trades"``: entries and exits on the first symbol's close).
        ``synthetic``: the bars were generated, and the title says so.
        Needs matplotlib (the ``plot`` extra); it is imported on first use, with the Agg backend."""
        from neural_trader.backtest.plots import plot_png

        if kind not in PLOT_KINDS:
            raise NtUserError(f"plot kind must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
        return plot_png(self, kind, width=width, height=height, dpi=dpi, synthetic=synthetic)


def benchmark_stats(returns: np.ndarray, benchmark: np.ndarray, periods_per_year: float,
                    risk_free: float = 0.0) -> dict[str, float]:
    """Compare per-bar strategy ``returns`` (over bars 1..n-1) with a benchmark *price* series
    (length n): CAPM alpha (annualised, over the per-period risk-free rate) and beta, correlation,
    annualised tracking error and information ratio, and the benchmark's total return."""
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim != 1 or b.shape[0] != returns.shape[0] + 1:
        raise NtUserError(f"benchmark must be a 1-D series with one value per bar ({returns.shape[0] + 1}), "
                          f"got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise NtUserError("benchmark values must be finite and > 0")
    rb = b[1:] / b[:-1] - 1.0
    rs = returns
    nan = math.nan
    out = {"benchmark_return": float(b[-1] / b[0] - 1.0), "alpha": nan, "beta": nan, "correlation": nan,
           "tracking_error": nan, "information_ratio": nan}
    if rs.shape[0] < 2:
        return out
    rf = per_period_rate(risk_free, periods_per_year)
    xs, xb = rs - rf, rb - rf
    var_b = float(np.var(xb, ddof=1))
    active = rs - rb
    te = float(np.std(active, ddof=1)) * math.sqrt(periods_per_year)
    if var_b > 0:
        beta = float(np.cov(xs, xb, ddof=1)[0, 1] / var_b)
        out["beta"] = beta
        out["alpha"] = float((xs.mean() - beta * xb.mean()) * periods_per_year)
        sd_s = float(np.std(xs, ddof=1))
        if sd_s > 0:
            out["correlation"] = float(np.corrcoef(xs, xb)[0, 1])
    out["tracking_error"] = te
    if te > 0:
        out["information_ratio"] = float(active.mean() * periods_per_year / te)
    return out


def per_period_rate(annual: float, periods_per_year: float) -> float:
    """The per-period rate that compounds to ``annual`` over ``periods_per_year`` periods:
    ``(1 + annual) ** (1 / periods_per_year) - 1``, computed without overflow (``expm1``/``log1p``)."""
    if annual <= -1.0:
        return -1.0
    return math.expm1(math.log1p(annual) / periods_per_year)


#: The bar-based counts of the metrics kernel, renamed so they cannot be taken for trade counts.
_BAR_NAMES = {"n_wins": "winning_bars", "n_losses": "losing_bars"}


def bar_metrics(returns: np.ndarray, config: BacktestConfig, *,
                positions: np.ndarray | None = None) -> dict[str, float | int]:
    """The metrics kernel's summary of per-bar ``returns`` under ``config``'s annualisation and
    risk-free rate, with bar counts named ``winning_bars``/``losing_bars``. Non-finite values
    (an annualised figure too large for a float) stay NaN/inf here; :meth:`BacktestResult.summary`
    and the stored metrics turn them into null."""
    ppy = config.periods_per_year
    m = _metrics.summary(np.ascontiguousarray(returns), positions=positions, periods_per_year=ppy,
                         risk_free=per_period_rate(config.risk_free, ppy))
    return {_BAR_NAMES.get(k, k): v for k, v in m._asdict().items()}


def closed_trades(trades: np.ndarray) -> np.ndarray:
    """The rows of a trades table that were closed (by a signal, a stop or a target): not the
    position still open at the last bar, whose P&L is only marked."""
    return trades[trades["exit_reason"] != ExitReason.OPEN]


def trade_stats(trades: np.ndarray) -> dict[str, float | int]:
    """Statistics of the closed trades of a trades table (:data:`TRADES_DTYPE`), and the open
    position(s) at the end apart. A trade wins with ``pnl > 0`` and loses with ``pnl < 0`` (net of
    costs); ``trade_win_rate`` is winning / closed trades. Undefined values are NaN."""
    closed = closed_trades(trades)
    still_open = trades[trades["exit_reason"] == ExitReason.OPEN]
    pnl, ret = closed["pnl"], closed["ret"]
    m = int(closed.shape[0])
    nan = math.nan
    cost = float(np.sum(np.abs(still_open["size"]) * still_open["entry_price"]))
    open_pnl = float(still_open["pnl"].sum())
    return {
        "n_trades": m,
        "winning_trades": int(np.count_nonzero(pnl > 0.0)),
        "losing_trades": int(np.count_nonzero(pnl < 0.0)),
        "trade_win_rate": float(np.count_nonzero(pnl > 0.0) / m) if m else nan,
        "avg_trade_return": float(ret.mean()) if m else nan,
        "best_trade_return": float(ret.max()) if m else nan,
        "worst_trade_return": float(ret.min()) if m else nan,
        "avg_trade_pnl": float(pnl.mean()) if m else nan,
        "total_fees": float(trades["fees"].sum()),
        "open_trades": int(still_open.shape[0]),
        "open_trade_pnl": open_pnl if still_open.size else nan,
        "open_trade_return": open_pnl / cost if still_open.size and cost > 0 else nan,
    }


def _buy_and_hold(prices: np.ndarray) -> float:
    if prices.shape[0] == 0:
        return math.nan
    return float(np.mean(prices[-1] / prices[0]) - 1.0)


def _finite(v: float | int) -> float | int | None:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _iso_times(timestamps: np.ndarray | None) -> list[str] | None:
    """ISO-8601 UTC strings for datetime64 or epoch-nanosecond integer timestamps."""
    if timestamps is None:
        return None
    ts = np.asarray(timestamps)
    if np.issubdtype(ts.dtype, np.integer):
        ts = ts.astype("datetime64[ns]")
    if np.issubdtype(ts.dtype, np.datetime64):
        return [s + "Z" if "T" in s else s for s in np.datetime_as_string(ts, unit="s").tolist()]
    return [t.isoformat() if hasattr(t, "isoformat") else str(t) for t in ts.tolist()]
