"""The REST API, generated from the operation registry (Starlette, served by uvicorn).

Every operation ``group.verb`` answers ``POST /v1/group/verb`` with a JSON object body; read-only
operations also answer ``GET`` with query parameters, converted to JSON types by the operation's input
schema. The handler is thin: body -> ``op.call(raw, ctx)`` -> JSON. ``?async=true`` (or
``Prefer: respond-async``) runs the operation as a job instead (``202`` + ``Location: /v1/jobs/{id}``).

Errors become ``{"error": {"type", "message", "details", "request_id"}}`` with the error's HTTP status,
in one place (:func:`_error_response`). ``/openapi.json`` (OpenAPI 3.1) and ``/docs`` (self-contained
HTML) are built once per app from the same schemas the MCP server and the CLI use.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import importlib.util
import inspect
import json
import logging
import math
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neural_trader import __version__
from neural_trader.errors import (
    NtBadRequest,
    NtCancelled,
    NtError,
    NtForbidden,
    NtNotFound,
    NtRateLimited,
    NtUnauthorized,
    NtUnavailable,
    NtUserError,
    NtValidationError,
)
from neural_trader.frontends.auth import (
    PROTECTED_RESOURCE_PATH,
    Authenticator,
    host_origin_problem,
    make_authenticator,
    protected_resource_metadata,
    query_token_problem,
    www_authenticate,
)
from neural_trader.frontends.calls import admit, observed, settle_heap
from neural_trader.frontends.http_protocol import HTTP_PROTOCOL
from neural_trader.health import service_checks
from neural_trader.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from neural_trader.metrics import metrics_of
from neural_trader.ops import Scope, describe_json_types, error_payload
from neural_trader.serde import clip, loads_json
from neural_trader.services.identity import bound_caller
from neural_trader.services.jobs import JobManager

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Identity, Operation
    from neural_trader.settings import Settings

__all__ = [
    "ENV_ANON_SCOPES",
    "MAX_BODY_BYTES",
    "build_app",
    "create_app",
    "docs_html",
    "openapi_document",
    "serve",
]

log = logging.getLogger("neural_trader.rest")

#: Largest request body accepted (413 beyond it).
MAX_BODY_BYTES = 1 << 20
#: Environment variable carrying the scopes of unauthenticated callers to worker processes.
ENV_ANON_SCOPES = "NT_REST_ANON_SCOPES"
JOBS_PREFIX = "/v1/jobs/"

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}
_JSON_HEADERS = {"content-type": "application/json"}


class _PayloadTooLarge(NtUserError):
    http_status = 413
    type = "payload_too_large"


class _MethodNotAllowed(NtUserError):
    http_status = 405
    type = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.headers = {"Allow": allow}


# =================================================================================================
# Query parameters -> JSON types
# =================================================================================================


def _types_of(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits (``any`` for an unconstrained one)."""
    out: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        out.add(kind)
    elif isinstance(kind, list):
        out.update(kind)
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            out |= _types_of(sub)
    if not out and "enum" in schema:
        out.update(_json_type(v) for v in schema["enum"])
    return out or {"any"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _enum_values(schema: dict[str, Any]) -> list[Any] | None:
    values = list(schema.get("enum", ()))
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            values.extend(sub.get("enum", ()))
    return values or None


def _subschema(schema: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The (sub)schema of type ``kind``: the schema itself or one of its ``anyOf`` options."""
    types = schema.get("type")
    if types == kind or (isinstance(types, list) and kind in types):
        return schema
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            found = _subschema(sub, kind)
            if found is not None:
                return found
    return None


def _is_structured(schema: dict[str, Any]) -> bool:
    """Whether a query value of this schema is written as JSON text (objects, arrays of objects)."""
    types = _types_of(schema)
    if "object" in types:
        return True
    array = _subschema(schema, "array")
    if array is None:
        return False
    items = array.get("items")
    if isinstance(items, dict) and _types_of(items) & {"object", "array"}:
        return True
    return bool(array.get("prefixItems"))


def _scalar_coercer(schema: dict[str, Any]) -> Callable[[str], Any]:
    """text -> the JSON value the schema wants; ``ValueError`` says what was expected."""
    types = _types_of(schema)
    enum = _enum_values(schema)
    if enum is not None and any(not isinstance(v, str) for v in enum):
        table = {(v if isinstance(v, str) else json.dumps(v)): v for v in enum}
        # Unknown text passes through; the schema validator then names the allowed values.
        return lambda text: table.get(text, text)
    if schema.get("format") == "decimal" or (_subschema(schema, "string") or {}).get("format") == "decimal":
        return _decimal_text
    if types & {"string", "any"}:
        # Strings stay text, including dates; a string union keeps the text.
        return lambda text: text
    expected = describe_json_types({"type": sorted(types)})

    def coerce(text: str) -> Any:
        if "null" in types and text in ("null", ""):
            return None
        if "integer" in types and _INT_RE.match(text):
            return int(text)
        if "number" in types:
            if _INT_RE.match(text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        if "boolean" in types and text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        if types & {"object", "array"}:
            try:
                return _loads(text)
            except ValueError:
                pass
        raise ValueError(f"expected {expected}, got {text!r}")

    return coerce


def _decimal_text(text: str) -> str:
    """A decimal from a query string, exact, in plain digits: ``1.5e3`` (how clients write numbers in
    URLs) is ``1500``; text that is no number stays as it is for the validator to name."""
    import decimal

    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        return text
    return format(value, "f") if value.is_finite() and abs(value.adjusted()) < 400 else text


def _json_coercer(text: str) -> Any:
    try:
        return _loads(text)
    except ValueError as exc:
        raise ValueError(f"expected JSON text ({exc})") from None


class _QueryParser:
    """Turns a query string into the JSON object a read-only operation takes.

    Built once per operation from the top-level properties of its input schema: scalars are coerced
    (integer, number, boolean, null), arrays come from repeated parameters (or one JSON array),
    objects and arrays of objects are JSON text. Names the schema does not know pass through as text
    so the validator reports them like any other unknown field.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.fields: dict[str, tuple[bool, Callable[[list[str], str], Any]]] = {}
        for name, prop in schema.get("properties", {}).items():
            array = _subschema(prop, "array")
            if array is not None and not _is_structured(prop):
                self.fields[name] = (True, self._array(prop, array))
            elif _is_structured(prop):
                self.fields[name] = (True, self._structured(prop))
            else:
                self.fields[name] = (False, self._scalar(prop))

    @staticmethod
    def _scalar(prop: dict[str, Any]) -> Callable[[list[str], str], Any]:
        coerce = _scalar_coercer(prop)

        def parse(values: list[str], path: str) -> Any:
            return coerce(values[0])

        return parse

    @staticmethod
    def _array(prop: dict[str, Any], array: dict[str, Any]) -> Callable[[list[str], str], Any]:
        items: dict[str, Any] = array["items"] if isinstance(array.get("items"), dict) else {}
        coerce = _scalar_coercer(items)
        nullable = "null" in _types_of(prop)
        text_items = bool(_types_of(items) & {"string", "any"})

        def parse(values: list[str], path: str) -> Any:
            if len(values) == 1:
                if nullable and values[0] == "null":
                    return None
                if not text_items and values[0].lstrip().startswith("["):
                    return _loads(values[0])
            out = []
            for i, value in enumerate(values):
                try:
                    out.append(coerce(value))
                except ValueError as exc:
                    raise _ItemError(f"{path}[{i}]", str(exc)) from None
            return out

        return parse

    @staticmethod
    def _structured(prop: dict[str, Any]) -> Callable[[list[str], str], Any]:
        array = _subschema(prop, "array")

        def parse(values: list[str], path: str) -> Any:
            if len(values) == 1:
                value = _json_coercer(values[0])
                if array is not None and not isinstance(value, list) and value is not None:
                    return [value]  # one object given for an array of objects
                return value
            if array is None:
                raise ValueError(f"given {len(values)} times; only array parameters repeat")
            out = []
            for i, text in enumerate(values):
                try:
                    out.append(_json_coercer(text))
                except ValueError as exc:
                    raise _ItemError(f"{path}[{i}]", str(exc)) from None
            return out

        return parse

    def __call__(self, query: bytes) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=False,
                              encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise NtBadRequest("the query string is not valid UTF-8") from None
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        out: dict[str, Any] = {}
        problems: list[dict[str, str]] = []
        for name, values in grouped.items():
            path = f"$.{name}"
            entry = self.fields.get(name)
            if entry is None:
                out[name] = values[0] if len(values) == 1 else values
                continue
            many, parse = entry
            try:
                if not many and len(values) > 1:
                    raise ValueError(f"given {len(values)} times; only array parameters repeat")
                out[name] = parse(values, path)
            except _ItemError as exc:
                problems.append({"path": exc.path, "message": f"{name}: {exc.message}"})
            except ValueError as exc:
                problems.append({"path": path, "message": f"{name}: {exc}"})
        if problems:
            raise NtValidationError.from_problems(problems)
        return out


class _ItemError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


_loads = loads_json


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


# =================================================================================================
# OpenAPI
# =================================================================================================

_ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ErrorBody",
    "properties": {
        "type": {"type": "string", "description": "machine-readable kind, e.g. validation_error"},
        "message": {"type": "string", "description": "what was wrong and what to do"},
        "details": {"description": "for validation errors a list of Problem ({path, message})"},
        "request_id": {"type": "string", "description": "quote it when reporting a problem"},
    },
    "required": ["type", "message"],
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}},
    "required": ["error"],
}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "properties": {"path": {"type": "string", "description": "JSON path of the bad field, e.g. $.qty"},
                   "message": {"type": "string"}},
    "required": ["path", "message"],
}

_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Job",
    "properties": {
        "job_id": {"type": "string"},
        "operation": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
        "cancel_requested": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "progress": {
            "anyOf": [{"type": "null"}, {
                "type": "object",
                "properties": {"done": {"type": "number"}, "total": {"type": ["number", "null"]},
                               "message": {"type": ["string", "null"]}},
            }],
        },
        "result": {"description": "the operation's result once status is done"},
        "error": {"anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/ErrorBody"}]},
    },
    "required": ["job_id", "operation", "status"],
}

_ERROR_RESPONSES: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "The request cannot be read (e.g. the body is not JSON)."),
    "401": ("Unauthorized", "No API key, or one that is not valid."),
    "403": ("Forbidden", "The key lacks the operation's scope, or the Host/Origin is not allowed."),
    "404": ("NotFound", "No such route, or the operation did not find what it was asked for."),
    "409": ("Conflict", "The request clashes with existing state."),
    "413": ("PayloadTooLarge", "The request asks for more than a bound of the host allows (limit_exceeded: "
                               "details names the bound and the setting that raises it), or its body is "
                               f"larger than {MAX_BODY_BYTES} bytes."),
    "414": ("UriTooLong", "The URL is 64 KiB or longer (uri_too_long); send the parameters as a JSON body "
                          "(POST)."),
    "422": ("ValidationError", "Parameters do not match the schema (validation_error: details lists "
                                "{path, message}), or match it but not together or not with the data "
                                "(unprocessable)."),
    "429": ("RateLimited", "Too many requests; see Retry-After."),
    "500": ("InternalError", "An unexpected error; quote the request id."),
    "503": ("Unavailable", "A dependency is not available right now."),
}


def _error_responses(codes: Iterable[str]) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{_ERROR_RESPONSES[code][0]}"} for code in codes}


def _query_parameter(name: str, prop: dict[str, Any], required: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required}
    if prop.get("description"):
        param["description"] = prop["description"]
    if prop.get("deprecated"):
        param["deprecated"] = True
    if _is_structured(prop):
        param["content"] = {"application/json": {"schema": copy.deepcopy(prop)}}
    else:
        param["schema"] = copy.deepcopy(prop)
        if _subschema(prop, "array") is not None:
            param["style"], param["explode"] = "form", True
    return param


def _operation_object(op: Operation, method: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.tool_name if method == "post" else f"{op.tool_name}_get",
        "summary": op.summary,
        "tags": [op.group],
        "x-scope": op.scope.value,
        "x-operation": op.name,
        "x-plugin": op.plugin,
    }
    if op.description:
        out["description"] = op.description
    if op.destructive:
        out["x-destructive"] = True
    ok = {"description": "The operation's result.",
          "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
          "content": {"application/json": {"schema": copy.deepcopy(op.output_schema)}}}
    schema = op.input_schema
    if method == "post":
        out["parameters"] = [
            {"name": "async", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
             "description": "run as a job: answer 202 with the job at once (also `Prefer: respond-async`)"},
        ]
        out["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": copy.deepcopy(schema)}},
        }
        out["responses"] = {"200": ok, "202": {"$ref": "#/components/responses/JobAccepted"},
                            **_error_responses(_ERROR_RESPONSES)}
    else:
        required = set(schema.get("required", ()))
        out["parameters"] = [_query_parameter(name, prop, name in required)
                             for name, prop in schema.get("properties", {}).items()]
        out["responses"] = {"200": ok, **_error_responses(_ERROR_RESPONSES)}
    return out


def openapi_document(host: Host) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``host``'s REST operations (request bodies are the input schemas)."""
    paths: dict[str, Any] = {}
    groups: set[str] = set()
    for op in host.operations.for_frontend("rest"):
        groups.add(op.group)
        item = {"post": _operation_object(op, "post")}
        if op.read_only:
            item["get"] = _operation_object(op, "get")
        paths[op.http_path] = item

    public = {"security": [], "tags": ["service"]}
    job_param = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    job_ok = {"description": "The job.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}
    paths[JOBS_PREFIX + "{job_id}"] = {
        "parameters": [job_param],
        "get": {"operationId": "jobs_get", "summary": "A job's status, progress and result.",
                "tags": ["jobs"], "x-scope": "read",
                "responses": {"200": job_ok, **_error_responses(("401", "404", "500"))}},
        "delete": {"operationId": "jobs_cancel",
                   "summary": "Cancel a job if it runs, and forget it: the answer is its last state "
                              "(202 if it was still stopping); a later GET is 404.",
                   "tags": ["jobs"], "x-scope": "read",
                   "responses": {"200": job_ok, "202": job_ok, **_error_responses(("401", "404", "500"))}},
    }
    paths["/healthz"] = {"get": {**public, "operationId": "healthz", "summary": "The process is alive.",
                                 "responses": {"200": {"description": "alive"}}}}
    paths["/readyz"] = {"get": {**public, "operationId": "readyz",
                                "summary": "The database is reachable (503 with the reason if not); the cache "
                                           "and the brokers are checked too ('degraded' when one is not well).",
                                "responses": {"200": {"description": "ready or degraded"},
                                              **_error_responses(("503",))}}}
    paths["/metrics"] = {"get": {"operationId": "metrics", "tags": ["service"], "x-scope": "admin",
                                 "summary": "Prometheus metrics; needs the admin scope unless metrics_public is set.",
                                 "responses": {"200": {"description": "Prometheus text exposition format",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}},
                                               **_error_responses(("401", "403"))}}}
    paths[PROTECTED_RESOURCE_PATH] = {"get": {
        **public, "operationId": "oauth_protected_resource",
        "summary": "OAuth 2.0 protected-resource metadata (RFC 9728): the resource, its token issuers, how to send "
                   "a token.",
        "responses": {"200": {"description": "the metadata", "content": {"application/json": {"schema": {
            "type": "object", "required": ["resource"], "properties": {
                "resource": {"type": "string"}, "authorization_servers": {"type": "array", "items": {"type": "string"}},
                "bearer_methods_supported": {"type": "array", "items": {"type": "string"}},
                "scopes_supported": {"type": "array", "items": {"type": "string"}},
                "resource_name": {"type": "string"}}}}}},
            **_error_responses(("403",))}}}

    responses: dict[str, Any] = {name: {"description": text,
                        "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                 for name, text in _ERROR_RESPONSES.values()}
    responses["RateLimited"]["headers"]["Retry-After"] = {
        "description": "seconds to wait", "schema": {"type": "integer"}}
    responses["JobAccepted"] = {
        "description": "Running as a job; poll the Location.",
        "headers": {"Location": {"description": "/v1/jobs/{job_id}", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Neural Trader",
            "version": __version__,
            "description": ("Every operation of the host, generated from its operation registry. "
                            "Send `Authorization: Bearer <key>` (create one with `neural-trader keys "
                            "create`). Read-only operations also answer GET with query parameters."),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "tags": ([{"name": g} for g in sorted(groups)]
                 + [{"name": "jobs", "description": "background runs of operations"},
                    {"name": "service", "description": "health and readiness"}]),
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "an API key from `neural-trader keys create`"}},
            "schemas": {"Error": _ERROR_SCHEMA, "ErrorBody": _ERROR_BODY_SCHEMA, "Problem": _PROBLEM_SCHEMA, "Job": _JOB_SCHEMA},
            "responses": responses,
            "headers": {"X-Request-ID": {"description": "the request's id (also in error bodies and logs)",
                                         "schema": {"type": "string"}}},
        },
    }


# =================================================================================================
# /docs
# =================================================================================================


def _type_text(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_type_text(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    parts = []
    for kind in kinds:
        if kind == "array":
            items = schema.get("items")
            parts.append(f"array of {_type_text(items)}" if isinstance(items, dict) and items else "array")
        elif kind == "object":
            extra = schema.get("additionalProperties")
            if "properties" in schema:
                parts.append(f"object {schema['title']}" if schema.get("title") else "object")
            elif isinstance(extra, dict):
                parts.append(f"map of text to {_type_text(extra)}" if extra else "object")
            else:
                parts.append("object")
        elif kind == "string" and schema.get("format"):
            parts.append(f"{schema['format']} text" if schema["format"] != "decimal" else "decimal")
        elif kind == "number" and schema.get("format") == "decimal":
            continue
        else:
            parts.append(kind)
    return " or ".join(parts) or "any"


def _bounds_text(schema: dict[str, Any]) -> str:
    marks = (("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
             ("exclusiveMaximum", "< {}"), ("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"),
             ("minItems", "≥ {} items"), ("maxItems", "≤ {} items"))
    out = [fmt.format(schema[key]) for key, fmt in marks if key in schema]
    if "pattern" in schema and schema.get("format") != "decimal":
        out.append(f"matches {schema['pattern']}")
    if schema.get("uniqueItems"):
        out.append("unique")
    for sub in schema.get("anyOf", ()):
        if sub.get("type") != "null":
            out.extend(b for b in [_bounds_text(sub)] if b)
    return ", ".join(out)


def _fields_table(schema: dict[str, Any], *, with_defaults: bool) -> str:
    props = schema.get("properties", {})
    if not props:
        return "<p class=none>none</p>"
    required = set(schema.get("required", ()))
    head = "<tr><th>name</th><th>type</th>" + ("<th>default</th>" if with_defaults else "") + \
           "<th>bounds</th><th>description</th></tr>"
    rows = []
    for name, prop in props.items():
        if "default" in prop:
            default = f"<code>{html.escape(json.dumps(prop['default']))}</code>"
        else:
            default = "<em>required</em>" if name in required else ""
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(_type_text(prop))}</td>"
            + (f"<td>{default}</td>" if with_defaults else "")
            + f"<td>{html.escape(_bounds_text(prop))}</td>"
            f"<td>{html.escape(prop.get('description', ''))}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


_DOCS_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1d1d1f}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;margin-top:2.5rem}
section.op{border:1px solid #e3e3e3;border-radius:8px;padding:.3rem 1.2rem 1rem;margin:1.2rem 0}
.route{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:14px}
.verb{display:inline-block;min-width:3.2rem;font-weight:700;color:#fff;border-radius:4px;padding:0 .4rem;margin-right:.3rem;text-align:center}
.post{background:#2f7d32}.get{background:#1565c0}
.scope{float:right;font-size:13px;border:1px solid #999;border-radius:10px;padding:0 .6rem}
.scope-trade{border-color:#c62828;color:#c62828}.scope-admin{border-color:#6a1b9a;color:#6a1b9a}
table{border-collapse:collapse;width:100%;font-size:14px;margin:.4rem 0}
th,td{border-bottom:1px solid #eee;text-align:left;padding:.25rem .5rem;vertical-align:top}
th{background:#fafafa}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.none{color:#888;margin:.2rem 0}nav a{margin-right:.8rem}
"""


def docs_html(host: Host) -> str:
    """A self-contained HTML reference of the REST operations (no scripts, no external assets)."""
    ops = host.operations.for_frontend("rest")
    groups: dict[str, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.group, []).append(op)
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>Neural Trader REST API {esc(__version__)}</title><style>{_DOCS_CSS}</style></head><body>",
        f"<h1>Neural Trader REST API</h1><p>version {esc(__version__)} · {len(ops)} operations · "
        "machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1)</p>",
        "<p>Send <code>Authorization: Bearer &lt;key&gt;</code> (create a key with "
        "<code>neural-trader keys create</code>). <b>POST</b> takes the parameters as a JSON object; "
        "read-only operations also answer <b>GET</b> with query parameters (repeat a parameter for an "
        "array; write objects as JSON text). Add <code>?async=true</code> to a POST to run it as a job: "
        "the answer is <code>202</code> with a <code>Location: /v1/jobs/{id}</code> to poll "
        "(<code>GET</code>) or cancel (<code>DELETE</code>). Errors are "
        "<code>{\"error\": {\"type\", \"message\", \"details\", \"request_id\"}}</code>.</p>",
        "<nav>" + "".join(f"<a href='#{esc(g)}'>{esc(g)}</a>" for g in sorted(groups)) + "</nav>",
    ]
    for group in sorted(groups):
        parts.append(f"<h2 id='{esc(group)}'>{esc(group)}</h2>")
        for op in groups[group]:
            routes = [f"<div class=route><span class='verb post'>POST</span>{esc(op.http_path)}</div>"]
            if op.read_only:
                routes.append(f"<div class=route><span class='verb get'>GET</span>{esc(op.http_path)}?…</div>")
            parts.append(
                f"<section class=op id='{esc(op.name)}'>"
                f"<span class='scope scope-{esc(op.scope.value)}'>scope: {esc(op.scope.value)}</span>"
                f"<h3><code>{esc(op.name)}</code></h3><p>{esc(op.summary)}</p>"
                + (f"<p>{esc(op.description)}</p>" if op.description else "")
                + "".join(routes)
                + "<h4>Parameters</h4>" + _fields_table(op.input_schema, with_defaults=True)
                + "<h4>Result</h4>" + _fields_table(op.output_schema, with_defaults=False)
                + f"<p class=none>plugin {esc(op.plugin or '?')} · MCP tool <code>{esc(op.tool_name)}</code>"
                f" · CLI <code>neural-trader {esc(op.group)} {esc(op.verb)}</code></p></section>"
            )
    parts.append("</body></html>")
    return "".join(parts)


# =================================================================================================
# The app
# =================================================================================================


def _error_response(exc: BaseException, request_id: str) -> Response:
    """The one place an exception becomes an HTTP response (unexpected ones are logged, not shown)."""
    status, payload = error_payload(exc, request_id)
    headers = {"X-Request-ID": request_id}
    if isinstance(exc, NtRateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(exc.retry_after)))
    elif isinstance(exc, NtUnauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="neural-trader"'
    headers.update(getattr(exc, "headers", None) or {})
    return Response(_dumps(payload), status, headers, "application/json")


def _json(status: int, payload: Any, headers: dict[str, str]) -> Response:
    return Response(_dumps(payload), status, headers, "application/json")


def _check_database(host: Host) -> str:
    """Raise unless the database answers; returns the backend name. Blocking (run in a thread)."""
    storage = host.services.storage
    ping = getattr(storage, "ping", None)
    if callable(ping):
        ping()
    else:
        # Reachability only: migrating an empty database is the first session's job, and can take
        # longer than a probe should wait.
        with storage.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    return str(getattr(storage, "backend", "database"))


async def _call_until_disconnect(op: Operation, raw: Any, ctx: Any, receive: Callable[[], Any]) -> Any:
    """``op.call``, cancelled as soon as the client goes away.

    Once the body is read, the next ASGI message is ``http.disconnect``: the client hung up (or, after
    the response, the server is done with it). Cancelling the call sets the context's cancel token
    (see :meth:`Operation.invoke`), so a long handler stops at its next progress report instead of
    computing for nobody.
    """
    task = asyncio.current_task()
    assert task is not None
    running, gone = True, False

    async def watch() -> None:
        nonlocal gone
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                if running:  # not once the call has returned: the cancel would hit the response
                    log.info("client went away; cancelling %s (request %s)", op.name, ctx.request_id)
                    gone = True
                    task.cancel()
                return

    # A plain task, not an anyio task group: this runs once a request, and the group's cancel
    # scopes cost more than the rest of the hop to the operation.
    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        result = await op.call(raw, ctx)
    except asyncio.CancelledError:
        if gone and task.uncancel() == 0:
            raise NtCancelled("the client went away; the operation was cancelled") from None
        raise
    finally:
        running = False
        watcher.cancel()
    if gone:
        task.uncancel()  # the call finished despite the cancel: its answer still goes out
    return result


class _Route:
    __slots__ = ("allow", "op", "query")

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.query = _QueryParser(op.input_schema) if op.read_only else None
        self.allow = "GET, POST" if op.read_only else "POST"


class _RestApi:
    """Holds what each request needs, built once: the route table, the documents, the job runner."""

    def __init__(self, host: Host, authenticate: Authenticator, *, max_body: int, jobs: JobManager,
                 ready_timeout: float) -> None:
        self.host = host
        self.settings: Settings = host.settings
        self.authenticate = authenticate
        self.max_body = max_body
        self.jobs = jobs
        self.ready_timeout = ready_timeout
        self.routes: dict[str, _Route] = {}
        for op in host.operations.for_frontend("rest"):
            if op.http_path.startswith(JOBS_PREFIX):
                log.warning("operation %s is shadowed by the job routes %s{id}; rename it", op.name, JOBS_PREFIX)
                continue
            self.routes[op.http_path] = _Route(op)
        self.openapi_bytes = _dumps(openapi_document(host))
        self.docs_bytes = docs_html(host).encode("utf-8")
        self._origin_verdicts: dict[tuple[str | None, str | None], str | None] = {}

    # -- per-request helpers ------------------------------------------------------------------
    def _origin_problem(self, host_header: str | None, origin: str | None) -> str | None:
        key = (host_header, origin)
        try:
            return self._origin_verdicts[key]
        except KeyError:
            verdict = host_origin_problem(self.settings, host_header, origin)
            if len(self._origin_verdicts) > 256:  # bounded: clients choose these strings
                self._origin_verdicts.clear()
            self._origin_verdicts[key] = verdict
            return verdict

    async def _read_json(self, request: Request, content_length: str | None) -> Any:
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                raise NtBadRequest(f"Content-Length {content_length!r} is not a number") from None
            if declared > self.max_body:
                raise _PayloadTooLarge(f"the request body is {declared} bytes; the limit is {self.max_body}")
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise _PayloadTooLarge(f"the request body is over the limit of {self.max_body} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            return {}
        try:
            value = _loads(body)
        except json.JSONDecodeError as exc:
            raise NtBadRequest(f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                              f"column {exc.colno}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise NtBadRequest(f"the request body is not valid JSON: {clip(str(exc), 200)}") from None
        if not isinstance(value, dict):
            kind = "null" if value is None else type(value).__name__
            raise NtValidationError.from_problems([{
                "path": "$", "message": f"the request body must be a JSON object of parameters, not {kind}; "
                                        "send {} (or nothing) for none"}])
        return value

    # -- endpoints ------------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        """Every ``/v1/...`` request: operations, and the job routes."""
        scope = request.scope
        host_header = origin = authorization = request_id = content_length = prefer = None
        for key, value in scope["headers"]:
            if key == b"host":
                host_header = value.decode("latin-1")
            elif key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"content-length":
                content_length = value.decode("latin-1")
            elif key == b"x-request-id":
                request_id = value.decode("latin-1")
            elif key == b"prefer":
                prefer = value.decode("latin-1")
        if request_id is None or not _REQUEST_ID_RE.match(request_id):
            request_id = os.urandom(8).hex()
        try:
            problem = self._origin_problem(host_header, origin)
            if problem is not None:
                raise NtForbidden(problem)
            path: str = scope["path"]
            method: str = scope["method"]
            route = self.routes.get(path)
            if route is None:
                if path.startswith(JOBS_PREFIX) and "/" not in path[len(JOBS_PREFIX):]:
                    return await self._job(path[len(JOBS_PREFIX):], method, authorization, request_id,
                                           scope["query_string"])
                raise NtNotFound(f"no route {method} {path}; the operations are listed at /docs and /openapi.json")
            query_string: bytes = scope["query_string"]
            op = route.op
            if method not in ("POST", "GET") or (method == "GET" and route.query is None):
                raise _MethodNotAllowed(f"{path} answers {route.allow}, not {method}", allow=route.allow)
        except Exception as exc:
            return _error_response(exc, request_id)
        with observed(self.host, op.name, "rest", request_id) as outcome:
            try:
                response = await self._call(op, route, request, method, query_string, authorization,
                                            content_length, prefer, request_id)
            except Exception as exc:
                response = _error_response(exc, request_id)
            outcome.status = response.status_code
        return response

    async def _call(self, op: Operation, route: _Route, request: Request, method: str, query_string: bytes,
                    authorization: str | None, content_length: str | None, prefer: str | None,
                    request_id: str) -> Response:
        """One operation call: who, may they (scope, rate limit), then the body, then the call."""
        try:
            problem = query_token_problem(query_string) if query_string else None
            if problem is not None:
                raise NtUnauthorized(problem)
            identity = self.authenticate(authorization)
        except NtUnauthorized as exc:
            # RFC 9728 section 5.1: the challenge points at the protected-resource metadata.
            base = self.settings.resource_url or str(request.base_url)
            exc.headers = {"WWW-Authenticate": www_authenticate(  # type: ignore[attr-defined]
                base, error="invalid_token" if authorization else None)}
            raise
        # The scope and the rate limit are checked before the body or the query is even read: a caller
        # without the scope learns nothing about the parameters and costs us no parsing.
        await admit(self.host, op, identity)
        with bound_caller(identity):
            run_async = False
            if method == "POST":
                if query_string:
                    run_async = self._post_query(query_string)
                raw = await self._read_json(request, content_length)
                if prefer is not None and "respond-async" in prefer.lower():
                    run_async = True
            else:
                assert route.query is not None
                raw = route.query(query_string) if query_string else {}
            if run_async:
                job = self.jobs.submit(op, raw, identity=identity, frontend="rest", request_id=request_id)
                headers = {"X-Request-ID": request_id, "Location": JOBS_PREFIX + job.id}
                if prefer is not None:
                    headers["Preference-Applied"] = "respond-async"
                return _json(202, job.to_dict(), headers)
            ctx = self.host.context(identity=identity, frontend="rest", request_id=request_id)
            result = await _call_until_disconnect(op, raw, ctx, request.receive)
            return Response(_dumps(result), 200, {"X-Request-ID": request_id}, "application/json")

    @staticmethod
    def _post_query(query_string: bytes) -> bool:
        run_async = False
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name != "async":
                raise NtBadRequest(f"unknown query parameter {name!r}: POST takes the operation's "
                                  "parameters as a JSON body (the only query parameter is async)")
            if value.lower() not in _BOOLS:
                raise NtBadRequest(f"query parameter async: expected true or false, got {value!r}")
            run_async = _BOOLS[value.lower()]
        return run_async

    async def _job(self, job_id: str, method: str, authorization: str | None, request_id: str,
                   query_string: bytes = b"") -> Response:
        if (problem := query_token_problem(query_string) if query_string else None) is not None:
            raise NtUnauthorized(problem)
        if method not in ("GET", "DELETE"):
            raise _MethodNotAllowed(f"jobs answer GET and DELETE, not {method}", allow="GET, DELETE")
        identity: Identity = self.authenticate(authorization)
        if method == "GET":
            job = self.jobs.get(job_id, identity=identity)
            headers = {"X-Request-ID": request_id}
            if not job.state.finished:
                headers["Retry-After"] = "1"
            return _json(200, job.to_dict(), headers)
        job = await self.jobs.cancel(job_id, identity=identity)
        return _json(200 if job.state.finished else 202, job.to_dict(), {"X-Request-ID": request_id})

    async def _public(self, request: Request, build: Callable[[], Any]) -> Response:
        request_id = request.headers.get("x-request-id") or ""
        if not _REQUEST_ID_RE.match(request_id):
            request_id = os.urandom(8).hex()
        try:
            problem = self._origin_problem(request.headers.get("host"), request.headers.get("origin"))
            if problem is not None:
                raise NtForbidden(problem)
            response: Response = await build()
            response.headers["X-Request-ID"] = request_id
            return response
        except Exception as exc:
            return _error_response(exc, request_id)

    async def openapi(self, request: Request) -> Response:
        async def build() -> Response:
            return Response(self.openapi_bytes, 200, media_type="application/json")
        return await self._public(request, build)

    async def docs(self, request: Request) -> Response:
        async def build() -> Response:
            return Response(self.docs_bytes, 200, media_type="text/html; charset=utf-8")
        return await self._public(request, build)

    async def healthz(self, request: Request) -> Response:
        # No Host check: probes from a load balancer or an orchestrator use whatever address they
        # see, and the answer is a constant that tells a rebinding page nothing. /readyz, which
        # reports on the database, is checked like every other route.
        return Response(b'{"status":"ok"}', 200, media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        return await self._public(request, self._readiness)

    async def _readiness(self) -> Response:
        request_id = os.urandom(8).hex()
        if importlib.util.find_spec("neural_trader.services.storage") is None:
            checks = {"database": {"ok": True, "detail": "not checked: the storage service is not installed"}}
            return _json(200, {"status": "ready", "checks": checks}, {"X-Request-ID": request_id})
        try:
            with anyio.fail_after(self.ready_timeout):
                backend = await anyio.to_thread.run_sync(_check_database, self.host, abandon_on_cancel=True)
        except TimeoutError:
            reason = f"the database did not answer within {self.ready_timeout:g} s"
        except Exception as exc:
            message = (exc.message if isinstance(exc, NtError) else str(exc)).strip().splitlines()
            reason = f"the database is not reachable: {type(exc).__name__}: {(message or [''])[0][:300]}"
        else:
            checks = {"database": {"ok": True, "detail": f"{backend} answered"}}
            try:
                with anyio.fail_after(self.ready_timeout):
                    checks.update(await anyio.to_thread.run_sync(service_checks, self.host, abandon_on_cancel=True))
            except TimeoutError:
                checks["cache"] = {"ok": False, "detail": f"no answer within {self.ready_timeout:g} s"}
            status = "ready" if all(c["ok"] for c in checks.values()) else "degraded"
            return _json(200, {"status": status, "checks": checks}, {"X-Request-ID": request_id})
        log.warning("not ready (request %s): %s", request_id, reason)
        error = NtUnavailable(f"not ready: {reason}", details={"database": {"ok": False, "detail": reason}})
        return _error_response(error, request_id)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text; needs the admin scope unless ``metrics_public`` (docs/observability.md)."""
        async def build() -> Response:
            if not self.settings.metrics_public:
                if (problem := query_token_problem(request.url.query)) is not None:
                    raise NtUnauthorized(problem)
                identity = self.authenticate(request.headers.get("authorization"))
                if not identity.allows(Scope.ADMIN):
                    raise NtForbidden("/metrics needs the admin scope (or set metrics_public = true)")
            body = await anyio.to_thread.run_sync(metrics_of(self.host).render)
            return Response(body, 200, media_type=METRICS_CONTENT_TYPE)
        return await self._public(request, build)

    async def protected_resource(self, request: Request) -> Response:
        """OAuth 2.0 protected-resource metadata (RFC 9728) for bearer-token clients."""
        async def build() -> Response:
            return _json(200, protected_resource_metadata(self.settings, str(request.base_url).rstrip("/")), {})
        return await self._public(request, build)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's own errors (no route matched; wrong method on a fixed route) in our format."""
        request_id = os.urandom(8).hex()
        status = getattr(exc, "status_code", 500)
        if status == 404:
            err: Exception = NtNotFound(f"no route {request.method} {request.url.path}; "
                                        "the operations are listed at /docs and /openapi.json")
        elif status == 405:
            allow = (getattr(exc, "headers", None) or {}).get("Allow", "GET")
            err = _MethodNotAllowed(f"{request.url.path} answers {allow}, not {request.method}", allow=allow)
        else:
            err = NtBadRequest(str(getattr(exc, "detail", "bad request")))
            err.http_status = status  # type: ignore[misc]
        return _error_response(err, request_id)

    async def unexpected(self, request: Request, exc: Exception) -> Response:
        return _error_response(exc, os.urandom(8).hex())


def build_app(
    host: Host,
    *,
    authenticate: Authenticator | None = None,
    max_body: int = MAX_BODY_BYTES,
    jobs: JobManager | None = None,
    close_host: bool = False,
    ready_timeout: float = 5.0,
    settle: bool = False,
) -> Starlette:
    """The REST app for ``host``.

    :param authenticate: ``Authorization`` header -> Identity; default
        :func:`neural_trader.frontends.auth.make_authenticator` (API keys unless settings.auth is off).
    :param max_body: largest request body in bytes (413 beyond it).
    :param jobs: the job runner; a fresh :class:`JobManager` by default.
    :param close_host: close ``host`` when the app shuts down (the app owns it).
    :param settle: once started, :func:`~neural_trader.frontends.calls.settle_heap` (servers).
    """
    if authenticate is None:
        authenticate = make_authenticator(host)
    api = _RestApi(host, authenticate, max_body=max_body, jobs=jobs if jobs is not None else JobManager(host),
                   ready_timeout=ready_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(host.start)
        if settle:
            settle_heap()
        try:
            yield
        finally:
            await api.jobs.aclose()
            if close_host:
                await anyio.to_thread.run_sync(host.close)

    routes = [
        Route("/v1/{path:path}", api.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/readyz", api.readyz, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route(PROTECTED_RESOURCE_PATH, api.protected_resource, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/docs", api.docs, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: api.http_error, Exception: api.unexpected})
    app.router.redirect_slashes = False  # a near-miss path is a 404 naming it, not a redirect
    app.state.api = api
    app.state.jobs = api.jobs
    app.state.host = host
    return app


# =================================================================================================
# Serving
# =================================================================================================


def create_app() -> Starlette:
    """uvicorn factory for worker processes (``--workers`` > 1): everything comes from the environment.

    The host is ``make_host()`` (``NT_*`` settings, plugin switches); ``NT_AUTH=0`` turns keys off and
    ``NT_REST_ANON_SCOPES`` (default ``read``) says what unauthenticated callers may then do.
    """
    from neural_trader.host import make_host

    host = make_host()
    _observe_server(host)
    scopes_text = os.environ.get(ENV_ANON_SCOPES)
    scopes = Scope.parse_many(scopes_text) if scopes_text else frozenset({Scope.READ})
    authenticate = make_authenticator(host, anonymous_scopes=scopes)
    return build_app(host, authenticate=authenticate, close_host=True, settle=True)


def _observe_server(host: Host) -> None:
    """A server's logs (text or JSON, with request ids) and its span exporter, from the settings."""
    from neural_trader.logs import configure_logging
    from neural_trader.tracing import configure_tracing

    configure_logging(host.settings)
    configure_tracing(host.settings)


def _worker_env(settings: Settings, anonymous_scopes: frozenset[Scope] | None) -> dict[str, str]:
    """The environment that makes a worker's ``make_host()`` match ``settings``."""
    env = {
        "NT_DATA_DIR": str(settings.data_dir),
        "NT_AUTH": "1" if settings.auth and anonymous_scopes is None else "0",
        "NT_ALLOWED_HOSTS": ",".join(settings.allowed_hosts),
        "NT_ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
        "NT_LOG_LEVEL": settings.log_level,
        "NT_SHUTDOWN_GRACE": str(settings.shutdown_grace),
    }
    if settings.config_file is not None:
        env["NT_CONFIG"] = str(settings.config_file)
    if settings.database_url:
        env["NT_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["NT_REDIS_URL"] = settings.redis_url
    if anonymous_scopes is not None:
        env[ENV_ANON_SCOPES] = ",".join(sorted(s.value for s in anonymous_scopes))
    return env


def serve(
    host: Host,
    *,
    host_addr: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    authenticate: Authenticator | None = None,
    anonymous_scopes: frozenset[Scope] | None = None,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve the REST API with uvicorn until interrupted (uvloop and httptools when installed).

    :param anonymous_scopes: turn API keys off and give every caller these scopes (``--no-auth``).
    :param workers: processes; above 1 each builds its own host through :func:`create_app` from the
        environment (``host``'s settings are exported as ``NT_*`` variables), so a custom
        ``authenticate`` cannot travel and jobs stay in the worker that started them.
    """
    import uvicorn

    options: dict[str, Any] = {"host": host_addr, "port": port, "log_level": log_level,
                               "access_log": access_log, "loop": "auto", "http": HTTP_PROTOCOL,
                               "server_header": False,
                               # On SIGTERM, running requests get this long; then they are cancelled,
                               # which cancels their operations (see Operation.invoke).
                               "timeout_graceful_shutdown": math.ceil(host.settings.shutdown_grace)}
    if workers <= 1:
        _observe_server(host)
        if authenticate is None and anonymous_scopes is not None:
            authenticate = make_authenticator(host, required=False, anonymous_scopes=anonymous_scopes)
        uvicorn.run(build_app(host, authenticate=authenticate, settle=True), **options)
        return
    if authenticate is not None and anonymous_scopes is None:
        raise NtUserError("with more than one worker each process builds its own host, so a custom "
                          "authenticator cannot be used; use API keys or anonymous_scopes (--no-auth)")
    os.environ.update(_worker_env(host.settings, anonymous_scopes))
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(f"{__name__}:create_app", factory=True, workers=workers, **options)
    sock = _tcp_socket(config.bind_socket())
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.36
        supervisor = Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock])  # type: ignore[call-arg]
    else:
        supervisor = Multiprocess(config, sockets=[sock])
    try:
        supervisor.run()
    finally:
        sock.close()


def _tcp_socket(sock: socket.socket) -> socket.socket:
    """The listening socket, re-wrapped with ``proto=IPPROTO_TCP``.

    uvicorn binds the socket it shares with workers as ``socket.socket(family)`` (proto 0), and
    asyncio only sets TCP_NODELAY on accepted connections whose proto is IPPROTO_TCP; without it each
    response (headers, then body: two writes) waits out Nagle + delayed ACK, ~40 ms a request.
    """
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    return sock
