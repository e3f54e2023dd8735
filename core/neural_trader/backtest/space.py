"""Parameter spaces of a strategy: ranges per parameter, checked against the strategy's bounds.

A :class:`ParamRange` is a list of ``values``, or ``low``..``high`` with an optional ``step`` (and
``num`` grid points for a float range without a step, ``log`` for a geometric spread). Every value
must lie within the parameter's declared bounds. Parameters without a range stay at their fixed
value (given, or the default). Without any range, :func:`default_space` searches every numeric
parameter around its default.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from neural_trader.backtest.params import ParamInfo, describe_params, validate_params
from neural_trader.errors import NtCrossFieldError, NtUserError
from neural_trader.schema import param

__all__ = [
    "Dim", "ParamRange", "checked_point", "default_space", "grid", "grid_size", "random_points", "resolve_space",
]

#: Multiples of a default that :func:`default_space` tries.
DEFAULT_FACTORS: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
DEFAULT_GRID_POINTS = 5


@attrs.frozen(kw_only=True)
class ParamRange:
    """Values to try for one parameter: a list, or a range."""

    values: list[Any] | None = param(default=None, min_len=1, max_len=10_000,
                                     description="the values to try (any type the parameter takes)")
    low: float | None = param(default=None, description="lowest value of a range")
    high: float | None = param(default=None, description="highest value of a range (included)")
    step: float | None = param(default=None, gt=0, description="grid step of a range (integers: default 1)")
    num: int | None = param(default=None, ge=2, le=10_000,
                            description="grid points of a float range without a step (default 5)")
    log: bool = param(default=False, description="spread a range geometrically (random/optuna: log-uniform)")


@attrs.frozen(kw_only=True)
class Dim:
    """One searched parameter: a finite list of values, or an int/float range."""

    name: str
    info: ParamInfo
    values: tuple[Any, ...] | None = None
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    num: int = DEFAULT_GRID_POINTS
    log: bool = False

    @property
    def is_int(self) -> bool:
        return self.info.type == "integer"

    def grid_values(self) -> tuple[Any, ...]:
        if self.values is not None:
            return self.values
        if self.is_int:
            step = int(self.step or 1)
            if self.log and self.step is None:
                points = np.geomspace(self.low, self.high, self.num)
                return tuple(dict.fromkeys(round(v) for v in points))
            return tuple(range(int(self.low), int(self.high) + 1, step))
        if self.step is not None:
            count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
            return tuple(round(self.low + k * self.step, 12) for k in range(count))
        spread = np.geomspace if self.log else np.linspace
        return tuple(float(v) for v in spread(self.low, self.high, self.num))

    def draw(self, rng: np.random.Generator) -> Any:
        """One random value (uniform over values, the integers, or the float range)."""
        if self.values is not None:
            return self.values[int(rng.integers(0, len(self.values)))]
        if self.step is not None:
            count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
            value = self.low + int(rng.integers(0, count)) * self.step
            return round(value) if self.is_int else round(value, 12)
        if self.log:
            value = float(np.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        else:
            value = float(rng.uniform(self.low, self.high))
        return int(min(self.high, max(self.low, round(value)))) if self.is_int else value


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def resolve_space(strategy: Any, space: Mapping[str, ParamRange], *, path: str = "$.space") -> list[Dim]:
    """Check ``space`` against the strategy's parameters and their bounds; ranges become :class:`Dim`.

    :raises NtCrossFieldError: an unknown parameter, an empty or inverted range, a value outside the
        parameter's bounds: each with its path and the bounds.
    """
    infos = {i.name: i for i in describe_params(strategy.params_type)}
    problems: list[dict[str, str]] = []
    dims = []
    for name, rng in space.items():
        where = f"{path}.{name}"
        info = infos.get(name)
        if info is None:
            problems.append(_problem(where, f"strategy {strategy.name!r} has no parameter {name!r}; its "
                                            f"parameters are {', '.join(infos)}"))
            continue
        if rng.values is not None:
            bad = [v for v in rng.values if not _fits(info, v)]
            if bad:
                problems.append(_problem(f"{where}.values", f"{name} must be {_kind(info)} {info.bounds_text()}; "
                                                           f"not {', '.join(map(repr, bad[:5]))}"))
                continue
            cast = tuple(int(v) if info.type == "integer" else v for v in rng.values)
            dims.append(Dim(name=name, info=info, values=tuple(dict.fromkeys(cast))))
            continue
        if not info.numeric:
            problems.append(_problem(where, f"{name} is a {info.type}: give `values`, not a range"))
            continue
        if rng.low is None or rng.high is None:
            problems.append(_problem(where, "a range needs both low and high (or give `values`)"))
            continue
        if rng.low > rng.high:
            problems.append(_problem(where, f"low {rng.low:g} is above high {rng.high:g}"))
            continue
        outside = [x for x in (rng.low, rng.high) if not info.allows(x)]
        if outside:
            problems.append(_problem(where, f"{name} must be {info.bounds_text()}; the range "
                                            f"{rng.low:g}..{rng.high:g} goes outside"))
            continue
        if rng.log and rng.low <= 0:
            problems.append(_problem(where, "a log range needs low > 0"))
            continue
        if info.type == "integer" and (rng.step is not None and not float(rng.step).is_integer()):
            problems.append(_problem(f"{where}.step", f"{name} is an integer: the step must be whole"))
            continue
        low, high = (math.ceil(rng.low), math.floor(rng.high)) if info.type == "integer" else (rng.low, rng.high)
        dims.append(Dim(name=name, info=info, low=low, high=high, step=rng.step,
                        num=rng.num or DEFAULT_GRID_POINTS, log=rng.log))
    if problems:
        raise NtCrossFieldError.from_problems(problems)
    return dims


def _kind(info: ParamInfo) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean"}.get(info.type, f"a {info.type}")


def _fits(info: ParamInfo, value: Any) -> bool:
    if info.type == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    elif info.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif info.type == "boolean":
        ok = isinstance(value, bool)
    else:
        ok = True
    return ok and info.allows(value)


#: The factors of the default space by points per parameter, the default (1.0) always among them.
_FACTORS_BY_POINTS: dict[int, tuple[float, ...]] = {
    5: DEFAULT_FACTORS, 4: (0.5, 1.0, 1.5, 2.0), 3: (0.5, 1.0, 2.0), 2: (1.0, 2.0)}


def default_space(strategy: Any, fixed: Mapping[str, Any], *,
                  max_combinations: int | None = None) -> dict[str, ParamRange]:
    """Every numeric parameter not in ``fixed``: its default times 0.5, 0.75, 1, 1.5 and 2, within
    its bounds (integers rounded). Booleans, choices and zero defaults stay fixed. With
    ``max_combinations``, fewer factors per parameter (4, 3, then 2) until the grid fits."""
    infos = [i for i in describe_params(strategy.params_type)
             if i.name not in fixed and i.numeric and i.default]
    space: dict[str, ParamRange] = {}
    for points in sorted(_FACTORS_BY_POINTS, reverse=True):
        space = {}
        for info in infos:
            values = []
            for f in _FACTORS_BY_POINTS[points]:
                v = info.default * f
                v = round(v) if info.type == "integer" else round(v, 10)
                if info.allows(v) and v not in values:
                    values.append(v)
            if len(values) > 1:
                space[info.name] = ParamRange(values=values)
        size = math.prod(len(r.values or ()) for r in space.values())
        if max_combinations is None or size <= max_combinations:
            return space
    return space  # even two values each do not fit: the caller's limit check says so


def grid_size(dims: list[Dim]) -> int:
    return math.prod(len(d.grid_values()) for d in dims) if dims else 1


def checked_point(strategy: Any, fixed: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any] | None:
    """The full parameter dict if the strategy accepts it (constraints included), else None."""
    values = {**fixed, **point}
    try:
        validate_params(strategy, values)
    except NtUserError:
        return None
    return values


def grid(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every combination in order (the first dimension varies slowest); returns (valid ones,
    how many the strategy's constraints refused)."""
    names = [d.name for d in dims]
    valid, refused = [], 0
    for combo in itertools.product(*(d.grid_values() for d in dims)):
        checked = checked_point(strategy, fixed, dict(zip(names, combo, strict=True)))
        if checked is None:
            refused += 1
        else:
            valid.append(checked)
    return valid, refused


def random_points(strategy: Any, dims: list[Dim], fixed: Mapping[str, Any], n: int,
                  seed: int) -> tuple[list[dict[str, Any]], int]:
    """Up to ``n`` distinct valid combinations drawn uniformly with ``default_rng(seed)``; returns
    (them, how many draws the constraints refused). Stops early when the space runs out."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[Any, ...]] = set()
    valid: list[dict[str, Any]] = []
    refused = 0
    finite = all(d.values is not None or d.step is not None or d.is_int for d in dims)
    limit = min(n, grid_size(dims)) if finite else n
    for _ in range(max(100, 50 * n)):  # bounded: a constrained space may refuse most draws
        if len(valid) >= limit:
            break
        point = {d.name: d.draw(rng) for d in dims}
        key = tuple(point[d.name] for d in dims)
        if key in seen:
            continue
        seen.add(key)
        checked = checked_point(strategy, fixed, point)
        if checked is None:
            refused += 1
        else:
            valid.append(checked)
    return valid, refused
