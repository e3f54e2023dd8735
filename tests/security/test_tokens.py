"""JWT bearer tokens: the negative matrix (RFC 8725) on REST and on MCP over HTTP, the good tokens,
revocation and rotation taking effect at once, and the protected-resource metadata (RFC 9728)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.testclient import TestClient

from neural_trader.errors import NtUnauthorized
from neural_trader.host import Host
from neural_trader.services.identity import identities_of
from neural_trader.services.tokens import tokens_of

from .conftest import (
    AUDIENCE,
    ISSUER,
    OTHER_SECRET,
    RSA_KID,
    SECRET,
    claims,
    hs256,
    jwks_of,
    mcp_call,
    mcp_result,
    rest_client,
)


def _unsigned(payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _rs256(key: rsa.RSAPrivateKey, payload: dict[str, Any], kid: str = RSA_KID) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def _confused(key: rsa.RSAPrivateKey, payload: dict[str, Any]) -> str:
    """HS256 signed with the server's *public* RSA key as the HMAC secret (algorithm confusion)."""
    import hashlib
    import hmac

    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}"
    sig = base64.urlsafe_b64encode(hmac.new(pem, signing.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{signing}.{sig}"


now = int(time.time())
#: name -> (how to make the token from the server's RSA key, what the 401 must say)
BAD_TOKENS: dict[str, tuple[Callable[[rsa.RSAPrivateKey], str], str]] = {
    "expired": (lambda k: hs256(claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600)), "expired"),
    "not yet valid": (lambda k: hs256(claims(nbf=now + 3600, exp=now + 7200)), "not valid yet"),
    "wrong audience": (lambda k: hs256(claims(aud="someone-else")), "not meant for this server"),
    "wrong issuer": (lambda k: hs256(claims(iss="https://evil.example")), "wrong issuer"),
    "unsigned (alg none)": (lambda k: _unsigned(claims()), "alg none"),
    "wrong key": (lambda k: hs256(claims(), secret=OTHER_SECRET), "signature does not verify"),
    "wrong RSA key": (lambda k: _rs256(rsa.generate_private_key(public_exponent=65537, key_size=2048), claims()),
                      "signature does not verify"),
    "public key as HMAC secret": (lambda k: _confused(k, claims()), "signature does not verify"),
    "algorithm not allowed": (lambda k: jwt.encode(claims(), SECRET + "x" * 40, algorithm="HS512"), "not allowed"),
    "ES256 without an EC key": (lambda k: jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()),
                                                     algorithm="ES256"), "no key is configured"),
    "no exp": (lambda k: hs256(claims(exp=None)), "'exp'"),
    "no aud": (lambda k: hs256(claims(aud=None)), "'aud'"),
    "no jti": (lambda k: hs256(claims(jti=None)), "'jti'"),
    "too long-lived": (lambda k: hs256(claims(exp=now + 10 * 86_400)), "longer than jwt_max_ttl"),
    "garbage": (lambda k: "aaa.bbb.ccc", "malformed"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_rest_refuses_bad_tokens(security_host: Host, rsa_key: rsa.RSAPrivateKey, case: str) -> None:
    make, words = BAD_TOKENS[case]
    async with rest_client(security_host) as client:
        response = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {make(rsa_key)}"})
    assert response.status_code == 401, response.text
    assert words in response.json()["error"]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_mcp_http_refuses_bad_tokens(security_host: Host, rsa_key: rsa.RSAPrivateKey,
                                     mcp_http: TestClient) -> None:
    for case, (make, words) in sorted(BAD_TOKENS.items()):
        response = mcp_call(mcp_http, "system_ping", {}, make(rsa_key))
        assert response.status_code == 401, (case, response.text)
        assert words in response.json()["error"]["message"], case
        challenge = response.headers["www-authenticate"]
        assert 'resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"' in challenge


async def test_good_tokens_pass_on_both_frontends(security_host: Host, rsa_key: rsa.RSAPrivateKey,
                                                  mcp_http: TestClient) -> None:
    for token in (hs256(claims()), _rs256(rsa_key, claims()), tokens_of(security_host).issue("bob", roles=["viewer"])[0]):
        async with rest_client(security_host) as client:
            response = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        answer = mcp_result(mcp_call(mcp_http, "system_ping", {"echo": "hi"}, token))
        assert answer["structuredContent"]["echo"] == "hi"


async def test_tokens_are_never_taken_from_the_query_string(security_host: Host, mcp_http: TestClient) -> None:
    token = hs256(claims())
    async with rest_client(security_host) as client:
        for headers in ({}, {"Authorization": f"Bearer {token}"}):  # refused even with a good header
            response = await client.get(f"/v1/system/ping?access_token={token}", headers=headers)
            assert response.status_code == 401, response.text
            assert "query string" in response.json()["error"]["message"]
        response = await client.post(f"/v1/system/ping?access_token={token}", json={})
        assert response.status_code == 401
    response = mcp_http.post(f"/mcp?access_token={token}", headers={"Accept": "application/json, text/event-stream"},
                             json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401 and "query string" in response.json()["error"]["message"]


async def test_revocation_takes_effect_at_once(security_host: Host, mcp_http: TestClient) -> None:
    tokens = tokens_of(security_host)
    payload = claims()
    token = hs256(payload)
    headers = {"Authorization": f"Bearer {token}"}
    async with rest_client(security_host) as client:
        assert (await client.get("/v1/system/ping", headers=headers)).status_code == 200
        tokens.revoke(payload["jti"], subject="alice")
        refused = await client.get("/v1/system/ping", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    assert mcp_call(mcp_http, "system_ping", {}, token).status_code == 401


async def test_revoking_every_token_of_an_identity_and_disabling_it(security_host: Host) -> None:
    identities = identities_of(security_host)
    identities.create("carol", roles=["trader"])
    old = hs256(claims("carol", iat=int(time.time()) - 5, nbf=int(time.time()) - 5))
    async with rest_client(security_host) as client:
        ok = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {old}"})
        assert ok.status_code == 200, ok.text
        identities.revoke_tokens("carol")
        refused = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {old}"})
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
        time.sleep(1.1)  # a token issued after the revocation (iat has one-second resolution)
        fresh = hs256(claims("carol"))
        assert (await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200
        identities.disable("carol")
        disabled = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {fresh}"})
    assert disabled.status_code == 401 and "disabled" in disabled.json()["error"]["message"]


def test_another_replica_sees_a_revocation_within_the_cache_ttl(security_host: Host, tmp_path: Path) -> None:
    """A second verifier on the same database (another replica) with the default 1 s bound."""
    from neural_trader.services.tokens import TokenVerifier

    here = tokens_of(security_host)
    there = TokenVerifier(security_host.settings, security_host.services.storage, identities_of(security_host))
    payload = claims()
    token = hs256(payload)
    assert there.verify(token).name == "alice"  # cached: not revoked
    here.revoke(payload["jti"])
    with pytest.raises(NtUnauthorized, match="revoked"):
        here.verify(token)  # this process: at once
    time.sleep(security_host.settings.auth_cache_ttl + 0.05)
    with pytest.raises(NtUnauthorized, match="revoked"):
        there.verify(token)  # the other: within auth_cache_ttl


async def test_key_rotation_in_the_jwks_file_takes_effect_without_a_restart(
        security_host: Host, rsa_key: rsa.RSAPrivateKey) -> None:
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = security_host.settings.jwt_public_keys
    assert path is not None
    new_token = _rs256(new_key, claims(), kid="rsa-2")
    async with rest_client(security_host) as client:
        refused = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {new_token}"})
        assert refused.status_code == 401
        both = {"keys": jwks_of(rsa_key)["keys"] + jwks_of(new_key, kid="rsa-2")["keys"]}
        path.write_text(json.dumps(both))
        ok = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {new_token}"})
        assert ok.status_code == 200, ok.text
        path.write_text(json.dumps(jwks_of(new_key, kid="rsa-2")))  # the old key retired
        old = await client.get("/v1/system/ping", headers={"Authorization": f"Bearer {_rs256(rsa_key, claims())}"})
    assert old.status_code == 401


def test_hs256_secret_rotation_keeps_old_tokens_until_removed(tmp_path: Path) -> None:
    from neural_trader.host import make_host

    from .conftest import settings_for

    new = "rotated-secret-" + "n" * 40
    with make_host(settings=settings_for(tmp_path, jwt_secret=f"{new},{SECRET}"), autoload=False) as host:
        verifier = tokens_of(host)
        assert verifier.verify(hs256(claims())).name == "alice"  # signed with the old secret
        issued, _ = verifier.issue("dave", roles=["viewer"])
        assert jwt.decode(issued, new, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)["sub"] == "dave"


def test_short_hs256_secrets_are_refused(tmp_path: Path) -> None:
    from neural_trader.errors import NtUserError
    from neural_trader.host import make_host

    from .conftest import settings_for

    with make_host(settings=settings_for(tmp_path, jwt_secret="short"), autoload=False) as host, \
            pytest.raises(NtUserError, match="at least 32 bytes"):
        tokens_of(host)


async def test_protected_resource_metadata(security_host: Host, mcp_http: TestClient) -> None:
    async with rest_client(security_host) as client:
        meta = (await client.get("/.well-known/oauth-protected-resource")).json()
        foreign = await client.get("/.well-known/oauth-protected-resource", headers={"Host": "evil.example"})
    assert meta["resource"] == "http://127.0.0.1" and meta["authorization_servers"] == [ISSUER]
    assert meta["bearer_methods_supported"] == ["header"]
    assert foreign.status_code == 403
    assert mcp_http.get("/.well-known/oauth-protected-resource/mcp").json()["resource"] == "http://127.0.0.1/mcp"


async def test_rest_challenge_points_at_the_metadata(security_host: Host) -> None:
    async with rest_client(security_host) as client:
        missing = await client.get("/v1/system/ping")
        bad = await client.get("/v1/system/ping", headers={"Authorization": "Bearer a.b.c"})
    assert missing.headers["www-authenticate"] == ('Bearer realm="neural-trader", resource_metadata='
                                                   '"http://127.0.0.1/.well-known/oauth-protected-resource"')
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


async def test_the_client_token_never_passes_the_mcp_guard(security_host: Host) -> None:
    """What the SDK, the tools and any upstream call behind /mcp get: the caller, never its token."""
    from neural_trader.frontends.auth import make_authenticator
    from neural_trader.frontends.mcp import IDENTITY_SCOPE_KEY, REQUEST_ID_SCOPE_KEY, _Guard

    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    token = hs256(claims())
    guard = _Guard(app, security_host, make_authenticator(security_host))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://127.0.0.1") as client:
        response = await client.post("/mcp", json={}, headers={"Authorization": f"Bearer {token}",
                                                               "X-Request-ID": "r-9"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "r-9"
    assert all(name.lower() != b"authorization" for name, _ in seen["headers"])
    assert token.encode() not in repr(seen).encode()
    assert seen[IDENTITY_SCOPE_KEY].name == "alice" and seen[REQUEST_ID_SCOPE_KEY] == "r-9"
