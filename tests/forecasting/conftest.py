"""Real daily bars for the forecasting tests: ORCL 1995-2014 (tests/data/SOURCES.md), read straight
from the Yahoo CSV (Date,Open,High,Low,Close,Adj Close,Volume)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def load_orcl() -> dict[str, np.ndarray]:
    raw = np.genfromtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skip_header=1, usecols=(2, 3, 4, 6))
    return {k: np.ascontiguousarray(raw[:, i]) for i, k in enumerate(("high", "low", "close", "volume"))}


@pytest.fixture(scope="session")
def orcl() -> dict[str, np.ndarray]:
    return load_orcl()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models train several times faster on one thread when CI's cores are shared (intra-op
    threads then fight other jobs); torch is left unimported for the numpy-only tests."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
