"""Shared set-up of the security tests: a host with an HS256 secret and an RS256 public key, tokens
with any claims, and clients for REST and MCP over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from neural_trader.frontends import mcp, rest
from neural_trader.host import Host, make_host
from neural_trader.settings import load_settings

SECRET = "test-secret-" + "s" * 40
OTHER_SECRET = "another-secret-" + "o" * 40
ISSUER = "https://auth.example.test"
AUDIENCE = "neural-trader"
RSA_KID = "rsa-1"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str = RSA_KID) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


def claims(sub: str = "alice", roles: tuple[str, ...] = ("trader",), **changes: Any) -> dict[str, Any]:
    """Valid claims, changed by ``changes`` (a value of ``None`` drops the claim)."""
    now = int(time.time())
    out: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600,
                           "jti": f"jti-{sub}-{time.monotonic_ns()}", "roles": list(roles)}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def settings_for(tmp: Path, rsa_key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> Any:
    values: dict[str, Any] = {"jwt_secret": SECRET, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
                              "rate_limit_read": "0", "rate_limit_trade": "0"}
    if rsa_key is not None:
        path = tmp / "jwks.json"
        path.write_text(json.dumps(jwks_of(rsa_key)))
        values["jwt_public_keys"] = path
    values.update(overrides)
    return load_settings(env={"NT_CONFIG": str(tmp / "none.toml")}, data_dir=tmp / "data", **values)


@pytest.fixture
def security_host(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Iterator[Host]:
    """Every installed plugin; HS256 and RS256 tokens; no caller rate limits."""
    host = make_host(settings=settings_for(tmp_path, rsa_key))
    yield host
    host.close()


def rest_client(host: Host) -> httpx.AsyncClient:
    app = rest.build_app(host)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


@pytest.fixture
def mcp_http(security_host: Host) -> Iterator[TestClient]:
    """MCP over streamable HTTP (stateless), the default authenticator, lifespan running."""
    with TestClient(mcp.build_http_app(security_host), base_url="http://127.0.0.1") as client:
        yield client


def mcp_call(client: TestClient, tool: str, arguments: dict[str, Any], token: str | None,
             **headers: str) -> httpx.Response:
    hdrs = {**MCP_HEADERS, **headers}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    return client.post("/mcp", headers=hdrs, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                   "params": {"name": tool, "arguments": arguments}})


def mcp_result(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC result of a streamable-HTTP answer (JSON or one SSE message)."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1]
    message = json.loads(text)
    assert "result" in message, message
    return message["result"]  # type: ignore[no-any-return]
