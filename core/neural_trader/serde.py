"""The cattrs converter for the JSON wire (CLI, MCP, REST all use this one).

Domain code never sees dicts and adapters never see attrs objects: ``wire.structure(raw, Params)``
at the way in, ``wire.unstructure(result)`` at the way out. Extra keys are an error; errors carry
the JSON path of the bad field (see :func:`problems_from_exception`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import cattrs
from cattrs.preconf.json import make_converter

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DEPTH",
    "check_plain_json",
    "clip",
    "loads_json",
    "parse_datetime",
    "problems_from_exception",
    "wire",
]

#: The span of times every part of the system can hold: bar times are int64 nanoseconds since 1970
#: (numpy ``datetime64[ns]``, pandas), which reach from 1677-09-21 to 2262-04-11. Whole years inside.
EARLIEST = dt.datetime(1678, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2261, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
_SPAN_TEXT = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
_DATETIME_FORMS = "a date such as 2024-01-02 or an ISO 8601 date-time such as 2024-01-02T15:30:00Z"

#: Deepest nesting of objects and arrays accepted in parameters. No operation's schema nests
#: anywhere near this; a deeper document is an attack on the recursive parts of validation.
MAX_DEPTH = 32


def clip(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis, so a message never echoes megabytes."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _outside_span(original: Any) -> ValueError:
    return ValueError(f"{clip(repr(original), 40)} is outside the supported span: times must lie {_SPAN_TEXT}")


#: The check allows a day either side, so that every time whose *written* year is in the span (which is
#: what the schemas' pattern says) passes whatever its UTC offset; both ends stay inside int64 ns.
_SLACK = dt.timedelta(days=1)


def _in_span(parsed: dt.datetime, original: Any) -> dt.datetime:
    if not EARLIEST - _SLACK <= parsed <= LATEST + _SLACK:
        raise _outside_span(original)
    return parsed


def parse_datetime(value: Any) -> dt.datetime:
    """ISO 8601 text (or epoch seconds) to an aware UTC datetime; naive input is taken as UTC.

    Times outside :data:`EARLIEST` .. :data:`LATEST` are refused: they do not fit the nanosecond
    timestamps that bars are stored in, and would wrap around to the other end of the range.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{clip(repr(value), 40)} seconds since 1970 is outside the supported span: "
                             f"times must lie {_SPAN_TEXT}") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{clip(repr(value), 40)} is not a date or time: expected {_DATETIME_FORMS}") from None
    else:
        raise ValueError(f"expected {_DATETIME_FORMS}, got {_kind(value)}")
    if parsed.tzinfo is None:
        return _in_span(parsed.replace(tzinfo=dt.UTC), value)
    if not EARLIEST.year <= parsed.year <= LATEST.year:  # converting could overflow datetime itself
        raise _outside_span(value)
    return _in_span(parsed.astimezone(dt.UTC), value)


def _parse_date(value: Any, _: type) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        parsed = value
    elif not isinstance(value, str):
        raise ValueError(f"expected a date such as 2024-01-02, got {_kind(value)}")
    else:
        try:
            parsed = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{clip(repr(value), 40)} is not a date: expected a date such as 2024-01-02") from None
    if not EARLIEST.date() <= parsed <= LATEST.date():
        raise ValueError(f"{parsed.isoformat()} is outside the supported span: dates must lie {_SPAN_TEXT}")
    return parsed


def _kind(value: Any) -> str:
    from neural_trader.ops import json_kind

    return json_kind(value)


# -- JSON that every frontend accepts ---------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {clip(text, 40)} is too large (it does not fit a 64-bit float)")
    return value


def loads_json(data: str | bytes) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, no numbers that overflow to infinity (``1e999``), no
    nesting beyond :data:`MAX_DEPTH`. Raises ``ValueError`` saying what was wrong."""
    try:
        value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"it is nested too deeply (objects and arrays may nest at most {MAX_DEPTH} levels)") from None
    check_depth(value)
    return value


def check_depth(value: Any, path: str = "$") -> None:
    """Raise ``ValueError`` if ``value`` nests objects/arrays deeper than :data:`MAX_DEPTH` (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                raise ValueError(f"it is nested too deeply (objects and arrays may nest at most {MAX_DEPTH} levels)")
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)


def check_plain_json(raw: Any) -> None:
    """Refuse parameters no schema should have to look at, whichever parser produced them (REST's,
    the MCP SDK's, the CLI's): nesting beyond :data:`MAX_DEPTH`, non-finite numbers, keys that are
    not text, and values that are not JSON. Raises :class:`NtValidationError` with the path."""
    from neural_trader.errors import NtValidationError

    stack: list[tuple[Any, str, int]] = [(raw, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        problem = None
        if isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                problem = f"nested too deeply: objects and arrays may nest at most {MAX_DEPTH} levels"
            elif isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        problem = f"object keys must be text, not {_kind(key)}"
                        break
                    stack.append((child, f"{path}.{clip(key, 40)}", depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            problem = "numbers must be finite (not NaN or infinity, and not beyond about 1.8e308)"
        elif not (item is None or isinstance(item, str | int | float | bool)):
            problem = f"expected a JSON value, got {type(item).__name__}"
        if problem is not None:
            raise NtValidationError.from_problems([{"path": path, "message": problem}])


#: Amounts of 1e30 and more are typos or attacks (they overflow decimal contexts downstream); the
#: schemas say so (``neural_trader.schema.DECIMAL_MAX_DIGITS``). Tiny amounts are only small.
_DECIMAL_EXPONENT_LIMIT = 30


def _parse_decimal(value: Any, _: type) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | decimal.Decimal):
        raise ValueError(f"expected a decimal number, got {type(value).__name__}")
    try:
        # str() first so 0.1 (a float) becomes Decimal('0.1'), not its binary expansion.
        out = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not out.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal number")
    if out and out.adjusted() >= _DECIMAL_EXPONENT_LIMIT:
        raise ValueError(f"{clip(repr(value), 40)} is out of range for an amount (at most "
                         f"{_DECIMAL_EXPONENT_LIMIT} digits before the point)")
    return out


def _parse_bytes(value: Any, _: type) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("expected base64 text") from None


def _format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _make_wire() -> cattrs.Converter:
    conv = make_converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(dt.datetime, _format_datetime)
    conv.register_structure_hook(dt.date, _parse_date)
    conv.register_unstructure_hook(dt.date, lambda v: v.isoformat())
    conv.register_structure_hook(decimal.Decimal, _parse_decimal)
    # Plain positional digits, never an exponent ("1E-7"): what the schemas' decimal pattern says.
    conv.register_unstructure_hook(decimal.Decimal, lambda v: format(v, "f"))
    conv.register_structure_hook(bytes, _parse_bytes)
    conv.register_unstructure_hook(bytes, lambda v: base64.b64encode(v).decode("ascii"))
    return conv


#: The converter every frontend uses.
wire: cattrs.Converter = _make_wire()


def problems_from_exception(exc: BaseException, root: str = "$") -> list[dict[str, str]]:
    """Flatten a cattrs error (or an attrs validator error) into ``[{path, message}]``, in words:
    never a Python type name such as ``datetime.datetime | None``."""
    if isinstance(exc, cattrs.BaseValidationError):
        out = []
        for line in cattrs.transform_error(exc, path=root, format_exception=_format_exception):
            message, _, path = line.rpartition(" @ ")
            out.append({"path": path or root, "message": message or line})
        return out
    return [{"path": root, "message": clip(str(exc), 300)}]


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, ValueError | OverflowError) and str(exc):
        return clip(str(exc), 300)  # our hooks and attrs validators say what was wrong
    return f"expected {describe_type(type_)}"


def describe_type(tp: Any) -> str:
    """A Python type in the words a user of any frontend understands."""
    words: dict[Any, str] = {
        dt.datetime: _DATETIME_FORMS, dt.date: "a date such as 2024-01-02", decimal.Decimal: "a decimal number",
        int: "an integer", float: "a number", str: "a string", bool: "true or false", bytes: "base64 text",
        type(None): "null",
    }
    if tp in words:
        return words[tp]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(tp))
    if origin in (list, tuple, set, frozenset):
        return "a JSON array"
    if origin in (dict, Mapping):
        return "a JSON object"
    if origin is typing.Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    return "a JSON object" if hasattr(tp, "__attrs_attrs__") else "a valid value"
