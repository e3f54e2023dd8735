"""Trading strategies: the contract (:mod:`.base`) and the built-ins.

The built-ins are registered like any plugin's, by ``neural_trader_plugins.strategies`` through
``nt_register_strategies``; a host lists them in ``host.registry("strategies")``. Rules and
parameters of each: docs/strategies.md.
"""

from neural_trader.strategies.adaptive import Adaptive
from neural_trader.strategies.base import BarsLike, Strategy, StrategyLike
from neural_trader.strategies.breakout import Breakout
from neural_trader.strategies.ensemble import Ensemble
from neural_trader.strategies.mean_reversion import MeanReversion
from neural_trader.strategies.momentum import Momentum
from neural_trader.strategies.multi_indicator import MultiIndicator
from neural_trader.strategies.pairs_trading import PairsTrading
from neural_trader.strategies.sma_crossover import SmaCrossover
from neural_trader.strategies.trend_following import TrendFollowing

#: The built-in strategy classes, in the order listings show them.
BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (
    SmaCrossover, Momentum, MeanReversion, Breakout, TrendFollowing, PairsTrading, MultiIndicator, Adaptive,
    Ensemble,
)


def builtin_strategies() -> list[Strategy]:
    """One instance of each built-in strategy."""
    return [cls() for cls in BUILTIN_STRATEGIES]


__all__ = [
    "BUILTIN_STRATEGIES", "Adaptive", "BarsLike", "Breakout", "Ensemble", "MeanReversion", "Momentum",
    "MultiIndicator", "PairsTrading", "SmaCrossover", "Strategy", "StrategyLike", "TrendFollowing",
    "builtin_strategies",
]
