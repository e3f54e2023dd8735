"""What every network call goes through, REST and MCP alike, around ``op.call``.

:func:`admit` — before anything of the request is parsed: the caller's scope (403), then its rate
limit for the operation's class (429 with ``Retry-After``).

:func:`observed` — around the call: the caller bound for the data layer's object-level checks
(:func:`neural_trader.services.identity.bound_caller`), the request id bound for the logs, an
OpenTelemetry span ``operation <name>``, and the request counted and timed in the host's metrics.

:func:`settle_heap` — once, when a server has started: what start-up built is left out of the
garbage collector's full passes.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from opentelemetry import trace

from neural_trader.errors import NtError, NtForbidden
from neural_trader.logs import bound_request_id
from neural_trader.metrics import metrics_of
from neural_trader.services.identity import bound_caller
from neural_trader.tracing import span

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Identity, Operation

__all__ = ["CallOutcome", "admit", "observed", "settle_heap", "status_of"]


def settle_heap() -> None:
    """Move every object alive now (the modules, plugins, schemas and services start-up built) to the
    garbage collector's permanent generation (:func:`gc.freeze`), after collecting what is garbage.

    A full collection walks every tracked object; a server's start-up heap is hundreds of thousands of
    them, all alive for good, so each full pass (about one every thousand orders) stopped the server
    for 150-200 ms, the whole p99 of the order benchmark. For servers only, once started: a test
    process that froze its heap would keep every earlier test's objects.
    """
    gc.collect()
    gc.freeze()


def status_of(exc: BaseException | None) -> int:
    """The HTTP-equivalent status of a call's outcome."""
    if exc is None:
        return 200
    if isinstance(exc, NtError):
        return exc.http_status
    return 499 if type(exc).__name__ == "CancelledError" else 500


def check_scope(op: Operation, identity: Identity) -> None:
    if not identity.allows(op.scope):
        raise NtForbidden(
            f"operation {op.name!r} needs scope '{op.scope.value}'; "
            f"the caller has {sorted(s.value for s in identity.scopes) or 'none'}"
        )


async def admit(host: Host, op: Operation, identity: Identity) -> None:
    """Scope, then rate limit; raises :class:`NtForbidden` or :class:`NtRateLimited`."""
    from neural_trader.services.call_limits import call_limiter_of

    note_caller(identity)
    check_scope(op, identity)
    await call_limiter_of(host).admit(op, identity)


def note_caller(identity: Identity) -> None:
    """Name the authenticated caller on the current operation span."""
    trace.get_current_span().set_attribute("nt.caller", identity.name)


class CallOutcome:
    """Where a frontend records the status it answered (an MCP tool error is not an exception)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


@contextlib.contextmanager
def observed(host: Host, operation: str, frontend: str, request_id: str,
             identity: Identity | None = None) -> Iterator[CallOutcome]:
    """Bind the caller and the request id, open the operation's span, count and time the call."""
    outcome = CallOutcome()
    started = time.perf_counter()
    error: BaseException | None = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(bound_request_id(request_id))
        if identity is not None:
            stack.enter_context(bound_caller(identity))
        current = stack.enter_context(span(f"operation {operation}", **{
            "nt.operation": operation, "nt.frontend": frontend, "nt.request_id": request_id,
            "nt.caller": identity.name if identity is not None else "-"}))
        try:
            yield outcome
        except BaseException as exc:
            error = exc
            raise
        finally:
            status = outcome.status if outcome.status is not None else status_of(error)
            current.set_attribute("http.response.status_code", status)
            metrics_of(host).observe(operation, frontend, status, time.perf_counter() - started)
