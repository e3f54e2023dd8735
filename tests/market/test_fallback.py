"""The fallback chain: unconfigured providers are skipped, a failing or breaker-open provider falls
through to the next, every answer names who served it, and a chain that runs dry says why for
each provider."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from neural_trader.domain.market import Timeframe
from neural_trader.errors import NtNotFound, NtUnavailable, NtUserError
from neural_trader.market.files import read_bars
from neural_trader.market.routing import asset_class, chains_from_settings

from .conftest import DATA, KEYS, MarketFactory, Replay, recorded

OLD = dt.datetime(2020, 8, 1, tzinfo=dt.UTC)
END = dt.datetime(2020, 9, 1, tzinfo=dt.UTC)
FAST_FAIL = {"alpaca": {"breaker_failures": "1", "max_retries": "0"}}


async def test_a_breaker_open_provider_falls_through_without_a_request(make_market: MarketFactory,
                                                                       replay: Replay) -> None:
    replay.add("/v2/stocks/IBM/bars", httpx.Response(503))
    replay.add("/api/v1/stock/candle", recorded("finnhub/error_403_no_access.json"))
    replay.add("/query", recorded("alphavantage/time_series_daily_IBM.json"))
    market = make_market(plugins=FAST_FAIL)

    first = await market.bars("IBM", Timeframe.DAY_1, OLD, END)
    assert first.provider == "alphavantage" and first.close.tolist() == [125.07, 123.31]
    assert len(replay.hits("/v2/stocks/IBM/bars")) == 1
    health = market.status("alpaca")
    assert health.http is not None and health.http.breaker.state == "open"

    second = await market.bars("IBM", Timeframe.DAY_1, OLD - dt.timedelta(days=1), END)  # not cached
    assert second.provider == "alphavantage"
    assert len(replay.hits("/v2/stocks/IBM/bars")) == 1  # the open breaker sent nothing
    assert market.status("alpaca").http.refused == 1  # type: ignore[union-attr]


async def test_a_rate_limited_provider_falls_through(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/v2/stocks/IBM/bars", recorded("alpaca/error_429_rate_limited.json", headers={"Retry-After": "1"}))
    replay.add("/api/v1/stock/candle", recorded("finnhub/stock_candle_AAPL_D.json"))
    market = make_market(plugins=FAST_FAIL)
    bars = await market.bars("IBM", Timeframe.DAY_1, OLD, END)
    assert bars.provider == "finnhub" and len(replay.hits("/query")) == 0


async def test_unconfigured_providers_are_skipped_and_the_store_answers(make_market: MarketFactory,
                                                                        replay: Replay) -> None:
    market = make_market(environ={})
    market.store.save(read_bars(DATA / "orcl-1995-2014.txt"))
    bars = await market.bars("ORCL", Timeframe.DAY_1, dt.datetime(2014, 1, 1, tzinfo=dt.UTC),
                             dt.datetime(2014, 12, 31, tzinfo=dt.UTC))
    assert bars.provider == "local" and len(bars) == 252 and replay.requests == []
    quote = await market.quote("ORCL")
    assert quote.provider == "local" and quote.last == 44.970001 and quote.bid is None


REAL_CHAIN = {"market": {"chain": "alpaca,finnhub,alphavantage,local"}}


async def test_a_dry_chain_names_every_provider_and_the_way_out(make_market: MarketFactory) -> None:
    market = make_market(environ={}, plugins=REAL_CHAIN)
    with pytest.raises(NtNotFound) as caught:
        await market.bars("ZZZ", Timeframe.DAY_1, OLD, END)
    message = str(caught.value)
    assert "alpaca: not configured: set NT_ALPACA_API_KEY" in message
    assert "finnhub: not configured" in message and "alphavantage: not configured" in message
    assert "local: the local store has no 1Day bars of ZZZ" in message
    attempts = caught.value.details["attempts"]
    assert [a["provider"] for a in attempts] == ["alpaca", "finnhub", "alphavantage", "local"]


async def test_with_nothing_configured_the_default_chain_ends_in_labelled_synthetic_data(
        make_market: MarketFactory) -> None:
    market = make_market(environ={})
    assert market.chain("SPY")[-1] == "synthetic" and market.chain("BTC/USD") == ("local", "synthetic")
    bars = await market.bars("SPY", Timeframe.DAY_1, OLD, END)
    assert bars.provider == "synthetic" and bars.synthetic and len(bars)
    assert (await market.quote("SPY")).synthetic


async def test_when_synthetic_is_left_out_of_the_chain_the_error_says_how_to_get_it(
        make_market: MarketFactory) -> None:
    market = make_market(environ={}, plugins={"market": {"chain": "alpaca,finnhub"}})
    with pytest.raises(NtUnavailable, match="put 'synthetic' in the chain"):
        await market.quote("AAPL")


async def test_synthetic_never_stands_in_for_a_provider_that_failed(make_market: MarketFactory,
                                                                     replay: Replay) -> None:
    replay.add("/v2/stocks/IBM/bars", httpx.Response(500))
    replay.add("/api/v1/stock/candle", recorded("finnhub/error_403_no_access.json"))
    replay.add("/query", recorded("alphavantage/error_invalid_call.json"))
    market = make_market(plugins=FAST_FAIL)
    with pytest.raises(NtUnavailable) as caught:
        await market.bars("IBM", Timeframe.DAY_1, OLD, END)
    kinds = {a["provider"]: a["error"] for a in caught.value.details["attempts"]}
    assert kinds == {"alpaca": "unavailable", "finnhub": "provider_forbidden", "alphavantage": "not_found",
                     "local": "not_found", "synthetic": None}
    reasons = {a["provider"]: a["reason"] for a in caught.value.details["attempts"]}
    assert "alpaca, finnhub, alphavantage failed" in reasons["synthetic"]


async def test_quotes_skip_providers_without_quotes(make_market: MarketFactory, replay: Replay) -> None:
    replay.add("/api/v1/quote", recorded("finnhub/quote_AAPL.json"))
    market = make_market(environ={"NT_FINNHUB_API_KEY": "k-123456"})
    quote = await market.quote("AAPL")
    assert quote.provider == "finnhub" and quote.last == 182.63


async def test_as_of_skips_providers_that_only_know_now(make_market: MarketFactory, replay: Replay) -> None:
    market = make_market()
    market.store.save(read_bars(DATA / "orcl-1995-2014.txt"))
    quote = await market.quote("ORCL", as_of=dt.datetime(2000, 3, 1, 18, tzinfo=dt.UTC))
    assert quote.provider == "local" and replay.requests == []
    assert quote.time == dt.datetime(2000, 3, 1, 18, tzinfo=dt.UTC)


async def test_crypto_symbols_use_their_own_chain(make_market: MarketFactory, replay: Replay) -> None:
    market = make_market(plugins={"market": {"chain_crypto": "local"}})
    assert market.chain("BTC/USD") == ("local",) and asset_class("EUR/USD") == "fx"
    with pytest.raises(NtNotFound, match="local: the local store has no"):
        await market.bars("BTC/USD", Timeframe.DAY_1, OLD, END)
    assert replay.requests == []


def test_chains_from_settings() -> None:
    chains = chains_from_settings({"chain": "alpaca -> local", "chain_crypto": ["csv", "local"]})
    assert chains == {"*": ("alpaca", "local"), "crypto": ("csv", "local")}
    with pytest.raises(NtUserError, match="names no provider"):
        chains_from_settings({"chain": " , "})


async def test_an_unknown_provider_lists_the_available_ones(make_market: MarketFactory) -> None:
    with pytest.raises(NtNotFound, match="available: alpaca, alphavantage, csv, finnhub, local, synthetic"):
        await make_market().bars("AAPL", Timeframe.DAY_1, OLD, END, provider="yahoo")


async def test_explicit_providers_say_why_they_cannot(make_market: MarketFactory) -> None:
    market = make_market(environ={})
    with pytest.raises(NtUnavailable, match="provider alpaca is not configured: set NT_ALPACA_API_KEY"):
        await market.quote("AAPL", provider="alpaca")
    with pytest.raises(NtUserError, match="provider alphavantage does not serve quotes"):
        await market.quote("AAPL", provider="alphavantage")
    with pytest.raises(NtUserError, match="provider alphavantage has no 1Min bars"):
        await market.bars("AAPL", Timeframe.MIN_1, OLD, END, provider="alphavantage")
    with pytest.raises(NtUserError, match="as_of is supported by local, synthetic"):
        await make_market(environ=KEYS).quote("AAPL", provider="alpaca", as_of=OLD)
    with pytest.raises(NtUserError, match="start 2020-09-01T00:00:00\\+00:00 is after end"):
        await market.bars("AAPL", Timeframe.DAY_1, END, OLD, provider="synthetic")
