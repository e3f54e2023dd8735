"""Import a compiled kernel module, or say why its numpy twin runs instead.

A family ``<family>`` is built from ``native/<family>/`` into the private module
``neural_trader._native_<family>``. Only its wrapper (``neural_trader.native.<something>``) calls
:func:`load_native`; everything else goes through the wrapper.

The module embeds the package version it was built from (``nt_kernel_version()``); a module left
over from another version is refused, because its C may no longer match the numpy twin.

``NT_NATIVE_DISABLE=1`` (or a comma-separated list of families) forces the numpy twins, which is
how the fallback is exercised without uninstalling anything.

The build (``setup.py``) goes on when a family's C does not build, and writes
``neural_trader/_native_build.json``: each module it could not build, and why (no C compiler, a
failed compile). The loader reads it to say why a module is missing, and refuses a module that
file says was not built (an older build left behind by a failed rebuild).
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from neural_trader.host import KernelStatus

DISABLE_ENV = "NT_NATIVE_DISABLE"
#: Written by ``setup.py``'s ``build_ext`` next to the modules; the two must agree on the name.
BUILD_REPORT = "_native_build.json"


@attrs.frozen(kw_only=True)
class NativeModule:
    """A kernel family as loaded: ``ffi`` and ``lib`` when compiled, otherwise ``reason``."""

    family: str
    ffi: Any = None
    lib: Any = None
    reason: str | None = None
    built_version: str | None = None

    @property
    def compiled(self) -> bool:
        return self.lib is not None

    @property
    def module_name(self) -> str:
        return module_name(self.family)

    def status(self) -> KernelStatus:
        from neural_trader.host import KernelStatus

        return KernelStatus(name=self.family, compiled=self.compiled, reason=self.reason)


def module_name(family: str) -> str:
    return f"neural_trader._native_{family}"


def _disabled(family: str, env: Mapping[str, str]) -> bool:
    value = env.get(DISABLE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    return value in ("1", "true", "yes", "all") or family in {v.strip() for v in value.split(",")}


def build_report() -> dict[str, str]:
    """What the install could not build: module name -> why. Empty when all were built, or when
    the package was not built by ``setup.py`` (a source checkout) or the report is unreadable."""
    try:
        text = importlib.resources.files("neural_trader").joinpath(BUILD_REPORT).read_text(encoding="utf-8")
        report = json.loads(text)
    except (OSError, ValueError):
        return {}
    if not isinstance(report, dict):
        return {}
    return {str(name): str(why) for name, why in report.items()}


def import_native(family: str, *, expected_version: str | None = None,
                  env: Mapping[str, str] | None = None,
                  not_built: Mapping[str, str] | None = None) -> NativeModule:
    """Import ``neural_trader._native_<family>`` now (uncached; tests use this directly).

    :param expected_version: the version the module must have been built from; defaults to
        ``neural_trader.__version__``.
    :param env: the environment to read ``NT_NATIVE_DISABLE`` from; defaults to ``os.environ``.
    :param not_built: the build's report (module name -> why it was not built); defaults to
        :func:`build_report`.
    """
    if expected_version is None:
        from neural_trader import __version__ as expected_version
    if _disabled(family, os.environ if env is None else env):
        return NativeModule(family=family, reason=f"disabled by {DISABLE_ENV}")
    name = module_name(family)
    why_not_built = (build_report() if not_built is None else not_built).get(name)
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        if why_not_built is not None:
            return NativeModule(family=family, reason=f"compiled module {name} is not built: {why_not_built}; "
                                                      "the numpy twin runs")
        return NativeModule(family=family, reason=f"compiled module {name} is not built ({exc}); "
                                                  "the numpy twin runs")
    if why_not_built is not None:
        return NativeModule(family=family, reason=f"compiled module {name} is left from an older build: the "
                                                  f"last build did not build it ({why_not_built}); "
                                                  "the numpy twin runs")
    stamp = getattr(mod.lib, "nt_kernel_version", None)
    if stamp is None:
        return NativeModule(family=family, reason=f"compiled module {module_name(family)} has no version stamp "
                                                  "(a stale build; reinstall)")
    built = mod.ffi.string(stamp()).decode("ascii")
    if built != expected_version:
        return NativeModule(family=family, built_version=built,
                            reason=f"version mismatch: built {built}, package {expected_version}")
    return NativeModule(family=family, ffi=mod.ffi, lib=mod.lib, built_version=built)


@functools.cache
def load_native(family: str) -> NativeModule:
    """:func:`import_native` once per process: what the wrappers use."""
    return import_native(family)
