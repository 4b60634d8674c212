"""One refresh of a token at a time: across threads and across processes (GUI + several CLI calls).

``token_lock(store_id, config_id)`` holds an exclusive ``flock`` on
``<data dir>/locks/token-<store id>-<config id>.lock`` (a fresh open file per holder, so threads of
one process exclude each other too) plus a per-process ``threading.Lock``. Whoever gets the lock
second must re-read the token state: the first holder may have refreshed already.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from desktop import paths
from desktop.oauth.errors import NetworkError

logger = logging.getLogger(__name__)

_thread_locks: dict[tuple[str, int], threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(key: tuple[str, int]) -> threading.Lock:
    with _guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.Lock()
        return lock


class LockTimeout(NetworkError):
    pass


def lock_path(store_id: str, config_id: int) -> str:
    return str(paths.lock_dir() / f"token-{store_id}-{config_id}.lock")


@contextmanager
def token_lock(store_id: str, config_id: int, timeout: float) -> Iterator[float]:
    """Hold the token's lock; yields the seconds spent waiting (0.0 when it was free)."""
    start = time.monotonic()
    deadline = start + timeout
    tlock = _thread_lock((store_id, config_id))
    if not tlock.acquire(timeout=max(0.0, timeout)):
        raise LockTimeout("Another refresh of this token is still running.", "Wait a moment and try again.")
    fd = -1
    try:
        fd = os.open(lock_path(store_id, config_id), os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        "Another program (Tokendesk window or command) is still refreshing this token.",
                        "Wait a moment and try again.",
                    ) from None
                time.sleep(0.02)
        waited = time.monotonic() - start
        if waited > 0.05:
            logger.debug("token lock for config %d acquired after %.2f s", config_id, waited)
        yield waited
    finally:
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        tlock.release()
