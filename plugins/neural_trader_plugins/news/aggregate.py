"""Per-symbol sentiment over time: relevance filtering, exponential decay, windows, trend, and
alignment to bar times without look-ahead.

Definitions (``t`` a cutoff time, ``h`` the half-life, ``L`` the optional lookback):

* **relevant**: an article is relevant to symbol ``S`` if the provider scored its relevance to
  ``S`` (a :class:`~.articles.Mention` with ``relevance``) and that score is ``>= min_relevance``;
  or, when the provider gave no such score, if ``S`` is among its tagged ``symbols`` or is written
  in its title or summary as a whole upper-case word or a cashtag (``AAPL``, ``$AAPL``).
  ``min_relevance`` only filters articles that carry a score.
* **seen at t**: the relevant articles published strictly before ``t`` and, with a lookback, at or
  after ``t - L``. An article published exactly at ``t`` is not seen at ``t``.
* **decayed score at t**: ``sum(w_i * s_i) / sum(w_i)`` over the articles seen at ``t``, with
  ``w_i = 0.5 ** ((t - published_i) / h)``: an article ``h`` old weighs half as much as a fresh
  one. ``weight`` is ``sum(w_i)`` (decayed news volume), ``count`` the number seen. With none
  seen, the score is missing (``None`` / NaN), never 0.
* **windows**: consecutive ``[start + k*step, start + (k+1)*step)``; window ``k``'s ``count`` is
  the relevant articles published inside it, its ``score`` the decayed score at its end (so older
  articles within the lookback still count, decayed), and its **trend** the change of that score
  from window ``k-1`` to ``k`` (``None`` for the first window or when either score is missing).
* **bars**: the cutoff of a bar stamped ``b`` is ``b + delay``. Pass bar close times with
  ``delay=0``, or this project's bar stamps (daily bars are stamped 00:00 UTC of their date, the
  open of the period) with ``delay`` = when the bar's information is available, e.g. the bar
  length. A bar's value is the decayed score seen at its cutoff, so an article published at or
  after the cutoff never changes it.

The decayed score is a weighted *mean*: without new articles it holds its value while ``weight``
fades by half every half-life, so read ``weight`` (or ``count``) as the confidence in ``score``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError

from .articles import Article
from .common import as_utc

_NS = np.int64(1_000_000_000)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@attrs.frozen(kw_only=True)
class ScoredArticle:
    """An article with its sentiment ``score`` in -1..1 (for example a scorer's compound)."""

    article: Article
    score: float = attrs.field()

    @score.validator
    def _check(self, _a: attrs.Attribute, value: float) -> None:
        if not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
            raise NtUserError(f"score of article {self.article.id} must be within -1..1, got {value!r}")


@attrs.frozen(kw_only=True)
class SentimentPoint:
    """The decayed sentiment of ``symbol`` seen at ``time`` (see the module doc)."""

    symbol: str
    time: dt.datetime
    score: float | None
    count: int
    weight: float


@attrs.frozen(kw_only=True)
class WindowSentiment:
    """One window ``[start, end)``: ``count`` articles inside it, the decayed ``score`` at ``end``,
    and ``trend``, the change of that score from the previous window."""

    symbol: str
    start: dt.datetime
    end: dt.datetime
    count: int
    score: float | None
    weight: float
    trend: float | None


@attrs.frozen(kw_only=True, eq=False)
class AlignedSentiment:
    """Sentiment aligned to bars: ``ts`` the bars' stamps (int64 ns UTC), ``cutoff`` each bar's
    cutoff (``ts + delay``), ``score`` the decayed score seen at the cutoff (float64, NaN with no
    news), ``count`` and ``weight`` as in :class:`SentimentPoint`."""

    symbol: str
    ts: np.ndarray
    cutoff: np.ndarray
    score: np.ndarray
    count: np.ndarray
    weight: np.ndarray


def _mentioned(symbol: str, text: str | None) -> bool:
    if not text:
        return False
    return re.search(rf"(?<![\w.]){re.escape(symbol)}(?![\w])|\${re.escape(symbol)}(?![\w])", text) is not None


def is_relevant(article: Article, symbol: str, *, min_relevance: float = 0.0) -> bool:
    """Whether ``article`` is relevant to ``symbol`` (see the module doc)."""
    symbol = _symbol(symbol)
    _check_relevance(min_relevance)
    return _relevant(article, symbol, min_relevance)


def _relevant(article: Article, symbol: str, min_relevance: float) -> bool:
    mention = article.mention(symbol)
    if mention is not None and mention.relevance is not None:
        return mention.relevance >= min_relevance
    if symbol in article.symbols:
        return True
    # The regular expression only matches where the symbol is a substring: test that cheaply first.
    return any(text and symbol in text and _mentioned(symbol, text) for text in (article.title, article.summary))


def _symbol(symbol: Any) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise NtUserError(f"symbol must be a ticker such as 'AAPL', got {symbol!r}")
    return symbol.strip().upper()


def _check_relevance(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise NtUserError(f"min_relevance must be within 0..1, got {value!r}")


def _duration_ns(value: Any, field: str, *, allow_zero: bool = False) -> np.int64:
    if not isinstance(value, dt.timedelta):
        raise NtUserError(f"{field} must be a duration (timedelta), got {type(value).__name__}")
    ns = np.int64(value // dt.timedelta(microseconds=1)) * np.int64(1000)
    if ns < 0 or (ns == 0 and not allow_zero):
        raise NtUserError(f"{field} must be {'non-negative' if allow_zero else 'positive'}, got {value}")
    return ns


def _ns(when: dt.datetime) -> np.int64:
    return np.int64((when - _EPOCH) // dt.timedelta(microseconds=1)) * np.int64(1000)


def _from_ns(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(ns) // 1000)


def _series(items: Iterable[ScoredArticle], symbol: str, min_relevance: float) -> tuple[np.ndarray, np.ndarray]:
    """Publication times (int64 ns, sorted) and scores of the relevant articles."""
    chosen = [(int(_ns(i.article.published_at)), float(i.score)) for i in items
              if _relevant(i.article, symbol, min_relevance)]
    chosen.sort()
    t = np.array([c[0] for c in chosen], dtype=np.int64)
    s = np.array([c[1] for c in chosen], dtype=np.float64)
    return t, s


def _decay_at(t: np.ndarray, s: np.ndarray, cutoffs: np.ndarray, half_life_ns: np.int64,
              lookback_ns: np.int64 | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, count, weight) seen at each cutoff: strictly before it, within the lookback."""
    hi = np.searchsorted(t, cutoffs, side="left")  # articles with t < cutoff
    lo = (np.searchsorted(t, cutoffs - lookback_ns, side="left") if lookback_ns is not None
          else np.zeros_like(hi))
    score = np.full(len(cutoffs), np.nan)
    weight = np.zeros(len(cutoffs))
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b > a:
            age = (cutoffs[k] - t[a:b]).astype(np.float64)
            w = np.exp2(-age / float(half_life_ns))
            weight[k] = w.sum()
            score[k] = float(w @ s[a:b]) / weight[k]
    return score, (hi - lo).astype(np.int64), weight


def decayed_score(items: Iterable[ScoredArticle], symbol: str, *, at: dt.datetime, half_life: dt.timedelta,
                  lookback: dt.timedelta | None = None, min_relevance: float = 0.0) -> SentimentPoint:
    """The decayed sentiment of ``symbol`` seen at ``at`` (see the module doc)."""
    symbol = _symbol(symbol)
    _check_relevance(min_relevance)
    when = as_utc(at, "at")
    hl = _duration_ns(half_life, "half_life")
    lb = _duration_ns(lookback, "lookback") if lookback is not None else None
    t, s = _series(items, symbol, min_relevance)
    score, count, weight = _decay_at(t, s, np.array([_ns(when)], dtype=np.int64), hl, lb)
    return SentimentPoint(symbol=symbol, time=when, score=None if np.isnan(score[0]) else float(score[0]),
                          count=int(count[0]), weight=float(weight[0]))


def window_series(items: Iterable[ScoredArticle], symbol: str, *, start: dt.datetime, end: dt.datetime,
                  step: dt.timedelta, half_life: dt.timedelta, lookback: dt.timedelta | None = None,
                  min_relevance: float = 0.0) -> tuple[WindowSentiment, ...]:
    """Consecutive windows of ``step`` from ``start`` up to ``end`` (a last partial window ends at
    ``end``), each with its count, decayed score at its end and trend (see the module doc)."""
    symbol = _symbol(symbol)
    _check_relevance(min_relevance)
    first, last = as_utc(start, "start"), as_utc(end, "end")
    if last <= first:
        raise NtUserError(f"end ({last.isoformat()}) must be after start ({first.isoformat()})")
    step_ns = _duration_ns(step, "step")
    hl = _duration_ns(half_life, "half_life")
    lb = _duration_ns(lookback, "lookback") if lookback is not None else None
    a, b = _ns(first), _ns(last)
    if (b - a) // step_ns > 100_000:
        raise NtUserError(f"step {step} makes more than 100000 windows from start to end: choose a longer step")
    edges = np.append(np.arange(a, b, step_ns, dtype=np.int64), b)
    t, s = _series(items, symbol, min_relevance)
    score, _seen, weight = _decay_at(t, s, edges[1:], hl, lb)
    inside = np.searchsorted(t, edges[1:], side="left") - np.searchsorted(t, edges[:-1], side="left")
    out = []
    previous: float | None = None
    for k in range(len(edges) - 1):
        now = None if np.isnan(score[k]) else float(score[k])
        trend = now - previous if now is not None and previous is not None else None
        out.append(WindowSentiment(symbol=symbol, start=_from_ns(edges[k]), end=_from_ns(edges[k + 1]),
                                   count=int(inside[k]), score=now, weight=float(weight[k]), trend=trend))
        previous = now
    return tuple(out)


def _bar_ns(bar_times: Any) -> np.ndarray:
    if isinstance(bar_times, np.ndarray):
        if np.issubdtype(bar_times.dtype, np.datetime64):
            return bar_times.astype("datetime64[ns]").view(np.int64)
        if bar_times.dtype == np.int64:
            return bar_times
        raise NtUserError(f"bar_times must be int64 nanoseconds or datetime64, not {bar_times.dtype}")
    if not isinstance(bar_times, Sequence):
        raise NtUserError(f"bar_times must be a sequence of datetimes or an int64 ns array, got "
                          f"{type(bar_times).__name__}")
    return np.array([_ns(as_utc(b, f"bar_times[{i}]")) for i, b in enumerate(bar_times)], dtype=np.int64)


def align_to_bars(items: Iterable[ScoredArticle], symbol: str, bar_times: Any, *, half_life: dt.timedelta,
                  delay: dt.timedelta = dt.timedelta(0), lookback: dt.timedelta | None = None,
                  min_relevance: float = 0.0) -> AlignedSentiment:
    """The decayed sentiment each bar may know: seen at its cutoff ``bar time + delay`` (module doc).

    ``bar_times`` are aware datetimes, or an int64 nanosecond / datetime64 array (as ``Bars.ts``),
    in ascending order.
    """
    symbol = _symbol(symbol)
    _check_relevance(min_relevance)
    ts = _bar_ns(bar_times)
    if len(ts) > 1 and bool(np.any(np.diff(ts) <= 0)):
        raise NtUserError("bar_times must be strictly increasing")
    cutoff = ts + _duration_ns(delay, "delay", allow_zero=True)
    hl = _duration_ns(half_life, "half_life")
    lb = _duration_ns(lookback, "lookback") if lookback is not None else None
    t, s = _series(items, symbol, min_relevance)
    score, count, weight = _decay_at(t, s, cutoff, hl, lb)
    return AlignedSentiment(symbol=symbol, ts=ts.copy(), cutoff=cutoff, score=score, count=count, weight=weight)
