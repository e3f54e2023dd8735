"""One exception family. Each error knows its CLI exit code, HTTP status and wire type.

Frontends map errors in exactly one place each (``frontends/rest.py``, ``frontends/mcp.py``,
``neural_trader_cli.main``); everything else raises these and never formats for a frontend.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NtError(Exception):
    """Base of every error Neural Trader raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    #: Whether the caller can fix it by changing the request (MCP tells the model to retry).
    fixable: ClassVar[bool] = False

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "details": self.details}


class NtUserError(NtError, ValueError):
    """The request is wrong; the message says what to change.

    Raised by a handler, it means parameters that each match the schema but not together, or not
    with the data (``start`` after ``end``, a window with no bars): no schema can say these, so
    over REST it is ``422 unprocessable``, like a schema violation (:class:`NtValidationError`).
    """

    exit_code = 2
    http_status = 422
    type = "unprocessable"
    fixable = True


class NtBadRequest(NtUserError):
    """The request itself cannot be read: its body is not JSON, its query string not UTF-8, a
    header is malformed. Frontends raise it; handlers never see such a request."""

    http_status = 400
    type = "bad_request"


class NtValidationError(NtUserError):
    """Parameters do not match the operation's schema. ``details`` lists ``{path, message}``."""

    http_status = 422
    type = "validation_error"

    @classmethod
    def from_problems(cls, problems: list[dict[str, str]]) -> NtValidationError:
        text = "; ".join(f"{p['message']} @ {p['path']}" for p in problems)
        return cls(f"invalid parameters: {text}", details=problems)


class NtCrossFieldError(NtValidationError):
    """A field whose allowed values depend on another field (a strategy's parameters depend on
    ``strategy``; a range's ``low`` on its ``high``). The schema cannot state these, so the request
    matched it: the wire type is ``unprocessable``, with the same ``{path, message}`` details."""

    type = "unprocessable"


class NtConfirmationRequired(NtUserError):
    """An operation that acts for real (trades, cancels, halts) was called without ``confirm: true``.
    Nothing ran; preview it, then call again with the confirmation."""

    type = "confirmation_required"


class NtLimitExceeded(NtUserError):
    """The request would cost more than a bound of the host allows (bars, combinations, splits ...).
    ``details`` names the bound, the asked value, the limit and the setting that raises it."""

    http_status = 413
    type = "limit_exceeded"


class NtUnauthorized(NtError, PermissionError):
    """No credentials, or credentials that are not valid."""

    exit_code = 4
    http_status = 401
    type = "unauthorized"


class NtForbidden(NtError, PermissionError):
    """Valid credentials without the scope the operation needs."""

    exit_code = 4
    http_status = 403
    type = "forbidden"


class NtNotFound(NtError, LookupError):
    """The named thing does not exist."""

    exit_code = 3
    http_status = 404
    type = "not_found"
    fixable = True


class NtConflict(NtError):
    """The request clashes with existing state (duplicate id, name collision)."""

    exit_code = 5
    http_status = 409
    type = "conflict"
    fixable = True


class NtRateLimited(NtError):
    """Too many requests; ``retry_after`` says when to try again (seconds), if known."""

    exit_code = 6
    http_status = 429
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class NtCancelled(NtError):
    """The caller cancelled a running operation."""

    exit_code = 130
    http_status = 499
    type = "cancelled"


class NtPluginError(NtError, RuntimeError):
    """A plugin failed to load, collided with another, or is unavailable."""

    exit_code = 7
    http_status = 500
    type = "plugin_error"


class NtUnavailable(NtError):
    """A dependency (an optional package, an upstream service) is not available right now."""

    exit_code = 8
    http_status = 503
    type = "unavailable"


class NtNativeError(NtError, RuntimeError):
    """A native kernel reported a failure it could not turn into a user error."""

    exit_code = 9
    http_status = 500
    type = "native_error"
