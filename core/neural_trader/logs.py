"""Server logs: plain text, or JSON lines carrying the request id of the call that logged them.

The frontends bind the request id of each call (:func:`bound_request_id`, the ``X-Request-ID`` a
client sent, else a fresh one), so every line a handler, service or provider logs during that call
names it; quote it when reporting a problem. ``log_format = "json"`` (``NT_LOG_FORMAT=json``) writes
one JSON object a line: ``time``, ``level``, ``logger``, ``message``, ``request_id`` and, for an
exception, ``exception`` (its type and message; the traceback only at DEBUG level).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = ["JsonFormatter", "bound_request_id", "configure_logging", "current_request_id"]

_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("neural_trader.request_id", default=None)


@contextlib.contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _REQUEST_ID.get(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exception"] = f"{type(exc).__name__}: {exc}"
            if record.levelno <= logging.DEBUG or logging.getLogger().isEnabledFor(logging.DEBUG):
                out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def handler_for(settings: Settings, stream: object = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.addFilter(_RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    return handler


def configure_logging(settings: Settings) -> None:
    """The ``neural_trader`` loggers of a server: ``settings.log_level``, in ``settings.log_format``."""
    logger = logging.getLogger("neural_trader")
    for old in [h for h in logger.handlers if getattr(h, "_nt_server", False)]:
        logger.removeHandler(old)
    handler = handler_for(settings)
    handler._nt_server = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())
    logger.propagate = False
