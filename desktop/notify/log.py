"""The announcement log: which events were already shown, so each notifies once, across restarts.

A row ``(config_id, event, due_at)`` in the ``notification_log`` table (schema slot 3) means
"announced". Rows of deleted configurations go with them (``ON DELETE CASCADE``); rows of
events that are no longer true are pruned when the GUI starts. Alerts beyond the desktop (``desktop/alerts``)
keep their own rows in the same table, their event named ``alert:<channel>:<event>``: ``prune`` leaves them alone
unless asked for them (``alerts=True``, the alert runner's own pruning).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from desktop.notify.events import iso

logger = logging.getLogger(__name__)

Key = tuple[int, str, str]
#: the event-name prefix of alert rows (desktop/alerts/runner.py)
ALERT_PREFIX = "alert:"


def _is_alert(key: Key) -> bool:
    return key[1].startswith(ALERT_PREFIX)


class AnnouncementLog(Protocol):
    def announced(self, keys: Iterable[Key]) -> set[Key]:
        """The subset of ``keys`` that was announced before."""
        ...

    def record(self, keys: Iterable[Key], now: datetime) -> None: ...

    def prune(self, keep: set[Key], *, alerts: bool = False) -> int:
        """Forget every key not in ``keep`` (of the announcements, or with ``alerts`` of the alert rows); returns
        how many rows went."""
        ...


class MemoryLog:
    """For tests and benchmarks: the same contract, in a set."""

    def __init__(self) -> None:
        self.keys: dict[Key, str] = {}

    def announced(self, keys: Iterable[Key]) -> set[Key]:
        return {k for k in keys if k in self.keys}

    def record(self, keys: Iterable[Key], now: datetime) -> None:
        for key in keys:
            self.keys.setdefault(key, iso(now))

    def prune(self, keep: set[Key], *, alerts: bool = False) -> int:
        gone = [k for k in self.keys if k not in keep and _is_alert(k) == alerts]
        for key in gone:
            del self.keys[key]
        return len(gone)


class SqliteLog:
    """The ``notification_log`` table, through a ``Store`` (its per-thread connection) or a connection.

    ``scope``: on a team store every member's desktop announces for itself ("every running member's tray warns"),
    so the window's log is scoped to the member - its rows' events read ``member:<name>|<event>``; the alert rows
    (``alert:...``, once for the whole team) and a local store's rows have no scope."""

    def __init__(self, source: Any, scope: str = "") -> None:
        self.source = source
        self.prefix = f"member:{scope}|" if scope else ""

    @property
    def conn(self) -> sqlite3.Connection:
        return self.source if isinstance(self.source, sqlite3.Connection) else self.source.conn

    def _all(self) -> set[Key]:
        rows = self.conn.execute("SELECT config_id, event, due_at FROM notification_log")
        prefix, cut = self.prefix, len(self.prefix)
        if prefix:
            return {(int(r[0]), str(r[1])[cut:], str(r[2])) for r in rows if str(r[1]).startswith(prefix)}
        return {(int(r[0]), str(r[1]), str(r[2])) for r in rows if not str(r[1]).startswith("member:")}

    def announced(self, keys: Iterable[Key]) -> set[Key]:
        wanted = set(keys)
        if not wanted:
            return set()
        return wanted & self._all()

    def record(self, keys: Iterable[Key], now: datetime) -> None:
        from desktop.store.database import transaction

        keys = list(keys)
        if not keys:
            return
        with transaction(self.conn):
            # a configuration deleted meanwhile has nothing to remember (no row, no failed statement: on PostgreSQL
            # a failed statement would end the whole transaction); one executemany: a team store's server gets
            # the start-up's thousands of rows in one pipeline, not one round trip each
            self.conn.executemany(
                "INSERT OR IGNORE INTO notification_log(config_id, event, due_at, notified_at) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM token_config WHERE id = ?)",
                [(config_id, self.prefix + event, due_at, iso(now), config_id) for config_id, event, due_at in keys],
            )

    def prune(self, keep: set[Key], *, alerts: bool = False) -> int:
        from desktop.store.database import transaction

        gone = {k for k in self._all() - keep if _is_alert(k) == alerts}
        if gone:
            with transaction(self.conn):
                self.conn.executemany(
                    "DELETE FROM notification_log WHERE config_id = ? AND event = ? AND due_at = ?",
                    [(c, self.prefix + e, d) for c, e, d in gone],
                )
        return len(gone)
