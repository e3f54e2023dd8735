"""Serving a model: ONNX Runtime first, torch as the fallback.

* :func:`session` keeps one ``InferenceSession`` per ONNX file, keyed by the resolved path, its
  modification time (ns) and size, so a rewritten file (``neural.export``) is reloaded and an
  unchanged one costs nothing; at most :data:`CACHE_SIZE` sessions, least recently used dropped.
* :func:`providers`: the CUDA execution provider when ``onnxruntime-gpu`` offers it (then CPU behind
  it), else the CPU one. The CPU session runs one intra-op thread: a window is a few thousand
  multiply-adds, and thread hand-offs would cost more than they save (see bench/neural_serving.py).
* :func:`predictor` picks ONNX Runtime when the graph is there, else rebuilds the network in torch
  from the safetensors file (or the weights kept in the database row).

Every predictor maps raw feature windows ``(batch, lookback, n_features)`` to cumulative log returns
``(batch, horizon)`` (float64); the scaler is inside the graph (:class:`.nets.Scaled`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader_plugins.forecasting import artifacts

__all__ = ["CACHE_SIZE", "Predictor", "clear_cache", "predictor", "providers", "session", "state_from_blob"]

CACHE_SIZE = 32
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_cache: OrderedDict[tuple[str, int, int, tuple[str, ...]], tuple[Any, str]] = OrderedDict()
_lock = threading.Lock()


def providers() -> list[str]:
    """The execution providers a new session asks for, best first."""
    import onnxruntime as ort

    return [_CUDA, _CPU] if _CUDA in ort.get_available_providers() else [_CPU]


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def session(path: Path, sha256: str | None = None) -> Any:
    """The cached ONNX Runtime session of the graph at ``path`` (loaded on first use or after the file
    changed); a corrupt file, or one whose SHA-256 is not ``sha256`` (when given), is an
    :class:`NtUserError` naming it."""
    import onnxruntime as ort

    try:
        st = path.stat()
    except FileNotFoundError:
        raise NtUserError(f"{path} is missing; rewrite the model's files with neural.export") from None
    chosen = tuple(providers())
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, chosen)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    graph = path.read_bytes() if cached is None else b""
    digest = hashlib.sha256(graph).hexdigest() if cached is None else cached[1]
    if sha256 is not None and digest != sha256:
        raise NtUserError(f"{path} is corrupt (its SHA-256 is not the one recorded when it was written); rewrite it "
                          "with neural.export or retrain the model")
    if cached is None:
        cached = (_new_session(ort, path, graph, chosen), digest)
        with _lock:
            _cache[key] = cached
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return cached[0]


def _new_session(ort: Any, path: Path, graph: bytes, chosen: tuple[str, ...]) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(graph, sess_options=options, providers=list(chosen))
    except Exception as exc:  # onnxruntime raises its own (Fail, InvalidProtobuf, ...) with no common base
        raise NtUserError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {str(exc)[:160]}); rewrite "
                          "it with neural.export or retrain the model") from None


@attrs.frozen(kw_only=True, eq=False)
class Predictor:
    """``predict(x)``: raw windows to cumulative log returns; ``engine`` says which runtime answers."""

    engine: str
    device: str
    run: Callable[[np.ndarray], np.ndarray] = attrs.field(repr=False)

    def predict(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.run(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float64)
        if not np.isfinite(y).all():  # the windows are finite (features are checked): the weights are not sane
            bad = int((~np.isfinite(y)).any(axis=-1).sum()) if y.ndim else 1
            raise NtUserError(f"the model forecasts NaN or inf for {bad} of {len(y) if y.ndim else 1} windows (its "
                              "weights are broken, e.g. by a diverged training); retrain it with a lower "
                              "learning_rate")
        return y


def _onnx(path: Path, config: Mapping[str, Any], sha256: str | None) -> Predictor:
    sess = session(path, sha256)
    shape = sess.get_inputs()[0].shape
    want = [int(config["lookback"]), int(config["n_features"])]
    if list(shape[1:]) != want:
        raise NtUserError(f"{path} takes windows of {shape[1:]} but its config says {want}; rewrite the model's "
                          "files with neural.export")
    name = sess.get_inputs()[0].name
    device = "cuda" if sess.get_providers()[0] == _CUDA else "cpu"
    return Predictor(engine="onnxruntime", device=device, run=lambda x: sess.run(None, {name: x})[0])


def _torch(spec: Any, config: Mapping[str, Any], weights: Path | None, blob: bytes | None,
           sha256: str | None) -> Predictor:
    try:
        import torch
    except ImportError:
        raise NtUnavailable("this model has no ONNX graph and torch is not installed to run its weights; "
                            "pip install 'neural-trader[neural]', or rewrite its files with neural.export where "
                            "torch is") from None
    from neural_trader_plugins.forecasting import export

    if weights is not None and weights.is_file():
        if sha256 is not None and hashlib.sha256(weights.read_bytes()).hexdigest() != sha256:
            raise NtUserError(f"{weights} is corrupt (its SHA-256 is not the one recorded when it was written); "
                              "rewrite it with neural.export or retrain the model")
        state = export.load_state(weights)
    elif blob is not None:
        state = state_from_blob(blob)
    else:
        raise NtUserError("the model has neither an ONNX graph nor weights; retrain it")
    module = export.scaled_module(spec, config, state)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Predictor(engine="torch", device="cpu", run=run)


def state_from_blob(blob: bytes) -> dict[str, Any]:
    """The state dict a database row keeps (``torch.save``, read with ``weights_only``: no code runs)."""
    import io
    import pickle

    try:
        import torch
    except ImportError:
        raise NtUnavailable("reading a model's weights from the database needs torch; pip install "
                            "'neural-trader[neural]'") from None

    try:
        return dict(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True))
    except (RuntimeError, ValueError, EOFError, KeyError, pickle.UnpicklingError) as exc:
        raise NtUserError(f"the model's weights cannot be loaded ({type(exc).__name__}: {str(exc)[:200]}); "
                          "retrain it") from None


def predictor(spec: Any, config: Mapping[str, Any], directory: Path | None, *, blob: bytes | None = None,
              engine: str = "auto", onnx_sha256: str | None = None,
              weights_sha256: str | None = None) -> Predictor:
    """The predictor of a model whose files are in ``directory`` (or only in the database: ``blob``).

    ``engine``: ``auto`` (ONNX Runtime when the graph is there, else torch), ``onnxruntime`` or
    ``torch``."""
    p = artifacts.paths(directory) if directory is not None else None
    if engine not in ("auto", "onnxruntime", "torch"):
        raise NtUserError(f"engine must be auto, onnxruntime or torch, got {engine!r}")
    if engine == "onnxruntime" or (engine == "auto" and p is not None and p.onnx.is_file()):
        if p is None:
            raise NtUserError("this model has no ONNX graph; write one with neural.export")
        return _onnx(p.onnx, config, onnx_sha256)
    return _torch(spec, config, p.weights if p is not None else None, blob, weights_sha256)
