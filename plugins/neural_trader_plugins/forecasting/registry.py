"""The model registry: a ``forecast_models`` row per trained version (the source of truth) plus its
files in ``<data_dir>/models/<id>/`` (:mod:`.artifacts`), and the pretrained model shipped in the
package (``pretrained/``), which answers when no trained version does.

:func:`resolve` finds a version (by id, the newest of a symbol, or the pretrained one) as a
:class:`ModelRef`; :func:`predictor` serves it (:mod:`.serving`); :func:`save` stores a new version
and writes its files; :func:`write_files` (re)writes them from the row; :func:`delete` removes both.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from neural_trader.errors import NtNotFound, NtUserError
from neural_trader_plugins.forecasting import artifacts, serving

__all__ = ["PRETRAINED", "PRETRAINED_DIR", "ModelRef", "delete", "predictor", "pretrained", "resolve", "save",
           "write_files"]

#: The id of the model shipped in the package.
PRETRAINED = "pretrained"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


@attrs.frozen(kw_only=True, eq=False)
class ModelRef:
    """One model version, wherever it lives. ``directory`` holds its files (None when only the row
    has it, i.e. trained before files were written); ``blob`` is the row's weights."""

    model_id: str
    architecture: str
    symbol: str | None
    timeframe: str
    provider: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    directory: Path | None
    blob: bytes | None = attrs.field(default=None, repr=False)
    onnx_sha256: str | None = None
    weights_sha256: str | None = None
    #: The bars it was trained on (None for the pretrained model: see its config's training section).
    first_bar: dt.datetime | None = None
    last_bar: dt.datetime | None = None

    @property
    def pretrained(self) -> bool:
        return self.model_id == PRETRAINED

    @property
    def lookback(self) -> int:
        return int(self.config["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.config["horizon"])


def pretrained() -> ModelRef:
    """The shipped model (its config and test metrics next to the graph); read once per file version."""
    path = PRETRAINED_DIR / artifacts.CONFIG
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NtUserError(f"{path} is missing: the package's pretrained model is not installed; reinstall "
                          "neural-trader") from None
    return _pretrained(st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _pretrained(_mtime_ns: int, _size: int) -> ModelRef:
    config = artifacts.read_config(PRETRAINED_DIR / artifacts.CONFIG)
    try:
        metrics = json.loads((PRETRAINED_DIR / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        metrics = {}
    return ModelRef(model_id=PRETRAINED, architecture=str(config["architecture"]), symbol=None,
                    timeframe=str(config.get("timeframe", "1Day")), provider=None, config=config,
                    metrics=metrics.get("test", {}), directory=PRETRAINED_DIR)


def _ref(row: Any, data_dir: Path) -> ModelRef:
    directory = data_dir / row.artifact_dir if row.artifact_dir else None
    config = json.loads(row.config)
    if directory is not None and (directory / artifacts.CONFIG).is_file():
        config = artifacts.read_config(directory / artifacts.CONFIG)
    # The files are what is served: their config names the architecture the graph and weights are of.
    return ModelRef(model_id=row.id, architecture=str(config.get("architecture", row.architecture)),
                    symbol=row.symbol, timeframe=row.timeframe,
                    provider=row.provider.split(",")[0].split(" ")[0], config=config,
                    metrics=json.loads(row.metrics), directory=directory, blob=row.weights,
                    onnx_sha256=row.onnx_sha256, weights_sha256=row.weights_sha256, first_bar=row.first_bar,
                    last_bar=row.last_bar)


def resolve(host: Any, model_id: str | None, symbol: str | None, *, fallback: bool = True) -> ModelRef:
    """``model_id`` (``pretrained`` for the shipped model), else the newest version of ``symbol``, else
    (``fallback``) the pretrained model; unknown ids are :class:`NtNotFound`."""
    from sqlmodel import col, select

    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    if model_id == PRETRAINED:
        return pretrained()
    if model_id is None and symbol is None:
        raise NtUserError("give model_id or symbol (its newest model, else the pretrained one)")
    with host.services.storage.session() as session:
        if model_id is not None:
            row = session.get(ForecastModelRow, model_id)
        else:
            assert symbol is not None
            row = session.exec(select(ForecastModelRow).where(ForecastModelRow.symbol == symbol.strip().upper())
                               .order_by(col(ForecastModelRow.created_at).desc()).limit(1)).first()
    if row is not None:
        return _ref(row, Path(host.settings.data_dir))
    if model_id is None and fallback:
        return pretrained()
    what = f"model {model_id!r}" if model_id else f"model of {symbol}"
    raise NtNotFound(f"no {what}; neural.train trains one and neural.models lists them")


def spec(host: Any, architecture: str) -> Any:
    """The registered architecture; an unknown one (a pack that is not installed) is a clear error."""
    registry = host.registry("forecasters")
    if architecture not in registry:
        raise NtUserError(f"architecture must be one of {', '.join(registry.names())}, got {architecture!r} (a "
                          "model of another architecture needs the pack that registered it)")
    return registry.get(architecture)


def predictor(host: Any, ref: ModelRef, engine: str = "auto") -> serving.Predictor:
    """Serve ``ref``: its architecture must be registered (even for ONNX: the config is read as one)."""
    s = spec(host, ref.architecture)
    return serving.predictor(s, ref.config, ref.directory, blob=ref.blob, engine=engine,
                             onnx_sha256=ref.onnx_sha256, weights_sha256=ref.weights_sha256)


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def write_files(host: Any, model_id: str, spec_: Any, config: Mapping[str, Any], state: Mapping[str, Any],
                formats: tuple[str, ...] = ("safetensors", "onnx")) -> artifacts.ArtifactPaths:
    """Write a version's files and record their folder and checksums on its row."""
    from neural_trader_plugins.forecasting import export
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    data_dir = Path(host.settings.data_dir)
    directory = artifacts.model_dir(data_dir, model_id)
    p = export.write(directory, spec_, {**config, "model_id": model_id}, state, formats)
    with host.services.storage.session(write=True) as session:
        row = session.get(ForecastModelRow, model_id)
        if row is None:
            raise NtNotFound(f"no model {model_id!r}; neural.models lists them")
        row.artifact_dir = str(directory.relative_to(data_dir))
        row.onnx_sha256 = _sha(p.onnx)
        row.weights_sha256 = _sha(p.weights)
        session.add(row)
    return p


def save(host: Any, row: Any, spec_: Any, config: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """Store a new version's row and write its files; False (nothing written) when the id exists."""
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    with host.services.storage.session(write=True) as session:
        if session.get(ForecastModelRow, row.id) is not None:
            return False
        session.add(row)
    write_files(host, row.id, spec_, config, state)
    return True


def delete(host: Any, model_id: str) -> tuple[bool, bool]:
    """Remove a version's row and its files: ``(row_deleted, files_deleted)``."""
    from neural_trader_plugins.forecasting.tables import ForecastModelRow

    if model_id == PRETRAINED:
        raise NtUserError("the pretrained model ships with the package and cannot be deleted")
    data_dir = Path(host.settings.data_dir)
    with host.services.storage.session(write=True) as session:
        row = session.get(ForecastModelRow, model_id)
        if row is not None:
            session.delete(row)
    files = artifacts.remove(artifacts.model_dir(data_dir, model_id))
    return row is not None, files
