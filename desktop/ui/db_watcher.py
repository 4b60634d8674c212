"""Notices what other processes (the CLI, another window's agent) wrote to the database.

Event-driven, no polling: a ``QFileSystemWatcher`` on the database file and its WAL (where the
writes of other connections land first), debounced, and ``changed`` only when SQLite's
``PRAGMA data_version`` moved since the window last read (``seen``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

if TYPE_CHECKING:
    from desktop.store.repository import Store


class DatabaseWatcher(QObject):
    #: another connection changed the database since ``seen()``
    changed = Signal()

    def __init__(self, store: Store, parent: QObject | None = None, debounce_ms: int = 300) -> None:
        super().__init__(parent)
        self._store = store
        self._seen: int | None = None
        self._watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.check)
        self._watcher.fileChanged.connect(self._on_file_changed)

    def watch(self) -> None:
        """Start watching (the window: once its first read succeeded)."""
        path = self._store.path
        if path is None:  # an in-memory database: nobody else writes to it
            return
        for candidate in (path, path.with_name(path.name + "-wal")):
            if candidate.exists():
                self._watcher.addPath(str(candidate))

    def files(self) -> list[str]:
        """The files watched."""
        return self._watcher.files()

    def seen(self) -> None:
        """The reader has read everything up to now (the window after a reload)."""
        self._seen = self._store.data_version()

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        self._debounce.start()

    @Slot()
    def check(self) -> None:
        """Emit ``changed`` when another connection committed since ``seen`` (what a file change triggers)."""
        if self._store.data_version() != self._seen:
            self.changed.emit()
