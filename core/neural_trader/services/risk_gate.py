"""The pre-trade risk gate: every order passes it before it is stored as ``new`` or sent.

:meth:`RiskGate.check` is pure: the order manager gathers what it needs (:class:`RiskContext`: the
position, the open orders, the exposure at the latest marks, the day's P&L, the recent order count,
the last quote) inside the transaction that stores the order, and the gate answers with ``None``
(pass) or a :class:`RiskRejection` carrying a :class:`RejectCode` and a message. Limits come from
``risk_limits`` rows (:class:`RiskLimits`): the account's (``strategy`` empty) and, for an order of a
strategy, that strategy's too; every set that applies must pass. A strategy's position, exposure and
daily-loss limits are checked against the account's totals (positions are not booked per strategy).
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Iterable, Sequence

import attrs

from neural_trader.domain.orders import OrderRequest, OrderSide, OrderType, TradingState

__all__ = ["RejectCode", "RiskContext", "RiskGate", "RiskLimits", "RiskRejection", "order_price", "reduces"]

D = decimal.Decimal


class RejectCode(enum.StrEnum):
    """Why the gate refused an order (stored in ``orders.reason_code``)."""

    TRADING_HALTED = "trading_halted"
    REDUCING_ONLY = "reducing_only"
    RESTRICTED_SYMBOL = "restricted_symbol"
    NO_PRICE_REFERENCE = "no_price_reference"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    PRICE_COLLAR = "price_collar"
    ORDER_RATE = "order_rate"
    MAX_POSITION = "max_position"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_DAILY_LOSS = "max_daily_loss"


def _symbols(value: Iterable[str]) -> frozenset[str]:
    return frozenset(s.strip().upper() for s in value)


@attrs.frozen(kw_only=True)
class RiskLimits:
    """One set of limits; ``None`` means no limit of that kind."""

    account: str
    #: ``""``: the account's own limits; otherwise the strategy they apply to.
    strategy: str = ""
    max_order_qty: D | None = None
    max_order_notional: D | None = None
    max_position_qty: D | None = None
    max_gross_exposure: D | None = None
    max_daily_loss: D | None = None
    max_orders_per_minute: int | None = None
    #: Largest relative distance of a limit or stop price from the last quote (0.05 = 5%).
    price_collar: D | None = None
    restricted_symbols: frozenset[str] = attrs.field(default=frozenset(), converter=_symbols)

    @property
    def label(self) -> str:
        return f"strategy {self.strategy!r} of account {self.account!r}" if self.strategy \
            else f"account {self.account!r}"


@attrs.frozen(kw_only=True)
class RiskContext:
    """What the gate needs to know about the account when the order arrives."""

    trading_state: TradingState = TradingState.ACTIVE
    #: The account's signed position in the order's symbol.
    position: D = decimal.Decimal(0)
    #: Unfilled quantity of the account's open orders in the symbol, by side (both >= 0).
    pending_buy: D = decimal.Decimal(0)
    pending_sell: D = decimal.Decimal(0)
    #: Sum of |qty| x mark over the account's positions (this symbol at ``quote``'s price).
    gross_exposure: D = decimal.Decimal(0)
    #: Equity now minus equity at the start of the UTC day (realised + unrealised); ``None``: unknown.
    daily_pnl: D | None = None
    #: Orders the account (and the order's strategy) sent in the last minute.
    recent_orders: int = 0
    recent_strategy_orders: int = 0
    #: The price the order would trade near now: the ask for a buy, the bid for a sell, else the
    #: last trade; ``None`` when no quote is known.
    quote: D | None = None


@attrs.frozen(kw_only=True)
class RiskRejection:
    code: RejectCode
    message: str


def order_price(request: OrderRequest, quote: D | None) -> D | None:
    """The price an order is valued at: its limit (or stop) price, else the quote."""
    if request.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return request.limit_price
    if request.type is OrderType.STOP:
        return request.stop_price
    return quote


def reduces(request: OrderRequest, context: RiskContext) -> bool:
    """True when the order can only shrink the position: the other side, and no larger than what is
    left of the position after the open orders on the order's side."""
    position = context.position
    if position == 0 or (position > 0) == (request.side is OrderSide.BUY):
        return False
    already = context.pending_buy if request.side is OrderSide.BUY else context.pending_sell
    return request.qty + already <= abs(position)


class RiskGate:
    """Checks an order against limits; see the module docstring."""

    def check(self, request: OrderRequest, context: RiskContext,
              limits: Iterable[RiskLimits] = ()) -> RiskRejection | None:
        """``None`` when the order may go, else the first rule it breaks."""
        if context.trading_state is TradingState.HALTED:
            return RiskRejection(code=RejectCode.TRADING_HALTED,
                                 message="trading is halted: no new orders until trading.resume")
        reducing = reduces(request, context)
        if context.trading_state is TradingState.REDUCING and not reducing:
            return RiskRejection(code=RejectCode.REDUCING_ONLY,
                                 message=f"trading is reduce-only: this order would not reduce the "
                                         f"{request.symbol} position ({context.position})")
        sets: Sequence[RiskLimits] = [lim for lim in limits
                                      if not lim.strategy or lim.strategy == request.strategy]
        for lim in sets:
            if request.symbol.upper() in {s.upper() for s in lim.restricted_symbols}:
                return RiskRejection(code=RejectCode.RESTRICTED_SYMBOL,
                                     message=f"{request.symbol} is restricted for {lim.label}")
        price = order_price(request, context.quote)
        if price is None:
            return RiskRejection(code=RejectCode.NO_PRICE_REFERENCE,
                                 message=f"no quote for {request.symbol}: a {request.type.value} order "
                                         "needs a price reference to be checked; try again when one is known")
        notional = request.qty * price
        for lim in sets:
            if (rejection := self._order_level(request, context, lim, price, notional)) is not None:
                return rejection
        if reducing:
            return None
        for lim in sets:
            if (rejection := self._exposure(request, context, lim, notional)) is not None:
                return rejection
        return None

    def _order_level(self, request: OrderRequest, context: RiskContext, lim: RiskLimits, price: D,
                     notional: D) -> RiskRejection | None:
        if lim.max_order_qty is not None and request.qty > lim.max_order_qty:
            return RiskRejection(code=RejectCode.MAX_ORDER_QTY,
                                 message=f"quantity {request.qty} exceeds the maximum {lim.max_order_qty} "
                                         f"of {lim.label}")
        if lim.max_order_notional is not None and notional > lim.max_order_notional:
            return RiskRejection(code=RejectCode.MAX_ORDER_NOTIONAL,
                                 message=f"notional {notional} ({request.qty} x {price}) exceeds the maximum "
                                         f"{lim.max_order_notional} of {lim.label}")
        if lim.price_collar is not None:
            for name in ("limit_price", "stop_price"):
                value: D | None = getattr(request, name)
                if value is None:
                    continue
                if context.quote is None:
                    return RiskRejection(code=RejectCode.NO_PRICE_REFERENCE,
                                         message=f"no quote for {request.symbol} to check the {name} against "
                                                 f"the price collar of {lim.label}")
                distance = abs(value - context.quote) / context.quote
                if distance > lim.price_collar:
                    return RiskRejection(code=RejectCode.PRICE_COLLAR,
                                         message=f"{name} {value} is {distance:.2%} from the quote "
                                                 f"{context.quote}; the collar of {lim.label} is "
                                                 f"{lim.price_collar:.2%}")
        if lim.max_orders_per_minute is not None:
            sent = context.recent_strategy_orders if lim.strategy else context.recent_orders
            if sent >= lim.max_orders_per_minute:
                return RiskRejection(code=RejectCode.ORDER_RATE,
                                     message=f"{sent} orders in the last minute; {lim.label} allows "
                                             f"{lim.max_orders_per_minute} a minute")
        return None

    def _exposure(self, request: OrderRequest, context: RiskContext, lim: RiskLimits,
                  notional: D) -> RiskRejection | None:
        if lim.max_position_qty is not None:
            pending = context.pending_buy if request.side is OrderSide.BUY else -context.pending_sell
            after = context.position + pending + request.qty * request.side.sign
            if abs(after) > lim.max_position_qty:
                return RiskRejection(code=RejectCode.MAX_POSITION,
                                     message=f"the {request.symbol} position would reach {after} (with the open "
                                             f"orders); {lim.label} allows {lim.max_position_qty}")
        if lim.max_gross_exposure is not None and context.gross_exposure + notional > lim.max_gross_exposure:
            return RiskRejection(code=RejectCode.MAX_GROSS_EXPOSURE,
                                 message=f"gross exposure would reach {context.gross_exposure + notional}; "
                                         f"{lim.label} allows {lim.max_gross_exposure}")
        if lim.max_daily_loss is not None and context.daily_pnl is not None \
                and -context.daily_pnl >= lim.max_daily_loss:
            return RiskRejection(code=RejectCode.MAX_DAILY_LOSS,
                                 message=f"today's loss {-context.daily_pnl} has reached the maximum "
                                         f"{lim.max_daily_loss} of {lim.label}; only reducing orders pass")
        return None
