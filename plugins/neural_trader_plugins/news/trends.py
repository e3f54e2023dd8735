"""Per-symbol news trends over consecutive windows: the decayed sentiment, its change and slope,
and article-volume spikes; and the ranking of symbols by them.

With ``W`` the window length, ``N`` the number of baseline windows and ``end`` the moment asked
for, the windows are ``[end - (N+1-k)·W, end - (N-k)·W)`` for ``k = 0..N``; window ``N`` (the last,
ending at ``end``) is the **current** one, windows ``0..N-1`` its **baseline**. For each window
(:func:`~.aggregate.window_series`, with the half-life ``h`` and the lookback ``L``):

* **score**: the decayed sentiment at the window's end (articles published in ``[end_k - L, end_k)``,
  each weighted ``0.5 ** (age / h)``); missing when no article is seen;
* **change**: the current window's score less the previous window's (missing if either is);
* **slope**: the ordinary least-squares slope of the windows' scores against their index ``k``
  (score units per window), over the windows that have a score; missing with fewer than two;
* **volume**: the number of relevant articles published inside each window; ``baseline_mean`` and
  ``baseline_std`` are the mean and population standard deviation (ddof 0) of the baseline
  windows' counts, and ``volume_z = (count - baseline_mean) / max(baseline_std, 1)``: the floor of
  one article keeps a quiet symbol's first story from being an infinite spike. A **spike** is
  ``volume_z >= spike_z``.

Ranking (:func:`rank`): by ``score``, ``change``, ``slope`` or ``volume_z``, highest first; symbols
whose value is missing come last, ties by symbol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs
import numpy as np

from neural_trader.errors import NtUserError

from .aggregate import ScoredArticle, WindowSentiment, window_series

__all__ = ["RankBy", "SymbolTrend", "rank", "slope", "symbol_trend", "volume_stats"]

RankBy = Literal["score", "change", "slope", "volume_z"]


@attrs.frozen(kw_only=True)
class SymbolTrend:
    symbol: str
    windows: tuple[WindowSentiment, ...]
    score: float | None
    change: float | None
    slope: float | None
    count: int
    baseline_mean: float
    baseline_std: float
    volume_z: float
    spike: bool


def slope(values: Sequence[float | None]) -> float | None:
    """The least-squares slope of ``values`` against their index, skipping the missing ones."""
    points = [(k, v) for k, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    dx = x - x.mean()
    return float(dx @ (y - y.mean()) / (dx @ dx))


def volume_stats(counts: Sequence[int]) -> tuple[float, float, float]:
    """``(baseline_mean, baseline_std, volume_z)`` of the last count against the ones before it."""
    if len(counts) < 2:
        raise NtUserError("volume statistics need at least one baseline window")
    base = np.array(counts[:-1], dtype=np.float64)
    mean, std = float(base.mean()), float(base.std())
    return mean, std, (counts[-1] - mean) / max(std, 1.0)


def symbol_trend(items: Iterable[ScoredArticle], symbol: str, *, end: dt.datetime, window: dt.timedelta,
                 baseline: int, half_life: dt.timedelta, lookback: dt.timedelta | None,
                 min_relevance: float = 0.0, spike_z: float = 2.0) -> SymbolTrend:
    """The trend of ``symbol`` (see the module doc) over ``baseline + 1`` windows ending at ``end``."""
    if isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 1:
        raise NtUserError(f"baseline must be at least one window, got {baseline!r}")
    windows = window_series(items, symbol, start=end - window * (baseline + 1), end=end, step=window,
                            half_life=half_life, lookback=lookback, min_relevance=min_relevance)
    mean, std, z = volume_stats([w.count for w in windows])
    last = windows[-1]
    return SymbolTrend(symbol=last.symbol, windows=windows, score=last.score, change=last.trend,
                       slope=slope([w.score for w in windows]), count=last.count, baseline_mean=mean,
                       baseline_std=std, volume_z=z, spike=z >= spike_z)


def rank(trends: Iterable[SymbolTrend], by: RankBy) -> list[SymbolTrend]:
    """``trends`` best first by ``by``; missing values last, ties by symbol."""
    if by not in ("score", "change", "slope", "volume_z"):
        raise NtUserError(f"rank_by must be score, change, slope or volume_z, got {by!r}")

    def key(t: SymbolTrend) -> tuple[bool, float, str]:
        value = getattr(t, by)
        return (value is None, -(value if value is not None else 0.0), t.symbol)

    return sorted(trends, key=key)
