"""A team store's changes as they happen: ``LISTEN tokendesk_change`` on a connection of its own, in a thread.

Every write to a watched table notifies ``pg.CHANNEL`` at its commit (``desktop/store/pg.py``). ``ChangeListener``
holds its own connection (``Store.new_connection()``), waits on its socket with ``select`` - no polling: the thread
sleeps until the server sends something, the connection breaks, or ``stop``/``verify`` wake it through a pipe - and
calls ``on_change(table)`` for each notification, on its own thread (the window's ``ui/db_watcher.py`` hands it to
the GUI thread).

The connection's state goes to ``on_state(connected, message, retry_in)``: ``True`` once it listens (again: the
reader then checks ``data_version`` for what it missed meanwhile), ``False`` with the reason in words and the seconds
until the next try when the server cannot be reached. Reconnecting backs off (``BACKOFF``); ``retry_now`` tries at
once. TCP keepalives with a user timeout make a server that vanished (a dead network, no reset) a broken
connection within ``DEAD_AFTER`` seconds instead of a silent one. ``stop`` ends the thread (at quit). Qt-free.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from desktop.store.database import DatabaseError
from desktop.store.pg import CHANNEL

logger = logging.getLogger(__name__)

#: seconds between tries to reach the server again (the last repeats)
BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0)
#: a server that answers nothing (not even TCP) for this long counts as gone
DEAD_AFTER = 20

OnChange = Callable[[str], None]
OnState = Callable[[bool, str, float], None]


def _keepalive(raw: Any) -> None:
    """TCP keepalives and a user timeout on the connection's socket (not for a Unix socket)."""
    try:
        sock = socket.socket(fileno=os.dup(raw.fileno()))
    except OSError:
        return
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 2),
                            ("TCP_USER_TIMEOUT", DEAD_AFTER * 1000)):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError as exc:
        logger.debug("keepalive on the listener's socket: %s", exc)
    finally:
        sock.close()  # the duplicate only: the options stay on the socket


def is_unreachable(store: Any, exc: BaseException) -> bool:
    """``exc``, raised by a read of the team store ``store`` on this thread, means the server is gone: a
    ``StoreUnreachable`` (``pg._mapped`` gives one for a lost connection and for a server shutting down), or any
    database error while this thread cannot get a connection, or its connection is closed."""
    from desktop.store.pg import StoreUnreachable

    if isinstance(exc, StoreUnreachable):
        return True
    if not getattr(store, "is_team", False) or not isinstance(exc, (sqlite3.Error, DatabaseError)):
        return False
    try:
        raw = getattr(store.conn, "raw", None)
    except Exception:  # noqa: BLE001 - this thread has no connection and cannot make one
        return True
    return bool(getattr(raw, "closed", False) or getattr(raw, "broken", False))


class ChangeListener:
    """``LISTEN`` in a thread of its own; see the module's docstring."""

    def __init__(self, store: Any, on_change: OnChange, on_state: OnState | None = None, *,
                 backoff: tuple[float, ...] = BACKOFF) -> None:
        self._store = store
        self._on_change = on_change
        self._on_state = on_state
        self._backoff = backoff
        self._stop = threading.Event()
        self._verify = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        #: listening now (read by tests and the window)
        self.connected = False
        #: notifications received (diagnostics, the benchmark)
        self.received = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tokendesk-listen", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the thread; True when it ended within ``timeout`` (a connection attempt under way may take up to
        its connect time-out; the thread is a daemon and never holds the process)."""
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("the team store's listener did not stop within %.1f s", timeout)
                return False
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1
        return True

    def retry_now(self) -> None:
        """While waiting to reconnect: try at once."""
        self._wake()

    def verify(self) -> None:
        """The reader found the store unreachable: check this connection now (it reports ``False`` and reconnects
        when it is broken too, else ``True`` again, so the reader tries again)."""
        self._verify.set()
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # full (already woken) or closed (stopped)
            pass

    def _drain(self) -> None:
        try:
            os.read(self._wake_r, 4096)
        except OSError:
            pass

    def _state(self, connected: bool, message: str = "", retry_in: float = 0.0) -> None:
        self.connected = connected
        if self._on_state is not None:
            try:
                self._on_state(connected, message, retry_in)
            except Exception:  # noqa: BLE001 - a receiver's bug must not end the listener
                logger.exception("team store listener: state receiver failed")

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when woken (stop, retry_now, verify)."""
        ready, _, _ = select.select([self._wake_r], [], [], seconds)
        if ready:
            self._drain()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                conn = self._store.new_connection()
            except Exception as exc:  # noqa: BLE001 - StoreUnreachable, a refused password, ...: said, retried
                delay = self._backoff[min(attempt, len(self._backoff) - 1)]
                attempt += 1
                logger.info("team store listener: cannot connect (%s); next try in %.1f s", exc, delay)
                self._state(False, str(exc), delay)
                self._sleep(delay)
                continue
            try:
                conn.raw.execute(f"LISTEN {CHANNEL}")
                _keepalive(conn.raw)
                self._verify.clear()
                attempt = 0
                self._state(True)
                self._serve(conn.raw)
            except Exception as exc:  # noqa: BLE001 - the connection broke: said, reconnected with back-off
                if self._stop.is_set():
                    break
                text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                delay = self._backoff[min(attempt, len(self._backoff) - 1)]
                attempt += 1
                logger.info("team store listener: connection lost (%s); next try in %.1f s", text, delay)
                self._state(False, text, delay)
                self._sleep(delay)
            finally:
                conn.close()
        self.connected = False

    def _serve(self, raw: Any) -> None:
        """Hand notifications on until stopped; raises when the connection breaks."""
        fileno = raw.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fileno, self._wake_r], [], [])
            if self._wake_r in ready:
                self._drain()
                if self._stop.is_set():
                    return
                if self._verify.is_set():
                    self._verify.clear()
                    raw.execute("SELECT 1")  # raises when broken
                    self._state(True)
            # the socket's news, or what arrived during the check (psycopg keeps those for the next notifies)
            if fileno in ready or self._wake_r in ready:
                # one call per wake-up with every payload that arrived, a line each (an import of 10,000
                # configurations notifies per row: the receiver gets them together, not 10,000 calls)
                # this process's own writes are left out (the window and its agent tell it what they changed;
                # reading its own writes back would make the window read everything again after each one)
                notes = list(raw.notifies(timeout=0))
                own = self._store.backend_pids() if notes else set()
                payloads = [note.payload for note in notes if note.pid not in own]
                if payloads:
                    self.received += len(payloads)
                    self._on_change("\n".join(payloads))
