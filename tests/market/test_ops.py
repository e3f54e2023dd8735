"""The ``market.*`` operations through ``host.call``: answers, labels, limits, charts, the store
round trip, provider state, and bad input. (The lead's cross-frontend test runs each operation's
first example through the CLI, MCP and REST.)"""

from __future__ import annotations

import base64
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtNotFound, NtUnavailable, NtUserError, NtValidationError
from neural_trader.host import Host
from neural_trader.market.files import read_bars
from neural_trader.market.synthetic import series

from .conftest import DATA

RANGE = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"}


def test_every_operation_is_registered_with_examples(host: Host) -> None:
    names = {op.name for op in host.operations if op.group == "market"}
    assert names == {"market.bars", "market.download", "market.providers", "market.quote", "market.symbols",
                     "market.trade"}
    for name in names:
        op = host.operation(name)
        for example in op.examples:
            assert example.get("provider") in (None, "synthetic", "csv", "local"), (name, example)
    assert host.registry("data_providers").names() == ["alpaca", "alphavantage", "csv", "finnhub", "local",
                                                       "synthetic"]


def test_a_synthetic_quote_is_deterministic_and_labelled(host: Host) -> None:
    params = {"symbol": "aapl", "provider": "synthetic", "as_of": "2024-01-02T15:30:00Z"}
    quote = host.call("market.quote", params)
    assert quote == host.call("market.quote", params)
    assert quote["symbol"] == "AAPL" and quote["provider"] == "synthetic" and quote["synthetic"] is True
    assert quote["bid"] < quote["last"] < quote["ask"] and quote["mid"] == pytest.approx(quote["last"])
    assert quote["time"] == "2024-01-02T15:30:00Z"
    trade = host.call("market.trade", params)
    assert trade["price"] == quote["last"] and trade["synthetic"] is True


def test_bars_are_columns_with_their_provider(host: Host) -> None:
    result = host.call("market.bars", {"symbol": "AAPL", "provider": "synthetic", **RANGE})
    expected = series("AAPL", "1Day").bars("2024-01-01", "2024-01-31")
    assert result["provider"] == "synthetic" and result["synthetic"] is True
    assert result["count"] == result["total"] == len(expected) == 23 and not result["truncated"]
    assert result["close"] == expected.close.tolist() and result["volume"] == expected.volume.tolist()
    assert result["time"][0] == "2024-01-01T00:00:00Z" and result["chart"] is None


def test_limit_keeps_the_latest_bars(host: Host) -> None:
    result = host.call("market.bars", {"symbol": "AAPL", "provider": "synthetic", "limit": 5, **RANGE})
    assert result["count"] == 5 and result["total"] == 23 and result["truncated"]
    assert result["time"][-1] == "2024-01-31T00:00:00Z"


def test_a_chart_is_a_png(host: Host) -> None:
    pytest.importorskip("matplotlib")
    for kind in ("candles", "line"):
        result = host.call("market.bars", {"symbol": "AAPL", "provider": "synthetic", "chart": kind, **RANGE})
        png = base64.b64decode(result["chart"]["data"])
        assert result["chart"]["media_type"] == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png) > 5000


def test_without_matplotlib_the_error_says_how_to_install_it(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(NtUnavailable, match=r"pip install 'neural-trader\[plot\]'"):
        host.call("market.bars", {"symbol": "AAPL", "provider": "synthetic", "chart": "line", **RANGE})


def test_download_then_read_offline_exactly(host: Host) -> None:
    saved = host.call("market.download", {"symbols": ["DEMO", "demo2"], "provider": "synthetic", **RANGE})
    assert [(s["symbol"], s["fetched"], s["stored"], s["synthetic"]) for s in saved["saved"]] == [
        ("DEMO", 23, 23, True), ("DEMO2", 23, 23, True)]
    listed = host.call("market.symbols", {})
    assert [(s["symbol"], s["timeframe"], s["rows"], s["sources"]) for s in listed["series"]] == [
        ("DEMO", "1Day", 23, ["synthetic"]), ("DEMO2", "1Day", 23, ["synthetic"])]
    assert host.call("market.symbols", {"symbol": "demo2"})["series"][0]["symbol"] == "DEMO2"
    direct = host.call("market.bars", {"symbol": "DEMO", "provider": "synthetic", **RANGE})
    local = host.call("market.bars", {"symbol": "DEMO", "provider": "local", **RANGE})
    assert local["provider"] == "local" and local["synthetic"] is True  # still labelled synthetic
    assert {k: local[k] for k in ("time", "open", "high", "low", "close", "volume")} == {
        k: direct[k] for k in ("time", "open", "high", "low", "close", "volume")}
    chain = host.call("market.bars", {"symbol": "DEMO", **RANGE})  # nothing else configured: the store
    assert chain["provider"] == "local"


def test_the_store_is_read_fresh_after_each_download(host: Host) -> None:
    first = {"symbols": ["FRESH"], "provider": "synthetic", "start": "2024-01-01T00:00:00Z",
             "end": "2024-01-15T00:00:00Z"}
    host.call("market.download", first)
    wide = {"symbol": "FRESH", "start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"}
    assert host.call("market.bars", {**wide, "provider": "local"})["count"] == 11
    assert host.call("market.bars", wide)["count"] == 11  # through the chain
    host.call("market.download", {**first, "end": "2024-01-31T00:00:00Z"})
    assert host.call("market.bars", {**wide, "provider": "local"})["count"] == 23
    assert host.call("market.bars", wide)["count"] == 23


def test_a_download_where_every_symbol_fails_is_an_error(host: Host) -> None:
    with pytest.raises(NtUnavailable, match="csv is not configured: no folder"):
        host.call("market.download", {"symbols": ["ORCL", "MSFT"], "provider": "csv"})


def test_csv_files_through_the_host(host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    shutil.copy(DATA / "orcl-1995-2014.txt", folder)
    shutil.copy(DATA / "2006-min-005.txt", folder / "SX5E.csv")
    monkeypatch.setenv("NT_CSV_DIR", str(folder))
    result = host.call("market.bars", {"symbol": "ORCL", "provider": "csv", "start": "2014-01-01T00:00:00Z",
                                       "end": "2014-12-31T00:00:00Z"})
    orcl = read_bars(DATA / "orcl-1995-2014.txt").between("2014-01-01", "2014-12-31")
    assert result["count"] == 252 and result["close"] == orcl.close.tolist() and result["provider"] == "csv"
    with pytest.raises(NtNotFound, match=r"no 1Day file for SX5E .*SX5E.csv: 5Min"):
        host.call("market.bars", {"symbol": "SX5E", "provider": "csv"})
    saved = host.call("market.download", {"symbols": ["ORCL", "NOPE"], "provider": "csv",
                                           "start": "1990-01-01T00:00:00Z"})
    assert [(s["symbol"], s["stored"], s["synthetic"]) for s in saved["saved"]] == [("ORCL", 5036, False)]
    assert [(f["symbol"], f["error"]) for f in saved["failed"]] == [("NOPE", "not_found")]
    providers = {p["name"]: p for p in host.call("market.providers", {})["providers"]}
    assert providers["csv"]["configured"] is True


def test_providers_show_state_and_chains(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    result = host.call("market.providers", {})
    providers = {p["name"]: p for p in result["providers"]}
    assert list(providers) == ["alpaca", "alphavantage", "csv", "finnhub", "local", "synthetic"]
    assert providers["alpaca"]["configured"] is False and "NT_ALPACA_API_KEY" in providers["alpaca"]["reason"]
    assert providers["synthetic"]["configured"] is True and providers["synthetic"]["capabilities"]["synthetic"]
    assert providers["local"]["rate_limit"] is None and providers["local"]["plugin"] == "market"
    assert result["chains"]["*"] == ["alpaca", "finnhub", "alphavantage", "local", "synthetic"]
    assert all(chain[-1] == "synthetic" for chain in result["chains"].values())


def test_a_configured_network_provider_shows_its_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_trader.host import make_host
    from neural_trader.settings import load_settings
    from neural_trader_plugins import market

    monkeypatch.setenv("NT_ALPACA_API_KEY", "key-123456")
    monkeypatch.setenv("NT_ALPACA_API_SECRET", "secret-123456")
    with make_host(autoload=False, plugins=[market], settings=load_settings(env={}, data_dir=tmp_path)) as h:
        alpaca = next(p for p in h.call("market.providers", {})["providers"] if p["name"] == "alpaca")
    assert alpaca["configured"] is True and alpaca["reason"] is None
    assert alpaca["rate_limit"] == {"limit": 200, "per_seconds": 60.0, "remaining": 200, "backend": "memory"}
    assert alpaca["breaker"]["state"] == "closed" and alpaca["last_error"] is None and alpaca["requests"] == 0


def test_a_bad_setting_shows_as_not_configured(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_ALPACA_FEED", "nasdaq")
    alpaca = next(p for p in host.call("market.providers", {})["providers"] if p["name"] == "alpaca")
    assert alpaca["configured"] is False and "iex, sip" in alpaca["reason"]


@pytest.mark.parametrize(("params", "error", "words"), [
    ({"symbol": "AAPL", "provider": "yahoo"}, NtNotFound, "available: alpaca, alphavantage"),
    ({"symbol": "AAPL", "provider": "synthetic", "start": "2024-02-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
     NtUserError, "is after end"),
    ({"symbol": "AA PL", "provider": "synthetic"}, NtValidationError, "$.symbol"),
    ({"symbol": "AAPL", "timeframe": "2Day"}, NtValidationError, "$.timeframe"),
    ({"symbol": "AAPL", "limit": 0}, NtValidationError, "$.limit"),
    ({"symbol": "../etc", "provider": "local"}, NtValidationError, "$.symbol"),
    ({"symbol": "BTC/USD", "provider": "alpaca"}, NtUserError, "does not cover crypto symbols"),
])
def test_bad_input_is_refused_clearly(host: Host, params: dict[str, object], error: type[Exception],
                                      words: str) -> None:
    with pytest.raises(error, match=None) as caught:
        host.call("market.bars", params)
    assert words in str(caught.value)


def test_bad_symbols_in_a_download(host: Host) -> None:
    with pytest.raises(NtValidationError, match=r'"x y" is not a symbol .* @ \$\.symbols\[1\]'):
        host.call("market.download", {"symbols": ["AAPL", "x y"], "provider": "synthetic"})
    with pytest.raises(NtUserError, match="name another provider"):
        host.call("market.download", {"symbols": ["AAPL"], "provider": "local"})


def test_the_intraday_example_has_the_session_bars(host: Host) -> None:
    op = host.operation("market.bars")
    result = host.call("market.bars", op.examples[2])
    times = np.array([t.rstrip("Z") for t in result["time"]], dtype="datetime64[s]")
    assert result["count"] == 25 and bool(np.all(np.diff(times).astype(int) == 300))


def test_the_market_service_does_not_keep_its_host_alive(tmp_path: Path) -> None:
    import gc
    import weakref

    from neural_trader.host import make_host
    from neural_trader.market.service import MarketData
    from neural_trader.settings import load_settings
    from neural_trader_plugins import market

    host = make_host(autoload=False, plugins=[market], settings=load_settings(env={}, data_dir=tmp_path))
    with host:
        first = MarketData.for_host(host)
        assert MarketData.for_host(host) is first
    assert MarketData.for_host(host) is not first  # nt_shutdown dropped it with the services
    ref = weakref.ref(host)
    del host, first
    gc.collect()
    assert ref() is None
