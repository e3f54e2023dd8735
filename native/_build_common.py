"""Make the cffi builder for one kernel family: one place for flags, layout and version embedding.

A family lives in ``native/<family>/`` as ``<family>.h`` (the header, with its include guard),
``<family>_cdef.h`` (the same declarations without preprocessor directives, for ``ffi.cdef``),
``<family>.c`` and ``_<family>_build.py``, which is just::

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    from _build_common import make_ffibuilder

    ffibuilder = make_ffibuilder("<family>")

    if __name__ == "__main__":
        ffibuilder.compile(verbose=True)

``setup.py`` discovers every such script; the compiled module is ``neural_trader._native_<family>``.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from cffi import FFI

NATIVE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = NATIVE_DIR.parent

#: -O3 without -march: the wheel must run on any x86-64. -ffp-contract=off forbids fused
#: multiply-add so C rounds exactly like the numpy twins.
UNIX_COMPILE_ARGS = ["-std=c11", "-O3", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno"]
MSVC_COMPILE_ARGS = ["/O2", "/fp:precise"]


def package_version() -> str:
    """The version in ``pyproject.toml``; the wrapper refuses a module built for another one."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def compile_args() -> list[str]:
    return MSVC_COMPILE_ARGS if sys.platform == "win32" else UNIX_COMPILE_ARGS


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def make_ffibuilder(family: str, *, uses: tuple[str, ...] = (), version: str | None = None) -> FFI:
    """The out-of-line API-mode builder for ``native/<family>/``.

    :param family: the directory name; the module becomes ``neural_trader._native_<family>``.
    :param uses: other families whose C this one calls (their ``.c`` is compiled in too, and
        their headers are on the include path; their functions are not exposed to Python).
    :param version: embedded as ``nt_kernel_version()``; defaults to :func:`package_version`.
    """
    family_dir = NATIVE_DIR / family
    ffi = FFI()
    ffi.cdef(_read(NATIVE_DIR / "nt_common_cdef.h") + "\n" + _read(family_dir / f"{family}_cdef.h"))
    version_literal = json.dumps(version or package_version())  # a valid C string literal for ASCII
    # setuptools runs the build from the project root and wants relative source paths there;
    # a build script run from elsewhere gets absolute ones.
    base = PROJECT_ROOT if Path.cwd().resolve() == PROJECT_ROOT else None

    def path(p: Path) -> str:
        return p.relative_to(base).as_posix() if base is not None else str(p)

    rel_dir = path(family_dir)
    ffi.set_source(
        f"neural_trader._native_{family}",
        f'#include "{family}.h"\n'
        f"const char *nt_kernel_version(void) {{ return {version_literal}; }}\n",
        sources=[f"{rel_dir}/{family}.c", *(path(NATIVE_DIR / u / f"{u}.c") for u in uses)],
        include_dirs=[rel_dir, *(path(NATIVE_DIR / u) for u in uses), path(NATIVE_DIR)],
        depends=[f"{rel_dir}/{family}.h", *(path(NATIVE_DIR / u / f"{u}.h") for u in uses),
                 path(NATIVE_DIR / "nt_common.h")],
        extra_compile_args=compile_args(),
        libraries=[] if sys.platform == "win32" else ["m"],
    )
    return ffi
