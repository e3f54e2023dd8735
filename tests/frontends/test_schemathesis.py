"""Schemathesis against a live REST server: the schemas say exactly what the handlers accept.

``schemathesis run`` fuzzes every operation of the installed plugins over real TCP (uvicorn in a
thread), positive and negative cases, with all its checks but ``positive_data_acceptance``, which
``schemathesis_hooks.schema_and_validator_agree`` replaces (see there why). The number of examples
is bounded (``NT_SCHEMATHESIS_EXAMPLES``, default 8), the run is deterministic, and
``NT_SCHEMATHESIS_PATHS`` (a path regex) narrows it to some routes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import serve_in_thread

from neural_trader.errors import NtUnauthorized
from neural_trader.frontends import rest
from neural_trader.host import make_host
from neural_trader.ops import Identity, Scope
from neural_trader.settings import load_settings

pytest.importorskip("schemathesis")
from schemathesis_hooks import refused_as_invalid

KEY = "schemathesis-key"
EXAMPLES = os.environ.get("NT_SCHEMATHESIS_EXAMPLES", "8")
#: A regular expression of paths to fuzz (e.g. ``^/v1/news/``), to check one pack's routes quickly.
PATHS = os.environ.get("NT_SCHEMATHESIS_PATHS")


def _authenticate(header: str | None) -> Identity:
    if header != f"Bearer {KEY}":
        raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    return Identity(name="fuzzer", scopes=frozenset({Scope.ADMIN}), key_id="fuzzer")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("schemathesis")
    host = make_host(settings=load_settings(env={"NT_CONFIG": str(home / "none.toml")}, data_dir=home / "data"))
    with serve_in_thread(rest.build_app(host, authenticate=_authenticate, close_host=True)) as url:
        yield url


@pytest.mark.slow
def test_rest_api_matches_its_openapi_document(live_server: str, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert cli, "schemathesis is in the [test] extra"
    hooks_dir = Path(__file__).parent
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(hooks_dir), os.environ.get("PYTHONPATH", "")])}
    command = [cli, "--no-color", "run", f"{live_server}/openapi.json", "--checks", "all",
               "--exclude-checks", "positive_data_acceptance", "--max-examples", EXAMPLES,
               "--seed", "20261202", "--generation-deterministic", "--workers", "1",
               "--request-timeout", "120", "-H", f"Authorization: Bearer {KEY}"]
    if PATHS:
        command += ["--include-path-regex", PATHS]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1500)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"schemathesis found problems:\n{summary}\n{done.stderr[-2000:]}"
    assert "Tested:" in done.stdout  # it really ran the operations


@pytest.mark.parametrize(("status", "body", "verdict"), [
    (422, {"error": {"type": "validation_error"}}, "validation_error"),
    (400, {"error": {"type": "bad_request"}}, "bad_request"),
    (422, {"error": {"type": "unprocessable"}}, None),
    (404, {"error": {"type": "not_found"}}, None),
    (200, {"ok": True}, None),
])
def test_the_custom_check_tells_disagreement_from_business_rules(status: int, body: object,
                                                                  verdict: str | None) -> None:
    assert refused_as_invalid(status, body) == verdict
