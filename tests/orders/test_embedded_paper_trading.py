"""The embedded defaults trade: with no provider configured the paper account prices market orders at
the synthetic quotes (and says so); a broker that moves money never does, and the switch turns it off."""

from __future__ import annotations

import pytest

from neural_trader.testing import HostFactory


def test_a_fresh_install_fills_paper_market_orders_at_synthetic_quotes(nt_host_factory: HostFactory) -> None:
    host = nt_host_factory()
    preview = host.call("trade.simulate", {"symbol": "AAPL", "side": "buy", "qty": "10"})
    assert preview["allowed"] and preview["quote_source"] == "synthetic" and preview["fills_now"]
    order = host.call("trade.execute", {"client_order_id": "fresh-1", "symbol": "AAPL", "side": "buy",
                                        "qty": "10", "confirm": True})
    assert order["status"] == "filled" and order["filled_qty"] == "10"
    assert order["avg_fill_price"] == preview["fill_price"]  # the preview was the fill
    [position] = host.call("positions.list", {})["positions"]
    assert position["symbol"] == "AAPL" and position["qty"] == "10"


def test_the_switch_keeps_synthetic_quotes_out_of_the_risk_gate(nt_host_factory: HostFactory,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_TRADING_SYNTHETIC_QUOTES", "0")  # plugin values are read from the process
    host = nt_host_factory()
    preview = host.call("trade.simulate", {"symbol": "AAPL", "side": "buy", "qty": "10"})
    assert not preview["allowed"] and preview["reason_code"] == "no_price_reference"
    order = host.call("trade.execute", {"client_order_id": "fresh-2", "symbol": "AAPL", "side": "buy",
                                        "qty": "10", "confirm": True})
    assert order["status"] == "rejected" and order["reason_code"] == "no_price_reference"
