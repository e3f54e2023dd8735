"""Sports betting maths and data: odds formats, bookmaker margins and their removal, Kelly staking,
arbitrage across bookmakers, value bets, and the football-data.co.uk results-and-odds loader.

The maths lives in plain modules (``odds``, ``margins``, ``kelly``, ``arbitrage``, ``value``,
``football_data``) that take plain values or numpy arrays, return frozen attrs values and raise
:class:`neural_trader.errors.NtUserError` naming the field.
"""

from __future__ import annotations

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation


@hookimpl
def nt_register_operations(register):  # type: ignore[no-untyped-def]
    from neural_trader_plugins.sports import api

    register(Operation(
        name="odds.convert", summary="Odds in every format: decimal, american, fractional and implied probability.",
        params=api.ConvertParams, result=api.ConvertResult, handler=api.convert,
        examples=({"value": "+150", "format": "american"}, {"value": "5/2", "format": "fractional"})))
    register(Operation(
        name="odds.implied", summary="A market's margin and its fair probabilities by each margin-removal method "
                                     "(multiplicative, additive, power, Shin, odds ratio, differential).",
        params=api.ImpliedParams, result=api.ImpliedResult, handler=api.implied,
        examples=({"odds": [2.1, 3.4, 3.6]}, {"odds": [1.91, 1.91], "methods": ["shin", "power"]})))
    register(Operation(
        name="odds.margins", summary="Bookmakers' margins on one market, lowest first.",
        params=api.MarginsParams, result=api.MarginsResult, handler=api.compare,
        examples=({"books": {"pinnacle": [2.1, 3.5, 3.6], "bet365": [2.05, 3.4, 3.5]}},)))
    register(Operation(
        name="sports.kelly", summary="Kelly stakes: one bet, several outcomes of one event (closed form), or "
                                     "several independent bets (numeric), fractional.",
        params=api.SportsKellyParams, result=api.SportsKellyResult, handler=api.sports_kelly,
        examples=({"probabilities": [0.55], "odds": [2.0], "fraction": 0.5, "bankroll": 1000},
                  {"kind": "exclusive", "probabilities": [0.55, 0.28, 0.17], "odds": [1.9, 3.3, 4.0]})))
