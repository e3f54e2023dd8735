"""Performance metrics of a return series or an equity curve: the C kernel when built, its numpy
twin (:mod:`.metrics_numpy`) otherwise, bit for bit the same.

Total return, CAGR, annualised volatility, Sharpe, Sortino (and downside risk), maximum drawdown
and its duration, Calmar, win rate, profit factor, expectancy and exposure, in one pass over the
data. Definitions follow empyrical; annualisation (``periods_per_year``, 252 by default) and the
per-period risk-free rate are documented in docs/native.md, "Metrics".

Inputs must be 1-D C-contiguous ``float64`` numpy arrays; nothing is converted or copied, the C
code reads the caller's memory through ``ffi.from_buffer`` with the GIL released.

>>> import numpy as np
>>> from neural_trader.native import metrics
>>> m = metrics.summary(np.array([0.01, -0.02, 0.03, 0.0]))
>>> round(m.total_return, 6), round(m.max_drawdown, 4), m.max_drawdown_duration
(0.019494, -0.02, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural_trader.native import metrics_numpy as _twin
from neural_trader.native._buffers import array_arg, raise_for_status
from neural_trader.native._loader import load_native, timed
from neural_trader.native.metrics_numpy import (
    DAILY,
    RULES,
    Metrics,
    array_error,
    check_periods_per_year,
    check_positions,
    check_rate,
)

_native = load_native("metrics")
_lib: Any = _native.lib
#: True when the C kernels run; otherwise ``STATUS_REASON`` says why the numpy twins do.
COMPILED: bool = _native.compiled
STATUS_REASON: str | None = _native.reason

#: C parameter names of each kernel, in order: a status code names its argument by position.
ARGS: dict[str, tuple[str, ...]] = {
    "nt_metrics_compute": ("n", "returns", "positions", "periods_per_year", "risk_free", "required_return",
                           "out"),
    "nt_metrics_returns_from_equity": ("n", "equity", "returns"),
    "nt_metrics_drawdown": ("n", "returns", "out"),
}

if COMPILED:
    _ffi = _native.ffi
    _buf = _ffi.from_buffer
    _D = _ffi.typeof("double[]")
    _NULL = _ffi.NULL


def _fail(status: int, func: str, **values: Any) -> None:
    names = ARGS[func]
    pos = (-status) % 256
    if 0 < pos <= len(names) and names[pos - 1] in _twin.ARRAY_RULES:
        raise array_error(names[pos - 1])
    raise_for_status(status, func, names, values, RULES)


@timed(_native)
def summary(returns: np.ndarray, *, positions: np.ndarray | None = None, periods_per_year: float = DAILY,
            risk_free: float = 0.0, required_return: float = 0.0) -> Metrics:
    """Every metric of a series of simple per-period returns.

    :param returns: simple returns per period (0.01 is +1%); NaN marks a missing period.
    :param positions: optional position per period (any units); exposure is the share of periods
        where it is non-zero. Without it, exposure is the share of periods with a non-zero return.
    :param periods_per_year: annualisation: 252 daily, 52 weekly, 12 monthly.
    :param risk_free: per-period risk-free rate subtracted for Sharpe (annual ``R`` over daily bars:
        ``(1 + R) ** (1 / 252) - 1``).
    :param required_return: per-period minimum acceptable return for Sortino and downside risk.
    """
    if not COMPILED:
        return _twin.summary(returns, positions=positions, periods_per_year=periods_per_year,
                             risk_free=risk_free, required_return=required_return)
    r = array_arg("returns", returns)
    p = check_positions(positions, r)
    ppy = check_periods_per_year(periods_per_year)
    rf = check_rate("risk_free", risk_free)
    req = check_rate("required_return", required_return)
    out = _ffi.new("nt_metrics *")
    st = _lib.nt_metrics_compute(r.shape[0], _buf(_D, r), _NULL if p is None else _buf(_D, p), ppy, rf, req, out)
    if st:
        _fail(st, "nt_metrics_compute", periods_per_year=ppy, risk_free=rf, required_return=req)
    return Metrics(**{name: getattr(out, name) for name in Metrics._fields})


@timed(_native)
def returns_from_equity(equity: np.ndarray) -> np.ndarray:
    """Simple returns ``(e[i] - e[i-1]) / e[i-1]`` of an equity curve (one value fewer)."""
    if not COMPILED:
        return _twin.returns_from_equity(equity)
    e = array_arg("equity", equity)
    n = e.shape[0]
    out = np.empty(max(n - 1, 0))
    st = _lib.nt_metrics_returns_from_equity(n, _buf(_D, e), _buf(_D, out, True))
    if st:
        _fail(st, "nt_metrics_returns_from_equity")
    return out


def summary_from_equity(equity: np.ndarray, *, positions: np.ndarray | None = None,
                        periods_per_year: float = DAILY, risk_free: float = 0.0,
                        required_return: float = 0.0) -> Metrics:
    """:func:`summary` of the returns of an equity curve; ``positions`` align with those returns
    (one value fewer than ``equity``: the position held over each period)."""
    return summary(returns_from_equity(equity), positions=positions, periods_per_year=periods_per_year,
                   risk_free=risk_free, required_return=required_return)


@timed(_native)
def drawdown(returns: np.ndarray) -> np.ndarray:
    """Drawdown after each period (``wealth / peak - 1``, <= 0), wealth compounding from 1."""
    if not COMPILED:
        return _twin.drawdown(returns)
    r = array_arg("returns", returns)
    out = np.empty(r.shape[0])
    st = _lib.nt_metrics_drawdown(r.shape[0], _buf(_D, r), _buf(_D, out, True))
    if st:
        _fail(st, "nt_metrics_drawdown")
    return out


__all__ = [
    "COMPILED", "DAILY", "STATUS_REASON", "Metrics", "drawdown", "returns_from_equity", "summary",
    "summary_from_equity",
]
