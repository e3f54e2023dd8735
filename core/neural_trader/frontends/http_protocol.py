"""The HTTP/1.1 protocol the servers run under uvicorn: httptools' where installed (a dependency),
else h11's, answering a request it cannot read as every other error is answered, with a JSON problem
instead of uvicorn's plain text: 414 ``uri_too_long`` for a URL of :data:`MAX_URL_BYTES` or more
(httptools' URL parser keeps 16-bit offsets), else 400 ``bad_request``.

uvicorn takes it by name (:data:`HTTP_PROTOCOL`), so worker processes import it themselves.
"""

from __future__ import annotations

import json
import os

from neural_trader.errors import NtBadRequest, NtUserError
from neural_trader.ops import error_payload

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is a dependency
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

__all__ = ["HTTP_PROTOCOL", "MAX_URL_BYTES", "JsonErrorProtocol", "NtUriTooLong"]

#: What ``uvicorn.Config(http=...)`` is given.
HTTP_PROTOCOL = f"{__name__}:JsonErrorProtocol"
#: The longest URL (path and query) a request may have, in bytes, less one.
MAX_URL_BYTES = 65_535


class NtUriTooLong(NtUserError):
    """The URL is too long to parse; the parameters belong in a JSON body."""

    http_status = 414
    type = "uri_too_long"


class JsonErrorProtocol(_Base):
    def send_400_response(self, msg: str) -> None:
        request_id = os.urandom(8).hex()
        url = getattr(self, "url", b"")
        error: NtUserError
        if isinstance(url, bytes) and len(url) >= MAX_URL_BYTES:
            error = NtUriTooLong(f"the URL is {len(url)} bytes; it must be under {MAX_URL_BYTES}: send the "
                                 "parameters as a JSON body (POST) instead of a query string",
                                 details={"limit_bytes": MAX_URL_BYTES})
        else:
            error = NtBadRequest(f"the request cannot be read as HTTP/1.1: {msg.rstrip('.')}")
        status, payload = error_payload(error, request_id)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        reason = b"URI Too Long" if status == 414 else b"Bad Request"
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason),
                *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
                b"content-type: application/json\r\n", b"x-request-id: " + request_id.encode("ascii") + b"\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n", b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
