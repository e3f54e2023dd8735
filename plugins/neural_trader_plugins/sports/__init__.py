"""Sports betting maths and data: odds formats, bookmaker margins and their removal, Kelly staking,
arbitrage across bookmakers, value bets, and the football-data.co.uk results-and-odds loader.

The maths lives in plain modules (``odds``, ``margins``, ``kelly``, ``arbitrage``, ``value``,
``football_data``) that take plain values or numpy arrays, return frozen attrs values and raise
:class:`neural_trader.errors.NtUserError` naming the field. Odds sources (``sources``: the
football-data files and The Odds API) register through ``nt_register_sports_markets``; fetched
prices are kept in ``sports_odds_snapshots`` (``tables``, ``history``) on this pack's migration branch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation
from neural_trader.services.branches import MigrationBranch

#: The plugin's table (``sports_odds_snapshots``) and its migrations.
MIGRATIONS = MigrationBranch(name="sports", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.sports.tables:metadata")

#: A 2023/24 Premier League match in the football-data files (NT_FOOTBALL_DATA_DIR).
_EVENT = "E0-20230811-burnley-man-city"


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


@hookimpl
def nt_register_sports_markets(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.sports.sources import BUILTIN

    for source in BUILTIN:
        register(source)


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
    _register_market_operations(register)


def _register_market_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.sports import arbitrage_ops, compare_ops, market_ops, movement_ops

    offline = ("The offline default source is football_data: football-data.co.uk CSV files in NT_FOOTBALL_DATA_DIR "
               "(default <data_dir>/football-data); oddsapi needs NT_ODDS_API_KEY.")
    register(Operation(
        name="sports.list", summary="Odds sources (configured? quota left) and the sports of one source.",
        description=offline, params=market_ops.ListParams, result=market_ops.ListResult, handler=market_ops.sports_list,
        open_world=True, examples=({"source": "football_data"},)))
    register(Operation(
        name="sports.events", summary="A sport's events (matches) from a source, by kick-off, without odds.",
        description=offline, params=market_ops.EventsParams, result=market_ops.EventsResult,
        handler=market_ops.sports_events, open_world=True,
        examples=({"sport": "soccer_epl", "start": "2023-08-11T00:00:00Z", "end": "2023-08-14T00:00:00Z", "limit": 5},)))
    register(Operation(
        name="sports.odds", summary="Every bookmaker's odds for a sport's events: h2h, spreads, totals; decimal or "
                                    "american; opening, closing or live.",
        description=offline + " Prices fetched from a network source are stored for odds.movement.",
        params=market_ops.OddsParams, result=market_ops.OddsResult, handler=market_ops.sports_odds, open_world=True,
        examples=({"sport": "soccer_epl", "start": "2023-08-11T00:00:00Z", "end": "2023-08-13T00:00:00Z",
                   "bookmakers": ["pinnacle", "bet365"], "limit": 3},
                  {"sport": "soccer_epl", "source": "oddsapi", "regions": ["uk"], "markets": ["h2h", "totals"]})))
    register(Operation(
        name="sports.event_odds", summary="One event's odds from every bookmaker.",
        description=offline, params=market_ops.EventOddsParams, result=market_ops.OddsResult,
        handler=market_ops.sports_event_odds, open_world=True,
        examples=({"sport": "soccer_epl", "event": _EVENT, "markets": ["h2h", "totals"]},)))
    register(Operation(
        name="sports.bookmaker_odds", summary="One bookmaker's odds for a sport's events.",
        description=offline, params=market_ops.BookmakerOddsParams, result=market_ops.OddsResult,
        handler=market_ops.sports_bookmaker_odds, open_world=True,
        examples=({"sport": "soccer_epl", "bookmaker": "pinnacle", "start": "2023-08-11T00:00:00Z", "limit": 5},)))
    register(Operation(
        name="sports.market_depth", summary="What is known of a market's depth: books quoting each outcome, best and "
                                            "worst prices (neither source gives order-book depth, and it says so).",
        description=offline, params=market_ops.DepthParams, result=market_ops.DepthResult,
        handler=market_ops.sports_market_depth, open_world=True,
        examples=({"sport": "soccer_epl", "event": _EVENT},)))
    register(Operation(
        name="odds.movement", summary="How an event's prices moved: opening to closing (football-data) or between "
                                      "stored snapshots of fetched odds.",
        params=movement_ops.MovementParams, result=movement_ops.MovementResult, handler=movement_ops.odds_movement,
        open_world=True, examples=({"sport": "soccer_epl", "event": _EVENT, "bookmaker": "pinnacle"},)))
    register(Operation(
        name="sports.arbitrage", summary="Sure bets: the best odds of each outcome across bookmakers within one market "
                                         "line, equal-payout stakes, guaranteed profit and ROI.",
        description=offline + " Or give quotes inline. Lines are never mixed: each (event, market, line) is a market.",
        params=arbitrage_ops.ArbitrageParams, result=arbitrage_ops.ArbitrageResult,
        # POST only (not read_only): inline quotes do not fit a URL, and a network source's prices are stored.
        handler=arbitrage_ops.sports_arbitrage, open_world=True, read_only=False, idempotent=True,
        examples=({"sport": "soccer_epl", "start": "2023-08-01T00:00:00Z", "end": "2024-06-01T00:00:00Z", "top": 3},
                  {"quotes": [{"event": "A v B", "bookmaker": "x", "outcome": "A", "odds": 2.1},
                              {"event": "A v B", "bookmaker": "y", "outcome": "B", "odds": 2.05}]})))
    register(Operation(
        name="sports.compare_providers", summary="The same events across sources and bookmakers: coverage, margins, "
                                                 "gaps to the best price, the same book's prices in two sources.",
        description=offline, params=compare_ops.CompareParams, result=compare_ops.CompareResult,
        handler=compare_ops.sports_compare_providers, open_world=True,
        examples=({"sport": "soccer_epl", "sources": ["football_data"], "start": "2023-08-01T00:00:00Z",
                   "end": "2024-06-01T00:00:00Z"},)))
