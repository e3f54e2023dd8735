"""``synthetic``: deterministic generated prices for any symbol and timeframe; no keys, no network.

Every answer is labelled ``provider="synthetic"`` and ``synthetic=true``. The model's parameters
come from ``[plugins.synthetic]`` (``drift``, ``volatility``, ``regimes``, ``turbulence``, ``jumps``,
``jumps_per_year``, ``jump_mean``, ``jump_std``, ``seasonality``, ``start_price``, ``seed``) or
``NT_SYNTHETIC_<KEY>``. Quotes and trades come from the 1-minute path at the requested moment.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from typing import Any

import anyio.to_thread
import attrs

from neural_trader.domain.market import Bars, Quote, Timeframe, Trade, from_ns, to_ns
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.market.provider import BaseProvider, ProviderContext
from neural_trader.market.synthetic import SyntheticModel, SyntheticSeries
from neural_trader_plugins.market_providers import CAPABILITIES

_SPREAD = 1e-4  # half-spread as a fraction of the price
_CACHE = 256  # series kept (their coarse draws are memoized)


def model_from_settings(values: dict[str, Any]) -> SyntheticModel:
    fields = {f.name: f for f in attrs.fields(SyntheticModel)}
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            raise NtUserError(f"unknown synthetic setting {key!r}; known: {', '.join(fields)}")
        default = field.default
        try:
            if isinstance(default, bool):
                changes[key] = str(raw).strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                changes[key] = int(raw)
            else:
                changes[key] = float(raw)
        except (TypeError, ValueError):
            raise NtUserError(f"synthetic setting {key} must be a number, got {raw!r}") from None
    return SyntheticModel(**changes)


class SyntheticProvider(BaseProvider):
    name = "synthetic"
    capabilities = CAPABILITIES["synthetic"]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.model = model_from_settings(ctx.plugin_settings("synthetic"))
        self._series: OrderedDict[tuple[str, Timeframe], SyntheticSeries] = OrderedDict()
        self._lock = threading.Lock()

    def series(self, symbol: str, timeframe: Timeframe) -> SyntheticSeries:
        key = (symbol, timeframe)
        with self._lock:
            found = self._series.get(key)
            if found is None:
                found = self._series[key] = SyntheticSeries(symbol, timeframe, self.model)
                if len(self._series) > _CACHE:
                    self._series.popitem(last=False)
            else:
                self._series.move_to_end(key)
            return found

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        path = self.series(symbol, timeframe)
        return await anyio.to_thread.run_sync(path.bars, start, end)

    def bar_count(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> int:
        return self.series(symbol, timeframe).count(start, end)

    async def bars_tail(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime,
                        limit: int) -> Bars:
        path = self.series(symbol, timeframe)
        return await anyio.to_thread.run_sync(lambda: path.bars(start, end, limit=limit))

    def _moment(self, symbol: str, as_of: dt.datetime | None) -> tuple[float, dt.datetime, Any]:
        """(price, time, three uniforms) at ``as_of`` (default now) on the 1-minute path."""
        path = self.series(symbol, Timeframe.MIN_1)
        at = to_ns(as_of or self.ctx.now())
        index = path.last_bar_index(at)
        if index < 0:
            raise NtNotFound(f"no synthetic price of {symbol} at {from_ns(at):%Y-%m-%d %H:%M}: synthetic history "
                             "starts on 1970-01-05")
        bar = path.bars_by_index(index, index)
        bar_end = int(bar.ts[0]) + Timeframe.MIN_1.nanoseconds
        return float(bar.close[0]), from_ns(min(at, bar_end)), path.quote_draws(index)

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        price, when, u = self._moment(symbol, as_of)
        tick = 0.01 if price >= 1 else 0.0001
        half = max(tick, round(price * _SPREAD / tick) * tick)
        digits = 2 if tick == 0.01 else 4
        return Quote(symbol=symbol, time=when, bid=round(price - half, digits), ask=round(price + half, digits),
                     bid_size=float(100 * (1 + math.floor(u[0] * 20))),
                     ask_size=float(100 * (1 + math.floor(u[1] * 20))), last=price,
                     provider=self.name, synthetic=True)

    async def trade(self, symbol: str, *, as_of: dt.datetime | None = None) -> Trade:
        price, when, u = self._moment(symbol, as_of)
        return Trade(symbol=symbol, time=when, price=price, size=float(100 * (1 + math.floor(u[2] * 10))),
                     exchange=None, provider=self.name, synthetic=True)
