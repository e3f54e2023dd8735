"""API keys: issue, list, revoke, and authenticate the ``Authorization: Bearer`` token of a request.

A token reads ``ntk_<key_id>_<secret>``. The key id is public (it names the key in lists, logs and
errors); the secret is 256 random bits shown once, at creation, and stored only as a hash.

Why a plain SHA-256 and not bcrypt/argon2: slow hashes exist to make guessing *low-entropy* human
passwords expensive. A 256-bit random secret cannot be guessed at any hash speed, so a slow hash
would add nothing but ~50 ms of CPU to every request, and authentication sits on the REST hot path.
A pepper (HMAC with a server key) would only matter for guessable secrets as well, and would add a
second secret to deploy to every replica. Hashes are compared with :func:`hmac.compare_digest`, and
stored with their algorithm (``sha256$<hex>``) so a later change can coexist with old keys.

Most requests need no database round trip: key rows are kept in a small in-process TTL cache
(``cache_ttl``, 1 s by default), and the presented secret is still hashed and compared on every
request. :meth:`KeyStore.revoke` evicts the key at once in this process; other processes (replicas)
stop accepting a revoked key within ``cache_ttl``. ``last_used_at`` is written at most once per
``touch_interval`` per key, so busy keys do not turn reads into writes.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable

import attrs
import cachetools
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select

from neural_trader.errors import NtNotFound, NtUnauthorized, NtUnavailable, NtUserError
from neural_trader.ops import Identity, Scope
from neural_trader.services.storage import Storage
from neural_trader.services.tables import ApiKeyRow, utcnow

__all__ = ["TOKEN_PREFIX", "KeyRecord", "KeyStore"]

log = logging.getLogger("neural_trader.keys")

TOKEN_PREFIX = "ntk_"
_KEY_ID_BYTES = 6  # 12 hex characters: short to read and type, ample for uniqueness (retried on clash)
_SECRET_BYTES = 32
_TOKEN_RE = re.compile(r"ntk_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{32,128})")
_HASH_SCHEME = "sha256"
_MAX_NAME = 200

_INVALID = "invalid API key; check the key, or create one with `neural-trader keys create`"


def _hash_secret(secret: str) -> str:
    return f"{_HASH_SCHEME}${hashlib.sha256(secret.encode()).hexdigest()}"


_NO_KEY_HASH = _hash_secret("")


def _format_scopes(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))


@attrs.frozen(kw_only=True)
class KeyRecord:
    """What may be shown about a key: everything but its secret and hash."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> KeyRecord:
        return cls(key_id=row.key_id, name=row.name, scopes=Scope.parse_many(row.scopes),
                   created_at=row.created_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at)


@attrs.frozen
class _Cached:
    """A key as authentication needs it; kept in the in-process cache."""

    secret_hash: str = attrs.field(repr=False)
    identity: Identity
    revoked_at: dt.datetime | None


class KeyStore:
    """API keys in :class:`Storage`. Thread-safe; one per host (``host.services.keys``).

    :param cache_ttl: seconds a key row is trusted without asking the database again; bounds how
        long another process keeps accepting a key revoked elsewhere.
    :param touch_interval: at most one ``last_used_at`` write per key per this many seconds.
    :param clock: the monotonic clock both intervals are measured with (tests pass a fake one).
    """

    def __init__(self, storage: Storage, *, cache_ttl: float = 1.0, cache_size: int = 4096,
                 touch_interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self._lock = threading.Lock()
        self._cache: cachetools.TTLCache[str, _Cached] = cachetools.TTLCache(
            maxsize=cache_size, ttl=cache_ttl, timer=clock)
        # Bumped by every revoke: a row read before a revoke must not be cached after it.
        self._revocations = 0
        # A key's presence here means its last_used_at was written less than touch_interval ago.
        self._touched: cachetools.TTLCache[str, bool] = cachetools.TTLCache(
            maxsize=cache_size, ttl=touch_interval, timer=clock)

    # -- administration ----------------------------------------------------------------------------
    def create(self, name: str, scopes: frozenset[Scope]) -> tuple[KeyRecord, str]:
        """A new key and its token. The token is the only copy of the secret: show it once."""
        name = name.strip()
        if not name or len(name) > _MAX_NAME:
            raise NtUserError(f"a key name must be 1 to {_MAX_NAME} characters")
        scope_set = Scope.parse_many([str(s) for s in scopes])
        if not scope_set:
            raise NtUserError(f"a key needs at least one scope: {', '.join(s.value for s in Scope)}")
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        for attempt in range(3):
            row = ApiKeyRow(key_id=secrets.token_hex(_KEY_ID_BYTES), name=name,
                            secret_hash=_hash_secret(secret), scopes=_format_scopes(scope_set),
                            created_at=utcnow())
            try:
                with self.storage.session() as session:
                    session.add(row)
                break
            except IntegrityError:  # a key id drawn twice: astronomically rare, so just draw again
                if attempt == 2:
                    raise
        record = KeyRecord.from_row(row)
        log.info("created API key %s (%s) with scopes %s", record.key_id, name, row.scopes)
        return record, f"{TOKEN_PREFIX}{record.key_id}_{secret}"

    def list(self) -> builtins.list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        with self.storage.session() as session:
            rows = session.exec(select(ApiKeyRow).order_by(col(ApiKeyRow.created_at), col(ApiKeyRow.id)))
            return [KeyRecord.from_row(row) for row in rows]

    def get(self, key_id: str) -> KeyRecord:
        """One key by its id; :class:`NtNotFound` if there is none."""
        row = self._load(key_id)
        if row is None:
            raise NtNotFound(f"no API key {key_id!r}; `neural-trader keys list` shows them")
        return KeyRecord.from_row(row)

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key for good. Revoking a revoked key changes nothing and returns it as it is."""
        with self.storage.session() as session:
            # One conditional UPDATE, not read-then-write: concurrent revokes keep the first time.
            session.execute(
                sa.update(ApiKeyRow)
                .where(col(ApiKeyRow.key_id) == key_id, col(ApiKeyRow.revoked_at).is_(None))
                .values(revoked_at=utcnow())
            )
            row = session.exec(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).first()
        with self._lock:
            self._revocations += 1
            self._cache.pop(key_id, None)
        if row is None:
            raise NtNotFound(f"no API key {key_id!r}; `neural-trader keys list` shows them")
        log.info("revoked API key %s (%s)", key_id, row.name)
        return KeyRecord.from_row(row)

    # -- the hot path ------------------------------------------------------------------------------
    def authenticate(self, token: str) -> Identity:
        """The identity a bearer token stands for, or :class:`NtUnauthorized`.

        Errors never repeat the token. Only a caller who presents the right secret learns that a
        key was revoked; a wrong secret and an unknown key read the same.
        """
        match = _TOKEN_RE.fullmatch(token.strip()) if isinstance(token, str) else None
        if match is None:
            raise NtUnauthorized("malformed API key: expected 'ntk_<key id>_<secret>' as printed by "
                                 "`neural-trader keys create`")
        key_id = match["key_id"]
        presented = _hash_secret(match["secret"])
        cached = self._cached(key_id)
        # Compare even when the key is unknown, so the two cases cost the same.
        expected = cached.secret_hash if cached is not None else _NO_KEY_HASH
        if not hmac.compare_digest(presented.encode(), expected.encode()) or cached is None:
            raise NtUnauthorized(_INVALID)
        if cached.revoked_at is not None:
            raise NtUnauthorized(f"API key {key_id} was revoked at {cached.revoked_at.isoformat()}; "
                                 "create a new one with `neural-trader keys create`")
        self._touch(key_id)
        return cached.identity

    def _cached(self, key_id: str) -> _Cached | None:
        with self._lock:
            entry = self._cache.get(key_id)
            revocations = self._revocations
        if entry is not None:
            return entry
        row = self._load(key_id)
        if row is None:
            # Not cached: ids of unknown keys cost attackers nothing to vary and would evict real ones.
            return None
        entry = _Cached(
            secret_hash=row.secret_hash,
            identity=Identity(name=row.name, scopes=Scope.parse_many(row.scopes), key_id=row.key_id),
            revoked_at=row.revoked_at,
        )
        with self._lock:
            if self._revocations == revocations:
                self._cache[key_id] = entry
        return entry

    def _load(self, key_id: str) -> ApiKeyRow | None:
        with self.storage.session() as session:
            return session.exec(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).first()

    def _touch(self, key_id: str) -> None:
        with self._lock:
            if key_id in self._touched:
                return
            self._touched[key_id] = True
        try:
            with self.storage.session() as session:
                session.execute(sa.update(ApiKeyRow).where(col(ApiKeyRow.key_id) == key_id)
                                .values(last_used_at=utcnow()))
        except (SQLAlchemyError, NtUnavailable) as exc:
            # Bookkeeping: a valid key keeps working while the database is busy; retried next interval.
            log.warning("could not record the use of API key %s: %s", key_id, exc)

    def invalidate(self) -> None:
        """Forget every cached key (the next request of each reads the database)."""
        with self._lock:
            self._cache.clear()
