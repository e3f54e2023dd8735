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

Each public function of a wrapper that runs a kernel is decorated with :func:`timed`, the one place
kernel calls are timed: :func:`kernel_timings` is what ``/metrics`` reports as
``nt_native_kernel_seconds`` (docs/observability.md).
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import json
import os
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable, Mapping
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

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


# -- call timings ------------------------------------------------------------------------------

#: Upper bounds, in seconds, of the ``nt_native_kernel_seconds`` buckets: an indicator over a few
#: bars takes microseconds, a Monte Carlo VaR or a parameter sweep seconds.
TIMING_BUCKETS: tuple[float, ...] = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                     5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS_NS: tuple[int, ...] = tuple(round(b * 1e9) for b in TIMING_BUCKETS)

P = ParamSpec("P")
R = TypeVar("R")


@attrs.frozen(kw_only=True)
class KernelTiming:
    """The calls of one kernel function so far in this process, as ``/metrics`` reports them."""

    kernel: str  #: the family (``indicators``, ``sim``...), as in ``host.kernels``
    function: str  #: the wrapper's function (``sma``, ``summary``...)
    impl: str  #: ``c`` (the compiled kernel) or ``numpy`` (its twin)
    buckets: tuple[int, ...]  #: calls that took at most each of :data:`TIMING_BUCKETS` (cumulative)
    count: int
    seconds: float  #: their total time


class _Token:
    """Lives in one thread's locals, so a weak reference to it says whether the thread has ended."""

    __slots__ = ("__weakref__",)


_SLOTS = len(_BOUNDS_NS) + 2  # a count per bucket, then +Inf, then the total ns


class _Series:
    """The counts of one (kernel, function, impl). Each thread counts into a list of its own, so a
    call takes no lock; a scrape adds the lists up, folding those of ended threads into ``ended``."""

    __slots__ = ("ended", "function", "impl", "kernel", "live", "local", "lock")

    def __init__(self, kernel: str, function: str, impl: str) -> None:
        self.kernel, self.function, self.impl = kernel, function, impl
        self.lock = threading.Lock()
        self.local = threading.local()
        self.ended = [0] * _SLOTS
        self.live: list[tuple[weakref.ref[_Token], list[int]]] = []

    def counts_of_this_thread(self) -> list[int]:
        """The calling thread's counts, made on its first call."""
        token, counts = _Token(), [0] * _SLOTS
        self.local.token, self.local.counts = token, counts  # both go when the thread ends
        with self.lock:
            self._fold_ended()  # so thread churn (a pool per sweep) does not grow ``live``
            self.live.append((weakref.ref(token), counts))
        return counts

    def _fold_ended(self) -> None:
        live = []
        for ref, counts in self.live:
            if ref() is None:  # the thread ended: its counts are final
                self.ended = [a + b for a, b in zip(self.ended, counts, strict=True)]
            else:
                live.append((ref, counts))
        self.live = live

    def snapshot(self) -> KernelTiming:
        with self.lock:
            self._fold_ended()
            rows = [self.ended, *(list(counts) for _, counts in self.live)]
        counts = [sum(column) for column in zip(*rows, strict=True)]
        cumulative, total = [], 0
        for n in counts[:-2]:
            total += n
            cumulative.append(total)
        return KernelTiming(kernel=self.kernel, function=self.function, impl=self.impl, buckets=tuple(cumulative),
                            count=total + counts[-2], seconds=counts[-1] / 1e9)


_SERIES: dict[tuple[str, str, str], _Series] = {}
_SERIES_LOCK = threading.Lock()


def _series(kernel: str, function: str, impl: str) -> _Series:
    with _SERIES_LOCK:  # a reloaded wrapper module keeps counting into the same series
        return _SERIES.setdefault((kernel, function, impl), _Series(kernel, function, impl))


def _after_fork() -> None:
    # A lock held by another thread at fork would never be released in the child.
    global _SERIES_LOCK
    _SERIES_LOCK = threading.Lock()
    for series in _SERIES.values():
        series.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def timed(native: NativeModule) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Time every call of the decorated wrapper function, which runs a kernel of ``native``: the
    C kernel when it is compiled, the numpy twin otherwise (labelled ``c`` or ``numpy``).

    A call that returns is counted (one that raises is not); the cost is a few hundred
    nanoseconds (``python -m bench kernel_metrics``). Counts are per process; threads count
    without a lock, each into its own list.
    """
    impl = "c" if native.compiled else "numpy"

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        series = _series(native.family, fn.__name__, impl)
        local, register, total, bounds = series.local, series.counts_of_this_thread, _SLOTS - 1, _BOUNDS_NS

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            start = perf_counter_ns()
            result = fn(*args, **kwargs)
            ns = perf_counter_ns() - start
            try:
                counts = local.counts
            except AttributeError:
                counts = register()
            counts[bisect_left(bounds, ns)] += 1  # the first bound >= ns: Prometheus buckets are "le"
            counts[total] += ns
            return result

        return call

    return decorate


def kernel_timings() -> list[KernelTiming]:
    """Every timed kernel function of the wrapper modules imported so far in this process."""
    with _SERIES_LOCK:
        series = list(_SERIES.values())
    return [s.snapshot() for s in series]
