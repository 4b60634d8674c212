"""One refresh of a token at a time: across threads and across processes (GUI + several CLI calls).

``token_lock(store_id, config_id)`` holds ``desktop.store.filelock``'s exclusive lock
``<data dir>/locks/token-<store id>-<config id>.lock`` (flock + a per-process thread lock). Whoever gets the lock
second must re-read the token state: the first holder may have refreshed already.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from desktop.oauth.errors import NetworkError
from desktop.store import filelock

logger = logging.getLogger(__name__)


class LockTimeout(NetworkError):
    pass


#: the first key of the team store's per-token advisory locks (the second is the configuration id)
TEAM_TOKEN_LOCKS = 0x7D0C


def lock_path(store_id: str, config_id: int) -> str:
    return filelock.lock_path(f"token-{store_id}-{config_id}")


def _timed_out(by_other_process: bool) -> LockTimeout:
    if by_other_process:
        return LockTimeout("Another program (Tokendesk window or command) is still refreshing this token.",
                           "Wait a moment and try again.")
    return LockTimeout("Another refresh of this token is still running.", "Wait a moment and try again.")


@contextmanager
def store_token_lock(store: Any, config_id: int, timeout: float) -> Iterator[float]:
    """The token's lock for ``store``: on this machine (``token_lock``), and on a team store also across the
    team's desktops - a transaction-level advisory lock (``pg_advisory_xact_lock``) held in a transaction that
    stays open until the refresh is written, so another desktop waits for it and then reads the new token."""
    with token_lock(store.store_id, config_id, timeout) as waited:
        if not getattr(store, "is_team", False):
            yield waited
            return
        conn = store.conn
        if conn.in_transaction:  # an outer holder (several tokens' locks for one change) has the transaction
            _advisory(conn, config_id, timeout)
            yield waited
            return
        conn.execute("BEGIN")
        try:
            started = time.monotonic()
            _advisory(conn, config_id, timeout)
            waited += time.monotonic() - started
            yield waited
        except BaseException:
            # what inner blocks wrote and committed as savepoints stays (an error state, a rotated token); a
            # failed inner block rolled itself back already
            if conn.in_transaction:
                conn.execute("COMMIT")
            raise
        else:
            conn.execute("COMMIT")


def _advisory(conn: Any, config_id: int, timeout: float) -> None:
    import sqlite3

    conn.execute(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (TEAM_TOKEN_LOCKS, config_id))
    except sqlite3.OperationalError as exc:
        if "lock timeout" in str(exc) or "canceling statement" in str(exc):
            raise LockTimeout("Another desktop of the team is still refreshing this token.",
                              "Wait a moment and try again.") from None
        raise


@contextmanager
def token_lock(store_id: str, config_id: int, timeout: float) -> Iterator[float]:
    """Hold the token's lock; yields the seconds spent waiting (0.0 when it was free)."""
    with filelock.exclusive(f"token-{store_id}-{config_id}", timeout, _timed_out) as waited:
        if waited > 0.05:
            logger.debug("token lock for config %d acquired after %.2f s", config_id, waited)
        yield waited
