"""The GUI's log file: what Tokendesk did while nobody watched (refreshes at night, failures).

``enable(directory)`` adds a rotating file ``tokendesk.log`` (1 MB, 3 old files kept) in
``$TOKENDESK_HOME/logs`` (mode 0700, files 0600) at level INFO for Tokendesk's own loggers and
WARNING for libraries (httpx would log every request). Tokendesk's messages never carry
secrets (tokens appear as fingerprints at most), so neither does the file. The console keeps
its level (WARNING, or INFO with ``-v``). The CLI does not write the file: its output is the
record. No Qt here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

FILENAME = "tokendesk.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
#: libraries whose INFO is noise (one line per HTTP request, keyring backend probing)
QUIET = ("httpx", "httpcore", "authlib", "keyring", "asyncio", "urllib3", "jeepney")

_handler: logging.Handler | None = None


class _PrivateRotatingFileHandler(logging.FileHandler):
    """A size-rotated log (``.1`` .. ``.N`` kept) whose files only their owner can read.

    Written here rather than taken from ``logging.handlers``, whose import (socket, pickle,
    queue) would cost the GUI's start-up about 5 ms for one class."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.max_bytes = max_bytes
        self.backups = backups
        super().__init__(path, encoding="utf-8")

    def _open(self):  # type: ignore[no-untyped-def]
        stream = super()._open()
        try:
            os.chmod(self.baseFilename, 0o600)
        except OSError:
            pass
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.stream is not None and self.stream.tell() >= self.max_bytes:
                self._rotate()
        except OSError:
            pass  # rotation failed: keep writing to the current file
        super().emit(record)

    def _rotate(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        base = self.baseFilename
        for index in range(self.backups - 1, 0, -1):
            older = f"{base}.{index}"
            if os.path.exists(older):
                os.replace(older, f"{base}.{index + 1}")
        if self.backups > 0:
            os.replace(base, f"{base}.1")
        self.stream = self._open()


def directory_for(home: Path) -> Path:
    return home / "logs"


def enable(home: Path) -> Path | None:
    """Start writing ``home/logs/tokendesk.log``; returns its path (None when it cannot be written)."""
    global _handler
    folder = directory_for(home)
    path = folder / FILENAME
    if _handler is not None:
        return path
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = _PrivateRotatingFileHandler(path, MAX_BYTES, BACKUPS)
    except OSError as exc:  # a read-only home must not stop the GUI
        logging.getLogger(__name__).warning("no log file (%s): %s", path, exc.strerror or exc)
        return None
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    console_level = root.level if root.level != logging.NOTSET else logging.WARNING
    for existing in root.handlers:  # the console keeps what it showed before
        if existing.level == logging.NOTSET:
            existing.setLevel(console_level)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    if console_level > logging.INFO:  # with -v the console (and so the file) shows the libraries too
        for name in QUIET:
            library = logging.getLogger(name)
            if library.level == logging.NOTSET:
                library.setLevel(logging.WARNING)
    root.addHandler(handler)
    _handler = handler
    logging.getLogger(__name__).info("Tokendesk started; this log: %s", path)
    return path


def disable() -> None:
    """Stop writing the file (tests)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def current() -> Path | None:
    return Path(_handler.baseFilename) if isinstance(_handler, logging.FileHandler) else None
