"""The strategy contract: what a plugin registers through ``nt_register_strategies``.

A strategy is an object (usually an instance of a :class:`Strategy` subclass) with

* ``name``, ``summary``: its registry name and one line for listings;
* ``params_type``: a frozen attrs class whose fields (declared with
  :func:`neural_trader.schema.param`: default, bounds, description) become CLI options and the
  MCP/REST JSON Schema of ``backtest.run``'s ``params``;
* ``symbols_required``: 1, or 2 for a pair (``bars`` is then a sequence of two aligned series);
* ``warmup(params)``: the number of leading bars whose signals are undefined (longest window);
* ``constraints(params)``: human-readable problems with a parameter set (``fast >= slow``), empty
  when it is valid; ranges of single fields are checked by ``params_type`` itself;
* optionally ``missing_data(bars, params)``: why the strategy has nothing to act on in ``bars``
  (data of its own that the window lacks, such as news), else ``None``; ``backtest.compare`` then
  lists it as skipped with that reason instead of ranking a run that cannot trade;
* the *vectorized* style, ``signals(bars, params)``: target exposures, float64 in [-1, 1] after
  each bar's close (``+1`` long all-in, ``-1`` short, ``0`` flat, NaN hold: no change), shape
  ``(n,)`` for one symbol and ``(n, k)`` for ``k`` symbols. The value at bar ``i`` may use bars
  ``0..i`` only (a test appends future bars and checks nothing earlier changes);
* and/or the *event* style, ``on_start(ctx)`` once and ``on_bar(ctx, bar)`` after each bar's
  close, placing market, limit, stop, stop-limit, trailing-stop and bracket orders through
  ``ctx`` (:class:`neural_trader.backtest.event.EventContext`; ``bar`` is the bar's index and
  ``ctx.params`` the parameters); ``on_fill(ctx, fill)`` observes fills.

A strategy that has only ``signals`` also runs on the event engine (its targets become
``ctx.order_target`` calls); one that has only ``on_bar`` runs only on the event engine.
Strategies are shared, stateless objects: per-run state lives on ``ctx.state``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast, runtime_checkable

import attrs
import numpy as np

from neural_trader.errors import NtUserError

if TYPE_CHECKING:
    from neural_trader.backtest.event import EventContext, Fill

__all__ = ["BarsInput", "BarsLike", "Strategy", "StrategyLike", "close_of", "columns_of"]


@runtime_checkable
class BarsLike(Protocol):
    """What a strategy reads from market data: aligned float64 columns (``neural_trader.domain.
    market.Bars`` is one; so is anything with these attributes)."""

    @property
    def open(self) -> np.ndarray: ...

    @property
    def high(self) -> np.ndarray: ...

    @property
    def low(self) -> np.ndarray: ...

    @property
    def close(self) -> np.ndarray: ...


#: One series, or a sequence of aligned series for multi-symbol strategies.
BarsInput = BarsLike | Sequence[BarsLike]


@runtime_checkable
class StrategyLike(Protocol):
    """The duck type the engines and services accept (a :class:`Strategy` satisfies it)."""

    name: str
    summary: str
    params_type: type
    symbols_required: int

    def warmup(self, params: Any) -> int: ...

    def constraints(self, params: Any) -> list[str]: ...


class Strategy:
    """Base class for strategies; subclasses set the class attributes and override what they do.

    Subclass at least ``name``, ``summary``, ``params_type``, ``warmup`` and one of ``signals`` /
    ``on_bar``. :attr:`has_signals` and :attr:`has_events` say which styles a strategy implements.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params_type: ClassVar[type] = type(None)
    symbols_required: ClassVar[int] = 1
    #: True when the rules need short positions (a pair's second leg): engines then refuse a
    #: config with ``allow_short=False`` instead of silently dropping the short side.
    needs_short: ClassVar[bool] = False

    # -- parameters ------------------------------------------------------------------------------
    def default_params(self) -> Any:
        """The parameter set with every default."""
        return self.params_type()

    def make_params(self, values: Any = None, /, **overrides: Any) -> Any:
        """A validated parameter instance from ``None`` (defaults), an instance, or a mapping of
        field values (unknown names, out-of-range values and :meth:`constraints` are
        :class:`~neural_trader.errors.NtUserError` naming the field)."""
        if isinstance(values, self.params_type) and not overrides:
            params = values
        else:
            if values is None:
                fields: dict[str, Any] = {}
            elif isinstance(values, self.params_type):
                fields = attrs.asdict(cast(Any, values), recurse=False)
            elif isinstance(values, Mapping):
                fields = dict(values)
            else:
                raise NtUserError(f"params for strategy {self.name!r} must be a mapping or "
                                  f"{self.params_type.__name__}, got {type(values).__name__}")
            fields.update(overrides)
            known = {f.name for f in attrs.fields(self.params_type)}
            unknown = sorted(set(fields) - known)
            if unknown:
                raise NtUserError(f"strategy {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                                  f"its parameters are {', '.join(sorted(known))}")
            try:
                params = self.params_type(**fields)
            except (TypeError, ValueError) as exc:
                raise NtUserError(f"invalid parameters for strategy {self.name!r}: {exc}") from None
        problems = self.constraints(params)
        if problems:
            raise NtUserError(f"invalid parameters for strategy {self.name!r}: {'; '.join(problems)}")
        return params

    def constraints(self, params: Any) -> list[str]:
        """Problems with a parameter set beyond single-field bounds (empty when valid)."""
        return []

    def warmup(self, params: Any) -> int:
        """Leading bars without a defined signal: the longest lookback the rules use."""
        raise NotImplementedError

    def missing_data(self, bars: Any, params: Any) -> str | None:
        """Why there is nothing to act on in ``bars`` (data the strategy needs besides them), else None."""
        return None

    # -- vectorized style ------------------------------------------------------------------------
    def signals(self, bars: Any, params: Any) -> np.ndarray:
        """Target exposure after each bar (see the module docstring); NaN holds."""
        raise NotImplementedError(f"strategy {self.name!r} has no vectorized signals; use the event engine")

    def sim_overrides(self, params: Any) -> dict[str, float]:
        """Exit rules the strategy's parameters set for the simulator (``stop_loss``,
        ``take_profit``, ``trailing_stop`` as fractions); they replace the config's values."""
        return {}

    # -- event style -----------------------------------------------------------------------------
    def on_start(self, ctx: EventContext) -> None:
        """Called once before the first bar; precompute indicators onto ``ctx.state`` here."""

    def on_bar(self, ctx: EventContext, bar: int) -> None:
        """Called after the close of bar ``bar``; place or cancel orders through ``ctx``."""
        raise NotImplementedError

    def on_fill(self, ctx: EventContext, fill: Fill) -> None:
        """Called after each fill of one of this run's orders (the portfolio is already updated)."""

    # -- introspection ---------------------------------------------------------------------------
    @property
    def has_signals(self) -> bool:
        return type(self).signals is not Strategy.signals

    @property
    def has_events(self) -> bool:
        return type(self).on_bar is not Strategy.on_bar

    def describe(self) -> dict[str, Any]:
        """Plain-JSON description: name, summary, styles, symbols and the parameters' schema."""
        from neural_trader.schema import schema_for

        return {
            "name": self.name,
            "summary": self.summary,
            "description": self.description or inspect.cleandoc(type(self).__doc__ or "") or self.summary,
            "symbols_required": self.symbols_required,
            "styles": [s for s, ok in (("vectorized", self.has_signals), ("event", self.has_events)) if ok],
            "params_schema": schema_for(self.params_type),
            "defaults": attrs.asdict(self.default_params()) if attrs.has(self.params_type) else {},
        }

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


def columns_of(bars: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(open, high, low, close)`` of one series as float64 arrays (no copy when already so)."""
    return tuple(np.ascontiguousarray(getattr(bars, k), dtype=np.float64)  # type: ignore[return-value]
                 for k in ("open", "high", "low", "close"))


def close_of(bars: Any) -> np.ndarray:
    """The close column as a contiguous float64 array."""
    return np.ascontiguousarray(bars.close, dtype=np.float64)
