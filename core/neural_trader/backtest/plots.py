"""PNG pictures of a backtest: equity (with a benchmark), drawdown, trades on the price.

matplotlib is optional (the ``plot`` extra) and imported only here, on first use. Each picture is
a ``Figure`` on its own Agg canvas: no display, no pyplot state, no change to the user's backend.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from neural_trader.errors import NtUnavailable
from neural_trader.native.simulate import ExitReason

if TYPE_CHECKING:
    from neural_trader.backtest.result import BacktestResult

__all__ = ["figure_factory", "plot_png"]


def figure_factory() -> Any:
    """A ``Figure(**kw)`` maker on its own Agg canvas; NtUnavailable without matplotlib. Every PNG
    chart of the host and its packs draws on one of these."""
    try:
        import matplotlib
    except ImportError:
        raise NtUnavailable("plots need matplotlib: pip install 'neural-trader[plot]' "
                            "(or pip install matplotlib)") from None
    del matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure on its own Agg canvas: no pyplot, no global backend switch, nothing to close.
    return lambda **kw: FigureCanvasAgg(Figure(**kw)).figure


def _x(result: BacktestResult) -> np.ndarray:
    ts = result.timestamps
    if ts is not None and np.asarray(ts).dtype.kind in "iuM":
        return np.asarray(ts).astype("datetime64[ns]")
    return np.arange(result.equity.shape[0])


def plot_png(result: BacktestResult, kind: str, *, width: float = 10.0, height: float = 4.0, dpi: int = 100,
             synthetic: bool = False) -> bytes:
    """Render ``kind`` (``equity``, ``drawdown`` or ``trades``) of ``result`` as PNG bytes."""
    new_figure = figure_factory()
    fig = new_figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    x = _x(result)
    title = f"{result.strategy} on {', '.join(result.symbols)}" + (" (SYNTHETIC DATA)" if synthetic else "")
    if kind == "equity":
        ax.plot(x, result.equity, label="strategy", color="tab:blue", linewidth=1.0)
        if result.benchmark is not None and result.benchmark.shape[0]:
            scaled = result.benchmark / result.benchmark[0] * result.config.init_cash
            ax.plot(x, scaled, label="benchmark", color="tab:gray", linewidth=0.8)
            ax.legend(loc="best")
        ax.set_ylabel("equity")
        ax.set_title(f"{title}: equity")
    elif kind == "drawdown":
        ax.fill_between(x, result.drawdown * 100.0, 0.0, color="tab:red", alpha=0.4, linewidth=0)
        ax.set_ylabel("drawdown (%)")
        ax.set_title(f"{title}: drawdown")
    else:
        ax.plot(x, result.prices[:, 0], color="black", linewidth=0.7, label=result.symbols[0])
        mine = result.trades[result.trades["symbol"] == 0]
        longs, shorts = mine[mine["size"] > 0], mine[mine["size"] < 0]
        for rows, marker, color, label in ((longs, "^", "tab:green", "long entry"),
                                           (shorts, "v", "tab:red", "short entry")):
            if rows.size:
                ax.scatter(x[rows["entry_idx"]], rows["entry_price"], marker=marker, color=color, s=24,
                           label=label, zorder=3)
        exits = mine[mine["exit_reason"] != ExitReason.OPEN]
        if exits.size:
            ax.scatter(x[exits["exit_idx"]], exits["exit_price"], marker="x", color="tab:blue", s=20,
                       label="exit", zorder=3)
        ax.legend(loc="best")
        ax.set_ylabel("price")
        ax.set_title(f"{title}: trades")
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
