"""JSON Schema (draft 2020-12) derived from attrs classes.

The one schema an operation has feeds MCP ``inputSchema``/``outputSchema``, the OpenAPI document, click
option types and input validation. Supported: str, int, float, bool, Decimal, datetime, date, enums,
Literal, Optional/unions, list/tuple/set, dict[str, X], nested attrs classes; numeric bounds, lengths,
patterns and choices from attrs validators (``ge``/``gt``/``le``/``lt``, ``min_len``/``max_len``,
``matches_re``, ``in_``) or from field metadata (``description``, ``minimum`` ... , ``examples``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

#: Field metadata keys copied verbatim into the property schema.
_METADATA_KEYS = (
    "description",
    "title",
    "examples",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "format",
    "deprecated",
    "x-pattern-hint",
    "x-unit",
)


#: Dates and times start with a year from 1678 to 2261: the span nanosecond bar times can hold (see
#: :data:`neural_trader.serde.EARLIEST`). The schema says so, so that clients (and fuzzers) know it.
YEAR_SPAN_PATTERN = r"^(16(7[89]|[89][0-9])|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])-"
_TIME_HINT = "a date or ISO 8601 date-time from 1678 to 2261, such as 2024-01-02 or 2024-01-02T15:30:00Z"

_NUMBER_OPS = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}


class SchemaError(TypeError):
    """A type that cannot be expressed as JSON Schema (a bug in an operation's declaration)."""


def param(
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    description: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: str | None = None,
    pattern_hint: str | None = None,
    item_pattern: str | None = None,
    unit: typing.Literal["fraction", "money", "bps", "plain"] | None = None,
    examples: Sequence[Any] | None = None,
    secret: bool = False,
) -> Any:
    """An attrs field for an operation parameter or result, with bounds that validate *and* document.

    Bounds become attrs validators (so a bad value never constructs) and JSON Schema keywords (so
    every frontend shows and checks them before the handler runs). ``pattern_hint`` says in words
    what ``pattern`` accepts ("a ticker such as AAPL"); a validation error quotes it instead of the
    regular expression (it is published as the schema annotation ``x-pattern-hint``).
    ``item_pattern`` is the pattern every item of a list of strings must match (``pattern_hint`` then
    describes an item). ``unit`` says what a number measures (the schema annotation ``x-unit``): a
    ``fraction`` (0.05 is 5 %), ``money`` (in the account's currency), ``bps``, or ``plain`` (its own
    unit, such as a percentile from 0 to 100: it takes none from the object around it); the CLI
    prints it so (``5.00%``, ``-1,355.12``, ``12 bps``, ``48.4``).
    """
    validators: list[Callable[..., Any]] = []
    for bound, op in ((ge, attrs.validators.ge), (gt, attrs.validators.gt), (le, attrs.validators.le),
                      (lt, attrs.validators.lt)):
        if bound is not None:
            validators.append(_optional(op(bound)))
    if min_len is not None:
        validators.append(_optional(attrs.validators.min_len(min_len)))
    if max_len is not None:
        validators.append(_optional(attrs.validators.max_len(max_len)))
    if pattern is not None:
        validators.append(_optional(attrs.validators.matches_re(pattern, func=re.search)))
    if item_pattern is not None:
        validators.append(_optional(attrs.validators.deep_iterable(
            attrs.validators.matches_re(item_pattern, func=re.search))))
    metadata: dict[str, Any] = {}
    if description:
        metadata["description"] = description
    if examples is not None:
        metadata["examples"] = list(examples)
    if pattern_hint is not None:
        metadata["x-pattern-hint"] = pattern_hint
    if unit is not None:
        metadata["x-unit"] = unit
    if secret:
        metadata["secret"] = True
    kwargs: dict[str, Any] = {"metadata": metadata, "validator": validators or None}
    if factory is not None:
        kwargs["factory"] = factory
    elif default is not attrs.NOTHING:
        kwargs["default"] = default
    if secret:
        kwargs["repr"] = lambda value: "***" if value else repr(value)
    return attrs.field(**kwargs)


def _optional(validator: Any) -> Any:
    # None passes bounds: Optional fields keep their bounds for real values.
    return attrs.validators.optional(validator)


def schema_for(cls: type, *, title: bool = True, inputs: bool = False) -> dict[str, Any]:
    """The JSON Schema of an attrs class (an object schema, nested classes inlined).

    ``inputs``: the schema of parameters, whose amounts are held to :data:`DECIMAL_MAX_DIGITS`
    integer digits (a result may hold a larger one, a notional say).
    """
    schema = _SchemaBuilder().object_schema(cls, title=title)
    _finish_decimals(schema, max_digits=DECIMAL_MAX_DIGITS if inputs else None)
    return schema


def _finish_decimals(node: Any, *, max_digits: int | None) -> None:
    """Every decimal in ``node`` (at any depth: fields, list items, map values) gets the pattern of
    its bounds, and, for inputs, the magnitude bound of :data:`DECIMAL_MAX_DIGITS`."""
    if isinstance(node, list):
        for item in node:
            _finish_decimals(item, max_digits=max_digits)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _finish_decimals(value, max_digits=max_digits)
    if node.get("format") == "decimal":
        _bound_decimal_text(node, max_digits=max_digits)


class _SchemaBuilder:
    def __init__(self) -> None:
        self._stack: list[type] = []

    def object_schema(self, cls: type, *, title: bool = True) -> dict[str, Any]:
        if not attrs.has(cls):
            raise SchemaError(f"{cls!r} is not an attrs class")
        if cls in self._stack:
            raise SchemaError(f"recursive type {cls.__name__} cannot be inlined")
        self._stack.append(cls)
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
            properties: dict[str, Any] = {}
            required: list[str] = []
            for field in attrs.fields(cls):
                if not field.init:
                    continue
                name = field.alias or field.name
                prop = self.type_schema(hints.get(field.name, field.type))
                _apply_validators(prop, field.validator)
                _bound_integer(_scalar_target(prop))
                for key in _METADATA_KEYS:
                    if key in field.metadata:
                        # The hint sits beside the pattern it explains (the non-null branch of an Optional).
                        target = _pattern_target(prop) if key == "x-pattern-hint" else prop
                        target[key] = field.metadata[key]
                if field.metadata.get("secret"):
                    prop["writeOnly"] = True
                if field.default is attrs.NOTHING:
                    required.append(name)
                elif not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type,unused-ignore]
                    prop["default"] = _json_default(field.default)
                elif not field.default.takes_self:
                    prop["default"] = _json_default(field.default.factory())
                properties[name] = prop
            schema: dict[str, Any] = {"type": "object", "properties": properties}
            if required:
                schema["required"] = required
            schema["additionalProperties"] = False
            if title:
                schema["title"] = cls.__name__
            doc = (cls.__doc__ or "").strip()
            if doc and not doc.startswith(cls.__name__ + "("):
                schema["description"] = doc.split("\n\n")[0].replace("\n", " ")
            return schema
        finally:
            self._stack.pop()

    def type_schema(self, tp: Any) -> dict[str, Any]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.type_schema(args[0])
        if tp is Any or tp is object:
            return {}
        if tp is type(None):
            return {"type": "null"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if tp is str:
            return {"type": "string"}
        if tp is bytes:
            return {"type": "string", "contentEncoding": "base64"}
        if tp is decimal.Decimal:
            return {"type": ["string", "number"], "format": "decimal",
                    "x-pattern-hint": "a decimal number such as 12.50, without an exponent"}
        if tp is dt.datetime:
            return {"type": "string", "format": "date-time", "pattern": YEAR_SPAN_PATTERN,
                    "x-pattern-hint": _TIME_HINT}
        if tp is dt.date:
            return {"type": "string", "format": "date", "pattern": YEAR_SPAN_PATTERN,
                    "x-pattern-hint": _TIME_HINT}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            values = [m.value for m in tp]
            return {"type": _json_type_of(values), "enum": values, "title": tp.__name__}
        if origin is typing.Literal:
            values = list(args)
            return {"type": _json_type_of(values), "enum": values}
        if origin in (typing.Union, types.UnionType):
            non_null = [a for a in args if a is not type(None)]
            nullable = len(non_null) != len(args)
            if len(non_null) == 1:
                inner = self.type_schema(non_null[0])
                if not nullable:
                    return inner
                return _nullable(inner)
            options = [self.type_schema(a) for a in non_null]
            if nullable:
                options.append({"type": "null"})
            return {"anyOf": options}
        if origin in (list, Sequence, set, frozenset, tuple) or tp in (list, tuple, set, frozenset):
            if origin is tuple and args and args[-1] is not Ellipsis:
                return {
                    "type": "array",
                    "prefixItems": [self.type_schema(a) for a in args],
                    "minItems": len(args),
                    "maxItems": len(args),
                }
            item = self.type_schema(args[0]) if args else {}
            schema: dict[str, Any] = {"type": "array", "items": item}
            if origin in (set, frozenset):
                schema["uniqueItems"] = True
            return schema
        if origin in (dict, Mapping) or tp is dict:
            if args and args[0] is not str:
                raise SchemaError(f"only dict[str, X] maps to JSON, not {tp!r}")
            return {"type": "object", "additionalProperties": self.type_schema(args[1]) if args else {}}
        if attrs.has(tp):
            return self.object_schema(tp)
        raise SchemaError(f"cannot express {tp!r} as JSON Schema")


def _nullable(inner: dict[str, Any]) -> dict[str, Any]:
    kind = inner.get("type")
    if isinstance(kind, str) and "anyOf" not in inner and kind not in ("object", "array"):
        out = dict(inner)
        out["type"] = [kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    if isinstance(kind, list) and "null" not in kind:
        return {**inner, "type": [*kind, "null"]}
    return {"anyOf": [inner, {"type": "null"}]}


def _json_type_of(values: list[Any]) -> str | list[str]:
    kinds = []
    for v in values:
        kind = ("boolean" if isinstance(v, bool) else "integer" if isinstance(v, int)
                else "number" if isinstance(v, float) else "null" if v is None else "string")
        if kind not in kinds:
            kinds.append(kind)
    return kinds[0] if len(kinds) == 1 else kinds


def _json_default(value: Any) -> Any:
    from neural_trader.serde import wire

    return wire.unstructure(value)


def _length_keywords(target: Mapping[str, Any]) -> tuple[str, str]:
    """JSON Schema's (minimum, maximum) length keywords for ``target``'s type: a list counts items, an
    object its properties (``len()`` of a dict), anything else characters."""
    kind = target.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "array" in kinds:
        return "minItems", "maxItems"
    if "object" in kinds:
        return "minProperties", "maxProperties"
    return "minLength", "maxLength"


def _apply_validators(prop: dict[str, Any], validator: Any) -> None:
    """Translate attrs validators into JSON Schema keywords on ``prop`` (in place)."""
    if validator is None:
        return
    inner = getattr(validator, "_validators", None)  # attrs.validators.and_ / a list
    if inner is not None:
        for v in inner:
            _apply_validators(prop, v)
        return
    wrapped = getattr(validator, "validator", None)  # attrs.validators.optional
    if wrapped is not None and type(validator).__name__ == "_OptionalValidator":
        for v in wrapped if isinstance(wrapped, list | tuple) else [wrapped]:
            _apply_validators(prop, v)
        return
    name = type(validator).__name__
    target = _scalar_target(prop)
    if name == "_DeepIterable" and isinstance(target.get("items"), dict):
        _apply_validators(target["items"], validator.member_validator)
        return
    if name == "_NumberValidator":
        target[_NUMBER_OPS[validator.compare_op]] = validator.bound
    elif name == "_MinLengthValidator":
        target[_length_keywords(target)[0]] = validator.min_length
    elif name == "_MaxLengthValidator":
        target[_length_keywords(target)[1]] = validator.max_length
    elif name == "_MatchesReValidator":
        target["pattern"] = validator.pattern.pattern
    elif name == "_InValidator":
        options = list(validator.options)
        target["enum"] = [o.value if isinstance(o, enum.Enum) else o for o in options]


#: Decimal text has at most this many integer digits (``serde`` refuses larger amounts as typos).
DECIMAL_MAX_DIGITS = 30


def decimal_pattern(*, minimum: Any = None, exclusive_minimum: Any = None, maximum: Any = None,
                    exclusive_maximum: Any = None, max_digits: int | None = DECIMAL_MAX_DIGITS) -> str:
    """The pattern of decimal *text* within these bounds, as far as a pattern can say it.

    JSON Schema bounds apply to numbers only, so a decimal written as text (``"0"`` for a quantity
    that must be > 0) would pass a schema that its validator refuses. The pattern carries what it can:
    no sign when the lower bound is 0, a nonzero digit when it is exclusive, and no more integer
    digits than the upper bound has (``<= 100``: up to two digits, or exactly 100) or than
    :data:`DECIMAL_MAX_DIGITS`. No exponent. Other bounds stay with the validator alone.
    """
    lower = exclusive_minimum if exclusive_minimum is not None else minimum
    upper = exclusive_maximum if exclusive_maximum is not None else maximum
    digits: int | None = max_digits
    exact = None
    if upper is not None and float(upper) >= 1 and float(upper) == int(upper) \
            and (max_digits is None or len(str(int(upper))) - 1 < max_digits):
        digits = len(str(int(upper))) - 1
        if exclusive_maximum is None:
            exact = rf"0*{int(upper)}(\.0*)?"
    if digits is None:
        nonzero_int: str | None = r"0*[1-9][0-9]*(\.[0-9]*)?"
    else:
        nonzero_int = rf"0*[1-9][0-9]{{0,{digits - 1}}}(\.[0-9]*)?" if digits > 0 else None
    if lower is not None and float(lower) == 0 and exclusive_minimum is not None:
        forms = [nonzero_int, r"0*\.[0-9]*[1-9][0-9]*"]
        sign = r"\+?"
    else:
        forms = [nonzero_int, r"0+(\.[0-9]*)?", r"0*\.[0-9]+"]
        sign = r"\+?" if lower is not None and float(lower) >= 0 else r"[+-]?"
    if exact is not None:
        forms.append(exact)
    return rf"^{sign}({'|'.join(f for f in forms if f)})$"


#: Integers stay within what every JSON client holds exactly (and what SQL offsets and limits take).
MAX_SAFE_INTEGER = 2**53 - 1


def _bound_integer(prop: dict[str, Any]) -> None:
    """An integer property without bounds gets JSON's safe-integer range as its bounds."""
    if prop.get("type") != "integer" and not (isinstance(prop.get("type"), list) and "integer" in prop["type"]):
        return
    if "maximum" not in prop and "exclusiveMaximum" not in prop:
        prop["maximum"] = MAX_SAFE_INTEGER
    if "minimum" not in prop and "exclusiveMinimum" not in prop:
        prop["minimum"] = -MAX_SAFE_INTEGER


def _bound_decimal_text(prop: dict[str, Any], *, max_digits: int | None) -> None:
    """Give a decimal property the pattern of its bounds (see :func:`decimal_pattern`), and, when
    ``max_digits`` is set, the magnitude bound for numbers too."""
    prop["pattern"] = decimal_pattern(
        minimum=prop.get("minimum"), exclusive_minimum=prop.get("exclusiveMinimum"),
        maximum=prop.get("maximum"), exclusive_maximum=prop.get("exclusiveMaximum"), max_digits=max_digits)
    prop.setdefault("x-pattern-hint", "a decimal number such as 12.50, without an exponent")
    if max_digits is None:
        return
    if "maximum" not in prop and "exclusiveMaximum" not in prop:
        prop["exclusiveMaximum"] = 10**max_digits
    if "minimum" not in prop and "exclusiveMinimum" not in prop:
        prop["exclusiveMinimum"] = -(10**max_digits)


def _pattern_target(prop: dict[str, Any]) -> dict[str, Any]:
    """Where a field's pattern sits: the field itself, its non-null branch, or its items."""
    target = _scalar_target(prop)
    items = target.get("items")
    return items if isinstance(items, dict) and "pattern" in items else target


def _scalar_target(prop: dict[str, Any]) -> dict[str, Any]:
    # For Optional[X] expressed as anyOf, bounds belong to the non-null branch.
    for branch in prop.get("anyOf", ()):
        if branch.get("type") != "null":
            return branch  # type: ignore[no-any-return,unused-ignore]
    return prop
