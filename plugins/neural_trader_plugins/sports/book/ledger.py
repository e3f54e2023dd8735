"""The paper sportsbook: bets placed against limits, idempotent by client bet id, persisted, settled
from results, and recorded in the host's hash-chained audit log in the same transaction.

* A **single** has one leg; a **multiple** (accumulator) two to ``MAX_LEGS`` legs on different events,
  at the product of their odds, won only if every leg wins (a void leg counts at odds 1).
* **Limits** (:class:`Limits`, from settings): the stake of one bet (``max_stake``); the open stakes
  on one event (``max_event_exposure``) and one sport (``max_sport_exposure``), this bet's stake
  included; the stakes placed in one UTC day (``max_daily_stake``); and the balance: the bankroll plus
  settled profit minus open stakes must cover the stake. A bet beyond one is refused (NtUserError
  naming the field and the limit); the same check runs for a validate-only preview.
* **Idempotency**: the same client bet id with the same request returns the stored bet; with another
  request it is a conflict (HTTP 409).
* **Settlement**: a h2h leg is won by its side of the final score; a totals leg over/under ``line``
  (a whole-number line can be void, refunded at odds 1). A bet is lost as soon as one leg loses, and
  settled won (or void) when every leg is decided. Payout = stake x the odds of the legs won, rounded
  down to the cent. The selection's closing odds, when given, are kept for closing-line value.

Money is Decimal; odds are Decimal as written (two decimals at most are kept as given).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlmodel import Session, col, select

from neural_trader.errors import NtConflict, NtNotFound, NtUserError
from neural_trader.schema import param
from neural_trader.services.tables import utcnow
from neural_trader_plugins.sports.book.tables import BetLegRow, BetRow

__all__ = ["MAX_LEGS", "Bet", "BetRequest", "EventResult", "Leg", "Limits", "Sportsbook"]

D = decimal.Decimal
CENT = D("0.01")
MAX_LEGS = 20
#: The longest odds a bet may have (a multiple's product of odds).
MAX_ODDS = D(1_000_000)
MARKETS = {"h2h": ("home", "draw", "away"), "totals": ("over", "under")}
#: Key of the PostgreSQL advisory lock that serialises bet placement ("NTSPBOOK").
_PG_LOCK = int.from_bytes(b"NTSPBOOK", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _money(value: D, field: str) -> D:
    if not value.is_finite() or value <= 0:
        raise NtUserError(f"{field} must be an amount > 0, got {value}", details={"field": field})
    if value != value.quantize(CENT):
        raise NtUserError(f"{field} must be in whole cents (at most 2 decimals), got {value}", details={"field": field})
    return value.quantize(CENT)


@attrs.frozen(kw_only=True)
class Leg:
    """One selection: ``selection`` of ``market`` in ``event_id`` at decimal ``odds``."""

    event_id: str
    sport: str
    market: str
    selection: str
    odds: D
    line: D | None = None

    def check(self, field: str) -> None:
        if self.market not in MARKETS:
            raise NtUserError(f"{field}.market must be h2h or totals, got {self.market!r}", details={"field": field})
        if self.selection not in MARKETS[self.market]:
            raise NtUserError(f"{field}.selection must be one of {', '.join(MARKETS[self.market])} for market "
                              f"{self.market}, got {self.selection!r}", details={"field": f"{field}.selection"})
        if not self.odds.is_finite() or self.odds <= 1:
            raise NtUserError(f"{field}.odds must be decimal odds > 1 (stake included), got {self.odds}",
                              details={"field": f"{field}.odds"})
        if self.market == "totals":
            if self.line is None or not self.line.is_finite() or self.line <= 0 or (self.line * 2) % 1 != 0:
                raise NtUserError(f"{field}.line must be a goal line > 0 in halves (2.5, 3), got {self.line}",
                                  details={"field": f"{field}.line"})
        elif self.line is not None:
            raise NtUserError(f"{field}.line is only for market totals", details={"field": f"{field}.line"})

    def plain(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "sport": self.sport, "market": self.market, "selection": self.selection,
                "odds": str(self.odds.normalize()), "line": None if self.line is None else str(self.line.normalize())}


@attrs.frozen(kw_only=True)
class BetRequest:
    """A bet to check or place; ``client_bet_id`` is the idempotency key ("" for a preview without one)."""

    client_bet_id: str
    account: str
    legs: tuple[Leg, ...]
    stake: D

    @property
    def kind(self) -> str:
        return "single" if len(self.legs) == 1 else "multiple"

    @property
    def odds(self) -> D:
        out = D(1)
        for leg in self.legs:
            out *= leg.odds
        return out

    def check(self) -> None:
        if not 1 <= len(self.legs) <= MAX_LEGS:
            raise NtUserError(f"legs must hold 1 (a single) to {MAX_LEGS} (a multiple) selections, got "
                              f"{len(self.legs)}", details={"field": "legs"})
        events = [leg.event_id for leg in self.legs]
        if len(set(events)) != len(events):
            raise NtUserError("legs of a multiple must be on different events (outcomes of one event are not "
                              "independent)", details={"field": "legs"})
        for i, leg in enumerate(self.legs):
            leg.check(f"legs[{i}]")
        _money(self.stake, "stake")
        if self.odds > MAX_ODDS:
            raise NtUserError(f"legs: the bet's odds (their product) are {self.odds:.6g}, above the book's "
                              f"{MAX_ODDS}: fewer or shorter legs", details={"field": "legs"})

    def fingerprint(self) -> dict[str, Any]:
        return {"account": self.account, "stake": str(self.stake.quantize(CENT)),
                "legs": [leg.plain() for leg in self.legs]}


@attrs.frozen(kw_only=True)
class Limits:
    """The book's limits and the paper bankroll, each in the account's currency."""

    max_stake: D = attrs.field(default=D(100))
    max_event_exposure: D = attrs.field(default=D(250))
    max_sport_exposure: D = attrs.field(default=D(1000))
    max_daily_stake: D = attrs.field(default=D(1000))
    bankroll: D = attrs.field(default=D(1000))

    @classmethod
    def from_settings(cls, settings: Any, env: Mapping[str, str] | None = None) -> Limits:
        """``NT_SPORTSBOOK_<NAME>`` (or ``[plugins.sportsbook] <name>``) for each field, else the default."""
        from neural_trader.settings import plugin_env

        values: dict[str, D] = {}
        for field in attrs.fields(cls):
            text = plugin_env(settings, "sportsbook", field.name, env)
            if text is None:
                continue
            try:
                value = D(text.strip())
            except decimal.InvalidOperation:
                raise NtUserError(f"NT_SPORTSBOOK_{field.name.upper()} must be an amount, got {text!r}") from None
            values[field.name] = _money(value, f"NT_SPORTSBOOK_{field.name.upper()}")
        return cls(**values)


@attrs.frozen(kw_only=True)
class LegView:
    """One leg of a bet as stored (the operations return it as it is)."""

    event_id: str
    sport: str
    market: str
    selection: str
    line: D | None
    odds: D
    closing_odds: D | None = param(description="the selection's closing odds, once settled from data that has them")
    status: str = param(description="open, won, lost or void")
    score: str | None = param(description="final score home-away, once settled")


@attrs.frozen(kw_only=True)
class Bet:
    """A bet as the book holds it (``payout`` and ``settled_at`` None while open)."""

    client_bet_id: str
    account: str
    kind: str
    stake: D
    odds: D
    potential_return: D
    status: str
    payout: D | None
    profit: D | None
    legs: tuple[LegView, ...]
    created_at: dt.datetime | None
    settled_at: dt.datetime | None

    @classmethod
    def of(cls, row: BetRow, legs: Sequence[BetLegRow]) -> Bet:
        return cls(client_bet_id=row.id, account=row.account, kind=row.kind, stake=row.stake, odds=row.odds,
                   potential_return=(row.stake * row.odds).quantize(CENT, decimal.ROUND_DOWN), status=row.status,
                   payout=row.payout, profit=None if row.payout is None else row.payout - row.stake,
                   legs=tuple(LegView(event_id=g.event_id, sport=g.sport, market=g.market, selection=g.selection,
                                      line=g.line, odds=g.odds, closing_odds=g.closing_odds, status=g.status,
                                      score=g.score) for g in sorted(legs, key=lambda g: g.leg)),
                   created_at=row.created_at, settled_at=row.settled_at)

    @classmethod
    def preview(cls, request: BetRequest) -> Bet:
        return cls(client_bet_id=request.client_bet_id, account=request.account, kind=request.kind,
                   stake=request.stake.quantize(CENT), odds=request.odds,
                   potential_return=(request.stake * request.odds).quantize(CENT, decimal.ROUND_DOWN),
                   status="validated", payout=None, profit=None,
                   legs=tuple(LegView(event_id=g.event_id, sport=g.sport, market=g.market, selection=g.selection,
                                      line=g.line, odds=g.odds, closing_odds=None, status="open", score=None)
                              for g in request.legs), created_at=None, settled_at=None)


@attrs.frozen(kw_only=True)
class EventResult:
    """The final score of one event and, optionally, closing odds by ``(market, selection, line)``."""

    event_id: str
    home_goals: int
    away_goals: int
    closing: Mapping[tuple[str, str, D | None], D] = attrs.field(factory=dict)


def leg_outcome(market: str, selection: str, line: D | None, home: int, away: int) -> str:
    """``won``, ``lost`` or ``void`` of one selection at the final score ``home``-``away``."""
    if market == "h2h":
        winner = "home" if home > away else "away" if away > home else "draw"
        return "won" if selection == winner else "lost"
    assert line is not None
    total = D(home + away)
    if total == line:
        return "void"
    return "won" if (total > line) == (selection == "over") else "lost"


@attrs.frozen(kw_only=True)
class Exposure:
    """Open stakes of an account, by event and by sport, and its balance."""

    open_stakes: D
    settled_profit: D
    by_event: Mapping[str, D]
    by_sport: Mapping[str, D]
    staked_today: D


class Sportsbook:
    """The paper book of ``storage``, recording to ``audit``, under ``limits``."""

    def __init__(self, storage: Any, audit: Any, limits: Limits, *,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.storage = storage
        self.audit = audit
        self.limits = limits
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------------
    @staticmethod
    def _bets(session: Session, rows: Sequence[BetRow]) -> list[Bet]:
        if not rows:
            return []
        legs = session.exec(select(BetLegRow).where(col(BetLegRow.bet_id).in_([r.id for r in rows]))).all()
        by: dict[str, list[BetLegRow]] = {}
        for leg in legs:
            by.setdefault(leg.bet_id, []).append(leg)
        return [Bet.of(r, by.get(r.id, [])) for r in rows]

    def bets(self, account: str, *, status: str | None = None, event_id: str | None = None,
             limit: int = 100) -> list[Bet]:
        """The account's bets, oldest first (the first ``limit``)."""
        with self.storage.session() as session:
            query = select(BetRow).where(BetRow.account == account)
            if status is not None:
                query = query.where(BetRow.status == status)
            if event_id is not None:
                query = query.where(col(BetRow.id).in_(select(BetLegRow.bet_id).where(BetLegRow.event_id == event_id)))
            rows = session.exec(query.order_by(col(BetRow.created_at), col(BetRow.id)).limit(limit)).all()
            return self._bets(session, rows)

    def settled(self, account: str) -> list[Bet]:
        """Every settled bet of the account in the order settled (then placed, then id)."""
        with self.storage.session() as session:
            rows = session.exec(select(BetRow).where(BetRow.account == account, BetRow.status != "open")
                                .order_by(col(BetRow.settled_at), col(BetRow.created_at), col(BetRow.id))).all()
            return self._bets(session, rows)

    def exposure(self, session: Session, account: str, day: dt.date) -> Exposure:
        open_rows = session.exec(select(BetRow).where(BetRow.account == account, BetRow.status == "open")).all()
        stakes = {r.id: r.stake for r in open_rows}
        by_event: dict[str, D] = {}
        by_sport: dict[str, D] = {}
        if stakes:
            legs = session.exec(select(BetLegRow).where(col(BetLegRow.bet_id).in_(list(stakes)))).all()
            seen_sport: set[tuple[str, str]] = set()
            for leg in legs:
                by_event[leg.event_id] = by_event.get(leg.event_id, D(0)) + stakes[leg.bet_id]
                if (leg.bet_id, leg.sport) not in seen_sport:
                    seen_sport.add((leg.bet_id, leg.sport))
                    by_sport[leg.sport] = by_sport.get(leg.sport, D(0)) + stakes[leg.bet_id]
        settled = session.exec(select(col(BetRow.stake), col(BetRow.payout)).where(
            BetRow.account == account, BetRow.status != "open")).all()
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        today = session.exec(select(col(BetRow.stake)).where(
            BetRow.account == account, col(BetRow.created_at) >= start,
            col(BetRow.created_at) < start + dt.timedelta(days=1))).all()
        return Exposure(open_stakes=sum(stakes.values(), D(0)),
                        settled_profit=sum(((p or D(0)) - s for s, p in settled), D(0)),
                        by_event=by_event, by_sport=by_sport, staked_today=sum(list(today), D(0)))

    # -- limits ------------------------------------------------------------------------------------
    def _check_limits(self, session: Session, request: BetRequest, now: dt.datetime) -> None:
        lim, stake = self.limits, request.stake
        if stake > lim.max_stake:
            raise NtUserError(f"stake {stake} is above the book's max_stake {lim.max_stake}: stake at most "
                              f"{lim.max_stake} (NT_SPORTSBOOK_MAX_STAKE)",
                              details={"field": "stake", "limit": "max_stake", "value": str(lim.max_stake)})
        exp = self.exposure(session, request.account, now.date())
        for leg in request.legs:
            total = exp.by_event.get(leg.event_id, D(0)) + stake
            if total > lim.max_event_exposure:
                raise NtUserError(
                    f"stake {stake} would take the open stakes on event {leg.event_id} to {total}, above "
                    f"max_event_exposure {lim.max_event_exposure} (NT_SPORTSBOOK_MAX_EVENT_EXPOSURE)",
                    details={"field": "stake", "limit": "max_event_exposure", "event_id": leg.event_id})
        for sport in dict.fromkeys(leg.sport for leg in request.legs):
            total = exp.by_sport.get(sport, D(0)) + stake
            if total > lim.max_sport_exposure:
                raise NtUserError(
                    f"stake {stake} would take the open stakes on {sport} to {total}, above max_sport_exposure "
                    f"{lim.max_sport_exposure} (NT_SPORTSBOOK_MAX_SPORT_EXPOSURE)",
                    details={"field": "stake", "limit": "max_sport_exposure", "sport": sport})
        if exp.staked_today + stake > lim.max_daily_stake:
            raise NtUserError(
                f"stake {stake} would take today's stakes (UTC) to {exp.staked_today + stake}, above max_daily_stake "
                f"{lim.max_daily_stake} (NT_SPORTSBOOK_MAX_DAILY_STAKE)",
                details={"field": "stake", "limit": "max_daily_stake"})
        balance = lim.bankroll + exp.settled_profit - exp.open_stakes
        if stake > balance:
            raise NtUserError(f"stake {stake} is more than the paper balance {balance} (bankroll {lim.bankroll} + "
                              f"settled profit {exp.settled_profit} - open stakes {exp.open_stakes})",
                              details={"field": "stake", "limit": "balance", "value": str(balance)})

    def _lock(self, session: Session) -> None:
        if self.storage.backend == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})

    # -- writing -----------------------------------------------------------------------------------
    def _replay(self, session: Session, request: BetRequest) -> Bet | None:
        row = session.get(BetRow, request.client_bet_id)
        if row is None:
            return None
        if row.fingerprint != request.fingerprint():
            raise NtConflict(f"client_bet_id {request.client_bet_id!r} is already a different bet: use a new "
                             "client_bet_id for a new bet", details={"field": "client_bet_id"})
        return self._bets(session, [row])[0]

    def validate(self, request: BetRequest) -> Bet:
        """What placing ``request`` now would do: the limits are checked, nothing is stored. A client bet
        id already used for this same bet returns that bet; for another bet it is a conflict."""
        request.check()
        with self.storage.session() as session:
            stored = self._replay(session, request) if request.client_bet_id else None
            if stored is not None:
                return stored
            self._check_limits(session, request, self.clock())
        return Bet.preview(request)

    def place(self, request: BetRequest, *, actor: str) -> Bet:
        """Place ``request`` (idempotent by its client bet id), with its audit record."""
        request.check()
        now = self.clock()
        with self.storage.session(write=True) as session:
            self._lock(session)
            stored = self._replay(session, request)
            if stored is not None:
                return stored
            self._check_limits(session, request, now)
            row = BetRow(id=request.client_bet_id, account=request.account, kind=request.kind,
                         stake=request.stake.quantize(CENT), odds=request.odds, status="open",
                         fingerprint=request.fingerprint(), owner=actor[:200], created_at=now)
            session.add(row)
            session.flush()
            legs = [BetLegRow(bet_id=row.id, leg=i, event_id=g.event_id, sport=g.sport, market=g.market,
                              selection=g.selection, line=g.line, odds=g.odds, status="open")
                    for i, g in enumerate(request.legs)]
            session.add_all(legs)
            session.flush()
            bet = Bet.of(row, legs)
            self.audit.append(session, actor=actor, action="sports.bet", target=row.id, payload=row.fingerprint,
                              result={"status": row.status, "odds": row.odds, "kind": row.kind}, at=now)
            return bet

    def settle(self, account: str, results: Iterable[EventResult], *, actor: str) -> list[Bet]:
        """Settle the account's open bets on the events of ``results``; every bet on those events after
        (settled now or before), oldest first. Settling again changes nothing."""
        by_event = {r.event_id: r for r in results}
        if not by_event:
            return []
        now = self.clock()
        with self.storage.session(write=True) as session:
            self._lock(session)   # two settlements at once must not both settle one bet
            legs = session.exec(select(BetLegRow).where(col(BetLegRow.event_id).in_(list(by_event)))).all()
            ids = sorted({g.bet_id for g in legs})
            rows = session.exec(select(BetRow).where(col(BetRow.id).in_(ids), BetRow.account == account)
                                .order_by(col(BetRow.created_at), col(BetRow.id))).all()
            for row in rows:
                if row.status == "open":
                    self._settle_row(session, row, by_event, now, actor)
            return self._bets(session, rows)

    def _settle_row(self, session: Session, row: BetRow, by_event: Mapping[str, EventResult], now: dt.datetime,
                    actor: str) -> None:
        legs = session.exec(select(BetLegRow).where(BetLegRow.bet_id == row.id).order_by(col(BetLegRow.leg))).all()
        changed = []
        for leg in legs:
            result = by_event.get(leg.event_id)
            if leg.status != "open" or result is None:
                continue
            leg.status = leg_outcome(leg.market, leg.selection, leg.line, result.home_goals, result.away_goals)
            leg.score = f"{result.home_goals}-{result.away_goals}"
            leg.closing_odds = result.closing.get((leg.market, leg.selection, leg.line))
            session.add(leg)
            changed.append({"leg": leg.leg, "event_id": leg.event_id, "status": leg.status, "score": leg.score,
                            "closing_odds": leg.closing_odds})
        if not changed:
            return
        statuses = [g.status for g in legs]
        if "lost" in statuses:
            row.status, row.payout = "lost", D(0).quantize(CENT)
        elif "open" in statuses:
            row.status = "open"
        else:
            odds = D(1)
            for g in legs:
                if g.status == "won":
                    odds *= g.odds
            row.status = "won" if "won" in statuses else "void"
            row.payout = (row.stake * odds).quantize(CENT, decimal.ROUND_DOWN)
        if row.status != "open":
            row.settled_at = now
        session.add(row)
        session.flush()
        self.audit.append(session, actor=actor, action="sports.settle", target=row.id, payload={"legs": changed},
                          result={"status": row.status, "payout": row.payout}, at=now)

    def get(self, client_bet_id: str) -> Bet:
        with self.storage.session() as session:
            row = session.get(BetRow, client_bet_id)
            if row is None:
                raise NtNotFound(f"no bet with client_bet_id {client_bet_id!r}", details={"field": "client_bet_id"})
            return self._bets(session, [row])[0]
