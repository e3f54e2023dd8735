"""What the HTTP adapters share: turning provider records into validated bars, and key lookup."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neural_trader.domain.market import Bars, Timeframe
from neural_trader.errors import NtUserError
from neural_trader.market.provider import ProviderContext
from neural_trader.services.http import NtProviderError

_DAY_NS = 86_400 * 1_000_000_000


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def credentials(ctx: ProviderContext, plugin: str, *pairs: tuple[str, ...]) -> list[str | None]:
    """Each credential from ``[plugins.<plugin>] <key>`` or the first of its environment names.

    ``pairs`` are ``(settings key, ENV_NAME, OTHER_ENV_NAME...)``.
    """
    values = ctx.plugin_settings(plugin)
    out = []
    for key, *env_names in pairs:
        found = values.get(key)
        out.append(str(found) if found else ctx.first_env(*env_names))
    return out


def stamp_day(ts: np.ndarray, timeframe: Timeframe) -> np.ndarray:
    """Daily and longer bars are stamped 00:00 UTC of their trading date, whatever the source sent
    (Alpaca says 05:00Z, midnight in New York), so series from different providers line up."""
    if timeframe.intraday:
        return ts
    return ts - ts % _DAY_NS


def bars_from_columns(provider: str, symbol: str, timeframe: Timeframe, ts: Any, columns: Mapping[str, Any]) -> Bars:
    """Sorted, validated bars from a provider's columns; a bad bar is the provider's error."""
    try:
        t = stamp_day(np.asarray(ts, dtype=np.int64), timeframe)
        order = np.argsort(t, kind="stable")
        cols = {k: np.asarray(v, dtype=np.float64)[order] for k, v in columns.items()}
    except (TypeError, ValueError) as exc:
        raise NtProviderError(f"provider {provider} sent {timeframe.value} bars of {symbol} this adapter "
                              f"cannot read ({exc})") from None
    try:
        return Bars.from_arrays(symbol=symbol, timeframe=timeframe, provider=provider, ts=t[order],
                                open=cols["open"], high=cols["high"], low=cols["low"], close=cols["close"],
                                volume=cols.get("volume"))
    except NtUserError as exc:
        raise NtProviderError(f"provider {provider} sent bad {timeframe.value} bars for {symbol}: {exc.message}",
                              details=exc.details) from None


def records_to_bars(provider: str, symbol: str, timeframe: Timeframe, records: Sequence[Mapping[str, Any]],
                    keys: Mapping[str, str], parse_time: Any) -> Bars:
    """Bars from a list of JSON objects; ``keys`` maps our column names to the provider's."""
    if not records:
        return Bars.empty(symbol, timeframe, provider)
    try:
        ts = [parse_time(r[keys["ts"]]) for r in records]
        cols = {ours: [_number(r[theirs]) for r in records] for ours, theirs in keys.items() if ours != "ts"}
    except (KeyError, TypeError, ValueError) as exc:
        raise NtProviderError(f"provider {provider} sent a bar of {symbol} this adapter cannot read "
                              f"({type(exc).__name__}: {exc})") from None
    return bars_from_columns(provider, symbol, timeframe, ts, cols)


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def expect(provider: str, condition: bool, what: str) -> None:
    """Raise :class:`NtProviderError` unless the payload has the shape we expect."""
    if not condition:
        raise NtProviderError(f"provider {provider} sent an unexpected answer: {what}")
