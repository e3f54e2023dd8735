"""Line charts of several equity curves on one time axis (compare, walk-forward), as PNG bytes.

matplotlib (the ``plot`` extra) is imported on first use; each chart is a ``Figure`` on its own Agg
canvas (no pyplot, no change to the user's backend). The PNG carries no version or date metadata,
so the same curves give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from neural_trader.errors import NtUnavailable

__all__ = ["Curve", "lines_png"]

#: (label, bar times as int64 ns since the epoch, values)
Curve = tuple[str, np.ndarray, np.ndarray]


def lines_png(curves: Sequence[Curve], *, title: str, ylabel: str, width: float = 10.0, height: float = 4.5,
              dpi: int = 100, spans: Sequence[tuple[int, int]] = ()) -> bytes:
    """One line per curve; ``spans`` (start, end) in ns are shaded (walk-forward test windows)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NtUnavailable("charts need matplotlib: pip install 'neural-trader[plot]'") from None
    fig = FigureCanvasAgg(Figure(figsize=(width, height), dpi=dpi)).figure
    ax = fig.add_subplot()
    for label, ts, values in curves:
        ax.plot(np.asarray(ts).astype("datetime64[ns]"), values, label=label, linewidth=1.2)
    for lo, hi in spans:
        ax.axvspan(np.datetime64(int(lo), "ns"), np.datetime64(int(hi), "ns"),  # type: ignore[arg-type]
                   color="tab:gray", alpha=0.08)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(curves) > 1:
        ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
