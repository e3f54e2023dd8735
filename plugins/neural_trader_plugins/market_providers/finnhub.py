"""``finnhub``: Finnhub quotes (free) and stock candles (a premium endpoint).

Key: ``NT_FINNHUB_API_KEY`` (or ``FINNHUB_API_KEY``, or ``[plugins.finnhub] api_key``), sent as the
``X-Finnhub-Token`` header. Finnhub answers an unknown symbol with HTTP 200 and zeros: that is "not
found", never a price of 0. Candles answer 403 on free plans: that becomes a clear "your plan does not
include this" error. Finnhub quotes carry the last price only (no bid or ask).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from neural_trader.domain.market import Bars, Quote, Timeframe
from neural_trader.errors import NtNotFound
from neural_trader.market.provider import BaseProvider, ProviderContext, ProviderHealth
from neural_trader.services.http import NtProviderError, NtProviderForbidden, ProviderClient, RateLimit
from neural_trader_plugins.market_providers import CAPABILITIES
from neural_trader_plugins.market_providers.common import bars_from_columns, credentials, expect

BASE_URL = "https://finnhub.io/api/v1"
RESOLUTIONS = {Timeframe.MIN_1: "1", Timeframe.MIN_5: "5", Timeframe.MIN_15: "15", Timeframe.MIN_30: "30",
               Timeframe.HOUR_1: "60", Timeframe.DAY_1: "D", Timeframe.WEEK_1: "W", Timeframe.MONTH_1: "M"}


class FinnhubProvider(BaseProvider):
    name = "finnhub"
    capabilities = CAPABILITIES["finnhub"]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        (self.key,) = credentials(ctx, "finnhub", ("api_key", "NT_FINNHUB_API_KEY", "FINNHUB_API_KEY"))
        self.base_url = str(ctx.plugin_settings("finnhub").get("base_url") or BASE_URL)
        self._client: ProviderClient | None = None

    def status(self) -> ProviderHealth:
        if not self.key:
            return ProviderHealth(configured=False, reason="set NT_FINNHUB_API_KEY")
        return ProviderHealth(configured=True, http=self.client.status())

    @property
    def client(self) -> ProviderClient:
        if self._client is None:
            self._client = self.ctx.http.client(
                "finnhub", base_url=self.base_url, headers={"X-Finnhub-Token": self.key or ""},
                rate=RateLimit.per_minute(60), credential_hint="NT_FINNHUB_API_KEY")
        return self._client

    async def quote(self, symbol: str, *, as_of: dt.datetime | None = None) -> Quote:
        self._no_as_of(as_of)
        body = await self.client.get_json("/quote", {"symbol": symbol})
        expect(self.name, isinstance(body, dict) and "c" in body and "t" in body, "a quote without 'c' and 't'")
        price, stamp = _number(body["c"]), _number(body["t"])
        if not price or not stamp:  # Finnhub's "unknown symbol": HTTP 200 and zeros
            raise NtNotFound(f"provider finnhub has no quote for {symbol} (it answered with zeros: unknown symbol)")
        if price < 0:
            raise NtProviderError(f"provider finnhub sent a negative price for {symbol}: {price}")
        return Quote(symbol=symbol, time=dt.datetime.fromtimestamp(stamp, dt.UTC), last=price, provider=self.name)

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        params = {"symbol": symbol, "resolution": RESOLUTIONS[timeframe], "from": int(start.timestamp()),
                  "to": int(end.timestamp())}
        try:
            body = await self.client.get_json("/stock/candle", params)
        except NtProviderForbidden as exc:
            raise NtProviderForbidden(
                "provider finnhub: your plan does not include stock candles (a premium endpoint); use "
                "another provider for bars (alpaca, alphavantage, local) or upgrade the Finnhub plan",
                details=exc.details) from None
        expect(self.name, isinstance(body, dict) and "s" in body, "a candle answer without 's'")
        if body["s"] == "no_data":
            return Bars.empty(symbol, timeframe, self.name)
        expect(self.name, body["s"] == "ok", f"candle status {body['s']!r}")
        try:
            columns = {ours: body[theirs] for ours, theirs in
                       (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "v"))}
            ts = [int(t) * 1_000_000_000 for t in body["t"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise NtProviderError(f"provider finnhub sent candles of {symbol} this adapter cannot read ({exc})") from None
        lengths = {len(ts), *(len(v) for v in columns.values())}
        expect(self.name, len(lengths) == 1, "candle columns of different lengths")
        return bars_from_columns(self.name, symbol, timeframe, ts, columns)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NtProviderError(f"provider finnhub sent {value!r} where a number belongs")
    return float(value)
