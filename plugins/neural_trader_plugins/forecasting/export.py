"""Writing a trained model's files (needs torch): safetensors weights and the ONNX graph of the
network with its scaler inside (:class:`.nets.Scaled`), next to its config (:mod:`.artifacts`).

The graph is traced with ``torch.onnx.export(..., dynamo=False)``: the TorchScript exporter ships with
torch and needs no onnxscript; opset 17 has every operator the five architectures use (LSTM, GRU,
multi-head attention via MatMul/Softmax, LayerNormalization, dilated Conv). The batch axis is dynamic.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader_plugins.forecasting import artifacts
from neural_trader_plugins.forecasting.models import ArchitectureSpec, hyperparameters

__all__ = ["OPSET", "load_state", "onnx_bytes", "scaled_module", "write"]

OPSET = 17
INSTALL_HINT = "pip install 'neural-trader[neural]'"

#: torch's ONNX exporter keeps process-global state (``GLOBALS.in_onnx_export``, the tracer's), so two
#: exports at once in one process (two training jobs, a job and neural.export) trip its assertion.
_EXPORT_LOCK = threading.Lock()


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NtUnavailable(f"torch is not installed, and writing a model's weights and ONNX graph needs it; "
                            f"{INSTALL_HINT}") from None
    return torch


def scaled_module(spec: ArchitectureSpec, config: Mapping[str, Any], state: Mapping[str, Any]) -> Any:
    """The eval-mode :class:`.nets.Scaled` of ``spec`` with weights ``state`` and ``config``'s scaler."""
    from neural_trader_plugins.forecasting import nets

    hp = hyperparameters(spec.name, config["hyperparameters"]) if spec.name in _builtin() else \
        spec.hyperparameters(**config["hyperparameters"])
    net = spec.build(int(config["n_features"]), hp)
    try:
        net.load_state_dict(dict(state))
    except (RuntimeError, KeyError, ValueError) as exc:
        raise NtUserError(f"the weights do not fit a {spec.name} with these hyper-parameters "
                          f"({type(exc).__name__}: {str(exc)[:200]}); retrain the model") from None
    s = config["scaler"]
    return nets.Scaled(net, s["mean"], s["std"], s["y_mean"], s["y_std"]).eval()


def _builtin() -> set[str]:
    from neural_trader_plugins.forecasting.models import ARCHITECTURES

    return set(ARCHITECTURES)


def onnx_bytes(module: Any, lookback: int, n_features: int) -> bytes:
    """The ONNX graph of ``module`` for windows of ``lookback x n_features`` (dynamic batch)."""
    torch = _torch()
    example = torch.zeros(1, int(lookback), int(n_features), dtype=torch.float32)
    buf = io.BytesIO()
    # Traced with gradients on: under no_grad the Transformer encoder takes its fused fast path
    # (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    # catch_warnings is process-global too: inside the lock it is restored in the order it was set.
    with _EXPORT_LOCK, warnings.catch_warnings():
        # The tracer warns about the shape checks in forward (constant for a fixed lookback) and about
        # batch_first RNNs; both are expected and say nothing about this graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    return buf.getvalue()


def load_state(path: Path) -> dict[str, Any]:
    """The state dict in a safetensors file; a corrupt file is an :class:`NtUserError` naming it."""
    _torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise NtUserError(f"{path} is missing; rewrite the model's files with neural.export") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise NtUserError(f"{path} is corrupt ({type(exc).__name__}: {str(exc)[:120]}); rewrite it with "
                          "neural.export or retrain the model") from None


def write(directory: Path, spec: ArchitectureSpec, config: Mapping[str, Any], state: Mapping[str, Any],
          formats: tuple[str, ...] = ("safetensors", "onnx")) -> artifacts.ArtifactPaths:
    """Write the asked formats and config.json into ``directory`` (each file replaced atomically)."""
    from safetensors.torch import save_file

    torch = _torch()
    p = artifacts.paths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() if isinstance(v, torch.Tensor) else
             torch.as_tensor(np.asarray(v)) for k, v in state.items()}
    if "safetensors" in formats:
        tmp = p.weights.with_suffix(".tmp")
        save_file(state, str(tmp), metadata={"architecture": spec.name})
        tmp.replace(p.weights)
    if "onnx" in formats:
        graph = onnx_bytes(scaled_module(spec, config, state), config["lookback"], config["n_features"])
        tmp = p.onnx.with_suffix(".tmp")
        tmp.write_bytes(graph)
        tmp.replace(p.onnx)
    artifacts.write_config(p.config, {**config, "architecture": spec.name})
    return p
