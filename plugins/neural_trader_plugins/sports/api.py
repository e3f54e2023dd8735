"""The parameters, results and handlers of the betting-maths operations: ``odds.convert``,
``odds.implied``, ``odds.margins`` and ``sports.kelly``. Odds are decimal unless a field says
otherwise; probabilities are fractions in (0, 1). The maths lives in :mod:`.odds`,
:mod:`.margins` and :mod:`.kelly`; handlers only convert.
"""

from __future__ import annotations

import enum
import math
from fractions import Fraction

import attrs

from neural_trader.errors import NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param

_ODDS = "decimal odds of each outcome of one market, e.g. [2.1, 3.4, 3.6] for home, draw, away"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- odds.convert ---------------------------------------------------------------------------------------
class OddsFormat(enum.StrEnum):
    DECIMAL = "decimal"
    AMERICAN = "american"
    FRACTIONAL = "fractional"
    PROBABILITY = "probability"


@attrs.frozen(kw_only=True)
class ConvertParams:
    """Parameters of ``odds.convert``."""

    value: str = param(min_len=1, max_len=40, description=(
        "the odds as written: 2.5 (decimal), +150 or -200 (american), 5/2 or evens (fractional), 0.4 (probability)"))
    format: OddsFormat = param(default=OddsFormat.DECIMAL, description="the format value is written in")


@attrs.frozen(kw_only=True)
class ConvertResult:
    """The same odds in every format."""

    decimal: float = param(description="payout per unit staked, stake included (> 1)")
    american: float = param(description="+N wins N per 100 staked; -N stakes N to win 100")
    fractional: str = param(description="profit per unit staked as a fraction, e.g. 3/2 (exact for the decimal "
                                        "as written)")
    probability: float = param(unit="fraction", description="the implied probability 1 / decimal (margin "
                                                            "included)")


def convert(params: ConvertParams, ctx: Context) -> ConvertResult:
    from neural_trader_plugins.sports import odds

    text = params.value.strip()
    try:
        if params.format is OddsFormat.FRACTIONAL:
            decimal = float(odds.fractional_to_decimal(text))
        elif params.format is OddsFormat.AMERICAN:
            decimal = float(odds.american_to_decimal(float(text)))
        elif params.format is OddsFormat.PROBABILITY:
            decimal = float(odds.probability_to_decimal(float(text)))
        else:
            decimal = float(text)
            odds.decimal_to_probability(decimal)  # refuses decimal odds <= 1, naming the field
    except ValueError as exc:
        if isinstance(exc, NtUserError):
            raise
        raise NtUserError(f"value {text!r} is not {params.format.value} odds; write e.g. "
                          f"{ {'decimal': '2.5', 'american': '+150', 'probability': '0.4'}[params.format.value]}") from None
    frac = odds.decimal_to_fractional(decimal) if params.format is not OddsFormat.FRACTIONAL \
        else odds.parse_fractional(text)
    assert isinstance(frac, Fraction)
    return ConvertResult(decimal=decimal, american=float(odds.decimal_to_american(decimal)),
                         fractional=f"{frac.numerator}/{frac.denominator}",
                         probability=float(odds.decimal_to_probability(decimal)))


# -- odds.implied ---------------------------------------------------------------------------------------
class MarginMethod(enum.StrEnum):
    MULTIPLICATIVE = "multiplicative"
    ADDITIVE = "additive"
    POWER = "power"
    SHIN = "shin"
    ODDS_RATIO = "odds_ratio"
    DIFFERENTIAL = "differential"


@attrs.frozen(kw_only=True)
class ImpliedParams:
    """Parameters of ``odds.implied``."""

    odds: list[float] = param(min_len=2, max_len=100, description=_ODDS)
    methods: list[MarginMethod] | None = param(default=None, max_len=6, description=(
        "margin-removal methods (multiplicative, additive, power, shin, odds_ratio, differential); default all"))


@attrs.frozen(kw_only=True)
class FairView:
    method: MarginMethod
    probabilities: list[float] = param(unit="fraction", description="fair probability of each outcome (sum 1)")
    fair_odds: list[float] = param(description="1 / fair probability")
    parameter: float | None = param(description="the method's fitted parameter (power: k, shin: z, odds_ratio: c)")
    parameter_name: str | None


@attrs.frozen(kw_only=True)
class ImpliedResult:
    """A market's margin and its fair probabilities by each method."""

    raw_probabilities: list[float] = param(unit="fraction", description="1 / odds, margin included")
    booksum: float = param(description="sum of 1 / odds (1.05: a 5 % overround)")
    overround: float = param(unit="fraction", description="booksum - 1")
    margin: float = param(unit="fraction", description="the bookmaker's margin 1 - 1 / booksum")
    arbitrage: bool = param(description="booksum below 1: backing every outcome at these odds wins whatever happens")
    fair: list[FairView]


def implied(params: ImpliedParams, ctx: Context) -> ImpliedResult:
    from neural_trader_plugins.sports import margins

    m = margins.market_margin(params.odds)
    chosen = params.methods if params.methods is not None else list(MarginMethod)
    fair = []
    for method in dict.fromkeys(chosen):
        f = margins.remove_margin(params.odds, method.value)
        fair.append(FairView(method=method, probabilities=list(f.probabilities), fair_odds=list(f.fair_odds),
                             parameter=f.parameter, parameter_name=f.parameter_name))
    return ImpliedResult(raw_probabilities=[1.0 / o for o in params.odds], booksum=m.booksum, overround=m.overround,
                         margin=m.margin, arbitrage=m.booksum < 1.0, fair=fair)


# -- odds.margins ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class MarginsParams:
    """Parameters of ``odds.margins``."""

    books: dict[str, list[float]] = param(description=(
        "bookmaker -> decimal odds of the same market's outcomes in the same order, e.g. "
        "{\"pinnacle\": [2.1, 3.5, 3.6], \"bet365\": [2.05, 3.4, 3.5]}"))


@attrs.frozen(kw_only=True)
class BookMarginView:
    bookmaker: str
    odds: list[float]
    booksum: float
    overround: float = param(unit="fraction")
    margin: float = param(unit="fraction", description="1 - 1 / booksum")


@attrs.frozen(kw_only=True)
class MarginsResult:
    """Bookmakers' margins on one market, lowest first."""

    books: list[BookMarginView]
    lowest: str = param(description="the bookmaker with the lowest margin")


def compare(params: MarginsParams, ctx: Context) -> MarginsResult:
    from neural_trader_plugins.sports import margins

    if not params.books:
        raise NtUserError("books is empty; give at least one bookmaker's odds")
    if len(params.books) > 200:
        raise NtUserError(f"books names {len(params.books)} bookmakers; at most 200")
    c = margins.compare_margins(params.books)
    return MarginsResult(books=[BookMarginView(bookmaker=b.bookmaker, odds=list(b.odds), booksum=b.booksum,
                                               overround=b.overround, margin=b.margin) for b in c.books],
                         lowest=c.lowest)


# -- sports.kelly ---------------------------------------------------------------------------------------
class KellyKind(enum.StrEnum):
    SINGLE = "single"
    EXCLUSIVE = "exclusive"
    INDEPENDENT = "independent"


@attrs.frozen(kw_only=True)
class SportsKellyParams:
    """Parameters of ``sports.kelly``."""

    probabilities: list[float] = param(min_len=1, max_len=100, description=(
        "your probability of each outcome (not the market's): one for a single bet; every outcome of the event "
        "(summing to 1) for exclusive; one per bet for independent"))
    odds: list[float] = param(min_len=1, max_len=100, description="decimal odds of each, in the same order")
    kind: KellyKind = param(default=KellyKind.SINGLE, description=(
        "single: one bet; exclusive: stakes on several outcomes of ONE event (Smoczynski-Tomkins closed form); "
        "independent: several simultaneous bets on different events (numeric, at most 12)"))
    fraction: float = param(default=1.0, gt=0, le=1, unit="fraction", description=(
        "fractional Kelly: the multiplier of the full stakes (0.25: quarter Kelly)"))
    bankroll: float | None = param(default=None, gt=0, le=1e15, unit="money", description="state stakes in money too")


@attrs.frozen(kw_only=True)
class StakeView:
    index: int = param(description="position in probabilities / odds")
    stake: float = param(unit="fraction", description="share of the bankroll to stake")
    full_stake: float = param(unit="fraction", description="the full-Kelly share before the multiplier")
    amount: float | None = param(unit="money")
    expected_value: float = param(unit="fraction", description="expected profit per unit staked: p x odds - 1")


@attrs.frozen(kw_only=True)
class SportsKellyResult:
    """Kelly stakes and the expected log growth of the bankroll they give."""

    kind: KellyKind
    fraction: float
    stakes: list[StakeView]
    total_stake: float = param(unit="fraction")
    growth: float | None = param(description="expected log growth of the bankroll per bet (event)")
    note: str = param(description="what the answer means when it is not a plain stake (no edge, a hedge ...)")


def sports_kelly(params: SportsKellyParams, ctx: Context) -> SportsKellyResult:
    from neural_trader_plugins.sports import kelly

    p, o = params.probabilities, params.odds
    if len(p) != len(o):
        raise NtUserError(f"odds has {len(o)} values but probabilities has {len(p)}; give one price per probability")
    ev = [float(kelly.expected_value(pi, oi)) for pi, oi in zip(p, o, strict=True)]
    if params.kind is KellyKind.SINGLE:
        if len(p) != 1:
            raise NtUserError(f"kind single sizes one bet but probabilities has {len(p)} values; use kind exclusive "
                              "(one event) or independent (several events)")
        b = kelly.kelly_single(p[0], o[0], fraction=params.fraction)
        stakes, full, total, growth = [b.stake], [b.full_kelly], b.stake, b.growth
        note = "" if b.full_kelly > 0 else "no edge at these odds: do not bet"
    elif params.kind is KellyKind.EXCLUSIVE:
        e = kelly.kelly_exclusive(p, o, fraction=params.fraction)
        stakes, full, total, growth = list(e.stakes), list(e.full_stakes), e.total_stake, e.growth
        note = "" if e.optimal_set else "no outcome has an edge: do not bet"
    else:
        i = kelly.kelly_independent(p, o, fraction=params.fraction)
        stakes, full, total, growth = list(i.stakes), list(i.full_stakes), i.total_stake, i.growth
        note = f"maximised over all {i.n_combinations} win/lose combinations"
    return SportsKellyResult(
        kind=params.kind, fraction=params.fraction,
        stakes=[StakeView(index=k, stake=float(s), full_stake=float(f),
                          amount=None if params.bankroll is None else float(s) * params.bankroll,
                          expected_value=ev[k]) for k, (s, f) in enumerate(zip(stakes, full, strict=True))],
        total_stake=float(total), growth=_finite(float(growth)), note=note)
