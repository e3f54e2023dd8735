"""click options generated from an operation's JSON Schema (one option per top-level property)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


class JsonParam(click.ParamType):
    """A JSON value given inline (``'{"a": 1}'``) or from a file (``@params.json``)."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        text = value
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                self.fail(f"cannot read {path}: {exc.strerror}", param, ctx)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", param, ctx)


JSON = JsonParam()

_SCALARS = {"string": click.STRING, "integer": click.INT, "number": click.FLOAT, "boolean": click.BOOL}


def option_name(prop: str) -> str:
    return "--" + prop.replace("_", "-")


def _main_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        if len(rest) != 1:
            return None
        kind = rest[0]
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        return _main_type(branches[0]) if len(branches) == 1 else None
    return kind if isinstance(kind, str) else None


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The one non-null branch of an optional ``anyOf`` (an optional list's array schema), else ``schema``."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    return branches[0] if len(branches) == 1 else schema


def _scalar_type(schema: dict[str, Any]) -> click.ParamType | None:
    kind = _main_type(schema)
    if schema.get("format") == "decimal":
        return click.STRING
    if "enum" in schema:
        values = [v for v in schema["enum"] if v is not None]
        if all(isinstance(v, str) for v in values):
            return click.Choice(values)
    if kind == "integer" and any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return click.IntRange(
            min=schema.get("minimum", schema.get("exclusiveMinimum")),
            max=schema.get("maximum", schema.get("exclusiveMaximum")),
            min_open="exclusiveMinimum" in schema, max_open="exclusiveMaximum" in schema,
        )
    if kind == "number" and any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return click.FloatRange(
            min=schema.get("minimum", schema.get("exclusiveMinimum")),
            max=schema.get("maximum", schema.get("exclusiveMaximum")),
            min_open="exclusiveMinimum" in schema, max_open="exclusiveMaximum" in schema,
        )
    return _SCALARS.get(kind or "")


def _help(schema: dict[str, Any], required: bool, extra: str = "") -> str:
    parts = [schema.get("description", "")]
    if extra:
        parts.append(extra)
    if required:
        parts.append("[required]")
    elif "default" in schema and schema["default"] not in (None, "", [], {}):
        parts.append(f"[default: {json.dumps(schema['default'])}]")
    return " ".join(p for p in parts if p)


def _is_image(schema: dict[str, Any]) -> bool:
    return schema.get("title") == "Image" or any(_is_image(b) for b in schema.get("anyOf", ()))


def image_fields(output_schema: dict[str, Any]) -> list[str]:
    """The result's top-level picture fields (``Image`` or ``Image | None``)."""
    return [name for name, prop in output_schema.get("properties", {}).items() if _is_image(prop)]


def chart_parameter(input_schema: dict[str, Any], output_schema: dict[str, Any]) -> tuple[str, Any] | None:
    """The parameter that asks for the result's picture, and the value that asks for it.

    It is the parameter named like a picture field of the result (``chart`` asks for ``chart``): a
    boolean (asked with ``true``) or a choice of kinds (asked with its first kind that is not
    ``none``, such as ``equity`` or ``candles``).
    """
    properties = input_schema.get("properties", {})
    for field in image_fields(output_schema):
        schema = properties.get(field)
        if schema is None:
            continue
        if _main_type(schema) == "boolean":
            return field, True
        kinds = [v for v in schema.get("enum", ()) if isinstance(v, str) and v.lower() != "none"]
        if kinds:
            return field, kinds[0]
    return None


def can_plot(input_schema: dict[str, Any], output_schema: dict[str, Any]) -> bool:
    """Whether ``--plot FILE`` can ever write a picture: a parameter asks for one, or every result
    has one."""
    required = set(output_schema.get("required", ()))
    return (chart_parameter(input_schema, output_schema) is not None
            or any(f in required for f in image_fields(output_schema)))


def options_for(input_schema: dict[str, Any], chart: tuple[str, Any] | None = None) -> list[click.Option]:
    """One click option per parameter; complex parameters take JSON or ``@file.json``.

    ``chart`` (from :func:`chart_parameter`): that parameter's option also works alone (``--chart``
    asks for the default picture, as ``--plot FILE`` does).
    """
    required = set(input_schema.get("required", ()))
    out: list[click.Option] = []
    for prop, schema in input_schema.get("properties", {}).items():
        is_required = prop in required
        kind = _main_type(schema)
        name = option_name(prop)
        if chart is not None and prop == chart[0]:
            out.append(_chart_option(prop, schema, chart[1]))
            continue
        if kind == "boolean":
            out.append(click.Option([f"{name}/--no-{prop.replace('_', '-')}", prop], default=None,
                                    help=_help(schema, is_required)))
            continue
        if kind == "array":
            item_type = _scalar_type(_non_null(schema).get("items", {}))
            if item_type is not None:
                out.append(click.Option([name, prop], type=item_type, multiple=True, default=None,
                                        help=_help(schema, is_required, "(repeat the option for several values)")))
                continue
        scalar = _scalar_type(schema) if kind not in ("array", "object") else None
        if scalar is not None:
            out.append(click.Option([name, prop], type=scalar, default=None, help=_help(schema, is_required),
                                    metavar=_metavar(schema, scalar)))
        else:
            out.append(click.Option([name, prop], type=JSON, default=None,
                                    help=_help(schema, is_required, "(JSON, or @file.json)")))
    return out


def _chart_option(prop: str, schema: dict[str, Any], asks: Any) -> click.Option:
    name = option_name(prop)
    if asks is True:
        return click.Option([f"{name}/--no-{prop.replace('_', '-')}", prop], default=None,
                            help=_help(schema, False))
    kinds = [v for v in schema["enum"] if v is not None]
    return click.Option([name, prop], type=click.Choice(kinds), is_flag=False, flag_value=asks, default=None,
                        help=_help(schema, False, f"({name} alone: {asks})"))


def _metavar(schema: dict[str, Any], scalar: click.ParamType) -> str | None:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "DATETIME"
    if fmt == "date":
        return "DATE"
    if fmt == "decimal":
        return "DECIMAL"
    return None


def collect(input_schema: dict[str, Any], values: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """The raw params dict: ``--params`` first, then every option the user actually gave."""
    raw: dict[str, Any] = dict(base or {})
    for prop in input_schema.get("properties", {}):
        value = values.get(prop)
        if value is None or (isinstance(value, tuple) and not value):
            continue
        raw[prop] = list(value) if isinstance(value, tuple) else value
    return raw
