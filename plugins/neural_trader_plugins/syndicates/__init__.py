"""Syndicates: pooled bankrolls on a unit ledger, governance by weighted votes and profit shares
exact to the cent.

Every change is a record of an append-only, hash-chained ledger per syndicate (``syndicate_ledger``,
on this pack's migration branch) and a record of the core audit log; the state is the replay of the
ledger (:mod:`.books`). Roles (admin, manager, member, observer; :mod:`.roles`) are checked on every
operation against the acting member (``actor``); the caller's scope is checked by the host (reads
``read``, changes ``trade``). Members are bound to identities (:mod:`.access`): a caller without the
admin scope sees only its own syndicates (any other is "not found") and acts only as its own member.
docs/syndicates.md is the tour.

The examples share one syndicate, ``example``, made by the first example of ``syndicate.create``
(idempotent: the same request again returns its status), with four founders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation, Scope
from neural_trader.services.branches import MigrationBranch

#: The plugin's tables (``syndicates``, ``syndicate_ledger``, ``syndicate_members``) and their migrations.
MIGRATIONS = MigrationBranch(name="syndicates", versions=Path(__file__).parent / "migrations",
                             metadata="neural_trader_plugins.syndicates.tables:metadata")

_S = {"syndicate_id": "example"}
#: The example syndicate: an admin, a manager, a member and an observer; 10,000.00 of capital.
CREATE_EXAMPLE = {**_S, "name": "Example Syndicate", "currency": "USD", "founders": [
    {"member_id": "alice", "name": "Alice", "role": "admin", "deposit": "6000.00"},
    {"member_id": "bob", "name": "Bob", "role": "manager", "deposit": "3000.00"},
    {"member_id": "carol", "name": "Carol", "role": "member", "deposit": "1000.00"},
    {"member_id": "dave", "name": "Dave", "role": "observer"}]}
_OPPORTUNITIES = [
    {"opportunity_id": "ars-che-home", "probability": 0.55, "odds": 2.10, "sport": "football",
     "market": "match_odds"},
    {"opportunity_id": "lal-bos-away", "probability": 0.40, "odds": 2.80, "sport": "basketball",
     "market": "moneyline"},
    {"opportunity_id": "nad-fed", "probability": 0.30, "odds": 2.50, "sport": "tennis", "market": "match_odds"}]


@hookimpl
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    register(MIGRATIONS)


def _op(name: str, summary: str, params: type, result: type, handler: Any, *, scope: Scope = Scope.READ,
        example: dict[str, Any] | None = None, **kw: Any) -> Operation:
    writes = scope is not Scope.READ
    return Operation(name=f"syndicate.{name}", summary=summary, params=params, result=result, handler=handler,
                     scope=scope, read_only=not writes, idempotent=True, examples=(example,) if example else (), **kw)


@hookimpl
def nt_register_operations(register: Callable[[Any], None]) -> None:
    from neural_trader_plugins.syndicates import common, views
    from neural_trader_plugins.syndicates import ops_betting as betting
    from neural_trader_plugins.syndicates import ops_members as members
    from neural_trader_plugins.syndicates import ops_payouts as payouts
    from neural_trader_plugins.syndicates import ops_syndicate as syndicate
    from neural_trader_plugins.syndicates import ops_votes as votes

    # Changes need ``trade``, members and rules too: the actor's role in the syndicate (its admin) is the
    # check that matters there, and a caller acts only as its own member (.access).
    trade = Scope.TRADE
    for op in (
        _op("create", "Found a syndicate with its first members (at least one admin), their opening deposits and "
                      "rules.", syndicate.CreateParams, views.StatusResult, syndicate.create, scope=trade, example=CREATE_EXAMPLE,
            description="Idempotent by syndicate_id: the same request again returns the status; another request "
                        "with that id is a conflict. Opening deposits buy units at 1.00."),
        _op("status", "A syndicate's books: NAV, cash, open stakes, units and unit value, profit, distributable, "
                      "ledger head.", common.SyndicateParams, views.StatusResult, syndicate.status,
            example={**_S, "actor": "dave"}),
        _op("list", "The syndicates you are a member of (every syndicate, for an admin caller), or those a member "
                    "belongs to.", syndicate.ListParams,
            views.ListResult, syndicate.list_syndicates, example={"actor": "alice"}),
        _op("members", "Members with their role, units, value, share and tier.", syndicate.MembersParams,
            views.MembersResult, syndicate.members, example={**_S, "actor": "carol"}),
        _op("member_add", "Admit a member with a role (a syndicate admin).", members.MemberAddParams, views.MemberView,
            members.member_add, scope=trade,
            example={**_S, "actor": "alice", "member_id": "erin", "name": "Erin", "role": "member"}),
        _op("member_update", "Change a member's role or name (a syndicate admin).", members.MemberUpdateParams,
            views.MemberView, members.member_update, scope=trade,
            example={**_S, "actor": "alice", "member_id": "carol", "role": "manager"}),
        _op("member_remove", "Remove a member who holds no units (a syndicate admin).", members.MemberRemoveParams,
            views.MemberView, members.member_remove, scope=trade, destructive=True, confirm=True,
            example={**_S, "actor": "alice", "member_id": "dave", "confirm": True}),
        _op("deposit", "Pay money in: buys units at the current unit value (rounded down: no dilution).",
            members.DepositParams, views.DepositResult, members.deposit, scope=trade,
            example={**_S, "actor": "carol", "deposit_id": "example-carol-1", "amount": "500.00"}),
        _op("allocate", "Size and book stakes on opportunities under the bankroll rules (Kelly, equal, "
                        "proportional, risk-adjusted).", betting.AllocateParams, views.AllocationResult, betting.allocate,
            scope=trade, destructive=True, confirm=True,
            description="Preview with syndicate.simulate_allocation. Each stake becomes a bet <allocation_id>/"
                        "<opportunity_id> that syndicate.settle settles.",
            example={**_S, "actor": "bob", "allocation_id": "example-alloc-1", "opportunities": _OPPORTUNITIES,
                     "confirm": True}),
        _op("simulate_allocation", "The stakes syndicate.allocate would book now, with the rules that cut them; "
                                   "nothing is written.", betting.SimulateParams, views.AllocationResult,
            betting.simulate_allocation, example={**_S, "actor": "carol", "opportunities": _OPPORTUNITIES,
                                              "method": "risk_adjusted"}),
        _op("settle", "Record a booked bet's result (won, lost, void), with an optional exchange commission.",
            betting.SettleParams, views.SettleResult, betting.settle, scope=trade,
            example={**_S, "actor": "bob", "bet_id": "example-alloc-1/ars-che-home", "outcome": "won",
                     "commission": "0.02"}),
        _op("limits", "The bankroll, withdrawal and governance rules, and where the books stand against them today.",
            common.SyndicateParams, views.LimitsResult, syndicate.limits, example={**_S, "actor": "bob"}),
        _op("set_rules", "Change some rules (a syndicate admin); those left out keep their values.", syndicate.SetRulesParams,
            views.LimitsResult, syndicate.set_rules, scope=trade,
            example={**_S, "actor": "alice", "rules": {"max_single_bet": "0.03", "notice_days": 7}}),
        _op("distribute", "Split profit among the members to the exact cent (proportional, equal, performance, "
                          "tiered, hybrid); a preview unless preview is false.", payouts.DistributeParams,
            views.DistributionResult, payouts.distribute, scope=trade, destructive=True, confirm=True,
            confirm_unless="preview",
            example={**_S, "actor": "alice", "distribution_id": "example-dist-1", "amount": "100.00",
                     "model": "hybrid", "hybrid_weights": {"proportional": "0.7", "equal": "0.3"},
                     "performance_fee": "0.1", "fee_recipient": "bob"}),
        _op("profit_history", "NAV, unit value, flows and profit per day, week or month.", syndicate.HistoryParams,
            views.ProfitHistoryResult, syndicate.profit_history, example={**_S, "actor": "carol", "period": "month"}),
        _op("withdraw_request", "Ask to take money out (notice period, lock-up, minimum balance; emergency with a "
                                "penalty).", payouts.WithdrawRequestParams, views.WithdrawalView, payouts.withdraw_request,
            scope=trade, example={**_S, "actor": "carol", "request_id": "example-w-1", "amount": "250.00",
                                  "reason": "example"}),
        _op("withdraw_approve", "Approve (or reject) a withdrawal request (manager or admin).",
            payouts.WithdrawApproveParams, views.WithdrawalView, payouts.withdraw_approve, scope=trade,
            example={**_S, "actor": "bob", "request_id": "example-w-1", "approve": True}),
        _op("withdraw_process", "Pay approved withdrawals that are due: units redeemed at the unit value (rounded "
                                "up: no dilution), penalty kept by the pool.", payouts.WithdrawProcessParams,
            views.ProcessResult, payouts.withdraw_process, scope=trade, destructive=True, confirm=True,
            example={**_S, "actor": "bob", "request_id": "example-w-1", "confirm": True}),
        _op("withdrawals", "Withdrawal requests and their state (your own, or everyone's for a manager).",
            payouts.WithdrawalsParams, views.WithdrawalsResult, payouts.withdrawals, example={**_S, "actor": "bob"}),
        _op("vote_create", "Open a proposal with options, a deadline, a quorum and a threshold; votes weighted by "
                           "units (or role).", votes.VoteCreateParams, views.VoteResults, votes.vote_create,
            scope=trade, example={**_S, "actor": "carol", "proposal_id": "example-p-1", "kind": "strategy_change",
                                  "title": "Add tennis to the strategy", "hours": 72}),
        _op("vote_cast", "Vote on an open proposal (final; weight fixed when it opened).", votes.VoteCastParams,
            views.VoteResults, votes.vote_cast, scope=trade,
            example={**_S, "actor": "bob", "proposal_id": "example-p-1", "option": "approve"}),
        _op("vote_results", "A proposal's count: provisional while open, final and recorded once closed.",
            votes.VoteResultsParams, views.VoteResults, votes.vote_results,
            example={**_S, "actor": "dave", "proposal_id": "example-p-1"}),
        _op("member_performance", "A member's contribution, P&L, ROI and time-weighted return.",
            members.PerformanceParams, views.PerformanceResult, members.member_performance,
            example={**_S, "actor": "carol"}),
        _op("tax_estimate", "An illustrative estimate of tax on a member's realised gains in a year, with the rate "
                            "and its basis (not tax advice).", members.TaxParams, views.TaxEstimateResult,
            members.tax_estimate, example={**_S, "actor": "carol", "jurisdiction": "US", "year": 2026}),
        _op("ledger_verify", "Check a syndicate's ledger: every hash and link, its head, and the heads the core "
                             "audit log recorded.", common.SyndicateParams, views.LedgerVerifyResult, syndicate.ledger_verify,
            example={**_S, "actor": "dave"}),
    ):
        register(op)
