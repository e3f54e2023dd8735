"""Serving: the ONNX graph of every architecture (scaler inside) answers what torch answers to 1e-5,
the session cache reloads a changed file only, the CUDA provider is asked for when onnxruntime-gpu
offers it, corrupt files are clear errors, and the pretrained model in the package is small, intact
and forecasts with torch absent (a subprocess whose imports of torch fail)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import numpy as np
import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.forecasting import artifacts, registry, serving
from neural_trader_plugins.forecasting import models as M

ROOT = Path(__file__).resolve().parents[2]


def test_the_pretrained_model_is_small_complete_and_documented() -> None:
    files = {p.name: p.stat().st_size for p in registry.PRETRAINED_DIR.iterdir() if p.is_file()}
    assert {"model.onnx", "weights.safetensors", "config.json", "metrics.json"} <= set(files)
    assert sum(files.values()) < 1_000_000
    ref = registry.pretrained()
    assert ref.architecture in M.ARCHITECTURES and ref.lookback >= 2 and ref.horizon >= 1
    metrics = json.loads((registry.PRETRAINED_DIR / "metrics.json").read_text())
    assert set(metrics["test"]) == {"model", "naive", "drift", "seasonal_naive", "ses", "holt"}
    # docs/forecasting.md shows these numbers: the pooled test RMSE of the model and the naive forecast
    page = (ROOT / "docs" / "forecasting.md").read_text()
    for name in ("model", "naive"):
        assert f"{metrics['test'][name]['rmse']:.4f}" in page, name


def test_corrupt_and_mismatched_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    with pytest.raises(NtUserError, match="not a readable ONNX model"):
        serving.session(bad)
    good = registry.PRETRAINED_DIR / "model.onnx"
    with pytest.raises(NtUserError, match="SHA-256"):
        serving.session(good, sha256="0" * 64)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(NtUserError, match="corrupt"):
        artifacts.read_config(tmp_path / "config.json")
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "gru"}))
    with pytest.raises(NtUserError, match="lacks hyperparameters"):
        artifacts.read_config(tmp_path / "config.json")


def test_the_session_cache_reloads_a_changed_file_only(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes((registry.PRETRAINED_DIR / "model.onnx").read_bytes())
    first = serving.session(path)
    assert serving.session(path) is first
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert serving.session(path) is not first


def test_the_cuda_provider_is_asked_for_when_onnxruntime_offers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert serving.providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert serving.providers() == ["CPUExecutionProvider"]


def test_forecast_without_torch_uses_the_bundled_onnx_model(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")
                return None

        sys.meta_path.insert(0, NoTorch())
        import json
        from neural_trader.host import make_host
        from neural_trader.settings import load_settings

        env = {{"NT_CONFIG": "{tmp_path / 'none.toml'}"}}
        host = make_host(settings=load_settings(env=env, data_dir="{tmp_path / 'data'}"), env=env)
        got = host.call("neural.forecast", {{"symbol": "SPY", "provider": "synthetic",
                                             "end": "2024-06-28T00:00:00Z"}})
        assert "torch" not in sys.modules
        print(json.dumps(got))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["model_id"] == "pretrained" and got["engine"] == "onnxruntime"
    assert len(got["steps"]) == registry.pretrained().horizon
    assert all(s["lower"] < s["price"] < s["upper"] for s in got["steps"])


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(M.ARCHITECTURES))
def test_onnx_runtime_answers_what_torch_answers(name: str, tmp_path: Path) -> None:
    from neural_trader_plugins.forecasting import export

    extra = {"heads": 2} if name == "transformer" else {}
    hp = M.hyperparameters(name, {"lookback": 12, "horizon": 4, "hidden_size": 8, "layers": 2, "dropout": 0.0,
                                  **extra})
    torch.manual_seed(0)
    net = M.ARCHITECTURES[name].build(5, hp)
    rng = np.random.default_rng(1)
    config = {"architecture": name, "hyperparameters": attrs.asdict(hp),
              "lookback": 12, "horizon": 4, "n_features": 5, "feature_names": [f"f{i}" for i in range(5)],
              "scaler": {"mean": rng.normal(size=5).tolist(), "std": rng.uniform(0.5, 2, 5).tolist(),
                         "y_mean": rng.normal(0, 0.01, 4).tolist(), "y_std": rng.uniform(0.01, 0.05, 4).tolist()},
              "conformal": {"alpha": 0.1, "q": [0.01] * 4, "n": 100}}
    p = export.write(tmp_path, M.ARCHITECTURES[name], config, net.state_dict())
    x = rng.normal(size=(64, 12, 5)) * 2
    onnx = serving.predictor(M.ARCHITECTURES[name], config, tmp_path, engine="onnxruntime")
    eager = serving.predictor(M.ARCHITECTURES[name], config, tmp_path, engine="torch")
    assert (onnx.engine, eager.engine) == ("onnxruntime", "torch")
    got, want = onnx.predict(x), eager.predict(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # and the served torch module is the trained network with the scaler around it
    s = config["scaler"]
    with torch.no_grad():
        direct = net.eval()(torch.as_tensor((x - s["mean"]) / s["std"], dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(want, direct * np.asarray(s["y_std"]) + np.asarray(s["y_mean"]), rtol=0, atol=1e-5)
    assert set(p.existing()) == {"onnx", "safetensors", "config"}


def test_the_pretrained_graph_and_weights_agree() -> None:
    ref = registry.pretrained()
    spec = M.ARCHITECTURES[ref.architecture]
    x = np.random.default_rng(2).normal(size=(32, ref.lookback, int(ref.config["n_features"]))) * 0.05
    onnx = serving.predictor(spec, ref.config, ref.directory, engine="onnxruntime").predict(x)
    eager = serving.predictor(spec, ref.config, ref.directory, engine="torch").predict(x)
    np.testing.assert_allclose(onnx, eager, rtol=0, atol=1e-5)


def test_a_corrupt_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    from neural_trader_plugins.forecasting import export

    (tmp_path / "weights.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(NtUserError, match="corrupt"):
        export.load_state(tmp_path / "weights.safetensors")
