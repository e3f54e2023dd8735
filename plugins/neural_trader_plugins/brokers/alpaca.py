"""``alpaca``: the Alpaca trading API v2 as a :class:`~neural_trader.domain.orders.Broker`.

Paper trading (``https://paper-api.alpaca.markets``) unless ``NT_ALPACA_MODE=live`` (or
``[plugins.alpaca] mode = "live"``); live (``https://api.alpaca.markets``) is refused unless
``NT_ENABLE_LIVE_TRADING=1`` is set **and** live keys are configured. Keys, from ``[plugins.alpaca]``
or the environment:

=======  ==================================================  =====================================================
mode     key id                                               secret
=======  ==================================================  =====================================================
paper    ``api_key``, ``NT_ALPACA_API_KEY``, ``APCA_API_KEY_ID``     ``api_secret``, ``NT_ALPACA_API_SECRET``, ``APCA_API_SECRET_KEY``
live     ``live_api_key``, ``NT_ALPACA_LIVE_API_KEY``                ``live_api_secret``, ``NT_ALPACA_LIVE_API_SECRET``
=======  ==================================================  =====================================================

Live keys are never taken from the paper settings, so a paper configuration cannot trade real money.
Requests go through the shared HTTP layer as provider ``alpaca_trading`` (its own rate limit, 200 a
minute, and breaker, apart from market data; ``NT_ALPACA_TRADING_TIMEOUT`` etc. tune it). Keys travel
in headers only and never appear in a message or a log line.

**Sending an order** (``POST /v2/orders``, with our ``client_order_id``) is never retried. What can
come back:

==========================================  =================================================================
Alpaca answer                                raised / returned
==========================================  =================================================================
2xx with the order                           the :class:`BrokerOrder`
422, code 40010001 (client_order_id unique)  the existing order, looked up by client order id (never rejected);
                                             :class:`NtConflict` if it is a different order
403 on the order (buying power, qty...)      :class:`BrokerRejected` (an ``NtUserError``) with a ``reason_code``
other 422 / 4xx (stop price...)              :class:`~neural_trader.errors.NtUserError` with Alpaca's message
401, or 403 code 40110000                    :class:`NtProviderAuthError` (check the keys)
429                                          :class:`~neural_trader.errors.NtRateLimited` with ``retry_after``
timeout, dropped connection, 5xx, or a 2xx   :class:`~neural_trader.errors.NtUnavailable`: the order is *unknown*;
we cannot read                               resolve it with :meth:`AlpacaBroker.lookup`, never by sending again
==========================================  =================================================================

A :class:`~neural_trader.services.http.CircuitOpen` or a rate-limit refusal (both raised before
anything is sent) is also an ``NtUnavailable`` / ``NtRateLimited``; a lookup tells the caller the
broker has no such order.

**Statuses.** Alpaca's order statuses map to ours (:data:`STATUS_MAP`; "working" means
``partially_filled`` when something has filled, else ``accepted``):

==========================================================  ===========================
Alpaca                                                       ours
==========================================================  ===========================
new, accepted, pending_new, accepted_for_bidding, held       accepted
partially_filled                                             partially_filled
done_for_day, pending_replace, suspended, stopped            working (it can still fill)
calculated                                                   filled when all filled, else working
filled                                                       filled
pending_cancel                                               pending_cancel
canceled                                                     canceled
replaced                                                     canceled (reason names the replacement)
expired                                                      expired
rejected                                                     rejected
==========================================================  ===========================

A status missing from the table is the provider's error, never a guess.

**Fills.** The order carries only the cumulative ``filled_qty`` and ``filled_avg_price``. A lookup
turns the change since what the caller already applied (``known_filled_qty``, ``known_avg_price``:
the order's own ``filled_qty`` and ``avg_fill_price``) into at most one :class:`Fill`, with
``fill_id = f"{alpaca order id}:{cumulative filled qty}"``, ``qty`` the increase and ``price`` such
that the cumulative average matches Alpaca's. The same report gives the same fill id, so repeated
lookups are applied once; commission is 0 (Alpaca's order carries none).
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as urlquote

import attrs
import httpx

from neural_trader.domain.orders import (
    Account,
    BrokerOrder,
    Fill,
    OrderRequest,
    OrderSide,
    OrderStatus,
    Position,
)
from neural_trader.errors import (
    NtConflict,
    NtError,
    NtForbidden,
    NtNotFound,
    NtUnavailable,
    NtUserError,
)
from neural_trader.serde import parse_datetime
from neural_trader.services.http import (
    HttpService,
    NtProviderAuthError,
    NtProviderError,
    ProviderClient,
    RateLimit,
)
from neural_trader.settings import Settings

__all__ = [
    "LIVE_URL",
    "PAPER_URL",
    "STATUS_MAP",
    "AlpacaBroker",
    "BrokerRejected",
    "CancelResult",
    "LiveTradingDisabled",
    "account_from_alpaca",
    "create",
    "fill_since",
    "legs_from_alpaca",
    "order_body",
    "order_from_alpaca",
    "position_from_alpaca",
    "request_from_alpaca",
]

log = logging.getLogger("neural_trader.brokers.alpaca")

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
HTTP_PROVIDER = "alpaca_trading"
ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"
PAGE_LIMIT = 500  # Alpaca's maximum for GET /v2/orders
MAX_PAGES = 1_000
DUPLICATE_CLIENT_ORDER_ID = 40010001
_AUTH_CODES = frozenset({40110000})
_TRUE = frozenset({"1", "true", "yes", "on"})
_PAPER_HINT = "NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET (or APCA_API_KEY_ID and APCA_API_SECRET_KEY)"
_LIVE_HINT = "NT_ALPACA_LIVE_API_KEY and NT_ALPACA_LIVE_API_SECRET"

_W = "working"
#: Alpaca order status -> ours ("working": partially filled if anything filled, else accepted;
#: "calculated": filled if everything filled, else working).
STATUS_MAP: Mapping[str, OrderStatus | str] = {
    "new": OrderStatus.ACCEPTED,
    "accepted": OrderStatus.ACCEPTED,
    "pending_new": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "done_for_day": _W,
    "pending_replace": _W,
    "suspended": _W,
    "stopped": _W,
    "calculated": "calculated",
    "filled": OrderStatus.FILLED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "canceled": OrderStatus.CANCELED,
    "replaced": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}

#: Words in a 403 answer to an order -> our reason code.
_REJECT_REASONS = (
    ("buying power", "insufficient_buying_power"),
    ("insufficient qty", "insufficient_qty"),
    ("wash trade", "wash_trade"),
    ("not tradable", "not_tradable"),
    ("shorting", "short_not_allowed"),
)


# -- errors -----------------------------------------------------------------------------------------
class BrokerRejected(NtUserError):
    """The broker refused the order (buying power, quantity available...): it was not placed.
    ``reason_code`` says why in one word; ``details`` carries the broker's own code and message."""

    type = "order_rejected"

    def __init__(self, message: str, *, reason_code: str, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.reason_code = reason_code


class LiveTradingDisabled(NtForbidden):
    """Live trading was asked for without ``NT_ENABLE_LIVE_TRADING=1`` (or without live keys)."""

    type = "live_trading_disabled"


class _DuplicateClientOrderId(NtConflict):
    """Alpaca already holds an order under this client order id (422, code 40010001)."""


# -- wire values ------------------------------------------------------------------------------------
def _text(value: decimal.Decimal) -> str:
    """A decimal as Alpaca wants it: plain digits, never an exponent."""
    return format(value, "f")


def order_body(request: OrderRequest) -> dict[str, Any]:
    """The JSON body of ``POST /v2/orders`` for ``request`` (quantities and prices as strings)."""
    body: dict[str, Any] = {
        "symbol": request.symbol, "qty": _text(request.qty), "side": request.side.value,
        "type": request.type.value, "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }
    for field in ("limit_price", "stop_price", "trail_price", "trail_percent"):
        value = getattr(request, field)
        if value is not None:
            body[field] = _text(value)
    if request.is_bracket:
        assert request.take_profit is not None and request.stop_loss is not None  # by OrderRequest
        body["order_class"] = "bracket"
        body["take_profit"] = {"limit_price": _text(request.take_profit)}
        stop_loss = {"stop_price": _text(request.stop_loss)}
        if request.stop_loss_limit is not None:
            stop_loss["limit_price"] = _text(request.stop_loss_limit)
        body["stop_loss"] = stop_loss
    return body


def _bad(what: str, why: str) -> NtProviderError:
    return NtProviderError(f"broker alpaca sent {what} this adapter cannot read ({why})",
                           details={"provider": "alpaca"})


def _field(body: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return body[key]
    except KeyError:
        raise _bad(what, f"no {key!r}") from None


def _decimal(body: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> decimal.Decimal | None:
    raw = body.get(key)
    if raw is None or raw == "":
        if optional:
            return None
        raise _bad(what, f"no {key!r}")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _bad(what, f"{key} is {type(raw).__name__}, not a number")
    try:
        value = decimal.Decimal(str(raw).strip())
    except decimal.InvalidOperation:
        raise _bad(what, f"{key} is {str(raw)[:40]!r}, not a number") from None
    if not value.is_finite():
        raise _bad(what, f"{key} is {value}")
    return value


def _time(body: Mapping[str, Any], *keys: str) -> dt.datetime | None:
    for key in keys:
        raw = body.get(key)
        if raw:
            try:
                return parse_datetime(raw)
            except ValueError as exc:
                raise _bad("an order", f"{key}: {exc}") from None
    return None


def _status(alpaca: str, filled: decimal.Decimal, qty: decimal.Decimal | None) -> OrderStatus:
    try:
        ours = STATUS_MAP[alpaca]
    except KeyError:
        raise _bad("an order", f"unknown status {alpaca!r}") from None
    if ours == "calculated":
        ours = OrderStatus.FILLED if qty is not None and filled >= qty else _W
    if ours == _W:
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    assert isinstance(ours, OrderStatus)
    return ours


def fill_since(*, broker_order_id: str, client_order_id: str, symbol: str, side: OrderSide,
               known_filled_qty: decimal.Decimal, known_avg_price: decimal.Decimal | None,
               filled_qty: decimal.Decimal, avg_price: decimal.Decimal | None, time: dt.datetime) -> Fill | None:
    """The one fill that takes an order from what the caller applied (``known_*``) to what the
    broker reports now, or ``None`` if nothing more has filled. Its id is the order id and the
    cumulative quantity, so the same report always gives the same fill; its price is what makes
    the cumulative average ``avg_price``."""
    if filled_qty < known_filled_qty:
        raise _bad("an order", f"{broker_order_id} reports {filled_qty} filled, fewer than the "
                               f"{known_filled_qty} already applied")
    if filled_qty == known_filled_qty:
        return None
    if avg_price is None or not avg_price > 0:
        raise _bad("an order", f"{broker_order_id} has {filled_qty} filled without a filled_avg_price")
    if known_filled_qty > 0 and known_avg_price is None:
        raise ValueError("known_avg_price is needed with a known_filled_qty above 0")
    increase = filled_qty - known_filled_qty
    paid_before = known_filled_qty * (known_avg_price or decimal.Decimal(0))
    price = (filled_qty * avg_price - paid_before) / increase
    if not price > 0:
        raise _bad("an order", f"{broker_order_id}: an average of {avg_price} over {filled_qty} after "
                               f"{known_avg_price} over {known_filled_qty} implies a fill price of {price}")
    return Fill(fill_id=f"{broker_order_id}:{_text(filled_qty.normalize())}", client_order_id=client_order_id,
                symbol=symbol, side=side, qty=increase, price=price, time=time)


def order_from_alpaca(body: Any, *, known_filled_qty: decimal.Decimal = decimal.Decimal(0),
                      known_avg_price: decimal.Decimal | None = None, parent: str | None = None) -> BrokerOrder:
    """A :class:`BrokerOrder` from Alpaca's order object; ``known_*`` as in :func:`fill_since`.
    Its ``request`` is what :func:`request_from_alpaca` reads. A bracket / OCO / OTO entry that has
    filled (some of) its quantity carries its nested legs in ``legs`` (:func:`legs_from_alpaca`):
    before that Alpaca holds them (status ``held``), and they are not orders that can fill yet.
    ``parent``: for a leg, its entry's client order id."""
    if not isinstance(body, Mapping):
        raise _bad("an order", f"expected an object, got {type(body).__name__}")
    order_id, client_order_id = _field(body, "id", "an order"), _field(body, "client_order_id", "an order")
    if not isinstance(order_id, str) or not isinstance(client_order_id, str):
        raise _bad("an order", "id and client_order_id must be text")
    what = f"order {order_id}"
    alpaca_status = _field(body, "status", what)
    filled = _decimal(body, "filled_qty", what, optional=True) or decimal.Decimal(0)
    qty = _decimal(body, "qty", what, optional=True)  # a notional order has no qty
    avg = _decimal(body, "filled_avg_price", what, optional=True)
    status = _status(str(alpaca_status), filled, qty)
    try:
        side = OrderSide(_field(body, "side", what))
    except ValueError:
        raise _bad(what, f"side {body.get('side')!r}") from None
    when = _time(body, "filled_at", "updated_at", "submitted_at", "created_at")
    fill = None
    if filled != known_filled_qty:
        if when is None:
            raise _bad(what, "a fill without any time")
        fill = fill_since(broker_order_id=order_id, client_order_id=client_order_id,
                          symbol=str(_field(body, "symbol", what)), side=side, known_filled_qty=known_filled_qty,
                          known_avg_price=known_avg_price, filled_qty=filled, avg_price=avg, time=when)
    if alpaca_status == "replaced":
        reason: str | None = f"replaced by order {body.get('replaced_by')}"
    else:
        reason = None if alpaca_status == status.value else f"alpaca status {alpaca_status}"
    if parent is None:
        request = request_from_alpaca(body)
    else:  # a leg is a simple order of its own; its order_class is its entry's
        request = request_from_alpaca({**body, "order_class": "simple"})
    legs = legs_from_alpaca(body) if parent is None and filled > 0 else ()
    return BrokerOrder(client_order_id=client_order_id, broker_order_id=order_id, status=status,
                       filled_qty=filled, avg_fill_price=avg if filled > 0 else None, reason=reason,
                       fills=(fill,) if fill is not None else (), request=request, legs=legs, parent=parent)


def request_from_alpaca(body: Any) -> OrderRequest | None:
    """The request an Alpaca order object stands for (bracket legs from its nested ``legs``), for
    adopting an order placed outside the system; ``None`` where our requests cannot say it (a
    notional order, an order class or id we do not model)."""
    if not isinstance(body, Mapping) or body.get("order_class") not in (None, "", "simple", "bracket"):
        return None
    legs: dict[str, Any] = {}
    if body.get("order_class") == "bracket":
        for leg in body.get("legs") or ():
            if not isinstance(leg, Mapping):
                return None
            if leg.get("type") == "limit":
                legs["take_profit"] = leg.get("limit_price")
            elif leg.get("type") in ("stop", "stop_limit"):
                legs["stop_loss"] = leg.get("stop_price")
                legs["stop_loss_limit"] = leg.get("limit_price")
        if "take_profit" not in legs or "stop_loss" not in legs:
            return None
    prices = {k: body.get(k) for k in ("limit_price", "stop_price", "trail_price", "trail_percent")}
    if body.get("type") == "trailing_stop":
        prices["stop_price"] = None  # Alpaca reports the moving stop there; the request had none
    try:
        return OrderRequest(client_order_id=body["client_order_id"], symbol=body["symbol"], side=body["side"],
                            qty=body["qty"], type=body["type"], time_in_force=body["time_in_force"],
                            **{k: v for k, v in {**prices, **legs}.items() if v not in (None, "")})
    except (KeyError, TypeError, ValueError):  # NtUserError is a ValueError
        return None


def legs_from_alpaca(body: Any) -> tuple[BrokerOrder, ...]:
    """The legs of a bracket / OCO / OTO order (``nested=true``), each under its own client order id
    (Alpaca makes them up) with ``parent`` the order's client order id."""
    legs = body.get("legs") if isinstance(body, Mapping) else None
    if legs is None or body.get("order_class") in (None, "", "simple"):
        return ()
    if not isinstance(legs, list):
        raise _bad("an order", f"legs is {type(legs).__name__}, not a list")
    parent = body.get("client_order_id")
    if not isinstance(parent, str):
        raise _bad("an order", "client_order_id must be text")
    return tuple(order_from_alpaca(leg, parent=parent) for leg in legs)


def position_from_alpaca(body: Any) -> Position:
    """A :class:`Position` from Alpaca's position object (a short's ``qty`` comes out negative).
    ``realized_pnl`` is 0: Alpaca's position carries none (our ledger keeps it)."""
    if not isinstance(body, Mapping):
        raise _bad("a position", f"expected an object, got {type(body).__name__}")
    symbol = _field(body, "symbol", "a position")
    what = f"the position in {symbol}"
    qty = _decimal(body, "qty", what)
    avg = _decimal(body, "avg_entry_price", what)
    assert qty is not None and avg is not None
    side = body.get("side", "long")
    if side not in ("long", "short"):
        raise _bad(what, f"side {side!r}")
    if side == "short" and qty > 0:
        qty = -qty
    return Position(symbol=str(symbol), qty=qty, avg_price=avg)


def account_from_alpaca(body: Any) -> Account:
    """An :class:`Account` from Alpaca's account object."""
    if not isinstance(body, Mapping):
        raise _bad("an account", f"expected an object, got {type(body).__name__}")
    values = {k: _decimal(body, k, "an account") for k in ("cash", "equity", "buying_power")}
    return Account(broker="alpaca", currency=str(body.get("currency") or "USD"), **values)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class CancelResult:
    """One order's answer to "cancel all": ``ok`` when Alpaca accepted the cancel request."""

    broker_order_id: str
    ok: bool
    status: int
    message: str | None = None


def _cancel_results(body: Any) -> list[CancelResult]:
    if not isinstance(body, list):
        raise _bad("a cancel-all answer", f"expected a list, got {type(body).__name__}")
    out = []
    for item in body:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not isinstance(item.get("status"), int):
            raise _bad("a cancel-all answer", f"an entry {str(item)[:80]!r} without id and status")
        inner = item.get("body")
        message = inner.get("message") if isinstance(inner, Mapping) else None
        out.append(CancelResult(broker_order_id=item["id"], ok=200 <= item["status"] < 300, status=item["status"],
                                message=message if isinstance(message, str) else None))
    return out


# -- error mapping ----------------------------------------------------------------------------------
def _reason_code(message: str) -> str:
    lowered = message.lower()
    for words, code in _REJECT_REASONS:
        if words in lowered:
            return code
    return "broker_rejected"


def _classify(hint: str) -> Any:
    def classify(response: httpx.Response) -> NtError | None:
        status = response.status_code
        if status < 400 or status == 429 or status >= 500:
            return None  # success, rate limit (Retry-After) and outages: the HTTP layer's mapping
        body = response.json()  # not JSON: ValueError, and the default mapping decides
        if not isinstance(body, Mapping):
            return None
        code, message = body.get("code"), " ".join(str(body.get("message") or "").split())[:200]
        details = {"provider": "alpaca", "status": status, "code": code, "message": message}
        order_post = response.request.method == "POST" and response.request.url.path == ORDERS
        if status == 401 or code in _AUTH_CODES:
            return NtProviderAuthError(f"broker alpaca rejected the credentials (check {hint})", details=details)
        if status == 422 and code == DUPLICATE_CLIENT_ORDER_ID:
            return _DuplicateClientOrderId(message, details=details)
        if status == 403 and order_post:
            reason = _reason_code(message)
            return BrokerRejected(f"broker alpaca rejected the order: {message or 'forbidden'} ({reason})",
                                  reason_code=reason, details={**details, "reason_code": reason})
        if status == 422 and order_post:
            return NtUserError(f"broker alpaca refused the order: {message or 'unprocessable'}", details=details)
        return None
    return classify


# -- the broker -------------------------------------------------------------------------------------
def _live_enabled(environ: Mapping[str, str]) -> bool:
    return str(environ.get("NT_ENABLE_LIVE_TRADING", "")).strip().lower() in _TRUE


class AlpacaBroker:
    """Orders, positions and the account at Alpaca (paper unless live is enabled; see the module doc).

    :param http: the host's HTTP service (``ctx.services.http``); tests give it a mock transport.
    :param settings: for ``[plugins.alpaca]``.
    :param environ: where ``NT_*`` / ``APCA_*`` variables are read (default ``os.environ``).
    :raises LiveTradingDisabled: live mode without ``NT_ENABLE_LIVE_TRADING=1`` or without live keys.
    :raises NtUnavailable: no keys for the mode.
    """

    name = "alpaca"
    page_limit = PAGE_LIMIT

    def __init__(self, *, http: HttpService, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        env: Mapping[str, str] = os.environ if environ is None else environ
        values = settings.plugin("alpaca", env)
        mode = str(values.get("mode") or "paper").strip().lower()
        if mode not in ("paper", "live"):
            raise NtUserError(f"NT_ALPACA_MODE must be paper or live, got {mode[:20]!r}")
        self.live = mode == "live"

        def first(key: str, *names: str) -> str | None:
            found = values.get(key)
            return str(found) if found else next((env[n] for n in names if env.get(n)), None)

        if self.live:
            if not _live_enabled(env):
                raise LiveTradingDisabled(
                    "live trading with alpaca is off: NT_ALPACA_MODE=live also needs NT_ENABLE_LIVE_TRADING=1 "
                    "(or use the paper endpoint, the default)")
            key, secret = first("live_api_key"), first("live_api_secret")
            self.base_url, hint = LIVE_URL, _LIVE_HINT
            if not (key and secret):
                raise LiveTradingDisabled(f"live trading with alpaca needs live keys: set {_LIVE_HINT}")
        else:
            key = first("api_key", "NT_ALPACA_API_KEY", "APCA_API_KEY_ID")
            secret = first("api_secret", "NT_ALPACA_API_SECRET", "APCA_API_SECRET_KEY")
            self.base_url, hint = PAPER_URL, _PAPER_HINT
            if not (key and secret):
                raise NtUnavailable(f"broker alpaca is not configured: set {_PAPER_HINT}")
        # Per request, not on the shared client: two brokers with different keys must not mix them.
        self._auth = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        self._client: ProviderClient = http.client(
            HTTP_PROVIDER, base_url=self.base_url, rate=RateLimit.per_minute(200), classify=_classify(hint),
            credential_hint=hint, headers={"Accept": "application/json"})

    def __repr__(self) -> str:  # never the keys
        return f"AlpacaBroker({'live' if self.live else 'paper'}, {self.base_url})"

    async def _json(self, method: str, path: str, params: Any = None) -> Any:
        response = await self._client.request(method, path, params=params, headers=self._auth)
        try:
            return response.json()
        except ValueError:
            raise _bad(f"a non-JSON answer to {method} {path}", f"HTTP {response.status_code}") from None

    # -- orders ------------------------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Send ``request`` once. A duplicate client order id returns the order Alpaca holds; a lost
        answer raises :class:`NtUnavailable` (look the order up; do not send it again)."""
        coid = request.client_order_id
        try:
            response = await self._client.request("POST", ORDERS, json=order_body(request), headers=self._auth)
        except _DuplicateClientOrderId:
            log.info("alpaca: client order id %s already exists; looking it up", coid)
            return await self._existing(request)
        try:
            order = order_from_alpaca(response.json())
        except (ValueError, NtProviderError) as exc:
            # It was sent and Alpaca said yes, but we cannot read to what: the order is unknown.
            raise NtUnavailable(f"broker alpaca took order {coid} but its answer could not be read "
                                f"({getattr(exc, 'message', type(exc).__name__)}); look it up by client order id",
                                details={"provider": "alpaca", "client_order_id": coid}) from None
        if order.client_order_id != coid:
            raise NtUnavailable(f"broker alpaca answered order {coid} with order {order.client_order_id}; "
                                "look it up by client order id", details={"provider": "alpaca"})
        return order

    async def _existing(self, request: OrderRequest) -> BrokerOrder:
        coid = request.client_order_id
        body = await self._by_client_order_id(coid)
        if body is None:
            raise NtUnavailable(f"broker alpaca says client order id {coid} is taken but has no such order; "
                                "look it up again later", details={"provider": "alpaca", "client_order_id": coid})
        mismatch = [f"{k} {body.get(k)!r} (asked {v!r})" for k, v in
                    (("symbol", request.symbol), ("side", request.side.value), ("type", request.type.value))
                    if body.get(k) != v]
        held_qty = _decimal(body, "qty", f"order {coid}", optional=True)
        if held_qty is not None and held_qty != request.qty:
            mismatch.append(f"qty {_text(held_qty)} (asked {_text(request.qty)})")
        if mismatch:
            raise NtConflict(f"client order id {coid} is already used at alpaca by another order: "
                             + ", ".join(mismatch), details={"provider": "alpaca", "client_order_id": coid})
        return order_from_alpaca(body)

    async def _by_client_order_id(self, client_order_id: str) -> Any:
        try:
            return await self._json("GET", BY_CLIENT_ID, {"client_order_id": client_order_id, "nested": "true"})
        except NtNotFound:
            return None

    async def lookup(self, client_order_id: str, *, known_filled_qty: decimal.Decimal = decimal.Decimal(0),
                     known_avg_price: decimal.Decimal | None = None) -> BrokerOrder | None:
        """The order under ``client_order_id`` (``None`` if Alpaca has none), with the fill since
        ``known_filled_qty`` at ``known_avg_price`` (what the caller already applied)."""
        body = await self._by_client_order_id(client_order_id)
        if body is None:
            return None
        return order_from_alpaca(body, known_filled_qty=known_filled_qty, known_avg_price=known_avg_price)

    async def legs(self, client_order_id: str) -> tuple[BrokerOrder, ...]:
        """The legs of the bracket order ``client_order_id`` (take profit, stop loss), which fill
        under their own client order ids; ``()`` for a simple order. :class:`NtNotFound` if none."""
        body = await self._by_client_order_id(client_order_id)
        if body is None:
            raise NtNotFound(f"broker alpaca has no order {client_order_id}")
        if body.get("order_class") in (None, "", "simple"):
            return ()
        if not body.get("legs"):
            body = await self._json("GET", f"{ORDERS}/{urlquote(str(body['id']), safe='')}", {"nested": "true"})
        return legs_from_alpaca(body)

    async def cancel(self, client_order_id: str) -> BrokerOrder:
        """Ask Alpaca to cancel (``DELETE /v2/orders/{id}``, 204) and return the order as it then
        stands. An order already done (filled, cancelled...) is returned as it is."""
        order = await self.lookup(client_order_id)
        if order is None:
            raise NtNotFound(f"broker alpaca has no order {client_order_id}")
        if order.status.terminal:
            return order
        try:
            await self._client.request("DELETE", f"{ORDERS}/{urlquote(order.broker_order_id, safe='')}",
                                       headers=self._auth)
        except NtUserError:
            # 422 "order is not cancelable": it filled or finished meanwhile, which the lookup shows.
            after = await self.lookup(client_order_id)
            if after is not None and after.status.terminal:
                return after
            raise
        after = await self.lookup(client_order_id)
        if after is None:
            raise NtUnavailable(f"broker alpaca lost order {client_order_id} after cancelling it; look it up later")
        return after

    async def cancel_all(self) -> list[CancelResult]:
        """Cancel every open order (``DELETE /v2/orders``, 207): one result per order."""
        return _cancel_results(await self._json("DELETE", ORDERS))

    async def open_orders(self) -> list[BrokerOrder]:
        """Every open order, oldest first, brackets with their legs nested (as Alpaca lists them).
        Pages follow ``after`` (submission time); an order seen on two pages is listed once."""
        found: dict[str, BrokerOrder] = {}
        after: str | None = None
        for _ in range(MAX_PAGES):
            params = {"status": "open", "nested": "true", "direction": "asc", "limit": str(self.page_limit)}
            if after is not None:
                params["after"] = after
            page = await self._json("GET", ORDERS, params)
            if not isinstance(page, list):
                raise _bad("an order list", f"expected a list, got {type(page).__name__}")
            new = 0
            for body in page:
                order = order_from_alpaca(body)
                if order.broker_order_id not in found:
                    found[order.broker_order_id] = order
                    new += 1
            if len(page) < self.page_limit:
                return list(found.values())
            if new == 0:
                raise _bad("an order list", f"more than {self.page_limit} open orders share one submission time")
            last = _time(page[-1], "submitted_at", "created_at")
            if last is None:
                raise _bad("an order list", "an order without submitted_at")
            # Alpaca's ``after`` is exclusive: step back a microsecond so orders sharing the last
            # time are not skipped (they come again and are dropped by id).
            after = (last - dt.timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
        raise _bad("an order list", f"more than {MAX_PAGES} pages")

    # -- holdings ----------------------------------------------------------------------------------
    async def positions(self) -> list[Position]:
        body = await self._json("GET", "/v2/positions")
        if not isinstance(body, list):
            raise _bad("a position list", f"expected a list, got {type(body).__name__}")
        return [position_from_alpaca(p) for p in body]

    async def account(self) -> Account:
        return account_from_alpaca(await self._json("GET", "/v2/account"))


def create(host: Any) -> AlpacaBroker:
    """The broker for ``host`` (its HTTP service and settings; keys from the environment): what a
    ``BrokerSpec`` named ``alpaca`` calls."""
    return AlpacaBroker(http=host.services.http, settings=host.settings)
