"""Sports betting maths and data: odds formats, bookmaker margins and their removal, Kelly staking,
arbitrage across bookmakers, value bets, and the football-data.co.uk results-and-odds loader.

The maths lives in plain modules (``odds``, ``margins``, ``kelly``, ``arbitrage``, ``value``,
``football_data``) that take plain values or numpy arrays, return frozen attrs values and raise
:class:`neural_trader.errors.NtUserError` naming the field.
"""
