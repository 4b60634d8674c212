"""A small web service on loopback that requires an OAuth2 bearer token (for the invoker tests).

Every request must carry ``Authorization: Bearer <token>``; the token is checked at the OAuth2
test server's introspection endpoint (RFC 7662) on every request, so a revoked or expired
token is refused at once. Routes:

* ``GET /api/tickets``: 200 JSON ``{"user": ..., "tickets": [...], "authorization_seen": ...}``
  (the service echoes the Authorization header it received, so tests can prove that what
  Tokendesk *shows* is redacted even when a service echoes the token back);
* ``POST /api/tickets``: 201 JSON with the posted JSON body under ``"created"``;
* ``GET /api/plain``: 200 text/plain;
* ``GET /api/redirect``: 302 to another host (a client must not follow it with the token);
* ``GET /api/echo-forms``: 200 text/plain that echoes the token the way careless services do - base64
  wrapped at 76 columns (CRLF), URL-encoded, JSON-escaped, cut short - and its start in a header;
* anything without a valid token: 401 with ``WWW-Authenticate: Bearer error="invalid_token"``.

``http_api`` serves plain HTTP on 127.0.0.1; ``https_api`` the same over TLS with a certificate
from a CA made for the run (``https_api.ca_file``). Both run in threads and stop at the end.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TICKETS = [
    {"id": 1001, "title": "Printer on fire", "state": "open"},
    {"id": 1002, "title": "Password reset", "state": "closed"},
]


def introspect(introspection_url: str, token: str, timeout: float = 5.0) -> dict[str, Any]:
    """RFC 7662 introspection (POST form ``token=``); ``{"active": False}`` when it cannot be asked."""
    body = urllib.parse.urlencode({"token": token}).encode()
    request = urllib.request.Request(introspection_url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read() or b"{}")
    except (OSError, ValueError):
        return {"active": False}
    return data if isinstance(data, dict) else {"active": False}


@dataclass
class ApiServer:
    server: ThreadingHTTPServer
    thread: threading.Thread
    scheme: str
    ca_file: Path | None = None
    #: (method, path, user or None) for every request, oldest first
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/api/tickets") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _handler(introspection_url: str, api: list[ApiServer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "TokendeskTestAPI/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet; the request list is the log

        def _send(self, status: int, payload: Any, content_type: str = "application/json",
                  extra: dict[str, str] | None = None) -> None:
            data = (json.dumps(payload) if content_type == "application/json" else str(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            if not auth.lower().startswith("bearer "):
                return None
            info = introspect(introspection_url, auth[7:].strip())
            if info.get("active") is not True or str(info.get("token_type", "Bearer")).lower() != "bearer":
                return None
            return str(info.get("username") or info.get("sub") or "")

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urllib.parse.urlsplit(self.path).path
            user = self._user()
            api[0].requests.append((self.command, path, user))
            if user is None:
                self._send(401, {"error": "invalid_token", "error_description": "a valid bearer token is required"},
                           extra={"WWW-Authenticate": 'Bearer error="invalid_token"'})
                return
            if path == "/api/tickets" and self.command in ("GET", "HEAD"):
                self._send(200, {"user": user, "tickets": TICKETS,
                                 "authorization_seen": self.headers.get("Authorization")})
            elif path == "/api/tickets" and self.command == "POST":
                try:
                    created = json.loads(body or b"null")
                except ValueError:
                    self._send(400, {"error": "the body is not JSON"})
                    return
                self._send(201, {"user": user, "created": created}, extra={"Location": "/api/tickets/1003"})
            elif path == "/api/plain":
                self._send(200, f"hello {user}\n", content_type="text/plain; charset=utf-8")
            elif path == "/api/echo-forms":
                token = self.headers.get("Authorization", "")[7:].strip()
                b64 = base64.b64encode(token.encode()).decode()
                text = ("Your token, base64:\r\n" + "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
                        + f"\r\nURL-encoded: {urllib.parse.quote(token, safe='')}"
                        + f"\r\nin JSON: {json.dumps({'seen': token})}"
                        + f"\r\ncut short: {token[5:45]}...\r\n")
                self._send(200, text, content_type="text/plain; charset=utf-8",
                           extra={"X-Token-Start": token[:30]})
            elif path == "/api/redirect":
                self._send(302, {"moved": True}, extra={"Location": "http://127.0.0.2:9/elsewhere"})
            else:
                self._send(404, {"error": "not found"})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return Handler


def start_api(introspection_url: str, *, tls: tuple[Path, Path, Path] | None = None) -> ApiServer:
    """Start on a free port; ``tls`` = (certificate, key, CA file) serves HTTPS."""
    holder: list[ApiServer] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(introspection_url, holder))
    server.daemon_threads = True
    scheme, ca_file = "http", None
    if tls is not None:
        cert, key, ca_file = tls
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, name=f"test-api-{scheme}", daemon=True)
    api = ApiServer(server, thread, scheme, ca_file)
    holder.append(api)
    thread.start()
    return api


@pytest.fixture(scope="session")
def http_api_server(oauth_server) -> Iterator[ApiServer]:  # noqa: ANN001 - fixture from tests.servers.oauth
    api = start_api(oauth_server.introspection_endpoint)
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="session")
def https_api_server(oauth_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:  # noqa: ANN001
    from tests.servers.dovecot import make_test_pki

    pki = make_test_pki(tmp_path_factory.mktemp("https-api-pki"))
    api = start_api(oauth_server.introspection_endpoint, tls=(pki.cert_file, pki.key_file, pki.ca_file))
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def http_api(http_api_server: ApiServer) -> ApiServer:
    http_api_server.requests.clear()
    return http_api_server


@pytest.fixture
def https_api(https_api_server: ApiServer) -> ApiServer:
    https_api_server.requests.clear()
    return https_api_server
