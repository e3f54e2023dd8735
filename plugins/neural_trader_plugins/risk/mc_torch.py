"""Monte Carlo VaR/CVaR of a normal portfolio in torch, on CUDA or the CPU.

The same model as the native kernel (:func:`neural_trader.native.risk.monte_carlo_var`): a
scenario's portfolio return is ``w . mu + (B^T w) . z`` with ``B B^T = cov`` (the native pivoted
Cholesky factor) and ``z`` a vector of independent standard normals, one per asset; its loss is
minus that. Only the random numbers differ (torch's generator instead of xoshiro256++), so for
a seed the results agree with the kernel statistically, not bit for bit.

Conventions (those of the kernel):

* ``VaR`` is the ``confidence`` quantile of the losses with numpy's ``method="linear"`` rule
  (sorted losses ``s``, position ``(m - 1) * confidence``, linear interpolation between its two
  neighbours); ``CVaR`` is the mean of the losses ``>= VaR``.
* ``means`` and ``cov`` are those of one horizon (scale them yourself: ``means * h``, ``cov * h``).
* ``dtype="float64"`` (default) draws and sums in double precision; ``"float32"`` halves memory
  and is several times faster on GPUs, at about 7 significant digits per loss, far below the
  Monte Carlo error. Tail means, ``mean`` and ``std`` are always accumulated in float64.

Scenarios are drawn in batches of ``batch_size`` (default: about 32M normals, 256 MiB in float64),
so 10M scenarios of 10 assets need one loss vector (80 MiB) plus one batch on the device. Only
scalars are copied back to the host.

torch is an optional extra: this module imports without it and raises
:class:`~neural_trader.errors.NtUnavailable` when a function that needs it is called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from neural_trader import accelerators
from neural_trader.errors import NtUnavailable, NtUserError
from neural_trader.native import risk as native_risk
from neural_trader.native._buffers import int_arg, range_error
from neural_trader.native.risk_numpy import check_confidence, check_portfolio, check_positive, check_seed

if TYPE_CHECKING:
    import torch

INSTALL_HINT = "pip install 'neural-trader[neural]'"
#: Normals per batch when ``batch_size`` is not given (256 MiB of float64).
BATCH_NORMALS = 1 << 25
DTYPES = ("float64", "float32")


class TorchMonteCarlo(NamedTuple):
    """Monte Carlo VaR/CVaR (positive = loss) and a summary of the simulated losses."""

    var: float
    cvar: float
    confidence: float
    n_scenarios: int
    seed: int
    #: ``"torch-cuda"`` or ``"torch-cpu"``.
    engine: str
    #: e.g. ``"cuda:0"`` or ``"cpu"``.
    device: str
    dtype: str
    #: Mean and standard deviation (divisor ``m - 1``) of the simulated losses.
    mean: float
    std: float
    #: The loss quantiles at ``quantile_levels`` (same interpolation rule as VaR).
    quantile_levels: tuple[float, ...]
    quantiles: tuple[float, ...]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NtUnavailable(f"torch is not installed, and the torch Monte Carlo path needs it; {INSTALL_HINT}") \
            from None
    return torch


def torch_installed() -> bool:
    """Whether torch can be imported (does not import it)."""
    return accelerators.torch_installed()


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device (:func:`neural_trader.accelerators.cuda_available`)."""
    return accelerators.cuda_available()


def _device(device: str | None) -> Any:
    torch = _import_torch()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str):
        raise NtUserError(f"device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise NtUserError(f"device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NtUnavailable(f"device {device!r} was asked for but torch sees no CUDA device "
                            f"(torch {torch.__version__}); pass device='cpu' or install a CUDA build of torch")
    if dev.type not in ("cuda", "cpu"):
        raise NtUserError(f"device must be 'cuda', 'cuda:N' or 'cpu', got {device!r}")
    return dev


def loading(weights: np.ndarray, means: np.ndarray, cov: np.ndarray,
            factor: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(B^T w, w . mu)``: the per-normal loading of the portfolio and its mean return.

    ``factor`` is a ``B`` with ``B B^T = cov`` you already have (e.g. ``cholesky(cov).factor``);
    without it the native pivoted Cholesky factorisation is run, which refuses a covariance that
    is not symmetric positive semi-definite with the message naming ``cov``.
    """
    w, mu, c = check_portfolio(weights, means, cov)
    for name, arr in (("weights", w), ("means", mu)):
        if not np.isfinite(arr).all():
            raise NtUserError(f"{name} must be finite")
    b = native_risk.cholesky(c).factor if factor is None else factor
    return np.ascontiguousarray(b.T @ w), float(w @ mu)


def _lerp_quantile(values_at: Any, m: int, level: float) -> float:
    """The ``method="linear"`` quantile from a function giving the k-th smallest value (0-based)."""
    vi = float(m - 1) * level
    below = math.floor(vi)
    gamma = vi - below
    a = values_at(below)
    if below >= m - 1:
        return a
    b = values_at(below + 1)
    diff = b - a
    # numpy's _lerp, the kernel's rule: exact at both ends.
    return b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma


def losses_torch(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, n_scenarios: int = 1_000_000,
                 seed: int = 0, device: str | None = None, dtype: str = "float64", batch_size: int | None = None,
                 factor: np.ndarray | None = None) -> torch.Tensor:
    """The simulated portfolio losses ``-(w . r)``, ``r ~ N(means, cov)``, as a tensor on ``device``
    (``None``: CUDA when torch sees it, else the CPU). Arguments as :func:`monte_carlo_var_torch`."""
    torch = _import_torch()
    n_s = check_positive("n_scenarios", n_scenarios)
    s = check_seed(seed)
    if dtype not in DTYPES:
        raise NtUserError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    a_np, m = loading(weights, means, cov, factor)
    dev = _device(device)
    tdtype = getattr(torch, dtype)
    n = a_np.shape[0]
    batch = max(1, BATCH_NORMALS // n) if batch_size is None else int_arg("batch_size", batch_size)
    if batch < 1:
        raise range_error("batch_size", batch, "must be >= 1 (scenarios per batch)")
    with torch.inference_mode():
        gen = torch.Generator(device=dev)
        gen.manual_seed(s)
        a = torch.as_tensor(a_np, dtype=tdtype, device=dev)
        out = torch.empty(n_s, dtype=tdtype, device=dev)
        neg_mean = torch.tensor(-m, dtype=tdtype, device=dev)
        for start in range(0, n_s, batch):
            k = min(batch, n_s - start)
            z = torch.randn((k, n), generator=gen, dtype=tdtype, device=dev)
            # loss = -m - z . a, written straight into its slice of the loss vector
            torch.addmv(neg_mean.expand(k), z, a, alpha=-1.0, out=out[start : start + k])
    return out


def tail_risk_torch(losses: torch.Tensor, confidence: float = 0.99,
                    quantile_levels: tuple[float, ...] = ()) -> tuple[float, float, float, float, tuple[float, ...]]:
    """``(var, cvar, mean, std, quantiles)`` of a 1-D loss tensor, computed where it lives.

    VaR and the quantiles follow numpy's ``method="linear"``; CVaR is the mean of the losses
    ``>= VaR``, accumulated in float64 and kept within ``[VaR, max]`` as the native kernel does.
    """
    torch = _import_torch()
    c = check_confidence(confidence)
    levels = tuple(check_confidence(q) for q in quantile_levels)
    m = int(losses.shape[0])
    if m < 1:
        raise NtUserError("losses must hold at least one value")
    if not bool(torch.isfinite(losses).all()):
        raise NtUserError("the simulated losses overflow: weights and cov are too large")
    # One top-k from the lowest level asked for up holds every sorted position needed.
    first = math.floor(float(m - 1) * min((c, *levels)))
    top = torch.topk(losses, m - first, largest=True, sorted=True).values  # descending

    def kth(i: int) -> float:  # the i-th smallest loss (0-based), i >= first
        return float(top[m - 1 - i].item())

    var = _lerp_quantile(kth, m, c)
    tail = top[top >= var].to(torch.float64)
    cvar = float(tail.mean().item())
    cvar = min(max(cvar, var), max(var, float(top[0].item())))
    as64 = losses.to(torch.float64)
    mean = float(as64.mean().item())
    std = float(as64.std(correction=1).item()) if m > 1 else math.nan
    qs = tuple(_lerp_quantile(kth, m, q) for q in levels)
    return var, cvar, mean, std, qs


def monte_carlo_var_torch(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *, confidence: float = 0.99,
                          n_scenarios: int = 1_000_000, seed: int = 0, device: str | None = None,
                          dtype: str = "float64", batch_size: int | None = None,
                          quantile_levels: tuple[float, ...] = (), factor: np.ndarray | None = None,
                          ) -> TorchMonteCarlo:
    """Monte Carlo VaR and CVaR of a normal portfolio, simulated with torch on ``device``.

    :param weights: position of each asset (fractions of the portfolio; currency gives currency losses).
    :param means: expected return of each asset over the horizon.
    :param cov: covariance of the asset returns over the same horizon (symmetric PSD).
    :param confidence: in (0, 1), e.g. 0.99.
    :param n_scenarios: scenarios to draw (>= 1); 10M of 10 assets fit a GPU easily.
    :param seed: integer in ``[0, 2**64)`` for the torch Generator; same seed, device and dtype,
        same numbers.
    :param device: ``"cuda"``, ``"cuda:N"``, ``"cpu"``, or ``None`` (CUDA if torch sees it).
    :param dtype: ``"float64"`` (default) or ``"float32"``.
    :param batch_size: scenarios per batch of normals (default about ``2**25 / n_assets``).
    :param quantile_levels: loss quantiles to report besides VaR (each in (0, 1)).
    :param factor: a ``B`` with ``B B^T = cov`` already computed, to skip the factorisation.
    """
    c = check_confidence(confidence)
    losses = losses_torch(weights, means, cov, n_scenarios=n_scenarios, seed=seed, device=device, dtype=dtype,
                          batch_size=batch_size, factor=factor)
    var, cvar, mean, std, qs = tail_risk_torch(losses, c, quantile_levels)
    dev = losses.device
    return TorchMonteCarlo(var=var, cvar=cvar, confidence=c, n_scenarios=int(n_scenarios), seed=int(seed),
                           engine=f"torch-{dev.type}", device=str(dev), dtype=dtype, mean=mean, std=std,
                           quantile_levels=tuple(float(q) for q in quantile_levels), quantiles=qs)


__all__ = ["DTYPES", "INSTALL_HINT", "TorchMonteCarlo", "cuda_available", "loading", "losses_torch",
           "monte_carlo_var_torch", "tail_risk_torch", "torch_installed"]
