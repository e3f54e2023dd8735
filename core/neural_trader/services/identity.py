"""Identities: users and services with roles, roles mapped to scopes, and who may see whose objects.

Three ideas, kept in one place so every frontend and the data layer agree:

* **Roles -> scopes**, deny by default. :data:`ROLES` maps ``viewer`` to ``read``, ``trader`` to
  ``read`` + ``trade`` and ``admin`` to every scope. A caller whose roles are unknown or empty has no
  scope at all, so every operation answers 403. An API key named after a registered identity gets
  the scopes both the key *and* the identity's roles allow; a disabled identity's keys and tokens are
  refused (401) within ``auth_cache_ttl`` on every replica, at once in the process that disabled it.
* **The caller of this request** (:func:`bound_caller`, :func:`current_caller`): a network frontend
  binds the authenticated :class:`~neural_trader.ops.Identity` for the duration of a call. It is a
  context variable, so it follows the call into worker threads, jobs and the trading loop.
* **Object-level checks** (:func:`may_see_owner`): an order carries its owner (the identity's name, or
  ``name:key_id``). A bound caller without the ``admin`` scope sees only its own; code that runs with
  no bound caller (the CLI, the in-process API, reconciliation) is the operator and sees everything.
* **Whose account** (:func:`account_of`): positions, cash, limits and orders belong to a trading
  account. A registered identity trades the account it is bound to (``identities create --account``,
  ``identities set-account``), by default an account of its own, named after it. A caller that is no
  registered identity (a key from before identities, a token whose subject is unregistered) and the
  operator (no bound caller) trade the configured account (``[plugins.trading] account``).
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import datetime as dt
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import cachetools
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from neural_trader.errors import NtConflict, NtNotFound, NtUnauthorized, NtUserError
from neural_trader.ops import Identity, Scope
from neural_trader.services.tables import utcnow
from neural_trader.services.tables_security import IdentityRow

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.services.storage import Storage

__all__ = ["IDENTITY_NAME_PATTERN", "KINDS", "ROLES", "IdentityRecord", "IdentityStore", "Principal", "account_of", "bound_caller",
           "check_account_name", "current_caller", "identities_of", "intersect_scopes", "may_see_owner",
           "owner_clause", "owner_matches", "scopes_for_roles"]

log = logging.getLogger("neural_trader.identity")

#: Role -> the scopes it grants. ``admin`` implies ``trade`` implies ``read`` (:class:`Scope`).
ROLES: dict[str, frozenset[Scope]] = {
    "viewer": frozenset({Scope.READ}),
    "trader": frozenset({Scope.READ, Scope.TRADE}),
    "admin": frozenset({Scope.ADMIN}),
}
KINDS = ("user", "service")
#: Identity names: they become order owners (``name`` or ``name:key_id``), so no ``:``. Packs that
#: name identities (a syndicate's members) validate against the same pattern.
IDENTITY_NAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]{0,63}$"
_NAME_RE = re.compile(IDENTITY_NAME_PATTERN)
_KEY_SUFFIX_RE = re.compile(r"^[0-9a-f]{12}$")
#: Trading account names (``trading_accounts.account`` holds 64 characters).
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def scopes_for_roles(roles: Iterable[str]) -> frozenset[Scope]:
    """The scopes ``roles`` grant; unknown roles grant nothing (deny by default)."""
    out: set[Scope] = set()
    for role in roles:
        out |= ROLES.get(role, frozenset())
    return frozenset(out)


def intersect_scopes(a: Identity, scopes: frozenset[Scope]) -> frozenset[Scope]:
    """The scopes both ``a`` and ``scopes`` allow (with the read < trade < admin order)."""
    other = Identity(name="", scopes=scopes)
    return frozenset(s for s in Scope if a.allows(s) and other.allows(s))


@attrs.frozen(kw_only=True)
class Principal(Identity):
    """An authenticated caller: an :class:`Identity` plus how it was authenticated and its roles."""

    roles: frozenset[str] = frozenset()
    #: ``key`` (an API key), ``jwt`` (a bearer token).
    via: str = "key"
    #: The JWT's ``jti`` (``via == "jwt"``).
    token_id: str | None = None


# -- the caller of the running request ---------------------------------------------------------------
_CALLER: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("neural_trader.caller", default=None)


@contextlib.contextmanager
def bound_caller(identity: Identity) -> Iterator[None]:
    """Make ``identity`` the caller the data layer checks objects against, for this block."""
    token = _CALLER.set(identity)
    try:
        yield
    finally:
        _CALLER.reset(token)


def current_caller() -> Identity | None:
    """The caller a network frontend bound, or ``None`` (trusted in-process code)."""
    return _CALLER.get()


def owner_matches(owner: str, identity: Identity) -> bool:
    """Whether an object owned by ``owner`` (``name`` or ``name:<key id>``) belongs to ``identity``."""
    name = identity.name
    if owner == name:
        return True
    head, sep, tail = owner.rpartition(":")
    return bool(sep) and head == name and _KEY_SUFFIX_RE.match(tail) is not None


def may_see_owner(owner: str, caller: Identity | None = None) -> bool:
    """Object-level check: may the current caller (or ``caller``) see an object owned by ``owner``?"""
    caller = current_caller() if caller is None else caller
    return caller is None or caller.allows(Scope.ADMIN) or owner_matches(owner, caller)


def owner_clause(column: Any) -> Any:
    """A SQL condition restricting ``column`` (an owner column) to the current caller's rows, or
    ``None`` when the caller sees every row. Rows it lets through are checked again with
    :func:`may_see_owner` (LIKE cannot say "twelve hex digits")."""
    caller = current_caller()
    if caller is None or caller.allows(Scope.ADMIN):
        return None
    escaped = caller.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.or_(column == caller.name, col(column).like(f"{escaped}:%", escape="\\"))


# -- the identities table ----------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class IdentityRecord:
    """A registered identity, as it may be shown."""

    name: str
    kind: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    tokens_valid_after: dt.datetime | None = None
    #: The trading account it is bound to; ``None``: an account of its own, named after it.
    account: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def trading_account(self) -> str:
        """The account its orders, positions, cash and limits belong to."""
        return self.account or self.name

    @classmethod
    def from_row(cls, row: IdentityRow) -> IdentityRecord:
        roles = tuple(r for r in row.roles.split(",") if r)
        return cls(name=row.name, kind=row.kind, roles=roles,
                   scopes=tuple(sorted(s.value for s in scopes_for_roles(roles))), created_at=row.created_at,
                   disabled_at=row.disabled_at, tokens_valid_after=row.tokens_valid_after, account=row.account)


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    out = tuple(sorted({r.strip() for r in roles if r.strip()}))
    unknown = [r for r in out if r not in ROLES]
    if unknown:
        raise NtUserError(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    return out


def check_account_name(account: str, *, field: str = "account") -> str:
    """``account`` if it is a valid trading account name, else a user error naming ``field``."""
    account = account.strip()
    if not _ACCOUNT_RE.match(account):
        raise NtUserError(f"{field} must be 1 to 64 letters, digits and . _ @ - starting with a letter or digit, "
                          f"not {account!r}")
    return account


_MISSING = object()


class IdentityStore:
    """Identities in :class:`Storage`, with a short cache for the authentication hot path.

    :param cache_ttl: seconds an identity row is trusted without asking the database again: how long
        another replica keeps honouring an identity disabled (or its tokens revoked) elsewhere.
    """

    def __init__(self, storage: Storage, *, cache_ttl: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self._lock = threading.Lock()
        self._cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=4096, ttl=max(cache_ttl, 1e-6),
                                                                         timer=clock)
        self._cache_ttl = cache_ttl

    # -- administration ---------------------------------------------------------------------------
    def create(self, name: str, *, roles: Iterable[str], kind: str = "user",
               account: str | None = None) -> IdentityRecord:
        """Register ``name``; ``account``: the trading account it trades (default: one of its own,
        named after it)."""
        name = name.strip().lower()
        if not _NAME_RE.match(name):
            raise NtUserError("an identity name is 1 to 64 lower-case letters, digits and . _ @ - (no ':'), "
                              "starting with a letter or digit")
        if kind not in KINDS:
            raise NtUserError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        account = None if account is None else check_account_name(account)
        row = IdentityRow(name=name, kind=kind, roles=",".join(_check_roles(roles)), account=account,
                          created_at=utcnow())
        try:
            with self.storage.session() as session:
                session.add(row)
        except IntegrityError:
            raise NtConflict(f"identity {name!r} exists; `neural-trader identities list` shows it") from None
        self._forget(name)
        log.info("created identity %s (%s) with roles %s, account %s", name, kind, row.roles or "none",
                 account or name)
        return IdentityRecord.from_row(row)

    def list(self) -> builtins.list[IdentityRecord]:
        with self.storage.session() as session:
            rows = session.exec(select(IdentityRow).order_by(col(IdentityRow.name))).all()
            return [IdentityRecord.from_row(r) for r in rows]

    def get(self, name: str) -> IdentityRecord:
        row = self._load(name)
        if row is None:
            raise NtNotFound(f"no identity {name!r}; `neural-trader identities list` shows them")
        return IdentityRecord.from_row(row)

    def _update(self, name: str, **values: Any) -> IdentityRecord:
        with self.storage.session() as session:
            session.execute(sa.update(IdentityRow).where(col(IdentityRow.name) == name).values(**values))
        self._forget(name)
        return self.get(name)

    def set_account(self, name: str, account: str | None) -> IdentityRecord:
        """Bind ``name`` to the trading account ``account`` (``None``: its own, named after it). Its
        next calls trade that account (within ``auth_cache_ttl`` on other replicas); orders it placed
        stay in the account they were placed in."""
        return self._update(name, account=None if account is None else check_account_name(account))

    def set_roles(self, name: str, roles: Iterable[str]) -> IdentityRecord:
        return self._update(name, roles=",".join(_check_roles(roles)))

    def disable(self, name: str) -> IdentityRecord:
        """Refuse the identity's keys and tokens from now on (until :meth:`enable`)."""
        return self._update(name, disabled_at=utcnow())

    def enable(self, name: str) -> IdentityRecord:
        return self._update(name, disabled_at=None)

    def revoke_tokens(self, name: str) -> IdentityRecord:
        """Every JWT of this identity issued until now stops working (rotation after a leak)."""
        return self._update(name, tokens_valid_after=utcnow())

    # -- the hot path -----------------------------------------------------------------------------
    def lookup(self, name: str) -> IdentityRecord | None:
        """The identity named ``name`` (cached for ``cache_ttl``), or ``None`` if none is registered."""
        with self._lock:
            found = self._cache.get(name, _MISSING)
        if found is not _MISSING:
            return found
        row = self._load(name)
        record = None if row is None else IdentityRecord.from_row(row)
        if self._cache_ttl > 0:
            with self._lock:
                self._cache[name] = record
        return record

    def apply(self, identity: Identity) -> Identity:
        """An API key's identity with its registered identity's rules applied: a disabled identity is
        refused; the scopes are those both the key and the identity's roles allow. A key whose name
        is no registered identity keeps the scopes it was created with."""
        record = self.lookup(identity.name)
        if record is None:
            return Principal(name=identity.name, scopes=identity.scopes, key_id=identity.key_id, via="key")
        if record.disabled_at is not None:
            raise NtUnauthorized(f"identity {record.name} is disabled; ask an administrator")
        scopes = intersect_scopes(identity, scopes_for_roles(record.roles))
        return Principal(name=record.name, scopes=scopes, key_id=identity.key_id, roles=frozenset(record.roles),
                         via="key")

    def _load(self, name: str) -> IdentityRow | None:
        with self.storage.session() as session:
            return session.exec(select(IdentityRow).where(IdentityRow.name == name)).first()

    def _forget(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)


def account_of(caller: Identity | None, store: IdentityStore, *, default: str) -> str:
    """The trading account ``caller`` trades: its identity's bound account (its own name when it
    has none); ``default`` (the configured account) for the operator (``None``) and for a caller that
    is no registered identity."""
    if caller is None:
        return default
    record = store.lookup(caller.name)
    return default if record is None else record.trading_account


_STORES: weakref.WeakKeyDictionary[Any, IdentityStore] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def identities_of(host: Host) -> IdentityStore:
    """The host's identity store (one per services object, so a closed host's store goes with it)."""
    services = host.services
    with _STORES_LOCK:
        store = _STORES.get(services)
        if store is None:
            store = IdentityStore(services.storage, cache_ttl=host.settings.auth_cache_ttl)
            _STORES[services] = store
        return store
