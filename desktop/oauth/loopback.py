"""System-browser sign-in (RFC 8252): a one-shot loopback listener and the flow around it.

``LoopbackListener`` listens on 127.0.0.1 on a free port. The browser (opened with Python's
``webbrowser``, so ``$BROWSER`` is honoured) comes back to ``http://127.0.0.1:<port>/<path>``;
the listener accepts only a redirect that carries this sign-in's ``state`` (anything else gets
a refusal page and the listener keeps waiting), hands it to the caller, and answers the tab
with the outcome ("you can close this tab", or the error and its hint) once the code exchange
is done. ``submit(url)`` accepts the same redirect pasted by hand (browser on another machine).

Any local program can connect, so the listener is bounded: one thread reads every connection
(non-blocking, ``selectors``) - no thread per connection; at most ``MAX_CONNECTIONS`` open at once (a new
one closes the oldest that has not sent its request yet, so idle connections cannot keep the browser out),
``MAX_REQUEST_BYTES`` of request line and headers (431/414), ``READ_TIMEOUT`` seconds to send them (then
dropped), GET only (405), and a plain 400 for anything ``parse_request`` cannot read. Only the one accepted
redirect gets a thread of its own, to wait for the outcome. ``close()`` ends them all. A state with
characters outside ASCII is simply not this sign-in's state.
"""

from __future__ import annotations

import contextlib
import html
import logging
import queue
import selectors
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop.oauth.errors import Cancelled, SignInTimedOut, TokenError
from desktop.oauth.flow import callback_params, loopback_redirect_uri, same_secret

if TYPE_CHECKING:
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService

logger = logging.getLogger(__name__)

#: how long the browser tab waits for the outcome of the code exchange before it gets a neutral page
OUTCOME_WAIT_SECONDS = 60.0
#: connections open at once (a browser opens a few); more are closed at once
MAX_CONNECTIONS = 32
#: request line and headers (a redirect with code and state is a few hundred bytes; cookies for 127.0.0.1 add some)
MAX_REQUEST_BYTES = 16 * 1024
#: seconds a connection has to send its request line and headers
READ_TIMEOUT = 10.0
#: seconds to write an answer, and to read what a client still sends after it (so it gets the answer)
WRITE_TIMEOUT = 2.0
LINGER_BYTES = 256 * 1024

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            409: "Conflict", 414: "URI Too Long", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - Tokendesk</title>
<style>body{{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0}}
main{{max-width:520px;margin:64px auto;background:#fff;padding:28px 32px;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}}h1{{font-size:20px;margin:0 0 12px;color:{color}}}
p{{color:#333;line-height:1.45}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def render_page(title: str, paragraphs: list[str], ok: bool) -> bytes:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs if p)
    return _PAGE.format(title=html.escape(title), body=body, color="#1a7f37" if ok else "#b42318").encode("utf-8")


#: RFC 3986 pchar and "/" (a path in origin-form; the query may hold any visible ASCII, as browsers send it)
_PATH_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@/")


class BadRequest(ValueError):
    """A request the listener does not read: ``status`` (400, 405, 414, 431) and the reason in words."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_request(head: bytes) -> tuple[str, str]:
    """(method, target) of a request head (request line and header lines, without the blank line).

    Raises BadRequest for anything else: not ``METHOD /target HTTP/1.x`` with single spaces, a target that is not
    a path of visible ASCII (RFC 9112 origin-form), a header line without a colon, more than MAX_REQUEST_BYTES
    (431, or 414 when the request line alone is that long), a method other than GET (405)."""
    line, _, rest = head.partition(b"\n")
    if len(head) > MAX_REQUEST_BYTES:
        raise BadRequest(414 if len(line) > MAX_REQUEST_BYTES else 431, "the request is too large")
    parts = line.removesuffix(b"\r").split(b" ")
    if len(parts) != 3:
        raise BadRequest(400, "the request line is not METHOD /path HTTP/1.1")
    method, target, version = parts
    if version not in (b"HTTP/1.0", b"HTTP/1.1"):
        raise BadRequest(400, "not HTTP/1.0 or HTTP/1.1")
    if not method or not all(0x41 <= b <= 0x5A for b in method):
        raise BadRequest(400, "the method is not a word in capitals")
    path, _, query = target.partition(b"?")
    if not path.startswith(b"/") or not all(b in _PATH_BYTES for b in path) or not all(0x21 <= b <= 0x7E
                                                                                       for b in query):
        raise BadRequest(400, "the address is not a path of visible ASCII characters")
    for header in rest.split(b"\n"):
        header = header.removesuffix(b"\r")
        if header and (b":" not in header or b"\x00" in header):
            raise BadRequest(400, "a header line is not 'Name: value'")
    if method != b"GET":
        raise BadRequest(405, "only GET is answered here")
    return "GET", target.decode("ascii")


class _Outcome:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = False
        self.title = ""
        self.paragraphs: list[str] = []


@dataclass
class _Connection:
    sock: socket.socket
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    #: answered: what still comes is read and dropped until the client closes (so it gets the answer) or the deadline
    lingering: int = -1


class LoopbackListener:
    """One sign-in's redirect listener on 127.0.0.1 (any free port). Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._closing = threading.Event()
        self._connections: dict[socket.socket, _Connection] = {}
        self._callbacks: queue.Queue[str | None] = queue.Queue()
        self._expected_state: str | None = None
        self._path = "/"
        self._outcome = _Outcome()
        self._accepted = threading.Event()
        self._answering: threading.Thread | None = None

    # ---- life cycle
    def start(self) -> LoopbackListener:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((self._host, 0))
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._waker = socket.socketpair()
        self._waker[0].setblocking(False)
        self._thread = threading.Thread(target=self._serve, name="tokendesk-loopback", daemon=True)
        self._thread.start()
        logger.info("loopback listener on %s:%d", self._host, self.port)
        return self

    def close(self) -> None:
        if not self._outcome.event.is_set():
            self.finish(False, "Sign-in abandoned", ["Tokendesk is no longer waiting for this sign-in."])
        answering = self._answering
        if answering is not None:  # let the tab get its answer page before the process may end
            answering.join(WRITE_TIMEOUT + 1.0)
        if self._thread is not None:
            self._closing.set()
            if self._waker is not None:
                with contextlib.suppress(OSError):
                    self._waker[1].send(b"x")
            self._thread.join(5.0)
            self._thread = None

    def __enter__(self) -> LoopbackListener:
        return self.start() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._sock is not None, "start() first"
        return int(self._sock.getsockname()[1])

    # ---- the redirect
    def expect(self, state: str, redirect_uri: str) -> None:
        """Accept only redirects to ``redirect_uri``'s path that carry ``state``."""
        from urllib.parse import urlsplit

        self._expected_state = state
        try:
            self._path = urlsplit(redirect_uri).path or "/"
        except ValueError:
            self._path = "/"

    def submit(self, url: str) -> bool:
        """Hand in a redirect address pasted by the admin; False when it is not this sign-in's."""
        if not self._matches(url):
            return False
        self._accept(url)
        return True

    def cancel(self) -> None:
        """Stop waiting (from any thread): ``wait`` raises Cancelled."""
        self._callbacks.put(None)

    def wait(self, timeout: float) -> str:
        """The accepted redirect URL; Cancelled after ``timeout`` seconds or after ``cancel()``."""
        try:
            url = self._callbacks.get(timeout=timeout)
        except queue.Empty:
            url = ""
        if url is None:
            raise Cancelled("The sign-in was cancelled; the stored token was not changed.")
        if not url:
            raise SignInTimedOut(
                f"No answer from the browser within {timeout:g} s; the sign-in was abandoned and nothing was stored.",
                "Request the token again and finish the sign-in in the browser tab that opens "
                "(or paste the address the browser ended on).",
            )
        return url

    def finish(self, ok: bool, title: str, paragraphs: list[str]) -> None:
        """The outcome the browser tab shows (it waits for this, up to OUTCOME_WAIT_SECONDS)."""
        self._outcome.ok, self._outcome.title, self._outcome.paragraphs = ok, title, paragraphs
        self._outcome.event.set()

    # ---- internals: matching
    def _matches(self, url: str) -> bool:
        params = callback_params(url)
        if not same_secret(params.get("state"), self._expected_state):
            return False
        return bool(params.get("code") or params.get("error"))

    def _accept(self, url: str) -> None:
        if not self._accepted.is_set():
            self._accepted.set()
            self._callbacks.put(url)

    # ---- internals: the connections (one thread, non-blocking)
    def _serve(self) -> None:
        assert self._sock is not None and self._waker is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._waker[0], selectors.EVENT_READ)
            try:
                while not self._closing.is_set():
                    now = time.monotonic()
                    soonest = min((c.deadline for c in self._connections.values()), default=now + 1.0)
                    for key, _events in selector.select(max(0.0, min(soonest - now, 1.0))):
                        if key.fileobj is self._waker[0]:
                            with contextlib.suppress(OSError):
                                self._waker[0].recv(64)
                        elif key.fileobj is self._sock:
                            self._accept_connections(selector)
                        else:
                            self._readable(selector, self._connections.get(key.fileobj))  # type: ignore[arg-type]
                    self._expire(selector, time.monotonic())
            finally:
                for conn in list(self._connections.values()):
                    self._drop(selector, conn)
                self._sock.close()
                for end in self._waker:
                    end.close()

    def _accept_connections(self, selector: selectors.BaseSelector) -> None:
        assert self._sock is not None
        while True:
            try:
                sock, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                logger.debug("loopback: accept failed", exc_info=True)
                return
            waiting = [c for c in self._connections.values() if c.lingering < 0]
            if len(self._connections) >= MAX_CONNECTIONS and waiting:
                # the oldest connection still without a request makes room: a browser sends its request at once,
                # so a crowd of idle connections cannot keep the real redirect out
                oldest = min(waiting, key=lambda c: c.deadline)
                logger.warning("loopback: %d connections open; closed the oldest idle one", len(self._connections))
                with contextlib.suppress(OSError):
                    oldest.sock.send(self._response(503, b"Busy: too many connections.\n", "text/plain; charset=utf-8"))
                self._drop(selector, oldest)
            elif len(self._connections) >= MAX_CONNECTIONS:
                sock.close()
                continue
            sock.setblocking(False)
            conn = _Connection(sock, time.monotonic() + READ_TIMEOUT)
            self._connections[sock] = conn
            selector.register(sock, selectors.EVENT_READ)

    def _readable(self, selector: selectors.BaseSelector, conn: _Connection | None) -> None:
        if conn is None:
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(selector, conn)
            return
        if conn.lingering >= 0:  # answered: drop what still comes, up to a point
            conn.lingering += len(data)
            if not data or conn.lingering > LINGER_BYTES:
                self._drop(selector, conn)
            return
        if not data:  # the client stopped sending before the blank line
            if conn.buffer:
                self._refuse(selector, conn, *self._bad(bytes(conn.buffer)))
            else:
                self._drop(selector, conn)
            return
        conn.buffer += data
        end = -1
        for blank in (b"\r\n\r\n", b"\n\n"):
            found = conn.buffer.find(blank)
            if found >= 0 and (end < 0 or found < end):
                end = found
        if end < 0:
            if len(conn.buffer) > MAX_REQUEST_BYTES:
                self._refuse(selector, conn, *self._bad(bytes(conn.buffer)))
            return
        try:
            self._handle(selector, conn, bytes(conn.buffer[:end]))
        except Exception:  # never the listener's end: this one connection is dropped
            logger.exception("loopback: a request could not be answered")
            self._drop(selector, conn)

    @staticmethod
    def _bad(head: bytes) -> tuple[int, str]:
        try:
            parse_request(head)
        except BadRequest as exc:
            return exc.status, exc.reason
        return 400, "the request did not end with a blank line"

    def _handle(self, selector: selectors.BaseSelector, conn: _Connection, head: bytes) -> None:
        try:
            _method, target = parse_request(head)
        except BadRequest as exc:
            self._refuse(selector, conn, exc.status, exc.reason)
            return
        path = target.split("?", 1)[0]
        if path != self._path:
            self._answer(selector, conn, 404, render_page("Not found", ["This address is not part of the sign-in."],
                                                         False))
            return
        if self._accepted.is_set():
            self._answer(selector, conn, 409, render_page("Already done", ["This sign-in was already handled. "
                                                                          "You can close this tab."], False))
            return
        host = f"[{self._host}]" if ":" in self._host else self._host
        url = f"http://{host}:{self.port}{target}"
        if not self._matches(url):
            logger.warning("loopback: refused a redirect that does not carry this sign-in's state")
            self._answer(selector, conn, 400, render_page(
                "Sign-in refused",
                ["This answer does not belong to the sign-in Tokendesk is waiting for (the state parameter is "
                 "missing or different), so it was ignored and nothing was stored.",
                 "Start the sign-in again from Tokendesk if needed."], False))
            return
        self._accept(url)
        # the one accepted redirect waits for the outcome on a thread of its own; the listener goes on
        selector.unregister(conn.sock)
        del self._connections[conn.sock]
        self._answering = threading.Thread(target=self._answer_outcome, args=(conn.sock,),
                                           name="tokendesk-loopback-outcome", daemon=True)
        self._answering.start()

    def _answer_outcome(self, sock: socket.socket) -> None:
        with sock:
            if not self._outcome.event.wait(OUTCOME_WAIT_SECONDS):
                status, body = 200, render_page("Sign-in received", ["Tokendesk received the answer. "
                                                                    "You can close this tab."], True)
            else:
                outcome = self._outcome
                status = 200 if outcome.ok else 400
                body = render_page(outcome.title, outcome.paragraphs, outcome.ok)
            with contextlib.suppress(OSError):
                sock.settimeout(WRITE_TIMEOUT)
                sock.sendall(self._response(status, body))
                sock.shutdown(socket.SHUT_WR)

    def _refuse(self, selector: selectors.BaseSelector, conn: _Connection, status: int, reason: str) -> None:
        logger.debug("loopback: %d %s", status, reason)
        extra = [("Allow", "GET")] if status == 405 else []
        self._answer(selector, conn, status, f"Bad request: {reason}.\n".encode(), "text/plain; charset=utf-8",
                     extra)

    def _answer(self, selector: selectors.BaseSelector, conn: _Connection, status: int, body: bytes,
                content_type: str = "text/html; charset=utf-8", extra: list[tuple[str, str]] | None = None) -> None:
        """Write a small answer (bounded by WRITE_TIMEOUT), then read and drop what the client still sends."""
        try:
            conn.sock.settimeout(WRITE_TIMEOUT)
            conn.sock.sendall(self._response(status, body, content_type, extra))
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._drop(selector, conn)
            return
        conn.buffer.clear()
        conn.lingering = 0
        conn.deadline = time.monotonic() + WRITE_TIMEOUT

    @staticmethod
    def _response(status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
                  extra: list[tuple[str, str]] | None = None) -> bytes:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                   ("Referrer-Policy", "no-referrer"), ("Connection", "close"), ("Server", "Tokendesk"),
                   *(extra or [])]
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers)
        return head.encode("ascii") + b"\r\n" + body

    def _expire(self, selector: selectors.BaseSelector, now: float) -> None:
        for conn in [c for c in self._connections.values() if c.deadline <= now]:
            if conn.lingering < 0:
                logger.debug("loopback: a connection sent no complete request within %g s", READ_TIMEOUT)
                with contextlib.suppress(OSError):
                    conn.sock.send(self._response(408, b"Request time-out.\n", "text/plain; charset=utf-8"))
            self._drop(selector, conn)

    def _drop(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        self._connections.pop(conn.sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()


def authorize_with_system_browser(
    service: TokenService,
    name: str,
    *,
    timeout: float = 300.0,
    open_browser: Callable[[str], bool] | None = webbrowser.open,
    show_url: Callable[[str, bool], None] | None = None,
    on_listener: Callable[[LoopbackListener], None] | None = None,
) -> TokenState:
    """The whole system-browser sign-in: listener, URL, browser, wait, exchange, store.

    ``show_url(url, opened)`` is told the address (and whether a browser was started) so it can
    be shown for use on another machine; ``open_browser`` None opens nothing (print-only).
    ``on_listener`` gets the running listener (e.g. to ``submit`` a pasted redirect).
    """
    cfg = service.configuration(name)
    with LoopbackListener() as listener:
        redirect_uri = loopback_redirect_uri(cfg, service.ctx.store.settings(), listener.port)
        request = service.begin_authorization(name, redirect_uri=redirect_uri)
        listener.expect(request.state, redirect_uri)
        opened = _start_browser(open_browser, request.url) if open_browser is not None else False
        if show_url is not None:
            show_url(request.url, opened)
        if on_listener is not None:
            on_listener(listener)
        try:
            callback = listener.wait(timeout)
        except Cancelled:
            request.used = True
            raise
        try:
            state = service.complete_authorization(request, callback)
        except TokenError as exc:
            listener.finish(False, "Sign-in failed", [str(exc), exc.hint,
                                                      "Details are in Tokendesk. You can close this tab."])
            raise
        except Exception:
            listener.finish(False, "Sign-in failed", ["Something went wrong; details are in Tokendesk."])
            raise
        listener.finish(True, "Signed in", [f"Tokendesk stored the token for \u201c{cfg.name}\u201d.",
                                            "You can close this tab and return to Tokendesk."])
        return state


def _start_browser(open_browser: Callable[[str], bool], url: str, wait: float = 3.0) -> bool:
    """Run ``open_browser(url)`` on a thread: some $BROWSER commands only return when they exit,
    and the page they load needs this process to answer. True when it started (or is still starting)."""
    result: list[bool] = []

    def run() -> None:
        try:
            result.append(bool(open_browser(url)))
        except Exception:  # webbrowser may raise on odd $BROWSER values
            logger.warning("could not start a browser", exc_info=True)
            result.append(False)

    thread = threading.Thread(target=run, name="tokendesk-browser", daemon=True)
    thread.start()
    thread.join(wait)
    return result[0] if result else True
