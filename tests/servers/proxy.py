"""A tiny HTTP proxy on loopback that records what it is asked to carry (tests of the proxy rule).

It understands the two things a client sends a proxy: ``CONNECT host:port`` (https; tunnelled when the target
answers, else 502) and absolute-URI requests such as ``POST http://127.0.0.1:8080/token HTTP/1.1`` (plain http;
forwarded, the request recorded with its body). Each request is kept in ``seen`` as
``{"method", "target", "headers", "body"}`` so a test can say exactly what would have passed through a proxy.

    with RecordingProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        ...
        assert proxy.seen == []
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from typing import Any
from urllib.parse import urlsplit


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self) -> None:
        proxy: RecordingProxy = self.server.recorder  # type: ignore[attr-defined]
        line = self.rfile.readline(65536).decode("latin-1").strip()
        if not line:
            return
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        headers: list[tuple[str, str]] = []
        while True:
            header = self.rfile.readline(65536).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, _, value = header.partition(":")
            headers.append((name.strip(), value.strip()))
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        proxy.record({"method": method, "target": target, "headers": dict(headers), "body": body})
        if method == "CONNECT":
            self._tunnel(target)
        else:
            self._forward(method, target, headers, body.encode("utf-8"))

    def _tunnel(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=3)
        except (OSError, ValueError):
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with upstream:
            pair = [self.connection, upstream]
            while True:
                ready, _, _ = select.select(pair, [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)

    def _forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> None:
        parts = urlsplit(target)
        try:
            upstream = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=3)
        except (OSError, ValueError):
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kept = [(k, v) for k, v in headers if k.lower() not in ("proxy-connection", "connection", "keep-alive")]
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept)
        head += "Connection: close\r\n\r\n"
        with upstream:
            upstream.sendall(head.encode("latin-1") + body)
            while chunk := upstream.recv(65536):
                self.wfile.write(chunk)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class RecordingProxy:
    """The proxy on 127.0.0.1 (free port); ``url`` for the *_PROXY variables, ``seen`` for the assertions."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.recorder = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.seen.append(entry)

    def targets(self) -> list[str]:
        with self._lock:
            return [f"{e['method']} {e['target']}" for e in self.seen]

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        with contextlib.suppress(OSError):
            self._server.server_close()
