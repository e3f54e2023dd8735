"""First-party brokers: ``paper``, the embedded default (:mod:`.paper`).

Each is a :class:`~neural_trader.domain.orders.BrokerSpec` whose ``create(host)`` builds the broker
from the host's services, so nothing is opened until a broker is used.
"""

from __future__ import annotations

from typing import Any

from neural_trader.domain.orders import BrokerSpec
from neural_trader.hookspecs import hookimpl


def _paper(host: Any) -> Any:
    from neural_trader.market.service import MarketData
    from neural_trader.services.orders import quotes_from_market
    from neural_trader_plugins.brokers.paper import PaperBroker

    return PaperBroker(host.services.storage, quotes=quotes_from_market(MarketData.for_host(host)))


PAPER = BrokerSpec(name="paper", summary="Simulated fills at the latest quote or bar, kept in the database",
                   live=False, create=_paper)


@hookimpl
def nt_register_brokers(register):  # type: ignore[no-untyped-def]
    register(PAPER)


__all__ = ["PAPER", "nt_register_brokers"]
