"""Market data: the provider contract, the synthetic generator, file readers, the local bar store,
caching and the fallback chain. The values themselves live in :mod:`neural_trader.domain.market`;
the first-party providers and the ``market.*`` operations are in the ``market`` plugin.

Submodules are imported where used, so importing this package costs nothing.
"""
