"""The books of one syndicate: the state that replaying its ledger records in order produces.

The ledger is the truth; :class:`Books` is a fold over it (:meth:`Books.apply`), so the state an
operation checks is the state any later replay will find. A record states every amount it moved
(units bought, value paid, a bet's return), computed once by the operation that wrote it, so a replay
never recomputes money with newer code. :meth:`Books.apply` still guards the invariants: cash and
units never go negative, and :meth:`Books.balance_check` holds after every record::

    cash + open stakes == deposits - withdrawals paid + realised P&L - commissions
                          - performance fees - distributions paid

Unit accounting (a fund's NAV): ``NAV = cash + open stakes (at cost)``, ``unit value = NAV / units``;
the first deposit (or any when no units are out) buys units at 1.00; a deposit of ``A`` buys
``A / unit value`` units rounded down, a redemption of ``A`` costs ``A / unit value`` units rounded up
(:mod:`.money`), so nobody else's units lose value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable
from typing import Any

import attrs

from neural_trader.errors import NtConflict, NtNotFound, NtUserError
from neural_trader_plugins.syndicates.access import default_identity
from neural_trader_plugins.syndicates.chain import GENESIS, LedgerRecord
from neural_trader_plugins.syndicates.money import CENT, UNIT, ZERO, cents, cents_down, units_down, units_up
from neural_trader_plugins.syndicates.roles import Role
from neural_trader_plugins.syndicates.rules import Rules

D = decimal.Decimal
NO_UNITS = D("0E-8")

__all__ = ["Bet", "Books", "Event", "Flow", "MemberState", "Point", "Proposal", "WithdrawalRequest"]


@attrs.frozen(kw_only=True)
class Event:
    """A ledger record with its data parsed (decimals are strings, as canonical JSON wrote them)."""

    seq: int
    at: dt.datetime
    kind: str
    actor: str
    key: str | None
    data: dict[str, Any]
    hash: str = ""

    @classmethod
    def of(cls, record: LedgerRecord) -> Event:
        return cls(seq=record.seq, at=record.at, kind=record.kind, actor=record.actor, key=record.key,
                   data=json.loads(record.data), hash=record.hash)


@attrs.frozen(kw_only=True)
class Flow:
    """A member's money event, valued: their holding just before and just after it, and the cash that
    went in (deposit) or came out to them (withdrawal paid, distribution, fee received)."""

    at: dt.datetime
    kind: str
    before: D
    after: D
    cash_in: D = ZERO
    cash_out: D = ZERO


@attrs.define
class MemberState:
    member_id: str
    name: str
    role: Role
    joined_at: dt.datetime
    active: bool = True
    #: The identity that acts as this member (:mod:`.access`); ``None``: only an operator may.
    identity: str | None = None
    units: D = NO_UNITS
    #: What the units held cost (average cost: a redemption takes its share).
    cost_basis: D = ZERO
    contributed: D = ZERO
    withdrawn: D = ZERO
    distributions: D = ZERO
    fees_received: D = ZERO
    first_deposit_at: dt.datetime | None = None
    flows: list[Flow] = attrs.Factory(list)
    #: Realised gains for the tax estimate: (when, gain) of distributions, fees and redemptions.
    realised: list[tuple[dt.datetime, D]] = attrs.Factory(list)


@attrs.define
class Bet:
    bet_id: str
    allocation_id: str
    opportunity_id: str
    sport: str
    market: str
    probability: float
    #: Decimal odds as the stake record wrote them (a float's shortest text, read as a Decimal).
    odds: D
    amount: D
    placed_at: dt.datetime
    outcome: str | None = None
    returned: D | None = None
    pnl: D | None = None
    settled_at: dt.datetime | None = None


@attrs.define
class WithdrawalRequest:
    request_id: str
    member_id: str
    amount: D | None
    emergency: bool
    reason: str | None
    requested_at: dt.datetime
    due_at: dt.datetime
    status: str = "pending"            # pending, approved, rejected, processed
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    note: str | None = None
    units: D | None = None
    gross: D | None = None
    penalty: D | None = None
    paid: D | None = None
    processed_at: dt.datetime | None = None


@attrs.define
class Proposal:
    proposal_id: str
    kind: str
    title: str
    description: str | None
    options: list[str]
    proposer: str
    created_at: dt.datetime
    deadline: dt.datetime
    quorum: D
    threshold: D
    weighting: str
    eligible: dict[str, D]
    votes: dict[str, tuple[str, D, dt.datetime]] = attrs.Factory(dict)
    closed: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Point:
    """The books right after one record: NAV, units, unit value and the running totals."""

    seq: int
    at: dt.datetime
    kind: str
    nav: D
    units: D
    unit_value: D
    deposits: D
    withdrawals: D
    pnl: D
    fees: D
    distributions: D


def _d(value: Any) -> D:
    return D(str(value))


def _m(value: Any) -> D:
    """A money amount of a record, to the cent (canonical JSON writes 10.50 as "10.5")."""
    return D(str(value)).quantize(CENT)


def _u(value: Any) -> D:
    return D(str(value)).quantize(UNIT)


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@attrs.define
class Books:
    """The replayed state of one syndicate (empty until its ``created`` record)."""

    syndicate_id: str
    name: str = ""
    currency: str = "USD"
    created_at: dt.datetime | None = None
    rules: Rules = attrs.Factory(Rules)
    members: dict[str, MemberState] = attrs.Factory(dict)
    cash: D = ZERO
    units_total: D = NO_UNITS
    bets: dict[str, Bet] = attrs.Factory(dict)
    withdrawals: dict[str, WithdrawalRequest] = attrs.Factory(dict)
    proposals: dict[str, Proposal] = attrs.Factory(dict)
    allocations: dict[str, dict[str, Any]] = attrs.Factory(dict)
    distributions_made: dict[str, dict[str, Any]] = attrs.Factory(dict)
    deposits_total: D = ZERO
    withdrawals_paid: D = ZERO
    penalties_kept: D = ZERO
    realised_pnl: D = ZERO
    commissions: D = ZERO
    performance_fees: D = ZERO
    distributed: D = ZERO
    reserved: D = ZERO
    history: list[Point] = attrs.Factory(list)
    #: Idempotency keys -> the seq of the record that used them.
    keys: dict[str, int] = attrs.Factory(dict)
    last_seq: int = 0
    last_hash: str = GENESIS
    last_at: dt.datetime | None = None

    @classmethod
    def replay(cls, syndicate_id: str, events: Iterable[Event]) -> Books:
        books = cls(syndicate_id=syndicate_id)
        for event in events:
            books.apply(event)
        return books

    # -- derived values ----------------------------------------------------------------------------
    @property
    def open_stakes(self) -> D:
        return sum((b.amount for b in self.bets.values() if b.outcome is None), ZERO)

    @property
    def nav(self) -> D:
        return self.cash + self.open_stakes

    @property
    def unit_value(self) -> D:
        """NAV per unit (full precision); 1 while no units are out."""
        return self.nav / self.units_total if self.units_total > 0 else D(1)

    def value_of(self, member: MemberState) -> D:
        return cents_down(member.units * self.unit_value) if member.units > 0 else ZERO

    @property
    def undistributed_profit(self) -> D:
        """Realised P&L net of commissions not yet distributed (performance fees and reserves count as
        distributed: they were taken from it)."""
        return self.realised_pnl - self.commissions - self.performance_fees - self.distributed - self.reserved

    @property
    def distributable(self) -> D:
        return max(ZERO, min(self.undistributed_profit, self.cash))

    def balance_check(self) -> D:
        """The books' imbalance (zero when they balance)."""
        expected = (self.deposits_total - self.withdrawals_paid + self.realised_pnl - self.commissions
                    - self.performance_fees - self.distributed)
        return self.nav - expected

    def member(self, member_id: str, *, active: bool = True) -> MemberState:
        found = self.members.get(member_id)
        if found is None or (active and not found.active):
            raise NtNotFound(f"syndicate {self.syndicate_id!r} has no {'active ' if active else ''}member "
                             f"{member_id!r}; syndicate.members lists them")
        return found

    # -- quotes the operations use before writing a record -----------------------------------------
    def quote_deposit(self, amount: D) -> tuple[D, D]:
        """(units, unit value) a deposit of ``amount`` buys now."""
        if self.units_total > 0 and self.nav <= 0:
            raise NtConflict("the syndicate's capital is exhausted (NAV 0 with units out): units have no price, so "
                             "no deposit can be priced; wind it up or settle its open bets first")
        uv = self.unit_value
        units = units_down(amount / uv)
        if units <= 0:
            raise NtUserError(f"amount {amount} buys no units at the unit value {uv:.8f}; deposit more")
        return units, uv

    def quote_redemption(self, member: MemberState, amount: D | None) -> tuple[D, D]:
        """(units redeemed, gross value) for taking ``amount`` (``None``: everything) out now."""
        uv = self.unit_value
        if amount is None:
            return member.units, cents_down(member.units * uv)
        units = units_up(amount / uv)
        if units > member.units:
            raise NtConflict(f"member {member.member_id!r} holds {self.value_of(member)} ({member.units} units at "
                             f"{uv:.8f}); {amount} is more: withdraw less, or everything (amount null)")
        return units, amount

    # -- applying records --------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one record in; raises if it would break the books (the record is then not written)."""
        if event.seq != self.last_seq + 1:
            raise ValueError(f"record {event.seq} out of order after {self.last_seq}")
        if event.kind != "created" and self.created_at is None:
            raise ValueError("the first record of a syndicate must be 'created'")
        handler = getattr(self, "_on_" + event.kind, None)
        if handler is None:
            raise ValueError(f"unknown ledger record kind {event.kind!r}")
        handler(event, event.data)
        if self.cash < 0 or self.units_total < 0:
            raise NtConflict(f"{event.kind} would leave cash {self.cash} and units {self.units_total}: refused")
        if event.key is not None:
            self.keys[event.key] = event.seq
        self.last_seq, self.last_hash, self.last_at = event.seq, event.hash, event.at
        self.history.append(Point(seq=event.seq, at=event.at, kind=event.kind, nav=self.nav, units=self.units_total,
                                  unit_value=self.unit_value, deposits=self.deposits_total,
                                  withdrawals=self.withdrawals_paid, pnl=self.realised_pnl - self.commissions,
                                  fees=self.commissions + self.performance_fees,
                                  distributions=self.distributed + self.performance_fees))

    def _on_created(self, e: Event, data: dict[str, Any]) -> None:
        self.name, self.currency, self.created_at = data["name"], data["currency"], e.at
        self.rules = Rules.from_plain(data["rules"])

    def _on_rules_set(self, e: Event, data: dict[str, Any]) -> None:
        self.rules = Rules.from_plain(data["rules"])

    def _bind(self, member_id: str, data: dict[str, Any], current: str | None) -> str | None:
        """The identity a member record binds ``member_id`` to; one identity, one active member."""
        identity = data.get("identity", current)
        if identity is not None:
            other = next((m for m in self.members.values() if m.active and m.identity == identity
                          and m.member_id != member_id), None)
            if other is not None:
                raise NtConflict(f"identity {identity!r} already acts as member {other.member_id!r} of syndicate "
                                 f"{self.syndicate_id!r}; an identity is one member of a syndicate")
        return identity

    def _on_member_added(self, e: Event, data: dict[str, Any]) -> None:
        member_id = data["member_id"]
        existing = self.members.get(member_id)
        if existing is not None and existing.active:
            raise NtConflict(f"member {member_id!r} is already in syndicate {self.syndicate_id!r}")
        # Records written before members were bound name no identity: the member id is it.
        identity = self._bind(member_id, data, default_identity(member_id))
        if existing is not None:   # re-admitted: keeps the history
            existing.active, existing.role, existing.name = True, Role(data["role"]), data["name"]
            existing.identity = identity
        else:
            self.members[member_id] = MemberState(member_id=member_id, name=data["name"], role=Role(data["role"]),
                                                  joined_at=e.at, identity=identity)

    def _on_member_updated(self, e: Event, data: dict[str, Any]) -> None:
        member = self.member(data["member_id"])
        member.identity = self._bind(member.member_id, data, member.identity)
        if data.get("role") is not None:
            member.role = Role(data["role"])
        if data.get("name") is not None:
            member.name = data["name"]

    def _on_member_removed(self, e: Event, data: dict[str, Any]) -> None:
        member = self.member(data["member_id"])
        if member.units > 0:
            raise NtConflict(f"member {member.member_id!r} still holds {member.units} units: withdraw them first")
        member.active = False

    def _on_deposit(self, e: Event, data: dict[str, Any]) -> None:
        member = self.member(data["member_id"])
        amount, units = _m(data["amount"]), _u(data["units"])
        before = self.value_of(member)
        self.cash += amount
        self.deposits_total += amount
        self.units_total += units
        member.units += units
        member.cost_basis += amount
        member.contributed += amount
        member.first_deposit_at = member.first_deposit_at or e.at
        member.flows.append(Flow(at=e.at, kind="deposit", before=before, after=self.value_of(member), cash_in=amount))

    def _on_withdrawal_requested(self, e: Event, data: dict[str, Any]) -> None:
        self.member(data["member_id"])
        amount = data.get("amount")
        self.withdrawals[data["request_id"]] = WithdrawalRequest(
            request_id=data["request_id"], member_id=data["member_id"], amount=None if amount is None else _m(amount),
            emergency=bool(data["emergency"]), reason=data.get("reason"), requested_at=e.at,
            due_at=_when(data["due_at"]))

    def _on_withdrawal_decided(self, e: Event, data: dict[str, Any]) -> None:
        request = self.withdrawals[data["request_id"]]
        if request.status != "pending":
            raise NtConflict(f"withdrawal {request.request_id!r} is {request.status}, not pending")
        request.status = "approved" if data["approved"] else "rejected"
        request.decided_by, request.decided_at, request.note = e.actor, e.at, data.get("note")

    def _on_withdrawal(self, e: Event, data: dict[str, Any]) -> None:
        request = self.withdrawals[data["request_id"]]
        if request.status != "approved":
            raise NtConflict(f"withdrawal {request.request_id!r} is {request.status}, not approved")
        member = self.member(request.member_id)
        units = _u(data["units"])
        gross, penalty, paid = (_m(data[k]) for k in ("gross", "penalty", "paid"))
        if units > member.units:
            raise NtConflict(f"member {member.member_id!r} holds {member.units} units, fewer than {units}")
        before = self.value_of(member)
        basis = member.cost_basis if units == member.units else cents(member.cost_basis * units / member.units)
        member.units -= units
        member.cost_basis -= basis
        member.withdrawn += paid
        member.realised.append((e.at, paid - basis))
        self.units_total -= units
        self.cash -= paid
        self.withdrawals_paid += paid
        self.penalties_kept += penalty
        member.flows.append(Flow(at=e.at, kind="withdrawal", before=before, after=self.value_of(member),
                                 cash_out=paid))
        request.status, request.processed_at = "processed", e.at
        request.units, request.gross, request.penalty, request.paid = units, gross, penalty, paid

    def _on_allocation(self, e: Event, data: dict[str, Any]) -> None:
        self.allocations[data["allocation_id"]] = data

    def _on_stake(self, e: Event, data: dict[str, Any]) -> None:
        if data["bet_id"] in self.bets:
            raise NtConflict(f"bet {data['bet_id']!r} already exists")
        amount = _m(data["amount"])
        if amount > self.cash:
            raise NtConflict(f"stake {amount} is more than the cash {self.cash}")
        self.cash -= amount
        self.bets[data["bet_id"]] = Bet(bet_id=data["bet_id"], allocation_id=data["allocation_id"],
                                        opportunity_id=data["opportunity_id"], sport=data["sport"],
                                        market=data["market"], probability=float(data["probability"]),
                                        odds=_d(data["odds"]), amount=amount, placed_at=e.at)

    def _on_settlement(self, e: Event, data: dict[str, Any]) -> None:
        bet = self.bets.get(data["bet_id"])
        if bet is None or bet.outcome is not None:
            raise NtConflict(f"bet {data['bet_id']!r} is not open")
        returned = _m(data["returned"])
        bet.outcome, bet.returned, bet.pnl, bet.settled_at = data["outcome"], returned, returned - bet.amount, e.at
        self.cash += returned
        self.realised_pnl += returned - bet.amount

    def _on_fee(self, e: Event, data: dict[str, Any]) -> None:
        amount = _m(data["amount"])
        self.cash -= amount
        if data["fee_kind"] == "commission":
            self.commissions += amount
            return
        member = self.member(data["member_id"], active=False)
        self.performance_fees += amount
        member.fees_received += amount
        member.realised.append((e.at, amount))

    def _on_distribution(self, e: Event, data: dict[str, Any]) -> None:
        values_before = {m: self.value_of(self.members[m]) for m in data["shares"]}
        net = _m(data["net"])
        self.cash -= net
        self.distributed += net
        self.reserved += _m(data["reserve"])
        for member_id, share in data["shares"].items():
            member, amount = self.members[member_id], _m(share)
            member.distributions += amount
            member.realised.append((e.at, amount))
            member.flows.append(Flow(at=e.at, kind="distribution", before=values_before[member_id],
                                     after=self.value_of(member), cash_out=amount))
        self.distributions_made[data["distribution_id"]] = data

    def _on_proposal_created(self, e: Event, data: dict[str, Any]) -> None:
        self.proposals[data["proposal_id"]] = Proposal(
            proposal_id=data["proposal_id"], kind=data["kind"], title=data["title"],
            description=data.get("description"), options=list(data["options"]), proposer=e.actor, created_at=e.at,
            deadline=_when(data["deadline"]), quorum=_d(data["quorum"]), threshold=_d(data["threshold"]),
            weighting=data["weighting"], eligible={k: _d(v) for k, v in data["eligible"].items()})

    def _on_vote(self, e: Event, data: dict[str, Any]) -> None:
        proposal = self.proposals[data["proposal_id"]]
        if proposal.closed is not None or data["member_id"] in proposal.votes:
            raise NtConflict(f"proposal {proposal.proposal_id!r}: the vote of {data['member_id']!r} cannot be taken")
        proposal.votes[data["member_id"]] = (data["option"], _d(data["weight"]), e.at)

    def _on_proposal_closed(self, e: Event, data: dict[str, Any]) -> None:
        self.proposals[data["proposal_id"]].closed = data
