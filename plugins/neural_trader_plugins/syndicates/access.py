"""Who may see a syndicate and act as which of its members: members bound to identities.

Each member is bound to at most one identity (:attr:`~.books.MemberState.identity`, the name an API
key or a token's subject carries; by default the member id when that is a valid identity name), and an
identity to at most one active member of a syndicate. The caller these checks use is the one a network
frontend bound (:func:`neural_trader.services.identity.current_caller`), else the context's identity:

* a caller with the ``admin`` scope, and the operator (the CLI, in-process calls), sees every
  syndicate and may act as any member, as :func:`~neural_trader.services.identity.may_see_owner` lets
  it see every order;
* any other caller sees only the syndicates where an active member is bound to it: every other one
  answers exactly like one that does not exist (:func:`not_found`), and it acts only as its own member.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from neural_trader.errors import NtNotFound
from neural_trader.ops import Context, Identity, Scope
from neural_trader.services.identity import IDENTITY_NAME_PATTERN, current_caller, owner_matches

if TYPE_CHECKING:
    from neural_trader_plugins.syndicates.books import Books, MemberState

__all__ = ["IDENTITY_HINT", "IDENTITY_PATTERN", "bound_member", "bound_to", "caller_of", "default_identity", "not_found",
           "visible"]

#: An identity's name, as :class:`neural_trader.services.identity.IdentityStore` accepts it.
IDENTITY_PATTERN = IDENTITY_NAME_PATTERN
IDENTITY_HINT = "an identity name: 1 to 64 lower-case letters, digits and . _ @ - starting with a letter or digit"
_IDENTITY_RE = re.compile(IDENTITY_PATTERN)


def default_identity(member_id: str) -> str | None:
    """The identity a member is bound to when none is named: its id, if that is an identity's name."""
    return member_id if _IDENTITY_RE.match(member_id) else None


def caller_of(ctx: Context) -> Identity | None:
    """The caller whose syndicates are checked, or ``None`` for one that sees them all."""
    caller = current_caller() or ctx.identity
    return None if caller.allows(Scope.ADMIN) else caller


def bound_to(member: MemberState, caller: Identity) -> bool:
    """Whether ``member`` is bound to ``caller`` (a key of the identity, or a token for it)."""
    return member.identity is not None and owner_matches(member.identity, caller)


def bound_member(books: Books, caller: Identity) -> MemberState | None:
    """The active member of ``books`` bound to ``caller``, if any."""
    return next((m for m in books.members.values() if m.active and bound_to(m, caller)), None)


def visible(books: Books, caller: Identity | None) -> bool:
    return caller is None or bound_member(books, caller) is not None


def not_found(syndicate_id: str) -> NtNotFound:
    """The one answer for a syndicate that does not exist and for one the caller may not see."""
    return NtNotFound(f"no syndicate {syndicate_id!r}; syndicate.list shows yours, syndicate.create makes one")
