"""The relay's message log: one row per message a device handed in, never its body.

Time, device, sender, recipients, size, whether the upstream server took it and its answer (with a
plain-language hint for a refusal). The rate limit counts from it, so a restarted relay still knows what
a device sent in the last hour; the window's Relay tab and ``tokendesk relay status`` read it. Kept to
the newest ``KEEP_ROWS`` rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.store.repository import Store

KEEP_ROWS = 10_000


@dataclass
class LogEntry:
    time: datetime
    device: str
    sender: str
    recipients: list[str] = field(default_factory=list)
    size: int = 0
    ok: bool = False
    answer: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"time": self.time.isoformat(timespec="seconds"), "device": self.device, "sender": self.sender,
                "recipients": self.recipients, "size": self.size, "ok": self.ok, "answer": self.answer,
                "hint": self.hint}


def _now() -> datetime:
    return datetime.now(UTC)


class MessageLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, entry: LogEntry) -> None:
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO relay_log(time, device, sender, recipients_json, size, ok, answer, hint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.time.astimezone(UTC).isoformat(timespec="milliseconds"), entry.device, entry.sender,
                 json.dumps(entry.recipients), entry.size, int(entry.ok), entry.answer[:1000], entry.hint[:1000]))
            if cur.lastrowid and cur.lastrowid % 500 == 0:
                conn.execute("DELETE FROM relay_log WHERE id <= ?", (cur.lastrowid - KEEP_ROWS,))

    @staticmethod
    def _entry(r: sqlite3.Row) -> LogEntry:
        return LogEntry(time=datetime.fromisoformat(r["time"]), device=r["device"], sender=r["sender"],
                        recipients=json.loads(r["recipients_json"]), size=r["size"], ok=bool(r["ok"]),
                        answer=r["answer"], hint=r["hint"])

    def recent(self, limit: int = 100, *, failed_only: bool = False) -> list[LogEntry]:
        where = "WHERE ok = 0 " if failed_only else ""
        rows = self.store.conn.execute(f"SELECT * FROM relay_log {where}ORDER BY id DESC LIMIT ?", (limit,))
        return [self._entry(r) for r in rows]

    def sent_within(self, device: str, window: timedelta = timedelta(hours=1), now: datetime | None = None) -> int:
        """Messages the upstream accepted from ``device`` in the last ``window`` (the rate limit's count)."""
        since = ((now or _now()) - window).astimezone(UTC).isoformat(timespec="milliseconds")
        row = self.store.conn.execute("SELECT COUNT(*) FROM relay_log WHERE device = ? AND ok = 1 AND time >= ?",
                                      (device, since)).fetchone()
        return int(row[0])

    def counts(self, since: datetime | None = None) -> dict[str, tuple[int, int]]:
        """Per device: (delivered, failed), since ``since`` (default: the last 24 hours)."""
        start = (since or _now() - timedelta(days=1)).astimezone(UTC).isoformat(timespec="milliseconds")
        rows = self.store.conn.execute(
            "SELECT device, SUM(ok), SUM(1 - ok) FROM relay_log WHERE time >= ? GROUP BY device", (start,))
        return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}
