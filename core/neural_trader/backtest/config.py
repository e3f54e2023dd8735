"""How a backtest trades: :class:`BacktestConfig`, shared by the vectorized and event engines.

The fields are validated attrs fields (bounds via :func:`neural_trader.schema.param`), so the
config is also the ``config`` object of ``backtest.run`` in every frontend. It maps onto the
simulation kernel's :class:`~neural_trader.native.simulate.SimParams` with :meth:`to_sim_params`.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from neural_trader.native.simulate import SimParams
from neural_trader.schema import param

__all__ = ["BacktestConfig", "FillAt", "Sizing"]

#: Bounds of the config's numbers (docs/backtesting.md, "Config"): beyond them a run's arithmetic
#: leaves the range where float64 money and annualisation mean anything (1e308 cash overflows on
#: the first gain; a year of 1e-300 bars overflows every annualised figure).
MAX_CASH = 1e15
MAX_COMMISSION_PER_UNIT = 1e6
MAX_TAKE_PROFIT = 1000.0
MIN_PERIODS_PER_YEAR = 1.0
MAX_PERIODS_PER_YEAR = 365.0 * 24 * 3600

FillAt = Literal["close", "next_open"]
Sizing = Literal["all_in", "all_in_whole", "fixed", "percent"]


@attrs.frozen(kw_only=True)
class BacktestConfig:
    """Fills, sizing, costs, exits and accounting of a backtest."""

    init_cash: float = param(default=100_000.0, gt=0, le=MAX_CASH,
                             description="starting cash (more than 0, at most 1e15)")
    fill_at: FillAt = attrs.field(
        default="next_open", validator=attrs.validators.in_(("close", "next_open")),
        metadata={"description": "when a signal fills: at the close of the bar that produced it, "
                                 "or at the next bar's open"})
    sizing: Sizing = attrs.field(
        default="all_in", validator=attrs.validators.in_(("all_in", "all_in_whole", "fixed", "percent")),
        metadata={"description": "all_in: all cash in fractional units; all_in_whole: whole units; fixed: "
                                 "`size` units; percent: `size` (a fraction) of cash. Scaled by the "
                                 "target's magnitude"})
    size: float = param(default=1.0, ge=0, le=MAX_CASH,
                        description="units (fixed) or fraction of cash (percent)")
    commission_per_unit: float = param(default=0.0, ge=0, le=MAX_COMMISSION_PER_UNIT,
                                       description="commission per unit traded (at most 1e6)")
    commission_pct: float = param(default=0.0, ge=0, lt=1,
                                  description="commission as a fraction of traded value (0.001 = 0.1 %)")
    commission_fixed: float = param(default=0.0, ge=0, le=MAX_CASH,
                                    description="commission per fill (at most 1e15)")
    slippage_bps: float = param(default=0.0, ge=0, lt=10_000,
                                description="buys fill this many basis points above the price, sells below")
    stop_loss: float = param(default=0.0, ge=0, lt=1,
                             description="exit when price moves this fraction against the entry (0 = off)")
    take_profit: float = param(default=0.0, ge=0, le=MAX_TAKE_PROFIT,
                               description="exit when price moves this fraction in favour (0 = off; at most "
                                           "1000, a 1000-fold move)")
    trailing_stop: float = param(default=0.0, ge=0, lt=1,
                                 description="exit this fraction below the best price since entry (0 = off)")
    allow_short: bool = param(default=False,
                              description="let negative targets open short positions (else they go flat)")
    periods_per_year: float = param(default=252.0, ge=MIN_PERIODS_PER_YEAR, le=MAX_PERIODS_PER_YEAR,
                                    description="bars per year, for annualised metrics (252 daily; from 1, "
                                                "yearly bars, to 31,536,000, one-second bars)")
    risk_free: float = param(default=0.0, ge=-1, le=1,
                             description="annual risk-free rate for the Sharpe ratio (0.02 = 2 %)")
    allocation: dict[str, float] | None = param(
        default=None,
        description="weights by symbol for multi-symbol runs (normalised to sum 1); default equal")

    def to_sim_params(self, *, weight: float = 1.0, overrides: dict[str, float] | None = None) -> SimParams:
        """The kernel's parameters for one symbol's sleeve: ``init_cash * weight``; ``overrides``
        (a strategy's own exits, :meth:`Strategy.sim_overrides`) replace the config's values."""
        fields: dict[str, Any] = {
            "init_cash": self.init_cash * weight, "fill_at": self.fill_at, "sizing": self.sizing,
            "size": self.size, "commission_per_unit": self.commission_per_unit,
            "commission_pct": self.commission_pct, "commission_fixed": self.commission_fixed,
            "slippage_bps": self.slippage_bps, "stop_loss": self.stop_loss,
            "take_profit": self.take_profit, "trailing_stop": self.trailing_stop,
        }
        for key, value in (overrides or {}).items():
            if value:
                fields[key] = float(value)
        return SimParams(**fields)

    def weights(self, symbols: tuple[str, ...]) -> tuple[float, ...]:
        """Allocation weights for ``symbols``, summing to 1 (equal when ``allocation`` is None)."""
        from neural_trader.errors import NtUserError

        if not symbols:
            return ()
        if self.allocation is None:
            return tuple(1.0 / len(symbols) for _ in symbols)
        unknown = sorted(set(self.allocation) - set(symbols))
        if unknown:
            raise NtUserError(f"allocation names symbol(s) {', '.join(unknown)} not in the run "
                              f"({', '.join(symbols)})")
        raw = [float(self.allocation.get(s, 0.0)) for s in symbols]
        if any(w < 0 for w in raw) or sum(raw) <= 0:
            raise NtUserError("allocation weights must be >= 0 and sum to more than 0")
        total = sum(raw)
        return tuple(w / total for w in raw)
