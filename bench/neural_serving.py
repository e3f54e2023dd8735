"""Neural serving on the CPU: one-window forecast latency through ONNX Runtime (in process) and through
REST (neural.forecast over loopback HTTP), batch throughput, and torch eager as the peer, in one run.

Models: the pretrained GRU shipped in the package (30 x 9 features -> 5 steps) and a Transformer of the
same shape exported the same way (random weights; latency does not depend on them). ONNX Runtime runs
the cached session (:mod:`neural_trader_plugins.forecasting.serving`, one intra-op thread); torch eager
runs the same module (scaler inside) under ``torch.inference_mode`` on one thread.

    python -m bench neural_serving [--quick]     # or: python bench/neural_serving.py [--quick]

Targets (issue 11): ONNX Runtime p50 under 0.3 ms; REST p50 under 3 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine_rows, table  # noqa: E402


def _p50_p99_us(fn: Callable[[], Any], n: int, warm: int = 200) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples) * 1e6, samples[min(n - 1, round(0.99 * (n - 1)))] * 1e6


def _throughput(fn: Callable[[], Any], items: int, seconds: float) -> float:
    fn()
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        count += 1
    return count * items / (time.perf_counter() - t0)


def _models(tmp: Path) -> dict[str, tuple[Any, dict[str, Any], Path]]:
    from neural_trader_plugins.forecasting import export, registry
    from neural_trader_plugins.forecasting.models import ARCHITECTURES, hyperparameters

    ref = registry.pretrained()
    out = {f"pretrained {ref.architecture}": (ARCHITECTURES[ref.architecture], ref.config, registry.PRETRAINED_DIR)}
    try:
        import torch
    except ImportError:
        return out
    torch.manual_seed(0)
    hp = hyperparameters("transformer", {"lookback": ref.lookback, "horizon": ref.horizon, "hidden_size": 32,
                                         "layers": 2, "heads": 4, "ff_size": 64, "dropout": 0.0})
    config = {**ref.config, "architecture": "transformer", "hyperparameters": attrs.asdict(hp)}
    net = ARCHITECTURES["transformer"].build(int(ref.config["n_features"]), hp)
    export.write(tmp / "transformer", ARCHITECTURES["transformer"], config, net.state_dict())
    out["transformer d32 x2"] = (ARCHITECTURES["transformer"], config, tmp / "transformer")
    return out


def _in_process(quick: bool, tmp: Path) -> list[tuple[object, ...]]:
    from neural_trader_plugins.forecasting import serving

    n = 2000 if quick else 20000
    rows: list[tuple[object, ...]] = []
    rng = np.random.default_rng(0)
    for name, (spec, config, directory) in _models(tmp).items():
        lb, nf = int(config["lookback"]), int(config["n_features"])
        one = rng.normal(size=(1, lb, nf)).astype(np.float32)
        batch = rng.normal(size=(4096, lb, nf)).astype(np.float32)
        engines = ["onnxruntime"]
        try:
            import torch

            torch.set_num_threads(1)
            engines.append("torch")
        except ImportError:
            pass
        for engine in engines:
            p = serving.predictor(spec, config, directory, engine=engine)
            p50, p99 = _p50_p99_us(lambda p=p, one=one: p.predict(one), n)
            rate = _throughput(lambda p=p, batch=batch: p.predict(batch), 4096, 1.0 if quick else 3.0)
            rows.append((name, engine + (" eager" if engine == "torch" else ""), f"{p50:.1f}", f"{p99:.1f}",
                         f"{rate:,.0f}"))
    return rows


def _rest(quick: bool) -> tuple[float, float, float, float]:
    """neural.forecast (pretrained, synthetic bars) over loopback HTTP, and system.ping for the floor."""
    import httpx

    from bench.common import rest_server

    n = 200 if quick else 2000
    body = {"model_id": "pretrained", "symbol": "SPY", "provider": "synthetic", "end": "2024-06-28T00:00:00Z"}
    with rest_server(workers=1) as (url, key), httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                                            timeout=30) as client:
        assert client.post("/v1/neural/forecast", json=body).status_code == 200
        f50, f99 = _p50_p99_us(lambda: client.post("/v1/neural/forecast", json=body), n, warm=50)
        s50, s99 = _p50_p99_us(lambda: client.post("/v1/system/ping", json={"echo": "x"}), n, warm=50)
    return f50, f99, s50, s99


def run(quick: bool = False) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        rows = _in_process(quick, Path(tmp))
    out = [table(("model", "engine", "one window p50 (us)", "p99 (us)", "batch-4096 forecasts/s"), rows)]
    try:
        f50, f99, s50, s99 = _rest(quick)
        out.append(table(("REST request", "p50 (ms)", "p99 (ms)"),
                         [("neural.forecast (pretrained, 1 window + bars from the synthetic provider)",
                           f"{f50 / 1000:.2f}", f"{f99 / 1000:.2f}"),
                          ("system.ping (the HTTP floor)", f"{s50 / 1000:.2f}", f"{s99 / 1000:.2f}")]))
    except Exception as exc:  # a missing server dependency must not hide the in-process numbers
        out.append(f"REST: not measured ({type(exc).__name__}: {exc})")
    out.append(table(("machine", ""), machine_rows()))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = ap.parse_args(argv)
    print(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
