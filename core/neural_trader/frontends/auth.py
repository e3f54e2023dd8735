"""Who is calling a network frontend (REST, MCP over HTTP), and may they reach us from there.

Both network frontends use exactly these two functions, so the rules cannot drift apart:

* :func:`make_authenticator` turns an ``Authorization`` header into an :class:`Identity` (API keys
  from :class:`neural_trader.services.keys.KeyStore`, compared in constant time), or raises
  :class:`NtUnauthorized`. With auth disabled (``--no-auth``) every caller gets the configured scopes.
* :func:`query_token_problem` refuses tokens in query strings (they leak into logs).
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
    """An authenticator for ``Authorization`` header values: an API key (``ntk_...``) or, when the
    server has a JWT key configured, a JWT (:mod:`neural_trader.services.tokens`).

    A key named after a registered identity gets the scopes both allow, and a disabled identity is
    refused (:meth:`neural_trader.services.identity.IdentityStore.apply`).

    :param required: whether a key is needed; defaults to ``host.settings.auth``.
    :param anonymous_scopes: what callers get when no key is required.
    """
    if required is None:
        required = host.settings.auth
    if not required:
        anonymous = Identity(name="anonymous", scopes=anonymous_scopes)
        return lambda _header: anonymous

    def authenticate(header: str | None) -> Identity:
        from neural_trader.services.identity import identities_of
        from neural_trader.services.tokens import looks_like_jwt, tokens_of

        if not header:
            raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>' "
                                 "(create one with `neural-trader keys create`)")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NtUnauthorized("the Authorization header must be 'Bearer <key>'")
        if looks_like_jwt(token):
            return tokens_of(host).verify(token)
        return identities_of(host).apply(host.services.keys.authenticate(token))

    return authenticate


#: Query parameters that would carry a bearer token (RFC 6750 section 2.3), refused outright.
QUERY_TOKEN_NAMES = frozenset({"access_token", "id_token", "bearer"})


def query_token_problem(query_string: bytes | str) -> str | None:
    """Why a request must be refused because its query string carries a token, or ``None``.

    Tokens in URLs end up in access logs, proxies and browser histories, so they are never accepted
    there, not even alongside a good ``Authorization`` header.
    """
    from urllib.parse import parse_qsl

    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    if "token" not in text.lower() and "bearer" not in text.lower():
        return None
    names = {name.lower() for name, _ in parse_qsl(text, keep_blank_values=True)}
    found = sorted(names & QUERY_TOKEN_NAMES)
    if found:
        return (f"tokens are never accepted in the query string ({found[0]}); send them in the "
                "'Authorization: Bearer <token>' header")
    return None


#: Where OAuth 2.0 protected-resource metadata (RFC 9728) is served.
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"


def protected_resource_metadata(settings: Settings, base_url: str, resource_path: str = "") -> dict[str, object]:
    """RFC 9728 metadata: this resource's identifier (the audience its tokens must name), the
    authorization server(s) that issue them, how to send them (the header only), and the scopes."""
    resource = (settings.resource_url or base_url).rstrip("/") + resource_path
    out: dict[str, object] = {
        "resource": resource,
        "bearer_methods_supported": ["header"],
        "scopes_supported": [s.value for s in Scope],
        "resource_name": "Neural Trader",
    }
    if settings.jwt_issuer.startswith(("https://", "http://")):
        out["authorization_servers"] = [settings.jwt_issuer]
    return out


def www_authenticate(base_url: str | None, resource_path: str = "", error: str | None = None) -> str:
    """The ``WWW-Authenticate`` challenge of a 401, pointing at the metadata (RFC 9728 section 5.1)."""
    parts = ['Bearer realm="neural-trader"']
    if error:
        parts.append(f'error="{error}"')
    if base_url:
        parts.append(f'resource_metadata="{base_url.rstrip("/")}{PROTECTED_RESOURCE_PATH}{resource_path}"')
    return ", ".join(parts)


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
