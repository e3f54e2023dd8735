"""Numpy twins of the metrics kernels: the reference semantics, bit for bit.

Each public function has the signature of its namesake in :mod:`neural_trader.native.metrics`
and performs the same floating-point operations in the same order as ``native/metrics/metrics.c``
(sums run left to right from 0.0 through ``np.cumsum``, never numpy's pairwise ``sum``).

Definitions follow empyrical (docs/native.md, "Metrics"): simple per-period returns, a NaN period
compounds as 0 and is left out of means, deviations and counts but still counts as time;
``periods_per_year`` annualises (252 for daily bars); ``risk_free`` (Sharpe) and
``required_return`` (Sortino) are per-period rates, like empyrical's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native._buffers import array_arg, float_arg, range_error, same_length

#: What each scalar argument must be; the compiled wrapper reuses these texts.
RULES: dict[str, str] = {
    "periods_per_year": "must be a finite number > 0 (252 for daily bars, 52 weekly, 12 monthly)",
    "risk_free": "must be a finite per-period rate",
    "required_return": "must be a finite per-period rate",
}

#: What an array argument must hold, when the kernel refuses one of its values.
ARRAY_RULES: dict[str, str] = {
    "equity": "must hold finite values > 0 (an equity curve, not returns or P&L)",
}

DAILY = 252.0


class Metrics(NamedTuple):
    """Performance of a return series (fields as in ``native/metrics/metrics.h``)."""

    n_periods: int
    n_valid: int
    total_return: float
    cagr: float
    annual_volatility: float
    sharpe: float
    downside_risk: float
    sortino: float
    max_drawdown: float
    max_drawdown_duration: int
    calmar: float
    n_wins: int
    n_losses: int
    win_rate: float
    profit_factor: float
    expectancy: float
    exposure: float


# -- argument checks (shared with the compiled wrapper) ----------------------------------------


def check_periods_per_year(value: object) -> float:
    v = float_arg("periods_per_year", value)
    if not (math.isfinite(v) and v > 0.0):
        raise range_error("periods_per_year", v, RULES["periods_per_year"])
    return v


def check_rate(name: str, value: object) -> float:
    v = float_arg(name, value)
    if not math.isfinite(v):
        raise range_error(name, v, RULES[name])
    return v


def check_positions(positions: object, returns: np.ndarray) -> np.ndarray | None:
    if positions is None:
        return None
    p = array_arg("positions", positions)
    same_length(returns=returns, positions=p)
    return p


def array_error(name: str) -> NtUserError:
    return NtUserError(f"{name} {ARRAY_RULES[name]}")


# -- arithmetic as the C does it ----------------------------------------------------------------


def _seq(v: np.ndarray) -> float:
    """``s = 0.0; s = s + v[i]`` left to right."""
    with np.errstate(all="ignore"):
        return float(np.cumsum(np.concatenate([[0.0], v]))[-1])


def _div(a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


def _mul(a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(np.float64(a) * np.float64(b))


def _pow(base: float, exponent: float) -> float:
    """C's ``pow`` (math.pow raises where C returns NaN or infinity)."""
    try:
        return math.pow(base, exponent)
    except ValueError:
        return math.nan
    except OverflowError:
        odd = exponent.is_integer() and int(exponent) % 2 == 1
        return -math.inf if base < 0 and odd else math.inf


def _sample_std(ss: float, m: int, lo: float, hi: float) -> float:
    if m < 2:
        return math.nan
    s = math.sqrt(_div(ss, float(m - 1)))
    return 0.0 if hi == lo and math.isfinite(s) else s


def _curve(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wealth, peak, drawdown) after each period; wealth compounds from 1, NaN as 0."""
    with np.errstate(all="ignore"):
        factors = np.where(np.isnan(r), 1.0, 1.0 + r)
        wealth = np.cumprod(np.concatenate([[1.0], factors]))[1:]
        peak = np.fmax.accumulate(np.concatenate([[1.0], wealth]))[1:]
        return wealth, peak, (wealth - peak) / peak


def _longest_run(flags: np.ndarray) -> int:
    if not flags.any():
        return 0
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


# -- the twins -----------------------------------------------------------------------------------


def summary(returns: np.ndarray, *, positions: np.ndarray | None = None, periods_per_year: float = DAILY,
            risk_free: float = 0.0, required_return: float = 0.0) -> Metrics:
    """Every metric of a series of simple per-period returns."""
    r = array_arg("returns", returns)
    p = check_positions(positions, r)
    ppy = check_periods_per_year(periods_per_year)
    rf = check_rate("risk_free", risk_free)
    req = check_rate("required_return", required_return)
    n = r.shape[0]
    valid = r[~np.isnan(r)]
    m = valid.shape[0]
    with np.errstate(all="ignore"):
        ex = valid - rf
        rq = valid - req
        mean_r = _div(_seq(valid), float(m))
        mean_ex = _div(_seq(ex), float(m))
        mean_rq = _div(_seq(rq), float(m))
        d = valid - mean_r
        e = (valid - rf) - mean_ex
        down = np.where(rq < 0.0, rq, 0.0)
        ss_r, ss_ex, ss_down = _seq(d * d), _seq(e * e), _seq(down * down)
    lo_r, hi_r = (float(valid.min()), float(valid.max())) if m else (math.inf, -math.inf)
    lo_ex, hi_ex = (float(ex.min()), float(ex.max())) if m else (math.inf, -math.inf)
    gross_profit = _seq(valid[valid > 0.0])
    gross_loss = _seq(valid[valid < 0.0])
    wins, losses = int(np.count_nonzero(valid > 0.0)), int(np.count_nonzero(valid < 0.0))

    wealth, peak, dd = _curve(r)
    dd_ok = dd[~np.isnan(dd)]
    max_dd = float(dd_ok.min()) if dd_ok.size else math.nan
    longest = _longest_run(wealth < peak)
    final = float(wealth[-1]) if n else 1.0
    if p is None:
        held = int(np.count_nonzero(~np.isnan(r) & (r != 0.0)))
    else:
        held = int(np.count_nonzero((p != 0.0) & ~np.isnan(p)))

    root_ppy = math.sqrt(ppy)
    active = wins + losses
    cagr = _pow(final, _div(1.0, _div(float(n), ppy))) - 1.0 if n >= 1 else math.nan
    downside = _mul(math.sqrt(_div(ss_down, float(m))), root_ppy) if n >= 1 else math.nan
    max_drawdown = max_dd if n >= 1 else math.nan
    calmar = math.nan
    if max_drawdown < 0.0:
        calmar = _div(cagr, abs(max_drawdown))
        calmar = math.nan if math.isinf(calmar) else calmar
    if gross_loss < 0.0:
        profit_factor = _div(gross_profit, -gross_loss)
    else:
        profit_factor = math.inf if gross_profit > 0.0 else math.nan
    return Metrics(
        n_periods=n,
        n_valid=m,
        total_return=final - 1.0 if n >= 1 else math.nan,
        cagr=cagr,
        annual_volatility=_mul(_sample_std(ss_r, m, lo_r, hi_r), root_ppy) if n >= 2 else math.nan,
        sharpe=_mul(_div(mean_ex, _sample_std(ss_ex, m, lo_ex, hi_ex)), root_ppy) if n >= 2 else math.nan,
        downside_risk=downside,
        sortino=_div(_mul(mean_rq, ppy), downside) if n >= 2 else math.nan,
        max_drawdown=max_drawdown,
        max_drawdown_duration=longest,
        calmar=calmar,
        n_wins=wins,
        n_losses=losses,
        win_rate=_div(float(wins), float(active)) if active else math.nan,
        profit_factor=profit_factor,
        expectancy=_div(gross_profit + gross_loss, float(active)) if active else math.nan,
        exposure=_div(float(held), float(n)) if n else math.nan,
    )


def returns_from_equity(equity: np.ndarray) -> np.ndarray:
    """Simple returns ``(e[i] - e[i-1]) / e[i-1]`` of an equity curve (one fewer value)."""
    e = array_arg("equity", equity)
    if not (np.isfinite(e) & (e > 0.0)).all():
        raise array_error("equity")
    with np.errstate(over="ignore"):
        return (e[1:] - e[:-1]) / e[:-1]


def summary_from_equity(equity: np.ndarray, *, positions: np.ndarray | None = None,
                        periods_per_year: float = DAILY, risk_free: float = 0.0,
                        required_return: float = 0.0) -> Metrics:
    """:func:`summary` of the returns of an equity curve; ``positions`` align with those returns."""
    return summary(returns_from_equity(equity), positions=positions, periods_per_year=periods_per_year,
                   risk_free=risk_free, required_return=required_return)


def drawdown(returns: np.ndarray) -> np.ndarray:
    """Drawdown after each period, ``wealth / peak - 1`` (<= 0), wealth compounding from 1."""
    return _curve(array_arg("returns", returns))[2]


__all__ = ["DAILY", "RULES", "Metrics", "drawdown", "returns_from_equity", "summary", "summary_from_equity"]
