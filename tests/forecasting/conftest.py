"""Real daily bars for the forecasting tests: ORCL 1995-2014 (tests/data/SOURCES.md), read straight
from the Yahoo CSV (Date,Open,High,Low,Close,Adj Close,Volume)."""

from __future__ import annotations

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
