"""The named agent types: each turns a price history into what it wants to hold (or a veto).

Pure functions of numpy arrays, so each rule can be checked by hand. A trading agent answers a
target exposure per symbol (+1 long one unit, 0 flat); ``market_maker`` answers quotes around the
price; ``risk_monitor`` trades nothing and answers a veto when the account's drawdown or the
prices' volatility breaks its limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param

__all__ = ["AGENT_TYPES", "AgentType", "Decision", "Veto", "params_of"]


@attrs.frozen(kw_only=True)
class Decision:
    """What an agent wants for one symbol: a target, or a two-sided quote."""

    symbol: str
    target: float | None = None
    bid: float | None = None
    ask: float | None = None
    reason: str


@attrs.frozen(kw_only=True)
class Veto:
    reason: str


# -- parameters of each type ------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class TrendParams:
    fast: int = param(default=5, ge=1, le=500, description="fast SMA window (bars)")
    slow: int = param(default=20, ge=2, le=1000, description="slow SMA window (bars); above fast")


@attrs.frozen(kw_only=True)
class MeanReversionParams:
    window: int = param(default=20, ge=2, le=1000, description="z-score window (bars)")
    entry_z: float = param(default=1.0, gt=0, le=10, description="buy when the z-score falls below -entry_z")
    exit_z: float = param(default=0.0, ge=-10, le=10, description="sell when the z-score rises above exit_z")


@attrs.frozen(kw_only=True)
class ArbitrageParams:
    window: int = param(default=20, ge=2, le=1000, description="window of the log price ratio's z-score")
    entry_z: float = param(default=1.5, gt=0, le=10, description="buy the cheap leg beyond this z-score")


@attrs.frozen(kw_only=True)
class RiskMonitorParams:
    max_drawdown: float = param(default=0.1, gt=0, le=1, unit="fraction",
                                description="veto new buys when the agents' equity is this far below its peak")
    max_volatility: float = param(default=1.0, gt=0, le=10, unit="fraction",
                                  description="veto new buys when a symbol's annualised volatility is above this")
    window: int = param(default=20, ge=2, le=1000, description="volatility window (bars)")


@attrs.frozen(kw_only=True)
class MarketMakerParams:
    spread_bps: float = param(default=20, gt=0, le=10_000, description="quoted spread around the price, bps")
    max_inventory: int = param(default=1, ge=1, le=1000, description="stop bidding (asking) at this many units "
                                                                     "long (short)")


def sma(x: np.ndarray, n: int) -> float:
    return float(np.mean(x[-n:]))


def zscore(x: np.ndarray, n: int) -> float:
    w = x[-n:]
    sd = float(np.std(w, ddof=1))
    return 0.0 if sd == 0 or not math.isfinite(sd) else float((w[-1] - np.mean(w)) / sd)


def trend(history: Mapping[str, np.ndarray], p: TrendParams, state: Mapping[str, float]) -> list[Decision]:
    out = []
    for symbol, x in history.items():
        if x.shape[0] < p.slow:
            out.append(Decision(symbol=symbol, target=None, reason=f"{x.shape[0]} prices, needs {p.slow}"))
            continue
        fast, slow = sma(x, p.fast), sma(x, p.slow)
        out.append(Decision(symbol=symbol, target=1.0 if fast > slow else 0.0,
                            reason=f"SMA{p.fast} {fast:.4f} {'>' if fast > slow else '<='} SMA{p.slow} {slow:.4f}"))
    return out


def mean_revert(history: Mapping[str, np.ndarray], p: MeanReversionParams, state: Mapping[str, float]) -> list[Decision]:
    out = []
    for symbol, x in history.items():
        if x.shape[0] < p.window:
            out.append(Decision(symbol=symbol, target=None, reason=f"{x.shape[0]} prices, needs {p.window}"))
            continue
        z = zscore(x, p.window)
        held = state.get(symbol, 0.0)
        target = 1.0 if z < -p.entry_z else 0.0 if z > p.exit_z else held
        out.append(Decision(symbol=symbol, target=target, reason=f"z {z:.3f} (entry -{p.entry_z}, exit {p.exit_z})"))
    return out


def arbitrage(history: Mapping[str, np.ndarray], p: ArbitrageParams, state: Mapping[str, float]) -> list[Decision]:
    symbols = list(history)
    if len(symbols) != 2:
        raise NtUserError("arbitrage_scanner trades a pair: give exactly two symbols")
    a, b = (history[s] for s in symbols)
    n = min(a.shape[0], b.shape[0])
    if n < p.window:
        return [Decision(symbol=s, target=None, reason=f"{n} prices, needs {p.window}") for s in symbols]
    ratio = np.log(a[-n:]) - np.log(b[-n:])
    z = zscore(ratio, p.window)
    why = f"log({symbols[0]}/{symbols[1]}) z {z:.3f} (entry {p.entry_z})"
    cheap_a = z < -p.entry_z
    cheap_b = z > p.entry_z
    return [Decision(symbol=symbols[0], target=1.0 if cheap_a else 0.0, reason=why),
            Decision(symbol=symbols[1], target=1.0 if cheap_b else 0.0, reason=why)]


def market_make(history: Mapping[str, np.ndarray], p: MarketMakerParams, state: Mapping[str, float]) -> list[Decision]:
    out = []
    for symbol, x in history.items():
        mid, half = float(x[-1]), float(x[-1]) * p.spread_bps / 20_000
        held = state.get(symbol, 0.0)
        out.append(Decision(symbol=symbol, bid=mid - half if held < p.max_inventory else None,
                            ask=mid + half if held > -p.max_inventory and held > 0 else None,
                            reason=f"mid {mid:.4f} +/- {p.spread_bps / 2:g} bps, inventory {held:g}"))
    return out


def risk_check(history: Mapping[str, np.ndarray], p: RiskMonitorParams, equity: Sequence[float],
               periods_per_year: float = 252.0) -> Veto | None:
    """A veto when the equity's drawdown or a symbol's volatility breaks the limits, else None."""
    if len(equity) >= 2:
        peak = max(equity)
        drawdown = (peak - equity[-1]) / peak if peak > 0 else 0.0
        if drawdown > p.max_drawdown:
            return Veto(reason=f"drawdown {drawdown:.2%} above {p.max_drawdown:.2%}")
    for symbol, x in history.items():
        if x.shape[0] > p.window:
            r = np.diff(np.log(x[-(p.window + 1):]))
            vol = float(np.std(r, ddof=1) * math.sqrt(periods_per_year))
            if vol > p.max_volatility:
                return Veto(reason=f"{symbol} volatility {vol:.2%} above {p.max_volatility:.2%}")
    return None


def no_trades(history: Mapping[str, np.ndarray], p: Any, state: Mapping[str, float]) -> list[Decision]:
    return []


@attrs.frozen(kw_only=True)
class AgentType:
    name: str
    summary: str
    params_type: type
    decide: Callable[..., list[Decision]]
    trades: bool = True


AGENT_TYPES: dict[str, AgentType] = {t.name: t for t in (
    AgentType(name="trend_follower", summary="long one unit while SMA(fast) is above SMA(slow), flat otherwise",
              params_type=TrendParams, decide=trend),
    AgentType(name="mean_reverter", summary="buy when the z-score falls below -entry_z, sell above exit_z",
              params_type=MeanReversionParams, decide=mean_revert),
    AgentType(name="arbitrage_scanner", summary="a pair's log price ratio: buy the leg that is cheap beyond entry_z",
              params_type=ArbitrageParams, decide=arbitrage),
    AgentType(name="risk_monitor", summary="trades nothing; vetoes buys on drawdown or volatility (hierarchical "
                                           "swarms)", params_type=RiskMonitorParams, decide=no_trades, trades=False),
    AgentType(name="market_maker", summary="rests a bid and an ask around the price (limit orders), inventory "
                                           "bounded", params_type=MarketMakerParams, decide=market_make),
)}


def agent_type(name: str) -> AgentType:
    found = AGENT_TYPES.get(name)
    if found is None:
        raise NtUserError(f"no agent type {name!r}; choose from {', '.join(AGENT_TYPES)}")
    return found


def params_of(kind: AgentType, values: Mapping[str, Any], *, path: str = "$.params") -> Any:
    known = {f.name for f in attrs.fields(kind.params_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NtUserError(f"{path}: agent type {kind.name} has no parameter(s) {', '.join(unknown)}; its parameters "
                          f"are {', '.join(sorted(known)) or 'none'}")
    try:
        made = kind.params_type(**values)
    except (TypeError, ValueError) as exc:
        raise NtUserError(f"{path}: {exc}") from None
    if isinstance(made, TrendParams) and made.fast >= made.slow:
        raise NtUserError(f"{path}.fast ({made.fast}) must be below slow ({made.slow})")
    return made
