"""Live strategy runs: ``strategy.run`` trades a registered strategy bar by bar through the order
manager and its risk gate (paper broker by default), ``strategy.status`` and ``strategy.stop``
manage the runs (:mod:`neural_trader.services.live_runner`).

The strategy is the one that backtests, unchanged: the runner gives it the event-driven engine's
API and does its work in the engine's order, so a replay of historical bars gives the backtest's
orders and fills (tests/orders/test_live_parity.py). ``mode="replay"`` runs on the bars the data
provider has, on a paper account of its own, as fast as they come (the examples: synthetic bars on
an empty data directory, the same answer every time); ``mode="live"`` polls for new bars and trades
the caller's account at the configured broker until it is stopped.

A run is its starter's (:class:`~neural_trader.services.live_runner.LiveRuns`): a network caller
without the ``admin`` scope lists and stops only the runs it started, and another's run id is not
found; the operator (CLI, in-process) and ``admin`` callers see every run. A start that is refused
(an account the caller may not trade, live trading off, no bars, settings a run cannot simulate)
answers the error and leaves no run behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

import attrs

from neural_trader.backtest.config import BacktestConfig
from neural_trader.domain.market import SYMBOL_HINT, SYMBOL_PATTERN, Timeframe
from neural_trader.errors import NtUserError
from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Context, Operation, Scope
from neural_trader.schema import param
from neural_trader.services.live_runner import LiveRun, LiveRuns, RunSpec

__all__ = ["nt_register_operations", "nt_shutdown"]

_RUN_ID = "a run's id, from strategy.run (lr- and 12 hex digits)"


@attrs.frozen(kw_only=True)
class RunParams:
    """Which strategy, on what, where, and how."""

    strategy: str = param(max_len=100, description="strategy name (`strategies list` shows them)")
    symbol: str = param(pattern=SYMBOL_PATTERN, pattern_hint=SYMBOL_HINT, description="the instrument it trades")
    strategy_params: dict[str, Any] = param(
        factory=dict, description="the strategy's parameters; omitted ones take their defaults")
    config: BacktestConfig | None = param(
        default=None, description="sizing, costs and exits as in a backtest (a replay's paper broker charges "
                                  "the same commission and slippage)")
    mode: Literal["live", "replay"] = param(
        description="explicit, since live trades: live: poll for new bars and trade the caller's account; replay: the bars "
                                    "between start and end, at once, on a paper account of the run's own")
    broker: str | None = param(default=None, max_len=100,
                               description="live mode: the broker (default: NT_BROKER, else paper)")
    account: str | None = param(default=None, max_len=100, description="live mode: the account (default: the "
                                                                        "caller's own; only the operator and an "
                                                                        "admin may name another)")
    timeframe: Timeframe = param(default=Timeframe.DAY_1, description="bar length")
    provider: str | None = param(default=None, max_len=100,
                                 description="the data provider (default: the fallback chain)")
    start: dt.datetime | None = param(default=None, description="first bar (replay: required)")
    end: dt.datetime | None = param(default=None, description="replay: last bar (default: now)")
    max_bars: int | None = param(default=None, ge=1, le=1_000_000, description="stop after this many bars")
    poll_interval: float = param(default=60.0, ge=0.01, le=86_400.0,
                                 description="live mode: seconds between polls for a new bar")
    name: str = param(default="", max_len=100, description="tells apart two runs of the same settings (the "
                                                           "same settings without a name are the same run, "
                                                           "resumed)")
    wait: bool = param(default=False, description="answer when the run ends (a replay, or max_bars)")


@attrs.frozen(kw_only=True)
class RunStatus:
    """Where a run stands."""

    run_id: str = param(description=_RUN_ID)
    strategy: str
    symbol: str
    mode: str
    broker: str
    account: str
    state: Literal["running", "finished", "stopped", "failed"] = param(
        description="running, finished (its bars ran out or max_bars), stopped or failed (see error)")
    bars: int = param(description="bars processed")
    orders: int = param(description="orders it sent (accepted by the risk gate)")
    rejected: int = param(description="orders the risk gate or the broker refused")
    fills: int
    position: float = param(description="units held by the run")
    cash: float = param(description="the run's cash: what it started with plus its fills", unit="money")
    equity: float = param(description="cash plus the position at the last close", unit="money")
    pnl: float = param(description="equity less the cash it started with", unit="money")
    owner: str | None = param(default=None, description="who started it, as its orders' owner (an identity, or "
                                                        "identity:key id); none: the operator")
    last_bar: dt.datetime | None = None
    last_error: str | None = None
    error: str | None = param(default=None, description="why it failed")


@attrs.frozen(kw_only=True)
class StatusParams:
    run_id: str | None = param(default=None, max_len=40, description=f"{_RUN_ID}; none: every run")


@attrs.frozen(kw_only=True)
class StopParams:
    run_id: str | None = param(default=None, max_len=40, description=_RUN_ID)
    all: bool = param(default=False, description="stop every running run")


@attrs.frozen(kw_only=True)
class RunList:
    runs: list[RunStatus]


def _status(run: LiveRun) -> RunStatus:
    s = run.stats
    return RunStatus(run_id=run.run_id, strategy=run.spec.strategy, symbol=run.spec.symbol, mode=run.spec.mode,
                     broker=run.broker, account=run.account, state=run.state, bars=s.bars, orders=s.orders,
                     rejected=s.rejected, fills=s.fills, position=s.position, cash=s.cash, equity=s.equity,
                     pnl=s.pnl, owner=run.owner, last_bar=s.last_bar, last_error=s.last_error, error=run.error)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def run_strategy(params: RunParams, ctx: Context) -> RunStatus:
    if params.mode == "replay" and params.start is None:
        raise NtUserError("a replay needs start (the first bar to replay)", details={"path": "$.start"})
    if params.mode == "replay" and (params.broker or params.account):
        raise NtUserError("a replay trades a paper account of its own; give no broker or account")
    spec = RunSpec(strategy=params.strategy, params=dict(params.strategy_params), symbol=params.symbol.upper(),
                   broker=params.broker, account=params.account, timeframe=params.timeframe.value,
                   provider=params.provider, poll_interval=params.poll_interval,
                   config={} if params.config is None else attrs.asdict(params.config), mode=params.mode,
                   start=_iso(params.start), end=_iso(params.end), max_bars=params.max_bars, name=params.name)
    run = await LiveRuns.for_host(ctx.host).start(spec, wait=params.wait)
    return _status(run)


def run_status(params: StatusParams, ctx: Context) -> RunList:
    runs = LiveRuns.for_host(ctx.host)
    if params.run_id is not None:
        return RunList(runs=[_status(runs.get(params.run_id))])
    return RunList(runs=[_status(r) for r in runs.visible()])


async def stop_runs(params: StopParams, ctx: Context) -> RunList:
    if (params.run_id is None) == (not params.all):
        raise NtUserError("give run_id, or all: true", details={"path": "$.run_id"})
    runs = LiveRuns.for_host(ctx.host)
    chosen = [params.run_id] if params.run_id is not None else [
        r.run_id for r in runs.visible() if r.state == "running"]
    return RunList(runs=[_status(await runs.stop(run_id)) for run_id in chosen])


_REPLAY: dict[str, Any] = {"strategy": "sma_crossover", "symbol": "SPY", "mode": "replay", "provider": "synthetic",
           "start": "2024-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z",
           "strategy_params": {"fast": 5, "slow": 20}, "wait": True}


def _examples(*examples: dict[str, Any]) -> Any:  # Operation converts them with tuple(); mypy cannot type that
    return examples


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    trade = Scope.TRADE
    register(Operation(
        name="strategy.run", summary="Trade a registered strategy bar by bar through the order manager and the "
                                     "risk gate (paper by default), exactly as it backtests.",
        description="The strategy runs unchanged: the runner gives it the event-driven backtest's API and works in "
                    "its order (market orders sized and filled at the next bar's open, or at the close with "
                    "fill_at close; resting orders and exits checked on each bar in the order placed). Client "
                    "order ids derive from the run id, the bar and the order's number, so starting the same "
                    "settings again resumes the run and sends nothing twice. Returns at once (a background "
                    "run) unless wait.",
        params=RunParams, result=RunStatus, handler=run_strategy, scope=trade, read_only=False,
        destructive=True, idempotent=True, open_world=True, confirm=True,
        examples=_examples({**_REPLAY, "confirm": True},
                           {"strategy": "sma_crossover", "symbol": "AAPL", "mode": "live", "poll_interval": 60,
                            "confirm": True})))
    register(Operation(
        name="strategy.status", summary="Live runs: bars processed, orders, fills, P&L and the last error.",
        description="A caller without the admin scope sees only the runs it started; the operator and admins "
                    "see every run.",
        params=StatusParams, result=RunList, handler=run_status, scope=Scope.READ,
        examples=_examples({})))
    register(Operation(
        name="strategy.stop", summary="Stop a live run (or all) after the bar it is on.",
        description="Orders it left working stay at the broker (orders.cancel_all cancels them). A caller "
                    "without the admin scope stops only the runs it started (another's run id is not found).",
        params=StopParams, result=RunList, handler=stop_runs, scope=trade, read_only=False, idempotent=True,
        examples=_examples({"all": True})))


@hookimpl
def nt_shutdown(host: Any) -> None:
    LiveRuns.forget(host)
