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

__all__ = ["TRADES_DTYPE", "BacktestResult", "PlotKind", "benchmark_stats"]

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
        full = np.concatenate(([self.config.init_cash], self.equity))
        return _metrics.returns_from_equity(full)

    @functools.cached_property
    def drawdown(self) -> np.ndarray:
        """``equity / running peak - 1`` after each bar (<= 0), from the metrics kernel."""
        return _metrics.drawdown(self.returns)

    @functools.cached_property
    def metrics(self) -> dict[str, float | int]:
        """Performance metrics (native kernel) plus trade statistics, keyed by name."""
        n = self.equity.shape[0]
        held = np.abs(self.positions).sum(axis=1) if self.positions.size else np.zeros(n)
        # a period (previous close to this close) is exposed when a position was held at its start
        # or at its end (a fill at the open is inside the period)
        held_over = np.maximum(np.concatenate(([0.0], held[:-1])), held) if n else held
        rf = (1.0 + self.config.risk_free) ** (1.0 / self.config.periods_per_year) - 1.0
        m = _metrics.summary(self.returns, positions=np.ascontiguousarray(held_over),
                             periods_per_year=self.config.periods_per_year, risk_free=rf)
        out: dict[str, float | int] = dict(m._asdict())
        closed = self.trades[self.trades["exit_reason"] != ExitReason.OPEN]
        pnl = self.trades["pnl"]
        out.update(
            init_cash=float(self.config.init_cash),
            final_equity=float(self.equity[-1]) if n else float(self.config.init_cash),
            n_trades=int(self.trades.shape[0]),
            n_closed_trades=int(closed.shape[0]),
            trade_win_rate=float((pnl > 0).mean()) if pnl.size else math.nan,
            avg_trade_return=float(self.trades["ret"].mean()) if pnl.size else math.nan,
            best_trade_return=float(self.trades["ret"].max()) if pnl.size else math.nan,
            worst_trade_return=float(self.trades["ret"].min()) if pnl.size else math.nan,
            total_fees=float(self.trades["fees"].sum()),
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
                 dpi: int = 100) -> bytes:
        """A PNG of the equity curve (with the benchmark scaled to the same start), the drawdown,
        or the trades on the price (``"trades"``: entries and exits on the first symbol's close).
        Needs matplotlib (the ``plot`` extra); it is imported on first use, with the Agg backend."""
        from neural_trader.backtest.plots import plot_png

        if kind not in PLOT_KINDS:
            raise NtUserError(f"plot kind must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
        return plot_png(self, kind, width=width, height=height, dpi=dpi)


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
    rf = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
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
