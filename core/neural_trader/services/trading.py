"""Trading: the host's order managers, one per (broker, account), and the portfolio views over them.

A manager is built on first use from the registered :class:`~neural_trader.domain.orders.BrokerSpec`
(``nt_register_brokers``), with the host's audit log and market quotes as its price references, and
started at once (start-up reconciliation). The broker is ``paper`` unless ``NT_BROKER`` (or
``[plugins.trading] broker``) names another; a live broker (one that moves real money) is refused
unless ``NT_ENABLE_LIVE_TRADING=1``.

**Whose account.** A call trades the account of its caller (:meth:`Trading.account_for`): a registered
identity's bound account, by default one of its own named after it
(:func:`~neural_trader.services.identity.account_of`); the operator (the CLI, in-process code, no bound
caller) and callers that are no registered identity trade the configured account, ``default`` unless
``[plugins.trading] account`` (``NT_TRADING_ACCOUNT``) says otherwise. Only the operator and ``admin``
callers may name another account (a live run's ``account``). Each account has its own manager, and on
a broker that can split its book (the paper broker's ``for_account``) its own book, starting with the
broker's initial cash; a broker that cannot (one real account at Alpaca) trades the configured account
only.

Every call into a manager runs on the trading loop, an event loop in a thread of its own: the
managers' database work is blocking, and it must never stall the loop of a server (REST, MCP) that
is answering other requests meanwhile. Calls from any loop or thread are fine (:meth:`Trading.call`).
"""

from __future__ import annotations

import asyncio
import decimal
import inspect
import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from neural_trader.domain.orders import Broker, BrokerSpec, Order, OrderSide, OrderStatus, Position
from neural_trader.errors import NtError, NtForbidden, NtUserError
from neural_trader.ops import Scope

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.services.audit import AuditLog
    from neural_trader.services.orders import OrderManager, PriceRef

__all__ = ["DEFAULT_ACCOUNT", "DEFAULT_BROKER", "Execution", "Holding", "LiveTradingRefused", "Portfolio",
           "RebalanceLine", "Trading", "execution_of", "portfolio_of", "rebalance_lines"]

D = decimal.Decimal
T = TypeVar("T")

DEFAULT_BROKER = "paper"
DEFAULT_ACCOUNT = "default"
_TRUE = frozenset({"1", "true", "yes", "on"})


class LiveTradingRefused(NtForbidden):
    """A broker that moves real money was asked for without ``NT_ENABLE_LIVE_TRADING=1``."""

    type = "live_trading_disabled"


def live_trading_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return str(environ.get("NT_ENABLE_LIVE_TRADING", "")).strip().lower() in _TRUE


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's where it is installed (a dependency except on Windows; its loop
    costs a fraction of asyncio's per callback, and the trading loop runs one per order step), else
    asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Loop:
    """An event loop running in a daemon thread of its own, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="neural_trader.trading", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        loop = self._running()
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            return await factory()

        async def wrapped() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(wrapped(), loop)
        # Shielded: an order being persisted or sent finishes even when the caller goes away.
        return await asyncio.shield(asyncio.wrap_future(future))

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        if not thread.is_alive():
            loop.close()


class Trading:
    """The order managers of one host; see the module docstring."""

    def __init__(self, host: Host) -> None:
        import weakref

        self._host = weakref.ref(host)
        self._loop = _Loop()
        self._managers: dict[tuple[str, str], OrderManager] = {}
        self._building: asyncio.Lock | None = None

    @property
    def host(self) -> Host:
        host = self._host()
        if host is None:
            raise RuntimeError("the host of this trading service is gone")
        return host

    # -- configuration -------------------------------------------------------------------------------
    @property
    def broker_name(self) -> str:
        """The broker orders go to: ``NT_BROKER``, else ``[plugins.trading] broker``, else ``paper``."""
        from neural_trader.settings import plugin_env

        named = os.environ.get("NT_BROKER") or plugin_env(self.host.settings, "trading", "broker")
        return (named or DEFAULT_BROKER).strip()

    @property
    def configured_account(self) -> str:
        """The operator's account: ``[plugins.trading] account`` (``NT_TRADING_ACCOUNT``), else ``default``."""
        from neural_trader.settings import plugin_env

        return (plugin_env(self.host.settings, "trading", "account") or DEFAULT_ACCOUNT).strip()

    @property
    def account_name(self) -> str:
        """The account the current caller trades (:meth:`account_for`)."""
        return self.account_for()

    def account_for(self, account: str | None = None) -> str:
        """The account a call trades: ``account`` when given and the caller may name it (the operator,
        an ``admin``, or the caller's own account), else the caller's own; see the module docstring."""
        from neural_trader.services.identity import account_of, current_caller, identities_of

        caller = current_caller()
        own = account_of(caller, identities_of(self.host), default=self.configured_account)
        if account is None or account == own:
            return own
        if caller is None or caller.allows(Scope.ADMIN):
            return account
        raise NtForbidden(f"{caller.name} trades account {own!r} only, not {account!r}: leave account out, or ask "
                          f"an administrator to bind {caller.name} to it (`neural-trader identities set-account "
                          f"{caller.name} {account}`)")

    def spec(self, broker: str | None = None) -> BrokerSpec:
        spec: BrokerSpec = self.host.registry("brokers").get(broker or self.broker_name)
        return spec

    def _refuse_live(self, name: str) -> None:
        if not live_trading_enabled():
            raise LiveTradingRefused(
                f"broker {name!r} trades real money and live trading is off: set NT_ENABLE_LIVE_TRADING=1 to "
                f"allow it (the default broker, {DEFAULT_BROKER!r}, only simulates)")

    # -- managers --------------------------------------------------------------------------------------
    async def manager(self, broker: str | None = None, account: str | None = None) -> OrderManager:
        """The started manager of ``account`` at ``broker`` (defaults: the configured broker, the
        caller's account)."""
        return await self._loop.run(lambda: self._manager(broker or self.broker_name, self.account_for(account)))

    async def _manager(self, broker: str, account: str) -> OrderManager:
        if self._building is None:
            self._building = asyncio.Lock()
        async with self._building:
            found = self._managers.get((broker, account))
            if found is None:
                found = await self._build(broker, account)
                self._managers[(broker, account)] = found
        if not found.reconciled:
            # Refused until reconciliation succeeds: each use tries again.
            await found.reconcile(actor="system:reconcile")
        return found

    async def _build(self, broker_name: str, account: str) -> OrderManager:
        from neural_trader.market.service import MarketData
        from neural_trader.services.orders import OrderManager, quotes_from_market

        spec = self.spec(broker_name)
        if spec.live:
            self._refuse_live(spec.name)
        built: Broker = spec.create(self.host)
        if getattr(built, "live", False):
            self._refuse_live(spec.name)
        configured = self.configured_account
        if account != configured:
            # The configured account keeps the broker's own book; another account on one shared book
            # would take the others' orders and fills for its own, so it needs a book of its own.
            split = getattr(built, "for_account", None)
            if split is None:
                raise NtForbidden(
                    f"broker {spec.name!r} keeps one book, so it trades only the configured account {configured!r}, "
                    f"not {account!r}: bind the identity to {configured!r} (`neural-trader identities set-account "
                    f"NAME {configured}`), or trade on the paper broker")
            built = split(account)
        services = self.host.services
        cash = (await built.account()).cash
        # A simulated broker on the embedded defaults trades on synthetic quotes (its fills are as
        # simulated as its data); a broker that moves money never does.
        synthetic = not getattr(built, "live", False) and self._synthetic_quotes()
        manager = OrderManager(services.storage, built, audit=services.audit, account=account,
                               quotes=quotes_from_market(MarketData.for_host(self.host), allow_synthetic=synthetic),
                               initial_cash=cash)
        await manager.start()
        return manager

    def _synthetic_quotes(self) -> bool:
        """``[plugins.trading] synthetic_quotes`` / ``NT_TRADING_SYNTHETIC_QUOTES`` (default true): may a
        paper account price market orders at synthetic quotes (the embedded default has no other)?"""
        from neural_trader.settings import plugin_env

        value = plugin_env(self.host.settings, "trading", "synthetic_quotes")
        return value is None or value.strip().lower() not in ("0", "false", "no", "off")

    async def call(self, fn: Callable[[OrderManager], T | Awaitable[T]], *, broker: str | None = None,
                   account: str | None = None) -> T:
        """``fn(manager)`` on the trading loop (awaited when it returns an awaitable), in a ``trading``
        span under the caller's: the trading loop's thread runs in the caller's tracing context. The
        manager is that of ``account`` (:meth:`account_for`: by default the caller's own)."""
        from opentelemetry import context as otel_context

        from neural_trader.tracing import span

        caller = otel_context.get_current()
        name = broker or self.broker_name

        async def run() -> T:
            token = otel_context.attach(caller)
            try:
                # On the trading loop, in the caller's context: the identity lookup may touch the database.
                manager = await self._manager(name, self.account_for(account))
                out = fn(manager)
                if inspect.isawaitable(out):
                    return await out
                return out
            finally:
                otel_context.detach(token)

        with span("trading", broker=name):
            return await self._loop.run(run)

    async def run(self, fn: Callable[[], T]) -> T:
        """A blocking ``fn()`` on the trading loop's thread (database work that needs no manager)."""

        async def run() -> T:
            return fn()

        return await self._loop.run(run)

    def managers(self) -> list[OrderManager]:
        return list(self._managers.values())

    def close(self) -> None:
        self._loop.close()
        self._managers.clear()
        self._building = None

    # -- reading helpers -------------------------------------------------------------------------------
    @property
    def audit(self) -> AuditLog:
        audit: AuditLog = self.host.services.audit
        return audit


# -- portfolio views (pure: the numbers of a test can be worked by hand) -----------------------------
@attrs.frozen(kw_only=True)
class Holding:
    symbol: str
    qty: D
    avg_price: D
    mark: D | None
    #: ``quote`` (the latest observed quote), ``given`` (a price the caller passed), ``last_fill``.
    mark_source: str | None
    market_value: D | None
    unrealized_pnl: D | None
    realized_pnl: D
    weight: D | None


@attrs.frozen(kw_only=True)
class Portfolio:
    holdings: tuple[Holding, ...]
    cash: D
    equity: D
    market_value: D
    gross_exposure: D
    net_exposure: D
    unrealized_pnl: D
    realized_pnl: D
    #: Held symbols without any price: their value is left out of equity and exposure.
    unpriced: tuple[str, ...]


def _quantize(value: D, places: str = "0.0001") -> D:
    return value.quantize(D(places), rounding=decimal.ROUND_HALF_EVEN)


def portfolio_of(positions: Iterable[Position], cash: D, marks: Mapping[str, tuple[D | None, str | None]]) -> Portfolio:
    """The portfolio at ``marks`` (symbol -> (price, source)): market values, P&L, exposure and
    weights (market value over equity; ``None`` when equity is not positive)."""
    rows = []
    for p in positions:
        if p.qty == 0 and p.realized_pnl == 0:
            continue
        price, source = marks.get(p.symbol, (None, None))
        rows.append((p, price, source))
    priced = [(p, price) for p, price, _ in rows if price is not None]
    market_value = sum((p.qty * price for p, price in priced), D(0))
    equity = cash + market_value
    holdings = []
    for p, price, source in rows:
        mv = None if price is None else p.qty * price
        holdings.append(Holding(
            symbol=p.symbol, qty=p.qty, avg_price=p.avg_price, mark=price, mark_source=source, market_value=mv,
            unrealized_pnl=None if price is None else p.unrealized_pnl(price), realized_pnl=p.realized_pnl,
            weight=None if mv is None or equity <= 0 else _quantize(mv / equity, "0.000001")))
    return Portfolio(
        holdings=tuple(holdings), cash=cash, equity=equity, market_value=market_value,
        gross_exposure=sum((abs(p.qty * price) for p, price in priced), D(0)), net_exposure=market_value,
        unrealized_pnl=sum((p.unrealized_pnl(price) for p, price in priced), D(0)),
        realized_pnl=sum((p.realized_pnl for p, _, _ in rows), D(0)),
        unpriced=tuple(p.symbol for p, price, _ in rows if price is None and p.qty != 0))


@attrs.frozen(kw_only=True)
class RebalanceLine:
    symbol: str
    price: D
    current_qty: D
    current_weight: D
    target_weight: D
    target_qty: D
    #: The order that moves the holding to its target (``None``: already within the threshold).
    side: OrderSide | None
    qty: D
    notional: D
    skipped: str | None = None


def rebalance_lines(portfolio: Portfolio, targets: Mapping[str, D], prices: Mapping[str, D], *,
                    threshold: D = D(0), lot: D = D(1), close_others: bool = True) -> list[RebalanceLine]:
    """Orders that move ``portfolio`` to ``targets`` (symbol -> weight of equity) at ``prices``.

    Target quantity = weight x equity / price, rounded toward zero to a multiple of ``lot``; a
    change worth less than ``threshold`` x equity is skipped. Held symbols not in ``targets`` go to
    zero when ``close_others``. Lines are sells first (they free the cash the buys need), then by symbol.
    """
    equity = portfolio.equity
    if equity <= 0:
        raise NtUserError(f"equity is {equity}: there is nothing to rebalance")
    held = {h.symbol: h.qty for h in portfolio.holdings}
    wanted = dict(targets)
    if close_others:
        for symbol, qty in held.items():
            if qty != 0:
                wanted.setdefault(symbol, D(0))
    lines = []
    for symbol in sorted(wanted):
        if symbol not in prices:
            raise NtUserError(f"no price for {symbol}: pass it in prices, or wait for a quote")
        price, weight = prices[symbol], wanted[symbol]
        current = held.get(symbol, D(0))
        target = (weight * equity / price / lot).to_integral_value(rounding=decimal.ROUND_DOWN) * lot
        change = target - current
        notional = abs(change) * price
        skipped = None
        if change == 0:
            skipped = "at target"
        elif notional < threshold * equity:
            skipped = f"change of {_quantize(notional, '0.01')} is under the threshold"
        lines.append(RebalanceLine(
            symbol=symbol, price=price, current_qty=current, current_weight=_quantize(current * price / equity, "0.000001"),
            target_weight=weight, target_qty=target,
            side=None if skipped else (OrderSide.BUY if change > 0 else OrderSide.SELL),
            qty=D(0) if skipped else abs(change), notional=D(0) if skipped else notional, skipped=skipped))
    lines.sort(key=lambda line: (line.side is not OrderSide.SELL, line.symbol))
    return lines


# -- execution analytics ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Execution:
    client_order_id: str
    symbol: str
    side: OrderSide
    status: OrderStatus
    qty: D
    filled_qty: D
    fill_ratio: D
    arrival_price: D | None
    avg_fill_price: D | None
    #: Cost against the arrival price, in basis points: positive when the fills were worse.
    slippage_bps: D | None
    #: Seconds from the order's submission to its first fill.
    latency_s: float | None


def execution_of(order: Order, arrival: D | None, first_fill_at: Any) -> Execution:
    filled = order.filled_qty
    slippage = None
    if arrival is not None and arrival > 0 and order.avg_fill_price is not None and filled > 0:
        slippage = _quantize((order.avg_fill_price - arrival) / arrival * 10_000 * order.request.side.sign, "0.01")
    latency = None if first_fill_at is None else max((first_fill_at - order.created_at).total_seconds(), 0.0)
    return Execution(client_order_id=order.client_order_id, symbol=order.request.symbol, side=order.request.side,
                     status=order.status, qty=order.request.qty, filled_qty=filled,
                     fill_ratio=_quantize(filled / order.request.qty, "0.000001"), arrival_price=arrival,
                     avg_fill_price=order.avg_fill_price, slippage_bps=slippage, latency_s=latency)


def arrivals(storage: Any, client_order_ids: Sequence[str]) -> dict[str, D | None]:
    """The arrival price of each order: the quote the order manager kept in its ``order.submit`` audit
    record (``None`` when there was none)."""
    from sqlmodel import col, select

    from neural_trader.services.tables_audit import AuditRecordRow

    out: dict[str, D | None] = {}
    ids = list(client_order_ids)
    with storage.session() as session:
        for start in range(0, len(ids), 500):
            rows = session.exec(select(AuditRecordRow.target, AuditRecordRow.result).where(
                AuditRecordRow.action == "order.submit", col(AuditRecordRow.target).in_(ids[start:start + 500]))).all()
            for target, result in rows:
                arrival = (json.loads(result) or {}).get("arrival") if result else None
                price = arrival.get("price") if isinstance(arrival, dict) else None
                out[target] = None if price is None else D(str(price))
    return out


def first_fills(storage: Any, account: str) -> dict[str, Any]:
    """The time of each order's first fill in ``account``."""
    import sqlalchemy as sa
    from sqlmodel import select

    from neural_trader.services.tables_orders import FillRow

    with storage.session() as session:
        rows = session.exec(select(FillRow.client_order_id, sa.func.min(FillRow.time))
                            .where(FillRow.account == account).group_by(FillRow.client_order_id)).all()
    return dict(rows)


async def marks_for(manager: OrderManager, symbols: Iterable[str],
                    given: Mapping[str, D] | None = None) -> dict[str, tuple[D | None, str | None]]:
    """A price for each symbol: one ``given``, else the latest observed quote (mid, else last), else
    the last fill."""
    last = manager.marks()
    out: dict[str, tuple[D | None, str | None]] = {}
    for symbol in symbols:
        if given and symbol in given:
            out[symbol] = (given[symbol], "given")
            continue
        quote: PriceRef | None = None
        if manager.quotes is not None:
            try:
                quote = await manager.quotes(symbol)
            except NtError:
                quote = None  # no reference: fall back to the last fill, never a made-up price
        if quote is not None:
            mid = (quote.bid + quote.ask) / 2 if quote.bid is not None and quote.ask is not None else quote.last
            if mid is not None:
                out[symbol] = (mid, "quote")
                continue
        fill = last.get(symbol)
        out[symbol] = (fill, "last_fill" if fill is not None else None)
    return out
