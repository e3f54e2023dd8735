"""Native kernels: C compiled through cffi when built, their numpy twins otherwise.

Each family has a public wrapper module here (``indicators``, ``simulate``...) whose functions run
the compiled kernel when it loaded and its numpy twin (``*_numpy``) when it did not; the twin is
the reference semantics and property tests hold the two equal. :func:`kernel_statuses` says which
runs, and why; the ``native`` plugin reports it to ``plugins`` and ``system.info``.
:func:`kernel_timings` is how long the calls took, by function (``/metrics``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neural_trader.native._loader import (
    TIMING_BUCKETS,
    KernelTiming,
    NativeModule,
    import_native,
    kernel_timings,
    load_native,
)

if TYPE_CHECKING:
    from neural_trader.host import KernelStatus

#: Every kernel family, by directory name under ``native/``. A new family is added here and
#: nowhere else (``setup.py`` finds its build script by itself).
FAMILIES: tuple[str, ...] = ("indicators", "sim", "metrics", "risk", "sports")


def kernel_statuses() -> list[KernelStatus]:
    """One status per family: compiled, or ``fallback`` with the reason."""
    return [load_native(family).status() for family in FAMILIES]


__all__ = ["FAMILIES", "TIMING_BUCKETS", "KernelTiming", "NativeModule", "import_native", "kernel_statuses",
           "kernel_timings", "load_native"]
