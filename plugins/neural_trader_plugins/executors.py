"""Executors that need nothing beyond the host: serial, threads and processes.

Ray lives in its own plugin (:mod:`neural_trader_plugins.executors_ray`) so that a missing ``ray``
package marks only that plugin unavailable, with its install command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.executors.local import SerialExecutor, ThreadExecutor
from neural_trader.executors.processes import ProcessExecutor
from neural_trader.hookspecs import hookimpl


@hookimpl
def nt_register_executors(register: Callable[[Any], None]) -> None:
    register(SerialExecutor())
    register(ThreadExecutor())
    register(ProcessExecutor())
