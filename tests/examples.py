"""What an operation's example needs before it can run on a fresh host (shared by the tests that
call every operation's first example): an order to look up, cancel or replace must exist first; a
syndicate's vote needs its proposal, which needs the syndicate."""

from __future__ import annotations

from typing import Any

#: operation -> the operation whose first example makes the first one meaningful.
SETUP: dict[str, str] = {"orders.get": "trade.execute", "orders.cancel": "trade.execute",
                         "orders.replace": "trade.execute", "neural.forecast": "neural.train",
                         **{f"syndicate.{name}": "syndicate.create" for name in (
                             "status", "list", "members", "member_add", "member_update", "member_remove", "deposit",
                             "allocate", "simulate_allocation", "limits", "set_rules", "distribute", "profit_history",
                             "withdraw_request", "withdrawals", "vote_create", "member_performance", "tax_estimate",
                             "ledger_verify")},
                         "syndicate.settle": "syndicate.allocate",
                         "syndicate.withdraw_approve": "syndicate.withdraw_request",
                         "syndicate.withdraw_process": "syndicate.withdraw_approve",
                         "syndicate.vote_cast": "syndicate.vote_create",
                         "syndicate.vote_results": "syndicate.vote_cast",
                         **{f"sandbox.{name}": "sandbox.create" for name in ("exec", "run_code", "terminate")},
                         "agent.status": "agent.run",
                         **{f"swarm.{name}": "swarm.init" for name in (
                             "deploy_agent", "status", "metrics", "scale", "shutdown")}}


def setup_chain(name: str) -> list[str]:
    """The operations whose first examples run before ``name``'s, first one first (SETUP followed back:
    a vote needs a proposal, which needs its syndicate)."""
    chain: list[str] = []
    while name in SETUP and SETUP[name] not in chain:
        name = SETUP[name]
        chain.insert(0, name)
    return chain


def run_setup(host: Any, name: str) -> None:
    """Run the examples ``name`` depends on, if any, in order (as the local admin)."""
    for setup_name in setup_chain(name):
        setup = host.operation(setup_name)
        host.call(setup.name, dict(setup.examples[0]))
