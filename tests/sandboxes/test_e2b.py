"""The e2b provider against a stand-in server on 127.0.0.1 that answers with the recorded wire format
(tests/fixtures/e2b/, MANIFEST.e2b.json): create (201, and 401 with its error body), run code (the
ndjson stream, ok and error), kill (204)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from neural_trader.errors import NtUnavailable
from neural_trader.host import Host
from neural_trader.testing import HostFactory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "e2b"
KEY = "e2b_0123456789abcdef"


class StandIn(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    created = json.loads((FIXTURES / "create_sandbox_201.json").read_text())

    def log_message(self, *args: Any) -> None:
        return

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return json.loads(raw) if raw else None

    def do_POST(self) -> None:
        body = self._body()
        self.seen.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/v2/sandboxes":
            if self.headers.get("X-API-KEY") != KEY:
                self._answer(401, (FIXTURES / "error_401.json").read_bytes())
            else:
                self._answer(201, (FIXTURES / "create_sandbox_201.json").read_bytes())
        elif self.path == "/execute":
            if self.headers.get("X-Access-Token") != self.created["envdAccessToken"] or \
                    self.headers.get("E2b-Sandbox-Id") != self.created["sandboxID"]:
                self._answer(401, (FIXTURES / "error_401.json").read_bytes())
                return
            name = "execute_error.ndjson" if "1/0" in body["code"] else "execute_ok.ndjson"
            self._answer(200, (FIXTURES / name).read_bytes())
        else:
            self._answer(404, b'{"code": 404, "message": "not found"}')

    def do_DELETE(self) -> None:
        self.seen.append({"method": "DELETE", "path": self.path, "headers": dict(self.headers), "body": None})
        ok = self.path == f"/sandboxes/{self.created['sandboxID']}" and self.headers.get("X-API-KEY") == KEY
        self._answer(204 if ok else 404, b"")


@pytest.fixture
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    StandIn.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def host(nt_host_factory: HostFactory, stand_in: str, monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.setenv("E2B_API_KEY", KEY)
    monkeypatch.setenv("E2B_API_URL", stand_in)
    monkeypatch.setenv("E2B_SANDBOX_URL", stand_in)
    return nt_host_factory()


def test_create_run_and_kill_round_trip(host: Host) -> None:
    made = host.call("sandbox.create", {"name": "cloud", "provider": "e2b"})
    assert made["provider"] == "e2b" and made["status"] == "running"
    create = StandIn.seen[0]
    expected = json.loads((FIXTURES / "create_sandbox_request.json").read_text())
    assert create["path"] == "/v2/sandboxes" and create["headers"]["X-API-KEY"] == KEY
    assert set(create["body"]) == set(expected) and create["body"]["templateID"] == expected["templateID"]

    ok = host.call("sandbox.run_code", {"sandbox": "cloud", "code": "print('hello'); 1 + 1"})
    assert ok["ok"] and ok["stdout"] == "hello\n" and ok["result"] == "2" and ok["error"] is None
    sent = StandIn.seen[-1]
    assert sent["body"]["language"] == "python" and sent["headers"]["E2b-Sandbox-Port"] == "49999"

    failed = host.call("sandbox.run_code", {"sandbox": "cloud", "code": "1/0"})
    assert not failed["ok"] and failed["exit_code"] == 1
    assert failed["error"] == "ZeroDivisionError: division by zero" and "----> 1 1/0" in failed["stderr"]

    command = host.call("sandbox.exec", {"sandbox": "cloud", "command": ["echo", "hello world"]})
    assert StandIn.seen[-1]["body"]["language"] == "bash"
    assert StandIn.seen[-1]["body"]["code"] == "echo 'hello world'" and command["ok"]

    ended = host.call("sandbox.terminate", {"sandbox": "cloud", "confirm": True})
    assert ended["status"] == "terminated"
    assert StandIn.seen[-1]["method"] == "DELETE" and StandIn.seen[-1]["path"] == "/sandboxes/ixq3x2sbxabcdef0123"
    assert KEY not in json.dumps([made, ok, failed, command, ended])


def test_a_wrong_key_is_the_401_body_message(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2B_API_KEY", "e2b_wrong")
    with pytest.raises(NtUnavailable, match="401 Invalid API key; check E2B_API_KEY") as caught:
        host.call("sandbox.create", {"name": "cloud", "provider": "e2b"})
    assert "e2b_wrong" not in str(caught.value)
    assert host.call("sandbox.list", {})["sandboxes"] == []


def test_no_key_says_what_to_set(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2B_API_KEY")
    with pytest.raises(NtUnavailable, match="set E2B_API_KEY"):
        host.call("sandbox.create", {"name": "cloud", "provider": "e2b"})
    assert "not configured" in next(p for p in host.call("sandbox.status", {})["providers"]
                                    if p["name"] == "e2b")["isolation"]
