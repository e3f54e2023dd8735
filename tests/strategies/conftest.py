"""Fixtures for the strategy tests: synthetic bars in cents and the real ORCL bars."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neural_trader.domain.market import Bars

DATA = Path(__file__).resolve().parents[1] / "data"


def make_bars(n: int, seed: int = 7, symbol: str = "SYN", drift: float = 0.0) -> Bars:
    """A geometric random walk quoted in cents, with consistent OHLC (daily timestamps)."""
    rng = np.random.default_rng(seed)
    close = np.round(50.0 * np.exp(np.cumsum(rng.normal(drift, 0.015, n))), 2).clip(0.01)
    open_ = np.round(np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.004, n)), 2).clip(0.01)
    spread = np.round(np.abs(rng.normal(0.0, 0.006, n)) * close, 2)
    high = np.maximum(open_, close) + spread
    low = (np.minimum(open_, close) - spread).clip(0.01)
    ts = np.datetime64("2000-01-03", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Bars.from_arrays(symbol=symbol, timeframe="1Day", provider="synthetic", ts=ts, open=open_, high=high,
                            low=low, close=close, volume=np.full(n, 1000.0), synthetic=True)


@pytest.fixture(scope="session")
def bars_factory() -> Callable[..., Bars]:
    """:func:`make_bars` (test modules here are not a package, so they take it as a fixture)."""
    return make_bars


@pytest.fixture(scope="session")
def bars() -> Bars:
    return make_bars(3000)


@pytest.fixture(scope="session")
def orcl() -> Bars:
    from neural_trader.market.files import read_bars

    return read_bars(DATA / "orcl-1995-2014.txt", symbol="ORCL")
