"""``alphavantage``: Alpha Vantage daily series (``TIME_SERIES_DAILY``).

Key: ``NT_ALPHAVANTAGE_API_KEY`` (or ``ALPHAVANTAGE_API_KEY``, or ``[plugins.alphavantage] api_key``).
Alpha Vantage reports throttling and errors as HTTP 200 with a ``Note``, ``Information`` or
``Error Message`` key; each becomes an error here (rate limited, plan, key, unknown symbol), never
data. The free plan serves the latest 100 days (``outputsize=compact``); an older start asks for
``full``, which is a premium feature, and says so when refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import numpy as np

from neural_trader.domain.market import Bars, Timeframe
from neural_trader.errors import NtError, NtNotFound, NtRateLimited, NtUserError
from neural_trader.market.provider import BaseProvider, ProviderContext, ProviderHealth
from neural_trader.services.http import (
    NtProviderAuthError,
    NtProviderError,
    NtProviderForbidden,
    ProviderClient,
    RateLimit,
)
from neural_trader_plugins.market_providers import CAPABILITIES
from neural_trader_plugins.market_providers.common import bars_from_columns, credentials, expect

BASE_URL = "https://www.alphavantage.co"
SERIES_KEY = "Time Series (Daily)"
#: ``compact`` holds the latest 100 trading days, about 140 calendar days.
COMPACT_DAYS = 135
_FIELDS = (("open", "1. open"), ("high", "2. high"), ("low", "3. low"), ("close", "4. close"),
           ("volume", "5. volume"))


def classify(response: httpx.Response) -> NtError | None:
    """Alpha Vantage's HTTP-200 errors, named (see the module doc)."""
    if response.status_code != 200:
        return None
    body = response.json()
    if not isinstance(body, dict):
        return None
    if "Error Message" in body:
        symbol = response.request.url.params.get("symbol", "?")
        return NtNotFound(f"provider alphavantage rejected the request for {symbol} (unknown symbol or "
                          f"function): {body['Error Message']}")
    text = body.get("Note") or body.get("Information")
    if not isinstance(text, str):
        return None
    return notice_error(text, "data")


def notice_error(text: str, what: str, *, invalid: str | None = None) -> NtError:
    """The error one of Alpha Vantage's HTTP-200 notices (a ``Note`` or ``Information`` text) stands
    for: the demo key, a premium feature, the burst, per-minute or daily limits. ``what`` names what
    the caller asked for ("data", "news"); ``invalid`` is the message for an "invalid inputs" notice."""
    said = " ".join(text.split())
    lower = said.lower()
    if "demo purposes" in lower or "the **demo** api key" in lower:
        return NtProviderAuthError(f"provider alphavantage: the demo key only serves demo requests; set "
                                   f"NT_ALPHAVANTAGE_API_KEY to your own free key ({said})")
    if invalid is not None and "invalid inputs" in lower:
        return NtUserError(f"{invalid}: {said}")
    if "premium" in lower and ("parameter" in lower or "premium feature" in lower or "premium endpoint" in lower):
        return NtProviderForbidden(f"provider alphavantage: your plan does not include this request ({said})")
    if "spreading out" in lower or "per second" in lower:  # the burst limit (its text also names the daily cap)
        return NtRateLimited(f"provider alphavantage is throttling requests ({said})", retry_after=1.0)
    if "call frequency" in lower or "per minute" in lower:  # the legacy per-minute Note
        return NtRateLimited(f"provider alphavantage is throttling requests ({said})", retry_after=60.0)
    if "per day" in lower or "daily" in lower:
        return NtRateLimited(f"provider alphavantage: the daily request quota is used up ({said})",
                             retry_after=_seconds_to_utc_midnight())
    if "rate limit" in lower:
        return NtRateLimited(f"provider alphavantage is throttling requests ({said})", retry_after=1.0)
    return NtProviderError(f"provider alphavantage answered with a notice instead of {what}: {said}")


def _seconds_to_utc_midnight() -> float:
    now = dt.datetime.now(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


class AlphaVantageProvider(BaseProvider):
    name = "alphavantage"
    capabilities = CAPABILITIES["alphavantage"]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        (self.key,) = credentials(ctx, "alphavantage", ("api_key", "NT_ALPHAVANTAGE_API_KEY",
                                                        "ALPHAVANTAGE_API_KEY", "ALPHA_VANTAGE_API_KEY"))
        values = ctx.plugin_settings("alphavantage")
        self.base_url = str(values.get("base_url") or BASE_URL)
        self.outputsize = values.get("outputsize")  # None: chosen from the start date
        self._client: ProviderClient | None = None

    def status(self) -> ProviderHealth:
        if not self.key:
            return ProviderHealth(configured=False, reason="set NT_ALPHAVANTAGE_API_KEY")
        return ProviderHealth(configured=True, http=self.client.status())

    @property
    def client(self) -> ProviderClient:
        if self._client is None:
            self._client = self.ctx.http.client(
                "alphavantage", base_url=self.base_url, rate=RateLimit(limit=5, per=60.0, burst=2),
                classify=classify, credential_hint="NT_ALPHAVANTAGE_API_KEY")
        return self._client

    async def bars(self, symbol: str, timeframe: Timeframe, start: dt.datetime, end: dt.datetime) -> Bars:
        size = self.outputsize or ("compact" if self.ctx.now() - start <= dt.timedelta(days=COMPACT_DAYS) else "full")
        body = await self.client.get_json("/query", {"function": "TIME_SERIES_DAILY", "symbol": symbol,
                                                     "outputsize": size, "datatype": "json", "apikey": self.key})
        expect(self.name, isinstance(body, dict) and isinstance(body.get(SERIES_KEY), dict),
               f"no {SERIES_KEY!r} object (keys: {', '.join(list(body)[:5]) if isinstance(body, dict) else type(body).__name__})")
        series: dict[str, Any] = body[SERIES_KEY]
        if not series:
            return Bars.empty(symbol, timeframe, self.name)
        try:
            ts = np.array(list(series), dtype="datetime64[D]").astype("datetime64[ns]").view(np.int64)
            columns = {ours: [float(day[theirs]) for day in series.values()] for ours, theirs in _FIELDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise NtProviderError(f"provider alphavantage sent a daily bar of {symbol} this adapter cannot read "
                                  f"({type(exc).__name__}: {exc})") from None
        return bars_from_columns(self.name, symbol, timeframe, ts, columns)
