"""The parameters, results and handlers of the trading operations (declared in :mod:`.`).

Handlers are thin: every order goes through the host's order manager
(:attr:`host.services.trading <neural_trader.services.Services.trading>`), on its trading loop, so the
risk gate, idempotency, persist-then-send and the audit log apply whichever frontend asked, and on
the caller's account (the manager :meth:`Trading.call <neural_trader.services.trading.Trading.call>`
picks): one identity never reads or changes another account's orders, positions, cash or limits.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Literal

import attrs

from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN
from neural_trader.domain.orders import (
    CLIENT_ORDER_ID_PATTERN,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TradingState,
)
from neural_trader.errors import NtUserError
from neural_trader.ops import Context, NoParams
from neural_trader.schema import param
from neural_trader.services.orders import OrderManager, PriceRef
from neural_trader.services.risk_gate import RiskLimits
from neural_trader.services.trading import (
    arrivals,
    execution_of,
    first_fills,
    marks_for,
    portfolio_of,
    rebalance_lines,
)

D = decimal.Decimal

_COID_HINT = "1 to 128 letters, digits and . _ : - starting with a letter or digit"
_COID = ("the idempotency key: the same id with the same order returns the stored order (nothing is sent "
         "again); with a different order it is a conflict (HTTP 409)")
_SYMBOL = "the instrument, e.g. AAPL (case does not matter)"
_MONEY = "in the account's currency"


def _actor(ctx: Context) -> str:
    identity = ctx.identity
    return f"{identity.name}:{identity.key_id}" if identity.key_id else identity.name


def _trading(ctx: Context) -> Any:
    return ctx.services.trading


def _coid(**kwargs: Any) -> Any:
    return param(pattern=CLIENT_ORDER_ID_PATTERN, pattern_hint=_COID_HINT, **kwargs)


# -- the order as every operation shows it ------------------------------------------------------------
@attrs.frozen(kw_only=True)
class OrderView:
    """An order as the order manager holds it."""

    client_order_id: str
    symbol: str
    side: OrderSide
    qty: D
    type: OrderType
    time_in_force: TimeInForce
    limit_price: D | None = None
    stop_price: D | None = None
    trail_price: D | None = None
    trail_percent: D | None = None
    take_profit: D | None = None
    stop_loss: D | None = None
    stop_loss_limit: D | None = None
    strategy: str | None = None
    status: OrderStatus = param(description="new (stored, not yet acknowledged), accepted, partially_filled, "
                                            "filled, canceled, rejected, expired, pending_cancel or unknown "
                                            "(sent, answer lost: resolved by lookup, never re-sent)")
    broker: str
    broker_order_id: str | None = None
    filled_qty: D
    avg_fill_price: D | None = None
    reason_code: str | None = param(default=None, description="why it was rejected: a risk-gate code "
                                                              "(max_order_qty, trading_halted ...), broker or basket")
    reason: str | None = param(default=None, description="why it was rejected, cancelled or is unknown, in words")
    created_at: dt.datetime
    updated_at: dt.datetime
    parent: str | None = param(default=None, description="a bracket exit leg's entry order (client order id)")
    legs: list[str] = param(factory=list, description="a bracket entry's exit legs: <id>.tp (take "
                                                                 "profit) and <id>.sl (stop loss), working once it fills")

    @classmethod
    def of(cls, order: Order, reason_code: str | None = None) -> OrderView:
        r = order.request
        return cls(client_order_id=r.client_order_id, symbol=r.symbol, side=r.side, qty=r.qty, type=r.type,
                   time_in_force=r.time_in_force, limit_price=r.limit_price, stop_price=r.stop_price,
                   trail_price=r.trail_price, trail_percent=r.trail_percent, take_profit=r.take_profit,
                   stop_loss=r.stop_loss, stop_loss_limit=r.stop_loss_limit, strategy=r.strategy, status=order.status,
                   broker=order.broker, broker_order_id=order.broker_order_id, filled_qty=order.filled_qty,
                   avg_fill_price=order.avg_fill_price, reason_code=reason_code, reason=order.reason,
                   created_at=order.created_at, updated_at=order.updated_at, parent=order.parent,
                   legs=list(order.legs))


def _view(manager: OrderManager, order: Order) -> OrderView:
    # Only a rejected order has a reason code (the gate's, "basket" or "broker").
    code = manager.reason_code(order.client_order_id) if order.status is OrderStatus.REJECTED else None
    return OrderView.of(order, code)


# -- trade.execute / trade.simulate --------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class OrderFields:
    """What an order is (shared by trade.execute, trade.simulate and trade.multi)."""

    symbol: str = param(description=_SYMBOL, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    side: OrderSide = param(description="buy or sell")
    qty: D = param(gt=0, description="how many (shares, coins); a decimal number > 0")
    type: OrderType = param(default=OrderType.MARKET,
                            description="market (needs a quote as price reference), limit, stop, stop_limit "
                                        "or trailing_stop")
    time_in_force: TimeInForce = param(default=TimeInForce.DAY, description="day, gtc, ioc or fok")
    limit_price: D | None = param(default=None, gt=0, description="limit and stop_limit orders: the worst price "
                                                                  "accepted, " + _MONEY)
    stop_price: D | None = param(default=None, gt=0, description="stop and stop_limit orders: the trigger, " + _MONEY)
    trail_price: D | None = param(default=None, gt=0, description="trailing_stop: the trail as an amount")
    trail_percent: D | None = param(default=None, gt=0, le=100, description="trailing_stop: the trail in percent")
    take_profit: D | None = param(default=None, gt=0, description="bracket exit: the take-profit limit")
    stop_loss: D | None = param(default=None, gt=0, description="bracket exit: the stop-loss stop")
    stop_loss_limit: D | None = param(default=None, gt=0, description="bracket exit: a limit for the stop-loss")
    strategy: str | None = param(default=None, min_len=1, max_len=128,
                                 description="who asks (a strategy's name): that strategy's risk limits apply too")


_ORDER_FIELDS = [f.name for f in attrs.fields(OrderFields)]


def _request(params: Any, client_order_id: str) -> OrderRequest:
    values = {name: getattr(params, name) for name in _ORDER_FIELDS}
    values["symbol"] = values["symbol"].strip().upper()
    return OrderRequest(client_order_id=client_order_id, **values)


@attrs.frozen(kw_only=True)
class ExecuteParams(OrderFields):
    """Parameters of ``trade.execute``."""

    client_order_id: str = _coid(description=_COID)


async def execute(params: ExecuteParams, ctx: Context) -> OrderView:
    request = _request(params, params.client_order_id)
    actor = _actor(ctx)

    async def go(m: OrderManager) -> OrderView:
        return _view(m, await m.submit(request, actor=actor))

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class SimulateParams(OrderFields):
    """Parameters of ``trade.simulate``."""

    bid: D | None = param(default=None, gt=0, description="simulate against this bid instead of the latest quote")
    ask: D | None = param(default=None, gt=0, description="simulate against this ask instead of the latest quote")


@attrs.frozen(kw_only=True)
class SimulateResult:
    """What would happen: the risk gate's answer and the paper broker's fill now. Nothing was stored or sent."""

    allowed: bool = param(description="the risk gate would let the order through")
    reason_code: str | None = param(description="the gate's reason code when it would reject")
    reason: str | None = param(description="the gate's reason in words")
    quote_bid: D | None = param(description="the bid checked against (given, or the latest observed quote)")
    quote_ask: D | None = param(description="the ask checked against")
    quote_source: Literal["given", "market", "synthetic", "none"] = param(
        description="given (bid/ask passed), market (the latest observed quote), synthetic (a generated quote: "
                    "the paper account's embedded default) or none (no quote: market orders are rejected "
                    "with no_price_reference)")
    fills_now: bool = param(description="the paper broker would fill it at once at this quote")
    fill_price: D | None = param(description="the paper fill price (slippage and rounding applied), " + _MONEY)
    commission: D | None = param(description="the paper commission, " + _MONEY)
    notional: D | None = param(description="qty x the price the order is valued at, " + _MONEY)


def _paper_preview(m: OrderManager, request: OrderRequest, quote: PriceRef | None) -> tuple[D | None, D | None]:
    """(fill price, commission) of the paper model for ``request`` at ``quote`` now (``None``, ``None``
    when it would rest). Uses the configured broker's model when it is the paper broker, else a
    default paper model; touches no table."""
    from neural_trader.services.tables_orders import PaperOrderRow
    from neural_trader_plugins.brokers.paper import MarketTick, PaperBroker

    if quote is None or request.is_bracket:
        return None, None
    model = m.broker if isinstance(m.broker, PaperBroker) else PaperBroker(m.storage)
    now = model.clock()
    # A throwaway row (never added to a session): the model reads and marks its trigger state.
    row = PaperOrderRow(broker=model.name, client_order_id=request.client_order_id, broker_order_id="preview",
                        request=request.fingerprint(), status=OrderStatus.ACCEPTED.value, filled_qty=D(0),
                        fills=[], created_at=now, updated_at=now)
    price = model._fill_price(row, request, MarketTick.from_quote(request.symbol, now, quote))
    if price is None:
        return None, None
    return price, model._commission(request.qty, price)


async def simulate(params: SimulateParams, ctx: Context) -> SimulateResult:
    from neural_trader.services.risk_gate import order_price

    request = _request(params, "simulation")
    given = None
    if params.bid is not None or params.ask is not None:
        given = PriceRef(bid=params.bid, ask=params.ask)

    async def go(m: OrderManager) -> SimulateResult:
        rejection, quote = await m.simulate(request, quote=given)
        price, commission = _paper_preview(m, request, quote)
        valued = order_price(request, quote.for_side(request.side) if quote is not None else None)
        return SimulateResult(
            allowed=rejection is None, reason_code=None if rejection is None else rejection.code.value,
            reason=None if rejection is None else rejection.message,
            quote_bid=None if quote is None else quote.bid, quote_ask=None if quote is None else quote.ask,
            quote_source="given" if given is not None else (
                "none" if quote is None else "synthetic" if quote.synthetic else "market"),
            fills_now=price is not None, fill_price=price, commission=commission,
            notional=None if valued is None else request.qty * valued)

    return await _trading(ctx).call(go)


# -- trade.multi -----------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class BasketOrder(ExecuteParams):
    """One order of a basket."""


@attrs.frozen(kw_only=True)
class MultiParams:
    """Parameters of ``trade.multi``."""

    orders: list[BasketOrder] = param(min_len=1, max_len=100,
                                      description="the basket: every order with its own client_order_id")


@attrs.frozen(kw_only=True)
class MultiResult:
    admitted: bool = param(description="true when the whole basket passed the risk gate and was sent; false "
                                       "when one order was rejected and so none was sent")
    orders: list[OrderView]


async def multi(params: MultiParams, ctx: Context) -> MultiResult:
    requests = [_request(o, o.client_order_id) for o in params.orders]
    actor = _actor(ctx)

    async def go(m: OrderManager) -> MultiResult:
        orders, admitted = await m.submit_many(requests, actor=actor)
        return MultiResult(admitted=admitted, orders=[_view(m, o) for o in orders])

    return await _trading(ctx).call(go)


# -- orders.* ----------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ListParams:
    """Parameters of ``orders.list``."""

    status: list[OrderStatus] | None = param(default=None, min_len=1, description="only orders in these states")
    symbol: str | None = param(default=None, description=_SYMBOL, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    open_only: bool = param(default=False, description="only orders that can still fill")
    limit: int = param(default=100, ge=1, le=10_000, description="at most this many, oldest first")


@attrs.frozen(kw_only=True)
class OrdersResult:
    orders: list[OrderView]


async def list_orders(params: ListParams, ctx: Context) -> OrdersResult:
    symbol = None if params.symbol is None else params.symbol.strip().upper()

    def go(m: OrderManager) -> OrdersResult:
        found = m.list_orders(status=params.status, symbol=symbol, open_only=params.open_only, limit=params.limit)
        return OrdersResult(orders=[_view(m, o) for o in found])

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class OrderParams:
    """An order by its client order id."""

    client_order_id: str = _coid(description="the order's client order id")


@attrs.frozen(kw_only=True)
class FillView:
    fill_id: str
    qty: D
    price: D
    commission: D
    time: dt.datetime


@attrs.frozen(kw_only=True)
class OrderDetail:
    order: OrderView
    fills: list[FillView]


async def get_order(params: OrderParams, ctx: Context) -> OrderDetail:
    def go(m: OrderManager) -> OrderDetail:
        order = m.get(params.client_order_id)
        fills = [FillView(fill_id=f.fill_id, qty=f.qty, price=f.price, commission=f.commission, time=f.time)
                 for f in m.fills() if f.client_order_id == params.client_order_id]
        return OrderDetail(order=_view(m, order), fills=fills)

    return await _trading(ctx).call(go)


async def cancel(params: OrderParams, ctx: Context) -> OrderView:
    actor = _actor(ctx)

    async def go(m: OrderManager) -> OrderView:
        return _view(m, await m.cancel(params.client_order_id, actor=actor))

    return await _trading(ctx).call(go)


async def cancel_all(params: NoParams, ctx: Context) -> OrdersResult:
    actor = _actor(ctx)

    async def go(m: OrderManager) -> OrdersResult:
        return OrdersResult(orders=[_view(m, o) for o in await m.cancel_all(actor=actor)])

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class ReplaceParams:
    """Parameters of ``orders.replace``."""

    client_order_id: str = _coid(description="the open order to replace")
    new_client_order_id: str | None = _coid(
        default=None, description="the replacement's client order id; default: <old>.r1 (then .r2 ...), so a "
                                  "retried replace finds the same replacement")
    qty: D | None = param(default=None, gt=0, description="the new quantity; default what is left unfilled")
    limit_price: D | None = param(default=None, gt=0, description="the new limit price")
    stop_price: D | None = param(default=None, gt=0, description="the new stop price")
    trail_price: D | None = param(default=None, gt=0, description="the new trail amount")
    trail_percent: D | None = param(default=None, gt=0, le=100, description="the new trail percent")
    time_in_force: TimeInForce | None = param(default=None, description="the new time in force")


async def replace(params: ReplaceParams, ctx: Context) -> OrderView:
    actor = _actor(ctx)
    changes = {name: getattr(params, name) for name in
               ("qty", "limit_price", "stop_price", "trail_price", "trail_percent", "time_in_force")
               if getattr(params, name) is not None}

    async def go(m: OrderManager) -> OrderView:
        order = await m.replace(params.client_order_id, actor=actor, new_client_order_id=params.new_client_order_id,
                                **changes)
        return _view(m, order)

    return await _trading(ctx).call(go)


# -- positions, account, portfolio ----------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PositionView:
    symbol: str
    qty: D = param(description="signed: short < 0")
    avg_price: D = param(description="average cost, " + _MONEY)
    realized_pnl: D = param(description="P&L realised so far, " + _MONEY)
    last_price: D | None = param(description="the last fill price")


@attrs.frozen(kw_only=True)
class PositionsResult:
    positions: list[PositionView]


async def positions(params: NoParams, ctx: Context) -> PositionsResult:
    def go(m: OrderManager) -> PositionsResult:
        marks = m.marks()
        return PositionsResult(positions=[
            PositionView(symbol=p.symbol, qty=p.qty, avg_price=p.avg_price, realized_pnl=p.realized_pnl,
                         last_price=marks.get(p.symbol)) for p in m.positions() if p.qty != 0])

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class AccountResult:
    """The account as we book it, and as the broker reports it."""

    account: str
    broker: str
    currency: str
    cash: D = param(description="cash as booked from the fills, " + _MONEY)
    equity: D = param(description="cash + positions at the latest marks, " + _MONEY)
    broker_cash: D = param(description="cash as the broker reports it")
    broker_equity: D = param(description="equity as the broker reports it")
    buying_power: D = param(description="as the broker reports it")
    trading_state: TradingState


async def account(params: NoParams, ctx: Context) -> AccountResult:
    async def go(m: OrderManager) -> AccountResult:
        held = m.positions()
        marks = await marks_for(m, [p.symbol for p in held if p.qty != 0])
        view = portfolio_of(held, m.cash(), marks)
        theirs = await m.broker.account()
        state, _ = m.trading_state()
        return AccountResult(account=m.account, broker=m.broker.name, currency=theirs.currency, cash=view.cash,
                             equity=view.equity, broker_cash=theirs.cash, broker_equity=theirs.equity,
                             buying_power=theirs.buying_power, trading_state=state)

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class PortfolioParams:
    """Parameters of ``portfolio.status``."""

    prices: dict[str, D] | None = param(
        default=None, description="marks to value holdings at (symbol -> price) instead of the latest quote")


@attrs.frozen(kw_only=True)
class HoldingView:
    symbol: str
    qty: D
    avg_price: D
    mark: D | None = param(description="the price it is valued at (null: none known)")
    mark_source: str | None = param(description="given, quote (the latest observed quote's mid) or last_fill")
    market_value: D | None
    unrealized_pnl: D | None
    realized_pnl: D
    weight: D | None = param(description="market value / equity (a fraction; negative when short)", unit="fraction")


@attrs.frozen(kw_only=True)
class PortfolioResult:
    account: str
    holdings: list[HoldingView]
    cash: D
    equity: D = param(description="cash + the market value of the priced holdings")
    market_value: D
    gross_exposure: D = param(description="sum of |market value|")
    net_exposure: D = param(description="sum of market value (shorts negative)")
    unrealized_pnl: D
    realized_pnl: D
    unpriced: list[str] = param(description="held symbols with no price at all: left out of the totals")


def _upper_prices(prices: dict[str, D] | None) -> dict[str, D]:
    out = {}
    for symbol, price in (prices or {}).items():
        if not price > 0:
            raise NtUserError(f"the price of {symbol} must be > 0, got {price}")
        out[symbol.strip().upper()] = price
    return out


async def portfolio_status(params: PortfolioParams, ctx: Context) -> PortfolioResult:
    given = _upper_prices(params.prices)

    async def go(m: OrderManager) -> PortfolioResult:
        held = m.positions()
        view = portfolio_of(held, m.cash(), await marks_for(m, [p.symbol for p in held], given))
        return PortfolioResult(
            account=m.account, holdings=[HoldingView(**attrs.asdict(h, recurse=False)) for h in view.holdings],
            cash=view.cash, equity=view.equity, market_value=view.market_value, gross_exposure=view.gross_exposure,
            net_exposure=view.net_exposure, unrealized_pnl=view.unrealized_pnl, realized_pnl=view.realized_pnl,
            unpriced=list(view.unpriced))

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class RebalanceParams:
    """Parameters of ``portfolio.rebalance``."""

    targets: dict[str, D] = param(description="target weights of equity by symbol, e.g. {\"AAPL\": 0.5}; each "
                                              "from -1 to 1, their absolute values summing to at most 1")
    prices: dict[str, D] | None = param(default=None, description="prices to size the orders at (symbol -> price); "
                                                                  "default the latest quote, else the last fill")
    threshold: D = param(default=D("0.01"), ge=0, le=1, unit="fraction",
                         description="skip a change worth less than this fraction of equity")
    lot: D = param(default=D(1), gt=0, description="quantities are multiples of this (1: whole shares)")
    close_others: bool = param(default=True, description="held symbols missing from targets go to zero")
    dry_run: bool = param(default=True, description="only compute the orders (the default); false sends them "
                                                    "through trade.execute's path")
    rebalance_id: str | None = _coid(
        default=None, max_len=100,
        description="needed when dry_run is false: the idempotency key of the rebalance; its orders get client "
                    "order ids <rebalance_id>.<SYMBOL>, so a retried rebalance sends nothing twice")


@attrs.frozen(kw_only=True)
class RebalanceLineView:
    symbol: str
    price: D
    current_qty: D
    current_weight: D = param(unit="fraction")
    target_weight: D = param(unit="fraction")
    target_qty: D
    side: OrderSide | None = param(description="the order's side; null when skipped")
    qty: D
    notional: D
    skipped: str | None = param(description="why no order (at target, under the threshold)")
    client_order_id: str | None = param(description="the order's client order id (when not a dry run)")
    order: OrderView | None = param(description="the order as sent (when not a dry run)")


@attrs.frozen(kw_only=True)
class RebalanceResult:
    dry_run: bool
    equity: D
    lines: list[RebalanceLineView]


def _coid_part(symbol: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in symbol)


async def rebalance(params: RebalanceParams, ctx: Context) -> RebalanceResult:
    targets = {s.strip().upper(): w for s, w in params.targets.items()}
    for symbol, weight in targets.items():
        if not D(-1) <= weight <= D(1):
            raise NtUserError(f"the target weight of {symbol} must be from -1 to 1, got {weight}")
    if sum((abs(w) for w in targets.values()), D(0)) > 1:
        raise NtUserError("target weights sum (in absolute value) to more than 1: no leverage")
    if not params.dry_run and params.rebalance_id is None:
        raise NtUserError("a rebalance that trades needs rebalance_id (its orders are <rebalance_id>.<SYMBOL>)")
    given = _upper_prices(params.prices)
    actor = _actor(ctx)

    async def go(m: OrderManager) -> RebalanceResult:
        held = m.positions()
        symbols = sorted({p.symbol for p in held} | set(targets))
        marks = await marks_for(m, symbols, given)
        view = portfolio_of(held, m.cash(), marks)
        prices = {s: p for s, (p, _) in marks.items() if p is not None}
        lines = rebalance_lines(view, targets, prices, threshold=params.threshold, lot=params.lot,
                                close_others=params.close_others)
        out = []
        for line in lines:
            coid = order = None
            if not params.dry_run and line.side is not None:
                coid = f"{params.rebalance_id}.{_coid_part(line.symbol)}"[:128]
                request = OrderRequest(client_order_id=coid, symbol=line.symbol, side=line.side, qty=line.qty,
                                       strategy="rebalance")
                order = _view(m, await m.submit(request, actor=actor))
            out.append(RebalanceLineView(**attrs.asdict(line, recurse=False), client_order_id=coid, order=order))
        return RebalanceResult(dry_run=params.dry_run, equity=view.equity, lines=out)

    return await _trading(ctx).call(go)


# -- risk limits ---------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class LimitsView:
    """One set of limits; null means no limit of that kind."""

    strategy: str = param(default="", max_len=128,
                          description="empty: the account's own limits; otherwise the strategy they apply to")
    max_order_qty: D | None = param(default=None, gt=0, description="largest quantity of one order")
    max_order_notional: D | None = param(default=None, gt=0, description="largest qty x price of one order, " + _MONEY)
    max_position_qty: D | None = param(default=None, gt=0, description="largest |position| per symbol, with open orders")
    max_gross_exposure: D | None = param(default=None, gt=0, description="largest sum of |qty| x mark, " + _MONEY)
    max_daily_loss: D | None = param(default=None, gt=0,
                                     description="today's loss (realised + unrealised) at which only reducing "
                                                 "orders pass, " + _MONEY)
    max_orders_per_minute: int | None = param(default=None, ge=1, description="order-rate throttle")
    price_collar: D | None = param(default=None, gt=0, unit="fraction",
                                   description="largest distance of a limit or stop price from the quote (0.05 = 5%)")
    restricted_symbols: list[str] = param(factory=list, max_len=1000, item_pattern=SYMBOL_PATTERN,
                                          pattern_hint=SYMBOL_HINT, description="symbols that may not be traded")


@attrs.frozen(kw_only=True)
class LimitsResult:
    account: str
    limits: list[LimitsView]


def _limits_result(m: OrderManager) -> LimitsResult:
    return LimitsResult(account=m.account, limits=[LimitsView(
        strategy=lim.strategy, max_order_qty=lim.max_order_qty, max_order_notional=lim.max_order_notional,
        max_position_qty=lim.max_position_qty, max_gross_exposure=lim.max_gross_exposure,
        max_daily_loss=lim.max_daily_loss, max_orders_per_minute=lim.max_orders_per_minute,
        price_collar=lim.price_collar, restricted_symbols=sorted(lim.restricted_symbols)) for lim in m.limits()])


async def limits_get(params: NoParams, ctx: Context) -> LimitsResult:
    return await _trading(ctx).call(_limits_result)


async def limits_set(params: LimitsView, ctx: Context) -> LimitsResult:
    actor = _actor(ctx)

    def go(m: OrderManager) -> LimitsResult:
        values = attrs.asdict(params, recurse=False)
        values["restricted_symbols"] = frozenset(s.strip().upper() for s in params.restricted_symbols)
        m.set_limits(RiskLimits(account=m.account, **values), actor=actor)
        return _limits_result(m)

    return await _trading(ctx).call(go)


# -- trading state ---------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class HaltParams:
    """Parameters of ``trading.halt``."""

    reason: str | None = param(default=None, max_len=500, description="why, for the audit log and trading.status")


@attrs.frozen(kw_only=True)
class ResumeParams:
    """Parameters of ``trading.resume``."""

    state: Literal["active", "reducing"] = param(
        default="active", description="active, or reducing (only orders that shrink a position pass)")
    reason: str | None = param(default=None, max_len=500, description="why, for the audit log and trading.status")


@attrs.frozen(kw_only=True)
class StateChange:
    state: TradingState
    canceled: list[OrderView] = param(description="the open orders halting cancelled, as they now stand")


async def halt(params: HaltParams, ctx: Context) -> StateChange:
    actor = _actor(ctx)

    async def go(m: OrderManager) -> StateChange:
        canceled = await m.set_trading_state(TradingState.HALTED, actor=actor, reason=params.reason)
        return StateChange(state=TradingState.HALTED, canceled=[_view(m, o) for o in canceled])

    return await _trading(ctx).call(go)


async def resume(params: ResumeParams, ctx: Context) -> StateChange:
    actor = _actor(ctx)
    state = TradingState(params.state)

    async def go(m: OrderManager) -> StateChange:
        await m.set_trading_state(state, actor=actor, reason=params.reason)
        return StateChange(state=state, canceled=[])

    return await _trading(ctx).call(go)


@attrs.frozen(kw_only=True)
class StatusResult:
    account: str
    broker: str
    live: bool = param(description="the broker moves real money")
    state: TradingState
    reason: str | None = param(description="why the state was last changed")
    reconciled: bool = param(description="the last reconciliation with the broker succeeded (orders are refused "
                                         "until it does)")
    reconcile_error: str | None
    discrepancies: int = param(description="differences the last reconciliation found (repaired or not)")
    open_orders: int


async def status(params: NoParams, ctx: Context) -> StatusResult:
    def go(m: OrderManager) -> StatusResult:
        state, reason = m.trading_state()
        report = m.last_reconcile
        return StatusResult(account=m.account, broker=m.broker.name, live=bool(getattr(m.broker, "live", False)),
                            state=state, reason=reason, reconciled=m.reconciled,
                            reconcile_error=None if report is None else report.error,
                            discrepancies=0 if report is None else len(report.discrepancies),
                            open_orders=len(m.list_orders(open_only=True)))

    return await _trading(ctx).call(go)


# -- audit.verify -------------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class VerifyResult:
    """What verifying the whole audit log found; ok is false from the first problem on."""

    ok: bool
    records: int = param(description="records read before the check stopped (all of them when ok)")
    checkpoints: int = param(description="signed checkpoints checked")
    last_seq: int | None
    last_hash: str | None
    unsigned: int = param(description="records after the last checkpoint: chained, not yet signed")
    first_bad_seq: int | None
    problem: str | None = param(description="edited, deleted, reordered, truncated, forged_checkpoint or unknown_key")
    detail: str | None


async def audit_verify(params: NoParams, ctx: Context) -> VerifyResult:
    services = ctx.services
    audit = services.audit

    def go() -> VerifyResult:
        with services.storage.session() as session:
            found = audit.verify(session)
        return VerifyResult(ok=found.ok, records=found.records, checkpoints=found.checkpoints,
                            last_seq=found.last_seq, last_hash=found.last_hash, unsigned=found.unsigned,
                            first_bad_seq=found.first_bad_seq,
                            problem=None if found.problem is None else found.problem.value, detail=found.detail)

    return await _trading(ctx).run(go)


# -- execution.analytics --------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AnalyticsParams:
    """Parameters of ``execution.analytics``."""

    symbol: str | None = param(default=None, description=_SYMBOL, pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT)
    limit: int = param(default=1000, ge=1, le=10_000, description="at most this many orders, oldest first")


@attrs.frozen(kw_only=True)
class ExecutionView:
    client_order_id: str
    symbol: str
    side: OrderSide
    status: OrderStatus
    qty: D
    filled_qty: D
    fill_ratio: D = param(unit="fraction", description="filled / ordered")
    arrival_price: D | None = param(description="the quote's price for the order's side when it arrived")
    avg_fill_price: D | None
    slippage_bps: D | None = param(unit="bps", description="(fill - arrival) / arrival against the order: "
                                                           "positive is a cost")
    latency_s: float | None = param(description="seconds from submission to the first fill")


@attrs.frozen(kw_only=True)
class AnalyticsResult:
    orders: int = param(description="orders that reached the broker (not rejected by the gate)")
    filled_orders: int = param(description="orders with at least one fill")
    fill_ratio: D | None = param(unit="fraction", description="filled quantity / ordered quantity over those orders")
    slippage_bps: D | None = param(unit="bps", description="notional-weighted slippage against arrival")
    latency_p50_s: float | None
    latency_max_s: float | None
    executions: list[ExecutionView]


async def analytics(params: AnalyticsParams, ctx: Context) -> AnalyticsResult:
    symbol = None if params.symbol is None else params.symbol.strip().upper()

    def go(m: OrderManager) -> AnalyticsResult:
        found = [o for o in m.list_orders(symbol=symbol, limit=params.limit)
                 if not (o.status is OrderStatus.REJECTED and o.broker_order_id is None)]
        arrived = arrivals(m.storage, [o.client_order_id for o in found])
        first = first_fills(m.storage, m.account)
        rows = [execution_of(o, arrived.get(o.client_order_id), first.get(o.client_order_id)) for o in found]
        filled = [r for r in rows if r.filled_qty > 0]
        ordered = sum((r.qty for r in rows), D(0))
        weighted = [(r.slippage_bps, r.filled_qty * (r.avg_fill_price or D(0))) for r in filled
                    if r.slippage_bps is not None]
        weight = sum((w for _, w in weighted), D(0))
        latencies = sorted(r.latency_s for r in filled if r.latency_s is not None)
        return AnalyticsResult(
            orders=len(rows), filled_orders=len(filled),
            fill_ratio=None if ordered == 0 else (sum((r.filled_qty for r in rows), D(0)) / ordered).quantize(
                D("0.000001")),
            slippage_bps=None if weight == 0 else (sum((s * w for s, w in weighted), D(0)) / weight).quantize(D("0.01")),
            latency_p50_s=latencies[(len(latencies) - 1) // 2] if latencies else None,
            latency_max_s=latencies[-1] if latencies else None,
            executions=[ExecutionView(**attrs.asdict(r, recurse=False)) for r in rows])

    return await _trading(ctx).call(go)
