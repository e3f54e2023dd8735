"""Strategies by name, and their parameters checked with messages that name the field and its bounds.

A strategy's ``params_type`` declares each parameter with :func:`neural_trader.schema.param`
(default, bounds, description); :func:`describe_params` reads that back for listings and
:func:`validate_params` checks a plain mapping against it before the strategy sees it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from neural_trader.errors import NtCrossFieldError, NtNotFound, NtUserError
from neural_trader.schema import schema_for

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["ParamInfo", "describe_params", "get_strategy", "strategies_of", "validate_params"]


def strategies_of(host: Host) -> list[Any]:
    """Every registered strategy, by name."""
    return list(host.registry("strategies"))


def get_strategy(host: Host, name: str) -> Any:
    """The strategy registered as ``name``; :class:`NtNotFound` lists the available ones."""
    registry = host.registry("strategies")
    if name not in registry:
        import difflib

        close = difflib.get_close_matches(name, registry.names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise NtNotFound(f"no strategy named {name!r}{hint}; available: {', '.join(registry.names()) or 'none'}",
                         details={"available": registry.names()})
    return registry.get(name)


@attrs.frozen(kw_only=True)
class ParamInfo:
    """One parameter of a strategy: type, default, bounds and meaning."""

    name: str
    type: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[Any, ...] | None = None
    description: str = ""

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "number")

    def bounds_text(self) -> str:
        """``>= 1 and <= 10000``, ``one of 'a', 'b'``, or ``any integer``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return " and ".join(parts) if parts else f"any {self.type}"

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is within the bounds (types are the caller's business)."""
        if self.choices is not None:
            return value in self.choices
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        return not (self.maximum is not None
                    and (value >= self.maximum if self.exclusive_maximum else value > self.maximum))


def _type_name(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "any")
    return str(kind)


@functools.cache
def describe_params(params_type: type) -> tuple[ParamInfo, ...]:
    """The parameters of a strategy's ``params_type``, in declaration order."""
    schema = schema_for(params_type)
    out = []
    for name, prop in schema["properties"].items():
        lo = prop.get("minimum", prop.get("exclusiveMinimum"))
        hi = prop.get("maximum", prop.get("exclusiveMaximum"))
        out.append(ParamInfo(
            name=name, type=_type_name(prop), default=prop.get("default"),
            minimum=lo, maximum=hi, exclusive_minimum="exclusiveMinimum" in prop,
            exclusive_maximum="exclusiveMaximum" in prop,
            choices=tuple(prop["enum"]) if "enum" in prop else None,
            description=prop.get("description", ""),
        ))
    return tuple(out)


def _type_ok(info: ParamInfo, value: Any) -> bool:
    if info.type == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if info.type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if info.type == "boolean":
        return isinstance(value, bool)
    if info.type == "string":
        return isinstance(value, str)
    return True


def validate_params(strategy: Any, raw: Mapping[str, Any] | None, *, path: str = "$.params") -> Any:
    """``raw`` (plain JSON) as the strategy's validated params instance.

    :raises NtCrossFieldError: unknown names, wrong types and out-of-bounds values, every one with
        its path (``$.params.fast``), the field's bounds and the value given.
    :raises NtUserError: a combination the strategy's ``constraints`` refuse (``fast >= slow``).
    """
    raw = dict(raw or {})
    infos = {i.name: i for i in describe_params(strategy.params_type)}
    problems = []
    for key in sorted(set(raw) - set(infos)):
        problems.append({"path": f"{path}.{key}",
                         "message": f"strategy {strategy.name!r} has no parameter {key!r}; its parameters "
                                    f"are {', '.join(infos) or 'none'}"})
    values = {}
    for key, value in raw.items():
        info = infos.get(key)
        if info is None:
            continue
        if not _type_ok(info, value):
            problems.append({"path": f"{path}.{key}",
                             "message": f"{key} must be {'an' if info.type == 'integer' else 'a'} {info.type} "
                                        f"({info.bounds_text()}), got {value!r}"})
        elif not info.allows(value):
            problems.append({"path": f"{path}.{key}",
                             "message": f"{key} must be {info.bounds_text()}, got {value!r}"})
        else:
            values[key] = int(value) if info.type == "integer" else value
    if problems:
        raise NtCrossFieldError.from_problems(problems)
    try:
        return strategy.make_params(values)
    except NtUserError:
        raise
    except (TypeError, ValueError) as exc:
        raise NtUserError(f"invalid parameters for strategy {strategy.name!r}: {exc}") from None


def params_dict(params: Any) -> dict[str, Any]:
    """A params instance as a plain dict of its fields (every default filled in)."""
    return attrs.asdict(params, recurse=False) if attrs.has(type(params)) else dict(params)
