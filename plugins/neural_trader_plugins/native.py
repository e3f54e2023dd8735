"""Reports which native kernel families run compiled C and which fall back to numpy (and why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neural_trader.hookspecs import hookimpl
from neural_trader.native import kernel_statuses


@hookimpl
def nt_register_native_kernels(register: Callable[[Any], None]) -> None:
    for status in kernel_statuses():
        register(status)
