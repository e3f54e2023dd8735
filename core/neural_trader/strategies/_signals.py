"""Vectorized building blocks the built-in strategies share (causal: bar i uses bars 0..i)."""

from __future__ import annotations

import numpy as np

__all__ = ["hold_last", "lagged", "latch", "sign_state"]


def latch(reset: np.ndarray, kill_long: np.ndarray, kill_short: np.ndarray) -> np.ndarray:
    """A position state machine, vectorized.

    ``reset[i]`` (1, -1 or 0; NaN: none) sets the state; otherwise a long state ends (becomes 0) on
    the first bar where ``kill_long`` holds and a short one where ``kill_short`` holds; a flat
    state holds. The state is 0 before the first reset.
    """
    n = reset.shape[0]
    has = ~np.isnan(reset)
    idx = np.arange(n)
    last = np.maximum.accumulate(np.where(has, idx, -1)) if n else idx
    at = np.maximum(last, 0)
    s0 = np.where(last >= 0, np.where(has, reset, 0.0)[at], 0.0)
    kl = np.cumsum(kill_long & ~has)
    ks = np.cumsum(kill_short & ~has)
    killed = np.where(s0 > 0, kl - kl[at] > 0, np.where(s0 < 0, ks - ks[at] > 0, False))
    return np.where(killed, 0.0, s0)


def sign_state(x: np.ndarray) -> np.ndarray:
    """+1 where ``x > 0``, -1 where ``x < 0``, 0 where zero or NaN."""
    return np.where(x > 0.0, 1.0, np.where(x < 0.0, -1.0, 0.0))


def hold_last(targets: np.ndarray) -> np.ndarray:
    """NaN-hold targets turned into the state they imply (NaN carries the last value; 0 first)."""
    n = targets.shape[0]
    has = ~np.isnan(targets)
    last = np.maximum.accumulate(np.where(has, np.arange(n), -1)) if n else np.arange(0)
    return np.where(last >= 0, targets[np.maximum(last, 0)], 0.0)


def lagged(x: np.ndarray, k: int = 1) -> np.ndarray:
    """``x`` shifted ``k`` bars later (NaN first): the value known *before* each bar."""
    out = np.full(x.shape[0], np.nan)
    if k < x.shape[0]:
        out[k:] = x[:x.shape[0] - k]
    return out
