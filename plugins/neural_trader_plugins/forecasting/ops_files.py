"""``neural.export`` and ``neural.delete``: a model version's files in the data dir.

``neural.export`` returns where a version's files are, writing them first (from the weights kept in
its database row, so it needs torch) when one of the asked formats is missing, changed since it was
written, or ``overwrite`` is set. The pretrained model's files are the package's own; they are listed,
never written. ``neural.delete`` removes a version's row and its folder; deleting one that is not
there is an error unless ``missing_ok`` (then it answers ``deleted: false``), so a retry is harmless.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import attrs

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader.ops import Context
from neural_trader.schema import param
from neural_trader_plugins.forecasting.api import MODEL_ID_PATTERN

__all__ = ["DeleteParams", "DeleteResult", "ExportParams", "ExportResult", "delete", "export"]

Format = Literal["onnx", "safetensors"]


@attrs.frozen(kw_only=True)
class ExportParams:
    """Parameters of ``neural.export``."""

    model_id: str = param(min_len=1, max_len=40, pattern=MODEL_ID_PATTERN, description=(
        "a model version (neural.models lists them), or pretrained"))
    formats: list[Format] = param(factory=lambda: ["onnx", "safetensors"], min_len=1, max_len=2, description=(
        "onnx (the graph ONNX Runtime serves, scaler inside) and/or safetensors (the weights)"))
    overwrite: bool = param(default=False, description="rewrite the files even when they are there and intact")


@attrs.frozen(kw_only=True)
class ArtifactFile:
    format: str = param(description="onnx, safetensors or config")
    path: str
    bytes: int
    sha256: str


@attrs.frozen(kw_only=True)
class ExportResult:
    model_id: str
    directory: str = param(description="the version's folder")
    files: list[ArtifactFile]
    written: bool = param(description="whether this call wrote them (false: they were there and intact)")


def _file(fmt: str, path: Path) -> ArtifactFile:
    data = path.read_bytes()
    return ArtifactFile(format=fmt, path=str(path), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def _intact(path: Path, sha256: str | None) -> bool:
    return path.is_file() and (sha256 is None or hashlib.sha256(path.read_bytes()).hexdigest() == sha256)


def export(params: ExportParams, ctx: Context) -> ExportResult:
    from neural_trader_plugins.forecasting import artifacts, registry, serving

    formats = tuple(dict.fromkeys(params.formats))
    ref = registry.resolve(ctx.host, params.model_id, None, fallback=False)
    if ref.pretrained:
        if params.overwrite:
            raise NtUserError("the pretrained model's files ship with the package; overwrite applies to trained "
                              "versions")
        p = artifacts.paths(registry.PRETRAINED_DIR)
        written = False
    else:
        p = artifacts.paths(artifacts.model_dir(ctx.host.settings.data_dir, ref.model_id))
        want = {"onnx": (p.onnx, ref.onnx_sha256), "safetensors": (p.weights, ref.weights_sha256)}
        stale = [f for f in formats if not _intact(*want[f])]
        written = bool(params.overwrite or stale or not p.config.is_file())
        if written:
            if ref.blob is None:
                raise NtUserError(f"model {ref.model_id} keeps no weights in its row to write files from; retrain it")
            state = serving.state_from_blob(ref.blob)
            spec = registry.spec(ctx.host, ref.architecture)
            to_write = formats if params.overwrite else tuple(f for f in formats if f in stale) or formats
            registry.write_files(ctx.host, ref.model_id, spec, ref.config, state, to_write)
    files = [_file(f, {"onnx": p.onnx, "safetensors": p.weights}[f]) for f in formats]
    files.append(_file("config", p.config))
    return ExportResult(model_id=ref.model_id, directory=str(p.directory), files=files, written=written)


@attrs.frozen(kw_only=True)
class DeleteParams:
    """Parameters of ``neural.delete``."""

    model_id: str = param(min_len=1, max_len=40, pattern=r"^[0-9a-f]+$", description=(
        "the model version to delete (neural.models lists them)"))
    missing_ok: bool = param(default=False, description="answer deleted: false instead of an error when there is "
                                                        "no such version")


@attrs.frozen(kw_only=True)
class DeleteResult:
    model_id: str
    deleted: bool = param(description="whether the version's row was there and is gone")
    files_deleted: bool = param(description="whether its folder in the data dir was there and is gone")


def delete(params: DeleteParams, ctx: Context) -> DeleteResult:
    from neural_trader_plugins.forecasting import registry

    row, files = registry.delete(ctx.host, params.model_id)
    if not row and not files and not params.missing_ok:
        raise NtNotFound(f"no model {params.model_id!r} to delete; neural.models lists them (missing_ok: true "
                         "makes this a no-op)")
    return DeleteResult(model_id=params.model_id, deleted=row, files_deleted=files)
