"""A third-party pack, end to end: render ``plugin_template/``, ``pip install`` it, see its operation in
the CLI, MCP and REST with no host change, run the pack's own tests, ``pip uninstall`` it. A pack
with a table migrates its own branch on SQLite and on the real PostgreSQL and writes and reads rows.

Each check of an installed pack runs in a fresh interpreter, so entry points are read again, as they
would be by a user's next ``neural-trader`` command. A plugin that fails to import is reported, with
its reason, while the others keep working.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from branches import ALL_BRANCH_NAMES

TEMPLATE = Path(__file__).resolve().parents[1] / "plugin_template"

#: Runs in a fresh interpreter: the pack's MCP tool names and REST paths, from the generated frontends.
FRONTEND_PROBE = textwrap.dedent("""
    import json

    import anyio
    import httpx

    from neural_trader.frontends.mcp import in_memory_client
    from neural_trader.frontends.rest import build_app
    from neural_trader.host import make_host
    from neural_trader.ops import Identity, Scope

    ADMIN = Identity(name="probe", scopes=frozenset({Scope.ADMIN}))

    async def probe():
        host = make_host()
        try:
            async with in_memory_client(host) as session:
                tools = [tool.name for tool in (await session.list_tools()).tools]
            app = build_app(host, authenticate=lambda _header: ADMIN)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                response = await client.get("/openapi.json")
                response.raise_for_status()
                paths = sorted(response.json()["paths"])
        finally:
            host.close()
        print(json.dumps({"tools": tools, "paths": paths}))

    anyio.run(probe)
""")


#: Runs in a fresh interpreter: writes a row to the pack's table and reads the table back.
TABLE_PROBE = textwrap.dedent("""
    import datetime as dt
    import json
    import sys

    import sqlalchemy as sa

    from neural_trader.host import make_host

    host = make_host()
    try:
        storage = host.services.storage
        table = storage.table(sys.argv[1])
        with storage.session() as session:
            session.execute(sa.insert(table).values(count=2, mean=1.5, stdev=None,
                                                    created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
        with storage.session() as session:
            rows = session.execute(sa.select(table.c["count"], table.c.mean, table.c.stdev).order_by(table.c.id))
            print(json.dumps([list(row) for row in rows]))
    finally:
        host.close()
""")


# -- helpers ---------------------------------------------------------------------------------------
def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (with the test's NT_DATA_DIR/NT_CONFIG), minus pytest's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra or {})
    if _SITES:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, _SITES), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run(args: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
         check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=_child_env(env), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
                    pytrace=False)
    return proc


def _pip(*args: str, check: bool = True, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=check, env=env)


def _cli_json(*args: str, env: Mapping[str, str] | None = None) -> Any:
    """``neural-trader <args> --json`` in a fresh interpreter, parsed."""
    proc = _run([sys.executable, "-m", "neural_trader_cli.main", *args, "--json"], env=env)
    return json.loads(proc.stdout)


def _frontends() -> dict[str, list[str]]:
    return json.loads(_run([sys.executable, "-c", FRONTEND_PROBE]).stdout)  # type: ignore[no-any-return]


def _render(dest: Path, **answers: Any) -> Path:
    import copier

    copier.run_copy(str(TEMPLATE), str(dest), data=answers, defaults=True, unsafe=False, vcs_ref=None,
                    quiet=True)
    return dest


def _installed(distribution: str) -> bool:
    """Whether a fresh interpreter (the children these tests start) finds ``distribution``."""
    probe = f"import importlib.metadata as m; m.distribution({distribution!r})"
    return _run([sys.executable, "-c", probe], check=False).returncode == 0


#: Folders a rendered pack is installed into (``pip install --target``), on the children's PYTHONPATH:
#: the pack is installed for the fresh interpreters these tests start, never into this environment,
#: so tests running beside these (pytest-xdist) never see it come and go.
_SITES: list[Path] = []


@contextlib.contextmanager
def _pip_installed(project: Path, distribution: str, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """``pip install`` the rendered pack where the children see it; remove it afterwards."""
    site = project.parent / f"site-{distribution}"
    _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(project), env=env)
    _SITES.append(site)
    try:
        yield
    finally:
        _SITES.remove(site)
        shutil.rmtree(site, ignore_errors=True)


def _answers(stem: str, **extra: Any) -> dict[str, Any]:
    """Template answers for a pack named after ``stem``: names no real pack uses."""
    return {"project_name": f"nt-{stem.replace('_', '-')}", "package_name": f"nt_{stem}",
            "plugin_name": stem, "operation_name": f"{stem}.stats", "author": "Template Test", **extra}


# -- the template ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_an_installed_pack_appears_in_every_frontend_and_uninstalls(tmp_path: Path) -> None:
    answers = _answers("template_probe")
    project = _render(tmp_path / "pack", **answers)
    distribution, operation = answers["project_name"], answers["operation_name"]
    tool, route = "template_probe_stats", "/v1/template_probe/stats"

    with _pip_installed(project, distribution):
        assert _installed(distribution)
        ops = {op["name"]: op for op in _cli_json("ops")}
        assert operation in ops and ops[operation]["plugin"] == "template_probe"
        plugins = {p["name"]: p for p in _cli_json("plugins")}
        assert plugins["template_probe"]["status"] == "loaded"
        assert plugins["template_probe"]["distribution"] == distribution
        assert plugins["template_probe"]["native_kernels"] == []
        # The generated command computes: mean 5, sample standard deviation sqrt(32/7).
        result = _cli_json("template_probe", "stats", *(f"--values={v}" for v in (2, 4, 4, 4, 5, 5, 7, 9)))
        assert result["mean"] == pytest.approx(5.0)
        assert result["stdev"] == pytest.approx((32 / 7) ** 0.5)
        frontends = _frontends()
        assert tool in frontends["tools"]
        assert route in frontends["paths"]
        # The pack's own tests (CLI, MCP and REST through the nt_* fixtures) pass as rendered.
        _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)

    assert not _installed(distribution)
    assert operation not in {op["name"] for op in _cli_json("ops")}
    frontends = _frontends()
    assert tool not in frontends["tools"]
    assert route not in frontends["paths"]


@pytest.mark.slow
def test_a_pack_with_a_c_kernel_and_a_model_reports_the_kernel_compiled(tmp_path: Path) -> None:
    answers = _answers("template_kernel", with_c_kernel=True, with_model=True)
    project = _render(tmp_path / "pack", **answers)
    assert (project / "native" / "sumsq" / "sumsq.c").is_file()
    assert (project / "src" / "nt_template_kernel" / "model.json").is_file()

    with _pip_installed(project, answers["project_name"]):
        plugins = {p["name"]: p for p in _cli_json("plugins")}
        assert plugins["template_kernel"]["status"] == "loaded"
        assert plugins["template_kernel"]["native_kernels"] == [
            {"name": "template_kernel.sumsq", "compiled": True, "reason": None}]
        info = _cli_json("system", "info")
        assert {"name": "template_kernel.sumsq", "plugin": "template_kernel", "compiled": True,
                "status": "compiled"} in info["native_kernels"]
        # The model file shipped as package data: a straight line is continued exactly.
        result = _cli_json("template_kernel", "stats", *(f"--values={3 + 2 * t}" for t in range(6)))
        assert result["next_value"] == pytest.approx(15.0)
        assert result["model"] == "trend5"
        # Kernel == numpy twin, model == numpy.polyfit, and every frontend: the pack's own tests.
        _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)

    assert not _installed(answers["project_name"])


@pytest.mark.slow
def test_without_a_c_compiler_the_pack_installs_and_runs_its_numpy_twin(tmp_path: Path) -> None:
    answers = _answers("template_nocc", with_c_kernel=True)
    project = _render(tmp_path / "pack", **answers)

    with _pip_installed(project, answers["project_name"], env={"CC": "false"}):  # a compiler that fails
        kernels = {p["name"]: p for p in _cli_json("plugins")}["template_nocc"]["native_kernels"]
        assert [(k["name"], k["compiled"]) for k in kernels] == [("template_nocc.sumsq", False)]
        assert "the C extension is not built" in kernels[0]["reason"]
        result = _cli_json("template_nocc", "stats", "--values=1", "--values=2", "--values=3", "--values=4")
        assert result["stdev"] == pytest.approx(1.6666666666666667 ** 0.5)

    assert not _installed(answers["project_name"])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_pack_with_a_table_migrates_its_own_branch_and_stores_rows(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    answers = _answers(f"template_table_{backend[:2]}", with_table=True)
    plugin = answers["plugin_name"]
    project = _render(tmp_path / "pack", **answers)
    assert (project / "src" / answers["package_name"] / "migrations" / f"{plugin}_0001_summaries.py").is_file()
    url = (f"sqlite:///{tmp_path / 'db' / 'nt.db'}" if backend == "sqlite"
           else str(request.getfixturevalue("postgres_url")))
    env = {"NT_DATABASE_URL": url}

    with _pip_installed(project, answers["project_name"]):
        current = {r["branch"]: r for r in _cli_json("db", "current", env=env)}
        assert current[plugin] == {"branch": plugin, "current": None, "head": f"{plugin}_0001", "status": "empty"}
        if backend == "postgresql":
            upgraded = {r["branch"]: r for r in _cli_json("db", "upgrade", env=env)}
            assert upgraded[plugin] == {"branch": plugin, "from": None, "to": f"{plugin}_0001"}
        # On SQLite the first use migrates (an empty branch is migrated on first use anywhere).
        result = _cli_json(plugin, "stats", "--values=1", "--values=2", "--values=3", env=env)
        assert result["mean"] == pytest.approx(2.0)
        rows = json.loads(_run([sys.executable, "-c", TABLE_PROBE, f"{plugin}_summaries"], env=env).stdout)
        assert rows == [[3, 2.0, 1.0], [2, 1.5, None]]
        current = {r["branch"]: r["status"] for r in _cli_json("db", "current", env=env)}
        assert current == {**{name: "up to date" for name in ALL_BRANCH_NAMES}, plugin: "up to date"}
        # The pack's own tests: its models match its migrations, each call records a row.
        _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)

    # Uninstalled, the pack's tables stay behind and the host's database keeps working.
    assert tuple(r["branch"] for r in _cli_json("db", "current", env=env)) == ALL_BRANCH_NAMES
    assert _cli_json("keys", "list", env=env) == []


def test_the_template_refuses_an_operation_in_a_host_command_group(tmp_path: Path) -> None:
    import copier

    with pytest.raises(ValueError, match="host command"):
        copier.run_copy(str(TEMPLATE), str(tmp_path / "pack"), data=_answers("probe", operation_name="ops.stats"),
                        defaults=True, unsafe=False, vcs_ref=None, quiet=True)


def test_the_rendered_variants_hold_only_their_files(tmp_path: Path) -> None:
    plain = _render(tmp_path / "plain", **_answers("plain"))
    files = sorted(str(p.relative_to(plain)) for p in plain.rglob("*") if p.is_file())
    assert files == [".copier-answers.yml", ".gitignore", "README.md", "pyproject.toml",
                     "src/nt_plain/__init__.py", "src/nt_plain/plugin.py", "src/nt_plain/py.typed",
                     "tests/test_plugin.py"]
    pyproject = (plain / "pyproject.toml").read_text()
    assert '[project.entry-points.neural_trader]\nplain = "nt_plain.plugin"' in pyproject
    assert "cffi" not in pyproject
    compile((plain / "src/nt_plain/plugin.py").read_text(), "plugin.py", "exec")
    compile((plain / "tests/test_plugin.py").read_text(), "test_plugin.py", "exec")

    tabled = _render(tmp_path / "tabled", **_answers("tabled", with_table=True))
    files = sorted(str(p.relative_to(tabled)) for p in tabled.rglob("*") if p.is_file())
    assert {"src/nt_tabled/tables.py", "src/nt_tabled/migrations/__init__.py",
            "src/nt_tabled/migrations/tabled_0001_summaries.py", "tests/test_tables.py"} <= set(files)
    for name in ("src/nt_tabled/plugin.py", "src/nt_tabled/tables.py",
                 "src/nt_tabled/migrations/tabled_0001_summaries.py", "tests/test_tables.py"):
        compile((tabled / name).read_text(), name, "exec")
    assert "nt_register_migrations" in (tabled / "src/nt_tabled/plugin.py").read_text()
    assert "nt_register_migrations" not in (plain / "src/nt_plain/plugin.py").read_text()


# -- broken plugins --------------------------------------------------------------------------------
def _fake_distribution(root: Path) -> None:
    """An installed-looking distribution (a dist-info with entry points) with two bad plugins."""
    broken = root / "nt_broken_probe"
    broken.mkdir()
    (broken / "__init__.py").write_text("")
    (broken / "explodes.py").write_text('raise RuntimeError("this plugin is broken on purpose")\n')
    (broken / "needs_extra.py").write_text(
        "from neural_trader.plugins import PluginUnavailable\n"
        'raise PluginUnavailable("frobnicate is not installed", install="pip install frobnicate")\n')
    dist_info = root / "nt_broken_probe-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: nt-broken-probe\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[neural_trader]\nexplodes = nt_broken_probe.explodes\nneeds_extra = nt_broken_probe.needs_extra\n")


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    _fake_distribution(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}

    plugins = {p["name"]: p for p in _cli_json("plugins", env=env)}
    assert plugins["explodes"]["status"] == "failed"
    assert plugins["explodes"]["reason"] == "import failed: RuntimeError: this plugin is broken on purpose"
    assert plugins["explodes"]["distribution"] == "nt-broken-probe"
    assert plugins["needs_extra"]["status"] == "unavailable"
    assert plugins["needs_extra"]["reason"] == "frobnicate is not installed"
    assert plugins["needs_extra"]["install"] == "pip install frobnicate"
    assert plugins["system"]["status"] == "loaded"
    # The host still serves the other plugins' operations.
    assert _cli_json("system", "ping", "--echo", "still here", env=env)["echo"] == "still here"
