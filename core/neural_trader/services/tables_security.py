"""The tables of identities and revoked tokens (:mod:`neural_trader.services.identity`,
:mod:`neural_trader.services.tokens`), on the core's metadata: authentication is the host's job."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field

from neural_trader.services.tables import Table, UTCDateTime, utcnow

__all__ = ["IdentityRow", "RevokedTokenRow"]


class IdentityRow(Table, table=True):
    """A user or a service, its roles, and the time before which its tokens no longer count."""

    __tablename__ = "identities"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    #: ``user`` or ``service``.
    kind: str = Field(max_length=16)
    #: Comma-separated role names, sorted (:data:`neural_trader.services.identity.ROLES`).
    roles: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Set: the identity is disabled (its keys and tokens are refused).
    disabled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: JWTs of this identity issued (``iat``) before this time are refused: "revoke every token".
    tokens_valid_after: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The trading account it trades (migration ``0006``); ``None``: one of its own, named after it.
    account: str | None = Field(default=None, max_length=64)


class RevokedTokenRow(Table, table=True):
    """One revoked JWT, by its ``jti``; kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: str = Field(max_length=128, primary_key=True)
    subject: str = Field(max_length=200)
    revoked_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
