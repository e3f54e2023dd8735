"""Native machinery: build layout, loading, version check, fallback status, the reporting plugin."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import neural_trader
from neural_trader.host import KernelStatus, make_host
from neural_trader.native import FAMILIES, import_native, kernel_statuses

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
BUILT_FAMILIES = sorted(p.parent.name for p in NATIVE.glob("*/_*_build.py"))


def test_every_family_with_a_build_script_is_reported() -> None:
    """A family ``setup.py`` builds but ``FAMILIES`` forgets would hide its fallback."""
    assert set(BUILT_FAMILIES) <= set(FAMILIES)
    assert {s.name for s in kernel_statuses()} == set(FAMILIES)


@pytest.mark.skipif(os.environ.get("NT_REQUIRE_COMPILED") != "1",
                    reason="set NT_REQUIRE_COMPILED=1 (CI does) to require the compiled kernels")
def test_compiled_kernels_are_required_and_active() -> None:
    from neural_trader.native import indicators, simulate

    fallbacks = [f"{s.name}: {s.reason}" for s in kernel_statuses() if not s.compiled]
    assert not fallbacks, f"numpy fallback is running: {fallbacks}"
    assert indicators.COMPILED and simulate.COMPILED


def test_status_of_a_compiled_family() -> None:
    loaded = import_native("indicators")
    if not loaded.compiled:
        pytest.skip(f"not built here: {loaded.reason}")
    assert loaded.built_version == neural_trader.__version__
    assert loaded.status() == KernelStatus(name="indicators", compiled=True, reason=None)


def test_version_mismatch_is_refused_with_both_versions() -> None:
    loaded = import_native("indicators", expected_version="9.9.9")
    if loaded.built_version is None:
        pytest.skip(f"not built here: {loaded.reason}")
    assert not loaded.compiled and loaded.lib is None
    assert loaded.reason == f"version mismatch: built {loaded.built_version}, package 9.9.9"


def test_missing_module_falls_back_with_reason() -> None:
    status = import_native("nosuchfamily").status()
    assert not status.compiled
    assert status.reason is not None
    assert status.reason.startswith("compiled module neural_trader._native_nosuchfamily is not built")


def test_module_the_build_skipped_says_why_and_that_the_twin_runs() -> None:
    """``setup.py`` records a kernel it could not build; the status repeats its reason."""
    report = {"neural_trader._native_nosuchfamily": "no C compiler at install time ('cc' not found)"}
    status = import_native("nosuchfamily", not_built=report).status()
    assert (status.compiled, status.reason) == (
        False, "compiled module neural_trader._native_nosuchfamily is not built: no C compiler at install time "
               "('cc' not found); the numpy twin runs")


def test_module_left_from_an_older_build_is_refused() -> None:
    """A failed rebuild leaves the last good module in place; it no longer matches the C, so it is refused."""
    if not import_native("indicators", not_built={}).compiled:
        pytest.skip("not built here")
    report = {"neural_trader._native_indicators": "its C build failed at install time (cc exited with status 1)"}
    loaded = import_native("indicators", not_built=report)
    assert not loaded.compiled and loaded.lib is None
    assert loaded.reason is not None
    assert "left from an older build" in loaded.reason
    assert "(its C build failed at install time (cc exited with status 1))" in loaded.reason
    assert loaded.reason.endswith("the numpy twin runs")


def test_build_report_is_read_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader reads ``_native_build.json`` from the installed package (written by ``setup.py``)."""
    from neural_trader.native import _loader

    package = tmp_path / "neural_trader"
    package.mkdir()
    monkeypatch.setattr(_loader.importlib.resources, "files", lambda name: tmp_path / name)
    assert _loader.build_report() == {}  # no report: a source checkout
    (package / _loader.BUILD_REPORT).write_text('{"neural_trader._native_x": "why"}', encoding="utf-8")
    assert _loader.build_report() == {"neural_trader._native_x": "why"}
    assert import_native("x").reason == "compiled module neural_trader._native_x is not built: why; the numpy twin runs"
    (package / _loader.BUILD_REPORT).write_text("not json", encoding="utf-8")
    assert _loader.build_report() == {}


def test_setup_and_loader_agree_on_the_report_name() -> None:
    from neural_trader.native import _loader

    assert re.search(rf'^BUILD_REPORT = "{re.escape(_loader.BUILD_REPORT)}"$', (ROOT / "setup.py").read_text(),
                     flags=re.M)


@pytest.mark.parametrize("value", ["1", "indicators", "sim,indicators"])
def test_disable_switch(value: str) -> None:
    status = import_native("indicators", env={"NT_NATIVE_DISABLE": value}).status()
    assert (status.compiled, status.reason) == (False, "disabled by NT_NATIVE_DISABLE")


def test_other_family_not_disabled() -> None:
    loaded = import_native("indicators", env={"NT_NATIVE_DISABLE": "sim"})
    assert loaded.reason != "disabled by NT_NATIVE_DISABLE"


def test_fallback_process_runs_the_numpy_twin() -> None:
    """With the compiled modules switched off, the wrappers run the twins and say so."""
    code = (
        "import numpy as np\n"
        "from neural_trader.native import indicators, simulate, kernel_statuses\n"
        "assert not indicators.COMPILED and not simulate.COMPILED\n"
        "print(indicators.sma(np.array([1.0, 2.0, 4.0]), 2).tolist())\n"
        "print(sorted({s.reason for s in kernel_statuses()}))\n"
    )
    env = {**os.environ, "NT_NATIVE_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[nan, 1.5, 3.0]", "['disabled by NT_NATIVE_DISABLE']"]


def test_plugin_registers_every_family() -> None:
    from neural_trader_plugins import native as native_plugin

    host = make_host(plugins=[native_plugin], autoload=False, env={})
    assert [k.name for k in host.kernels] == list(FAMILIES)
    assert all(k.plugin for k in host.kernels)
    expected = {s.name: (s.compiled, s.reason) for s in kernel_statuses()}
    assert {k.name: (k.compiled, k.reason) for k in host.kernels} == expected


# -- build layout ---------------------------------------------------------------------------------


def _declarations(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    flat = " ".join(text.split())
    return [d.strip() + ";" for d in flat.split(";") if d.strip()]


@pytest.mark.parametrize("family", BUILT_FAMILIES)
def test_family_layout_and_cdef_twin(family: str) -> None:
    d = NATIVE / family
    for name in (f"{family}.h", f"{family}_cdef.h", f"{family}.c", f"_{family}_build.py"):
        assert (d / name).is_file(), f"native/{family}/{name} is missing"
    cdef = (d / f"{family}_cdef.h").read_text()
    assert not re.search(r"^\s*#", cdef, flags=re.M), "the cdef twin must be free of preprocessor directives"
    header_text = (d / f"{family}.h").read_text()
    header = " ".join(_declarations(header_text))
    for decl in _declarations(cdef):
        constant = re.fullmatch(r"static const [\w ]+? (\w+);", decl)  # cffi's spelling of a #define
        if constant:
            assert re.search(rf"^\s*#define {constant.group(1)}\b", header_text, flags=re.M), decl
        else:
            assert decl in header, f"{family}_cdef.h declares what {family}.h does not: {decl}"


def _c_param_names(cdef: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for m in re.finditer(r"\bint (nt_\w+)\(([^)]*)\);", " ".join(cdef.split())):
        out[m.group(1)] = tuple(re.findall(r"(\w+)\s*(?:,|$)", m.group(2)))
    return out


@pytest.mark.parametrize(("family", "module"), [("indicators", "indicators"), ("sim", "simulate")])
def test_wrapper_argument_tables_match_the_c_signatures(family: str, module: str) -> None:
    import importlib

    wrapper = importlib.import_module(f"neural_trader.native.{module}")
    assert _c_param_names((NATIVE / family / f"{family}_cdef.h").read_text()) == wrapper.ARGS


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("family", BUILT_FAMILIES)
def test_c_compiles_without_warnings(family: str, tmp_path: Path) -> None:
    includes = [f"-I{p}" for p in (NATIVE, *(q for q in NATIVE.iterdir() if q.is_dir()))]
    cmd = ["cc", "-std=c11", "-O3", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", *includes, "-c",
           str(NATIVE / family / f"{family}.c"), "-o", str(tmp_path / f"{family}.o")]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def test_setup_discovers_every_build_script() -> None:
    code = ("import glob, setuptools\n"
            "setuptools.setup = lambda **kw: print(kw['cffi_modules'])\n"
            "exec(open('setup.py').read())\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = ast.literal_eval(out)
    assert listed == [f"native/{f}/_{f}_build.py:ffibuilder" for f in BUILT_FAMILIES]
