"""JWT bearer tokens (RFC 7519), checked the way RFC 8725 asks, next to API keys.

What a token must be to pass :meth:`TokenVerifier.verify`:

* signed with an algorithm on the allow-list (``jwt_algorithms``) *for which a key is configured*:
  ``HS256`` with ``NT_JWT_SECRET``, ``RS256``/``ES256`` with the public keys of ``NT_JWT_PUBLIC_KEYS``
  (a JWKS or PEM file). ``none`` is never accepted, whatever the list says; the algorithm a token
  names only picks among *our* keys (``jku``/``jwk``/``x5u`` headers are ignored: keys never come
  from the token), and an HMAC algorithm is never tried with a public key (the RS/HS confusion);
* carrying ``exp``, ``nbf``, ``iat``, ``iss``, ``aud``, ``sub`` and ``jti``, with ``iss`` and ``aud``
  equal to ours, inside its validity window (``jwt_leeway`` of clock skew), and no longer-lived than
  ``jwt_max_ttl``;
* not revoked: its ``jti`` not in ``revoked_tokens``, its ``iat`` not before its identity's
  ``tokens_valid_after``, its identity not disabled.

Revocation is checked on every request against a cache of at most ``auth_cache_ttl`` seconds (1 s by
default): :meth:`TokenVerifier.revoke` evicts at once in this process, other replicas see it within
that bound. A token whose signature verified is remembered for the same bound (parsing costs ~0.1 ms),
so a key removed from the configuration stops working within ``auth_cache_ttl``. Rotation: list the new secret first in ``NT_JWT_SECRET`` (``new,old``) or add the new key
to the JWKS file (re-read when its modification time changes, so no restart); remove the old one
when its tokens have expired.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cachetools
import jwt
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from neural_trader.errors import NtUnauthorized, NtUserError
from neural_trader.services.identity import IdentityStore, Principal, identities_of, scopes_for_roles
from neural_trader.services.tables import utcnow
from neural_trader.services.tables_security import RevokedTokenRow

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.services.storage import Storage
    from neural_trader.settings import Settings

__all__ = ["REQUIRED_CLAIMS", "TokenVerifier", "looks_like_jwt", "tokens_of"]

log = logging.getLogger("neural_trader.tokens")

REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "aud", "sub", "jti")
_HMAC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"})
_MIN_SECRET_BYTES = 32
_MAX_TOKEN = 8192


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments joined by dots (an API key never has a dot)."""
    return token.count(".") == 2 and not token.startswith("ntk_")


class _PublicKeys:
    """The keys of the ``jwt_public_keys`` file, re-read whenever its modification time changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: list[tuple[str | None, str, Any]] = []  # (kid, algorithm family, key)
        self._lock = threading.Lock()

    def current(self) -> list[tuple[str | None, str, Any]]:
        if self.path is None:
            return []
        try:
            stat = self.path.stat()
        except OSError as exc:
            log.warning("JWT public keys file %s cannot be read: %s", self.path, exc)
            return []
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._keys = self._read(self.path.read_text(encoding="utf-8"))
                self._stamp = stamp
            return self._keys

    @staticmethod
    def _read(text: str) -> list[tuple[str | None, str, Any]]:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        out: list[tuple[str | None, str, Any]] = []
        if text.lstrip().startswith("{"):
            for jwk in jwt.PyJWKSet.from_dict(json.loads(text)).keys:
                family = "RS" if jwk.key_type == "RSA" else "ES" if jwk.key_type == "EC" else str(jwk.key_type)
                out.append((jwk.key_id, family, jwk.key))
            return out
        for block in text.split("-----END PUBLIC KEY-----"):
            if "-----BEGIN PUBLIC KEY-----" not in block:
                continue
            key = load_pem_public_key((block.strip() + "\n-----END PUBLIC KEY-----\n").encode())
            family = "RS" if isinstance(key, rsa.RSAPublicKey) else "ES" if isinstance(key, ec.EllipticCurvePublicKey) \
                else "?"
            out.append((None, family, key))
        return out


class TokenVerifier:
    """Verifies (and, with an HMAC secret, issues) JWT bearer tokens; revokes them by ``jti``."""

    def __init__(self, settings: Settings, storage: Storage, identities: IdentityStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.storage = storage
        self.identities = identities
        self.clock = clock
        self._secrets = [s.strip() for s in (settings.jwt_secret or "").split(",") if s.strip()]
        for secret in self._secrets:
            if len(secret.encode()) < _MIN_SECRET_BYTES:
                raise NtUserError(f"NT_JWT_SECRET: each HS256 secret must be at least {_MIN_SECRET_BYTES} bytes "
                                  "(generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        self._public = _PublicKeys(settings.jwt_public_keys)
        allowed = {a.strip() for a in settings.jwt_algorithms if a.strip()} - {"none", "None", "NONE"}
        self.algorithms = frozenset(a for a in allowed if a in _HMAC | _ASYMMETRIC)
        self._revoked: cachetools.TTLCache[str, bool] = cachetools.TTLCache(
            maxsize=16384, ttl=max(settings.auth_cache_ttl, 1e-6), timer=time.monotonic)
        # Tokens whose signature and claims verified, for auth_cache_ttl: a client sends the same token
        # many times, and PyJWT's parsing costs ~0.1 ms. Revocation and the identity are still checked
        # on every use (each with its own cache of the same bound), and so is exp.
        self._verified: cachetools.TTLCache[str, dict[str, Any]] = cachetools.TTLCache(
            maxsize=4096, ttl=max(settings.auth_cache_ttl, 1e-6), timer=time.monotonic)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._secrets) or self.settings.jwt_public_keys is not None

    # -- verification -------------------------------------------------------------------------------
    def _candidates(self, alg: str, kid: str | None) -> list[Any]:
        if alg in _HMAC:
            return list(self._secrets)
        family = alg[:2]
        keys = [(k_id, key) for k_id, fam, key in self._public.current() if fam == family]
        if kid is not None:
            keys = [(k_id, key) for k_id, key in keys if k_id in (kid, None)]
        return [key for _, key in keys]

    def verify(self, token: str) -> Principal:
        """The caller a bearer JWT stands for, or :class:`NtUnauthorized` saying why not."""
        if not self.enabled:
            raise NtUnauthorized("JWT bearer tokens are not configured on this server (NT_JWT_SECRET or "
                                 "NT_JWT_PUBLIC_KEYS); use an API key")
        if len(token) > _MAX_TOKEN:
            raise NtUnauthorized(f"the bearer token is over {_MAX_TOKEN} characters")
        with self._lock:
            known = self._verified.get(token)
        if known is not None and known["exp"] + self.settings.jwt_leeway > self.clock():
            return self._principal(known)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NtUnauthorized("malformed bearer token: not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise NtUnauthorized("unsigned tokens (alg none) are refused")
        if alg not in self.algorithms:
            raise NtUnauthorized(f"JWT algorithm {alg[:16]!r} is not allowed; allowed: "
                                 f"{', '.join(sorted(self.algorithms)) or 'none configured'}")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        keys = self._candidates(alg, kid)
        if not keys:
            raise NtUnauthorized(f"no key is configured for JWT algorithm {alg}")
        claims = self._decode(token, alg, keys)
        principal = self._principal(claims)
        if self.settings.auth_cache_ttl > 0:
            with self._lock:
                self._verified[token] = claims
        return principal

    def _decode(self, token: str, alg: str, keys: Iterable[Any]) -> dict[str, Any]:
        s = self.settings
        options: Any = {"require": list(REQUIRED_CLAIMS), "verify_signature": True, "verify_exp": True,
                        "verify_nbf": True, "verify_iat": True, "verify_aud": True, "verify_iss": True}
        last: Exception | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(token, key, algorithms=[alg], audience=s.jwt_audience,
                                                    issuer=s.jwt_issuer, leeway=s.jwt_leeway, options=options)
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.ExpiredSignatureError:
                raise NtUnauthorized("the bearer token has expired; get a new one") from None
            except jwt.ImmatureSignatureError:
                raise NtUnauthorized("the bearer token is not valid yet (nbf/iat in the future)") from None
            except jwt.InvalidAudienceError:
                raise NtUnauthorized(f"the bearer token is not meant for this server (aud must be "
                                     f"{s.jwt_audience!r})") from None
            except jwt.InvalidIssuerError:
                raise NtUnauthorized(f"the bearer token has the wrong issuer (iss must be {s.jwt_issuer!r})") from None
            except jwt.MissingRequiredClaimError as exc:
                raise NtUnauthorized(f"the bearer token lacks the {exc.claim!r} claim; required: "
                                     f"{', '.join(REQUIRED_CLAIMS)}") from None
            except jwt.PyJWTError as exc:
                raise NtUnauthorized(f"invalid bearer token: {type(exc).__name__}") from None
            return claims
        del last
        raise NtUnauthorized("the bearer token's signature does not verify with any configured key")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        sub, jti = claims.get("sub"), claims.get("jti")
        if not isinstance(sub, str) or not sub or len(sub) > 200 or ":" in sub:
            raise NtUnauthorized("the bearer token's sub must be an identity name (no ':')")
        if not isinstance(jti, str) or not jti or len(jti) > 128:
            raise NtUnauthorized("the bearer token's jti must be a string of 1 to 128 characters")
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int | float) or not isinstance(exp, int | float) \
                or exp - iat > self.settings.jwt_max_ttl:
            raise NtUnauthorized(f"the bearer token lives longer than jwt_max_ttl "
                                 f"({self.settings.jwt_max_ttl:g} s); issue a shorter-lived one")
        if self.is_revoked(jti):
            raise NtUnauthorized("the bearer token has been revoked")
        roles_claim = claims.get("roles", [])
        roles = frozenset(r for r in (roles_claim if isinstance(roles_claim, list) else []) if isinstance(r, str))
        record = self.identities.lookup(sub)
        if record is not None:
            if record.disabled_at is not None:
                raise NtUnauthorized(f"identity {sub} is disabled; ask an administrator")
            valid_after = record.tokens_valid_after
            if valid_after is not None and dt.datetime.fromtimestamp(iat, dt.UTC) < valid_after:
                raise NtUnauthorized("the bearer token has been revoked (every token of its identity issued "
                                     f"before {valid_after.isoformat()})")
            roles = roles & frozenset(record.roles)  # a token cannot raise its identity's roles
        return Principal(name=sub, scopes=scopes_for_roles(roles), roles=roles, via="jwt", token_id=jti)

    # -- revocation ---------------------------------------------------------------------------------
    def is_revoked(self, jti: str) -> bool:
        with self._lock:
            cached = self._revoked.get(jti)
        if cached is not None:
            return cached
        with self.storage.session() as session:
            revoked = session.exec(select(RevokedTokenRow.jti).where(RevokedTokenRow.jti == jti)).first() is not None
        if self.settings.auth_cache_ttl > 0:
            with self._lock:
                self._revoked[jti] = revoked
        return revoked

    def revoke(self, jti: str, *, subject: str = "?", expires_at: dt.datetime | None = None) -> None:
        """Refuse the token with this ``jti`` from now on (kept until ``expires_at``, default
        ``jwt_max_ttl`` from now, after which it would have expired anyway)."""
        jti = jti.strip()
        if not jti or len(jti) > 128:
            raise NtUserError("a token id (jti) is 1 to 128 characters")
        until = expires_at or utcnow() + dt.timedelta(seconds=self.settings.jwt_max_ttl)
        try:
            with self.storage.session() as session:
                session.add(RevokedTokenRow(jti=jti, subject=subject[:200], revoked_at=utcnow(), expires_at=until))
        except IntegrityError:
            pass  # revoked already: the first revocation stands
        with self._lock:
            self._revoked[jti] = True
        log.info("revoked token %s of %s", jti, subject)

    def purge_expired(self) -> int:
        """Drop revocations of tokens that have expired anyway; returns how many."""
        import sqlalchemy as sa
        from sqlmodel import col

        with self.storage.session() as session:
            result = session.execute(sa.delete(RevokedTokenRow).where(col(RevokedTokenRow.expires_at) < utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- issuing (HS256, for the CLI and tests) -----------------------------------------------------
    def issue(self, subject: str, *, roles: Iterable[str], ttl: float = 3600.0,
              audience: str | None = None, extra: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """A token signed with the first ``NT_JWT_SECRET``, and its claims."""
        if not self._secrets:
            raise NtUserError("issuing tokens needs NT_JWT_SECRET (an HS256 secret of at least 32 bytes)")
        if not 0 < ttl <= self.settings.jwt_max_ttl:
            raise NtUserError(f"ttl must be between 0 and jwt_max_ttl ({self.settings.jwt_max_ttl:g} s)")
        now = int(self.clock())
        claims = {"iss": self.settings.jwt_issuer, "aud": audience or self.settings.jwt_audience, "sub": subject,
                  "iat": now, "nbf": now, "exp": now + int(ttl), "jti": secrets.token_hex(16),
                  "roles": sorted(set(roles)), **(extra or {})}
        return jwt.encode(claims, self._secrets[0], algorithm="HS256"), claims


_VERIFIERS: weakref.WeakKeyDictionary[Any, TokenVerifier] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def tokens_of(host: Host) -> TokenVerifier:
    """The host's token verifier (one per services object)."""
    services = host.services
    with _LOCK:
        verifier = _VERIFIERS.get(services)
        if verifier is None:
            verifier = TokenVerifier(host.settings, services.storage, identities_of(host))
            _VERIFIERS[services] = verifier
        return verifier
