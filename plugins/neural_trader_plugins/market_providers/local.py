"""``local``: the local bar store (``market.download`` fills it); offline, at memory speed.

Answers carry ``provider="local"`` (``market.symbols`` says where each series came from) and keep
the ``synthetic`` mark of synthetic downloads. A quote is the last stored close at or before the
moment asked for (no bid or ask), from the finest timeframe stored.
"""

from __future__ import annotations

import datetime as dt

import anyio.to_thread
import numpy as np

from neural_trader.domain.market import Bars, Quote, Timeframe, from_ns, to_ns
from neural_trader.errors import NtNotFound
from neural_trader.market.provider import BaseProvider, ProviderContext
from neural_trader_plugins.market_providers import CAPABILITIES


class LocalProvider(BaseProvider):
    name = "local"
    capabilities = CAPABILITIES["local"]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        stored = await anyio.to_thread.run_sync(self.store.load, symbol, timeframe)
        if stored is None:
            raise NtNotFound(f"the local store has no {timeframe.value} bars of {symbol}; "
                             "market.download saves them")
        found = stored.between(start, end)
        if not len(found) and len(stored):
            raise NtNotFound(f"the local store's {timeframe.value} bars of {symbol} run from "
                             f"{stored.first:%Y-%m-%d %H:%M} to {stored.last:%Y-%m-%d %H:%M}; none fall "
                             f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}")
        return found

    def bar_count(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> int | None:
        stored = self.store.load(symbol, timeframe, mmap=True)  # maps the file: reads only the pages touched
        if stored is None:
            return None
        return len(stored.between(start, end))

    async def bars_tail(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime,
                        limit: int) -> Bars:
        found = await self.bars(symbol, timeframe, start, end)
        return found.tail(limit)

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        at = to_ns(as_of or self.ctx.now())
        for tf in Timeframe:  # finest first
            stored = self.store.load(symbol, tf, mmap=True)
            if stored is None or not len(stored):
                continue
            i = int(np.searchsorted(stored.ts, at, side="right")) - 1
            if i < 0:
                continue
            bar_end = int(stored.ts[i]) + tf.nanoseconds
            return Quote(symbol=symbol, time=from_ns(min(at, bar_end)), last=float(stored.close[i]),
                         provider=self.name, synthetic=stored.synthetic)
        raise NtNotFound(f"the local store has no bars of {symbol} at or before {from_ns(at):%Y-%m-%d %H:%M}; "
                         "market.download saves them")
