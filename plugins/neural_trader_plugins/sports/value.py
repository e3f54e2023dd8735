"""Value bets: a model's probabilities against the market's fair probabilities.

For one market with decimal odds ``o_i`` and model probabilities ``q_i``: the market's fair
probability ``m_i`` is the odds' implied probability with the margin removed by ``method`` (see
``margins``); the **edge** is ``q_i - m_i`` (probability points); the **expected value** per unit
staked at the offered odds is ``q_i o_i - 1``. A bet is a value bet when ``ev > min_ev`` and
``edge > min_edge``; note that a positive edge against the fair market can still be a losing bet
at odds that carry the bookmaker's margin, which is why both are reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader_plugins.sports.margins import METHODS, market_odds, remove_margin

__all__ = ["ValueBet", "ValueReport", "value_bets"]


@attrs.frozen(kw_only=True)
class ValueBet:
    """One outcome: its odds, the model's and the market's fair probability, ``edge = model - fair``,
    ``ev = model * odds - 1`` and whether it passes the thresholds (``is_value``)."""

    outcome: str
    odds: float
    model_probability: float
    fair_probability: float
    edge: float
    ev: float
    is_value: bool


@attrs.frozen(kw_only=True)
class ValueReport:
    """Every outcome of the market (``bets``, in the order given), the value bets among them
    (``value``, highest EV first), the margin-removal method and its parameter."""

    bets: tuple[ValueBet, ...]
    value: tuple[ValueBet, ...]
    method: str
    parameter: float | None
    booksum: float


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NtUserError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def value_bets(model_probabilities: Sequence[float], odds: Sequence[float], *, method: str = "shin",
               min_ev: float = 0.0, min_edge: float = 0.0, outcomes: Sequence[str] | None = None) -> ValueReport:
    """Value bets of one market: ``model_probabilities`` and ``odds`` list every outcome in the same order."""
    o = market_odds(odds)
    if method not in METHODS:
        raise NtUserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        q = np.asarray(model_probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        raise NtUserError("model_probabilities must be a list of probabilities, one per outcome") from None
    if q.shape != o.shape:
        raise NtUserError(f"model_probabilities must have one entry per outcome ({o.shape[0]}), got {q.shape}")
    if not (np.isfinite(q).all() and ((q >= 0) & (q <= 1)).all()):
        raise NtUserError(f"model_probabilities must each be in [0, 1], got {model_probabilities!r}")
    if abs(math.fsum(q) - 1.0) > 1e-6:
        raise NtUserError(f"model_probabilities must sum to 1 over the market's outcomes, got {math.fsum(q):.9g}")
    names = tuple(outcomes) if outcomes is not None else tuple(str(i) for i in range(o.shape[0]))
    if len(names) != o.shape[0]:
        raise NtUserError(f"outcomes must name each of the {o.shape[0]} outcomes, got {len(names)}")
    ev_min, edge_min = _threshold("min_ev", min_ev), _threshold("min_edge", min_edge)
    fair = remove_margin(o, method)
    bets = []
    for name, oi, qi, mi in zip(names, o, q, fair.probabilities, strict=True):
        ev, edge = float(qi * oi - 1.0), float(qi - mi)
        bets.append(ValueBet(outcome=name, odds=float(oi), model_probability=float(qi), fair_probability=mi,
                             edge=edge, ev=ev, is_value=ev > ev_min and edge > edge_min))
    value = tuple(sorted((b for b in bets if b.is_value), key=lambda b: -b.ev))
    return ValueReport(bets=tuple(bets), value=value, method=method, parameter=fair.parameter, booksum=fair.booksum)
