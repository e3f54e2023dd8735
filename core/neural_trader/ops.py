"""Operations: the one typed record from which the CLI, the MCP server and the REST API are generated.

An :class:`Operation` names a handler, its attrs ``params`` and ``result`` types, the scope a caller
needs and hints for clients. :meth:`Operation.call` is the single way in for every frontend: it checks
the scope, validates the plain dict against the generated JSON Schema (path-precise errors),
structures it with cattrs, runs the handler (sync handlers in a worker thread), and unstructures the
result back to plain JSON.
"""

from __future__ import annotations

import decimal
import enum
import functools
import inspect
import itertools
import json
import logging
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import cattrs

from neural_trader.errors import (
    NtCancelled,
    NtConfirmationRequired,
    NtError,
    NtForbidden,
    NtNotFound,
    NtPluginError,
    NtUserError,
    NtValidationError,
)
from neural_trader.schema import schema_for
from neural_trader.serde import check_plain_json, clip, problems_from_exception, wire

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = [
    "ALL_FRONTENDS",
    "CONFIRM_FIELD",
    "CancelToken",
    "Context",
    "Identity",
    "NoParams",
    "Operation",
    "OperationRegistry",
    "Scope",
]

log = logging.getLogger("neural_trader.ops")

ALL_FRONTENDS: frozenset[str] = frozenset({"cli", "mcp", "rest"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class Scope(enum.StrEnum):
    """What a caller may do. ``admin`` implies ``trade`` implies ``read``."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"

    @classmethod
    def parse_many(cls, text: str | list[str] | tuple[str, ...]) -> frozenset[Scope]:
        items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
        out = set()
        for item in items:
            if not item:
                continue
            try:
                out.add(cls(item))
            except ValueError:
                raise NtUserError(
                    f"unknown scope {item!r}; choose from {', '.join(s.value for s in cls)}"
                ) from None
        return frozenset(out)


_SCOPE_RANK = {Scope.READ: 0, Scope.TRADE: 1, Scope.ADMIN: 2}


@attrs.frozen(kw_only=True)
class NoParams:
    """No parameters: the params type of an operation that takes none."""


@attrs.frozen(kw_only=True)
class Identity:
    """Who is calling and what they may do."""

    name: str
    scopes: frozenset[Scope]
    key_id: str | None = None

    def allows(self, scope: Scope) -> bool:
        return any(_SCOPE_RANK[s] >= _SCOPE_RANK[scope] for s in self.scopes)

    @classmethod
    def local(cls, scopes: frozenset[Scope] = frozenset({Scope.ADMIN})) -> Identity:
        """The person at the terminal (CLI, in-process calls): every scope unless told otherwise."""
        return cls(name="local", scopes=scopes)


class CancelToken:
    """Cooperative cancellation shared by a frontend and a running handler (thread-safe)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise NtCancelled("the operation was cancelled")


ProgressFn = Callable[[float, float | None, str | None], None]


@attrs.frozen(kw_only=True)
class Context:
    """What a handler gets besides its params: the host's settings and services, the caller, a logger,
    cancellation and progress reporting."""

    host: Host
    identity: Identity
    frontend: str = "python"
    request_id: str = attrs.field(factory=lambda: uuid.uuid4().hex[:16])
    cancel: CancelToken = attrs.field(factory=CancelToken)
    on_progress: ProgressFn | None = None
    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("neural_trader.op"))

    @property
    def settings(self) -> Any:
        return self.host.settings

    @property
    def services(self) -> Any:
        return self.host.services

    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress; shows as a progress bar (CLI), ``notifications/progress`` (MCP) or job
        status (REST). Also checks for cancellation, so a loop that reports progress stops promptly."""
        self.cancel.raise_if_cancelled()
        if self.on_progress is not None:
            self.on_progress(done, total, message)


Handler = Callable[[Any, Context], Any] | Callable[[Any, Context], Awaitable[Any]]


def _frontends(value: Any) -> frozenset[str]:
    out = frozenset(value)
    unknown = out - ALL_FRONTENDS
    if unknown:
        raise ValueError(f"unknown frontends {sorted(unknown)}; choose from {sorted(ALL_FRONTENDS)}")
    return out


@attrs.frozen(kw_only=True)
class Operation:
    """A typed capability. Immutable; the registry fills ``plugin`` when it is registered."""

    name: str = attrs.field()
    summary: str
    params: type
    result: type
    handler: Handler = attrs.field(repr=False, eq=False)
    description: str = ""
    scope: Scope = Scope.READ
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False
    frontends: frozenset[str] = attrs.field(default=ALL_FRONTENDS, converter=_frontends)
    #: Example parameter objects (plain JSON). Shown in the docs, and the cross-frontend test calls
    #: every operation with its first example (or ``{}``) through the CLI, MCP and REST.
    examples: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
    #: The operation acts (trades, cancels, halts): a caller must pass ``confirm: true``, which the
    #: published input schema gains; the MCP server asks the person through elicitation when the
    #: client supports it. A ``simulate`` / dry-run twin shows first what it would do.
    confirm: bool = False
    #: A boolean parameter that, when true, waives the confirmation: ``"dry_run"`` for an operation
    #: that only acts when told not to dry-run (its preview needs no confirmation).
    confirm_unless: str | None = None
    plugin: str = ""

    @name.validator
    def _check_name(self, _: Any, value: str) -> None:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"operation name {value!r} must be dotted lowercase words, like 'backtest.run'"
            )

    def __attrs_post_init__(self) -> None:
        for role, cls in (("params", self.params), ("result", self.result)):
            if not attrs.has(cls):
                raise TypeError(f"operation {self.name!r}: {role} must be an attrs class, got {cls!r}")
        if self.confirm_unless is not None:
            field = attrs.fields_dict(self.params).get(self.confirm_unless)
            if not self.confirm or field is None or field.type not in (bool, "bool"):
                raise TypeError(f"operation {self.name!r}: confirm_unless must name a boolean parameter of "
                                f"{self.params.__name__}, and needs confirm=True")

    def waives_confirmation(self, raw: Mapping[str, Any] | None) -> bool:
        """Whether these parameters need no confirmation (``confirm_unless`` names a flag that is true,
        by the call or by its default)."""
        if self.confirm_unless is None:
            return False
        value = (raw or {}).get(self.confirm_unless, _schemas(self.params)[0]["properties"][self.confirm_unless].get("default"))
        return value is True

    # -- naming across frontends -----------------------------------------------------------------
    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def verb(self) -> str:
        return self.name.split(".", 1)[1].replace(".", "-").replace("_", "-")

    @property
    def tool_name(self) -> str:
        return self.name.replace(".", "_")

    @property
    def http_path(self) -> str:
        return "/v1/" + self.name.replace(".", "/")

    # -- schemas -----------------------------------------------------------------------------------
    @property
    def input_schema(self) -> dict[str, Any]:
        return _schemas(self.params, self.confirm)[0]

    @property
    def output_schema(self) -> dict[str, Any]:
        return _schemas(self.result, inputs=False)[0]

    # -- the call pipeline ----------------------------------------------------------------------
    def parse(self, raw: Any) -> Any:
        """Plain JSON -> the params instance, or :class:`NtValidationError` listing every bad field.

        ``raw`` must be a JSON object (a frontend passes ``{}`` for "no parameters"). Before the
        schema sees it, :func:`check_plain_json` refuses what no schema should have to: non-finite
        numbers (``1e999``), nesting deeper than :data:`MAX_DEPTH`, and non-JSON values.
        """
        if not isinstance(raw, Mapping):
            kind = "null" if raw is None else type(raw).__name__
            raise NtValidationError.from_problems(
                [{"path": "$", "message": f"parameters must be a JSON object, not {kind}; "
                                          "send {} for none"}]
            )
        check_plain_json(raw)
        _, validator = _schemas(self.params, self.confirm)
        problems = _problems(validator, raw)
        if problems:
            raise NtValidationError.from_problems(problems)
        fields = dict(raw)
        confirmed = fields.pop(CONFIRM_FIELD, False) is True if self.confirm else True
        if not confirmed and not self.waives_confirmation(fields):
            raise NtConfirmationRequired(
                f"operation {self.name!r} acts for real ({self.summary.rstrip('.')}); pass "
                f"{CONFIRM_FIELD}: true (CLI --{CONFIRM_FIELD}) to go ahead, after previewing it if it has a "
                "simulate or dry-run twin")
        try:
            return wire.structure(fields, self.params)
        except (cattrs.BaseValidationError, ValueError, TypeError, OverflowError) as exc:
            raise NtValidationError.from_problems(problems_from_exception(exc)) from None

    async def invoke(self, params: Any, ctx: Context) -> Any:
        """Run the handler on structured params; returns the result instance."""
        if not ctx.identity.allows(self.scope):
            raise NtForbidden(
                f"operation {self.name!r} needs scope '{self.scope.value}'; "
                f"the caller has {sorted(s.value for s in ctx.identity.scopes) or 'none'}"
            )
        ctx.cancel.raise_if_cancelled()
        import anyio

        try:
            if _is_async(self.handler):
                result = await self.handler(params, ctx)  # type: ignore[misc,unused-ignore]
            else:
                # A thread cannot be interrupted: when the caller goes away (a client disconnects,
                # a job or an MCP request is cancelled, the server shuts down) the await returns at
                # once and the cancel token makes the handler's next ``ctx.progress`` raise, so the
                # work stops there instead of running on for nobody.
                result = await anyio.to_thread.run_sync(self.handler, params, ctx, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            ctx.cancel.cancel()
            raise
        if not isinstance(result, self.result):
            raise NtPluginError(
                f"operation {self.name!r} (plugin {self.plugin or '?'}) returned "
                f"{type(result).__name__}, expected {self.result.__name__}"
            )
        return result

    async def call(self, raw: Any, ctx: Context) -> dict[str, Any]:
        """The whole pipe: scope, validate, structure, run, unstructure."""
        if not ctx.identity.allows(self.scope):
            await self.invoke(None, ctx)  # raises NtForbidden before looking at the input
        params = self.parse(raw)
        result = await self.invoke(params, ctx)
        return wire.unstructure(result)  # type: ignore[no-any-return,unused-ignore]


@functools.cache
def _is_async(handler: Any) -> bool:
    return inspect.iscoroutinefunction(handler)


#: The parameter a ``confirm=True`` operation gains: it must be ``true`` for the operation to run.
CONFIRM_FIELD = "confirm"


@functools.cache
def _schemas(cls: type, confirm: bool = False, *, inputs: bool = True) -> tuple[dict[str, Any], Any]:
    schema = schema_for(cls, inputs=inputs)
    if confirm:
        if CONFIRM_FIELD in schema.get("properties", {}):
            raise TypeError(f"{cls.__name__} has its own {CONFIRM_FIELD!r} field; the operation's confirm=True "
                            "adds that parameter itself")
        schema = {**schema, "properties": {**schema.get("properties", {}), CONFIRM_FIELD: {
            "type": "boolean", "default": False,
            "description": "must be true: this operation acts for real (trades, cancels, halts); preview it "
                           "first where a simulate or dry-run twin exists"}}}
    return schema, _validator_class()(schema)


@functools.cache
def _validator_class() -> Any:
    """Draft 2020-12, with numeric bounds also applied to decimal strings (``"qty": "-1"``)."""
    import jsonschema
    from jsonschema import ValidationError

    base = jsonschema.Draft202012Validator
    checks = {
        "minimum": (lambda v, b: v >= b, "less than the minimum of"),
        "maximum": (lambda v, b: v <= b, "greater than the maximum of"),
        "exclusiveMinimum": (lambda v, b: v > b, "less than or equal to the minimum of"),
        "exclusiveMaximum": (lambda v, b: v < b, "greater than or equal to the maximum of"),
    }

    def bound(keyword: str) -> Any:
        original = base.VALIDATORS[keyword]
        ok, words = checks[keyword]

        def check(validator: Any, limit: Any, instance: Any, schema: Any) -> Any:
            if isinstance(instance, str) and schema.get("format") == "decimal":
                try:
                    value = decimal.Decimal(instance)
                except decimal.InvalidOperation:
                    return  # the pattern keyword reports it
                if value.is_finite() and not ok(value, decimal.Decimal(str(limit))):
                    yield ValidationError(f"{instance} is {words} {limit}")
                return
            yield from original(validator, limit, instance, schema)

        return check

    return jsonschema.validators.extend(base, {k: bound(k) for k in checks})


#: At most this many problems are listed for one call; the rest are counted.
MAX_PROBLEMS = 20


def _problems(validator: Any, raw: Any) -> list[dict[str, str]]:
    """The schema's complaints about ``raw``, each short, at most :data:`MAX_PROBLEMS` of them.

    A list of a million bad items is a million errors; only the first ones are worth building.
    """
    errors = list(itertools.islice(validator.iter_errors(raw), MAX_PROBLEMS + 1))
    # One complaint per field: a bound says more than the pattern that restates it ("-1" for a
    # quantity > 0 breaks both), so a pattern speaks only when nothing else does.
    chosen: dict[str, Any] = {}
    for error in errors[:MAX_PROBLEMS]:
        path = error.json_path
        if path not in chosen or (chosen[path].validator == "pattern" and error.validator != "pattern"):
            chosen[path] = error
    problems = sorted((_problem(e) for e in chosen.values()), key=lambda p: p["path"])
    if len(errors) > MAX_PROBLEMS:
        problems.append({"path": "$", "message": f"and more problems after these {MAX_PROBLEMS}"})
    return problems


def _problem(error: Any) -> dict[str, str]:
    """One jsonschema error as ``{path, message}``, in words, without echoing large values back."""
    path = error.json_path
    keyword, bound, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    if keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        names = ", ".join(clip(name, 40) for name in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        return {"path": f"{path}.{clip(extra[0], 40)}" if len(extra) == 1 else path,
                "message": f"unknown field(s) {names}; allowed: {', '.join(allowed) or 'none'}"}
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return {"path": f"{path}.{missing}", "message": "is required"}
    if keyword in ("anyOf", "oneOf") and error.context:
        # The most relevant branch's complaint (e.g. "too long") says more than "matches no option".
        import jsonschema.exceptions

        # A branch's complaint that the value is not of its type ("not null") says nothing; best_match
        # may pick it over the real one inside an optional object ("must be at least 1"), so it
        # chooses among the others.
        best = jsonschema.exceptions.best_match(e for e in error.context if e.relative_path or e.validator != "type")
        if best is not None:
            return _problem(best)
        return {"path": path, "message": f"expected {describe_json_types(schema)}, got {json_kind(instance)}"}
    return {"path": path, "message": _keyword_message(keyword, bound, instance, schema) or clip(error.message, 200)}


def _keyword_message(keyword: str, bound: Any, instance: Any, schema: dict[str, Any]) -> str | None:
    shown = clip(json.dumps(instance, default=str, ensure_ascii=False), 40)
    if keyword == "type":
        return f"expected {describe_json_types(schema)}, got {json_kind(instance)}"
    if keyword == "pattern":
        hint = schema.get("x-pattern-hint") or schema.get("description")
        return f"{shown} is not {hint}" if schema.get("x-pattern-hint") else \
            f"{shown} is not in the expected form" + (f" ({hint})" if hint else "")
    if keyword in ("maxLength", "minLength"):
        word = "at most" if keyword == "maxLength" else "at least"
        return f"is {len(instance)} characters long; {word} {bound} allowed"
    if keyword in ("maxItems", "minItems"):
        word = "at most" if keyword == "maxItems" else "at least"
        return f"has {len(instance)} items; {word} {bound} allowed"
    if keyword in ("maxProperties", "minProperties"):
        word = "at most" if keyword == "maxProperties" else "at least"
        return f"has {len(instance)} entries; {word} {bound} allowed"
    if keyword == "enum":
        options = ", ".join(json.dumps(v) for v in list(bound)[:20]) + (", ..." if len(bound) > 20 else "")
        return f"{shown} is not one of {options}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "must be at least", "maximum": "must be at most",
                 "exclusiveMinimum": "must be greater than", "exclusiveMaximum": "must be less than"}
        return f"{shown} {words[keyword]} {bound}"
    if keyword == "uniqueItems":
        return "has repeated items; each must be unique"
    return None


def describe_json_types(schema: dict[str, Any]) -> str:
    """``{"type": ["string", "null"], "format": "date-time"}`` -> "a date-time string or null"."""
    words = {"integer": "an integer", "number": "a number", "boolean": "true or false", "null": "null",
             "object": "a JSON object", "array": "a JSON array", "string": "a string"}
    formats = {"date-time": "a date (2024-01-02) or an ISO 8601 date-time (2024-01-02T15:30:00Z)",
               "date": "a date such as 2024-01-02", "decimal": "a decimal number such as \"12.50\""}
    kinds: list[str] = []
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        for option in options:
            kinds.append(describe_json_types(option))
    else:
        kind = schema.get("type")
        names = [kind] if isinstance(kind, str) else list(kind or [])
        fmt = formats.get(schema.get("format", ""))
        for name in names:
            text = fmt if fmt and name in ("string", "number") else words.get(name, name)
            if text not in kinds:
                kinds.append(text)
    return " or ".join(dict.fromkeys(kinds)) or "a valid value"


def json_kind(value: Any) -> str:
    """The JSON kind of a parsed value, in words ("text", "an integer", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


class OperationRegistry:
    """All operations of a host, by name. Collisions between plugins are errors naming both."""

    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}

    def add(self, op: Operation, *, plugin: str) -> Operation:
        if not isinstance(op, Operation):
            raise NtPluginError(f"plugin {plugin!r} registered {op!r}, which is not an Operation")
        existing = self._ops.get(op.name)
        if existing is not None:
            raise NtPluginError(
                f"operation {op.name!r} is registered by plugin {existing.plugin!r} and again by "
                f"plugin {plugin!r}; block one of them (NT_BLOCK_PLUGINS) or rename the operation"
            )
        tool_clash = next((o for o in self._ops.values() if o.tool_name == op.tool_name), None)
        if tool_clash is not None:
            raise NtPluginError(
                f"operation {op.name!r} of plugin {plugin!r} and {tool_clash.name!r} of plugin "
                f"{tool_clash.plugin!r} map to the same tool name {op.tool_name!r}"
            )
        op = attrs.evolve(op, plugin=plugin)
        self._ops[op.name] = op
        return op

    def get(self, name: str) -> Operation:
        op = self._ops.get(name) or next((o for o in self._ops.values() if o.tool_name == name), None)
        if op is None:
            import difflib

            close = difflib.get_close_matches(name, list(self._ops), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `neural-trader ops` lists them"
            raise NtNotFound(f"no operation named {name!r}{hint}")
        return op

    def for_frontend(self, frontend: str) -> list[Operation]:
        return [op for op in self if frontend in op.frontends]

    def __iter__(self) -> Iterator[Operation]:
        return iter(sorted(self._ops.values(), key=lambda o: o.name))

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: object) -> bool:
        return name in self._ops


def error_payload(exc: BaseException, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, ``{"error": {type, message, details}}``) for any exception; internals never leak."""
    if isinstance(exc, NtError):
        body = exc.to_dict()
        status = exc.http_status
    else:
        log.exception("unexpected error (request %s)", request_id)
        body = {"type": "internal_error",
                "message": f"internal error; quote request id {request_id} when reporting it",
                "details": None}
        status = 500
    if request_id:
        body["request_id"] = request_id
    return status, {"error": body}
