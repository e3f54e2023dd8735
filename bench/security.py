"""What the security and observability layers cost per call: authentication (API key, HS256 and
RS256 JWTs), the caller rate limit (memory; Redis when reachable), the observed wrapper (metrics,
span, request id, bound caller), and a whole in-process REST call with and without them.

``python -m bench security [--quick]``. Medians of :func:`bench.common.median_seconds`.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import attrs

from bench.common import machine_rows, median_seconds, table


def _host(tmp: Path, **settings: Any) -> Any:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from neural_trader.host import make_host
    from neural_trader.settings import load_settings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256"}]}))
    values = {"jwt_secret": "b" * 48, "jwt_public_keys": tmp / "jwks.json", **settings}
    host = make_host(settings=load_settings(env={"NT_CONFIG": str(tmp / "none.toml")}, data_dir=tmp / "data",
                                            **values))
    return host, key


def _claims(sub: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "neural-trader", "aud": "neural-trader", "sub": sub, "iat": now, "nbf": now, "exp": now + 3600,
            "jti": f"bench-{sub}", "roles": ["admin"]}


def run(quick: bool = False) -> str:
    import jwt

    from neural_trader.frontends import rest
    from neural_trader.frontends.auth import make_authenticator
    from neural_trader.frontends.calls import observed
    from neural_trader.ops import Identity, Scope
    from neural_trader.services.call_limits import CallLimiter

    repeat = 3 if quick else 7
    rows = []
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        host, key = _host(tmp, rate_limit_read="0", rate_limit_trade="0")
        authenticate = make_authenticator(host)
        _, api_key = host.services.keys.create("bench", frozenset({Scope.ADMIN}))
        hs = jwt.encode(_claims("bench-hs"), "b" * 48, algorithm="HS256")
        rs = jwt.encode(_claims("bench-rs"), key, algorithm="RS256", headers={"kid": "k1"})
        for label, token in (("API key (cached)", api_key), ("JWT HS256 (verified, cached)", hs),
                             ("JWT RS256 (verified, cached)", rs)):
            seconds = median_seconds(lambda t=token: authenticate(f"Bearer {t}"), repeat=repeat)
            rows.append((f"authenticate: {label}", f"{seconds * 1e6:.1f}"))
        op = host.operation("system.ping")
        caller = Identity(name="bench", scopes=frozenset({Scope.READ}))
        limiter = CallLimiter(attrs.evolve(host.settings, rate_limit_read="100000000/1"))
        async def admits(n: int = 2000) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                await limiter.admit(op, caller)
            return (time.perf_counter() - t0) / n

        seconds = sorted(anyio.run(admits) for _ in range(repeat))[repeat // 2]
        rows.append(("rate limit admit (memory bucket)", f"{seconds * 1e6:.1f}"))

        def wrapped() -> None:
            with observed(host, "system.ping", "rest", "bench", caller):
                pass

        rows.append(("observed(): metrics + span + request id + caller", f"{median_seconds(wrapped, repeat=repeat) * 1e6:.1f}"))
        admin = Identity(name="a", scopes=frozenset({Scope.ADMIN}))
        for label, auth in (("REST GET /v1/system/ping, fixed caller", lambda _h: admin),
                            ("REST GET /v1/system/ping, HS256 JWT", None)):
            app = rest.build_app(host, authenticate=auth) if auth else rest.build_app(host)
            rows.append((label + " (in process)", f"{_rest(app, hs, 300 if quick else 2000) * 1e6:.0f}"))
        host.close()
    return "\n".join([
        table(["machine", ""], machine_rows()), "",
        "Per-call cost of the security and observability layers (microseconds, medians); the REST rows are "
        "whole requests through httpx's ASGI transport in one process.", "",
        table(["what", "us per call"], rows),
    ])


def _rest(app: Any, token: str, n: int) -> float:
    import httpx

    async def main() -> float:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            for _ in range(50):
                await client.get("/v1/system/ping", headers=headers)
            t0 = time.perf_counter()
            for _ in range(n):
                await client.get("/v1/system/ping", headers=headers)
            return (time.perf_counter() - t0) / n

    return anyio.run(main)
