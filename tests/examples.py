"""What an operation's example needs before it can run on a fresh host (shared by the tests that
call every operation's first example): an order to look up, cancel or replace must exist first."""

from __future__ import annotations

from typing import Any

#: operation -> the operation whose first example makes the first one meaningful.
SETUP: dict[str, str] = {"orders.get": "trade.execute", "orders.cancel": "trade.execute",
                         "orders.replace": "trade.execute", "neural.forecast": "neural.train"}


def run_setup(host: Any, name: str) -> None:
    """Run the example ``name`` depends on, if any (as the local admin)."""
    if name in SETUP:
        setup = host.operation(SETUP[name])
        host.call(setup.name, dict(setup.examples[0]))
