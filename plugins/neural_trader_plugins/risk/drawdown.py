"""Drawdowns of a return series: the underwater curve, the worst drawdown periods, the Ulcer index
and time under water.

Conventions: ``returns`` are simple per-period returns; wealth compounds from 1 *before* the first
return, so the wealth curve has ``n + 1`` points: point 0 is the start, point ``i`` is after return
``i - 1`` (0-based). Periods are indexed on that curve. The drawdown series itself is
:func:`neural_trader.native.metrics.drawdown` (``wealth / running peak - 1``, <= 0, one value per
return, the peak including the starting wealth). Depths are reported as positive fractions
(0.84 is a fall of 84 % from the peak), following the risk pack's "losses positive" rule;
empyrical's ``max_drawdown`` is the same number negated.

``dates``, where given, label the curve: ``n + 1`` dates (e.g. the price dates the returns came
from) label every point; ``n`` dates (one per return) label points 1..n and the start has none, so a
peak at the start reports ``peak_date=None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.native import metrics
from neural_trader_plugins.risk import inputs

__all__ = [
    "DrawdownPeriod", "TimeUnderWater", "UnderwaterStats", "drawdown_periods", "drawdown_series",
    "time_under_water", "ulcer_index", "underwater_stats",
]


def _returns(returns: object) -> np.ndarray:
    return inputs.returns_series(returns, strict=True)


def _dates(dates: Sequence[Any] | np.ndarray | None, n: int) -> list[Any] | None:
    """Labels for the ``n + 1`` wealth points (the start's may be None)."""
    if dates is None:
        return None
    labels = list(dates)
    if len(labels) == n + 1:
        return labels
    if len(labels) == n:
        return [None, *labels]
    raise NtUserError(f"dates has {len(labels)} entries but returns has {n}; pass one date per return "
                      f"({n}) or per price ({n + 1})")


def drawdown_series(returns: Sequence[float] | np.ndarray) -> np.ndarray:
    """Drawdown after each return, ``wealth / running peak - 1`` (<= 0; the native kernel)."""
    return metrics.drawdown(_returns(returns))


def _underwater(r: np.ndarray) -> np.ndarray:
    """The drawdown on all ``n + 1`` wealth points (0 at the start)."""
    return np.concatenate([[0.0], metrics.drawdown(r)])


@attrs.frozen(kw_only=True)
class DrawdownPeriod:
    """One drawdown: from a peak, down to its trough, back to the peak's level (or not yet).

    Indices are wealth-curve points (0 = the start). ``depth`` is positive;
    ``decline = trough - peak`` and ``recovery_time = recovery - trough`` are in periods;
    ``duration`` is ``recovery - peak``, or ``n - peak`` (time under water so far) when
    ``recovery`` is None.
    """

    peak: int
    trough: int
    recovery: int | None
    depth: float
    decline: int
    recovery_time: int | None
    duration: int
    peak_date: Any = None
    trough_date: Any = None
    recovery_date: Any = None


def drawdown_periods(returns: Sequence[float] | np.ndarray, *, dates: Sequence[Any] | np.ndarray | None = None,
                     top: int = 5) -> tuple[DrawdownPeriod, ...]:
    """The ``top`` worst drawdown periods, deepest first, by pyfolio's rule (``get_top_drawdowns``):
    take the deepest point still under water, its peak (the last point at the peak before it) and its
    recovery (the first point back at the peak after it), cut that stretch out, repeat until ``top``
    periods are found or nothing left is under water. A period that has not recovered ends the
    search of everything after its peak."""
    r = _returns(returns)
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise NtUserError(f"top must be an integer >= 1, got {top!r}")
    n = r.shape[0]
    labels = _dates(dates, n)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    dd = _underwater(r)
    alive = np.ones(n + 1, dtype=bool)
    out: list[DrawdownPeriod] = []
    while len(out) < top:
        idx = np.flatnonzero(alive)
        if not (dd[idx] < 0).any():
            break
        trough = int(idx[np.argmin(dd[idx])])
        at_peak = idx[(dd[idx] == 0) & (idx <= trough)]
        peak = int(at_peak[-1])
        back = idx[(dd[idx] == 0) & (idx >= trough)]
        recovery = int(back[0]) if back.size else None
        if recovery is None:
            alive[peak + 1 :] = False
        else:
            alive[peak + 1 : recovery] = False
        out.append(DrawdownPeriod(
            peak=peak, trough=trough, recovery=recovery, depth=float(1.0 - wealth[trough] / wealth[peak]),
            decline=trough - peak, recovery_time=None if recovery is None else recovery - trough,
            duration=(n if recovery is None else recovery) - peak,
            peak_date=labels[peak] if labels else None, trough_date=labels[trough] if labels else None,
            recovery_date=labels[recovery] if labels and recovery is not None else None))
    return tuple(out)


def ulcer_index(returns: Sequence[float] | np.ndarray) -> float:
    """Peter Martin's Ulcer index in percent: ``sqrt(mean(dd_pct**2))``, ``dd_pct = 100 * drawdown``
    over every return's wealth point (the start excluded)."""
    dd = drawdown_series(returns) * 100.0
    return math.sqrt(float(np.mean(dd * dd)))


@attrs.frozen(kw_only=True)
class TimeUnderWater:
    """Periods spent below a previous peak: ``fraction`` of all returns, the ``longest`` spell and the
    ``current`` one (0 when the last return ends at a peak)."""

    fraction: float
    periods: int
    longest: int
    current: int


def _spells(under: np.ndarray) -> np.ndarray:
    """Length of each run of True in ``under``."""
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def time_under_water(returns: Sequence[float] | np.ndarray) -> TimeUnderWater:
    """How long the wealth curve stays below its running peak (see :class:`TimeUnderWater`)."""
    under = drawdown_series(returns) < 0
    spells = _spells(under)
    current = int(spells[-1]) if under[-1] else 0
    return TimeUnderWater(fraction=float(under.mean()), periods=int(under.sum()),
                          longest=int(spells.max()) if spells.size else 0, current=current)


@attrs.frozen(kw_only=True)
class UnderwaterStats:
    """Summary of the underwater curve (depths positive).

    :ivar max_drawdown: the deepest drawdown.
    :ivar mean_drawdown: the mean depth over the periods spent under water (0 if never).
    :ivar current_drawdown: the depth after the last return.
    :ivar ulcer_index: :func:`ulcer_index`, in percent.
    """

    max_drawdown: float
    mean_drawdown: float
    current_drawdown: float
    ulcer_index: float
    time_under_water: TimeUnderWater
    n_periods: int


def underwater_stats(returns: Sequence[float] | np.ndarray) -> UnderwaterStats:
    """:class:`UnderwaterStats` of ``returns``."""
    r = _returns(returns)
    dd = metrics.drawdown(r)
    under = dd < 0
    return UnderwaterStats(
        max_drawdown=float(-dd.min()) if under.any() else 0.0,
        mean_drawdown=float(-dd[under].mean()) if under.any() else 0.0,
        current_drawdown=float(-dd[-1]) if dd[-1] < 0 else 0.0,
        ulcer_index=ulcer_index(r), time_under_water=time_under_water(r), n_periods=int(r.shape[0]))
