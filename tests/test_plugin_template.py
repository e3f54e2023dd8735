"""A third-party pack, end to end: render ``plugin_template/``, ``pip install`` it, see its operation in
the CLI, MCP and REST with no host change, run the pack's own tests, ``pip uninstall`` it.

Each check of an installed pack runs in a fresh interpreter, so entry points are read again, as they
would be by a user's next ``neural-trader`` command. A plugin that fails to import is reported, with
its reason, while the others keep working.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

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


# -- helpers ---------------------------------------------------------------------------------------
def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (with the test's NT_DATA_DIR/NT_CONFIG), minus pytest's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra or {})
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
    return _pip("show", distribution, check=False).returncode == 0


@contextlib.contextmanager
def _pip_installed(project: Path, distribution: str, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """``pip install`` the rendered pack into this environment; always uninstall it afterwards."""
    if _installed(distribution):  # left over from an interrupted run
        _pip("uninstall", "-y", distribution)
    try:
        _pip("install", "--no-deps", "--no-build-isolation", str(project), env=env)
        yield
    finally:
        _pip("uninstall", "-y", distribution, check=False)


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
