"""The Ray executor: sweeps on a Ray cluster (``NT_RAY_ADDRESS``) or a local Ray.

Unavailable, with the install command, when the ``ray`` package is not installed; ``ray`` itself
is imported only when a sweep runs on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.executors.ray_executor import INSTALL, RayExecutor, ray_available
from neural_trader.hookspecs import hookimpl
from neural_trader.plugins import PluginUnavailable

if not ray_available():
    raise PluginUnavailable("the ray package is not installed", install=INSTALL)


@hookimpl
def nt_register_executors(register: Callable[[Any], None]) -> None:
    register(RayExecutor())
