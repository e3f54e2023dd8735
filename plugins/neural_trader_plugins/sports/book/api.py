"""The paper sportsbook's operations: ``sports.bet``, ``sports.bets``, ``sports.portfolio``,
``sports.settle`` and ``sports.performance``. Handlers convert; the book is :mod:`.ledger`, the
record :mod:`.performance`."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import os
from typing import Any

import attrs

from neural_trader.domain.media import Image
from neural_trader.errors import NtForbidden, NtUnavailable, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.sports.book import ledger

D = decimal.Decimal
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_ID_HINT = "1 to 64 letters, digits and . _ : - starting with a letter or digit"
_ACCOUNT = "the paper betting account (each has its own bankroll and limits)"
_EVENT = ("the event, e.g. E0-20230811-burnley-man-city (as sports.events and sports.value_bets give it; "
          "settlement from football-data results finds it by this id)")
IMAGE = {"title": "Image", "description": "the PNG chart, when asked for (CLI: --plot FILE)"}


def _actor(ctx: Context) -> str:
    identity = ctx.identity
    return f"{identity.name}:{identity.key_id}" if getattr(identity, "key_id", None) else identity.name


def book(ctx: Context) -> ledger.Sportsbook:
    return ledger.Sportsbook(ctx.services.storage, ctx.services.audit, ledger.Limits.from_settings(ctx.settings))


class Market(enum.StrEnum):
    H2H = "h2h"
    TOTALS = "totals"


class Selection(enum.StrEnum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"
    OVER = "over"
    UNDER = "under"


class Status(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    VOID = "void"


@attrs.frozen(kw_only=True)
class LegParams:
    event_id: str = param(min_len=3, max_len=200, description=_EVENT)
    sport: str = param(default="soccer_epl", pattern=r"^[a-z0-9_]{2,64}$", pattern_hint="a sport key like soccer_epl",
                       description="the sport key (The Odds API's), for the per-sport exposure limit")
    market: Market = param(default=Market.H2H, description="h2h (1X2: home, draw, away) or totals (over, under line)")
    selection: Selection = param(description="home, draw or away (h2h); over or under (totals)")
    odds: float = param(gt=1, le=10000, description="decimal odds taken (stake included), > 1, as quoted (1.85)")
    line: float | None = param(default=None, gt=0, le=100, description="totals only: the goal line, e.g. 2.5")


def _legs(legs: list[LegParams]) -> tuple[ledger.Leg, ...]:
    return tuple(ledger.Leg(event_id=g.event_id.strip(), sport=g.sport, market=g.market.value,
                            selection=g.selection.value, odds=_exact(g.odds),
                            line=None if g.line is None else _exact(g.line)) for g in legs)


def _exact(value: float) -> D:
    """A price as written: repr gives the shortest decimal that reads back as the float (1.85, not
    1.850000000000000088...)."""
    return D(repr(float(value)))


@attrs.frozen(kw_only=True)
class BetView:
    """A bet as the paper book holds it."""

    client_bet_id: str
    account: str
    kind: str = param(description="single, or multiple (an accumulator: every leg must win)")
    stake: D = param(unit="money")
    odds: D = param(description="decimal odds of the bet (a multiple's: the product of its legs')")
    potential_return: D = param(unit="money", description="stake x odds, rounded down to the cent")
    status: str = param(description="validated (a preview: nothing stored), open, won, lost or void")
    payout: D | None = param(unit="money", description="what it returned, stake included, once settled")
    profit: D | None = param(unit="money", description="payout - stake, once settled")
    legs: list[ledger.LegView]
    created_at: dt.datetime | None
    settled_at: dt.datetime | None

    @classmethod
    def of(cls, bet: ledger.Bet) -> BetView:
        return cls(client_bet_id=bet.client_bet_id, account=bet.account, kind=bet.kind, stake=bet.stake,
                   odds=bet.odds, potential_return=bet.potential_return, status=bet.status, payout=bet.payout,
                   profit=bet.profit, legs=list(bet.legs), created_at=bet.created_at,
                   settled_at=bet.settled_at)


# -- sports.bet --------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class BetParams:
    """Parameters of ``sports.bet``."""

    legs: list[LegParams] = param(min_len=1, max_len=ledger.MAX_LEGS, description=(
        "one selection (a single) or 2 to 20 on different events (a multiple: an accumulator)"))
    stake: D = param(gt=0, le=1_000_000_000, description="the stake in the account's currency, whole cents")
    client_bet_id: str | None = param(default=None, pattern=_ID, pattern_hint=_ID_HINT, description=(
        "the idempotency key, needed to place: the same id with the same bet returns the stored bet; with "
        "another bet it is a conflict (HTTP 409)"))
    account: str = param(default="default", pattern=_ID, pattern_hint=_ID_HINT, description=_ACCOUNT)
    validate_only: bool = param(default=True, description=(
        "true (the default): check the bet against the limits and show it, store nothing; false: place the "
        "paper bet (needs confirm: true)"))
    real_money: bool = param(default=False, description=(
        "place with a real bookmaker: refused unless NT_ENABLE_REAL_MONEY_BETS=1, and no installed provider "
        "supports it yet"))


@attrs.frozen(kw_only=True)
class BetResult:
    """The bet placed, or the preview of a validate-only request."""

    validate_only: bool
    bet: BetView
    note: str


def bet(params: BetParams, ctx: Context) -> BetResult:
    if params.real_money:
        if os.environ.get("NT_ENABLE_REAL_MONEY_BETS") != "1":
            raise NtForbidden("real_money: real-money bets are off; they need NT_ENABLE_REAL_MONEY_BETS=1 on the "
                              "server and a provider that takes bets, and no installed provider does: leave "
                              "real_money false for a paper bet")
        raise NtUnavailable("real_money: no installed sports provider supports real-money betting (the odds "
                            "sources only read prices); leave real_money false for a paper bet")
    if not params.validate_only and params.client_bet_id is None:
        raise NtUserError("client_bet_id is needed to place a bet (it makes retries safe): give one, e.g. "
                          "my-bet-0001", details={"field": "client_bet_id"})
    request = ledger.BetRequest(client_bet_id=params.client_bet_id or "", account=params.account,
                                legs=_legs(params.legs), stake=params.stake)
    sportsbook = book(ctx)
    if params.validate_only:
        view = BetView.of(sportsbook.validate(request))
        note = ("validated against the limits; nothing was stored. Place it with validate_only false, a "
                "client_bet_id and confirm true") if view.status == "validated" else "this client_bet_id is already this bet"
        return BetResult(validate_only=True, bet=view, note=note)
    placed = sportsbook.place(request, actor=_actor(ctx))
    return BetResult(validate_only=False, bet=BetView.of(placed), note="paper bet: no real money is at stake")


# -- sports.bets -------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class BetsParams:
    """Parameters of ``sports.bets``."""

    account: str = param(default="default", pattern=_ID, pattern_hint=_ID_HINT, description=_ACCOUNT)
    status: Status | None = param(default=None, description="only bets in this state")
    event_id: str | None = param(default=None, min_len=3, max_len=200, description="only bets with a leg on it")
    limit: int = param(default=100, ge=1, le=1000, description="at most this many, oldest first")


@attrs.frozen(kw_only=True)
class BetsResult:
    """The account's bets, oldest first."""

    bets: list[BetView]


def bets(params: BetsParams, ctx: Context) -> BetsResult:
    found = book(ctx).bets(params.account, status=None if params.status is None else params.status.value,
                           event_id=params.event_id, limit=params.limit)
    return BetsResult(bets=[BetView.of(b) for b in found])


# -- sports.portfolio --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AccountParams:
    account: str = param(default="default", pattern=_ID, pattern_hint=_ID_HINT, description=_ACCOUNT)


@attrs.frozen(kw_only=True)
class ExposureView:
    key: str = param(description="the event id or the sport key")
    open_stake: D = param(unit="money")
    limit: D = param(unit="money")


@attrs.frozen(kw_only=True)
class LimitsView:
    max_stake: D = param(unit="money")
    max_event_exposure: D = param(unit="money")
    max_sport_exposure: D = param(unit="money")
    max_daily_stake: D = param(unit="money")
    bankroll: D = param(unit="money")


@attrs.frozen(kw_only=True)
class PortfolioResult:
    """The account's open bets, exposure and balance."""

    account: str
    bankroll: D = param(unit="money", description="the paper bankroll it started with (NT_SPORTSBOOK_BANKROLL)")
    settled_profit: D = param(unit="money")
    open_stakes: D = param(unit="money")
    balance: D = param(unit="money", description="bankroll + settled profit - open stakes: what can be staked")
    open_bets: int
    potential_return: D = param(unit="money", description="what the open bets return if every one wins")
    by_event: list[ExposureView]
    by_sport: list[ExposureView]
    limits: LimitsView


def portfolio(params: AccountParams, ctx: Context) -> PortfolioResult:
    from neural_trader.services.tables import utcnow

    sportsbook = book(ctx)
    lim = sportsbook.limits
    with ctx.services.storage.session() as session:
        exp = sportsbook.exposure(session, params.account, utcnow().date())
    open_bets = sportsbook.bets(params.account, status="open", limit=100_000)
    return PortfolioResult(
        account=params.account, bankroll=lim.bankroll, settled_profit=exp.settled_profit, open_stakes=exp.open_stakes,
        balance=lim.bankroll + exp.settled_profit - exp.open_stakes, open_bets=len(open_bets),
        potential_return=sum((b.potential_return for b in open_bets), D(0)),
        by_event=[ExposureView(key=k, open_stake=v, limit=lim.max_event_exposure) for k, v in sorted(exp.by_event.items())],
        by_sport=[ExposureView(key=k, open_stake=v, limit=lim.max_sport_exposure) for k, v in sorted(exp.by_sport.items())],
        limits=LimitsView(**attrs.asdict(lim)))


# -- sports.settle -----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ResultParams:
    event_id: str = param(min_len=3, max_len=200, description=_EVENT)
    home_goals: int = param(ge=0, le=999, description="the home side's final score (goals, points)")
    away_goals: int = param(ge=0, le=999, description="the away side's final score")


@attrs.frozen(kw_only=True)
class SettleParams:
    """Parameters of ``sports.settle``."""

    account: str = param(default="default", pattern=_ID, pattern_hint=_ID_HINT, description=_ACCOUNT)
    season: str | None = param(default="E0_2324", pattern=r"^[A-Za-z0-9]{1,4}_[0-9]{4}$",
                               pattern_hint="a season key like E0_2324", description=(
        "settle open bets on this football-data season's matches, with its closing odds for CLV (null: only "
        "the results given)"))
    results: list[ResultParams] = param(factory=list, max_len=1000, description=(
        "final scores given directly (no closing odds), e.g. for events outside the seasons"))
    closing_bookmaker: str = param(default="PS", pattern=r"^[A-Za-z0-9]{1,8}$", pattern_hint="a prefix like PS",
                                   description="whose closing odds measure closing-line value (PS: Pinnacle)")


@attrs.frozen(kw_only=True)
class SettleResult:
    """Every bet of the account on the events settled, oldest first (settling again changes nothing)."""

    bets: list[BetView]
    events: int = param(description="events with a result")


def _season_results(season: str, event_ids: set[str], bookmaker: str, settings: Any) -> list[ledger.EventResult]:
    from neural_trader_plugins.sports.book import seasons

    out = []
    for m in seasons.load_season(season, settings):
        eid = seasons.event_id(m)
        if eid not in event_ids:
            continue
        closing: dict[tuple[str, str, D | None], D] = {}
        book_odds = m.odds.get(bookmaker)
        if book_odds is not None and book_odds.closing is not None:
            c = book_odds.closing
            closing.update({("h2h", "home", None): D(str(c.home)), ("h2h", "draw", None): D(str(c.draw)),
                            ("h2h", "away", None): D(str(c.away))})
        if book_odds is not None and book_odds.closing_ou is not None:
            ou = book_odds.closing_ou
            line = D(str(ou.line))
            closing.update({("totals", "over", line): D(str(ou.over)), ("totals", "under", line): D(str(ou.under))})
        out.append(ledger.EventResult(event_id=eid, home_goals=m.home_goals, away_goals=m.away_goals, closing=closing))
    return out


def settle(params: SettleParams, ctx: Context) -> SettleResult:
    sportsbook = book(ctx)
    given = [ledger.EventResult(event_id=r.event_id.strip(), home_goals=r.home_goals, away_goals=r.away_goals)
             for r in params.results]
    found: list[ledger.EventResult] = []
    if params.season is not None:
        open_events = {g.event_id for b in sportsbook.bets(params.account, status="open", limit=100_000) for g in b.legs}
        settled_events = {g.event_id for b in sportsbook.bets(params.account, limit=100_000) for g in b.legs}
        found = _season_results(params.season, open_events | settled_events, params.closing_bookmaker, ctx.settings)
    events = {r.event_id: r for r in [*found, *given]}
    settled = sportsbook.settle(params.account, events.values(), actor=_actor(ctx))
    return SettleResult(bets=[BetView.of(b) for b in settled], events=len(events))


# -- sports.performance ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PerformanceParams:
    """Parameters of ``sports.performance``."""

    account: str = param(default="default", pattern=_ID, pattern_hint=_ID_HINT, description=_ACCOUNT)
    chart: bool = param(default=False, description="return the settled bankroll path as a PNG")


@attrs.frozen(kw_only=True)
class PerformanceResult:
    """The account's record over its settled bets, in the order settled."""

    account: str
    n_settled: int
    won: int
    lost: int
    void: int
    staked: D = param(unit="money", description="stakes of the bets won or lost (void stakes came back)")
    returned: D = param(unit="money")
    profit: D = param(unit="money")
    roi: float | None = param(unit="fraction", description="profit / staked")
    hit_rate: float | None = param(unit="fraction", description="won / (won + lost)")
    mean_clv: float | None = param(unit="fraction", description=(
        "mean closing-line value odds / closing odds - 1 of the singles with closing odds (> 0: beat the close)"))
    n_clv: int
    bankroll_start: D = param(unit="money")
    bankroll: D = param(unit="money", description="bankroll + settled profit")
    max_drawdown: D = param(unit="money", description="largest fall of the settled bankroll from a running peak")
    max_drawdown_fraction: float = param(unit="fraction")
    chart: Image | None = attrs.field(default=None, metadata=IMAGE)


def performance(params: PerformanceParams, ctx: Context) -> PerformanceResult:
    from neural_trader_plugins.sports.book.performance import performance as record

    sportsbook = book(ctx)
    rec = record(sportsbook.settled(params.account), sportsbook.limits.bankroll)
    chart = None
    if params.chart:
        from neural_trader_plugins.sports.book.charts import paths_png

        chart = Image.png(paths_png([(params.account, range(len(rec.path)), [float(v) for v in rec.path])],
                                    title=f"paper bankroll of {params.account}", xlabel="bets settled"))
    fields = {f.name: getattr(rec, f.name) for f in attrs.fields(type(rec)) if f.name != "path"}
    return PerformanceResult(account=params.account, chart=chart, **fields)
