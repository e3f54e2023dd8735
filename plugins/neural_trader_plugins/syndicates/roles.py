"""Roles and what each may do: the one permission table every operation checks its ``actor`` against."""

from __future__ import annotations

import enum

from neural_trader.errors import NtForbidden

__all__ = ["PERMISSIONS", "Permission", "Role", "allowed", "require"]


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    OBSERVER = "observer"


class Permission(enum.StrEnum):
    VIEW = "view"                          # status, limits, members' roles and units, results, history
    VIEW_ALL_ACCOUNTS = "view_all_accounts"  # another member's withdrawals, performance, tax estimate
    DEPOSIT_OWN = "deposit_own"
    DEPOSIT_FOR_OTHERS = "deposit_for_others"
    WITHDRAW_OWN = "withdraw_own"
    APPROVE_WITHDRAWALS = "approve_withdrawals"
    PROCESS_WITHDRAWALS = "process_withdrawals"
    ALLOCATE = "allocate"                  # stakes and their settlement
    DISTRIBUTE = "distribute"
    SET_RULES = "set_rules"
    MANAGE_MEMBERS = "manage_members"
    PROPOSE = "propose"
    VOTE = "vote"


_P = Permission
_MEMBER = frozenset({_P.VIEW, _P.DEPOSIT_OWN, _P.WITHDRAW_OWN, _P.PROPOSE, _P.VOTE})
_MANAGER = _MEMBER | {_P.VIEW_ALL_ACCOUNTS, _P.DEPOSIT_FOR_OTHERS, _P.APPROVE_WITHDRAWALS, _P.PROCESS_WITHDRAWALS,
                      _P.ALLOCATE, _P.DISTRIBUTE}

#: The permission table (docs/syndicates.md prints it).
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: frozenset(_MANAGER),
    Role.MEMBER: _MEMBER,
    Role.OBSERVER: frozenset({_P.VIEW}),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def require(member_id: str, role: Role, permission: Permission) -> None:
    """Raise :class:`NtForbidden` unless ``role`` has ``permission``; the message says who may."""
    if not allowed(role, permission):
        who = ", ".join(r.value for r in Role if allowed(r, permission))
        raise NtForbidden(f"member {member_id!r} is {role.value}: {permission.value.replace('_', ' ')} needs the role "
                          f"{who}")
