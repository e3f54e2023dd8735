"""Real daily bars for the risk operations: ORCL, NVDA and YHOO (tests/data/SOURCES.md) served by the
``csv`` provider from a folder of copies, and the same closes read straight from the files (the
oracle side of the tests never goes through the host)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = {"ORCL": "orcl-1995-2014.txt", "NVDA": "nvda-1999-2014.txt", "YHOO": "yhoo-1996-2014.txt"}


@pytest.fixture
def csv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    for name in FILES.values():
        shutil.copy(DATA / name, folder / name)
    monkeypatch.setenv("NT_CSV_DIR", str(folder))
    return folder


def closes(symbols: list[str], start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
    """(dates, closes ``(days, symbols)``) on the dates every file has in ``[start, end]``, from the
    files' unadjusted Close column (what the csv provider serves by default)."""
    series = []
    for s in symbols:
        raw = np.genfromtxt(DATA / FILES[s], delimiter=",", skip_header=1, usecols=(0, 4),
                            dtype=[("date", "datetime64[D]"), ("close", "f8")])
        keep = (raw["date"] >= np.datetime64(start)) & (raw["date"] <= np.datetime64(end))
        series.append(raw[keep])
    common = series[0]["date"]
    for r in series[1:]:
        common = np.intersect1d(common, r["date"])
    matrix = np.column_stack([r["close"][np.isin(r["date"], common)] for r in series])
    return common, matrix


def returns(symbols: list[str], start: str, end: str) -> np.ndarray:
    _, c = closes(symbols, start, end)
    return np.ascontiguousarray(c[1:] / c[:-1] - 1.0)
