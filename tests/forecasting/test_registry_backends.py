"""The registry on SQLite and the real PostgreSQL: a trained version's row records its files' folder
and checksums (migration f0002), the files serve it, and delete removes both."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import DATA, TRAIN

pytest.importorskip("torch")


def test_a_version_is_a_row_and_its_files(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          nt_host_factory: Any) -> None:
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    folder = tmp_path / "csv"
    folder.mkdir()
    shutil.copy(DATA / "orcl-1995-2014.txt", folder / "orcl-1995-2014.txt")
    monkeypatch.setenv("NT_CSV_DIR", str(folder))
    host = nt_host_factory(database_url=db_url)
    model_id = host.call("neural.train", {**TRAIN, "epochs": 1})["model_id"]
    with host.services.storage.session() as session:
        row = session.get(ForecastModelRow, model_id)
        assert row is not None
        directory = Path(host.settings.data_dir) / str(row.artifact_dir)
        onnx, weights = row.onnx_sha256, row.weights_sha256
    assert hashlib.sha256((directory / "model.onnx").read_bytes()).hexdigest() == onnx
    assert hashlib.sha256((directory / "weights.safetensors").read_bytes()).hexdigest() == weights
    listed = host.call("neural.models", {"symbol": "ORCL"})["models"]
    assert [(m["model_id"], m["files"]) for m in listed] == [(model_id, ["config", "onnx", "safetensors"])]
    assert host.call("neural.forecast", {"symbol": "ORCL", "end": "2013-12-31T00:00:00Z"})["model_id"] == model_id
    assert host.call("neural.delete", {"model_id": model_id, "confirm": True})["deleted"] is True
    assert not directory.exists()
    # with its only version gone, the symbol falls back to the pretrained model
    assert host.call("neural.forecast", {"symbol": "ORCL", "provider": "csv",
                                         "end": "2013-12-31T00:00:00Z"})["model_id"] == "pretrained"
