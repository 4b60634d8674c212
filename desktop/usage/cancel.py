"""Cancelling a running connection test from another thread (the GUI's Cancel button).

``Cancellation.cancel()`` sets a flag and shuts the test's TCP connection down, so a client
blocked reading a greeting, a TLS handshake or an answer returns at once instead of at the
network time-out; the test then reports "cancelled" rather than a connection failure. The
connection is watched through a duplicate of its socket taken right after connecting (the
stdlib clients wrap the original in TLS, which detaches it; ``shutdown`` on the duplicate acts on
the shared connection). A connect still in progress cannot be interrupted: it ends at the
time-out, and the GUI has already moved on (it drops results of cancelled runs). No Qt here.
"""

from __future__ import annotations

import socket
import threading


class Cancellation:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def watch(self, sock: socket.socket) -> None:
        """Called by the test right after a TCP connection is made (before any TLS)."""
        try:
            twin = sock.dup()
        except OSError:
            return
        with self._lock:
            self._sockets.append(twin)
        if self.cancelled:
            self._shut()

    def cancel(self) -> None:
        self._event.set()
        self._shut()

    def close(self) -> None:
        """The test is over: let go of the duplicates (the connection itself is the client's)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def _shut(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: nothing left to interrupt
