"""An exclusive lock across threads and processes: ``flock`` on a file in the data directory's lock folder.

A fresh open file per holder (so threads of one process exclude each other too) plus a per-process
``threading.Lock`` per name. ``desktop.oauth.locks`` (one refresh per token) and the vault (creating,
re-keying, moving the data key) use it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from desktop import paths

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(name: str) -> threading.Lock:
    with _guard:
        lock = _thread_locks.get(name)
        if lock is None:
            lock = _thread_locks[name] = threading.Lock()
        return lock


def lock_path(name: str) -> str:
    return str(paths.lock_dir() / f"{name}.lock")


@contextmanager
def exclusive(name: str, timeout: float, timed_out: Callable[[bool], BaseException]) -> Iterator[float]:
    """Hold the lock ``name``; yields the seconds spent waiting. ``timed_out(by_other_process)`` builds the
    exception raised when it stays taken for ``timeout`` seconds."""
    start = time.monotonic()
    deadline = start + timeout
    tlock = _thread_lock(name)
    if not tlock.acquire(timeout=max(0.0, timeout)):
        raise timed_out(False)
    fd = -1
    try:
        fd = os.open(lock_path(name), os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise timed_out(True) from None
                time.sleep(0.02)
        yield time.monotonic() - start
    finally:
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        tlock.release()
