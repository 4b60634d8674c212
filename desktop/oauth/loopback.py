"""System-browser sign-in (RFC 8252): a one-shot loopback listener and the flow around it.

``LoopbackListener`` listens on 127.0.0.1 on a free port. The browser (opened with Python's
``webbrowser``, so ``$BROWSER`` is honoured) comes back to ``http://127.0.0.1:<port>/<path>``;
the listener accepts only a redirect that carries this sign-in's ``state`` (anything else gets
a refusal page and the listener keeps waiting), hands it to the caller, and answers the tab
with the outcome ("you can close this tab", or the error and its hint) once the code exchange
is done. ``submit(url)`` accepts the same redirect pasted by hand (browser on another machine).
"""

from __future__ import annotations

import html
import logging
import queue
import secrets
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from desktop.oauth.errors import Cancelled, SignInTimedOut, TokenError
from desktop.oauth.flow import callback_params, loopback_redirect_uri

if TYPE_CHECKING:
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService

logger = logging.getLogger(__name__)

#: how long the browser tab waits for the outcome of the code exchange before it gets a neutral page
OUTCOME_WAIT_SECONDS = 60.0

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


class _Outcome:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = False
        self.title = ""
        self.paragraphs: list[str] = []


class LoopbackListener:
    """One sign-in's redirect listener on 127.0.0.1 (any free port). Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._callbacks: queue.Queue[str | None] = queue.Queue()
        self._expected_state: str | None = None
        self._path = "/"
        self._outcome = _Outcome()
        self._accepted = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()

    # ---- life cycle
    def start(self) -> LoopbackListener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "Tokendesk"
            sys_version = ""

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
                logger.debug("loopback: %s", format % args)

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with listener._idle:
                    listener._busy += 1
                try:
                    listener._handle(self)
                finally:
                    with listener._idle:
                        listener._busy -= 1
                        listener._idle.notify_all()

        self._server = ThreadingHTTPServer((self._host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="tokendesk-loopback", daemon=True)
        self._thread.start()
        logger.info("loopback listener on %s:%d", self._host, self.port)
        return self

    def close(self) -> None:
        if not self._outcome.event.is_set():
            self.finish(False, "Sign-in abandoned", ["Tokendesk is no longer waiting for this sign-in."])
        with self._idle:  # let the tab get its answer page before the process may end
            self._idle.wait_for(lambda: self._busy == 0, timeout=3.0)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LoopbackListener:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    # ---- the redirect
    def expect(self, state: str, redirect_uri: str) -> None:
        """Accept only redirects to ``redirect_uri``'s path that carry ``state``."""
        self._expected_state = state
        self._path = urlsplit(redirect_uri).path or "/"

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

    # ---- internals
    def _matches(self, url: str) -> bool:
        params = callback_params(url)
        state = params.get("state", "")
        if self._expected_state is None or not secrets.compare_digest(state, self._expected_state):
            return False
        return bool(params.get("code") or params.get("error"))

    def _accept(self, url: str) -> None:
        if not self._accepted.is_set():
            self._accepted.set()
            self._callbacks.put(url)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path != self._path:
            self._send(handler, 404, render_page("Not found", ["This address is not part of the sign-in."], False))
            return
        url = f"http://{self._host}:{self.port}{handler.path}"
        if self._accepted.is_set():
            self._send(handler, 409, render_page("Already done", ["This sign-in was already handled. "
                                                                   "You can close this tab."], False))
            return
        if not self._matches(url):
            logger.warning("loopback: refused a redirect that does not carry this sign-in's state")
            self._send(handler, 400, render_page(
                "Sign-in refused",
                ["This answer does not belong to the sign-in Tokendesk is waiting for (the state parameter is "
                 "missing or different), so it was ignored and nothing was stored.",
                 "Start the sign-in again from Tokendesk if needed."], False))
            return
        self._accept(url)
        if not self._outcome.event.wait(OUTCOME_WAIT_SECONDS):
            self._send(handler, 200, render_page("Sign-in received", ["Tokendesk received the answer. "
                                                                      "You can close this tab."], True))
            return
        outcome = self._outcome
        self._send(handler, 200 if outcome.ok else 400, render_page(outcome.title, outcome.paragraphs, outcome.ok))

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Cache-Control", "no-store")
            handler.send_header("Referrer-Policy", "no-referrer")
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the browser went away
            pass


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
