"""Risk models: the VaR/CVaR methods ``risk.var`` and ``risk.analyze`` can use, by name.

A risk model is anything with a ``name``, a one-line ``summary`` and ``estimate(inputs)`` returning a
:class:`~neural_trader_plugins.risk.var.VarEstimate`; packs contribute more through the hook
``nt_register_risk_models`` (``register(model)``), and the operations find them in the host's
``risk_models`` registry. The five built-in ones wrap :mod:`.var`::

    from neural_trader.hookspecs import hookimpl
    from neural_trader_plugins.risk.models import RiskModel
    from neural_trader_plugins.risk.var import VarEstimate

    def _worst_day(inputs):
        loss = float(-(inputs.returns @ inputs.weights).min()) * inputs.horizon ** 0.5
        return VarEstimate(method="worst_day", var=loss, cvar=loss, confidence=inputs.confidence,
                           horizon=inputs.horizon)

    @hookimpl
    def nt_register_risk_models(register):
        register(RiskModel(name="worst_day", summary="The worst bar in the history, scaled to the horizon.",
                           estimate=_worst_day))
"""

from __future__ import annotations

import os
from collections.abc import Callable

import attrs
import numpy as np

from neural_trader_plugins.risk import var

__all__ = ["BUILTIN", "MC_THREADS", "RiskInputs", "RiskModel"]

#: Threads of the native Monte Carlo kernel: the cores this process may use (at most 8). The
#: scenarios, and so the numbers, do not depend on it (one random stream per block of scenarios).
MC_THREADS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@attrs.frozen(kw_only=True, eq=False)
class RiskInputs:
    """What a risk model is given: a portfolio's per-bar returns and weights, and the question."""

    #: ``(periods, assets)`` simple returns, C-contiguous float64.
    returns: np.ndarray
    #: One fraction per asset, summing to 1.
    weights: np.ndarray
    confidence: float
    #: Bars the loss is measured over.
    horizon: int
    n_scenarios: int = 100_000
    seed: int = 0
    #: ``True``/``None``/``False``: see :func:`.var.choose_engine`.
    use_gpu: bool | None = None
    #: Student-t degrees of freedom (``None``: fitted).
    dof: float | None = None


@attrs.frozen(kw_only=True)
class RiskModel:
    """A named VaR/CVaR method."""

    name: str
    summary: str
    estimate: Callable[[RiskInputs], var.VarEstimate] = attrs.field(repr=False)


def _report_method(method: str) -> Callable[[RiskInputs], var.VarEstimate]:
    def estimate(inputs: RiskInputs) -> var.VarEstimate:
        report = var.var_report(inputs.returns, inputs.weights, confidence=inputs.confidence, horizon=inputs.horizon,
                                methods=(method,), dof=inputs.dof, n_scenarios=inputs.n_scenarios,
                                seed=inputs.seed, use_gpu=inputs.use_gpu, threads=MC_THREADS)
        return report.methods[method]

    return estimate


BUILTIN: tuple[RiskModel, ...] = (
    RiskModel(name="historical", estimate=_report_method("historical"),
              summary="Historical simulation: the loss quantile of the portfolio's past returns (overlapping "
                      "windows of the horizon, each asset compounded)."),
    RiskModel(name="normal", estimate=_report_method("normal"),
              summary="Parametric normal (variance-covariance): -mu h + z sigma sqrt(h), closed-form CVaR."),
    RiskModel(name="student_t", estimate=_report_method("student_t"),
              summary="Parametric Student-t scaled to the portfolio's volatility, degrees of freedom fitted from "
                      "its kurtosis (or given)."),
    RiskModel(name="cornish_fisher", estimate=_report_method("cornish_fisher"),
              summary="Modified VaR: the normal quantile corrected for the portfolio's skew and excess kurtosis."),
    RiskModel(name="monte_carlo", estimate=_report_method("monte_carlo"),
              summary="Monte Carlo of jointly normal asset returns: the native kernel on CPU, torch on CUDA when a "
                      "GPU is there (use_gpu)."),
)
