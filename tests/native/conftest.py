"""Fixtures for the native kernel tests: real ORCL bars and both implementations of each family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
ORCL = DATA / "orcl-1995-2014.txt"


def load_orcl() -> dict[str, np.ndarray]:
    """ORCL daily bars (tests/data/SOURCES.md) as contiguous float64 columns, plus the raw text."""
    cols = np.loadtxt(ORCL, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), dtype=np.float64)
    names = ("open", "high", "low", "close")
    bars = {name: np.ascontiguousarray(cols[:, k]) for k, name in enumerate(names)}
    return bars


@pytest.fixture(scope="session")
def orcl() -> dict[str, np.ndarray]:
    return load_orcl()


@pytest.fixture(scope="session")
def orcl_close_text() -> list[str]:
    """The Close column exactly as written in the file (decimal strings)."""
    lines = ORCL.read_text().splitlines()[1:]
    return [line.split(",")[4] for line in lines if line]
