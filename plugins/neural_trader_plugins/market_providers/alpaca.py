"""``alpaca``: Alpaca market data v2 (US equities): historical bars with ``page_token`` pagination,
latest quote and trade, several symbols in one request, the ``iex`` or ``sip`` feed.

Keys: ``NT_ALPACA_API_KEY`` and ``NT_ALPACA_API_SECRET`` (or Alpaca's own ``APCA_API_KEY_ID`` and
``APCA_API_SECRET_KEY``, or ``[plugins.alpaca] api_key/api_secret``). ``NT_ALPACA_FEED``: ``iex``
(default, free) or ``sip`` (paid). ``NT_ALPACA_DATA_URL`` overrides the host. Bars are split-raw
(``adjustment=raw``); daily and longer bars are stamped 00:00 UTC of their date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote as urlquote

import numpy as np

from neural_trader.domain.market import Bars, Quote, Timeframe, Trade, concat_bars
from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.market.provider import BaseProvider, ProviderContext, ProviderHealth
from neural_trader.serde import parse_datetime
from neural_trader.services.http import NtProviderError, ProviderClient, RateLimit
from neural_trader_plugins.market_providers import CAPABILITIES
from neural_trader_plugins.market_providers.common import credentials, expect, records_to_bars, rfc3339

DATA_URL = "https://data.alpaca.markets"
FEEDS = ("iex", "sip")
PAGE_LIMIT = 10_000  # Alpaca's maximum per page
MAX_PAGES = 1_000
_KEYS = {"ts": "t", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}


def _time(value: Any) -> int:
    from neural_trader.domain.market import to_ns

    return to_ns(parse_datetime(value))


class AlpacaProvider(BaseProvider):
    name = "alpaca"
    capabilities = CAPABILITIES["alpaca"]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.key, self.secret = credentials(
            ctx, "alpaca", ("api_key", "NT_ALPACA_API_KEY", "APCA_API_KEY_ID"),
            ("api_secret", "NT_ALPACA_API_SECRET", "APCA_API_SECRET_KEY"))
        values = ctx.plugin_settings("alpaca")
        self.feed = str(values.get("feed") or "iex").lower()
        if self.feed not in FEEDS:
            raise NtUserError(f"NT_ALPACA_FEED must be one of {', '.join(FEEDS)}, got {self.feed!r}")
        self.base_url = str(values.get("data_url") or DATA_URL)
        self._client: ProviderClient | None = None

    def status(self) -> ProviderHealth:
        if not (self.key and self.secret):
            return ProviderHealth(configured=False,
                                  reason="set NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET (or APCA_API_KEY_ID and "
                                         "APCA_API_SECRET_KEY)")
        return ProviderHealth(configured=True, http=self.client.status())

    @property
    def client(self) -> ProviderClient:
        if self._client is None:
            self._client = self.ctx.http.client(
                "alpaca", base_url=self.base_url,
                headers={"APCA-API-KEY-ID": self.key or "", "APCA-API-SECRET-KEY": self.secret or ""},
                rate=RateLimit.per_minute(200), credential_hint="NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET")
        return self._client

    def _params(self, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        return {"timeframe": timeframe.value, "start": rfc3339(start), "end": rfc3339(end),
                "limit": PAGE_LIMIT, "feed": self.feed, "adjustment": "raw"}

    async def _pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every page of a paginated answer, following ``next_page_token``."""
        pages, token, seen = [], None, set()
        for _ in range(MAX_PAGES):
            body = await self.client.get_json(path, {**params, "page_token": token} if token else params)
            expect(self.name, isinstance(body, dict) and "bars" in body, f"no 'bars' in the answer to {path}")
            pages.append(body["bars"])
            token = body.get("next_page_token")
            if not token:
                return pages
            expect(self.name, token not in seen, f"page token {token!r} repeated")
            seen.add(token)
        raise NtProviderError(f"provider alpaca returned more than {MAX_PAGES} pages for {path}; ask for a "
                              "shorter range")

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        pages = await self._pages(f"/v2/stocks/{urlquote(symbol, safe='')}/bars", self._params(timeframe, start, end))
        parts = []
        for page in pages:
            expect(self.name, page is None or isinstance(page, list), "'bars' is not a list")
            parts.append(records_to_bars(self.name, symbol, timeframe, page or [], _KEYS, _time))
        return _join(parts, symbol, timeframe)

    async def bars_many(self, symbols: Sequence[str], timeframe: Timeframe, start: dt.datetime,
                        end: dt.datetime) -> dict[str, Bars]:
        params = {**self._params(timeframe, start, end), "symbols": ",".join(symbols)}
        pages = await self._pages("/v2/stocks/bars", params)
        found: dict[str, list[Bars]] = {s: [] for s in symbols}
        for page in pages:
            expect(self.name, page is None or isinstance(page, dict), "'bars' of a multi-symbol answer is not an object")
            for symbol, records in (page or {}).items():
                found.setdefault(symbol, []).append(records_to_bars(self.name, symbol, timeframe, records or [],
                                                                    _KEYS, _time))
        return {s: _join(parts, s, timeframe) for s, parts in found.items()}

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        self._no_as_of(as_of)
        body = await self.client.get_json(f"/v2/stocks/{urlquote(symbol, safe='')}/quotes/latest", {"feed": self.feed})
        expect(self.name, isinstance(body, dict) and isinstance(body.get("quote"), dict), "no 'quote' object")
        return self._quote(symbol, body["quote"])

    async def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        body = await self.client.get_json("/v2/stocks/quotes/latest", {"symbols": ",".join(symbols), "feed": self.feed})
        expect(self.name, isinstance(body, dict) and isinstance(body.get("quotes"), dict), "no 'quotes' object")
        return {s: self._quote(s, q) for s, q in body["quotes"].items()}

    def _quote(self, symbol: str, q: dict[str, Any]) -> Quote:
        try:
            bid, ask = float(q["bp"]), float(q["ap"])
            quote = Quote(symbol=symbol, time=parse_datetime(q["t"]), bid=bid or None, ask=ask or None,
                          bid_size=float(q["bs"]), ask_size=float(q["as"]), provider=self.name)
        except (KeyError, TypeError, ValueError) as exc:
            raise NtProviderError(f"provider alpaca sent a quote of {symbol} this adapter cannot read ({exc})") from None
        if quote.bid is None and quote.ask is None:
            raise NtNotFound(f"provider alpaca has no quote for {symbol} on the {self.feed} feed")
        return quote

    async def trade(self, symbol: str, *, as_of: dt.datetime | None = None) -> Trade:
        self._no_as_of(as_of)
        body = await self.client.get_json(f"/v2/stocks/{urlquote(symbol, safe='')}/trades/latest", {"feed": self.feed})
        expect(self.name, isinstance(body, dict) and isinstance(body.get("trade"), dict), "no 'trade' object")
        return self._trade(symbol, body["trade"])

    async def trades(self, symbols: Sequence[str]) -> dict[str, Trade]:
        body = await self.client.get_json("/v2/stocks/trades/latest", {"symbols": ",".join(symbols), "feed": self.feed})
        expect(self.name, isinstance(body, dict) and isinstance(body.get("trades"), dict), "no 'trades' object")
        return {s: self._trade(s, t) for s, t in body["trades"].items()}

    def _trade(self, symbol: str, t: dict[str, Any]) -> Trade:
        try:
            price = float(t["p"])
            trade = Trade(symbol=symbol, time=parse_datetime(t["t"]), price=price, size=float(t["s"]),
                          exchange=t.get("x"), provider=self.name)
        except (KeyError, TypeError, ValueError) as exc:
            raise NtProviderError(f"provider alpaca sent a trade of {symbol} this adapter cannot read ({exc})") from None
        if not price > 0:
            raise NtNotFound(f"provider alpaca has no trade for {symbol} on the {self.feed} feed")
        return trade


def _join(parts: list[Bars], symbol: str, timeframe: Timeframe) -> Bars:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Bars.empty(symbol, timeframe, "alpaca")
    joined = concat_bars(parts)
    if len(joined) > 1 and not bool(np.all(np.diff(joined.ts) > 0)):
        raise NtProviderError(f"provider alpaca sent overlapping pages of {symbol} bars")
    return joined
