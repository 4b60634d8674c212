"""Notices what other processes (the CLI, another window's agent) and other desktops wrote to the store.

Event-driven, no polling. The local SQLite store: a ``QFileSystemWatcher`` on the database file and its WAL (where
the writes of other connections land first), debounced (300 ms). A team store (PostgreSQL): a ``ChangeListener``
thread (``desktop/store/pg_listen.py``: ``LISTEN tokendesk_change`` on a connection of its own) whose notifications
arrive here through a queued signal, debounced (100 ms). Either way ``changed`` only when ``PRAGMA data_version``
moved since the window last read (``seen``).

A team store's connection state: ``unreachable(message, retry_in)`` when the listener lost the server (or the window
found it gone: ``lost``), ``reachable`` when it listens again (the reader's broken connections are dropped first,
``Store.close``: each thread opens a new one at its next read), then ``changed``: read everything again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QFileSystemWatcher, QObject, QTimer, Signal, Slot

if TYPE_CHECKING:
    from desktop.store.pg_listen import ChangeListener
    from desktop.store.repository import Store

logger = logging.getLogger(__name__)

#: a team store's notifications are gathered this long before the window reads (a transaction notifies per table)
TEAM_DEBOUNCE_MS = 100
#: more changed configurations than this at once: the window reads everything again
ROWS_AT_MOST = 50


class DatabaseWatcher(QObject):
    #: another connection changed the database since ``seen()``
    changed = Signal()
    #: the team store cannot be reached: what happened (words) and the seconds until the next try
    unreachable = Signal(str, float)
    #: the team store can be reached again (``changed`` follows when something changed meanwhile)
    reachable = Signal()
    # from the listener's thread (queued to this object's thread)
    _notified = Signal(str)
    _state = Signal(bool, str, float)

    def __init__(self, store: Store, parent: QObject | None = None, debounce_ms: int = 300) -> None:
        super().__init__(parent)
        self._store = store
        self._seen: int | None = None
        self._watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(TEAM_DEBOUNCE_MS if store.is_team else debounce_ms)
        self._debounce.timeout.connect(self.check)
        self._watcher.fileChanged.connect(self._on_file_changed)
        #: the team store's listener (None: the local store, or not watching yet)
        self.listener: ChangeListener | None = None
        #: the team store answers (False between ``unreachable`` and ``reachable``)
        self.is_reachable = True
        #: the window's reads that failed in a row (the back-off before the listener checks again)
        self._losses = 0
        self._verify = QTimer(self)
        self._verify.setSingleShot(True)
        self._verify.timeout.connect(self._ask_listener)
        self._notified.connect(self._on_notified)
        self._state.connect(self._on_state)
        #: what another desktop changed since the window last read (``take_rows``)
        self._rows: dict[int, set[str]] = {}
        self._everything = False

    def watch(self) -> None:
        """Start watching (the window: once its first read succeeded). A team store not connected yet (the window's
        start, ``Store.reached``) is watched once its rows are read, or their read found it away (row_loading)."""
        if self._store.is_team:
            if self._store.reached:
                self.listen()
            return
        path = self._store.path
        if path is None:  # an in-memory database: nobody else writes to it
            return
        for candidate in (path, path.with_name(path.name + "-wal")):
            if candidate.exists():
                self._watcher.addPath(str(candidate))

    def listen(self) -> None:
        """A team store: start the listener (once), connected or not - it connects on its own thread and retries
        with back-off, reporting ``unreachable`` and ``reachable``."""
        if not self._store.is_team or self.listener is not None:
            return
        from desktop.store.pg_listen import ChangeListener

        self.listener = ChangeListener(self._store, self._notified.emit, self._state.emit)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)
        self.listener.start()

    def stop(self) -> None:
        """End the team store's listener (at quit; the window's owner when it goes)."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop()

    def files(self) -> list[str]:
        """The files watched."""
        return self._watcher.files()

    def seen(self) -> None:
        """The reader has read everything up to now (the window after a reload)."""
        self._seen = self._store.data_version()
        self._rows, self._everything = {}, False
        if self.is_reachable:
            self._losses = 0

    def lost(self, message: str) -> None:
        """The window's read found the team store unreachable (``StoreUnreachable``): say so, and let the listener
        check its own connection (it reports ``reachable`` when the server answers, and the window reads again),
        after a back-off that grows while reads keep failing."""
        from desktop.store.pg_listen import BACKOFF

        delay = BACKOFF[min(self._losses, len(BACKOFF) - 1)]
        self._losses += 1
        if self.is_reachable:
            self.is_reachable = False
            self.unreachable.emit(message, delay)
        self._verify.start(int(delay * 1000))

    @Slot()
    def _ask_listener(self) -> None:
        if self.listener is not None:
            self.listener.verify()

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        self._debounce.start()

    @Slot(str)
    def _on_notified(self, payloads: str) -> None:
        for payload in payloads.splitlines():  # '<table>:<configuration id>' for a row, else '<table>'
            table, _, key = payload.partition(":")
            if key.isdigit() and len(self._rows) < ROWS_AT_MOST:
                self._rows.setdefault(int(key), set()).add(table)
            else:
                self._everything = True
        if self.is_reachable and not self._debounce.isActive():
            self._debounce.start()

    def take_rows(self) -> dict[int, set[str]] | None:
        """The configurations (id -> tables) another desktop changed since the last take, when only rows of
        configurations changed and not too many; None when everything must be read again (the file watcher, a
        setting, a mail account, many rows, a reconnect)."""
        rows, everything = self._rows, self._everything
        self._rows, self._everything = {}, False
        return None if everything or not rows else rows

    @Slot(bool, str, float)
    def _on_state(self, connected: bool, message: str, retry_in: float) -> None:
        if not connected:
            self.is_reachable = False
            self.unreachable.emit(message, retry_in)
            return
        if not self.is_reachable:
            self._store.close()  # the reader's connections broke with the server: each thread opens a new one
            self.is_reachable = True
            logger.info("the team store can be reached again")
            self.reachable.emit()
            self._everything = True
            self.changed.emit()  # reads failed meanwhile, and what was written since is unknown: read everything
        elif self._seen is not None:  # listening: what was written between the window's read and the LISTEN
            self.check()

    @Slot()
    def check(self) -> None:
        """Emit ``changed`` when another connection committed since ``seen`` (what a file change triggers)."""
        if not self._store.is_team:
            version = self._store.data_version()
        else:
            from desktop.store.pg_listen import is_unreachable

            try:
                version = self._store.data_version()
            except Exception as exc:
                if not is_unreachable(self._store, exc):
                    raise
                self.lost(str(exc))
                return
        if version != self._seen:
            self.changed.emit()
