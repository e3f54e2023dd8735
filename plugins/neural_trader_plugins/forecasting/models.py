"""The forecasting architectures: hyper-parameters (bounded fields that become CLI/MCP/REST schema)
and a registry-friendly spec each, without importing torch.

Every network maps a batch of windows ``(batch, lookback, n_features)`` to ``(batch, horizon)``
(the scaled targets of :mod:`.features`). ``spec.build(n_features, hp)`` imports torch (through
:mod:`.nets`) and raises :class:`NtUnavailable` without it. Architectures:

* ``lstm`` / ``gru``: stacked recurrent layers; a linear head on the last step's hidden state.
* ``transformer``: a linear embedding plus learned positions, a pre-norm Transformer encoder
  (Vaswani et al. 2017), a linear head on the last position.
* ``tcn``: residual blocks of two dilated causal 1-D convolutions (dilation ``2**i`` in block
  ``i``; Bai, Kolter & Koltun 2018), a linear head on the last step. Its receptive field is
  ``1 + 2 * (kernel_size - 1) * (2**layers - 1)`` bars.
* ``nbeats``: N-BEATS with generic blocks (Oreshkin, Carpov, Chapados & Bengio, "N-BEATS: Neural
  basis expansion analysis for interpretable time series forecasting", ICLR 2020, section 3.3):
  each block is ``layers`` fully connected ReLU layers on the flattened window, and linear
  backcast/forecast heads; the backcast is subtracted from the block's input (doubly residual
  stacking) and the forecasts add up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from neural_trader.errors import NtUserError
from neural_trader.schema import param

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ARCHITECTURES", "ArchitectureSpec", "GruParams", "LstmParams", "NBeatsParams", "TcnParams", "TransformerParams",
    "architecture", "hyperparameters",
]


@attrs.frozen(kw_only=True)
class _Common:
    lookback: int = param(default=30, ge=2, le=2048, description="bars in each input window")
    horizon: int = param(default=5, ge=1, le=512, description="steps ahead to forecast")
    hidden_size: int = param(default=64, ge=1, le=4096, description="width of the hidden layers")
    layers: int = param(default=2, ge=1, le=32, description="number of stacked layers (blocks for TCN)")
    dropout: float = param(default=0.1, ge=0.0, le=0.9, unit="fraction", description="dropout probability")


@attrs.frozen(kw_only=True)
class LstmParams(_Common):
    """Hyper-parameters of the stacked LSTM."""


@attrs.frozen(kw_only=True)
class GruParams(_Common):
    """Hyper-parameters of the stacked GRU."""


@attrs.frozen(kw_only=True)
class TransformerParams(_Common):
    """Hyper-parameters of the Transformer encoder (``hidden_size`` is the model width and must be a
    multiple of ``heads``)."""

    heads: int = param(default=4, ge=1, le=64, description="attention heads (hidden_size must be a multiple)")
    ff_size: int = param(default=128, ge=1, le=16384, description="width of the feed-forward sublayer")


@attrs.frozen(kw_only=True)
class TcnParams(_Common):
    """Hyper-parameters of the temporal convolutional network (``hidden_size`` channels)."""

    kernel_size: int = param(default=3, ge=2, le=16, description="width of each causal convolution")


@attrs.frozen(kw_only=True)
class NBeatsParams(_Common):
    """Hyper-parameters of generic N-BEATS (``layers`` fully connected layers per block)."""

    layers: int = param(default=4, ge=1, le=32, description="fully connected layers in each block")
    hidden_size: int = param(default=256, ge=1, le=4096, description="width of the fully connected layers")
    blocks: int = param(default=3, ge=1, le=64, description="generic blocks, stacked doubly residually")
    dropout: float = param(default=0.0, ge=0.0, le=0.9, unit="fraction", description="dropout probability")


@attrs.frozen(kw_only=True)
class ArchitectureSpec:
    """One architecture for a forecaster registry: ``build(n_features, hp)`` returns a torch
    ``nn.Module`` mapping ``(batch, lookback, n_features)`` to ``(batch, horizon)``."""

    name: str
    summary: str
    hyperparameters: type
    build: Callable[[int, Any], nn.Module]


def _builder(kind: str) -> Callable[[int, Any], nn.Module]:
    def build(n_features: int, hp: Any) -> nn.Module:
        from neural_trader_plugins.forecasting import nets

        return nets.build(kind, n_features, hp)

    build.__name__ = f"build_{kind}"
    return build


ARCHITECTURES: dict[str, ArchitectureSpec] = {s.name: s for s in (
    ArchitectureSpec(name="lstm", summary="Stacked LSTM, linear head on the last hidden state.",
                     hyperparameters=LstmParams, build=_builder("lstm")),
    ArchitectureSpec(name="gru", summary="Stacked GRU, linear head on the last hidden state.",
                     hyperparameters=GruParams, build=_builder("gru")),
    ArchitectureSpec(name="transformer", summary="Transformer encoder with learned positions, head on the last "
                                                 "position.", hyperparameters=TransformerParams,
                     build=_builder("transformer")),
    ArchitectureSpec(name="tcn", summary="Temporal convolutional network: residual dilated causal convolutions.",
                     hyperparameters=TcnParams, build=_builder("tcn")),
    ArchitectureSpec(name="nbeats", summary="N-BEATS with generic blocks (Oreshkin et al. 2019).",
                     hyperparameters=NBeatsParams, build=_builder("nbeats")),
)}


def architecture(name: str) -> ArchitectureSpec:
    """The spec called ``name``; an unknown name is an :class:`NtUserError` listing the known ones."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise NtUserError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {name!r}") from None


def hyperparameters(name: str, values: Mapping[str, Any] | None = None) -> Any:
    """The hyper-parameters of architecture ``name`` from plain values (defaults for the rest); an
    unknown key or a value out of bounds is an :class:`NtUserError` naming the field."""
    cls = architecture(name).hyperparameters
    values = dict(values or {})
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise NtUserError(f"{name} has no hyper-parameter {', '.join(unknown)}; it takes {', '.join(fields)}")
    for key, value in values.items():
        want = float if fields[key].type in (float, "float") else int
        ok = isinstance(value, int | float | np.integer | np.floating) if want is float \
            else isinstance(value, int | np.integer)
        if isinstance(value, bool) or not ok:
            raise NtUserError(f"{key} must be {'a number' if want is float else 'an integer'}, got {value!r}")
    values = {k: (float(v) if isinstance(v, np.floating) else int(v) if isinstance(v, np.integer) else v)
              for k, v in values.items()}
    try:
        hp = cls(**values)
    except ValueError as exc:
        field = next((k for k in fields if f"'{k}'" in str(exc)), "a hyper-parameter")
        f = fields.get(field)
        bounds = f.metadata.get("description", "") if f is not None else ""
        raise NtUserError(f"{field} is out of bounds ({exc}); {bounds}") from None
    if isinstance(hp, TransformerParams) and hp.hidden_size % hp.heads:
        raise NtUserError(f"hidden_size ({hp.hidden_size}) must be a multiple of heads ({hp.heads})")
    return hp
