"""One refresh of a token at a time: across threads and across processes (GUI + several CLI calls).

``token_lock(store_id, config_id)`` holds ``desktop.store.filelock``'s exclusive lock
``<data dir>/locks/token-<store id>-<config id>.lock`` (flock + a per-process thread lock). Whoever gets the lock
second must re-read the token state: the first holder may have refreshed already.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from desktop.oauth.errors import NetworkError
from desktop.store import filelock

logger = logging.getLogger(__name__)


class LockTimeout(NetworkError):
    pass


def lock_path(store_id: str, config_id: int) -> str:
    return filelock.lock_path(f"token-{store_id}-{config_id}")


def _timed_out(by_other_process: bool) -> LockTimeout:
    if by_other_process:
        return LockTimeout("Another program (Tokendesk window or command) is still refreshing this token.",
                           "Wait a moment and try again.")
    return LockTimeout("Another refresh of this token is still running.", "Wait a moment and try again.")


@contextmanager
def token_lock(store_id: str, config_id: int, timeout: float) -> Iterator[float]:
    """Hold the token's lock; yields the seconds spent waiting (0.0 when it was free)."""
    with filelock.exclusive(f"token-{store_id}-{config_id}", timeout, _timed_out) as waited:
        if waited > 0.05:
            logger.debug("token lock for config %d acquired after %.2f s", config_id, waited)
        yield waited
