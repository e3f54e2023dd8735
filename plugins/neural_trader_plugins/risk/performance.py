"""Performance report of a return series, alone or against a benchmark.

The absolute metrics are :func:`neural_trader.native.metrics.summary` (total return, CAGR,
volatility, Sharpe, Sortino, drawdowns, win rate, ...), computed once for the strategy and once for
the benchmark. On top of them, with empyrical's definitions (simple per-period returns, per-period
``risk_free``, ``periods_per_year`` annualising):

* ``beta = cov(r - rf, b - rf) / var(b - rf)`` (population moments) and annualised
  ``alpha = (1 + mean(r - rf - beta (b - rf))) ** periods_per_year - 1`` (empyrical ``alpha_beta``);
* ``tracking_error = std(r - b, ddof=1) * sqrt(periods_per_year)``;
* ``information_ratio = mean(r - b) / std(r - b, ddof=1) * sqrt(periods_per_year)``, which is
  empyrical's ``excess_sharpe`` annualised;
* ``up_capture`` / ``down_capture``: CAGR of the strategy over the periods where the benchmark
  rose (fell), over the benchmark's CAGR over the same periods (empyrical ``up_capture``);
* ``correlation``: Pearson correlation of ``r`` and ``b``;
* ``excess_return``: the strategy's CAGR minus the benchmark's.

Rolling series (for charts) are NaN before the first full window; element ``i`` covers periods
``i - window + 1 .. i``. Charts are PNG bytes, drawn only when asked (matplotlib is optional).
"""

from __future__ import annotations

import io
import math
from typing import Any, Literal

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native import metrics
from neural_trader.native.metrics import Metrics
from neural_trader.native.metrics_numpy import check_periods_per_year, check_rate
from neural_trader_plugins.risk import inputs

__all__ = [
    "CHART_KINDS", "MonthlyReturns", "PerformanceReport", "RelativeMetrics", "RollingMetrics",
    "performance_png", "performance_report",
]

ChartKind = Literal["equity", "drawdown", "rolling_sharpe"]
CHART_KINDS: tuple[str, ...] = ("equity", "drawdown", "rolling_sharpe")
#: Fewest returns a report accepts (a standard deviation needs two).
MIN_OBSERVATIONS = 2


@attrs.frozen(kw_only=True)
class RelativeMetrics:
    """Benchmark-relative metrics (module docstring for the definitions); NaN where undefined
    (a capture ratio when the benchmark never rose or never fell)."""

    alpha: float
    beta: float
    tracking_error: float
    information_ratio: float
    up_capture: float
    down_capture: float
    correlation: float
    excess_return: float


@attrs.frozen(kw_only=True, eq=False)
class RollingMetrics:
    """Trailing-window series, one value per period, NaN before the first full window.

    ``sharpe`` and ``volatility`` are annualised (ddof 1); ``beta`` is ``None`` without a benchmark.
    """

    window: int
    sharpe: np.ndarray
    volatility: np.ndarray
    beta: np.ndarray | None


@attrs.frozen(kw_only=True, eq=False)
class MonthlyReturns:
    """Compounded calendar-month returns: ``table[y, m]`` is year ``years[y]``, month ``m + 1``
    (NaN for a month without data); ``yearly[y]`` compounds that year's periods."""

    years: list[int]
    table: np.ndarray
    yearly: np.ndarray


@attrs.frozen(kw_only=True, eq=False)
class PerformanceReport:
    """Everything :func:`performance_report` computes; the inputs ride along for the charts."""

    metrics: Metrics
    benchmark_metrics: Metrics | None
    relative: RelativeMetrics | None
    rolling: RollingMetrics
    monthly: MonthlyReturns | None
    periods_per_year: float
    risk_free: float
    returns: np.ndarray
    benchmark: np.ndarray | None
    dates: np.ndarray | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; NaN becomes ``None``."""
        out: dict[str, Any] = {
            "metrics": _clean(self.metrics._asdict()),
            "benchmark_metrics": None if self.benchmark_metrics is None else _clean(self.benchmark_metrics._asdict()),
            "relative": None if self.relative is None else _clean(attrs.asdict(self.relative)),
            "rolling": {
                "window": self.rolling.window,
                "sharpe": _clean_list(self.rolling.sharpe),
                "volatility": _clean_list(self.rolling.volatility),
                "beta": None if self.rolling.beta is None else _clean_list(self.rolling.beta),
            },
            "monthly": None,
            "periods_per_year": self.periods_per_year,
            "risk_free": self.risk_free,
        }
        if self.monthly is not None:
            out["monthly"] = {"years": self.monthly.years,
                              "table": [_clean_list(row) for row in self.monthly.table],
                              "yearly": _clean_list(self.monthly.yearly)}
        return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


def _clean_list(a: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else x for x in a.tolist()]


# -- inputs ------------------------------------------------------------------------------------


def _series(name: str, value: object) -> np.ndarray:
    return inputs.vector(name, value, hint="drop or fill missing periods")


def _dates(value: object, n: int) -> np.ndarray:
    try:
        d = np.asarray(value, dtype="datetime64[D]")
    except (TypeError, ValueError):
        raise NtUserError("dates must be ISO dates ('2014-12-31') or datetime64 values, one per return") from None
    if d.ndim != 1 or d.shape[0] != n:
        raise NtUserError(f"dates has {d.size} values but returns has {n}; pass one date per return")
    if np.isnat(d).any():
        raise NtUserError(f"dates must all be valid, but dates[{int(np.flatnonzero(np.isnat(d))[0])}] is not")
    if n > 1 and (np.diff(d.astype(np.int64)) < 0).any():
        raise NtUserError("dates must be in ascending order")
    return d


# -- the report --------------------------------------------------------------------------------


def performance_report(returns: object, benchmark: object = None, *, periods_per_year: float = 252,
                       risk_free: float = 0.0, dates: object = None, window: int = 63) -> PerformanceReport:
    """Performance of ``returns`` (and against ``benchmark``, aligned period for period).

    :param returns: simple returns per period (0.01 is +1%), finite.
    :param benchmark: the benchmark's simple returns over the same periods, or ``None``.
    :param periods_per_year: annualisation (252 daily, 52 weekly, 12 monthly).
    :param risk_free: per-period risk-free rate (Sharpe, alpha, beta).
    :param dates: the date each return ends on (ISO strings or datetime64), for the monthly table.
    :param window: periods in each rolling window (default 63, about a quarter of trading days).
    """
    r = _series("returns", returns)
    n = r.shape[0]
    if n < MIN_OBSERVATIONS:
        raise NtUserError(f"returns needs at least {MIN_OBSERVATIONS} observations, got {n}")
    ppy = check_periods_per_year(periods_per_year)
    rf = check_rate("risk_free", risk_free)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise NtUserError(f"window must be an integer >= 2 (periods per rolling window), got {window!r}")
    b = None
    if benchmark is not None:
        b = _series("benchmark", benchmark)
        if b.shape[0] != n:
            raise NtUserError(f"benchmark has {b.shape[0]} returns but returns has {n}; align them period for "
                              "period (same dates)")
    d = None if dates is None else _dates(dates, n)
    m = metrics.summary(r, periods_per_year=ppy, risk_free=rf)
    bm = None if b is None else metrics.summary(b, periods_per_year=ppy, risk_free=rf)
    rel = None if b is None or bm is None else _relative(r, b, m, bm, ppy, rf)
    return PerformanceReport(metrics=m, benchmark_metrics=bm, relative=rel, rolling=_rolling(r, b, int(window), ppy, rf),
                             monthly=None if d is None else _monthly(r, d), periods_per_year=ppy, risk_free=rf,
                             returns=r, benchmark=b, dates=d)


def _beta(r: np.ndarray, b: np.ndarray) -> float:
    resid = b - b.mean()
    var = float(np.mean(resid * resid))
    if not var > 1e-30:
        raise NtUserError("benchmark has zero variance, so beta (and alpha) are undefined; pass a benchmark that moves")
    return float(np.mean(resid * r)) / var


def _capture(r: np.ndarray, b: np.ndarray, ppy: float) -> float:
    if r.shape[0] == 0:
        return math.nan
    mine = metrics.summary(np.ascontiguousarray(r), periods_per_year=ppy).cagr
    theirs = metrics.summary(np.ascontiguousarray(b), periods_per_year=ppy).cagr
    return mine / theirs if theirs != 0.0 else math.nan


def _relative(r: np.ndarray, b: np.ndarray, m: Metrics, bm: Metrics, ppy: float, rf: float) -> RelativeMetrics:
    ar, ab = r - rf, b - rf
    beta = _beta(ar, ab)
    alpha = (1.0 + float(np.mean(ar - beta * ab))) ** ppy - 1.0
    active = r - b
    te_period = float(np.std(active, ddof=1))
    ir = float(np.mean(active)) / te_period * math.sqrt(ppy) if te_period > 0.0 else math.nan
    up, down = b > 0.0, b < 0.0
    return RelativeMetrics(
        alpha=alpha, beta=beta, tracking_error=te_period * math.sqrt(ppy), information_ratio=ir,
        up_capture=_capture(r[up], b[up], ppy), down_capture=_capture(r[down], b[down], ppy),
        correlation=float(np.corrcoef(r, b)[0, 1]), excess_return=m.cagr - bm.cagr,
    )


def _rolling(r: np.ndarray, b: np.ndarray | None, window: int, ppy: float, rf: float) -> RollingMetrics:
    n = r.shape[0]
    sharpe, vol = np.full(n, math.nan), np.full(n, math.nan)
    beta = None if b is None else np.full(n, math.nan)
    if n >= window:
        view = np.lib.stride_tricks.sliding_window_view
        wr = view(r, window)
        sd = wr.std(axis=1, ddof=1)
        ex = view(r - rf, window)
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpe[window - 1 :] = np.where(sd > 0.0, ex.mean(axis=1) / ex.std(axis=1, ddof=1), math.nan) * math.sqrt(ppy)
            vol[window - 1 :] = sd * math.sqrt(ppy)
            if b is not None and beta is not None:
                wb = view(b - rf, window)
                resid = wb - wb.mean(axis=1, keepdims=True)
                var = np.mean(resid * resid, axis=1)
                cov = np.mean(resid * ex, axis=1)
                beta[window - 1 :] = np.where(var > 1e-30, cov / np.where(var > 0.0, var, 1.0), math.nan)
    return RollingMetrics(window=window, sharpe=sharpe, volatility=vol, beta=beta)


def _monthly(r: np.ndarray, d: np.ndarray) -> MonthlyReturns:
    months = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    years = months // 12 + 1970
    first, last = int(years[0]), int(years[-1])
    table = np.full((last - first + 1, 12), math.nan)
    yearly = np.full(last - first + 1, math.nan)
    for key in np.unique(months):
        sel = months == key
        table[int(key // 12 + 1970) - first, int(key % 12)] = float(np.prod(1.0 + r[sel])) - 1.0
    for y in np.unique(years):
        yearly[int(y) - first] = float(np.prod(1.0 + r[years == y])) - 1.0
    return MonthlyReturns(years=list(range(first, last + 1)), table=table, yearly=yearly)


# -- charts ------------------------------------------------------------------------------------


def performance_png(report: PerformanceReport, kind: str, *, width: float = 10.0, height: float = 4.0,
                    dpi: int = 100, title: str = "strategy") -> bytes:
    """Render ``kind`` of ``report`` as PNG bytes: ``equity`` (growth of 1, with the benchmark),
    ``drawdown`` (percent below the running peak) or ``rolling_sharpe``.

    matplotlib is imported on first use (the ``plot`` extra); without it this raises
    :class:`~neural_trader.errors.NtUnavailable`.
    """
    if kind not in CHART_KINDS:
        raise NtUserError(f"kind must be one of {', '.join(CHART_KINDS)}, got {kind!r}")
    from neural_trader.backtest.plots import figure_factory

    fig = figure_factory()(figsize=(width, height), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    r = report.returns
    x: np.ndarray = report.dates if report.dates is not None else np.arange(r.shape[0])
    if kind == "equity":
        ax.plot(x, np.cumprod(1.0 + r), label=title, color="tab:blue", linewidth=1.0)
        if report.benchmark is not None:
            ax.plot(x, np.cumprod(1.0 + report.benchmark), label="benchmark", color="tab:gray", linewidth=0.8)
        ax.legend(loc="best")
        ax.set_ylabel("growth of 1")
    elif kind == "drawdown":
        ax.fill_between(x, metrics.drawdown(r) * 100.0, 0.0, color="tab:red", alpha=0.4, linewidth=0)
        ax.set_ylabel("drawdown (%)")
    else:
        ax.plot(x, report.rolling.sharpe, color="tab:green", linewidth=0.8)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_ylabel(f"rolling Sharpe ({report.rolling.window} periods)")
    ax.set_title(f"{title}: {kind.replace('_', ' ')}")
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
