"""News and sentiment: articles from NewsAPI, Finnhub, Alpha Vantage, Alpaca and RSS/Atom files,
de-duplicated across sources, scored by VADER with a finance overlay, and aggregated per symbol
with exponential decay and no look-ahead.

The modules are plain: ``articles`` (the :class:`~.articles.Article` value and de-duplication),
one module per source (``newsapi``, ``finnhub``, ``alphavantage``, ``alpaca``: a request builder,
a body parser and a ``classify(response)`` for the host's HTTP layer; ``rss``: feed files),
``sentiment`` (the default scorer) and ``aggregate`` (decayed per-symbol series). Bad input raises
:class:`~neural_trader.errors.NtUserError` naming the field.
"""
