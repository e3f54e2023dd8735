"""Live runs as managed background tasks: strategy.run / strategy.status / strategy.stop through the
host, a replay that finishes and resumes identically, a polling run that stops on request, and runs
that stop when the host shuts down."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlmodel import col, select

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Scope
from neural_trader.services.live_runner import LiveRuns
from neural_trader.services.tables_orders import OrderRow, PaperOrderRow

ADMIN = Identity(name="test-admin", scopes=frozenset({Scope.ADMIN}))
REPLAY = {"strategy": "sma_crossover", "symbol": "SPY", "mode": "replay", "provider": "synthetic",
          "start": "2023-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z", "strategy_params": {"fast": 5, "slow": 20},
          "wait": True, "confirm": True}


async def call(host: Host, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return await host.operation(name).call(params, host.context(identity=ADMIN))


def paper_orders(host: Host, broker: str) -> list[str]:
    with host.services.storage.session() as session:
        return list(session.exec(select(PaperOrderRow.client_order_id).where(PaperOrderRow.broker == broker)
                                 .order_by(col(PaperOrderRow.id))).all())


async def test_a_replay_runs_to_its_end_and_starting_it_again_resumes_it() -> None:
    with make_host(strict=True) as host:
        first = await call(host, "strategy.run", REPLAY)
        assert first["state"] == "finished" and first["bars"] > 400 and first["orders"] > 5
        assert first["fills"] == first["orders"] and first["error"] is None
        sent = paper_orders(host, first["broker"])
        assert len(sent) == first["orders"] and all(c.startswith(first["run_id"] + ".") for c in sent)
        again = await call(host, "strategy.run", REPLAY)
        assert again == first
        assert paper_orders(host, first["broker"]) == sent  # nothing sent twice
        other = await call(host, "strategy.run", {**REPLAY, "name": "second"})
        assert other["run_id"] != first["run_id"] and other["fills"] == first["fills"]
        listed = await call(host, "strategy.status", {})
        assert {r["run_id"] for r in listed["runs"]} == {first["run_id"], other["run_id"]}
        one = await call(host, "strategy.status", {"run_id": first["run_id"]})
        assert one["runs"] == [first]


async def test_a_bounded_replay_stops_at_max_bars() -> None:
    with make_host(strict=True) as host:
        short = await call(host, "strategy.run", {**REPLAY, "max_bars": 150})
        assert short["state"] == "finished" and short["bars"] == 150


async def test_a_polling_run_works_in_the_background_until_stopped() -> None:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=120)).replace(hour=0, minute=0, second=0, microsecond=0)
    with make_host(strict=True) as host:
        run = await call(host, "strategy.run", {"strategy": "sma_crossover", "symbol": "SPY", "provider": "synthetic",
                                                "mode": "live", "start": start.isoformat(), "poll_interval": 0.05,
                                                "strategy_params": {"fast": 3, "slow": 8}, "confirm": True})
        assert run["state"] == "running" and run["mode"] == "live" and run["broker"] == "paper"
        for _ in range(200):
            status = (await call(host, "strategy.status", {"run_id": run["run_id"]}))["runs"][0]
            if status["bars"] >= 60:
                break
            await asyncio.sleep(0.05)
        assert status["state"] == "running" and status["bars"] >= 60, status
        # the host's paper broker fills market orders at once, at its (here synthetic) quote
        assert status["orders"] > 0 and status["fills"] == status["orders"] and status["error"] is None
        stopped = await call(host, "strategy.stop", {"run_id": run["run_id"]})
        assert stopped["runs"][0]["state"] == "stopped"
        assert (await call(host, "strategy.stop", {"all": True}))["runs"] == []
        with host.services.storage.session() as session:
            ours = session.exec(select(OrderRow.client_order_id).where(
                col(OrderRow.client_order_id).startswith(run["run_id"] + "."))).all()
        assert len(ours) == stopped["runs"][0]["orders"] + stopped["runs"][0]["rejected"]


async def test_the_host_shutting_down_stops_its_runs() -> None:
    host = make_host(strict=True)
    host.start()
    run = await call(host, "strategy.run", {"strategy": "sma_crossover", "symbol": "SPY", "provider": "synthetic",
                                            "mode": "live", "start": "2024-01-01T00:00:00Z", "poll_interval": 0.05,
                                            "confirm": True})
    live = LiveRuns.for_host(host).get(run["run_id"])
    await asyncio.to_thread(host.close)
    assert live.state == "stopped" and live.done.done()


async def test_wrong_requests_are_refused() -> None:
    with make_host(strict=True) as host:
        with pytest.raises(NtUserError, match="needs start"):
            await call(host, "strategy.run", {**REPLAY, "start": None})
        with pytest.raises(NtUserError, match="run_id, or all"):
            await call(host, "strategy.stop", {})
        with pytest.raises(NtNotFound):
            await call(host, "strategy.status", {"run_id": "lr-000000000000"})
        with pytest.raises(NtNotFound):
            await call(host, "strategy.run", {**REPLAY, "strategy": "no_such_strategy"})
