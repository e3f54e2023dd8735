"""The built-in strategies, registered exactly as a third-party pack registers its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.strategies import builtin_strategies


@hookimpl
def nt_register_strategies(register: Callable[[Any], None]) -> None:
    for strategy in builtin_strategies():
        register(strategy)
