"""No built-in strategy looks ahead: what it says at bar i depends on bars 0..i only.

Two series share their first ``cut`` bars and then diverge; every signal up to ``cut - 1`` must
be identical (NaN equal to NaN), for several cuts. Strategies with an event style are checked the
same way through the event engine: positions up to the cut must not differ.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from neural_trader.backtest import BacktestConfig, run_event
from neural_trader.domain.market import Bars
from neural_trader.strategies import builtin_strategies

STRATEGIES = {s.name: s for s in builtin_strategies()}
CUTS = (150, 701, 1999)


def _splice(head: Bars, tail: Bars, cut: int) -> Bars:
    """``head``'s first ``cut`` bars, then ``tail``'s later bars rescaled to continue the price."""
    scale = head.close[cut - 1] / tail.close[cut - 1]
    cols = {}
    for name in ("open", "high", "low", "close"):
        cols[name] = np.concatenate((getattr(head, name)[:cut], np.round(getattr(tail, name)[cut:] * scale, 2)))
    cols["high"] = np.maximum.reduce([cols["high"], cols["open"], cols["close"]])
    cols["low"] = np.minimum.reduce([cols["low"], cols["open"], cols["close"]])
    return Bars.from_arrays(symbol=head.symbol, timeframe=head.timeframe, provider="synthetic", ts=head.ts,
                            volume=head.volume, **cols)


def _inputs(make_bars: Callable[..., Bars], strategy_name: str, seed: int, n: int = 2500) -> list[Bars]:
    a = make_bars(n, seed=seed, symbol="A")
    if STRATEGIES[strategy_name].symbols_required == 1:
        return [a]
    b = Bars.from_arrays(symbol="B", timeframe="1Day", provider="synthetic", ts=a.ts,
                         **{c: np.round(getattr(a, c) * 0.5 + getattr(make_bars(n, seed + 100), c) * 0.5, 2)
                            for c in ("open", "high", "low", "close", "volume")})
    return [a, b]


def _signals(strategy_name: str, series: list[Bars]) -> np.ndarray:
    s = STRATEGIES[strategy_name]
    out = s.signals(series[0] if len(series) == 1 else series, s.default_params())
    return np.asarray(out, dtype=np.float64)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("cut", CUTS)
def test_appending_future_bars_changes_no_earlier_signal(bars_factory: Callable[..., Bars], name: str,
                                                         cut: int) -> None:
    base = _inputs(bars_factory, name, seed=1)
    other = _inputs(bars_factory, name, seed=2)
    spliced = [_splice(b, o, cut) for b, o in zip(base, other, strict=True)]
    full = _signals(name, base)
    alt = _signals(name, spliced)
    prefix = _signals(name, [b[:cut] for b in base])
    assert prefix.shape[0] == cut
    np.testing.assert_array_equal(full[:cut], prefix, err_msg=f"{name}: truncating the future changed a signal")
    np.testing.assert_array_equal(full[:cut], alt[:cut], err_msg=f"{name}: a different future changed a signal")
    # the check has teeth: the futures differ and the signals after the cut are not all NaN
    assert not np.array_equal(full[cut:], alt[cut:], equal_nan=True) or np.isnan(full).all()


@pytest.mark.parametrize("name", sorted(n for n, s in STRATEGIES.items() if s.has_events))
@pytest.mark.parametrize("cut", CUTS)
def test_event_style_does_not_look_ahead(bars_factory: Callable[..., Bars], name: str, cut: int) -> None:
    base = _inputs(bars_factory, name, seed=3)
    other = _inputs(bars_factory, name, seed=4)
    spliced = [_splice(b, o, cut) for b, o in zip(base, other, strict=True)]
    config = BacktestConfig(fill_at="close", allow_short=True)
    a = run_event(base[0] if len(base) == 1 else base, STRATEGIES[name], None, config)
    b = run_event(spliced[0] if len(spliced) == 1 else spliced, STRATEGIES[name], None, config)
    np.testing.assert_array_equal(a.positions[:cut], b.positions[:cut])
    np.testing.assert_array_equal(a.equity[:cut], b.equity[:cut])


def test_the_check_catches_a_strategy_that_peeks(bars_factory: Callable[..., Bars]) -> None:
    """A strategy that reads tomorrow's close fails the same comparison."""
    from neural_trader.strategies.base import Strategy, close_of
    from neural_trader.strategies.sma_crossover import SmaCrossoverParams

    class Peek(Strategy):
        name = "peek"
        params_type = SmaCrossoverParams

        def warmup(self, params: object) -> int:
            return 0

        def signals(self, bars: object, params: object) -> np.ndarray:
            c = close_of(bars)
            out = np.zeros(c.shape[0])
            out[:-1] = np.sign(c[1:] - c[:-1])
            return out

    STRATEGIES["peek"] = Peek()
    try:
        base, other = _inputs(bars_factory, "peek", seed=1), _inputs(bars_factory, "peek", seed=2)
        cut = CUTS[1]
        full = _signals("peek", base)
        alt = _signals("peek", [_splice(b, o, cut) for b, o in zip(base, other, strict=True)])
        assert not np.array_equal(full[:cut], alt[:cut])
    finally:
        del STRATEGIES["peek"]
