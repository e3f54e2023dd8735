"""Trading operations: orders, positions, the account and portfolio, risk limits, the kill switch,
the audit log and execution analytics.

Every order goes through the host's order manager (:mod:`neural_trader.services.trading`): the
client order id is the idempotency key, the risk gate checks it before it is stored, it is stored
before it is sent, and every change is recorded in the hash-chained audit log. The broker is
``paper`` unless ``NT_BROKER`` names another. Operations that act (trade, cancel, halt) need
``confirm: true`` (CLI ``--confirm``; over MCP the person is asked when the client can be);
``trade.simulate`` and a dry-run ``portfolio.rebalance`` show first what would happen.

Every operation acts on the caller's account (:meth:`~neural_trader.services.trading.Trading.account_for`):
a registered identity's bound account (by default one of its own, named after it), the configured
account for the CLI and for callers that are no registered identity. No operation here takes an
account: the admin operations (``risk.limits.set``, ``trading.halt``, ``trading.resume``) act on the
admin's own account too; to act on another, bind the admin to it, or run the CLI with
``NT_TRADING_ACCOUNT``.

The examples run on an empty data directory with the paper broker: without an observed quote
(synthetic data is no price reference) they use limit orders, which the paper broker accepts and
keeps working, and given prices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation, Scope
from neural_trader_plugins.trading import api

#: Where the admin operations act (they take no account).
_ACCOUNT = (" It acts on the caller's account: an admin's own (the account it is bound to, by default one named "
            "after it); the CLI's is the configured account (NT_TRADING_ACCOUNT).")

#: Examples rest at the broker whatever the (synthetic) price is: a limit far below any quote.
_LIMIT_BUY = {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "limit", "limit_price": "0.50"}


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    trade, admin = Scope.TRADE, Scope.ADMIN
    register(Operation(
        name="trade.execute", summary="Send one order through the risk gate to the broker (idempotent by "
                                      "client_order_id).",
        description="The client order id is required: it is the idempotency key (the same id and order returns "
                    "the stored order and sends nothing; the same id with another order is a 409 conflict). A "
                    "rejected order comes back with status rejected and its reason_code; it never reached the "
                    "broker. Preview with trade.simulate.",
        params=api.ExecuteParams, result=api.OrderView, handler=api.execute, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({**_LIMIT_BUY, "client_order_id": "example-aapl-1", "confirm": True},
                  {"symbol": "MSFT", "side": "sell", "qty": "5", "client_order_id": "example-msft-1",
                   "confirm": True}),
    ))
    register(Operation(
        name="trade.simulate", summary="What the risk gate and the paper fill would say about an order now; "
                                       "nothing is stored or sent.",
        description="Checks the order against the account's limits and state as trade.execute would, and prices "
                    "it with the paper broker's model at the latest observed quote (or the bid/ask given).",
        params=api.SimulateParams, result=api.SimulateResult, handler=api.simulate,
        examples=({"symbol": "AAPL", "side": "buy", "qty": "10", "bid": "189.95", "ask": "190.05"},
                  _LIMIT_BUY),
    ))
    register(Operation(
        name="trade.multi", summary="Send a basket of orders: checked as a whole by the risk gate, all sent or "
                                    "none.",
        description="Each order is checked seeing the basket's orders before it (open quantity, order rate, "
                    "gross exposure). If one is rejected, every order of the basket is stored rejected (the "
                    "others with reason_code basket) and none is sent. Retrying the same basket returns the "
                    "same orders.",
        params=api.MultiParams, result=api.MultiResult, handler=api.multi, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({"orders": [{**_LIMIT_BUY, "client_order_id": "example-basket-1.AAPL"},
                              {"symbol": "MSFT", "side": "buy", "qty": "5", "type": "limit", "limit_price": "0.50",
                               "client_order_id": "example-basket-1.MSFT"}], "confirm": True},),
    ))
    register(Operation(
        name="orders.list", summary="The account's orders, oldest first, optionally by status or symbol.",
        params=api.ListParams, result=api.OrdersResult, handler=api.list_orders,
        examples=({"open_only": True},),
    ))
    register(Operation(
        name="orders.get", summary="One order by its client order id, with its fills.",
        params=api.OrderParams, result=api.OrderDetail, handler=api.get_order,
        examples=({"client_order_id": "example-aapl-1"},),
    ))
    register(Operation(
        name="orders.cancel", summary="Cancel one open order (a filled order stays filled).",
        params=api.OrderParams, result=api.OrderView, handler=api.cancel, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({"client_order_id": "example-aapl-1", "confirm": True},),
    ))
    register(Operation(
        name="orders.cancel_all", summary="Cancel every open order of the account.",
        params=api.NoParams, result=api.OrdersResult, handler=api.cancel_all, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({"confirm": True},),
    ))
    register(Operation(
        name="orders.replace", summary="Cancel an open order and send it again with changes, under a new client "
                                       "order id linked to the old one.",
        params=api.ReplaceParams, result=api.OrderView, handler=api.replace, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({"client_order_id": "example-aapl-1", "limit_price": "0.45", "confirm": True},),
    ))
    register(Operation(
        name="positions.list", summary="The account's open positions: quantity, average cost, realised P&L.",
        params=api.NoParams, result=api.PositionsResult, handler=api.positions,
    ))
    register(Operation(
        name="account.get", summary="Cash and equity as booked from the fills, and as the broker reports them.",
        params=api.NoParams, result=api.AccountResult, handler=api.account, open_world=True,
    ))
    register(Operation(
        name="portfolio.status", summary="Holdings at market: value, unrealised and realised P&L, cash, equity, "
                                         "gross and net exposure, weights.",
        params=api.PortfolioParams, result=api.PortfolioResult, handler=api.portfolio_status, open_world=True,
    ))
    register(Operation(
        name="portfolio.rebalance", summary="Turn target weights into orders: a dry run by default; with "
                                            "dry_run false they are sent like trade.execute.",
        description="Target quantity = weight x equity / price, rounded toward zero to a lot; changes under "
                    "threshold x equity are skipped; sells come first. Orders are market orders with client "
                    "order ids <rebalance_id>.<SYMBOL>. A dry run needs no confirmation; sending the orders "
                    "(dry_run false) needs confirm: true.",
        params=api.RebalanceParams, result=api.RebalanceResult, handler=api.rebalance, scope=trade,
        read_only=False, destructive=True, idempotent=True, open_world=True, confirm=True,
        confirm_unless="dry_run",
        examples=({"targets": {"AAPL": "0.5", "MSFT": "0.3"}, "prices": {"AAPL": "190", "MSFT": "400"}},),
    ))
    register(Operation(
        name="risk.limits.get", summary="The risk limits of the account and of its strategies.",
        params=api.NoParams, result=api.LimitsResult, handler=api.limits_get,
    ))
    register(Operation(
        name="risk.limits.set", summary="Store one set of risk limits (the account's, or a strategy's), replacing "
                                        "the one before.",
        description="Unset limits are no limit. Every order passes the account's set and its strategy's." + _ACCOUNT,
        params=api.LimitsView, result=api.LimitsResult, handler=api.limits_set, scope=admin, read_only=False,
        examples=({"max_order_qty": "1000", "max_order_notional": "250000", "price_collar": "0.1"},),
    ))
    register(Operation(
        name="trading.halt", summary="The kill switch: refuse new orders and cancel every open one.",
        description="Halts one account and cancels its open orders, whoever placed them." + _ACCOUNT,
        params=api.HaltParams, result=api.StateChange, handler=api.halt, scope=admin, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=({"reason": "example halt", "confirm": True},),
    ))
    register(Operation(
        name="trading.resume", summary="Accept orders again (active), or only those that reduce a position "
                                       "(reducing).",
        description="Changes the state of one account." + _ACCOUNT,
        params=api.ResumeParams, result=api.StateChange, handler=api.resume, scope=admin, read_only=False,
        idempotent=True, confirm=True,
        examples=({"state": "active", "confirm": True},),
    ))
    register(Operation(
        name="trading.status", summary="The trading state (active, reducing, halted), the broker and the last "
                                       "reconciliation.",
        params=api.NoParams, result=api.StatusResult, handler=api.status,
    ))
    register(Operation(
        name="audit.verify", summary="Check the whole audit log: every hash, link and signed checkpoint.",
        description="Reports the first edited, deleted, reordered or truncated record, or a forged checkpoint.",
        params=api.NoParams, result=api.VerifyResult, handler=api.audit_verify, scope=admin,
    ))
    register(Operation(
        name="execution.analytics", summary="Execution quality: slippage against the arrival price, fill ratios "
                                            "and latency from submission to the first fill.",
        params=api.AnalyticsParams, result=api.AnalyticsResult, handler=api.analytics,
    ))


__all__ = ["nt_register_operations"]
