"""The sandbox, agent and swarm operations end to end: one answer through CLI, MCP and REST; a strategy
script backtested inside a sandbox against the closed form of buy-and-hold; an agent's orders
through the risk gate; a hierarchical swarm played, vetoed and shut down; a template round trip."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from neural_trader.host import Host
from neural_trader.testing import call_everywhere

BARS = {"symbol": "SPY", "provider": "synthetic", "start": "2023-01-01T00:00:00Z", "end": "2023-12-29T00:00:00Z"}


async def test_create_and_exec_agree_everywhere(nt_host: Host, nt_cli: Any, nt_mcp: Any, nt_rest: Any) -> None:
    made = await call_everywhere("sandbox.create", {"name": "everywhere"}, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert made["status"] == "running"
    out = await call_everywhere("sandbox.exec", {"sandbox": "everywhere", "command": ["echo", "hi"], "run_id": "r1"},
                                cli=nt_cli, mcp=nt_mcp, rest=nt_rest)
    assert out["stdout"] == "hi\n" and out["ok"]


def test_a_script_backtested_inside_is_buy_and_hold_by_closed_form(nt_host: Host) -> None:
    nt_host.call("sandbox.create", {"name": "bt"})
    code = "import numpy as np\ndef signals(bars):\n    return np.ones(len(bars['close']))\n"
    out = nt_host.call("sandbox.run_code", {"sandbox": "bt", "code": code, "backtest": BARS})
    assert out["ok"], out["stderr"]
    report = out["backtest"]
    assert report["strategy"] == "sandbox" and report["synthetic"]
    bars = nt_host.call("market.bars", {"symbol": "SPY", "provider": "synthetic", "start": BARS["start"],
                                        "end": BARS["end"]})
    # All in (fractional units) at the next open after the first bar, no costs (the default config).
    entry, last = bars["open"][1], bars["close"][-1]
    expected = last / entry - 1
    assert report["metrics"]["total_return"] == pytest.approx(expected, rel=1e-6)


def test_a_failing_script_reports_its_error_and_no_backtest(nt_host: Host) -> None:
    nt_host.call("sandbox.create", {"name": "bad"})
    out = nt_host.call("sandbox.run_code", {"sandbox": "bad", "code": "raise ValueError('nope')", "backtest": BARS})
    assert not out["ok"] and out["backtest"] is None and "ValueError: nope" in out["stderr"]


def test_an_agents_orders_go_through_the_risk_gate(nt_host: Host) -> None:
    nt_host.call("risk.limits.set", {"max_order_qty": "5"})
    run = nt_host.call("agent.run", {"run_id": "gate", "agent": "trend_follower", "symbols": ["SPY", "QQQ"],
                                     "agent_params": {"fast": 1, "slow": 2}, "steps": 3, "qty": "10"})
    sent = [d for d in run["decisions"] if d["client_order_id"]]
    assert run["status"] == "completed"
    assert all(d["order_status"] == "rejected" and d["reason_code"] == "max_order_qty" for d in sent)
    assert run["rejected"] == len(sent) and run["positions"] == {}
    assert nt_host.call("agent.status", {"run_id": "gate"}) == run


def test_a_hierarchical_swarm_plays_is_vetoed_and_shuts_down(nt_host: Host) -> None:
    view = nt_host.call("swarm.init", {
        "name": "guarded", "topology": "hierarchical", "symbols": ["SPY"], "rounds": 3, "interval_s": 0,
        "agents": [{"name": "trend", "type": "trend_follower", "agent_params": {"fast": 1, "slow": 2}},
                   {"name": "guard", "type": "risk_monitor", "agent_params": {"max_volatility": 0.0001}}]})
    assert view["status"] in ("running", "completed")
    for _ in range(200):
        if nt_host.call("swarm.status", {"swarm": "guarded"})["status"] != "running":
            break
        time.sleep(0.1)
    metrics = nt_host.call("swarm.metrics", {"swarm": "guarded"})
    assert metrics["status"] == "completed" and metrics["round"] == 3, metrics
    trend = next(a for a in metrics["by_agent"] if a["name"] == "trend")
    assert trend["orders"] == 0  # every buy vetoed by the guard's volatility limit
    scaled = nt_host.call("swarm.scale", {"swarm": "guarded", "type": "mean_reverter", "count": 2})
    assert sorted(a["name"] for a in scaled["agents"]) == ["guard", "mean-reverter-1", "mean-reverter-2", "trend"]
    assert nt_host.call("swarm.shutdown", {"swarm": "guarded"})["status"] in ("completed", "stopped")


def test_a_template_exported_and_deployed_again(nt_host: Host) -> None:
    nt_host.call("template.deploy", {"name": "first", "template": "strategy-backtest"})
    exported = nt_host.call("template.export", {"sandbox": "first"})["templates"][0]
    again = nt_host.call("template.deploy", {"name": "second", "setup": exported})
    assert again["sandbox"]["files"] == ["strategy.py"] and again["sandbox"]["limits"]["wall_s"] == 30


def test_an_independent_swarms_fills_are_the_accounts_orders(nt_host: Host) -> None:
    nt_host.call("swarm.init", {
        "name": "free", "topology": "independent", "symbols": ["SPY"], "rounds": 2, "interval_s": 0,
        "agents": [{"name": "trend", "type": "trend_follower", "agent_params": {"fast": 1, "slow": 2}},
                   {"name": "maker", "type": "market_maker"}]})
    for _ in range(200):
        if nt_host.call("swarm.status", {"swarm": "free"})["status"] != "running":
            break
        time.sleep(0.1)
    metrics = nt_host.call("swarm.metrics", {"swarm": "free"})
    assert metrics["status"] == "completed", metrics
    orders = {o["client_order_id"]: o for o in nt_host.call("orders.list", {"limit": 1000})["orders"]}
    for agent in metrics["by_agent"]:
        assert agent["orders"] == sum(1 for c in orders if c.startswith(f"swarm-free:{agent['name']}:"))
        mine = [o for c, o in orders.items() if c.startswith(f"swarm-free:{agent['name']}:")]
        assert all(o["strategy"] == agent["name"] for o in mine)
        held = sum((1 if o["side"] == "buy" else -1) * float(o["filled_qty"]) for o in mine)
        assert held == pytest.approx(sum(float(q) for q in agent["positions"].values()))
    maker = next(a for a in metrics["by_agent"] if a["name"] == "maker")
    assert maker["orders"] >= 1  # its quotes rested and were cancelled at the end
    assert not [o for c, o in orders.items() if c.startswith("swarm-free:maker:") and o["status"] == "accepted"]


def test_plugins_json_says_which_isolation_is_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from neural_trader.host import make_host
    from neural_trader_cli.main import make_cli

    def notes() -> list[str]:
        out = CliRunner().invoke(make_cli(make_host()), ["plugins", "--json"], catch_exceptions=False).output
        return next(p["notes"] for p in json.loads(out) if p["name"] == "sandboxes")

    assert notes()[0].startswith("local sandboxes: bubblewrap; network none")
    monkeypatch.setenv("NT_SANDBOXES_BWRAP", "0")
    off = notes()
    assert off[0].startswith("local sandboxes: rlimits; network host") and "NT_SANDBOXES_BWRAP=0" in off[1]


def test_an_agent_run_that_would_hold_the_call_too_long_is_refused(nt_host: Host) -> None:
    from neural_trader.errors import NtUserError

    with pytest.raises(NtUserError, match=r"steps x interval_s is 10 s, above 5 s; run longer work as a swarm"):
        nt_host.call("agent.run", {"run_id": "slow", "agent": "trend_follower", "symbols": ["SPY"], "steps": 5,
                                   "interval_s": 2})
