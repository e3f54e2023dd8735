"""First-party brokers: ``paper``, the embedded default (:mod:`.paper`), and ``alpaca`` (:mod:`.alpaca`:
paper endpoint by default; live only with ``NT_ALPACA_MODE=live``, ``NT_ENABLE_LIVE_TRADING=1`` and live
keys).

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

    # Simulated fills on whatever data there is: synthetic quotes too (the results say so).
    return PaperBroker(host.services.storage, quotes=quotes_from_market(MarketData.for_host(host),
                                                                        allow_synthetic=True))


PAPER = BrokerSpec(name="paper", summary="Simulated fills at the latest quote or bar, kept in the database",
                   live=False, create=_paper)


def _alpaca(host: Any) -> Any:
    from neural_trader_plugins.brokers.alpaca import create

    return create(host)


#: ``live`` here is what the default configuration does; the broker built says what it really is.
ALPACA = BrokerSpec(name="alpaca", summary="Alpaca trading API v2: paper by default; live with NT_ALPACA_MODE=live, "
                                           "NT_ENABLE_LIVE_TRADING=1 and live keys",
                    live=False, create=_alpaca)


@hookimpl
def nt_register_brokers(register):  # type: ignore[no-untyped-def]
    register(PAPER)
    register(ALPACA)


__all__ = ["ALPACA", "PAPER", "nt_register_brokers"]
