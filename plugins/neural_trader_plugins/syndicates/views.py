"""The typed results of the syndicate operations, built from :class:`~.books.Books`."""

from __future__ import annotations

import datetime as dt
import decimal

import attrs

from neural_trader.schema import param
from neural_trader_plugins.syndicates.allocation import AllocationLine, Exposure
from neural_trader_plugins.syndicates.books import Books, MemberState, Proposal, WithdrawalRequest
from neural_trader_plugins.syndicates.governance import Outcome, tally
from neural_trader_plugins.syndicates.money import UNIT
from neural_trader_plugins.syndicates.roles import Role
from neural_trader_plugins.syndicates.rules import Rules

D = decimal.Decimal

_UV = "net asset value per unit (8 places)"


def _uv(books: Books) -> D:
    return books.unit_value.quantize(UNIT, rounding=decimal.ROUND_HALF_EVEN)


@attrs.frozen(kw_only=True)
class StatusResult:
    """A syndicate's books now."""

    syndicate_id: str
    name: str
    currency: str
    created_at: dt.datetime
    nav: D = param(unit="money", description="net asset value: cash plus open stakes at cost")
    cash: D = param(unit="money")
    open_stakes: D = param(unit="money")
    units: D = param(description="units out")
    unit_value: D = param(description=_UV)
    members: int = param(description="active members")
    open_bets: int
    realised_pnl: D = param(unit="money", description="settled bets' profit and loss, before commissions")
    commissions: D = param(unit="money")
    performance_fees: D = param(unit="money")
    distributed: D = param(unit="money", description="distributions paid to members")
    reserved: D = param(unit="money", description="operations reserve kept from distributions")
    penalties_kept: D = param(unit="money", description="emergency-withdrawal penalties the pool kept")
    distributable: D = param(unit="money", description="undistributed realised profit the cash covers")
    balanced: bool = param(description="the books balance (they always should; false means tampering)")
    ledger_seq: int = param(description="records in the ledger")
    ledger_hash: str = param(description="the last record's hash")

    @classmethod
    def of(cls, books: Books) -> StatusResult:
        assert books.created_at is not None
        return cls(syndicate_id=books.syndicate_id, name=books.name, currency=books.currency,
                   created_at=books.created_at, nav=books.nav, cash=books.cash, open_stakes=books.open_stakes,
                   units=books.units_total, unit_value=_uv(books),
                   members=sum(1 for m in books.members.values() if m.active),
                   open_bets=sum(1 for b in books.bets.values() if b.outcome is None), realised_pnl=books.realised_pnl,
                   commissions=books.commissions, performance_fees=books.performance_fees,
                   distributed=books.distributed, reserved=books.reserved, penalties_kept=books.penalties_kept,
                   distributable=books.distributable, balanced=books.balance_check() == 0,
                   ledger_seq=books.last_seq, ledger_hash=books.last_hash)


@attrs.frozen(kw_only=True)
class SyndicateSummary:
    syndicate_id: str
    name: str
    currency: str
    role: Role | None = param(description="the role in it of the actor, or of the caller's member (null when "
                                          "an admin caller lists without actor)")
    nav: D = param(unit="money")
    unit_value: D = param(description=_UV)
    members: int


@attrs.frozen(kw_only=True)
class ListResult:
    syndicates: list[SyndicateSummary]


@attrs.frozen(kw_only=True)
class MemberView:
    member_id: str
    name: str
    role: Role
    active: bool
    identity: str | None = param(description="the identity that acts as the member (null: only an operator)")
    units: D
    value: D = param(unit="money", description="units at today's unit value, rounded down to the cent")
    share: D = param(unit="fraction", description="share of the units out")
    tier: str | None = param(description="capital tier, when the rules define tiers")
    contributed: D = param(unit="money")
    joined_at: dt.datetime

    @classmethod
    def of(cls, books: Books, member: MemberState) -> MemberView:
        value = books.value_of(member)
        tier = books.rules.tier_of(value) if member.units > 0 else None
        share = (member.units / books.units_total).quantize(D("0.000001")) if books.units_total > 0 else D(0)
        return cls(member_id=member.member_id, name=member.name, role=member.role, active=member.active,
                   identity=member.identity, units=member.units, value=value, share=share, tier=tier.name if tier else None,
                   contributed=member.contributed, joined_at=member.joined_at)


@attrs.frozen(kw_only=True)
class MembersResult:
    syndicate_id: str
    members: list[MemberView]


@attrs.frozen(kw_only=True)
class DepositResult:
    deposit_id: str
    member_id: str
    amount: D = param(unit="money")
    units: D = param(description="units bought (rounded down to 8 places)")
    unit_value: D = param(description="the unit value the deposit bought at")
    member_units: D
    member_value: D = param(unit="money")
    nav: D = param(unit="money")
    ledger_seq: int = param(description="the deposit's ledger record")


@attrs.frozen(kw_only=True)
class AllocationResult:
    allocation_id: str | None = param(description="the stored allocation (null for a simulation)")
    method: str
    placed: bool = param(description="stakes were booked (false: a simulation)")
    bankroll: D = param(unit="money")
    lines: list[AllocationLine]
    total_stake: D = param(unit="money")
    bets: list[str] = param(description="ids of the bets booked (syndicate.settle takes them)")
    stopped: bool = param(description="a stop-loss stopped all new stakes")


@attrs.frozen(kw_only=True)
class SettleResult:
    bet_id: str
    outcome: str
    stake: D = param(unit="money")
    returned: D = param(unit="money", description="what came back: stake x odds if won, the stake if void")
    commission: D = param(unit="money")
    pnl: D = param(unit="money", description="returned - stake - commission")
    nav: D = param(unit="money")
    unit_value: D = param(description=_UV)


@attrs.frozen(kw_only=True)
class LimitsResult:
    syndicate_id: str
    rules: Rules
    exposure: Exposure


@attrs.frozen(kw_only=True)
class Share:
    member_id: str
    amount: D = param(unit="money")
    weight: D = param(unit="fraction", description="the member's share of the net amount under the model")


@attrs.frozen(kw_only=True)
class DistributionResult:
    distribution_id: str
    preview: bool = param(description="true: nothing was paid")
    model: str
    gross: D = param(unit="money")
    performance_fee: D = param(unit="money")
    fee_recipient: str | None
    reserve: D = param(unit="money", description="kept in the pool as operations reserve")
    net: D = param(unit="money", description="shared among the members")
    shares: list[Share]
    shares_total: D = param(unit="money", description="the shares added up: always exactly net")
    distributable: D = param(unit="money", description="what could be distributed (before this distribution)")
    within_distributable: bool


@attrs.frozen(kw_only=True)
class PeriodView:
    start: dt.datetime
    nav_start: D = param(unit="money")
    nav_end: D = param(unit="money")
    unit_value_start: D
    unit_value_end: D
    deposits: D = param(unit="money")
    withdrawals: D = param(unit="money")
    pnl: D = param(unit="money", description="realised P&L net of commissions")
    fees: D = param(unit="money", description="commissions and performance fees")
    distributions: D = param(unit="money", description="paid to members, performance fees included")
    unit_return: D = param(unit="fraction", description="unit value change, distributions per unit not added back")


@attrs.frozen(kw_only=True)
class ProfitHistoryResult:
    syndicate_id: str
    period: str
    periods: list[PeriodView]


@attrs.frozen(kw_only=True)
class WithdrawalView:
    request_id: str
    member_id: str
    amount: D | None = param(unit="money", description="asked for (null: everything)")
    emergency: bool
    status: str = param(description="pending, approved, rejected or processed")
    requested_at: dt.datetime
    due_at: dt.datetime = param(description="earliest processing (the notice period's end)")
    reason: str | None
    decided_by: str | None
    note: str | None
    units: D | None = param(description="units redeemed, once processed")
    gross: D | None = param(unit="money")
    penalty: D | None = param(unit="money")
    paid: D | None = param(unit="money")
    waiting_for: str | None = param(default=None, description="why it was not processed now")

    @classmethod
    def of(cls, w: WithdrawalRequest, waiting_for: str | None = None) -> WithdrawalView:
        return cls(request_id=w.request_id, member_id=w.member_id, amount=w.amount, emergency=w.emergency,
                   status=w.status, requested_at=w.requested_at, due_at=w.due_at, reason=w.reason,
                   decided_by=w.decided_by, note=w.note, units=w.units, gross=w.gross, penalty=w.penalty, paid=w.paid,
                   waiting_for=waiting_for)


@attrs.frozen(kw_only=True)
class WithdrawalsResult:
    syndicate_id: str
    withdrawals: list[WithdrawalView]


@attrs.frozen(kw_only=True)
class ProcessResult:
    processed: list[WithdrawalView]
    waiting: list[WithdrawalView]


@attrs.frozen(kw_only=True)
class OptionCount:
    option: str
    weight: D
    share: D = param(unit="fraction", description="of the weight cast")


@attrs.frozen(kw_only=True)
class Ballot:
    member_id: str
    option: str
    weight: D
    at: dt.datetime


@attrs.frozen(kw_only=True)
class VoteResults:
    proposal_id: str
    kind: str
    title: str
    options: list[str]
    weighting: str
    deadline: dt.datetime
    outcome: Outcome = param(description="open, decided, no_majority or no_quorum")
    closed: bool = param(description="final: the deadline passed or everyone eligible voted")
    recorded: bool = param(description="the final result is written in the ledger")
    winner: str | None
    counts: list[OptionCount]
    eligible_weight: D
    cast_weight: D
    quorum: D = param(unit="fraction")
    threshold: D = param(unit="fraction")
    quorum_met: bool
    voters: int
    eligible_voters: int
    ballots: list[Ballot]

    @classmethod
    def of(cls, proposal: Proposal, now: dt.datetime) -> VoteResults:
        t = tally(proposal, now)
        cast = t.cast_weight
        return cls(proposal_id=proposal.proposal_id, kind=proposal.kind, title=proposal.title,
                   options=proposal.options, weighting=proposal.weighting, deadline=proposal.deadline,
                   outcome=t.outcome, closed=t.closed, recorded=proposal.closed is not None, winner=t.winner,
                   counts=[OptionCount(option=o, weight=w, share=(w / cast).quantize(D("0.000001")) if cast else D(0))
                           for o, w in t.by_option.items()],
                   eligible_weight=t.eligible_weight, cast_weight=cast, quorum=proposal.quorum,
                   threshold=proposal.threshold, quorum_met=t.quorum_met, voters=t.voters,
                   eligible_voters=t.eligible_voters,
                   ballots=[Ballot(member_id=m, option=o, weight=w, at=at)
                            for m, (o, w, at) in sorted(proposal.votes.items())])


@attrs.frozen(kw_only=True)
class PerformanceResult:
    syndicate_id: str
    member_id: str
    units: D
    value: D = param(unit="money")
    contributed: D = param(unit="money")
    withdrawn: D = param(unit="money")
    distributions: D = param(unit="money")
    fees_received: D = param(unit="money")
    pnl: D = param(unit="money", description="value + withdrawn + distributions + fees received - contributed")
    roi: D | None = param(unit="fraction", description="pnl / contributed")
    time_weighted_return: D | None = param(unit="fraction", description="chain-linked between the member's flows")
    average_unit_cost: D | None


@attrs.frozen(kw_only=True)
class TaxEstimateResult:
    """An illustrative estimate, not tax advice."""

    syndicate_id: str
    member_id: str
    jurisdiction: str
    year: int
    realised_gains: D = param(unit="money", description="distributions, fees and redemption gains in the year, "
                                                        "net of redemption losses")
    taxable: D = param(unit="money")
    rate: D = param(unit="fraction", description="the illustrative rate used")
    basis: str = param(description="where the rate comes from and what it assumes")
    estimated_tax: D = param(unit="money")
    is_estimate: bool = True
    notice: str = ("An estimate for planning with an illustrative rate, not tax advice: rules depend on your "
                   "circumstances; ask a qualified adviser.")


@attrs.frozen(kw_only=True)
class LedgerVerifyResult:
    syndicate_id: str
    ok: bool
    records: int
    last_seq: int
    last_hash: str
    problem: str | None = param(description="edited, deleted, reordered or truncated")
    first_bad_seq: int | None
    detail: str | None
    audit_records_checked: int = param(description="core audit records whose ledger head was found in the ledger")
    balanced: bool = param(description="the replayed books balance")


