"""PNG charts of the sportsbook: bankroll paths of backtested strategies, Monte Carlo percentile bands,
and an account's settled bankroll. matplotlib is optional and imported on first use (Agg canvas)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["bands_png", "paths_png"]


def _figure() -> tuple[Any, Any]:
    from neural_trader.backtest.plots import figure_factory

    fig = figure_factory()(figsize=(8.0, 4.5), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig: Any, ax: Any) -> bytes:
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def paths_png(series: Sequence[tuple[str, Sequence[Any], Sequence[float]]], *, title: str, xlabel: str) -> bytes:
    """One bankroll line per ``(label, x, bankroll)``."""
    fig, ax = _figure()
    for label, x, y in series:
        ax.plot(list(x), list(y), linewidth=1.2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("bankroll")
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="best", fontsize=8)
    if series and series[0][1] and not isinstance(next(iter(series[0][1])), int | float):
        fig.autofmt_xdate()   # dates: slanted, so that they do not overlap
    return _png(fig, ax)


def bands_png(steps: Sequence[int], bands: Sequence[Sequence[float]], percentiles: Sequence[float], *,
              title: str) -> bytes:
    """Percentile bands of simulated bankroll paths (outer, inner, median)."""
    fig, ax = _figure()
    lo, q1, mid, q3, hi = bands
    ax.fill_between(steps, lo, hi, color="tab:blue", alpha=0.15,
                    label=f"{percentiles[0]:g}-{percentiles[-1]:g}th percentile")
    ax.fill_between(steps, q1, q3, color="tab:blue", alpha=0.3, label=f"{percentiles[1]:g}-{percentiles[3]:g}th")
    ax.plot(steps, mid, color="tab:blue", linewidth=1.2, label="median")
    ax.set_xlabel("bets")
    ax.set_ylabel("bankroll")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _png(fig, ax)
