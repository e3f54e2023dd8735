"""Whether torch is installed and sees a CUDA GPU, asked without paying for it when the answer is no.

Importing torch takes seconds; on a Linux machine with no NVIDIA driver no CUDA device can exist, so
:func:`cuda_available` says no without importing it. The packs that use a GPU (risk Monte Carlo,
forecasting) ask here, so one rule decides everywhere.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys

__all__ = ["cuda_available", "nvidia_driver", "torch_installed"]


def torch_installed() -> bool:
    """Whether torch can be imported (does not import it)."""
    return importlib.util.find_spec("torch") is not None


def nvidia_driver() -> bool:
    """Whether this machine shows an NVIDIA driver (files the driver creates; no import)."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl") or any(
        os.path.exists(f"/dev/nvidia{i}") for i in range(16))


@functools.cache
def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device; imports torch only where a GPU may exist."""
    if not torch_installed() or (sys.platform.startswith("linux") and not nvidia_driver()):
        return False
    try:
        import torch
    except Exception:  # a broken install is "no GPU", not a crash
        return False
    return bool(torch.cuda.is_available())
