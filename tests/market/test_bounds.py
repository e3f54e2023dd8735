"""Cost bounds of the market operations (checked before work), the shared symbol pattern, files named
directly, and the warnings a partly covered or synthetic window carries."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from neural_trader.errors import NtLimitExceeded, NtUserError, NtValidationError
from neural_trader.host import Host, make_host
from neural_trader.market.synthetic import series
from neural_trader.settings import load_settings
from neural_trader_plugins import market as market_plugin
from neural_trader_plugins import system

from .conftest import DATA

WHOLE_SPAN = {"symbol": "SPY", "provider": "synthetic", "timeframe": "1Min",
              "start": "1971-01-01T00:00:00Z", "end": "2261-12-31T00:00:00Z"}


def _host(tmp_path: Path, **settings: object) -> Host:
    return make_host(autoload=False, plugins=[market_plugin, system], strict=True,
                     settings=load_settings(env={}, data_dir=tmp_path / "d", **settings))


def test_a_limit_of_ten_over_three_centuries_of_minutes_generates_ten_bars(host: Host) -> None:
    host.call("market.bars", {**WHOLE_SPAN, "symbol": "WARM", "limit": 1})  # imports and caches aside
    tracemalloc.start()
    try:
        result = host.call("market.bars", {**WHOLE_SPAN, "limit": 10})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    path = series("SPY", "1Min")
    assert result["count"] == 10 and result["truncated"]
    assert result["total"] == path.count("1971-01-01", "2261-12-31T00:00:00") > 30_000_000
    assert result["close"] == path.bars("1971-01-01", "2261-12-31T00:00:00", limit=10).close.tolist()
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB for 10 bars"  # 36M bars would be gigabytes


def test_a_window_past_max_bars_is_refused_before_any_bar_is_made(tmp_path: Path) -> None:
    h = _host(tmp_path, max_bars=1000)
    try:
        with pytest.raises(NtLimitExceeded) as caught:
            h.call("market.download", {"symbols": ["SPY"], "provider": "synthetic", "timeframe": "1Day",
                                       "start": "2000-01-01T00:00:00Z", "end": "2010-01-01T00:00:00Z"})
        err = caught.value
        assert err.http_status == 413 and "NT_MAX_BARS" in err.message and "max_bars = 1,000" in err.message
        assert err.details == {"bound": "max_bars", "asked": 2610, "limit": 1000, "setting": "NT_MAX_BARS"}
        with pytest.raises(NtLimitExceeded, match="limit of 1Day bars"):
            h.call("market.bars", {"symbol": "SPY", "provider": "synthetic", "limit": 5000})
        tail = h.call("market.bars", {"symbol": "SPY", "provider": "synthetic", "limit": 1000,
                                      "start": "2000-01-01T00:00:00Z", "end": "2010-01-01T00:00:00Z"})
        assert tail["count"] == 1000 and tail["total"] == 2610  # a limit within the bound cuts a long window
    finally:
        h.close()


def test_too_many_symbols_are_refused(tmp_path: Path) -> None:
    h = _host(tmp_path, max_symbols=2)
    try:
        with pytest.raises(NtLimitExceeded, match="NT_MAX_SYMBOLS"):
            h.call("market.download", {"symbols": ["A", "B", "C"], "provider": "synthetic"})
    finally:
        h.close()


@pytest.mark.parametrize("op", ["market.bars", "market.quote", "market.trade", "market.symbols"])
def test_a_300_character_symbol_is_a_validation_error(host: Host, op: str) -> None:
    with pytest.raises(NtValidationError) as caught:
        host.call(op, {"symbol": "A" * 300, "provider": "local"})
    assert caught.value.http_status == 422 and "$.symbol" in caught.value.message
    assert "A" * 40 not in caught.value.message


def test_a_partly_covered_window_says_what_it_covers(host: Host) -> None:
    host.call("market.download", {"symbols": ["DEMO"], "provider": "synthetic",
                                  "start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"})
    result = host.call("market.bars", {"symbol": "DEMO", "provider": "local",
                                       "start": "2023-06-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"})
    assert result["first_bar"] == "2024-01-01T00:00:00Z" and result["last_bar"] == "2024-01-31T00:00:00Z"
    assert result["synthetic"] is True  # a synthetic download keeps its mark in the store
    text = " | ".join(result["warnings"])
    assert "synthetic data" in text and "starts later" in text and "ends earlier" in text
    whole = host.call("market.bars", {"symbol": "DEMO", "provider": "local",
                                      "start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"})
    assert [w for w in whole["warnings"] if "later" in w or "earlier" in w] == []


def test_the_default_source_is_the_chain_and_says_synthetic(host: Host) -> None:
    result = host.call("market.bars", {"symbol": "SPY", "start": "2024-01-01T00:00:00Z",
                                       "end": "2024-01-31T00:00:00Z"})
    assert result["provider"] == "synthetic" and result["synthetic"] is True
    assert any("no configured provider of the fallback chain" in w for w in result["warnings"])


def test_a_file_can_be_named_directly(host: Host) -> None:
    path = DATA / "orcl-1995-2014.txt"
    result = host.call("market.bars", {"file": str(path), "limit": 3})
    assert result["symbol"] == "ORCL" and result["provider"] == "csv" and result["synthetic"] is False
    assert result["count"] == 3 and result["total"] > 3 and result["truncated"]
    with pytest.raises(NtUserError, match="provider or a file"):
        host.call("market.bars", {"file": str(path), "provider": "synthetic"})


def test_over_the_network_a_file_must_be_in_the_csv_folder(host: Host) -> None:
    path = DATA / "orcl-1995-2014.txt"
    for frontend in ("rest", "mcp"):
        with pytest.raises(NtUserError, match="must lie in the csv folder"):
            host.call("market.bars", {"file": str(path)}, frontend=frontend)
        with pytest.raises(NtUserError, match="must lie in the csv folder"):
            host.call("market.bars", {"file": "../../etc/passwd"}, frontend=frontend)
