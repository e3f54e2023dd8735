"""Which providers answer a symbol, in which order: the fallback chain per asset class.

A symbol's class comes from its shape: ``BTC/USD`` is ``crypto``, ``EUR/USD``-like pairs of ISO
currencies are ``fx``, everything else is ``equity``. The chain of a class comes from settings::

    [plugins.market]
    chain = ["alpaca", "finnhub", "alphavantage", "local"]   # every class without its own
    chain_crypto = ["local"]

or ``NT_MARKET_CHAIN=alpaca,local`` / ``NT_MARKET_CHAIN_CRYPTO=local``. The chain is the one default
source of every operation that reads bars (``market.*``, ``backtest.*``, ``optimize.run``,
``walkforward.run``, ``analysis.quick``). Synthetic data ends each default chain, so the embedded
defaults work offline; an answer it serves always says ``synthetic: true`` and carries a warning, so
made-up numbers never stand in for real ones unnoticed. Leave it out of ``chain`` to get an error
instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neural_trader.errors import NtUserError

__all__ = ["DEFAULT_CHAINS", "asset_class", "chains_from_settings"]

#: Chains when settings name none. ``*`` is every class without its own entry.
DEFAULT_CHAINS: dict[str, tuple[str, ...]] = {
    "*": ("alpaca", "finnhub", "alphavantage", "local", "synthetic"),
    "crypto": ("local", "synthetic"),
    "fx": ("local", "synthetic"),
}

_CURRENCIES = frozenset(
    ["USD", "EUR", "JPY", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "HKD", "SGD", "CNH", "CNY", "MXN", "ZAR", "TRY", "PLN", "CZK", "HUF", "KRW", "INR"])


def asset_class(symbol: str) -> str:
    """``crypto``, ``fx`` or ``equity`` from the symbol's shape."""
    if "/" in symbol:
        base, _, quote = symbol.upper().partition("/")
        return "fx" if base in _CURRENCIES and quote in _CURRENCIES else "crypto"
    return "equity"


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in value.replace("->", ",").split(",")]
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise NtUserError(f"market setting {key} must be a list of provider names, got {value!r}")
    names = tuple(v for v in items if v)
    if not names:
        raise NtUserError(f"market setting {key} names no provider")
    return names


def chains_from_settings(values: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The chain of each class: :data:`DEFAULT_CHAINS` overlaid by ``chain`` / ``chain_<class>``."""
    chains = dict(DEFAULT_CHAINS)
    if "chain" in values:
        chains = {"*": _names(values["chain"], "chain")}
    for key, value in values.items():
        if key.startswith("chain_"):
            chains[key[len("chain_"):].lower()] = _names(value, key)
    return chains
