"""The Finnhub adapter against recorded answers: a quote, the all-zero "unknown symbol" answer,
candles, no data, the premium 403, 401, 429 with Retry-After, 5xx then success, malformed JSON."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from neural_trader.domain.market import Timeframe
from neural_trader.errors import NtNotFound, NtRateLimited, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError, NtProviderForbidden

from .conftest import KEYS, FakeTime, MarketFactory, Replay, recorded

START = dt.datetime(2019, 9, 24, tzinfo=dt.UTC)
END = dt.datetime(2019, 9, 27, tzinfo=dt.UTC)


def _finnhub(make_market: MarketFactory):  # type: ignore[no-untyped-def]
    return make_market(environ=KEYS).provider("finnhub")


async def test_quote(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/quote_AAPL.json"))
    quote = await _finnhub(make_market).quote("AAPL")
    assert quote.last == 182.63 and quote.bid is None and quote.ask is None
    assert quote.time == dt.datetime(2024, 1, 1, tzinfo=dt.UTC) and quote.provider == "finnhub"
    (request,) = replay.requests
    assert request.url.params["symbol"] == "AAPL"
    assert request.headers["X-Finnhub-Token"] == "finnhub-token-value"


async def test_an_unknown_symbol_is_not_found_never_a_price_of_zero(make_market: MarketFactory,
                                                                   replay: Replay) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/quote_unknown_symbol.json"))
    with pytest.raises(NtNotFound, match="unknown symbol"):
        await _finnhub(make_market).quote("NOPE")


async def test_candles(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/stock/candle", recorded("finnhub/stock_candle_AAPL_D.json"))
    bars = await _finnhub(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert bars.close.tolist() == [217.68, 221.03, 219.89]
    assert bars.volume.tolist() == [33463820.0, 24018876.0, 20730608.0]
    assert [t.date().isoformat() for t in bars.times()] == ["2019-09-24", "2019-09-25", "2019-09-26"]
    (request,) = replay.requests
    assert request.url.params["resolution"] == "D"
    assert request.url.params["from"] == str(int(START.timestamp()))


async def test_no_data_is_empty(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/stock/candle", recorded("finnhub/stock_candle_no_data.json"))
    bars = await _finnhub(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert len(bars) == 0


async def test_candles_on_a_free_plan_say_the_plan_does_not_include_them(make_market: MarketFactory,
                                                                         replay: Replay) -> None:
    replay.add("/api/v1/stock/candle", recorded("finnhub/error_403_no_access.json"))
    with pytest.raises(NtProviderForbidden, match="your plan does not include stock candles"):
        await _finnhub(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


async def test_401_names_the_key_to_check(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/error_401_invalid_token.json"))
    with pytest.raises(NtProviderAuthError, match="NT_FINNHUB_API_KEY") as caught:
        await _finnhub(make_market).quote("AAPL")
    assert "finnhub-token-value" not in str(caught.value)


async def test_429_with_retry_after_then_success(make_market: MarketFactory, replay: Replay,
                                                 fake_time: FakeTime) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/error_429_limit.json", headers={"Retry-After": "1"}),
               recorded("finnhub/quote_AAPL.json"))
    quote = await _finnhub(make_market).quote("AAPL")
    assert quote.last == 182.63 and fake_time.sleeps == [1.0]


async def test_429_that_persists(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/error_429_limit.json", headers={"Retry-After": "5"}))
    with pytest.raises(NtRateLimited, match="API limit reached") as caught:
        await _finnhub(make_market).quote("AAPL")
    assert caught.value.retry_after == 5.0


async def test_5xx_then_success(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/quote", httpx.Response(502), recorded("finnhub/quote_AAPL.json"))
    assert (await _finnhub(make_market).quote("AAPL")).last == 182.63


@pytest.mark.parametrize("answer", [
    httpx.Response(200, content=b"{\"c\": 1", headers={"Content-Type": "application/json"}),
    httpx.Response(200, json={"c": "182.63", "t": 1704067200}),
    httpx.Response(200, json={"s": "ok", "t": [1, 2], "o": [1], "h": [1], "l": [1], "c": [1], "v": [1]}),
])
async def test_malformed_answers_are_provider_errors(make_market: MarketFactory, replay: Replay,
                                                     answer: httpx.Response) -> None:
    replay.add("/api/v1/quote", answer)
    replay.add("/api/v1/stock/candle", answer)
    finnhub = _finnhub(make_market)
    with pytest.raises(NtProviderError):
        if "s" in answer.content.decode(errors="replace"):
            await finnhub.bars("AAPL", Timeframe.DAY_1, START, END)
        else:
            await finnhub.quote("AAPL")


async def test_no_point_in_time_quotes(make_market: MarketFactory) -> None:
    with pytest.raises(NtUserError, match="as_of"):
        await _finnhub(make_market).quote("AAPL", as_of=START)
