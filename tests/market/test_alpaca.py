"""The Alpaca adapter against recorded answers: pagination, multi-symbol, latest quote and trade,
empty results, every error status, Retry-After, 5xx then success, malformed JSON.

Each case ends in the recorded numbers or in a clear error, never in a wrong number.
"""

from __future__ import annotations

import datetime as dt

import httpx
import numpy as np
import pytest

from neural_trader.domain.market import Timeframe
from neural_trader.errors import NtNotFound, NtRateLimited, NtUnavailable, NtUserError
from neural_trader.services.http import NtProviderAuthError, NtProviderError, NtProviderForbidden

from .conftest import KEYS, FakeTime, MarketFactory, Replay, recorded

BARS = "/v2/stocks/AAPL/bars"
START = dt.datetime(2022, 2, 1, tzinfo=dt.UTC)
END = dt.datetime(2022, 2, 4, tzinfo=dt.UTC)


def _alpaca(make_market: MarketFactory, **env: str):  # type: ignore[no-untyped-def]
    return make_market(environ={**KEYS, **env}).provider("alpaca")


async def test_bars_follow_page_tokens_to_the_end(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(BARS, recorded("alpaca/bars_AAPL_page1.json"), recorded("alpaca/bars_AAPL_page2.json"))
    bars = await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)

    assert bars.provider == "alpaca" and not bars.synthetic
    assert bars.close.tolist() == [174.61, 175.84, 172.9]
    assert bars.open.tolist() == [174.0, 174.64, 174.48]
    assert bars.volume.tolist() == [85998033.0, 84817432.0, 89418074.0]
    # Alpaca stamps daily bars 05:00Z (midnight in New York); we stamp 00:00 UTC of the date.
    assert [t.isoformat() for t in bars.times()] == [
        "2022-02-01T00:00:00+00:00", "2022-02-02T00:00:00+00:00", "2022-02-03T00:00:00+00:00"]
    first, second = replay.hits(BARS)
    assert "page_token" not in first.url.params
    assert second.url.params["page_token"] == "QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg=="
    assert first.url.params["timeframe"] == "1Day" and first.url.params["feed"] == "iex"
    assert first.url.params["adjustment"] == "raw" and first.url.params["start"] == "2022-02-01T00:00:00Z"
    assert first.headers["APCA-API-KEY-ID"] == "alpaca-key-id"
    assert first.headers["APCA-API-SECRET-KEY"] == "alpaca-secret-value"


@pytest.mark.parametrize("body", [None, "recorded"])
async def test_empty_bars_are_empty_not_an_error(make_market: MarketFactory, replay: Replay, body: str | None) -> None:
    answer = recorded("alpaca/bars_empty.json") if body else httpx.Response(
        200, json={"bars": None, "symbol": "AAPL", "next_page_token": None})
    replay.add(BARS, answer)
    bars = await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert len(bars) == 0 and bars.provider == "alpaca"


async def test_several_symbols_in_one_request(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/bars", recorded("alpaca/bars_multi.json"))
    found = await _alpaca(make_market).bars_many(["AAPL", "TSLA"], Timeframe.DAY_1, START, END)
    assert found["AAPL"].close.tolist() == [162.95] and found["TSLA"].close.tolist() == [858.97]
    assert found["TSLA"].high.tolist() == [860.56]
    (request,) = replay.hits("/v2/stocks/bars")
    assert request.url.params["symbols"] == "AAPL,TSLA"


async def test_latest_quote_and_trade(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/AAPL/quotes/latest", recorded("alpaca/latest_quote_AAPL.json"))
    replay.add("/v2/stocks/AAPL/trades/latest", recorded("alpaca/latest_trade_AAPL.json"))
    alpaca = _alpaca(make_market)
    quote = await alpaca.quote("AAPL")
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (165.5, 170.34, 1.0, 1.0)
    assert quote.time == dt.datetime(2022, 4, 12, 17, 16, 36, 390749, tzinfo=dt.UTC)
    assert quote.provider == "alpaca" and quote.last is None
    trade = await alpaca.trade("AAPL")
    assert (trade.price, trade.size, trade.exchange) == (166.81, 300.0, "V")


async def test_latest_quotes_and_trades_of_several_symbols(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/quotes/latest", recorded("alpaca/latest_quotes_multi.json"))
    replay.add("/v2/stocks/trades/latest", recorded("alpaca/latest_trades_multi.json"))
    alpaca = _alpaca(make_market)
    quotes = await alpaca.quotes(["AAPL"])
    assert (quotes["AAPL"].bid, quotes["AAPL"].ask) == (161.1, 161.11)
    trades = await alpaca.trades(["AAPL", "TSLA"])
    assert trades["AAPL"].price == 161.2958 and trades["TSLA"].price == 720.19


async def test_the_sip_feed_and_alpacas_own_key_names(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/AAPL/quotes/latest", recorded("alpaca/latest_quote_AAPL.json"))
    market = make_market(environ={"APCA_API_KEY_ID": "id-from-apca", "APCA_API_SECRET_KEY": "secret-from-apca",
                                  "NT_ALPACA_FEED": "sip"})
    await market.provider("alpaca").quote("AAPL")
    (request,) = replay.requests
    assert request.url.params["feed"] == "sip"
    assert request.headers["APCA-API-KEY-ID"] == "id-from-apca"


def test_an_unknown_feed_is_refused(make_market: MarketFactory) -> None:
    with pytest.raises(NtUserError, match="iex, sip"):
        make_market(environ={**KEYS, "NT_ALPACA_FEED": "nasdaq"}).provider("alpaca")


def test_without_keys_it_is_not_configured(make_market: MarketFactory) -> None:
    health = make_market(environ={}).status("alpaca")
    assert not health.configured and "NT_ALPACA_API_KEY" in (health.reason or "")


@pytest.mark.parametrize(("name", "error", "words"), [
    ("alpaca/error_401_unauthorized.json", NtProviderAuthError, "NT_ALPACA_API_KEY"),
    ("alpaca/error_403_insufficient_buying_power.json", NtProviderForbidden, "HTTP 403"),
    ("alpaca/error_404_order_not_found.json", NtNotFound, "HTTP 404"),
    ("alpaca/error_422_stop_price.json", NtUserError, "HTTP 422"),
])
async def test_error_statuses_become_clear_errors(make_market: MarketFactory, replay: Replay, name: str,
                                                  error: type[Exception], words: str) -> None:
    replay.add(BARS, recorded(name))
    with pytest.raises(error, match=words) as caught:
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert "alpaca-secret-value" not in str(caught.value)
    assert len(replay.hits(BARS)) == 1  # a 4xx is not retried


async def test_429_waits_retry_after_then_answers(make_market: MarketFactory, replay: Replay,
                                                  fake_time: FakeTime) -> None:
    replay.add(BARS, recorded("alpaca/error_429_rate_limited.json", headers={"Retry-After": "3"}),
               recorded("alpaca/bars_AAPL_page2.json"))
    bars = await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert bars.close.tolist() == [172.9]
    assert fake_time.sleeps == [3.0]


async def test_429_that_persists_is_a_rate_limit_error_with_retry_after(make_market: MarketFactory,
                                                                        replay: Replay) -> None:
    replay.add(BARS, recorded("alpaca/error_429_rate_limited.json", headers={"Retry-After": "2"}))
    with pytest.raises(NtRateLimited) as caught:
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert caught.value.retry_after == 2.0
    assert len(replay.hits(BARS)) == 4  # the first try and three retries


async def test_5xx_then_success(make_market: MarketFactory, replay: Replay, fake_time: FakeTime) -> None:
    replay.add(BARS, httpx.Response(503, text="upstream busy"), httpx.Response(502),
               recorded("alpaca/bars_AAPL_page2.json"))
    bars = await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)
    assert bars.close.tolist() == [172.9] and len(fake_time.sleeps) == 2


async def test_5xx_that_persists_is_unavailable(make_market: MarketFactory, replay: Replay) -> None:
    replay.add(BARS, httpx.Response(500))
    with pytest.raises(NtUnavailable, match="HTTP 500"):
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


@pytest.mark.parametrize("content", [b"{\"bars\": [", b"<html>gateway</html>", b""])
async def test_malformed_json_is_a_provider_error(make_market: MarketFactory, replay: Replay, content: bytes) -> None:
    replay.add(BARS, httpx.Response(200, content=content, headers={"Content-Type": "application/json"}))
    with pytest.raises(NtProviderError, match="malformed JSON"):
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


@pytest.mark.parametrize("body", [
    {"symbol": "AAPL"},  # no bars key
    {"bars": [{"t": "2022-02-01T05:00:00Z", "o": 1, "h": 2, "l": 0.5}], "next_page_token": None},  # no close
    {"bars": [{"t": "2022-02-01T05:00:00Z", "o": "x", "h": 2, "l": 0.5, "c": 1, "v": 1}], "next_page_token": None},
    {"bars": {"AAPL": []}, "next_page_token": None},  # the multi-symbol shape on the single endpoint
])
async def test_payloads_of_the_wrong_shape_are_errors(make_market: MarketFactory, replay: Replay,
                                                      body: dict[str, object]) -> None:
    replay.add(BARS, httpx.Response(200, json=body))
    with pytest.raises(NtProviderError, match="alpaca"):
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


async def test_a_bar_that_breaks_ohlc_is_refused_not_passed_on(make_market: MarketFactory, replay: Replay) -> None:
    bad = {"bars": [{"t": "2022-02-01T05:00:00Z", "o": 10, "h": 9, "l": 8, "c": 9.5, "v": 100}],
           "next_page_token": None}
    replay.add(BARS, httpx.Response(200, json=bad))
    with pytest.raises(NtProviderError, match=r"high 9\.0 is below"):
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


async def test_a_repeated_page_token_stops_instead_of_looping(make_market: MarketFactory, replay: Replay) -> None:
    page = {"bars": [], "symbol": "AAPL", "next_page_token": "same"}
    replay.add(BARS, httpx.Response(200, json=page))
    with pytest.raises(NtProviderError, match="repeated"):
        await _alpaca(make_market).bars("AAPL", Timeframe.DAY_1, START, END)


async def test_intraday_bars_keep_their_minutes(make_market: MarketFactory, replay: Replay) -> None:
    body = {"bars": [{"t": "2024-03-01T14:30:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10},
                     {"t": "2024-03-01T14:31:00Z", "o": 1.5, "h": 2, "l": 1, "c": 1.2, "v": 0}],
            "next_page_token": None}
    replay.add(BARS, httpx.Response(200, json=body))
    bars = await _alpaca(make_market).bars("AAPL", Timeframe.MIN_1, START, END)
    assert np.diff(bars.ts).tolist() == [60_000_000_000]
    assert bars.first == dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.UTC)


async def test_downloading_several_symbols_is_one_request(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/bars", recorded("alpaca/bars_multi.json"))
    market = make_market()
    outcomes = await market.download_many(["AAPL", "TSLA", "MSFT"], Timeframe.DAY_1, START,
                                          dt.datetime(2022, 3, 31, tzinfo=dt.UTC), provider="alpaca")
    assert len(replay.requests) == 1
    saved = {s: o for s, o in outcomes}
    assert saved["AAPL"][1].rows == 1 and saved["TSLA"][0].close.tolist() == [858.97]  # type: ignore[index]
    assert isinstance(saved["MSFT"], NtNotFound)
    assert market.store.load("TSLA", "1Day").close.tolist() == [858.97]  # type: ignore[union-attr]
