"""A syndicate's configurable rules: bankroll limits, withdrawal terms, governance defaults, tiers.

Fractions are of the bankroll (the net asset value, open stakes at cost included) unless stated.
:class:`Rules` holds them all with their bounds; :class:`RulesPatch` is the same fields, each
optional, for ``syndicate.set_rules`` (what is left out keeps its value). The bounds are written
once, in :data:`_FIELDS`.
"""

from __future__ import annotations

import decimal
from typing import Any

import attrs

from neural_trader.errors import NtUserError
from neural_trader.schema import param
from neural_trader_plugins.syndicates.roles import Role

D = decimal.Decimal

__all__ = ["RoleWeights", "Rules", "RulesPatch", "Tier"]

_FRACTION = {"ge": 0, "le": 1, "unit": "fraction"}
#: (default, bounds and description) of every rule.
_FIELDS: dict[str, tuple[Any, dict[str, Any]]] = {
    "max_single_bet": (D("0.05"), {**_FRACTION, "description": "largest stake on one opportunity"}),
    "max_daily_exposure": (D("0.20"), {**_FRACTION, "description": "stakes placed in one UTC day, in total"}),
    "max_per_sport": (D("0.15"), {**_FRACTION, "description": "open stakes on one sport"}),
    "max_per_market": (D("0.10"), {**_FRACTION, "description": "open stakes on one market of a sport"}),
    "min_reserve": (D("0.30"), {**_FRACTION, "description": "cash that must stay unstaked"}),
    "daily_stop_loss": (D("0.10"), {**_FRACTION, "description": "no new stakes once the UTC day's net loss reaches "
                                                              "this share of the bankroll before it"}),
    "weekly_stop_loss": (D("0.20"), {**_FRACTION, "description": "the same over the ISO week (from Monday 00:00 UTC)"}),
    "kelly_fraction": (D("0.25"), {"gt": 0, "le": 1, "unit": "fraction",
                                   "description": "multiplier of full Kelly (0.25 = quarter Kelly)"}),
    "notice_days": (0, {"ge": 0, "le": 365, "description": "days between a withdrawal request and its processing"}),
    "lockup_days": (0, {"ge": 0, "le": 3650, "description": "days after a member's first deposit before an ordinary "
                                                           "withdrawal"}),
    "emergency_penalty": (D("0.05"), {**_FRACTION, "description": "share of an emergency withdrawal kept by the pool "
                                                                 "(it skips notice and lock-up)"}),
    "min_balance": (D("0"), {"ge": 0, "le": 10**12, "unit": "money",
                             "description": "a partial withdrawal must leave at least this much, or withdraw all"}),
    "quorum": (D("0.5"), {**_FRACTION, "description": "share of the voting weight that must vote"}),
    "approval_threshold": (D("0.5"), {"gt": 0, "le": 1, "unit": "fraction",
                                      "description": "share of the weight cast the winning option must exceed"}),
}


@attrs.frozen(kw_only=True)
class RoleWeights:
    """Weight of each role in votes weighted by role (observers 0 by default: they do not vote)."""

    admin: D = param(default=D(1), ge=0, le=100, description="an admin's weight")
    manager: D = param(default=D(1), ge=0, le=100, description="a manager's weight")
    member: D = param(default=D(1), ge=0, le=100, description="a member's weight")
    observer: D = param(default=D(0), ge=0, le=100, description="an observer's weight")

    def of(self, role: Role) -> D:
        weight: D = getattr(self, role.value)
        return weight


@attrs.frozen(kw_only=True)
class Tier:
    """A capital tier: members with at least ``min_capital`` are in it (the highest that applies)."""

    name: str = param(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$", description="the tier's name")
    min_capital: D = param(ge=0, le=10**12, unit="money", description="capital (units at today's value) needed")
    multiplier: D = param(default=D("1"), ge=0, le=10, description="weight in tiered distributions and votes")


def _check_tiers(_instance: Any, _attribute: Any, value: list[Tier]) -> None:
    names = [t.name for t in value]
    if len(set(names)) != len(names):
        raise ValueError("tiers must have different names")


def _rule(name: str, *, optional: bool) -> dict[str, Any]:
    """``param`` keywords of a rule: its bounds, and its default (``None`` in a patch)."""
    default, spec = _FIELDS[name]
    return {"default": None if optional else default, **spec}


@attrs.frozen(kw_only=True)
class Rules:
    """Every rule of a syndicate, with its value."""

    max_single_bet: D = param(**_rule("max_single_bet", optional=False))
    max_daily_exposure: D = param(**_rule("max_daily_exposure", optional=False))
    max_per_sport: D = param(**_rule("max_per_sport", optional=False))
    max_per_market: D = param(**_rule("max_per_market", optional=False))
    min_reserve: D = param(**_rule("min_reserve", optional=False))
    daily_stop_loss: D = param(**_rule("daily_stop_loss", optional=False))
    weekly_stop_loss: D = param(**_rule("weekly_stop_loss", optional=False))
    kelly_fraction: D = param(**_rule("kelly_fraction", optional=False))
    notice_days: int = param(**_rule("notice_days", optional=False))
    lockup_days: int = param(**_rule("lockup_days", optional=False))
    emergency_penalty: D = param(**_rule("emergency_penalty", optional=False))
    min_balance: D = param(**_rule("min_balance", optional=False))
    quorum: D = param(**_rule("quorum", optional=False))
    approval_threshold: D = param(**_rule("approval_threshold", optional=False))
    role_vote_weights: RoleWeights = param(factory=RoleWeights, description="weight of each role in votes "
                                                                             "weighted by role")
    tiers: list[Tier] = attrs.field(factory=list, validator=[attrs.validators.max_len(10), _check_tiers],
                                    metadata={"description": "capital tiers (at most 10), optional"})

    def apply(self, patch: RulesPatch) -> Rules:
        """These rules with the patch's given fields replaced; bounds are checked again."""
        changes = {f.name: getattr(patch, f.name) for f in attrs.fields(RulesPatch) if getattr(patch, f.name) is not None}
        try:
            return attrs.evolve(self, **changes)
        except ValueError as exc:
            raise NtUserError(f"rules: {exc}") from None

    def tier_of(self, capital: D) -> Tier | None:
        eligible = [t for t in self.tiers if capital >= t.min_capital]
        return max(eligible, key=lambda t: (t.min_capital, t.name)) if eligible else None

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Rules:
        """Rules read back from a ledger record's JSON (decimals as strings)."""
        values: dict[str, Any] = {}
        for name, (default, _) in _FIELDS.items():
            values[name] = type(default)(data[name]) if name in data else default
        if "role_vote_weights" in data:
            values["role_vote_weights"] = RoleWeights(**{k: D(v) for k, v in data["role_vote_weights"].items()})
        values["tiers"] = [Tier(name=t["name"], min_capital=D(t["min_capital"]), multiplier=D(t["multiplier"]))
                           for t in data.get("tiers", [])]
        return cls(**values)


@attrs.frozen(kw_only=True)
class RulesPatch:
    """Rules to change; a field left out (or null) keeps its value."""

    max_single_bet: D | None = param(**_rule("max_single_bet", optional=True))
    max_daily_exposure: D | None = param(**_rule("max_daily_exposure", optional=True))
    max_per_sport: D | None = param(**_rule("max_per_sport", optional=True))
    max_per_market: D | None = param(**_rule("max_per_market", optional=True))
    min_reserve: D | None = param(**_rule("min_reserve", optional=True))
    daily_stop_loss: D | None = param(**_rule("daily_stop_loss", optional=True))
    weekly_stop_loss: D | None = param(**_rule("weekly_stop_loss", optional=True))
    kelly_fraction: D | None = param(**_rule("kelly_fraction", optional=True))
    notice_days: int | None = param(**_rule("notice_days", optional=True))
    lockup_days: int | None = param(**_rule("lockup_days", optional=True))
    emergency_penalty: D | None = param(**_rule("emergency_penalty", optional=True))
    min_balance: D | None = param(**_rule("min_balance", optional=True))
    quorum: D | None = param(**_rule("quorum", optional=True))
    approval_threshold: D | None = param(**_rule("approval_threshold", optional=True))
    role_vote_weights: RoleWeights | None = param(default=None, description="weight of each role in role-weighted "
                                                                            "votes (replaces all four)")
    tiers: list[Tier] | None = param(default=None, max_len=10, description="capital tiers (replaces the list)")


assert [f.name for f in attrs.fields(Rules)] == [f.name for f in attrs.fields(RulesPatch)]
