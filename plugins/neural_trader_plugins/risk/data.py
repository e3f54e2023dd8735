"""The returns a risk operation reads: a portfolio's symbols fetched through market data, aligned,
turned into simple returns, with the weights checked (or taken from the trading account).

Every risk operation names its portfolio the same way (:class:`PortfolioParams`): ``symbols`` and
``weights`` (fractions summing to 1; default equal), or no symbols at all, which means the trading
account's holdings, weighted by market value. Bars come from the host's market data
(:func:`neural_trader.backtest.data.load`: the fallback chain or a named provider, aligned on the bar
times every series has), so the same window gives the same numbers as a backtest of it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from neural_trader.domain.market import PROVIDER_PATTERN, SYMBOL_HINT, SYMBOL_PATTERN, Timeframe, from_ns
from neural_trader.errors import NtUserError
from neural_trader.schema import param

if TYPE_CHECKING:
    from neural_trader.ops import Context

__all__ = ["HistoryParams", "PortfolioData", "PortfolioParams", "check_weights", "load_portfolio", "returns_of"]

#: Weights must sum to 1 within this (fractions given with a few decimals).
WEIGHT_TOLERANCE = 1e-6

_SYMBOLS = ("the portfolio's instruments, e.g. [\"AAPL\", \"MSFT\"]; empty or omitted: the trading account's "
            "holdings, weighted by market value")
_WEIGHTS = ("fraction of the portfolio in each symbol, in the order of symbols, summing to 1 (negative: short); "
            "default equal weights")
_PROVIDER = "a data provider by name (market.providers lists them); default: the fallback chain"


@attrs.frozen(kw_only=True)
class HistoryParams:
    """Which instruments and which history: shared by the risk and portfolio operations."""

    symbols: list[str] = param(factory=list, description=_SYMBOLS, max_len=100, item_pattern=SYMBOL_PATTERN,
                               pattern_hint=SYMBOL_HINT)
    start: dt.datetime | None = param(default=None, description="first bar of the history (UTC); default five "
                                                                "years before end (daily bars)")
    end: dt.datetime | None = param(default=None, description="last bar of the history, inclusive (UTC); "
                                                              "default now")
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length of the returns")
    provider: str | None = param(default=None, description=_PROVIDER, pattern=PROVIDER_PATTERN)


@attrs.frozen(kw_only=True)
class PortfolioParams(HistoryParams):
    """A portfolio (symbols and weights) and its history."""

    weights: list[float] | None = param(default=None, description=_WEIGHTS, max_len=100)


@attrs.frozen(kw_only=True, eq=False)
class PortfolioData:
    """Aligned simple returns of a portfolio's symbols and its weights."""

    symbols: tuple[str, ...]
    weights: np.ndarray
    #: ``(periods, assets)`` simple returns of the close, C-contiguous float64.
    returns: np.ndarray
    #: Start times of the bars of ``closes`` (int64 ns, UTC): ``ts[k + 1]`` is the end bar of return ``k``.
    ts: np.ndarray
    #: ``(periods + 1, assets)`` closes the returns come from.
    closes: np.ndarray
    provider: str
    synthetic: bool
    warnings: tuple[str, ...]
    #: The benchmark's returns on the same times, when one was asked for.
    benchmark: np.ndarray | None = None

    def time(self, k: int) -> dt.datetime:
        """The start of bar ``k`` of ``closes`` (0: the first close; ``k + 1``: return ``k``'s end bar)."""
        return from_ns(int(self.ts[k]))

    @property
    def times(self) -> list[dt.datetime]:
        """The end bar of each return, one per row of ``returns`` (built on demand: thousands of objects)."""
        return [from_ns(int(t)) for t in self.ts[1:]]

    @property
    def dates(self) -> np.ndarray:
        """The UTC date of each return's end bar, as ``datetime64[D]``."""
        return self.ts[1:].astype("datetime64[ns]").astype("datetime64[D]")

    @property
    def first(self) -> dt.datetime:
        return self.time(1)

    @property
    def last(self) -> dt.datetime:
        return self.time(len(self.ts) - 1)


def returns_of(closes: np.ndarray) -> np.ndarray:
    """Simple returns ``p[t] / p[t-1] - 1`` down each column (C-contiguous float64)."""
    return np.ascontiguousarray(closes[1:] / closes[:-1] - 1.0)


def check_weights(weights: Sequence[float] | None, n: int, *, field: str = "weights") -> np.ndarray:
    """``weights`` as an array of ``n`` finite fractions summing to 1 (equal weights when None)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise NtUserError(f"{field} has {w.size} values but there are {n} symbols; give one weight per symbol, "
                          "in the same order")
    if not np.isfinite(w).all():
        raise NtUserError(f"{field} must be finite numbers")
    total = float(w.sum())
    if not math.isclose(total, 1.0, abs_tol=WEIGHT_TOLERANCE):
        raise NtUserError(f"{field} must sum to 1 (got {total:.6g}); divide each by their sum, or give "
                          "fractions of the portfolio")
    return np.ascontiguousarray(w)


async def _account_portfolio(ctx: Context) -> tuple[list[str], list[float]]:
    """The trading account's holdings and their market-value weights."""
    from neural_trader.services.orders import OrderManager
    from neural_trader.services.trading import marks_for, portfolio_of

    async def go(m: OrderManager) -> tuple[list[str], list[float]]:
        held = m.positions()
        view = portfolio_of(held, m.cash(), await marks_for(m, [p.symbol for p in held], {}))
        values = {h.symbol: float(h.qty * h.mark) for h in view.holdings if h.mark is not None and h.qty}
        if view.unpriced:
            raise NtUserError(f"the account holds {', '.join(view.unpriced)} with no price to weight it by; name "
                              "symbols and weights instead")
        total = sum(values.values())
        if not values or total == 0:
            raise NtUserError("symbols is empty and the trading account holds nothing; name the symbols (and "
                              "weights) of the portfolio to analyse")
        return list(values), [v / total for v in values.values()]

    trading = ctx.host.services.trading
    found: tuple[list[str], list[float]] = await trading.call(go)
    return found


async def load_portfolio(params: HistoryParams, ctx: Context, *, benchmark: str | None = None,
                         min_periods: int = 2) -> PortfolioData:
    """Fetch and align the bars of ``params``' symbols (and ``benchmark``), and check the weights
    (:class:`PortfolioParams`; equal weights for plain :class:`HistoryParams`).

    :param min_periods: returns needed per asset; fewer is an error naming ``start``/``end``.
    """
    from neural_trader.backtest.data import DataRequest, load, parse_symbols

    names: Sequence[str] = params.symbols
    weights: Sequence[float] | None = getattr(params, "weights", None)
    if not names:
        if weights is not None:
            raise NtUserError("weights were given without symbols; name the symbols they weigh")
        names, weights = await _account_portfolio(ctx)
    symbols = parse_symbols(names)
    w = check_weights(weights, len(symbols))
    data = await load(ctx.host, DataRequest(symbols=symbols, provider=params.provider, timeframe=params.timeframe,
                                            start=params.start, end=params.end,
                                            benchmark=benchmark.strip().upper() if benchmark else None,
                                            frontend=ctx.frontend))
    closes = np.ascontiguousarray(np.column_stack([b.close for b in data.bars]), dtype=np.float64)
    if len(closes) - 1 < min_periods:
        raise NtUserError(
            f"the window holds {len(closes)} common bars of {', '.join(symbols)} ({max(len(closes) - 1, 0)} "
            f"returns) but this needs at least {min_periods} returns; widen start/end or use a shorter timeframe")
    if (closes <= 0).any() or not np.isfinite(closes).all():
        raise NtUserError(f"{', '.join(symbols)} have non-positive or missing closes in the window; returns "
                          "cannot be computed from them")
    bench = data.benchmark_close()
    return PortfolioData(symbols=symbols, weights=w, returns=returns_of(closes), ts=data.bars[0].ts, closes=closes,
                         provider=data.provider, synthetic=data.synthetic, warnings=data.warnings,
                         benchmark=None if bench is None else returns_of(bench[:, None])[:, 0].copy())
