"""``analysis.quick``: a symbol's trend, volatility and indicator readings, and a summary in words.

Every number is computed from the bars with the native indicator kernels; the summary is built
from those numbers by fixed rules (stated in :func:`summarize`), so it never says more than the
readings do. Windows are in bars (on daily bars: 20 ~ a month, 63 ~ a quarter, 252 ~ a year).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import anyio.to_thread
import attrs
import numpy as np

from neural_trader.backtest.data import RunData, check_length, load
from neural_trader.backtest.requests import PERIODS_PER_YEAR, DataSelection
from neural_trader.errors import NtUserError
from neural_trader.native import indicators as ind
from neural_trader.schema import param

if TYPE_CHECKING:
    from neural_trader.ops import Context

__all__ = ["QuickParams", "QuickResult", "analyze", "quick", "summarize"]

#: Fewest bars for the readings with the longest fixed window (MACD 26 + 9).
MIN_BARS = 35
RETURN_WINDOWS = (5, 21, 63, 252)


@attrs.frozen(kw_only=True)
class QuickParams(DataSelection):
    """Parameters of ``analysis.quick`` (one symbol)."""


@attrs.frozen(kw_only=True)
class Trend:
    label: str = param(description="uptrend, downtrend or mixed (rules in the summary)")
    sma20: float | None
    sma50: float | None
    sma200: float | None
    close_vs_sma50: float | None = param(unit="fraction", description="close / SMA(50) - 1")
    close_vs_sma200: float | None = param(unit="fraction", description="close / SMA(200) - 1")
    slope_annualized: float | None = param(unit="fraction", description="least-squares slope of log close over 63 bars, per year")
    cross: str | None = param(description="golden or death cross of SMA(50) and SMA(200) in the last 20 bars")


@attrs.frozen(kw_only=True)
class Volatility:
    annualized_20: float | None = param(unit="fraction", description="standard deviation of log returns over 20 bars, annualised")
    annualized_63: float | None = param(unit="fraction", description="the same over 63 bars")
    atr_pct: float | None = param(description="ATR(14) / close")
    percentile: float | None = param(unit="plain", description="where the 20-bar volatility ranks among its values in the data (0-100)")
    regime: str = param(description="low, normal or high (percentile below 33, 33-67, above 67)")


@attrs.frozen(kw_only=True)
class Indicators:
    rsi14: float | None
    rsi_state: str = param(description="overbought (> 70), oversold (< 30) or neutral")
    macd: float | None
    macd_signal: float | None
    macd_hist: float | None = param(description="MACD - signal: > 0 bullish momentum")
    bollinger_pct_b: float | None = param(description="(close - lower band) / (upper - lower), 20 bars, 2 sd")
    from_high: float | None = param(unit="fraction", description="close / highest close of the last 252 bars - 1")
    from_low: float | None = param(unit="fraction", description="close / lowest close of the last 252 bars - 1")


@attrs.frozen(kw_only=True)
class QuickResult:
    """Readings at the last bar, and what they say."""

    symbol: str
    provider: str
    synthetic: bool = param(description="true when the bars were generated, not observed prices")
    warnings: list[str] = param(description="synthetic data, or a window the data covers only in part")
    timeframe: str
    as_of: dt.datetime = param(description="time of the last bar")
    bars: int
    close: float
    returns: dict[str, float | None] = param(description="return over the last 5, 21, 63 and 252 bars")
    max_drawdown: float = param(description="deepest fall from a running peak of the close in the data (<= 0)")
    trend: Trend
    volatility: Volatility
    indicators: Indicators
    summary: str = param(description="the readings in words")


def _last(x: np.ndarray) -> float | None:
    v = float(x[-1]) if x.size else math.nan
    return v if math.isfinite(v) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b - 1.0


def _slope(close: np.ndarray, window: int, periods: float) -> float | None:
    if close.shape[0] < window:
        return None
    y = np.log(close[-window:])
    x = np.arange(window, dtype=np.float64)
    return float(np.polyfit(x, y, 1)[0] * periods)


def _cross(close: np.ndarray) -> str | None:
    if close.shape[0] < 201:
        return None
    signal = ind.crossover(ind.sma(close, 50), ind.sma(close, 200))[-20:]
    last = signal[np.nonzero(signal)]
    if not last.size:
        return None
    return "golden cross" if last[-1] > 0 else "death cross"


def analyze(data: RunData) -> QuickResult:
    """Every reading at the last bar of ``data`` (one symbol)."""
    if len(data.bars) != 1:
        raise NtUserError("analysis.quick reads one symbol; name just one")
    check_length(data, MIN_BARS, "analysis.quick")
    bars = data.bars[0]
    close = np.ascontiguousarray(bars.close)
    n = close.shape[0]
    periods = PERIODS_PER_YEAR[bars.timeframe]
    last = float(close[-1])
    sma = {w: _last(ind.sma(close, w)) if n >= w else None for w in (20, 50, 200)}
    slope = _slope(close, 63, periods)
    vs50, vs200 = _ratio(last, sma[50]), _ratio(last, sma[200])
    if sma[50] is not None and last > sma[50] and (sma[200] is None or sma[50] > sma[200]) and (slope or 0) > 0:
        label = "uptrend"
    elif sma[50] is not None and last < sma[50] and (sma[200] is None or sma[50] < sma[200]) and (slope or 0) < 0:
        label = "downtrend"
    else:
        label = "mixed"
    logret = np.diff(np.log(close))
    rolling20 = ind.rolling_std(np.ascontiguousarray(logret), 20, 1) if logret.shape[0] >= 20 else np.empty(0)
    vol20 = _last(rolling20)
    vol63 = float(np.std(logret[-63:], ddof=1)) if logret.shape[0] >= 63 else None
    known = rolling20[np.isfinite(rolling20)]
    pct = float(np.mean(known <= vol20) * 100.0) if vol20 is not None and known.size else None
    regime = "normal" if pct is None else "low" if pct < 100 / 3 else "high" if pct > 200 / 3 else "normal"
    atr = _last(ind.atr(np.ascontiguousarray(bars.high), np.ascontiguousarray(bars.low), close, 14))
    rsi = _last(ind.rsi(close, 14))
    macd = ind.macd(close)
    bands = ind.bollinger(close, 20, 2.0)
    upper, lower = _last(bands.upper), _last(bands.lower)
    pct_b = None if upper is None or lower is None or upper == lower else (last - lower) / (upper - lower)
    year = close[-252:]
    wealth_peak = np.maximum.accumulate(close)
    result = QuickResult(
        symbol=bars.symbol, provider=bars.provider, synthetic=data.synthetic, warnings=list(data.warnings),
        timeframe=bars.timeframe.value, as_of=data.last, bars=n,
        close=last,
        returns={f"{w}_bars": (float(close[-1] / close[-1 - w] - 1.0) if n > w else None) for w in RETURN_WINDOWS},
        max_drawdown=float(np.min(close / wealth_peak - 1.0)),
        trend=Trend(label=label, sma20=sma[20], sma50=sma[50], sma200=sma[200], close_vs_sma50=vs50,
                    close_vs_sma200=vs200, slope_annualized=slope, cross=_cross(close)),
        volatility=Volatility(annualized_20=None if vol20 is None else vol20 * math.sqrt(periods),
                              annualized_63=None if vol63 is None else vol63 * math.sqrt(periods),
                              atr_pct=None if atr is None else atr / last, percentile=pct, regime=regime),
        indicators=Indicators(rsi14=rsi, rsi_state="neutral" if rsi is None else "overbought" if rsi > 70
                              else "oversold" if rsi < 30 else "neutral",
                              macd=_last(macd.macd), macd_signal=_last(macd.signal), macd_hist=_last(macd.hist),
                              bollinger_pct_b=pct_b, from_high=last / float(year.max()) - 1.0,
                              from_low=last / float(year.min()) - 1.0),
        summary="")
    return attrs.evolve(result, summary=summarize(result))


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def summarize(r: QuickResult) -> str:
    """The readings in sentences. Trend: *uptrend* when the close is above SMA(50), SMA(50) is above
    SMA(200) and the 63-bar slope is positive (mirror for *downtrend*), else *mixed*."""
    t, v, i = r.trend, r.volatility, r.indicators
    parts = [f"{r.symbol} closed at {r.close:.2f} on {r.as_of.date().isoformat()} ({r.timeframe} bars, {r.provider})."]
    trend = {"uptrend": "is in an uptrend", "downtrend": "is in a downtrend", "mixed": "has no clear trend"}[t.label]
    detail = []
    if t.close_vs_sma50 is not None:
        detail.append(f"{_pct(t.close_vs_sma50)} vs its 50-bar average")
    if t.close_vs_sma200 is not None:
        detail.append(f"{_pct(t.close_vs_sma200)} vs its 200-bar average")
    if t.slope_annualized is not None:
        detail.append(f"63-bar trend slope {_pct(t.slope_annualized)} a year")
    parts.append(f"It {trend}" + (f": {', '.join(detail)}." if detail else "."))
    if t.cross:
        parts.append(f"A {t.cross} of the 50- and 200-bar averages happened in the last 20 bars.")
    if v.annualized_20 is not None:
        text = f"Volatility is {v.regime} at {v.annualized_20 * 100:.1f}% annualised over 20 bars"
        if v.annualized_63 is not None:
            text += f" ({v.annualized_63 * 100:.1f}% over 63)"
        if v.percentile is not None:
            text += f", the {v.percentile:.0f}th percentile of this data"
        parts.append(text + ".")
    if i.rsi14 is not None:
        parts.append(f"RSI(14) is {i.rsi14:.0f} ({i.rsi_state}).")
    if i.macd_hist is not None:
        parts.append(f"MACD is {'above' if i.macd_hist > 0 else 'below'} its signal line "
                     f"({'bullish' if i.macd_hist > 0 else 'bearish'} momentum).")
    if i.from_high is not None and i.from_low is not None:
        parts.append(f"The close is {_pct(i.from_high)} from its 252-bar high and {_pct(i.from_low)} from its low.")
    return " ".join(parts)


async def quick(params: QuickParams, ctx: Context) -> QuickResult:
    data = await load(ctx.host, params.data_request(frontend=ctx.frontend))
    return await anyio.to_thread.run_sync(analyze, data)
