"""Real daily bars for the forecasting tests: ORCL 1995-2014 (tests/data/SOURCES.md), read straight
from the Yahoo CSV (Date,Open,High,Low,Close,Adj Close,Volume)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


#: A tiny training request on the real ORCL file (csv provider): a few seconds on one CPU thread.
TRAIN = {"symbol": "ORCL", "provider": "csv", "start": "2009-01-01T00:00:00Z", "end": "2013-12-31T00:00:00Z",
         "architecture": "gru", "hyperparameters": {"hidden_size": 8, "layers": 1}, "lookback": 20, "horizon": 5,
         "epochs": 4, "use_gpu": False, "seed": 3}


@pytest.fixture
def orcl_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nt_host_factory: Any) -> Any:
    """A host whose csv provider serves the ORCL file (symbol ORCL)."""
    import shutil

    folder = tmp_path / "csv"
    folder.mkdir()
    shutil.copy(DATA / "orcl-1995-2014.txt", folder / "orcl-1995-2014.txt")
    monkeypatch.setenv("NT_CSV_DIR", str(folder))
    return nt_host_factory()


@pytest.fixture
def nt_host(orcl_host: Any) -> Any:
    """The frontends' fixtures (nt_cli, nt_mcp, nt_rest) talk to the ORCL host."""
    return orcl_host


def orcl_columns(start: str, end: str) -> list[np.ndarray]:
    """close, high, low, volume of ORCL between two dates (inclusive), straight from the file."""
    raw = np.genfromtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skip_header=1, usecols=(0, 2, 3, 4, 6),
                        dtype=[("d", "datetime64[D]"), ("h", "f8"), ("l", "f8"), ("c", "f8"), ("v", "f8")])
    keep = (raw["d"] >= np.datetime64(start)) & (raw["d"] <= np.datetime64(end))
    return [np.ascontiguousarray(raw[k][keep]) for k in ("c", "h", "l", "v")]
