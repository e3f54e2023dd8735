"""PNG charts of bars: candlesticks or a close line, drawn with matplotlib's Agg canvas.

matplotlib is optional (the ``plot`` extra) and imported only when a chart is drawn. No pyplot and no
global backend switch: each chart is its own ``Figure`` on an Agg canvas, so drawing is safe from
worker threads and leaves the user's matplotlib state alone.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np

from neural_trader.domain.market import Bars
from neural_trader.errors import NtUnavailable

__all__ = ["MAX_CANDLES", "render_png"]

#: Beyond this many bars candles become unreadable; a line is drawn instead.
MAX_CANDLES = 400
_UP, _DOWN, _LINE = "#26a69a", "#ef5350", "#1f77b4"


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NtUnavailable("charts need matplotlib, which is not installed; install it with "
                            "`pip install 'neural-trader[plot]'` (or `pip install matplotlib`)") from None
    return Figure, FigureCanvasAgg


def render_png(bars: Bars, kind: Literal["candles", "line"] = "candles", *, width: float = 10.0,
               height: float = 5.0, dpi: int = 100) -> bytes:
    """A PNG of ``bars``; the title names the provider and says SYNTHETIC when the data is."""
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    n = len(bars)
    x = np.arange(n)
    if n and kind == "candles" and n <= MAX_CANDLES:
        up = bars.close >= bars.open
        colors = np.where(up, _UP, _DOWN)
        ax.vlines(x, bars.low, bars.high, colors=colors, linewidth=0.8)
        body_low = np.minimum(bars.open, bars.close)
        body = np.maximum(np.abs(bars.close - bars.open), (bars.high.max() - bars.low.min()) * 1e-3)
        ax.bar(x, body, bottom=body_low, width=0.7, color=colors, edgecolor=colors, linewidth=0.5)
    elif n:
        ax.plot(x, bars.close, color=_LINE, linewidth=1.0)
    if n:
        ticks = np.unique(np.linspace(0, n - 1, min(n, 8)).round().astype(int))
        fmt = "%Y-%m-%d %H:%M" if bars.timeframe.intraday else "%Y-%m-%d"
        times = bars.index[ticks].astype("datetime64[s]").astype(object)
        ax.set_xticks(ticks, [t.strftime(fmt) for t in times], rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-1, n)
    label = "SYNTHETIC data" if bars.synthetic else f"source: {bars.provider}"
    ax.set_title(f"{bars.symbol} {bars.timeframe.value} ({label}, {n} bars)", fontsize=10)
    ax.set_ylabel("price")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
