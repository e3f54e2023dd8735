"""The neural operations end to end on the real ORCL file (csv provider): train a tiny model on CPU,
its stored version forecasts what the same weights predict on the last window computed here, the
same request is the same version, and bad input (unknown architecture, a corrupt weights blob) gives
a clear error."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.host import Host
from neural_trader.testing import HostFactory

torch = pytest.importorskip("torch")

DATA = Path(__file__).resolve().parents[1] / "data"
TRAIN = {"symbol": "ORCL", "provider": "csv", "start": "2009-01-01T00:00:00Z", "end": "2013-12-31T00:00:00Z",
         "architecture": "gru", "hyperparameters": {"hidden_size": 8, "layers": 1}, "lookback": 20, "horizon": 5,
         "epochs": 4, "use_gpu": False, "seed": 3}


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nt_host_factory: HostFactory) -> Host:
    folder = tmp_path / "csv"
    folder.mkdir()
    shutil.copy(DATA / "orcl-1995-2014.txt", folder / "orcl-1995-2014.txt")
    monkeypatch.setenv("NT_CSV_DIR", str(folder))
    torch.set_num_threads(1)
    return nt_host_factory()


def test_train_reports_the_model_next_to_the_baselines_and_forecasts_with_its_weights(host: Host) -> None:
    from neural_trader_plugins.forecasting import features
    from neural_trader_plugins.forecasting import training as T

    got = host.call("neural.train", TRAIN)
    names = [s["name"] for s in got["test"]]
    assert names == ["model", "naive", "drift", "seasonal_naive", "ses", "holt"] and got["best"] in names
    assert got["beats_naive"] == (got["test"][0]["rmse"] < got["test"][1]["rmse"])
    assert got["epochs_run"] <= 4 and got["device"] == "cpu" and got["synthetic"] is False
    assert 0.0 <= got["coverage_test"] <= 1.0 and got["coverage_nominal"] == pytest.approx(0.9)
    assert host.call("neural.train", TRAIN)["model_id"] == got["model_id"]  # the same version

    # The same pipeline run here on the file's bars gives the same test metrics.
    raw = np.genfromtxt(DATA / "orcl-1995-2014.txt", delimiter=",", skip_header=1, usecols=(0, 2, 3, 4, 6),
                        dtype=[("d", "datetime64[D]"), ("h", "f8"), ("l", "f8"), ("c", "f8"), ("v", "f8")])
    keep = (raw["d"] >= np.datetime64("2009-01-01")) & (raw["d"] <= np.datetime64("2013-12-31"))
    cols = [np.ascontiguousarray(raw[k][keep]) for k in ("c", "h", "l", "v")]
    d = features.prepare(*cols, lookback=20, horizon=5)
    r = T.train("gru", d, {"hidden_size": 8, "layers": 1, "lookback": 20, "horizon": 5}, epochs=4, seed=3,
                use_gpu=False)
    last = d.test.last_close
    rmse = math.sqrt(float(np.mean((features.to_prices(T.predict(r.model, d.test.x, d), last)
                                    - features.to_prices(d.test.y, last)) ** 2)))
    assert got["test"][0]["rmse"] == pytest.approx(rmse, rel=1e-6)

    fc = host.call("neural.forecast", {"model_id": got["model_id"], "end": "2013-12-31T00:00:00Z"})
    fm = features.feature_matrix(*cols)
    x = d.scaler.transform(fm.values[None, -20:, :])
    expected = float(cols[0][-1]) * np.exp(T.predict(r.model, np.ascontiguousarray(x), d)[0])
    assert [s["price"] for s in fc["steps"]] == pytest.approx(expected.tolist(), rel=1e-6)
    assert fc["engine"] == "onnxruntime"
    assert all(s["lower"] < s["price"] < s["upper"] for s in fc["steps"])
    assert fc["last_close"] == pytest.approx(float(cols[0][-1]))
    listed = host.call("neural.models", {"symbol": "ORCL"})["models"]
    assert [m["model_id"] for m in listed] == [got["model_id"]]
    assert {a["name"] for a in host.call("neural.models", {})["architectures"]} == {
        "lstm", "gru", "transformer", "tcn", "nbeats"}


def test_bad_input_is_clear(host: Host) -> None:
    with pytest.raises(NtUserError, match="architecture must be one of"):
        host.call("neural.train", {**TRAIN, "architecture": "perceptron"})
    with pytest.raises(NtUserError, match="hidden_size"):
        host.call("neural.train", {**TRAIN, "hyperparameters": {"hidden_size": -3}})
    with pytest.raises(NtNotFound, match=r"neural\.train trains one"):
        host.call("neural.forecast", {"model_id": "abcdef12"})
    with pytest.raises(NtUserError, match="model_id or symbol"):
        host.call("neural.forecast", {})
    with pytest.raises(NtNotFound, match="no model 'abcdef12' to delete"):
        host.call("neural.delete", {"model_id": "abcdef12", "confirm": True})
    assert host.call("neural.delete", {"model_id": "abcdef12", "missing_ok": True, "confirm": True})["deleted"] is False
    with pytest.raises(NtUserError, match="pretrained model needs a symbol"):
        host.call("neural.forecast", {"model_id": "pretrained"})


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_files_and_unknown_architectures_are_clear_errors_and_export_repairs(host: Host) -> None:
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    model_id = host.call("neural.train", {**TRAIN, "epochs": 1})["model_id"]
    at = {"model_id": model_id, "end": "2013-12-31T00:00:00Z"}
    good = host.call("neural.forecast", at)
    folder = host.settings.data_dir / "models" / model_id
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.onnx", "weights.safetensors"]

    _corrupt(folder / "model.onnx")
    with pytest.raises(NtUserError, match=r"model\.onnx is corrupt"):
        host.call("neural.forecast", at)
    _corrupt(folder / "weights.safetensors")
    with pytest.raises(NtUserError, match=r"weights\.safetensors is corrupt"):
        host.call("neural.forecast", {**at, "engine": "torch"})
    listed = host.call("neural.export", {"model_id": model_id})
    assert listed["written"] is True and {f["format"] for f in listed["files"]} == {"onnx", "safetensors", "config"}
    assert host.call("neural.export", {"model_id": model_id})["written"] is False  # intact now
    for engine in ("onnxruntime", "torch"):
        again = host.call("neural.forecast", {**at, "engine": engine})
        assert [s["price"] for s in again["steps"]] == pytest.approx([s["price"] for s in good["steps"]], rel=1e-5)

    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architecture": "perceptron"}))
    with pytest.raises(NtUserError, match=r"architecture must be one of .* got 'perceptron'"):
        host.call("neural.forecast", at)
    (folder / "config.json").write_text("{")
    with pytest.raises(NtUserError, match=r"config\.json is corrupt"):
        host.call("neural.forecast", at)

    # A version with no files (trained before they existed) is served from its row's weights by torch; a
    # corrupt blob there is a clear error too.
    shutil.rmtree(folder)
    with host.services.storage.session(write=True) as session:
        row = session.get(ForecastModelRow, model_id)
        assert row is not None
        row.artifact_dir = None
        session.add(row)
    assert host.call("neural.forecast", at)["engine"] == "torch"
    with host.services.storage.session(write=True) as session:
        row = session.get(ForecastModelRow, model_id)
        assert row is not None
        row.weights = b"not a torch file"
        session.add(row)
    with pytest.raises(NtUserError, match="cannot be loaded"):
        host.call("neural.forecast", at)


def test_export_and_delete_manage_the_files_and_the_row(host: Host) -> None:
    model_id = host.call("neural.train", {**TRAIN, "epochs": 1})["model_id"]
    out = host.call("neural.export", {"model_id": model_id, "formats": ["onnx"]})
    assert [f["format"] for f in out["files"]] == ["onnx", "config"] and out["written"] is False
    path = Path(out["files"][0]["path"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == out["files"][0]["sha256"]
    assert path.stat().st_size == out["files"][0]["bytes"]
    gone = host.call("neural.delete", {"model_id": model_id, "confirm": True})
    assert gone == {"model_id": model_id, "deleted": True, "files_deleted": True}
    assert not path.parent.exists()
    assert host.call("neural.models", {"symbol": "ORCL"})["models"] == []
    with pytest.raises(NtNotFound):
        host.call("neural.delete", {"model_id": model_id, "confirm": True})
    with pytest.raises(NtNotFound):
        host.call("neural.export", {"model_id": model_id})
    shipped = host.call("neural.export", {"model_id": "pretrained"})
    assert shipped["written"] is False and Path(shipped["directory"]).name == "pretrained"


def test_training_work_is_bounded(host: Host) -> None:
    with pytest.raises(NtUserError, match="multiply-adds"):
        host.call("neural.train", {**TRAIN, "hyperparameters": {"hidden_size": 512, "layers": 4}, "epochs": 100})
