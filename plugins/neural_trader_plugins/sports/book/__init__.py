"""The paper sportsbook: bets, limits, settlement, the betting portfolio, a goal model of its own,
and backtests of betting strategies on historical closing odds."""
