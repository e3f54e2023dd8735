"""Who is calling a network frontend (REST, MCP over HTTP), and may they reach us from there.

Both network frontends use exactly these two functions, so the rules cannot drift apart:

* :func:`make_authenticator` turns an ``Authorization`` header into an :class:`Identity` (API keys
  from :class:`neural_trader.services.keys.KeyStore`, compared in constant time), or raises
  :class:`NtUnauthorized`. With auth disabled (``--no-auth``) every caller gets the configured scopes.
* :func:`host_origin_problem` enforces the ``Host``/``Origin`` allow-lists (DNS-rebinding protection).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from neural_trader.errors import NtUnauthorized
from neural_trader.ops import Identity, Scope
from neural_trader.serde import clip

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.settings import Settings

Authenticator = Callable[[str | None], Identity]


def make_authenticator(
    host: Host, *, required: bool | None = None, anonymous_scopes: frozenset[Scope] = frozenset({Scope.READ})
) -> Authenticator:
    """An authenticator for ``Authorization`` header values.

    :param required: whether a key is needed; defaults to ``host.settings.auth``.
    :param anonymous_scopes: what callers get when no key is required.
    """
    if required is None:
        required = host.settings.auth
    if not required:
        anonymous = Identity(name="anonymous", scopes=anonymous_scopes)
        return lambda _header: anonymous
    keys = host.services.keys

    def authenticate(header: str | None) -> Identity:
        if not header:
            raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>' "
                                 "(create one with `neural-trader keys create`)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NtUnauthorized("the Authorization header must be 'Bearer <key>'")
        return keys.authenticate(token.strip())

    return authenticate


#: ``host[:port]`` as RFC 9110 allows it in a Host header: a bracketed IPv6 literal, or a name/IPv4
#: of letters, digits, dots and hyphens; then an optional numeric port. Nothing may follow.
_HOST_RE = re.compile(r"^(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?)(?::(?P<port>\d{1,5}))?$")


def _host_only(value: str) -> str | None:
    """``example.com:8080`` -> ``example.com``; ``[::1]:80`` -> ``[::1]``; ``None`` if malformed
    (``[::1]evil.com``, ``a b``, ``host:port:port``): a header we cannot parse is never allowed."""
    match = _HOST_RE.match(value.strip().lower())
    if match is None:
        return None
    return match.group("host").rstrip(".")


def host_origin_problem(settings: Settings, host_header: str | None, origin: str | None) -> str | None:
    """Why this request must be refused (a message), or ``None`` when its Host and Origin are allowed.

    Hosts are compared without the port; an Origin's scheme and host must match an allowed origin
    (any port). Requests without an Origin (non-browser clients) pass the origin check.
    """
    allowed_hosts = {h.lower() for h in settings.allowed_hosts}
    shown = clip(repr(host_header), 80)
    if host_header and _host_only(host_header) is None:
        return f"Host {shown} is not a valid host[:port]"
    if "*" not in allowed_hosts and (not host_header or _host_only(host_header) not in allowed_hosts):
        return (f"Host {shown} is not allowed; allowed: {', '.join(sorted(allowed_hosts))} "
                "(set NT_ALLOWED_HOSTS to add one)")
    if origin and "*" not in settings.allowed_origins:
        candidate = _origin_key(origin)
        allowed = {_origin_key(o) for o in settings.allowed_origins}
        if candidate is None or candidate not in allowed:
            return (f"Origin {clip(repr(origin), 80)} is not allowed (DNS-rebinding protection); "
                    "set NT_ALLOWED_ORIGINS to add it")
    return None


def _origin_key(origin: str) -> str | None:
    """``https://app.example.com:8443`` -> ``https://app.example.com``; ``None`` if malformed."""
    try:
        parts = urlsplit(origin.strip().lower())
    except ValueError:
        return None
    host = _host_only(parts.netloc) if parts.netloc and "@" not in parts.netloc else None
    if host is None or parts.scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query:
        return None
    return f"{parts.scheme}://{host}"
