"""Each built-in strategy's vectorized signals against a plain bar-by-bar reading of its rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.domain.market import Bars
from neural_trader.native import indicators as ind
from neural_trader.strategies import (
    Adaptive,
    Breakout,
    Ensemble,
    MeanReversion,
    Momentum,
    MultiIndicator,
    PairsTrading,
    SmaCrossover,
    TrendFollowing,
)
from neural_trader.strategies._signals import hold_last


def _state(targets: np.ndarray) -> list[float]:
    return hold_last(np.asarray(targets, dtype=np.float64)).tolist()


def test_sma_crossover_on_orcl_matches_the_recorded_backtrader_crosses(orcl: Bars) -> None:
    import json
    from pathlib import Path

    oracle = json.loads((Path(__file__).resolve().parents[1] / "data" / "orcl-backtrader-oracle.json").read_text())
    t = SmaCrossover().signals(orcl, SmaCrossover().make_params(fast=10, slow=30))
    got = [[int(i), int(t[i])] for i in np.flatnonzero(~np.isnan(t))]
    assert got == oracle["crossover_sma10_sma30"]


def test_momentum_follows_the_lookback_return(bars: Bars) -> None:
    p = Momentum().make_params(lookback=15, threshold=0.03)
    t = Momentum().signals(bars, p)
    c = bars.close.tolist()
    for i, got in enumerate(t.tolist()):
        if i < 15:
            assert math.isnan(got)
            continue
        roc = c[i] / c[i - 15] - 1.0
        assert got == (1.0 if roc > 0.03 else -1.0 if roc < -0.03 else 0.0)
    assert Momentum().sim_overrides(p) == {"stop_loss": 0.05, "take_profit": 0.10}


def test_mean_reversion_state_machine(bars: Bars) -> None:
    p = MeanReversion().make_params(window=20, entry_z=1.5, exit_z=0.25)
    got = MeanReversion().signals(bars, p).tolist()
    z = ind.zscore(bars.close, 20).tolist()
    s = 0.0
    for i, zi in enumerate(z):
        if not math.isnan(zi):
            if zi < -1.5:
                s = 1.0
            elif zi > 1.5:
                s = -1.0
            elif (s > 0 and zi >= -0.25) or (s < 0 and zi <= 0.25):
                s = 0.0
        assert got[i] == s, i
    assert {-1.0, 0.0, 1.0} <= set(got)


def test_breakout_state_machine(bars: Bars) -> None:
    p = Breakout().make_params(window=20, exit_window=10)
    got = Breakout().signals(bars, p).tolist()
    h, lo, c = bars.high.tolist(), bars.low.tolist(), bars.close.tolist()
    s = 0.0
    for i in range(len(c)):
        if i >= 20:
            if c[i] > max(h[i - 20:i]):
                s = 1.0
            elif c[i] < min(lo[i - 20:i]):
                s = -1.0
            elif (s > 0 and c[i] < min(lo[i - 10:i])) or (s < 0 and c[i] > max(h[i - 10:i])):
                s = 0.0
        assert got[i] == s, i
    assert {-1.0, 0.0, 1.0} <= set(got)


def test_trend_following_regime_and_atr_stop(bars: Bars) -> None:
    p = TrendFollowing().make_params(fast=10, slow=40, atr_window=14, atr_mult=2.0)
    got = TrendFollowing().signals(bars, p).tolist()
    c = bars.close.tolist()
    fast, slow = ind.ema(bars.close, 10).tolist(), ind.ema(bars.close, 40).tolist()
    atr = ind.atr(bars.high, bars.low, bars.close, 14).tolist()
    prev_regime, state, stop = 0.0, 0.0, 0.0
    exits = 0
    for i in range(len(c)):
        d = fast[i] - slow[i]
        regime = 0.0 if math.isnan(atr[i]) or d != d else (1.0 if d > 0 else -1.0 if d < 0 else 0.0)
        if regime != prev_regime:
            state = regime
            stop = c[i] - 2.0 * atr[i] if regime > 0 else c[i] + 2.0 * atr[i]
        elif state > 0:
            if c[i] < stop:
                state, exits = 0.0, exits + 1
            else:
                stop = max(stop, c[i] - 2.0 * atr[i])
        elif state < 0:
            if c[i] > stop:
                state, exits = 0.0, exits + 1
            else:
                stop = min(stop, c[i] + 2.0 * atr[i])
        prev_regime = regime
        assert got[i] == state, i
    assert exits > 5  # the ATR stop is exercised


def test_multi_indicator_votes(bars: Bars) -> None:
    p = MultiIndicator().make_params(min_votes=2)
    got = MultiIndicator().signals(bars, p).tolist()
    c = bars.close.tolist()
    rsi = ind.rsi(bars.close, 14).tolist()
    hist = ind.macd(bars.close, 12, 26, 9).hist.tolist()
    bb = ind.bollinger(bars.close, 20, 2.0)
    up, lo = bb.upper.tolist(), bb.lower.tolist()
    for i in range(len(c)):
        if math.isnan(rsi[i]) or math.isnan(hist[i]) or math.isnan(up[i]):
            assert math.isnan(got[i])
            continue
        votes = ((rsi[i] < 30) - (rsi[i] > 70) + (hist[i] > 0) - (hist[i] < 0) + (c[i] < lo[i]) - (c[i] > up[i]))
        assert got[i] == (1.0 if votes >= 2 else -1.0 if votes <= -2 else 0.0), i
    assert {-1.0, 1.0} <= set(x for x in got if x == x)


def test_adaptive_switches_between_its_sub_strategies(bars_factory) -> None:  # type: ignore[no-untyped-def]
    from neural_trader.strategies.adaptive import regimes

    strat = Adaptive()
    p = strat.default_params()
    bars = bars_factory(4000, seed=11)
    got = strat.signals(bars, p)
    trending, turbulent = regimes(bars.close, p)
    trend = np.sign(ind.ema(bars.close, p.fast) - ind.ema(bars.close, p.slow))
    revert = MeanReversion().signals(bars, MeanReversion().make_params(window=p.z_window, entry_z=p.entry_z,
                                                                       exit_z=p.exit_z))
    w = strat.warmup(p)
    assert np.isnan(got[:w]).all()
    live = np.arange(len(got)) >= w
    np.testing.assert_array_equal(got[live & trending], trend[live & trending])
    np.testing.assert_array_equal(got[live & ~trending & ~turbulent], revert[live & ~trending & ~turbulent])
    assert (got[live & ~trending & turbulent] == 0.0).all()
    # every regime occurs on this series
    assert (live & trending).any() and (live & ~trending & turbulent).any() and (live & ~trending & ~turbulent).any()


def test_adaptive_efficiency_ratio_sees_a_straight_trend() -> None:
    from neural_trader.strategies.adaptive import regimes

    n = 300
    line = np.round(np.linspace(10.0, 40.0, n), 2)
    trending, _ = regimes(line, Adaptive().default_params())
    assert trending[25:].all()
    zigzag = np.round(20.0 + np.where(np.arange(n) % 2 == 0, 0.5, -0.5), 2)
    trending, _ = regimes(zigzag, Adaptive().default_params())
    assert not trending.any()


def test_ensemble_is_a_weighted_vote(bars: Bars) -> None:
    e = Ensemble()
    only_sma = e.make_params(w_momentum=0.0, w_mean_reversion=0.0, w_breakout=0.0, threshold=1.0)
    sma_state = np.array(_state(SmaCrossover().signals(bars, SmaCrossover().default_params())))
    got = e.signals(bars, only_sma)
    w = e.warmup(only_sma)
    np.testing.assert_array_equal(got[w:], sma_state[w:])
    # with every weight, the target is the sign of the mean state where it reaches the threshold
    p = e.default_params()
    states = np.array([_state(s.signals(bars, s.default_params()))
                       for s in (SmaCrossover(), Momentum(), MeanReversion(), Breakout())])
    vote = states.mean(axis=0)
    want = np.where(vote >= 0.5, 1.0, np.where(vote <= -0.5, -1.0, 0.0))
    np.testing.assert_array_equal(e.signals(bars, p)[w:], want[w:])
    with pytest.raises(ValueError, match="at least one weight"):
        e.make_params(w_sma_crossover=0, w_momentum=0, w_mean_reversion=0, w_breakout=0)


def test_pairs_trading_legs_follow_the_spread_and_hedge_ratio(bars_factory) -> None:  # type: ignore[no-untyped-def]
    from neural_trader.strategies.pairs_trading import hedge_ratio

    n = 2000
    rng = np.random.default_rng(5)
    b = bars_factory(n, seed=21, symbol="B")
    noise = np.zeros(n)
    for i in range(1, n):  # a mean-reverting spread (AR(1))
        noise[i] = 0.9 * noise[i - 1] + rng.normal(0.0, 0.3)
    a_close = np.round(1.5 * b.close + 5.0 + noise, 2)
    a = Bars.from_arrays(symbol="A", timeframe="1Day", provider="synthetic", ts=b.ts, open=a_close,
                         high=a_close + 0.05, low=a_close - 0.05, close=a_close)
    s = PairsTrading()
    p = s.default_params()
    t = s.signals([a, b], p)
    assert t.shape == (n, 2)
    w = s.warmup(p)
    assert np.isnan(t[:w]).all()
    live = t[w:]
    beta = hedge_ratio(a.close, b.close, p.hedge_window)
    assert np.nanmedian(beta[w:]) == pytest.approx(1.5, rel=0.05)
    # the legs always take opposite sides (positive hedge ratio) and the spread trades both ways
    assert ((np.sign(live[:, 0]) * np.sign(live[:, 1])) <= 0).all()
    assert (live[:, 0] > 0).any() and (live[:, 0] < 0).any()
    # units of B over units of A equal the hedge ratio at entry: dollar ratio |beta| * B / A
    entries = np.flatnonzero((live[:, 0] != 0) & (np.concatenate(([0.0], live[:-1, 0])) == 0)) + w
    for i in entries[:10]:
        ratio = abs(t[i, 1]) / abs(t[i, 0])
        assert ratio == pytest.approx(abs(beta[i]) * b.close[i] / a.close[i], rel=1e-12)
    assert s.needs_short and s.symbols_required == 2
