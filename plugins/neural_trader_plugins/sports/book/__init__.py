"""The paper sportsbook: bets, limits, settlement, the betting portfolio, a goal model of its own,
and backtests of betting strategies on historical closing odds.

Plain modules: ``goals`` (Poisson / Dixon-Coles), ``seasons`` (the football-data seasons read),
``backtest`` (walk-forward pricing, strategies, log loss and Brier), ``simulate`` (Monte Carlo
bankrolls), ``ledger`` (the book: bets, limits, settlement, audit) and ``performance`` (P&L, ROI,
CLV, drawdown). ``api`` and ``research`` hold the operations.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation, Scope
from neural_trader.services.branches import MigrationBranch

#: The plugin's tables (``sports_bets``, ``sports_bet_legs``) and their migrations.
MIGRATIONS = MigrationBranch(name="sportsbook", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.sports.book.tables:metadata")

_LEG = {"event_id": "E0-20240519-arsenal-everton", "sport": "soccer_epl", "market": "h2h", "selection": "home",
        "odds": 1.12}


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.sports.book import api, research

    register(Operation(
        name="sports.goal_model", summary="Fit a Poisson or Dixon-Coles goal model (time-decay weighted) on a "
                                          "football-data season; its held-out log loss and Brier score next to the "
                                          "closing market's.",
        description="Maximum likelihood with the exact gradient; team ratings, home advantage, rho; predictions of "
                    "home/draw/away, over/under 2.5 and expected goals for the fixtures given. Fits are cached by "
                    "data fingerprint and settings.",
        params=research.GoalModelParams, result=research.GoalModelResult, handler=research.goal_model,
        examples=({"season": "E0_2324", "train_end": "2023-12-31",
                   "fixtures": [{"home_team": "Arsenal", "away_team": "Liverpool"}]},
                  {"season": "E0_2324", "kind": "poisson", "xi": 0}),
    ))
    register(Operation(
        name="sports.value_bets", summary="Value bets: the goal model's (or your) probabilities against the "
                                          "margin-free market, with edge, EV and a Kelly stake.",
        description="Over a football-data season's matches (priced walk-forward: each day by a fit on the matches "
                    "before it) at a bookmaker's closing or opening odds, or over markets given with your own "
                    "probabilities.",
        params=research.ValueBetsParams, result=research.ValueBetsResult, handler=research.value_bets,
        examples=({"season": "E0_2324", "start": "2024-05-01", "end": "2024-05-19", "limit": 10},
                  {"markets": [{"event_id": "my-match", "odds": [2.1, 3.4, 3.6], "probabilities": [0.52, 0.26, 0.22],
                                "outcomes": ["home", "draw", "away"]}]}),
    ))
    register(Operation(
        name="sports.bet", summary="A paper bet, single or multiple: validate-only by default; placed (idempotent "
                                   "by client_bet_id) with validate_only false.",
        description="Checked against the limits (max stake, open stakes per event and per sport, stakes per UTC "
                    "day, the balance) either way; placing stores it and writes an audit record in the same "
                    "transaction. Real-money betting is off and no provider supports it.",
        params=api.BetParams, result=api.BetResult, handler=api.bet, scope=Scope.TRADE, read_only=False,
        idempotent=True, confirm=True, confirm_unless="validate_only",
        examples=({"legs": [_LEG], "stake": "10"},
                  {"legs": [_LEG], "stake": "10", "client_bet_id": "example-bet-1", "validate_only": False,
                   "confirm": True}),
    ))
    register(Operation(
        name="sports.bets", summary="The paper account's bets, oldest first, optionally by status or event.",
        params=api.BetsParams, result=api.BetsResult, handler=api.bets,
        examples=({"status": "open"},),
    ))
    register(Operation(
        name="sports.portfolio", summary="The paper account's open bets, exposure by event and sport, balance and "
                                         "limits.",
        params=api.AccountParams, result=api.PortfolioResult, handler=api.portfolio,
    ))
    register(Operation(
        name="sports.settle", summary="Settle open paper bets from football-data results (with closing odds for "
                                      "CLV) or from scores given.",
        description="Idempotent: settling again changes nothing; the answer lists every bet on the events "
                    "settled. Each settlement writes an audit record.",
        params=api.SettleParams, result=api.SettleResult, handler=api.settle, scope=Scope.TRADE, read_only=False,
        idempotent=True,
        examples=({"season": "E0_2324"},),
    ))
    register(Operation(
        name="sports.performance", summary="The paper account's record: P&L, ROI, hit rate, closing-line value, "
                                           "drawdown; optionally the bankroll as a PNG.",
        params=api.PerformanceParams, result=api.PerformanceResult, handler=api.performance,
    ))
    register(Operation(
        name="sports.simulate", summary="Monte Carlo bankroll paths of a betting strategy (flat, fraction or Kelly "
                                        "staking): percentiles, drawdowns, ruin probability, closed forms.",
        params=research.SimulateParams, result=research.SimulateResult, handler=research.simulate,
        examples=({"probability": 0.55, "odds": 2.0, "staking": "flat", "stake": 10, "n_bets": 500, "n_paths": 2000},
                  {"probability": 0.55, "odds": 2.0, "staking": "kelly", "fraction": 0.5, "ruin_fraction": 0.1}),
    ))
    register(Operation(
        name="sports.backtest", summary="Betting strategies on real historical odds: value betting with the goal "
                                        "model (walk-forward, no look-ahead), favourite, longshot; flat vs Kelly.",
        description="Each match day is priced by a fit on earlier matches only; bets at a bookmaker's closing or "
                    "opening 1X2 odds settle at the final score. Reports each strategy's P&L, ROI, hit rate, CLV "
                    "and drawdown, and the model's log loss and Brier score next to the market's.",
        params=research.BacktestParams, result=research.BacktestResult, handler=research.backtest,
        examples=({"season": "E0_2324", "start": "2024-04-27"},
                  {"season": "E0_2324", "start": "2024-01-01", "price": "opening", "chart": True}),
    ))
