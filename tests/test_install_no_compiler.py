"""No C compiler at install time: the wheel still builds, installs and runs, on the numpy twins.

The project is copied, built into a wheel with no compiler on ``PATH`` (offline, no build
isolation: this environment's setuptools and cffi), installed into a fresh venv that borrows this
environment's dependencies, and its ``neural-trader`` command is run. The kernels must report the
fallback, with the reason the build recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from neural_trader.native import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
#: What a build needs (pyproject.toml, MANIFEST.in); no build products, no other engineer's scratch.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "core", "hostcli", "plugins", "native")
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o", "*.egg-info", "_native_build.json",
                                     "_*.c", "build", "dist")
NO_COMPILER = "no C compiler at install time ('cc' not found)"

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k not in ("NT_NATIVE_DISABLE", "NT_REQUIRE_COMPILED", "PYTHONPATH")}
    env.update(extra)
    return env


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
                    pytrace=False)
    return proc


def _wheel_without_compiler(src: Path, dist: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``pip wheel`` of ``src`` with nothing on ``PATH`` to compile with (offline, no build isolation)."""
    empty_bin = dist.parent / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    # CC names the compiler (sysconfig may hold an absolute path); PATH holds nothing to run.
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps",
                           "--no-build-isolation", "--no-index", "-v", "-w", str(dist), str(src)],
                          env=_env(PATH=str(empty_bin), CC="cc", **env), capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's sources, copied: the build writes build/ and egg-info beside them."""
    src = tmp_path_factory.mktemp("no-compiler") / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=NOT_SOURCES)
        else:
            shutil.copy2(path, src / name)
    return src


@pytest.fixture(scope="module")
def venv_without_kernels(source_copy: Path) -> tuple[Path, str]:
    """A venv holding the wheel built with no compiler; and the build's output."""
    tmp = source_copy.parent
    build = _wheel_without_compiler(source_copy, tmp / "dist")
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp / "dist").glob("neural_trader-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert not [n for n in names if n.endswith((".so", ".pyd"))], names
        report = json.loads(zf.read("neural_trader/_native_build.json"))
    assert report == {f"neural_trader._native_{f}": NO_COMPILER for f in FAMILIES}

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # This environment's site-packages as plain path entries: its packages are importable, but its
    # .pth hooks (the editable neural_trader among them) do not run, so the wheel's copy is the one seen.
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    Path(purelib, "zz_borrowed_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python), "install",
          "--no-deps", "--no-index", str(wheel)], env=_env())
    where = _run([str(python), "-c", "import neural_trader; print(neural_trader.__file__)"], env=_env()).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    return venv, build.stdout + build.stderr


def _cli(venv: Path, *args: str) -> Any:
    """``neural-trader <args> --json`` of the venv, parsed."""
    proc = _run([str(venv / "bin" / "neural-trader"), *args, "--json"], env=_env())
    return json.loads(proc.stdout)


def test_build_warns_and_goes_on(venv_without_kernels: tuple[Path, str]) -> None:
    _, output = venv_without_kernels
    for family in FAMILIES:
        assert f"WARNING: the native kernel neural_trader._native_{family} was not built: {NO_COMPILER}." in output
    assert "the numpy twin of this kernel runs instead" in output


def test_main_command_runs_on_the_numpy_twins(venv_without_kernels: tuple[Path, str]) -> None:
    """Same answers as this environment's compiled kernels (the twins hold the same semantics)."""
    venv, _ = venv_without_kernels
    args = ("backtest", "compare", "--symbol", "SPY", "--json")
    twins = json.loads(_run([str(venv / "bin" / "neural-trader"), *args], env=_env()).stdout)
    here = json.loads(_run([sys.executable, "-m", "neural_trader_cli.main", *args], env=_env()).stdout)
    assert twins["rows"], twins
    assert {r["strategy"]: pytest.approx(r["total_return"], rel=1e-9) for r in here["rows"]} == {
        r["strategy"]: r["total_return"] for r in twins["rows"]}


def test_plugins_and_system_info_say_why(venv_without_kernels: tuple[Path, str]) -> None:
    venv, _ = venv_without_kernels
    expected = {f: f"compiled module neural_trader._native_{f} is not built: {NO_COMPILER}; the numpy twin runs"
                for f in FAMILIES}
    (native,) = [p for p in _cli(venv, "plugins") if p["name"] == "native"]
    assert {k["name"]: (k["compiled"], k["reason"]) for k in native["native_kernels"]} == {
        f: (False, reason) for f, reason in expected.items()}
    info = _cli(venv, "system", "info")
    assert {k["name"]: (k["compiled"], k["status"]) for k in info["native_kernels"]} == {
        f: (False, f"fallback: {reason}") for f, reason in expected.items()}


def test_ci_can_make_a_missing_compiler_an_error(source_copy: Path) -> None:
    """``NT_REQUIRE_COMPILED=1`` at install time: a kernel that does not build fails the install."""
    build = _wheel_without_compiler(source_copy, source_copy.parent / "dist-required", NT_REQUIRE_COMPILED="1")
    assert build.returncode != 0
    assert "Failed building wheel" in build.stdout + build.stderr
    assert not list((source_copy.parent / "dist-required").glob("*.whl"))
