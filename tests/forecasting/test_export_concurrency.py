"""torch's ONNX exporter keeps process-global state: two exports at once in one process (two training
jobs in the REST server's worker threads) used to fail with ``GLOBALS.in_onnx_export must be False``.
The pack serialises them; here two threads start exporting together and both graphs come out whole."""

from __future__ import annotations

import threading
from pathlib import Path

import attrs
import numpy as np
import pytest

from neural_trader_plugins.forecasting import models as M
from neural_trader_plugins.forecasting import serving

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

LOOKBACK, HORIZON, N_FEATURES = 64, 4, 5


def _config(name: str, hp: object) -> dict[str, object]:
    return {"architecture": name, "hyperparameters": attrs.asdict(hp), "lookback": LOOKBACK, "horizon": HORIZON,
            "n_features": N_FEATURES, "feature_names": [f"f{i}" for i in range(N_FEATURES)],
            "scaler": {"mean": [0.0] * N_FEATURES, "std": [1.0] * N_FEATURES, "y_mean": [0.0] * HORIZON,
                       "y_std": [0.02] * HORIZON},
            "conformal": {"alpha": 0.1, "q": [0.01] * HORIZON, "n": 100}}


def test_two_exports_at_once_both_succeed(tmp_path: Path) -> None:
    from neural_trader_plugins.forecasting import export

    # Two architectures whose traces take long enough (tens of ms) to overlap without the lock.
    jobs = {}
    for name in ("lstm", "transformer"):
        extra = {"heads": 2} if name == "transformer" else {}
        hp = M.hyperparameters(name, {"lookback": LOOKBACK, "horizon": HORIZON, "hidden_size": 8, "layers": 2,
                                      "dropout": 0.0, **extra})
        torch.manual_seed(0)
        jobs[name] = (_config(name, hp), M.ARCHITECTURES[name].build(N_FEATURES, hp).state_dict())
    rounds = 3
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(name: str) -> None:
        config, state = jobs[name]
        try:
            for i in range(rounds):
                start.wait(timeout=60)
                export.write(tmp_path / f"{name}-{i}", M.ARCHITECTURES[name], config, state)
        except BaseException as exc:  # reported below
            errors.append(exc)
            start.abort()  # the other thread stops waiting for this one

    threads = [threading.Thread(target=work, args=(name,), name=name) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [e for e in errors if not isinstance(e, threading.BrokenBarrierError)], errors
    assert not errors
    x = np.random.default_rng(0).normal(size=(3, LOOKBACK, N_FEATURES))
    for name, (config, _state) in jobs.items():
        want = serving.predictor(M.ARCHITECTURES[name], config, tmp_path / f"{name}-0", engine="torch").predict(x)
        for i in range(rounds):
            got = serving.predictor(M.ARCHITECTURES[name], config, tmp_path / f"{name}-{i}",
                                    engine="onnxruntime").predict(x)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
