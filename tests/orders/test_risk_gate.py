"""Reliability test 6: each limit of the risk gate rejects with its reason code, the order is stored
as rejected, and the broker is never called; the same order passes once the limit allows it."""

from __future__ import annotations

import decimal

import pytest

from neural_trader.domain.orders import OrderRequest, OrderStatus
from neural_trader.services.risk_gate import RejectCode, RiskContext, RiskGate, RiskLimits

from .conftest import Clock, FakeBroker, fixed_quotes

D = decimal.Decimal


def req(coid: str, qty: str = "10", symbol: str = "AAPL", side: str = "buy", **kw: object) -> OrderRequest:
    return OrderRequest(client_order_id=coid, symbol=symbol, side=side, qty=qty, **kw)  # type: ignore[arg-type]


# (limits, the order, its code, a limit it passes under). AAPL quotes 99.9 / 100.1; an existing
# position of 50 AAPL bought at 100 (gross exposure 50 x 100.1 = 5005 at the ask).
CASES = [
    ({"max_order_qty": D(5)}, req("q", qty="6"), RejectCode.MAX_ORDER_QTY, {"max_order_qty": D(6)}),
    # 10 x 100.1 = 1001 at the ask
    ({"max_order_notional": D(1000)}, req("n"), RejectCode.MAX_ORDER_NOTIONAL, {"max_order_notional": D(1001)}),
    ({"max_position_qty": D(59)}, req("p"), RejectCode.MAX_POSITION, {"max_position_qty": D(60)}),
    # 5005 + 1001 = 6006
    ({"max_gross_exposure": D(6005)}, req("g"), RejectCode.MAX_GROSS_EXPOSURE, {"max_gross_exposure": D(6006)}),
    ({"restricted_symbols": ["aapl"]}, req("r"), RejectCode.RESTRICTED_SYMBOL, {"restricted_symbols": ["MSFT"]}),
    # 101 is 0.8991% from the ask 100.1
    ({"price_collar": D("0.008")}, req("c", type="limit", limit_price="101"), RejectCode.PRICE_COLLAR,
     {"price_collar": D("0.009")}),
    ({}, req("m", symbol="NOQUOTE"), RejectCode.NO_PRICE_REFERENCE, None),
    # two orders sent in this minute already (the set-up's buy and nothing else): 1 allowed
    ({"max_orders_per_minute": 1}, req("t"), RejectCode.ORDER_RATE, {"max_orders_per_minute": 2}),
]


@pytest.mark.parametrize(("limits", "request_", "code", "passing"), CASES, ids=[c[2].value for c in CASES])
async def test_each_limit_rejects_with_its_code_and_no_broker_call(make_manager, limits, request_, code,
                                                                   passing) -> None:
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker, quotes=fixed_quotes(AAPL=("99.9", "100.1")))
    await manager.start()
    await manager.submit(req("setup", qty="50"), actor="t")
    calls = broker.submits()
    manager.set_limits(RiskLimits(account="default", **limits), actor="admin")
    order = await manager.submit(request_, actor="t")
    assert order.status is OrderStatus.REJECTED
    assert manager.reason_code(request_.client_order_id) == code.value
    assert broker.submits() == calls
    if passing is not None:
        manager.set_limits(RiskLimits(account="default", **passing), actor="admin")
        again = await manager.submit(req(request_.client_order_id + "2", **{
            k: getattr(request_, k) for k in ("qty", "symbol", "type", "limit_price")}), actor="t")
        assert again.status is not OrderStatus.REJECTED
        assert broker.submits() == calls + 1


async def test_daily_loss_counts_realised_and_unrealised_and_lets_reducing_orders_through(
        make_manager, clock: Clock) -> None:
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker, quotes=fixed_quotes(AAPL=("80", "80")), initial_cash=D(10_000))
    await manager.start()
    manager.set_limits(RiskLimits(account="default", max_daily_loss=D(150)), actor="admin")
    # Day start: equity 10,000. Buy 10 @ 100 (the fake fills at 100): cash 9,000, marked at 100.
    assert (await manager.submit(req("a"), actor="t")).status is OrderStatus.FILLED
    # Marked at the 80 ask now: equity 9,000 + 10 x 80 = 9,800, a loss of 200 >= 150.
    order = await manager.submit(req("b", qty="1"), actor="t")
    assert manager.reason_code("b") == RejectCode.MAX_DAILY_LOSS.value and order.status is OrderStatus.REJECTED
    assert (await manager.submit(req("c", side="sell", qty="5"), actor="t")).status is OrderStatus.FILLED


async def test_a_strategys_limits_apply_to_its_orders_only(make_manager) -> None:
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker)
    await manager.start()
    manager.set_limits(RiskLimits(account="default", strategy="sma", max_order_qty=D(1)), actor="admin")
    assert (await manager.submit(req("x", strategy="sma"), actor="t")).status is OrderStatus.REJECTED
    assert manager.reason_code("x") == "max_order_qty"
    assert (await manager.submit(req("y", strategy="other"), actor="t")).status is OrderStatus.FILLED
    assert [lim.strategy for lim in manager.limits()] == ["sma"]


def test_the_gate_alone_checks_halted_before_anything_else() -> None:
    from neural_trader.domain.orders import TradingState

    gate = RiskGate()
    rejection = gate.check(req("h", symbol="NOQUOTE"), RiskContext(trading_state=TradingState.HALTED))
    assert rejection is not None and rejection.code is RejectCode.TRADING_HALTED
    assert gate.check(req("ok", type="limit", limit_price="5"), RiskContext()) is None


async def test_the_order_rate_counts_the_last_minute_across_managers_as_it_moves(make_manager, clock) -> None:
    """The order-rate limit's count is kept up to date from the orders committed since the last
    look: it counts another process's orders (a second manager on the same account), not rejected
    ones, and lets orders go as they turn a minute old."""
    broker = FakeBroker(fill_at=D(100))
    manager = make_manager(broker)
    other = make_manager(broker)  # another process on the same database and account
    await manager.start()
    await other.start()
    manager.set_limits(RiskLimits(account="default", max_orders_per_minute=3, max_order_qty=D(10)),
                       actor="admin")
    assert (await manager.submit(req("a1"), actor="t")).status is not OrderStatus.REJECTED
    clock.advance(seconds=20)
    assert (await other.submit(req("b1"), actor="t")).status is not OrderStatus.REJECTED
    assert (await other.submit(req("big", qty="11"), actor="t")).status is OrderStatus.REJECTED  # not counted
    assert (await manager.submit(req("a2"), actor="t")).status is not OrderStatus.REJECTED
    clock.advance(seconds=20)
    assert (await manager.submit(req("a3"), actor="t")).status is OrderStatus.REJECTED  # a1, b1, a2
    assert manager.reason_code("a3") == RejectCode.ORDER_RATE.value
    clock.advance(seconds=21)  # a1 is now over a minute old
    assert (await manager.submit(req("a4"), actor="t")).status is not OrderStatus.REJECTED
    assert (await other.submit(req("b2"), actor="t")).status is OrderStatus.REJECTED  # b1, a2, a4
    clock.advance(seconds=20)  # b1 and a2 are over a minute old
    assert (await other.submit(req("b3"), actor="t")).status is not OrderStatus.REJECTED
    assert (await manager.submit(req("a5"), actor="t")).status is not OrderStatus.REJECTED
    assert (await manager.submit(req("a6"), actor="t")).status is OrderStatus.REJECTED  # a4, b3, a5
