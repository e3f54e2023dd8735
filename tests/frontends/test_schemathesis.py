"""Schemathesis against a live REST server: the schemas say exactly what the handlers accept.

``schemathesis run`` fuzzes every operation of the installed plugins over real TCP (uvicorn in a
thread), positive and negative cases, with all its checks but ``positive_data_acceptance``, which
``schemathesis_hooks.schema_and_validator_agree`` replaces (see there why). The number of examples
is bounded (``NT_SCHEMATHESIS_EXAMPLES``, default 8), the run is deterministic, and
``NT_SCHEMATHESIS_PATHS`` (a path regex) narrows it to some routes.

The routes are fuzzed in parts, one test each, so that xdist spreads them over its workers: a part
is a route group (``/v1/<group>/...``; the service routes such as ``/healthz`` are one group), and
a group of more than :data:`PART_SIZE` paths is cut into near-equal runs of paths. The parts are
computed at collection time from the OpenAPI document of a host like the server's; each worker
starts one server for all the parts it runs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import serve_in_thread

from neural_trader.errors import NtUnauthorized
from neural_trader.frontends import rest
from neural_trader.host import Host, make_host
from neural_trader.ops import Identity, Scope
from neural_trader.settings import load_settings

pytest.importorskip("schemathesis")
from schemathesis_hooks import refused_as_invalid

KEY = "schemathesis-key"
EXAMPLES = os.environ.get("NT_SCHEMATHESIS_EXAMPLES", "8")
#: A regular expression of paths to fuzz (e.g. ``^/v1/news/``), to check one pack's routes quickly.
PATHS = os.environ.get("NT_SCHEMATHESIS_PATHS")


#: The most paths one test fuzzes: more paths in one group are cut into several tests. Routes take
#: about 1 to 40 s each to fuzz on a 2-core machine, so a part takes a few minutes at most.
PART_SIZE = 4


def _authenticate(header: str | None) -> Identity:
    if header != f"Bearer {KEY}":
        raise NtUnauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    return Identity(name="fuzzer", scopes=frozenset({Scope.ADMIN}), key_id="fuzzer")


def _make_host(home: Path) -> Host:
    return make_host(settings=load_settings(env={"NT_CONFIG": str(home / "none.toml")}, data_dir=home / "data"))


def group_of(path: str) -> str:
    """``/v1/<group>/...`` -> ``group``; the routes outside ``/v1/`` (health, metrics) are ``service``."""
    parts = path.split("/")
    return parts[2] if path.startswith("/v1/") and len(parts) > 3 else "service"


def parts_of(paths: list[str], size: int = PART_SIZE) -> dict[str, list[str]]:
    """The paths by group, a group of more than ``size`` paths cut into near-equal runs of sorted paths
    (``risk-1of2``, ``risk-2of2``); every path is in exactly one part."""
    groups: dict[str, list[str]] = {}
    for path in sorted(paths):
        groups.setdefault(group_of(path), []).append(path)
    parts: dict[str, list[str]] = {}
    for group, members in sorted(groups.items()):
        n = math.ceil(len(members) / size)
        for i in range(n):
            parts[group if n == 1 else f"{group}-{i + 1}of{n}"] = members[i * len(members) // n:
                                                                          (i + 1) * len(members) // n]
    return parts


METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _document_paths() -> dict[str, int]:
    """Each path of the OpenAPI document of a host like the server's, with its number of operations
    (a path item also holds keys that are not methods, such as ``parameters``)."""
    with tempfile.TemporaryDirectory(prefix="nt-schemathesis-") as home, _make_host(Path(home)) as host:
        document = rest.openapi_document(host)
    return {path: len(METHODS & set(item)) for path, item in document["paths"].items()}


DOCUMENT_PATHS = _document_paths()
PARTS = parts_of([p for p in DOCUMENT_PATHS if PATHS is None or re.search(PATHS, p)])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("schemathesis")
    with serve_in_thread(rest.build_app(_make_host(home), authenticate=_authenticate, close_host=True)) as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("part", list(PARTS))
def test_rest_api_matches_its_openapi_document(live_server: str, tmp_path: Path, part: str) -> None:
    paths = PARTS[part]
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert cli, "schemathesis is in the [test] extra"
    hooks_dir = Path(__file__).parent
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(hooks_dir), os.environ.get("PYTHONPATH", "")])}
    command = [cli, "--no-color", "run", f"{live_server}/openapi.json", "--checks", "all",
               "--exclude-checks", "positive_data_acceptance", "--max-examples", EXAMPLES,
               "--seed", "20261202", "--generation-deterministic", "--workers", "1",
               "--request-timeout", "120", "-H", f"Authorization: Bearer {KEY}",
               "--include-path-regex", "^(?:" + "|".join(re.escape(p) for p in paths) + ")$"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1500)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, (f"schemathesis found problems in {', '.join(paths)}:\n{summary}\n"
                                  f"{done.stderr[-2000:]}")
    # it really ran exactly this part's operations
    selected = re.search(r"Selected: (\d+)/\d+\s+Tested: (\d+)", done.stdout)
    want = sum(DOCUMENT_PATHS[p] for p in paths)
    assert selected and (int(selected[1]), int(selected[2])) == (want, want), summary


def test_the_parts_cover_every_route_once_and_cut_big_groups() -> None:
    parts = parts_of(list(DOCUMENT_PATHS))
    everything = [p for paths in parts.values() for p in paths]
    assert sorted(everything) == sorted(DOCUMENT_PATHS)  # each path in one part, none left out
    assert all(0 < len(paths) <= PART_SIZE for paths in parts.values())
    assert {group_of(p) for p in ("/healthz", "/.well-known/oauth-protected-resource")} == {"service"}
    assert group_of("/v1/risk/limits/set") == "risk" and group_of("/v1/jobs/{job_id}") == "jobs"
    cut = parts_of([f"/v1/risk/{c}" for c in "abcdefghijk"], size=5)  # 11 paths: 3 parts of 3, 4, 4
    assert list(cut) == ["risk-1of3", "risk-2of3", "risk-3of3"]
    assert [len(p) for p in cut.values()] == [3, 4, 4] and cut["risk-1of3"] == ["/v1/risk/a", "/v1/risk/b",
                                                                                 "/v1/risk/c"]


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
