"""Risk analytics and portfolio construction: VaR/CVaR by every method, volatility models, stress
tests, correlation, drawdowns, position sizing and portfolio optimisers, as one first-party pack.

The maths lives in plain modules (``var``, ``volatility``, ``stress``, ``correlation``, ``sizing``,
``construction``, ``performance``) that take numpy arrays and raise :class:`NtUserError` naming the
field; ``api`` turns them into operations.
"""

from __future__ import annotations

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation

#: Examples run offline on the synthetic provider (the answers say the data is synthetic).
_PORTFOLIO = {"symbols": ["AAPL", "MSFT", "SPY"], "weights": [0.4, 0.3, 0.3], "provider": "synthetic",
              "start": "2022-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z"}
_HISTORY = {k: v for k, v in _PORTFOLIO.items() if k != "weights"}


@hookimpl
def nt_register_risk_models(register):  # type: ignore[no-untyped-def]
    from neural_trader_plugins.risk.models import BUILTIN

    for model in BUILTIN:
        register(model)


@hookimpl
def nt_register_operations(register):  # type: ignore[no-untyped-def]
    from neural_trader_plugins.risk import api

    register(Operation(
        name="risk.analyze",
        summary="A portfolio's risk: VaR/CVaR by every model, per-asset figures and contributions, correlation, "
                "diversification, drawdowns, a Monte Carlo summary and a chart.",
        description="Without symbols it analyses the trading account's holdings. VaR and CVaR are losses (positive) "
                    "as fractions of the portfolio over `horizon` bars (in money too with `value`); annual figures "
                    "scale by the bars in a year. Monte Carlo runs on a CUDA GPU through torch when one is there.",
        params=api.AnalyzeParams, result=api.AnalyzeResult, handler=api.analyze,
        examples=({**_PORTFOLIO, "confidence": 0.99, "value": 1_000_000},
                  {**_PORTFOLIO, "methods": ["historical", "normal"], "chart": "contributions"}),
    ))
    register(Operation(
        name="risk.var", summary="VaR and CVaR of a portfolio by one risk model (historical, normal, Student-t, "
                                 "Cornish-Fisher, Monte Carlo, or a pack's).",
        params=api.RiskVarParams, result=api.RiskVarResult, handler=api.risk_var,
        examples=({**_PORTFOLIO, "method": "cornish_fisher", "confidence": 0.95, "horizon": 10},
                  {**_PORTFOLIO, "method": "monte_carlo", "n_scenarios": 1_000_000, "seed": 7})))
    register(Operation(
        name="risk.models", summary="The registered risk models and the historical stress scenarios.",
        params=api.NoParams, result=api.ModelsResult, handler=api.risk_models))
    register(Operation(
        name="risk.stress",
        summary="Stress a portfolio: replay historical crises (2000-2002, 2008 ...) on its real history, apply "
                "shocks per asset or to a factor by beta, and a sensitivity ladder.",
        description="Replays are buy and hold from the scenario's first close; a scenario the data does not cover "
                    "is listed under skipped with the data's range (or is an error when named).",
        params=api.StressParams, result=api.StressResult, handler=api.risk_stress,
        examples=({**_PORTFOLIO, "scenarios": ["gfc_2008"], "shocks": {"AAPL": -0.25}},
                  {**_PORTFOLIO, "factor": "SPY", "factor_shock": -0.2, "scenarios": [], "chart": True})))
    register(Operation(
        name="risk.correlation", summary="Correlation matrix (Pearson, Spearman or EWMA), cluster order, rolling "
                                         "correlations and a clustered heatmap.",
        params=api.CorrelationParams, result=api.CorrelationResult, handler=api.risk_correlation,
        examples=({**_HISTORY, "window": 60}, {**_HISTORY, "method": "spearman", "chart": True})))
    register(Operation(
        name="risk.volatility", summary="Each asset's volatility: realised, EWMA and GARCH(1,1) with a forecast.",
        params=api.VolatilityParams, result=api.VolatilityResult, handler=api.risk_volatility,
        examples=({**_HISTORY, "horizon": 10},)))
    register(Operation(
        name="risk.kelly", summary="Kelly sizing: a binary bet's stake, or weights of assets from their history "
                                   "(fractional, with leverage and weight limits).",
        params=api.KellyParams, result=api.KellyResult, handler=api.risk_kelly,
        examples=({"mode": "bet", "probability": 0.55, "odds": 2.0, "fraction": 0.5, "bankroll": 10_000},
                  {**_HISTORY, "mode": "assets", "fraction": 0.5, "max_leverage": 1.0, "long_only": True})))
    register(Operation(
        name="risk.position_size", summary="How many shares to hold: volatility targeting, ATR stop risk or "
                                           "fractional Kelly, from the symbol's history.",
        params=api.PositionSizeParams, result=api.PositionSizeResult, handler=api.risk_position_size,
        examples=({"symbol": "AAPL", "equity": 100_000, "method": "atr", "provider": "synthetic",
                   "end": "2024-12-31T00:00:00Z"},
                  {"symbol": "AAPL", "equity": 100_000, "method": "volatility_target", "target_volatility": 0.15,
                   "provider": "synthetic", "end": "2024-12-31T00:00:00Z"})))
    register(Operation(
        name="portfolio.optimize", summary="Optimal weights: minimum variance, maximum Sharpe, risk parity, "
                                           "Black-Litterman with views, or hierarchical risk parity.",
        description="Figures are annualised. Bounds apply to every asset (lower/upper); `unconstrained` drops "
                    "them. Black-Litterman views are annual returns of view portfolios.",
        params=api.OptimizeParams, result=api.OptimizeResult, handler=api.optimize,
        examples=({**_HISTORY, "method": "max_sharpe", "upper": 0.6},
                  {**_HISTORY, "method": "black_litterman", "market_weights": [0.5, 0.3, 0.2],
                   "views": [{"weights": {"AAPL": 1, "MSFT": -1}, "expected_return": 0.03}]})))
    register(Operation(
        name="analytics.performance_report",
        summary="A stored backtest's or a portfolio's performance against a benchmark: metrics, alpha/beta, "
                "tracking error, capture ratios, monthly returns and charts.",
        params=api.PerformanceParams, result=api.PerformanceResult, handler=api.performance_report,
        examples=({**_PORTFOLIO, "benchmark": "SPY", "chart": "equity"},)))
