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
from typing import Any

import cattrs
from cattrs.preconf.json import make_converter

__all__ = ["parse_datetime", "problems_from_exception", "wire"]


def parse_datetime(value: Any) -> dt.datetime:
    """ISO 8601 text (or epoch seconds) to an aware UTC datetime; naive input is taken as UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time (e.g. 2024-01-31T15:30:00Z)") from None
    else:
        raise ValueError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _parse_date(value: Any, _: type) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date string, got {type(value).__name__}")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date (e.g. 2024-01-31)") from None


#: Amounts beyond 1e±30 are typos or attacks (they overflow decimal contexts downstream).
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
    if out and not -_DECIMAL_EXPONENT_LIMIT <= out.adjusted() <= _DECIMAL_EXPONENT_LIMIT:
        raise ValueError(f"{value!r} is out of range for an amount (magnitude 1e±{_DECIMAL_EXPONENT_LIMIT})")
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
    conv.register_unstructure_hook(decimal.Decimal, str)
    conv.register_structure_hook(bytes, _parse_bytes)
    conv.register_unstructure_hook(bytes, lambda v: base64.b64encode(v).decode("ascii"))
    return conv


#: The converter every frontend uses.
wire: cattrs.Converter = _make_wire()


def problems_from_exception(exc: BaseException, root: str = "$") -> list[dict[str, str]]:
    """Flatten a cattrs error (or an attrs validator error) into ``[{path, message}]``."""
    if isinstance(exc, cattrs.BaseValidationError):
        out = []
        for line in cattrs.transform_error(exc, path=root):
            message, _, path = line.rpartition(" @ ")
            out.append({"path": path or root, "message": message or line})
        return out
    return [{"path": root, "message": str(exc)}]
