"""The sportsbook's research operations: ``sports.goal_model``, ``sports.value_bets``,
``sports.simulate`` and ``sports.backtest``. The maths is in :mod:`.goals`, :mod:`.backtest` and
:mod:`.simulate`; handlers convert and bound the work (fits are cached by data fingerprint)."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from neural_trader.domain.media import Image
from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.book import backtest as bt
from neural_trader_plugins.sports.book import goals, seasons
from neural_trader_plugins.sports.book.api import IMAGE

_SEASON = "a football-data season: E0_2324 or E0_1819 ship with the plugin (more in NT_FOOTBALL_DATA_DIR)"
_BOOK = ("the bookmaker's football-data prefix whose odds are used: PS (Pinnacle), B365, Avg (market average), "
         "Max, BbAv (2018/19) ...")


class ModelKind(enum.StrEnum):
    POISSON = "poisson"
    DIXON_COLES = "dixon_coles"


class MarginMethod(enum.StrEnum):
    MULTIPLICATIVE = "multiplicative"
    POWER = "power"
    SHIN = "shin"
    ODDS_RATIO = "odds_ratio"


class Price(enum.StrEnum):
    CLOSING = "closing"
    OPENING = "opening"


def _season(key: str, ctx: Context) -> tuple:
    return seasons.load_season(key, ctx.settings)


def _model_fields() -> dict:
    return {
        "kind": param(default=ModelKind.DIXON_COLES, description="poisson (independent scores) or dixon_coles "
                                                                   "(low-score correction rho)"),
        "xi": param(default=0.0018, ge=0, le=0.1, description="time decay per day: a match d days old weighs "
                                                              "exp(-xi d) (0: all equal)"),
    }


# -- sports.goal_model -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Fixture:
    home_team: str = param(min_len=1, max_len=60, description="as football-data spells it, e.g. Arsenal")
    away_team: str = param(min_len=1, max_len=60, description="as football-data spells it, e.g. Liverpool")


@attrs.frozen(kw_only=True)
class GoalModelParams:
    """Parameters of ``sports.goal_model``."""

    season: str = param(default="E0_2324", pattern=seasons.KEY_PATTERN, pattern_hint="a season key like E0_2324",
                        description=_SEASON)
    kind: ModelKind = _model_fields()["kind"]
    xi: float = _model_fields()["xi"]
    train_end: dt.date = param(default=dt.date(2023, 12, 31), description=(
        "fit on the season's matches up to this date (inclusive); the matches after it are the held-out test"))
    bookmaker: str = param(default="PS", pattern=r"^[A-Za-z0-9]{1,8}$", pattern_hint="a prefix like PS",
                           description="whose margin-free closing odds the held-out test compares with")
    method: MarginMethod = param(default=MarginMethod.MULTIPLICATIVE, description="margin removal of the market")
    fixtures: list[Fixture] = param(factory=list, max_len=50, description="fixtures to predict with the fit")


@attrs.frozen(kw_only=True)
class TeamRating:
    team: str
    attack: float = param(description="log goal-scoring strength (mean 0 over the teams)")
    defence: float = param(description="log goals-conceded strength (higher concedes more)")


@attrs.frozen(kw_only=True)
class EvaluationView:
    n_matches: int
    model_log_loss: float = param(description="mean -log p(result) of the model's 1X2 probabilities (lower: better)")
    model_brier: float = param(description="mean sum over home/draw/away of (p - outcome)^2")
    market_log_loss: float = param(description="the same for the margin-free closing market")
    market_brier: float


@attrs.frozen(kw_only=True)
class PredictionView:
    home_team: str
    away_team: str
    home: float = param(unit="fraction")
    draw: float = param(unit="fraction")
    away: float = param(unit="fraction")
    over_2_5: float = param(unit="fraction")
    under_2_5: float = param(unit="fraction")
    home_goals: float = param(description="expected goals")
    away_goals: float


@attrs.frozen(kw_only=True)
class GoalModelResult:
    """The fitted ratings, and the fit's held-out log loss and Brier score next to the market's."""

    kind: ModelKind
    xi: float
    n_train: int
    first_date: dt.date
    last_date: dt.date
    home_advantage: float = param(description="log home-goal multiplier")
    rho: float = param(description="Dixon-Coles low-score dependence (0 for poisson)")
    loglikelihood: float
    teams: list[TeamRating]
    test: EvaluationView | None = param(description="held-out matches after train_end (null when there are none)")
    predictions: list[PredictionView]


def _prediction(p: goals.MatchPrediction) -> PredictionView:
    return PredictionView(home_team=p.home_team, away_team=p.away_team, home=p.home, draw=p.draw, away=p.away,
                          over_2_5=p.over_2_5, under_2_5=p.under_2_5, home_goals=p.home_goals, away_goals=p.away_goals)


def goal_model(params: GoalModelParams, ctx: Context) -> GoalModelResult:
    matches = _season(params.season, ctx)
    train = [m for m in matches if m.date <= params.train_end]
    model = goals.fit_cached(seasons.results_of(train), kind=params.kind.value, xi=params.xi)
    test = [bt.Priced(match=m, probabilities=(p.home, p.draw, p.away), trained_on=len(train))
            for m in matches if m.date > params.train_end
            and m.home_team in model.teams and m.away_team in model.teams
            for p in [model.predict(m.home_team, m.away_team)]]
    evaluation = None
    if test:
        e = bt.evaluate(test, bookmaker=params.bookmaker, method=params.method.value)
        evaluation = EvaluationView(**attrs.asdict(e))
    return GoalModelResult(
        kind=params.kind, xi=model.xi, n_train=model.n_matches, first_date=model.first_date, last_date=model.last_date,
        home_advantage=model.home_advantage, rho=model.rho, loglikelihood=model.loglikelihood,
        teams=[TeamRating(team=t, attack=a, defence=d) for t, a, d in zip(model.teams, model.attack, model.defence,
                                                                           strict=True)],
        test=evaluation,
        predictions=[_prediction(model.predict(f.home_team, f.away_team)) for f in params.fixtures])


# -- sports.value_bets -------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class InlineMarket:
    event_id: str = param(min_len=1, max_len=200, description="your name for the market's event")
    odds: list[float] = param(min_len=2, max_len=20, description="decimal odds of every outcome, each > 1")
    probabilities: list[float] = param(min_len=2, max_len=20, description=(
        "your model's probability of each outcome, in (0, 1), summing to 1"))
    outcomes: list[str] | None = param(default=None, max_len=20, description="names of the outcomes (default 0, 1 ...)")


@attrs.frozen(kw_only=True)
class ValueBetsParams:
    """Parameters of ``sports.value_bets``."""

    markets: list[InlineMarket] | None = param(default=None, max_len=200, description=(
        "markets with your own probabilities; when absent, the season's matches from start to end priced by "
        "the goal model, walk-forward"))
    season: str = param(default="E0_2324", pattern=seasons.KEY_PATTERN, pattern_hint="a season key like E0_2324",
                        description=_SEASON)
    start: dt.date | None = param(default=None, description="first match day priced (default: the season's first)")
    end: dt.date | None = param(default=None, description="last match day priced (default: the season's last)")
    kind: ModelKind = _model_fields()["kind"]
    xi: float = _model_fields()["xi"]
    min_train: int = param(default=100, ge=goals.MIN_MATCHES, le=goals.MAX_MATCHES, description=(
        "matches the model must have seen before it prices a day"))
    refit_every_days: int = param(default=7, ge=1, le=60, description="refit the model at most this often")
    bookmaker: str = param(default="PS", pattern=r"^[A-Za-z0-9]{1,8}$", pattern_hint="a prefix like PS",
                           description=_BOOK)
    price: Price = param(default=Price.CLOSING, description="bet at the bookmaker's closing or opening prices")
    method: MarginMethod = param(default=MarginMethod.SHIN, description="margin removal giving the fair market")
    min_edge: float = param(default=0.02, ge=-1, le=1, unit="fraction",
                            description="model probability - fair probability must exceed this")
    min_ev: float = param(default=0.0, ge=-1, le=100, unit="fraction",
                          description="expected profit per unit staked must exceed this")
    kelly_fraction: float = param(default=0.25, gt=0, le=1, unit="fraction",
                                  description="the Kelly stake shown is this multiple of full Kelly")
    limit: int = param(default=50, ge=1, le=500, description="at most this many value bets, highest EV first")


@attrs.frozen(kw_only=True)
class ValueBetView:
    event_id: str
    date: dt.date | None
    outcome: str
    odds: float
    model_probability: float = param(unit="fraction")
    fair_probability: float = param(unit="fraction", description="the market's, margin removed")
    edge: float = param(unit="fraction", description="model - fair probability")
    ev: float = param(unit="fraction", description="model probability x odds - 1")
    kelly_stake: float = param(unit="fraction", description="kelly_fraction x full Kelly, share of the bankroll")


@attrs.frozen(kw_only=True)
class ValueBetsResult:
    """Value bets, highest expected value first."""

    source: str
    markets: int = param(description="markets looked at")
    skipped: int = param(description="matches in the window not priced (too little history)")
    value_bets: list[ValueBetView]


def value_bets(params: ValueBetsParams, ctx: Context) -> ValueBetsResult:
    from neural_trader_plugins.sports.kelly import kelly_single
    from neural_trader_plugins.sports.value import value_bets as find

    rows: list[tuple[str, dt.date | None, list[float], list[float], list[str]]] = []
    skipped = 0
    if params.markets is not None:
        for i, m in enumerate(params.markets):
            if len(m.probabilities) != len(m.odds):
                raise NtUserError(f"markets[{i}].probabilities has {len(m.probabilities)} values for "
                                  f"{len(m.odds)} odds", details={"field": f"markets[{i}].probabilities"})
            bad = [j for j, o in enumerate(m.odds) if not o > 1.0]
            if bad:
                raise NtUserError(f"markets[{i}].odds[{bad[0]}] must be decimal odds > 1 (stake included), got "
                                  f"{m.odds[bad[0]]}", details={"field": f"markets[{i}].odds[{bad[0]}]"})
            if not all(0.0 < p < 1.0 for p in m.probabilities):
                raise NtUserError(f"markets[{i}].probabilities must each be in (0, 1), got {m.probabilities}",
                                  details={"field": f"markets[{i}].probabilities"})
            rows.append((m.event_id, None, m.odds, m.probabilities, m.outcomes or [str(k) for k in range(len(m.odds))]))
        source = "the probabilities given"
    else:
        priced, skipped = bt.walk_forward(_season(params.season, ctx), start=params.start, end=params.end,
                                          kind=params.kind.value, xi=params.xi, min_train=params.min_train,
                                          refit_every_days=params.refit_every_days)
        for p in priced:
            quote = p.match.closing(params.bookmaker) if params.price is Price.CLOSING else p.match.opening(params.bookmaker)
            if quote is not None:
                rows.append((seasons.event_id(p.match), p.match.date, [quote.home, quote.draw, quote.away],
                             list(p.probabilities), ["home", "draw", "away"]))
        source = (f"{params.kind.value} goal model (xi {params.xi:g}) fitted on {params.season}'s matches before each "
                  f"day, against {params.bookmaker} {params.price.value} odds")
    found = []
    for i, (eid, day, odds, probs, names) in enumerate(rows):
        try:
            report = find(probs, odds, method=params.method.value, min_ev=params.min_ev, min_edge=params.min_edge,
                          outcomes=names)
        except NtUserError as exc:
            raise NtUserError(f"markets[{i}] ({eid}): {exc}", details={"field": f"markets[{i}]"}) from None
        for b in report.value:
            k = kelly_single(b.model_probability, b.odds, fraction=params.kelly_fraction)
            found.append(ValueBetView(event_id=eid, date=day, outcome=b.outcome, odds=b.odds,
                                      model_probability=b.model_probability, fair_probability=b.fair_probability,
                                      edge=b.edge, ev=b.ev, kelly_stake=k.stake))
    found.sort(key=lambda v: (-v.ev, v.event_id, v.outcome))
    return ValueBetsResult(source=source, markets=len(rows), skipped=skipped, value_bets=found[:params.limit])


# -- sports.simulate ---------------------------------------------------------------------------------
class SimStaking(enum.StrEnum):
    FLAT = "flat"
    FRACTION = "fraction"
    KELLY = "kelly"


@attrs.frozen(kw_only=True)
class SimulateParams:
    """Parameters of ``sports.simulate``."""

    odds: float = param(gt=1, le=1000, description="decimal odds of each bet")
    probability: float | None = param(default=None, gt=0, lt=1, unit="fraction",
                                      description="each bet's true chance of winning (or give edge)")
    edge: float | None = param(default=None, gt=-1, le=10, unit="fraction", description=(
        "instead of probability: the expected profit per unit staked, probability = (1 + edge) / odds"))
    n_bets: int = param(default=500, ge=1, le=10_000, description="bets per path")
    n_paths: int = param(default=2000, ge=1, le=100_000, description="paths (n_paths x n_bets at most 5,000,000)")
    bankroll: float = param(default=1000.0, gt=0, le=1e12, unit="money", description="the starting bankroll")
    staking: SimStaking = param(default=SimStaking.FLAT, description=(
        "flat: stake each bet; fraction: fraction of the current bankroll; kelly: fraction x the Kelly stake"))
    stake: float | None = param(default=None, gt=0, le=1e12, unit="money",
                                description="flat staking's stake (default 1% of the bankroll)")
    fraction: float | None = param(default=None, gt=0, le=1, unit="fraction", description=(
        "fraction staking: the share of the bankroll (default 0.01); kelly: the multiplier of full Kelly (default 0.5)"))
    ruin_fraction: float = param(default=0.0, ge=0, lt=1, unit="fraction", description=(
        "a path is ruined (stops) at or below this share of the starting bankroll (flat: also below the stake)"))
    seed: int = param(default=0, ge=0, le=2**32 - 1, description="random seed: the same seed, the same paths")
    chart: bool = param(default=False, description="return the percentile bands of the paths as a PNG")


@attrs.frozen(kw_only=True)
class PercentileView:
    percentile: float = param(unit="plain")
    bankroll: float = param(unit="money")


@attrs.frozen(kw_only=True)
class SimulateResult:
    """The distribution of final bankrolls and drawdowns, the ruin probability and the closed forms."""

    final_mean: float = param(unit="money")
    final_std: float = param(unit="money")
    final_percentiles: list[PercentileView]
    drawdown_median: float = param(unit="fraction", description="median max drawdown from the running peak")
    drawdown_p95: float = param(unit="fraction")
    ruin_probability: float = param(unit="fraction")
    mean_bets_placed: float
    expected_value_per_bet: float = param(unit="fraction", description="probability x odds - 1")
    stake_fraction: float | None = param(unit="fraction", description="the share of the bankroll staked each bet")
    theory_mean: float | None = param(unit="money", description="flat staking: B0 + n s (p o - 1), ruin aside")
    theory_std: float | None = param(unit="money", description="flat staking: sqrt(n s^2 o^2 p (1 - p))")
    theory_log_growth: float | None = param(description="fraction/kelly: n (p log(1 + f b) + q log(1 - f))")
    chart: Image | None = attrs.field(default=None, metadata=IMAGE)


def simulate(params: SimulateParams, ctx: Context) -> SimulateResult:
    from neural_trader_plugins.sports.book import simulate as mc

    stake = params.bankroll / 100 if params.stake is None else params.stake
    fraction = params.fraction if params.fraction is not None else 0.01 if params.staking is SimStaking.FRACTION else 0.5
    if (params.probability is None) == (params.edge is None):
        raise NtUserError("give probability or edge (one of them): e.g. probability 0.55, or edge 0.05",
                          details={"field": "probability"})
    p = params.probability if params.probability is not None else (1.0 + (params.edge or 0.0)) / params.odds
    if not 0.0 < p < 1.0:
        raise NtUserError(f"edge {params.edge} at odds {params.odds} means a probability of {p:.6g}, outside (0, 1)",
                          details={"field": "edge"})
    s = mc.simulate(probability=p, odds=params.odds, n_bets=params.n_bets, n_paths=params.n_paths,
                    bankroll=params.bankroll, staking=params.staking.value, stake=stake, fraction=fraction,
                    ruin_fraction=params.ruin_fraction, seed=params.seed)
    chart = None
    if params.chart:
        from neural_trader_plugins.sports.book.charts import bands_png

        chart = Image.png(bands_png(s.steps, s.bands, mc.PERCENTILES, title=(
            f"{params.n_paths} paths, {params.staking.value} staking, p={p:.4g} at {params.odds:g}")))
    return SimulateResult(
        final_mean=s.final_mean, final_std=s.final_std,
        final_percentiles=[PercentileView(percentile=q, bankroll=v) for q, v in zip(mc.PERCENTILES, s.final_percentiles,
                                                                                   strict=True)],
        drawdown_median=s.drawdown_median, drawdown_p95=s.drawdown_p95, ruin_probability=s.ruin_probability,
        mean_bets_placed=s.mean_bets_placed, expected_value_per_bet=p * params.odds - 1.0,
        stake_fraction=s.stake_fraction, theory_mean=s.theory_mean, theory_std=s.theory_std,
        theory_log_growth=s.theory_log_growth, chart=chart)


# -- sports.backtest ---------------------------------------------------------------------------------
class Strategy(enum.StrEnum):
    VALUE = "value"
    FAVOURITE = "favourite"
    LONGSHOT = "longshot"


class Staking(enum.StrEnum):
    FLAT = "flat"
    KELLY = "kelly"


@attrs.frozen(kw_only=True)
class StrategySpec:
    strategy: Strategy = param(description="value (the goal model against the margin-free market), favourite "
                                           "(shortest odds) or longshot (longest odds)")
    staking: Staking = param(default=Staking.FLAT, description="flat stake, or kelly (value only)")


_DEFAULT_STRATEGIES = (("value", "flat"), ("value", "kelly"), ("favourite", "flat"), ("longshot", "flat"))


@attrs.frozen(kw_only=True)
class BacktestParams:
    """Parameters of ``sports.backtest``."""

    season: str = param(default="E0_2324", pattern=seasons.KEY_PATTERN, pattern_hint="a season key like E0_2324",
                        description=_SEASON)
    start: dt.date | None = param(default=None, description="first match day bet on (default: the season's first)")
    end: dt.date | None = param(default=None, description="last match day bet on (default: the season's last)")
    strategies: list[StrategySpec] | None = param(default=None, max_len=12, description=(
        "what to compare (default value/flat, value/kelly, favourite/flat, longshot/flat)"))
    kind: ModelKind = _model_fields()["kind"]
    xi: float = _model_fields()["xi"]
    min_train: int = param(default=100, ge=goals.MIN_MATCHES, le=goals.MAX_MATCHES, description=(
        "matches the model must have seen before it prices a day (earlier days are skipped)"))
    refit_every_days: int = param(default=7, ge=1, le=60, description="refit the model at most this often")
    bookmaker: str = param(default="PS", pattern=r"^[A-Za-z0-9]{1,8}$", pattern_hint="a prefix like PS",
                           description=_BOOK)
    price: Price = param(default=Price.CLOSING, description="bet at the closing or the opening prices")
    method: MarginMethod = param(default=MarginMethod.SHIN, description="margin removal giving the fair market")
    bankroll: float = param(default=1000.0, gt=0, le=1e12, unit="money", description="the starting bankroll")
    stake: float = param(default=10.0, gt=0, le=1e12, unit="money", description="flat staking's stake")
    kelly_fraction: float = param(default=0.25, gt=0, le=1, unit="fraction", description="kelly staking's multiplier")
    min_edge: float = param(default=0.02, ge=-1, le=1, unit="fraction", description="value: minimum model - fair")
    min_ev: float = param(default=0.0, ge=-1, le=100, unit="fraction", description="value: minimum EV per unit")
    include_bets: bool = param(default=False, description="list every bet of every strategy")
    chart: bool = param(default=False, description="return the strategies' bankroll paths as a PNG")


@attrs.frozen(kw_only=True)
class BacktestBetView:
    date: dt.date
    event_id: str
    selection: str
    odds: float
    closing_odds: float | None
    probability: float | None = param(unit="fraction", description="the model's (value strategy)")
    fair_probability: float = param(unit="fraction")
    stake: float = param(unit="money")
    profit: float = param(unit="money")
    won: bool


@attrs.frozen(kw_only=True)
class StrategyView:
    strategy: Strategy
    staking: Staking
    n_bets: int
    staked: float = param(unit="money")
    profit: float = param(unit="money")
    roi: float | None = param(unit="fraction", description="profit / staked")
    hit_rate: float | None = param(unit="fraction")
    mean_odds: float | None
    mean_clv: float | None = param(unit="fraction", description="mean odds / closing odds - 1 (0 at the close)")
    bankroll_end: float = param(unit="money")
    max_drawdown: float = param(unit="fraction", description="largest fall of the bankroll from its running peak")
    bets: list[BacktestBetView] | None


@attrs.frozen(kw_only=True)
class BacktestResult:
    """Each strategy's record on the real historical odds, and the model's record next to the market's."""

    season: str
    first_day: dt.date | None
    last_day: dt.date | None
    matches: int = param(description="matches priced by the walk-forward model")
    skipped: int = param(description="matches in the window skipped (too little history)")
    model: EvaluationView | None = param(description="the walk-forward model's log loss and Brier score next to the "
                                                     "bookmaker's margin-free closing odds on the same matches")
    strategies: list[StrategyView]
    chart: Image | None = attrs.field(default=None, metadata=IMAGE)


def backtest(params: BacktestParams, ctx: Context) -> BacktestResult:
    matches = _season(params.season, ctx)
    specs = [(s.strategy.value, s.staking.value) for s in params.strategies] if params.strategies is not None \
        else list(_DEFAULT_STRATEGIES)
    if not specs:
        raise NtUserError("strategies is empty: name at least one, or leave it out for the default four",
                          details={"field": "strategies"})
    for i, (strategy, staking) in enumerate(specs):
        if staking == "kelly" and strategy != "value":
            raise NtUserError(f"strategies[{i}]: kelly staking needs the model's probability: use strategy value, or "
                              "staking flat", details={"field": f"strategies[{i}].staking"})
    priced, skipped = bt.walk_forward(matches, start=params.start, end=params.end, kind=params.kind.value, xi=params.xi,
                                      min_train=params.min_train, refit_every_days=params.refit_every_days)
    evaluation = None
    if priced and any(p.match.closing(params.bookmaker) for p in priced):
        evaluation = EvaluationView(**attrs.asdict(bt.evaluate(priced, bookmaker=params.bookmaker,
                                                               method=params.method.value)))
    results = [bt.backtest(priced, strategy=strategy, staking=staking, bookmaker=params.bookmaker,
                           price=params.price.value, method=params.method.value, bankroll=params.bankroll,
                           stake=params.stake, kelly_fraction=params.kelly_fraction, min_edge=params.min_edge,
                           min_ev=params.min_ev) for strategy, staking in specs]
    chart = None
    if params.chart:
        from neural_trader_plugins.sports.book.charts import paths_png

        # Each path starts from the bankroll the day before the first match day.
        chart = Image.png(paths_png([(f"{r.strategy}/{r.staking}", (r.dates[0] - dt.timedelta(days=1), *r.dates),
                                      (r.bankroll_start, *r.path)) for r in results if r.dates],
                                    title=f"{params.season}: bankroll by strategy ({params.bookmaker} "
                                          f"{params.price.value} odds)", xlabel="match day"))
    return BacktestResult(
        season=params.season, first_day=priced[0].match.date if priced else None,
        last_day=priced[-1].match.date if priced else None, matches=len(priced), skipped=skipped, model=evaluation,
        strategies=[StrategyView(
            strategy=Strategy(r.strategy), staking=Staking(r.staking), n_bets=r.n_bets, staked=r.staked, profit=r.profit,
            roi=r.roi, hit_rate=r.hit_rate, mean_odds=r.mean_odds, mean_clv=r.mean_clv, bankroll_end=r.bankroll_end,
            max_drawdown=r.max_drawdown,
            bets=[BacktestBetView(**attrs.asdict(b, recurse=False)) for b in r.bets] if params.include_bets else None)
            for r in results],
        chart=chart)
