"""Deterministic synthetic prices: the embedded default data source, for any symbol and timeframe.

The series of a (symbol, timeframe, model) is one fixed path: any window of it gives the same bars,
whatever window was asked for, on any machine. Seeds are hashes of the symbol, the timeframe and
the model's parameters.

The model is geometric Brownian motion in log price with, optionally, volatility regimes (calm and
turbulent stretches of geometric length), Poisson jumps, and an intraday U-shape in volatility and
volume. Bars are numbered from 1970-01-05 on a weekday calendar; intraday bars fall in a
14:00-22:00 UTC session.

The **daily path** is the anchor, built in blocks of days:

* a *coarse* level draws, per block, the regime, the block's total diffusion return and its jumps
  from sequential generators, whose first K draws never depend on how many are drawn, so the price
  level at any block is a cumulative sum that does not depend on the window;
* a *fine* level draws each day's noise from a counter-based hash of (seed, stream, day) and
  conditions it on the block's total (the exact Gaussian bridge: spread the difference in
  proportion to each step's variance), so fine draws are needed only for the blocks a window touches.

Weekly and monthly bars aggregate the days exactly. Intraday bars of a day are a Gaussian bridge
from the day's open to its close (the day's jump, if any, at one bar), with volumes that add up to
the day's. Highs and lows are the exact sampled extremes of a Brownian bridge between a bar's open
and close.
"""

from __future__ import annotations

import hashlib
import math

import attrs
import numpy as np

from neural_trader.domain.market import Bars, Timeframe, to_ns
from neural_trader.errors import NtUserError

__all__ = ["SESSION_UTC", "SyntheticModel", "SyntheticSeries", "series"]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_ANCHOR = np.datetime64("1970-01-05", "D")  # a Monday
#: Intraday bars fall in this session (hours, UTC) on weekdays.
SESSION_UTC = (14, 22)
_SESSION_MIN = (SESSION_UTC[1] - SESSION_UTC[0]) * 60
_REFERENCE = np.datetime64("2020-01-02", "D")  # the model's start_price holds here
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


@attrs.frozen(kw_only=True)
class SyntheticModel:
    """Parameters of the synthetic price process (annualized where it says so)."""

    drift: float = 0.05
    #: Volatility of the calm regime (the turbulent one multiplies it by ``turbulence``).
    volatility: float = 0.25
    regimes: bool = True
    #: Volatility multiplier of the turbulent regime.
    turbulence: float = 2.5
    jumps: bool = True
    jumps_per_year: float = 3.0
    jump_mean: float = -0.01
    jump_std: float = 0.04
    seasonality: bool = True
    #: Price level at the start of the block holding 2020-01-02; ``None`` derives one from the
    #: symbol (10 to 500).
    start_price: float | None = None
    #: Mixed into the symbol's seed, for independent paths of one symbol.
    seed: int = 0


def _seed(symbol: str, timeframe: Timeframe | None, model: SyntheticModel) -> int:
    text = f"{symbol}|{timeframe.value if timeframe else '*'}|{attrs.astuple(model)}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


# -- counter-based random numbers -------------------------------------------------------------------
def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _uniform(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    """U(0, 1), open at both ends, as a pure function of (seed, stream, counter)."""
    base = _mix(np.array([seed ^ (stream * 0xD1B54A32D192ED03 & 0xFFFFFFFFFFFFFFFF)], dtype=_U64))[0]
    with np.errstate(over="ignore"):
        z = _mix(base + np.asarray(counter, dtype=np.int64).astype(_U64) * _GOLDEN)
    return ((z >> _U64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _normal(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    u1 = _uniform(seed, stream, counter)
    u2 = _uniform(seed, stream + 1, counter)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


# -- the calendar -------------------------------------------------------------------------------------
class _Calendar:
    """Bar index <-> bar start time for one timeframe."""

    def __init__(self, timeframe: Timeframe) -> None:
        self.tf = timeframe
        self.per_day = _SESSION_MIN * 60 // timeframe.seconds if timeframe.intraday else 1
        self.session_start_ns = SESSION_UTC[0] * 3600 * _NS

    def start_ns(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if self.tf is Timeframe.WEEK_1:
            return (_ANCHOR + 7 * idx).astype("datetime64[ns]").view(np.int64)
        if self.tf is Timeframe.MONTH_1:
            months = np.datetime64("1970-01", "M") + idx
            return months.astype("datetime64[ns]").view(np.int64)
        days = np.busday_offset(_ANCHOR, idx // self.per_day, roll="forward")
        day_ns = days.astype("datetime64[ns]").view(np.int64)
        if not self.tf.intraday:
            return day_ns
        return day_ns + self.session_start_ns + (idx % self.per_day) * self.tf.nanoseconds

    def first_at_or_after(self, ns: int) -> int:
        """Index of the first bar starting at or after ``ns``."""
        t = np.datetime64(int(ns), "ns")
        if self.tf is Timeframe.WEEK_1:
            offset = int(ns) - int(_ANCHOR.astype("datetime64[ns]").view(np.int64))
            return -(-offset // (7 * _DAY_NS))
        if self.tf is Timeframe.MONTH_1:
            month = t.astype("datetime64[M]")
            start = int(month.astype("datetime64[ns]").view(np.int64))
            return int((month - np.datetime64("1970-01", "M")).astype(np.int64)) + (1 if ns > start else 0)
        day = t.astype("datetime64[D]")
        day_ns = int(day.astype("datetime64[ns]").view(np.int64))
        d = int(np.busday_count(_ANCHOR, day))  # business days before `day` = index of the next one
        if not np.is_busday(day):
            return d * self.per_day
        offset = int(ns) - day_ns - (self.session_start_ns if self.tf.intraday else 0)
        if offset <= 0:
            return d * self.per_day
        if not self.tf.intraday:
            return (d + 1)
        slot = -(-offset // self.tf.nanoseconds)
        return d * self.per_day + slot if slot < self.per_day else (d + 1) * self.per_day

    def last_at_or_before(self, ns: int) -> int:
        return self.first_at_or_after(int(ns) + 1) - 1

    def seasonal(self, idx: np.ndarray, *, volume: bool = False) -> np.ndarray:
        """Intraday U-shape (mean square 1 for volatility, mean 1 for volume); 1 for daily and longer."""
        if not self.tf.intraday:
            return np.ones(len(idx))
        return self._shape(volume)[np.asarray(idx) % self.per_day]

    def _shape(self, volume: bool) -> np.ndarray:
        u = (np.arange(self.per_day) + 0.5) / self.per_day
        if volume:
            shape = 0.6 + 1.6 * (2 * u - 1) ** 2
            return shape / shape.mean()
        shape = 0.7 + 1.2 * (2 * u - 1) ** 2
        return shape / np.sqrt(np.mean(shape**2))


# -- the daily path: the anchor of every timeframe ----------------------------------------------------
_BLOCK = 64  # days per block
_REGIME_MEAN_BLOCKS = (8.0, 3.0)  # calm, turbulent (about 2 years and 9 months)
_MAX_JUMPS_PER_BLOCK = 64
_DAYS_PER_YEAR = 260.0  # weekdays
_GAP = 0.3  # at most this share of a day's return happens overnight (between close and open)

# fine streams
_S_EPS, _S_WICK_HI, _S_WICK_LO, _S_GAP, _S_VOL, _S_JPOS, _S_JSIZE, _S_QUOTE = (
    10, 20, 30, 40, 50, 60, 70, 80)


@attrs.frozen(kw_only=True, eq=False)
class _Days:
    """Days ``first`` .. ``first + n - 1`` of the daily path (log prices), and what intraday bars need."""

    first: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    #: Log return of the jumps that fall between the open and the close of each day.
    jump: np.ndarray
    #: Daily volatility (log) of each day, regime included.
    sigma: np.ndarray


class _DailyPath:
    """The daily bars of a symbol under a model: blocks of days, coarse then fine (module doc)."""

    def __init__(self, symbol: str, model: SyntheticModel) -> None:
        self.model = model
        self.seed = _seed(symbol, Timeframe.DAY_1, model)
        self.cal = _Calendar(Timeframe.DAY_1)
        self.sigma = model.volatility / math.sqrt(_DAYS_PER_YEAR)
        self.mu = model.drift / _DAYS_PER_YEAR
        symbol_seed = _seed(symbol, None, model)
        price = model.start_price
        if price is None:
            price = float(np.round(10 * 50 ** float(_uniform(symbol_seed, 1, np.array([0]))[0]), 2))
        self.log_p0 = math.log(price)
        self.ref_index = self.cal.first_at_or_after(int(_REFERENCE.astype("datetime64[ns]").view(np.int64)))
        self.volume_per_day = 10 ** (5 + 2 * float(_uniform(symbol_seed, 2, np.array([0]))[0]))
        self._memo: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def _coarse(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per block: volatility multiplier, diffusion total, jump count, jump total.

        Memoized: the first K draws of each stream never depend on how many are drawn, so a longer
        computation serves every shorter request.
        """
        memo = self._memo
        if memo is None or len(memo[0]) < n_blocks:
            memo = self._memo = self._coarse_draw(max(n_blocks, 2 * len(memo[0]) if memo else n_blocks))
        return tuple(a[:n_blocks] for a in memo)  # type: ignore[return-value]

    def _coarse_draw(self, n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m = self.model
        gen = lambda tag: np.random.default_rng([self.seed % 2**63, tag])  # noqa: E731
        mult = np.ones(n_blocks)
        if m.regimes:
            rng = gen(1)
            bounds, total, turbulent, calm_first = [], 0, [], True
            while total < n_blocks:
                durations = np.empty(256, dtype=np.int64)
                durations[0::2] = rng.geometric(1 / _REGIME_MEAN_BLOCKS[0], 128)
                durations[1::2] = rng.geometric(1 / _REGIME_MEAN_BLOCKS[1], 128)
                for d in durations:
                    bounds.append(total)
                    turbulent.append(not calm_first)
                    calm_first = not calm_first
                    total += int(d)
            which = np.searchsorted(np.asarray(bounds), np.arange(n_blocks), side="right") - 1
            mult = np.where(np.asarray(turbulent)[which], m.turbulence, 1.0)
        var = (self.sigma * mult) ** 2 * _BLOCK
        diffusion = _BLOCK * self.mu + np.sqrt(var) * gen(2).standard_normal(n_blocks)
        if m.jumps and m.jumps_per_year > 0:
            lam = m.jumps_per_year / _DAYS_PER_YEAR * _BLOCK
            count = np.minimum(gen(3).poisson(lam, n_blocks), _MAX_JUMPS_PER_BLOCK)
            jump_total = count * m.jump_mean + np.sqrt(count) * m.jump_std * gen(4).standard_normal(n_blocks)
        else:
            count, jump_total = np.zeros(n_blocks, dtype=np.int64), np.zeros(n_blocks)
        return mult, diffusion, count, jump_total

    def days(self, d0: int, d1: int) -> _Days:
        """Days ``d0`` to ``d1`` inclusive (0 is 1970-01-05)."""
        B = _BLOCK
        kb0, kb1 = d0 // B, d1 // B
        mult, diffusion, count, jump_total = self._coarse(max(kb1, self.ref_index // B) + 1)
        level = np.concatenate(([0.0], np.cumsum(diffusion + jump_total)))  # log level at each block start
        level = level - level[self.ref_index // B] + self.log_p0

        blocks = np.arange(kb0, kb1 + 1)
        nb = len(blocks)
        idx = np.arange(kb0 * B, (kb1 + 1) * B, dtype=np.int64)
        sig = self.sigma * np.repeat(mult[blocks], B)
        x = (self.mu + sig * _normal(self.seed, _S_EPS, idx)).reshape(nb, B)
        x += (diffusion[blocks] - x.sum(axis=1))[:, None] / B  # equal variances: the bridge spreads evenly
        jumps = self._jumps(blocks, count, jump_total).reshape(nb, B)
        r = x + jumps
        close = level[blocks][:, None] + np.cumsum(r, axis=1)
        prev = np.concatenate((level[blocks][:, None], close[:, :-1]), axis=1)
        r, close, prev, jump = r.ravel(), close.ravel(), prev.ravel(), jumps.ravel()

        gap = _GAP * _uniform(self.seed, _S_GAP, idx)
        open_ = prev + gap * r
        body = close - open_
        wick = (sig * (1 - gap)) ** 2
        high = (open_ + close + np.sqrt(body**2 - 2 * wick * np.log(_uniform(self.seed, _S_WICK_HI, idx)))) / 2
        low = (open_ + close - np.sqrt(body**2 - 2 * wick * np.log(_uniform(self.seed, _S_WICK_LO, idx)))) / 2
        noise = np.exp(0.5 * _normal(self.seed, _S_VOL, idx) - 0.125)
        volume = np.round(self.volume_per_day * noise * (1 + 1.5 * np.abs(r) / sig))
        keep = slice(d0 - kb0 * B, d1 - kb0 * B + 1)
        return _Days(first=d0, open=open_[keep], high=high[keep], low=low[keep], close=close[keep],
                     volume=volume[keep], jump=((1 - gap) * jump)[keep], sigma=sig[keep])

    def _jumps(self, blocks: np.ndarray, count: np.ndarray, jump_total: np.ndarray) -> np.ndarray:
        B = _BLOCK
        out = np.zeros(len(blocks) * B)
        n = count[blocks]
        if not n.sum():
            return out
        owner = np.repeat(np.arange(len(blocks)), n)
        k = np.repeat(blocks, n)
        m = np.arange(len(owner)) - np.repeat(np.cumsum(n) - n, n)
        counter = k * _MAX_JUMPS_PER_BLOCK + m
        pos = np.minimum((_uniform(self.seed, _S_JPOS, counter) * B).astype(np.int64), B - 1)
        size = self.model.jump_mean + self.model.jump_std * _normal(self.seed, _S_JSIZE, counter)
        sums = np.bincount(owner, weights=size, minlength=len(blocks))
        size += ((jump_total[blocks] - sums) / np.maximum(n, 1))[owner]
        np.add.at(out, owner * B + pos, size)
        return out


# -- every timeframe ------------------------------------------------------------------------------------
class SyntheticSeries:
    """The one path of a symbol and timeframe under a model.

    Daily bars are the anchor. Weekly and monthly bars aggregate them exactly. A day's intraday
    bars run from the daily open to the daily close and their volumes add up to the daily volume;
    highs and lows are drawn per timeframe and need not match across timeframes.
    """

    def __init__(self, symbol: str, timeframe: Timeframe, model: SyntheticModel | None = None) -> None:
        self.symbol = symbol
        self.timeframe = Timeframe.parse(timeframe)
        self.model = model or SyntheticModel()
        if not self.model.volatility > 0:
            raise NtUserError("synthetic volatility must be > 0")
        self.seed = _seed(symbol, self.timeframe, self.model)
        self.cal = _Calendar(self.timeframe)
        self.daily = _DailyPath(symbol, self.model)

    def bars_by_index(self, i0: int, i1: int) -> Bars:
        """Bars ``i0`` to ``i1`` inclusive of this timeframe's calendar (0 is the first bar, in 1970)."""
        if i0 < 0:
            raise NtUserError("synthetic history starts on 1970-01-05; ask for a later start")
        if i1 < i0:
            return Bars.empty(self.symbol, self.timeframe, "synthetic", synthetic=True)
        tf = self.timeframe
        cols: tuple[np.ndarray, ...]
        if tf is Timeframe.DAY_1:
            d = self.daily.days(i0, i1)
            cols = (d.open, d.high, d.low, d.close, d.volume)
        elif tf in (Timeframe.WEEK_1, Timeframe.MONTH_1):
            cols = self._aggregate(i0, i1)
        else:
            cols = self._intraday(i0, i1)
        o, h, lo, c = (_ticks(np.exp(a)) for a in cols[:4])
        return Bars(symbol=self.symbol, timeframe=tf, provider="synthetic", ts=self.cal.start_ns(np.arange(i0, i1 + 1)),
                    open=o, high=np.maximum(h, np.maximum(o, c)), low=np.minimum(lo, np.minimum(o, c)), close=c,
                    volume=cols[4], synthetic=True)

    def _aggregate(self, i0: int, i1: int) -> tuple[np.ndarray, ...]:
        """Weekly or monthly bars from the days they hold."""
        starts_ns = self.cal.start_ns(np.arange(i0, i1 + 2))
        day = _Calendar(Timeframe.DAY_1)
        bounds = np.array([max(0, day.first_at_or_after(int(t))) for t in starts_ns])
        d = self.daily.days(int(bounds[0]), int(bounds[-1]) - 1)
        cuts = bounds[:-1] - bounds[0]
        return (d.open[cuts], np.maximum.reduceat(d.high, cuts), np.minimum.reduceat(d.low, cuts),
                d.close[bounds[1:] - bounds[0] - 1], np.add.reduceat(d.volume, cuts))

    def _intraday(self, i0: int, i1: int) -> tuple[np.ndarray, ...]:
        """Bridges from each day's open to its close (module doc), then ``i0``..``i1``."""
        k = self.cal.per_day
        d0, d1 = i0 // k, i1 // k
        days = self.daily.days(d0, d1)
        nd = d1 - d0 + 1
        idx = np.arange(d0 * k, (d1 + 1) * k, dtype=np.int64)
        season = self.cal.seasonal(idx)
        sig = np.repeat(days.sigma, k) / math.sqrt(k) * season
        x = (sig * _normal(self.seed, _S_EPS, idx)).reshape(nd, k)
        var = (sig**2).reshape(nd, k)
        has_jump = days.jump != 0
        slot = np.minimum((_uniform(self.seed, _S_JPOS, np.arange(d0, d1 + 1)) * k).astype(np.int64), k - 1)
        target = days.close - days.open - days.jump
        x += var / var.sum(axis=1, keepdims=True) * (target - x.sum(axis=1))[:, None]
        x[np.flatnonzero(has_jump), slot[has_jump]] += days.jump[has_jump]
        close = days.open[:, None] + np.cumsum(x, axis=1)
        open_ = np.concatenate((days.open[:, None], close[:, :-1]), axis=1)
        x, close, open_ = x.ravel(), close.ravel(), open_.ravel()
        body = close - open_
        high = (open_ + close + np.sqrt(body**2 - 2 * sig**2 * np.log(_uniform(self.seed, _S_WICK_HI, idx)))) / 2
        low = (open_ + close - np.sqrt(body**2 - 2 * sig**2 * np.log(_uniform(self.seed, _S_WICK_LO, idx)))) / 2
        weight = (self.cal.seasonal(idx, volume=True) * np.exp(0.5 * _normal(self.seed, _S_VOL, idx) - 0.125)
                  * (1 + 1.5 * np.abs(x) / sig)).reshape(nd, k)
        share = np.floor(weight / weight.sum(axis=1, keepdims=True) * days.volume[:, None])
        share[:, -1] += days.volume - share.sum(axis=1)  # whole shares that add up to the day's volume
        keep = slice(i0 - d0 * k, i1 - d0 * k + 1)
        return open_[keep], high[keep], low[keep], close[keep], share.ravel()[keep]

    def index_range(self, start: object, end: object) -> tuple[int, int]:
        """``(i0, i1)``: the bar indices starting in ``[start, end]`` (``i1 < i0`` when none), from
        the calendar alone: nothing is generated."""
        i0 = max(self.cal.first_at_or_after(to_ns(start)), 0)  # type: ignore[arg-type]
        i1 = self.cal.last_at_or_before(to_ns(end))  # type: ignore[arg-type]
        return i0, max(i1, i0 - 1)

    def count(self, start: object, end: object) -> int:
        """How many bars start in ``[start, end]`` (arithmetic on the calendar)."""
        i0, i1 = self.index_range(start, end)
        return i1 - i0 + 1

    def bars(self, start: object, end: object, *, limit: int | None = None) -> Bars:
        """Bars starting in ``[start, end]``; with ``limit``, only the last ``limit`` of them are
        generated."""
        i0, i1 = self.index_range(start, end)
        if limit is not None:
            i0 = max(i0, i1 - limit + 1)
        return self.bars_by_index(i0, i1)

    def last_bar_index(self, at_ns: int) -> int:
        return self.cal.last_at_or_before(at_ns)

    def quote_draws(self, index: int) -> np.ndarray:
        """Three uniforms for a quote's sizes and a trade's size at bar ``index``."""
        return _uniform(self.seed, _S_QUOTE, np.array([3 * index, 3 * index + 1, 3 * index + 2]))


def _ticks(price: np.ndarray) -> np.ndarray:
    """Round to a cent, or to 1/10,000 under $1 (monotone, so bar invariants survive)."""
    return np.maximum(np.where(price >= 1.0, np.round(price, 2), np.round(price, 4)), 0.0001)


def series(symbol: str, timeframe: Timeframe | str, model: SyntheticModel | None = None) -> SyntheticSeries:
    return SyntheticSeries(symbol, Timeframe.parse(timeframe), model)
