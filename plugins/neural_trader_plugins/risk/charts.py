"""PNG charts of the risk operations: the clustered correlation heatmap, each asset's share of VaR,
the loss distribution with its VaR and CVaR, and a stress ladder.

matplotlib is optional (the ``plot`` extra) and imported on first use, on its own Agg canvas
(:func:`neural_trader.backtest.plots.figure_factory`).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from neural_trader.errors import NtUserError

__all__ = ["analyze_png", "ladder_png"]


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _figure(width: float = 8.0, height: float = 4.5) -> tuple[Any, Any]:
    from neural_trader.backtest.plots import figure_factory

    fig = figure_factory()(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _tag(data: Any) -> str:
    return " (SYNTHETIC DATA)" if data.synthetic else ""


def analyze_png(kind: str, *, data: Any, report: Any, corr: np.ndarray) -> bytes:
    """``correlation``, ``contributions`` or ``losses`` of a :class:`~.var.VarReport` on ``data``."""
    if kind == "correlation":
        from neural_trader_plugins.risk.correlation import clustered_heatmap_png

        return clustered_heatmap_png(corr, symbols=list(data.symbols),
                                     title=f"correlation, clustered{_tag(data)}")
    fig, ax = _figure()
    if kind == "contributions":
        shares = np.asarray(report.contributions.percent) * 100.0
        colours = ["tab:red" if v >= 0 else "tab:green" for v in shares]
        ax.bar(list(data.symbols), shares, color=colours)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_ylabel("share of normal VaR (%)")
        ax.set_title(f"VaR contributions at {report.confidence:.1%}, {report.horizon} bar(s){_tag(data)}")
        ax.tick_params(axis="x", labelrotation=45)
    elif kind == "losses":
        from neural_trader_plugins.risk.var import horizon_returns

        losses = -(horizon_returns(data.returns, report.horizon) @ data.weights) * 100.0
        ax.hist(losses, bins=min(100, max(10, losses.shape[0] // 20)), color="tab:blue", alpha=0.7)
        styles = ("-", "--", ":", "-.", (0, (1, 1)))
        for (name, e), style in zip(report.methods.items(), styles, strict=False):
            ax.axvline(e.var * 100.0, color="tab:red", linestyle=style, linewidth=1.0, label=f"{name} VaR")
        ax.set_xlabel(f"loss over {report.horizon} bar(s) (%)")
        ax.set_ylabel("bars")
        ax.legend(loc="best", fontsize=8)
        ax.set_title(f"historical losses and VaR at {report.confidence:.1%}{_tag(data)}")
    else:
        raise NtUserError(f"chart must be correlation, contributions or losses, got {kind!r}")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def ladder_png(shocks: np.ndarray, pnl: np.ndarray, *, title: str) -> bytes:
    """P&L against the uniform shock of a sensitivity ladder."""
    fig, ax = _figure()
    ax.plot(shocks * 100.0, pnl, marker="o", color="tab:blue", linewidth=1.0)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("shock (%)")
    ax.set_ylabel("P&L")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _png(fig)
