"""Correlation of asset returns: the matrix (Pearson or Spearman), rolling correlations, a
hierarchical-clustering order and a clustered heatmap.

Conventions: ``returns`` is a ``(periods, assets)`` matrix (list of rows or numpy array) of simple
returns with no missing values; ``symbols`` name the columns (``asset0, asset1, ...`` when not
given). Pearson is :func:`neural_trader.native.risk.correlation`; Spearman is Pearson on the
columns' ranks (ties get their average rank), as ``scipy.stats.spearmanr`` defines it.
Clustering uses the distance ``1 - corr`` (0 for identical, 2 for opposite assets).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import attrs
import numpy as np
from scipy import stats
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from neural_trader.errors import NtUserError
from neural_trader.native import risk
from neural_trader_plugins.risk import inputs

__all__ = [
    "ClusterOrder", "CorrelationMatrix", "cluster_order", "clustered_heatmap_png", "correlation_matrix",
    "rolling_correlation", "rolling_correlations",
]

METHODS = ("pearson", "spearman")
LINKAGES = ("single", "complete", "average", "weighted", "ward")
_CHUNK = 512  # windows per block in rolling_correlations (bounds the temporary to CHUNK * window * n)


def _matrix(returns: object, minimum: int = 3) -> np.ndarray:
    return inputs.matrix("returns", returns, minimum_rows=minimum,
                         hint="align the assets on common dates and drop missing periods")


def _symbols(symbols: Sequence[str] | None, n: int) -> tuple[str, ...]:
    if symbols is None:
        return tuple(f"asset{i}" for i in range(n))
    names = tuple(str(s) for s in symbols)
    if len(names) != n:
        raise NtUserError(f"symbols has {len(names)} names but returns has {n} columns; give one per column")
    if len(set(names)) != n:
        raise NtUserError(f"symbols must be unique, got {list(names)}")
    return names


def _check_constant(x: np.ndarray, names: tuple[str, ...]) -> None:
    flat = np.flatnonzero(np.all(x == x[:1], axis=0))
    if flat.size:
        raise NtUserError(f"returns of {names[int(flat[0])]} are constant: correlation is undefined; drop that asset")


@attrs.frozen(kw_only=True, eq=False)
class CorrelationMatrix:
    """``matrix[i, j]`` is the correlation of ``symbols[i]`` and ``symbols[j]`` over ``n_obs`` periods."""

    matrix: np.ndarray
    symbols: tuple[str, ...]
    method: str
    n_obs: int

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{symbol: {symbol: corr}}``."""
        return {a: {b: float(self.matrix[i, j]) for j, b in enumerate(self.symbols)}
                for i, a in enumerate(self.symbols)}


def correlation_matrix(returns: Sequence[Sequence[float]] | np.ndarray, *, symbols: Sequence[str] | None = None,
                       method: str = "pearson") -> CorrelationMatrix:
    """Correlation of the columns of ``returns`` (``method`` ``"pearson"`` or ``"spearman"``)."""
    x = _matrix(returns)
    names = _symbols(symbols, x.shape[1])
    if method not in METHODS:
        raise NtUserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    _check_constant(x, names)
    if method == "spearman":
        x = np.ascontiguousarray(stats.rankdata(x, axis=0), dtype=np.float64)
    return CorrelationMatrix(matrix=risk.correlation(x), symbols=names, method=method, n_obs=int(x.shape[0]))


def _window(window: object, t: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 3:
        raise NtUserError(f"window must be an integer >= 3, got {window!r}")
    if window > t:
        raise NtUserError(f"window ({window}) is longer than the returns ({t} periods); shorten it")
    return int(window)


def _windowed_corr(x: np.ndarray, window: int) -> np.ndarray:
    """``(t, n, n)`` correlations of each trailing window (NaN before the first full one)."""
    t, n = x.shape
    out = np.full((t, n, n), np.nan)
    views = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (t - w + 1, n, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, views.shape[0], _CHUNK):
            block = views[start : start + _CHUNK]
            dev = block - block.mean(axis=2, keepdims=True)
            cov = np.einsum("kiw,kjw->kij", dev, dev)
            sd = np.sqrt(np.einsum("kii->ki", cov))
            out[window - 1 + start : window - 1 + start + block.shape[0]] = np.clip(
                cov / sd[:, :, None] / sd[:, None, :], -1.0, 1.0)
    return out


def rolling_correlation(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Pearson correlation of ``x`` and ``y`` over each trailing ``window``: ``out[t]`` uses periods
    ``t - window + 1 .. t``; NaN before the first full window and where a window is constant."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise NtUserError("x and y must each be one series (1-D)")
    if a.shape != b.shape:
        raise NtUserError(f"y has length {b.shape[0]} but x has length {a.shape[0]}; align them period for period")
    xy = _matrix(np.column_stack([a, b]))
    return _windowed_corr(xy, _window(window, xy.shape[0]))[:, 0, 1]


def rolling_correlations(returns: Sequence[Sequence[float]] | np.ndarray, window: int) -> np.ndarray:
    """Every pair's rolling Pearson correlation: a ``(periods, assets, assets)`` array, ``out[t]`` the
    matrix over periods ``t - window + 1 .. t`` (NaN before the first full window)."""
    x = _matrix(returns)
    return _windowed_corr(x, _window(window, x.shape[0]))


@attrs.frozen(kw_only=True, eq=False)
class ClusterOrder:
    """Leaf order of the hierarchical clustering: ``order`` indexes the input, ``symbols`` are in that
    order; ``linkage`` is scipy's ``(n - 1, 4)`` linkage matrix; ``matrix`` is the correlation matrix
    reordered (``corr[order][:, order]``)."""

    order: tuple[int, ...]
    symbols: tuple[str, ...]
    linkage: np.ndarray
    matrix: np.ndarray


def _corr_arg(corr: object) -> np.ndarray:
    if isinstance(corr, CorrelationMatrix):
        return corr.matrix
    try:
        c = np.asarray(corr, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError("corr must be a square correlation matrix of numbers") from None
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 1:
        raise NtUserError(f"corr must be a square correlation matrix, got shape {c.shape}")
    if not np.isfinite(c).all() or (np.abs(c) > 1.0 + 1e-9).any():
        raise NtUserError("corr must hold finite correlations in [-1, 1]")
    if not np.allclose(c, c.T, atol=1e-10):
        raise NtUserError("corr must be symmetric")
    return c


def cluster_order(corr: CorrelationMatrix | Sequence[Sequence[float]] | np.ndarray, *,
                  symbols: Sequence[str] | None = None, method: str = "average") -> ClusterOrder:
    """Order assets so that correlated ones sit together: ``scipy.cluster.hierarchy.linkage`` of the
    distances ``1 - corr`` (``method`` one of single, complete, average, weighted, ward), leaves in
    the optimal order (``optimal_ordering=True``: adjacent leaves as similar as possible)."""
    c = _corr_arg(corr)
    n = c.shape[0]
    names = corr.symbols if isinstance(corr, CorrelationMatrix) and symbols is None else _symbols(symbols, n)
    if method not in LINKAGES:
        raise NtUserError(f"method must be one of {', '.join(LINKAGES)}, got {method!r}")
    if n == 1:
        return ClusterOrder(order=(0,), symbols=names, linkage=np.empty((0, 4)), matrix=c.copy())
    dist = np.clip(1.0 - c, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    z = hierarchy.linkage(squareform(dist, checks=False), method=method, optimal_ordering=True)
    order = tuple(int(i) for i in hierarchy.leaves_list(z))
    idx = list(order)
    return ClusterOrder(order=order, symbols=tuple(names[i] for i in order), linkage=z, matrix=c[np.ix_(idx, idx)])


def clustered_heatmap_png(corr: CorrelationMatrix | Sequence[Sequence[float]] | np.ndarray, *,
                          symbols: Sequence[str] | None = None, method: str = "average", width: float = 6.0,
                          height: float = 5.0, dpi: int = 100, title: str | None = None) -> bytes:
    """The correlation matrix in :func:`cluster_order` as a heatmap, PNG bytes of
    ``width * dpi`` by ``height * dpi`` pixels (colours -1 blue .. +1 red).

    Needs matplotlib (the ``plot`` extra), imported on first use like the backtest plots.
    """
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 50:
            raise NtUserError(f"{name} must be a number of inches in (0, 50], got {v!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 10 <= dpi <= 600:
        raise NtUserError(f"dpi must be an integer in [10, 600], got {dpi!r}")
    from neural_trader.backtest.plots import figure_factory  # matplotlib is optional: import on use

    clustered = cluster_order(corr, symbols=symbols, method=method)
    new_figure = figure_factory()
    fig = new_figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(clustered.matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ticks = np.arange(len(clustered.symbols))
    ax.set_xticks(ticks, labels=list(clustered.symbols), rotation=90, fontsize=8)
    ax.set_yticks(ticks, labels=list(clustered.symbols), fontsize=8)
    fig.colorbar(image, ax=ax, label="correlation")
    ax.set_title(title or f"correlation, clustered ({method} linkage)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
