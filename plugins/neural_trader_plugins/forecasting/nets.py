"""The torch modules behind :mod:`.models` (imported only when torch is wanted).

Every module takes ``(batch, lookback, n_features)`` and returns ``(batch, horizon)``.
"""

from __future__ import annotations

from typing import Any

from neural_trader.errors import NtUnavailable, NtUserError

INSTALL_HINT = "pip install 'neural-trader[neural]'"

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - exercised on machines without the extra
    raise NtUnavailable(f"torch is not installed, and the neural forecasters need it; {INSTALL_HINT}") from None


class Recurrent(nn.Module):
    """Stacked LSTM or GRU; a linear head on the last step's output."""

    def __init__(self, cell: str, n_features: int, hidden_size: int, layers: int, dropout: float, horizon: int):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(n_features, hidden_size, num_layers=layers, batch_first=True,
                       dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class Transformer(nn.Module):
    """Linear embedding plus learned positions, a pre-norm encoder, a head on the last position."""

    def __init__(self, n_features: int, hidden_size: int, layers: int, dropout: float, horizon: int,
                 lookback: int, heads: int, ff_size: int):
        super().__init__()
        self.embed = nn.Linear(n_features, hidden_size)
        self.position = nn.Parameter(torch.zeros(1, lookback, hidden_size))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(hidden_size, heads, ff_size, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.position.shape[1]:
            raise NtUserError(f"the window has {x.shape[1]} bars, more than lookback ({self.position.shape[1]})")
        h = self.embed(x) + self.position[:, -x.shape[1]:]
        return self.head(self.norm(self.encoder(h))[:, -1])


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution padded on the left only: output step ``t`` sees input steps ``<= t``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class TemporalBlock(nn.Module):
    """Two causal convolutions (ReLU, dropout) and a residual connection (1x1 when widths differ)."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(n_in, n_out, kernel_size, dilation), nn.ReLU(), nn.Dropout(dropout),
            CausalConv1d(n_out, n_out, kernel_size, dilation), nn.ReLU(), nn.Dropout(dropout))
        self.skip = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x) + self.skip(x))


class Tcn(nn.Module):
    """Temporal convolutional network: ``stack`` maps ``(batch, channels, time)`` causally; the head
    reads the last step."""

    def __init__(self, n_features: int, hidden_size: int, layers: int, dropout: float, horizon: int,
                 kernel_size: int):
        super().__init__()
        self.stack = nn.Sequential(*(
            TemporalBlock(n_features if i == 0 else hidden_size, hidden_size, kernel_size, 2 ** i, dropout)
            for i in range(layers)))
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(x.transpose(1, 2))[:, :, -1])


class NBeatsBlock(nn.Module):
    """A generic block: fully connected ReLU layers, then linear backcast and forecast heads."""

    def __init__(self, size: int, hidden_size: int, layers: int, dropout: float, horizon: int):
        super().__init__()
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(size if i == 0 else hidden_size, hidden_size), nn.ReLU()]
            if dropout:
                mods.append(nn.Dropout(dropout))
        self.fc = nn.Sequential(*mods)
        self.backcast = nn.Linear(hidden_size, size)
        self.forecast = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        return self.backcast(h), self.forecast(h)


class NBeats(nn.Module):
    """Doubly residual stack of generic blocks over the flattened window."""

    def __init__(self, n_features: int, hidden_size: int, layers: int, dropout: float, horizon: int,
                 lookback: int, blocks: int):
        super().__init__()
        self.size = lookback * n_features
        self.blocks = nn.ModuleList(NBeatsBlock(self.size, hidden_size, layers, dropout, horizon)
                                    for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x.reshape(x.shape[0], -1)
        if residual.shape[1] != self.size:
            raise NtUserError(f"N-BEATS was built for windows of {self.size} values (lookback x features), "
                              f"got {residual.shape[1]}")
        forecast = None
        for block in self.blocks:
            back, fore = block(residual)
            residual = residual - back
            forecast = fore if forecast is None else forecast + fore
        assert forecast is not None
        return forecast


class Scaled(nn.Module):
    """A forecaster with its scaler inside: raw feature windows in, raw targets (cumulative log
    returns) out. This is what is exported to ONNX, so a served model needs no scaler code."""

    mean: torch.Tensor
    std: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor

    def __init__(self, net: nn.Module, mean: Any, std: Any, y_mean: Any, y_std: Any):
        super().__init__()
        self.net = net
        for name, value in (("mean", mean), ("std", std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std) * self.y_std + self.y_mean


def build(kind: str, n_features: int, hp: Any) -> nn.Module:
    """The module of architecture ``kind`` for ``n_features`` inputs and hyper-parameters ``hp``."""
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise NtUserError(f"n_features must be an integer >= 1, got {n_features!r}")
    common = {"hidden_size": hp.hidden_size, "layers": hp.layers, "dropout": hp.dropout, "horizon": hp.horizon}
    if kind in ("lstm", "gru"):
        return Recurrent(kind, n_features, **common)
    if kind == "transformer":
        if hp.hidden_size % hp.heads:
            raise NtUserError(f"hidden_size ({hp.hidden_size}) must be a multiple of heads ({hp.heads})")
        return Transformer(n_features, lookback=hp.lookback, heads=hp.heads, ff_size=hp.ff_size, **common)
    if kind == "tcn":
        return Tcn(n_features, kernel_size=hp.kernel_size, **common)
    if kind == "nbeats":
        return NBeats(n_features, lookback=hp.lookback, blocks=hp.blocks, **common)
    raise NtUserError(f"architecture must be one of lstm, gru, transformer, tcn, nbeats, got {kind!r}")
