"""Neural forecasting on the GPU against the CPU of the same machine, in one run: training time per
epoch (LSTM and Transformer on 100k windows) and batch-4096 inference throughput.

Windows come from the real pipeline (``features.windows`` of synthetic daily bars: 9 features, lookback
30, horizon 5); training is ``training.train`` as ``neural.train`` runs it (Adam, batch 1024, mixed
precision on CUDA, validation loss every epoch), timed per epoch through its progress callback; the
reported figure is the median of the epochs after the first (the first pays for cuDNN autotuning and
allocator warm-up). The CPU trains on 10k windows (all cores) and its per-epoch time is scaled by
10 to 100k windows (an epoch is linear in the windows; the table says "scaled"). Inference: torch on
CUDA (float32, and bfloat16 autocast), ONNX Runtime with the CUDA provider when onnxruntime-gpu is
installed, and ONNX Runtime and torch on the CPU, each on batches of 4096 windows.

    python bench/gpu_neural.py            # the GPU run (under 4 minutes on an H100/H200)
    python bench/gpu_neural.py --quick    # a smoke run (small sizes), on the CPU when there is no GPU

Targets (issue 11): at least 2M LSTM forecasts/s at batch 4096 on the GPU; report the training
speed-up over the CPU (the re-created system claims 10x).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
# A bare copy of the repository (nothing installed): import the sources.
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "core"))
sys.path.insert(0, str(ROOT))

try:
    from bench.common import table
    from neural_trader_plugins.forecasting import export, features, serving
    from neural_trader_plugins.forecasting import training as T
    from neural_trader_plugins.forecasting.models import ARCHITECTURES, hyperparameters
except ModuleNotFoundError as exc:
    sys.exit(f"bench/gpu_neural.py needs the module {exc.name!r}: pip install {exc.name}")

LOOKBACK, HORIZON, BATCH_TRAIN, BATCH_INFER = 30, 5, 1024, 4096
MODELS = {"lstm": {"hidden_size": 64, "layers": 2, "dropout": 0.0},
          "transformer": {"hidden_size": 64, "layers": 2, "heads": 4, "ff_size": 128, "dropout": 0.0}}


def _bars(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n)))
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    return {"close": close, "high": close + spread, "low": close - spread,
            "volume": rng.lognormal(15, 0.5, n)}


def _data(n_windows: int) -> features.DataSplits:
    """``n_windows`` training windows (plus 10% each for validation and test) from synthetic bars."""
    b = _bars(int(n_windows * 1.25) + LOOKBACK + 60)
    return features.prepare(b["close"], b["high"], b["low"], b["volume"], lookback=LOOKBACK, horizon=HORIZON,
                            train=0.8, val=0.1)


def _epoch_seconds(arch: str, data: features.DataSplits, device: str, epochs: int) -> float:
    stamps: list[float] = []
    t0 = time.perf_counter()

    def tick(_epoch: int, _tl: float, _vl: float) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    T.train(arch, data, {**MODELS[arch], "lookback": LOOKBACK, "horizon": HORIZON}, epochs=epochs,
            batch_size=BATCH_TRAIN, patience=epochs + 1, device=device, progress=tick, seed=0)
    per = np.diff([t0, *stamps])
    return float(statistics.median(per[1:])) if len(per) > 1 else float(per[0])


def _rate(fn: Callable[[], Any], items: int, seconds: float, cuda: bool) -> float:
    fn()
    if cuda:
        torch.cuda.synchronize()
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        count += 1
    if cuda:
        torch.cuda.synchronize()
    return count * items / (time.perf_counter() - t0)


def _inference_rows(arch: str, n_features: int, cuda: bool, seconds: float, tmp: Path) -> list[tuple[object, ...]]:
    hp = hyperparameters(arch, {**MODELS[arch], "lookback": LOOKBACK, "horizon": HORIZON})
    torch.manual_seed(0)
    spec = ARCHITECTURES[arch]
    config = {"architecture": arch, "hyperparameters": attrs.asdict(hp),
              "lookback": LOOKBACK, "horizon": HORIZON, "n_features": n_features,
              "feature_names": [f"f{i}" for i in range(n_features)],
              "scaler": {"mean": [0.0] * n_features, "std": [1.0] * n_features, "y_mean": [0.0] * HORIZON,
                         "y_std": [1.0] * HORIZON}, "conformal": {"alpha": 0.1, "q": [0.01] * HORIZON, "n": 1}}
    net = spec.build(n_features, hp)
    export.write(tmp / arch, spec, config, net.state_dict())
    x = np.random.default_rng(0).normal(size=(BATCH_INFER, LOOKBACK, n_features)).astype(np.float32)
    module = export.scaled_module(spec, config, net.state_dict())
    rows: list[tuple[object, ...]] = []

    def measure(label: str, fn: Callable[[], Any], on_gpu: bool) -> None:
        # one unsupported path (an old driver, a dtype cuDNN lacks) must not lose the other rows
        try:
            rows.append((arch, label, f"{_rate(fn, BATCH_INFER, seconds, on_gpu):,.0f}"))
        except Exception as exc:
            rows.append((arch, label, f"failed: {type(exc).__name__}: {str(exc)[:80]}"))

    if cuda:
        gpu = module.to("cuda")
        xg = torch.as_tensor(x, device="cuda")

        def bf16() -> Any:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return gpu(xg)

        with torch.inference_mode():
            measure("torch CUDA float32", lambda: gpu(xg), True)
            measure("torch CUDA bfloat16 autocast", bf16, True)
        serving.clear_cache()
        p = serving.predictor(spec, config, tmp / arch, engine="onnxruntime")
        if p.device == "cuda":
            measure("ONNX Runtime CUDA provider", lambda: p.predict(x), False)
        else:
            rows.append((arch, "ONNX Runtime CUDA provider", "not installed (pip install onnxruntime-gpu)"))
    cpu = module.to("cpu")
    xc = torch.as_tensor(x)
    with torch.inference_mode():
        measure(f"torch CPU ({torch.get_num_threads()} threads)", lambda: cpu(xc), False)
    import onnxruntime as ort

    so = ort.SessionOptions()
    sess = ort.InferenceSession(str(tmp / arch / "model.onnx"), sess_options=so, providers=["CPUExecutionProvider"])
    measure("ONNX Runtime CPU (all cores)", lambda: sess.run(None, {"x": x}), False)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 4k windows on the GPU, 1k on the CPU")
    ap.add_argument("--windows", type=int, default=None, help="GPU training windows (default 100k, quick 4k)")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    n_gpu = args.windows or (4_000 if args.quick else 100_000)
    n_cpu = max(500, n_gpu // 10 if not args.quick else 1_000)
    scale = n_gpu / n_cpu
    epochs = 3 if args.quick else 4
    seconds = 0.5 if args.quick else 3.0
    torch.set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()

    train_rows: list[tuple[object, ...]] = []
    data_cpu = _data(n_cpu)
    data_gpu = _data(n_gpu) if cuda else None
    for arch in MODELS:
        cpu_s = _epoch_seconds(arch, data_cpu, "cpu", 2) * scale
        if cuda and data_gpu is not None:
            gpu_s = _epoch_seconds(arch, data_gpu, "cuda", epochs)
            train_rows.append((arch, f"{len(data_gpu.train):,}", f"{gpu_s:.3f}", f"{cpu_s:.3f} (scaled from "
                               f"{len(data_cpu.train):,})", f"{cpu_s / gpu_s:.1f}x"))
        else:
            train_rows.append((arch, f"{len(data_cpu.train):,} x {scale:g}", "no GPU", f"{cpu_s:.3f} (scaled from "
                               f"{len(data_cpu.train):,})", "-"))

    infer_rows: list[tuple[object, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in MODELS:
            infer_rows += _inference_rows(arch, data_cpu.n_features, cuda, seconds, Path(tmp))

    device = torch.cuda.get_device_name(0) if cuda else "none"
    print(table(("model", "train windows", "GPU s/epoch", "CPU s/epoch", "GPU speed-up"), train_rows))
    print()
    print(table(("model", f"inference, batch {BATCH_INFER}", "forecasts/s"), infer_rows))
    print()
    print(table(("machine", ""), [("GPU", device), ("CPU cores", str(os.cpu_count())),
                                  ("torch", torch.__version__), ("Python", platform.python_version()),
                                  ("models", "; ".join(f"{k} {v}" for k, v in MODELS.items())),
                                  ("wall time", f"{time.perf_counter() - started:.0f} s")]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
