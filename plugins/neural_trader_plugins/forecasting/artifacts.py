"""A model version's files in the data dir, ``<data_dir>/models/<model_id>/``:

* ``weights.safetensors``: the best epoch's state dict (safetensors: no pickle, so loading a file
  cannot run code);
* ``model.onnx``: the network with its scaler inside (raw feature windows ``(batch, lookback,
  n_features)`` float32 in, cumulative log returns ``(batch, horizon)`` out), served by ONNX Runtime;
* ``config.json``: what serving needs besides the graph: the architecture and its hyper-parameters,
  lookback/horizon, feature names, the scaler and the conformal half-widths.

The database row (:mod:`.tables`) stays the registry's source of truth; the files are written from it
and can be rewritten from it (``neural.export``). This module needs no torch; :mod:`.export` writes
the weights and the graph.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from neural_trader.errors import NtUserError

__all__ = ["CONFIG", "FORMAT", "ONNX", "WEIGHTS", "ArtifactPaths", "check_config", "model_dir", "paths",
           "read_config", "remove", "write_config"]

WEIGHTS, ONNX, CONFIG = "weights.safetensors", "model.onnx", "config.json"
#: Version of config.json's layout; a newer one is refused instead of misread.
FORMAT = 1
_REQUIRED = ("architecture", "hyperparameters", "lookback", "horizon", "n_features", "feature_names", "scaler",
             "conformal")


@attrs.frozen(kw_only=True)
class ArtifactPaths:
    directory: Path
    weights: Path
    onnx: Path
    config: Path

    def existing(self) -> dict[str, Path]:
        """The files that are there, by format (``safetensors``, ``onnx``, ``config``)."""
        return {k: p for k, p in (("safetensors", self.weights), ("onnx", self.onnx), ("config", self.config))
                if p.is_file()}


def model_dir(data_dir: Path | str, model_id: str) -> Path:
    """``<data_dir>/models/<model_id>``; the id must be a plain name (no path separators)."""
    if not model_id or not model_id.replace("_", "").isalnum():
        raise NtUserError(f"model_id must be letters and digits, got {model_id!r}")
    return Path(data_dir) / "models" / model_id


def paths(directory: Path) -> ArtifactPaths:
    return ArtifactPaths(directory=directory, weights=directory / WEIGHTS, onnx=directory / ONNX,
                         config=directory / CONFIG)


def check_config(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``config`` if it has every key serving needs in a format this version reads; else a clear error."""
    if not isinstance(config, Mapping):
        raise NtUserError(f"{where} is not a JSON object; rewrite it with neural.export or retrain the model")
    if int(config.get("format", FORMAT)) > FORMAT:
        raise NtUserError(f"{where} has format {config['format']}, newer than this version reads ({FORMAT}); "
                          "upgrade neural-trader")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise NtUserError(f"{where} lacks {', '.join(missing)}; rewrite it with neural.export or retrain the model")
    return dict(config)


def read_config(path: Path) -> dict[str, Any]:
    """The config at ``path``; unreadable or malformed JSON is an :class:`NtUserError` naming the file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NtUserError(f"{path} is missing; rewrite the model's files with neural.export") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NtUserError(f"{path} is corrupt ({type(exc).__name__}); rewrite it with neural.export or retrain "
                          "the model") from None
    return check_config(raw, str(path))


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"format": FORMAT, **config}, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def remove(directory: Path) -> bool:
    """Delete a model's folder; whether there was one."""
    if not directory.exists():
        return False
    shutil.rmtree(directory)
    return True
