"""Who did what: a history per configuration (issue 11, point 6).

One row per action on a configuration - added, edited, deleted, signed in, refreshed, revoked, tokens forgotten,
exported, token handed to a program - with the member who acted (``Store.member``: the team member's name in a team
store, else ``TOKENDESK_MEMBER`` or ``user@host``) and the time (UTC, the ISO text ``to_db_time`` writes).

* ``record`` writes on the caller's connection inside the caller's transaction (``store.transaction()`` joins an
  open one): the row commits with the change or not at all.
* Rows are found by the configuration's casefolded name (``name_key``, indexed with the time), so a deleted
  configuration's history is still shown, and a new configuration of that name continues it. A rename carries the
  configuration's rows over to its new name (``rename``, in the rename's transaction).
* Bounded: at most ``MAX_ROWS`` rows per name. The check is cheap and now and then: the first row a process writes
  for a name and every ``CHECK_EVERY``-th after it count that name's rows (an index range); above
  ``MAX_ROWS + PRUNE_SLACK`` the oldest go, down to ``MAX_ROWS``.
* ``detail`` never holds a secret: callers write words (what changed, "with client secret", a program's path);
  it is cut to ``MAX_DETAIL`` characters.

Portable SQL only (``?`` placeholders, no SQLite functions or pragmas): the team store's PostgreSQL backend runs
the same statements. No Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from desktop.store.repository import from_db_time, to_db_time

ADD = "add"
EDIT = "edit"
DELETE = "delete"
SIGN_IN = "sign-in"
REFRESH = "refresh"
REVOKE = "revoke"
FORGET = "forget"
EXPORT = "export"
HANDED_OUT = "handed-out"

#: every action, in the order the issue names them; the words a person reads for each
ACTION_WORDS: dict[str, str] = {
    ADD: "added",
    EDIT: "edited",
    DELETE: "deleted",
    SIGN_IN: "signed in",
    REFRESH: "token refreshed",
    REVOKE: "token revoked",
    FORGET: "token forgotten",
    EXPORT: "exported",
    HANDED_OUT: "token handed to a program",
}
ACTIONS = tuple(ACTION_WORDS)

#: rows kept per configuration name (a token refreshed hourly: about 40 days of refreshes plus everything else)
MAX_ROWS = 1000
#: rows allowed above MAX_ROWS before a prune (a prune deletes at least this many: rare and worth it)
PRUNE_SLACK = 100
#: a process checks a name's count at its first row for that name and every CHECK_EVERY-th after it
CHECK_EVERY = 20
#: a token handed to the same program is recorded again only after this long (a cron job asking every minute
#: adds 24 rows a day, not 1,440); another program is recorded at once
HANDED_OUT_INTERVAL = timedelta(hours=1)
#: longest detail kept (what changed in an edit can be long)
MAX_DETAIL = 1000
#: rows ``for_configuration`` returns unless told
DEFAULT_LIMIT = 200

_INSERT = ("INSERT INTO history(config_id, config_name, name_key, member, action, detail, time) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
_COLUMNS = "id, config_id, config_name, member, action, detail, time"

_writes_lock = threading.Lock()
#: (store id, name_key) -> rows this process wrote since it last counted that name's rows
_writes: dict[tuple[str, str], int] = {}


@dataclass(frozen=True)
class HistoryEntry:
    """One row: who (``member``) did what (``action``, ``detail``) to which configuration (its name then) when."""

    id: int
    config_id: int | None
    config_name: str
    member: str
    action: str
    detail: str
    time: datetime

    @property
    def action_words(self) -> str:
        return ACTION_WORDS.get(self.action, self.action)

    def local_time_text(self) -> str:
        """The time in this machine's time zone, ``YYYY-MM-DD HH:MM:SS``."""
        return self.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "local_time": self.time.astimezone().isoformat(),
                "member": self.member, "action": self.action, "action_text": self.action_words,
                "detail": self.detail, "configuration": self.config_name, "config_id": self.config_id}


def _now() -> datetime:
    from desktop.models.token import utcnow

    return utcnow()


def _row(config_id: int | None, name: str, member: str, action: str, detail: str, time: str | None) -> tuple:
    if action not in ACTION_WORDS:
        raise ValueError(f"unknown history action: {action}")
    return (config_id, name, name.casefold(), member, action, (detail or "")[:MAX_DETAIL], time)


def record(store: Any, config_id: int | None, name: str, action: str, detail: str = "", *,
           when: datetime | None = None) -> None:
    """One row for ``name`` by ``store.member``, in the caller's transaction (or its own)."""
    row = _row(config_id, name, store.member, action, detail, to_db_time(when or _now()))
    with store.transaction() as conn:
        conn.execute(_INSERT, row)
        _maybe_prune(store, conn, row[2], 1)


def record_many(store: Any, entries: Iterable[tuple[int | None, str, str, str]], *,
                when: datetime | None = None) -> int:
    """Rows of (config_id, name, action, detail), one time and member for all (an import), in the caller's
    transaction; returns how many."""
    moment = to_db_time(when or _now())
    rows = [_row(config_id, name, store.member, action, detail, moment)
            for config_id, name, action, detail in entries]
    if not rows:
        return 0
    with store.transaction() as conn:
        conn.executemany(_INSERT, rows)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[2]] = counts.get(row[2], 0) + 1
        due = [key for key, count in counts.items() if _due(store, key, count)]
        for start in range(0, len(due), 500):  # the counts of many names in a few statements (an import of 10,000)
            chunk = due[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            over = [r[0] for r in conn.execute(
                f"SELECT name_key FROM history WHERE name_key IN ({marks}) GROUP BY name_key HAVING COUNT(*) > ?",
                (*chunk, MAX_ROWS + PRUNE_SLACK)).fetchall()]
            for key in over:
                _prune_name(conn, key, MAX_ROWS + PRUNE_SLACK)
    return len(rows)


def for_configuration(store: Any, name: str, limit: int | None = DEFAULT_LIMIT) -> list[HistoryEntry]:
    """The rows of the configuration named ``name`` (case-insensitively; also one deleted since), newest first;
    ``limit`` None: all of them."""
    sql = f"SELECT {_COLUMNS} FROM history WHERE name_key = ? ORDER BY time DESC, id DESC"
    params: tuple[Any, ...] = (name.casefold(),)
    if limit is not None:
        sql += " LIMIT ?"
        params += (max(0, int(limit)),)
    return [_entry(r) for r in store.conn.execute(sql, params).fetchall()]


def has_history(store: Any, name: str) -> bool:
    row = store.conn.execute("SELECT id FROM history WHERE name_key = ? LIMIT 1", (name.casefold(),)).fetchone()
    return row is not None


def _entry(r: Any) -> HistoryEntry:
    time = from_db_time(r[6])
    assert time is not None
    return HistoryEntry(id=int(r[0]), config_id=None if r[1] is None else int(r[1]), config_name=r[2], member=r[3],
                        action=r[4], detail=r[5] or "", time=time)


def rename(store: Any, config_id: int, old_name: str, new_name: str) -> None:
    """A renamed configuration takes its rows along (in the rename's transaction)."""
    old_key, new_key = old_name.casefold(), new_name.casefold()
    if old_key == new_key:
        return
    with store.transaction() as conn:
        conn.execute("UPDATE history SET name_key = ? WHERE name_key = ? AND config_id = ?",
                     (new_key, old_key, config_id))


def record_handed_out(store: Any, config_id: int, name: str, program: str, *, when: datetime | None = None) -> bool:
    """A token handed to ``program`` (its path; '' when not known), unless that program got it recorded within
    ``HANDED_OUT_INTERVAL``; in the caller's transaction. True when a row was written."""
    moment = when or _now()
    detail = program or "no program named (Tokendesk itself, or a program it could not name)"
    row = store.conn.execute(
        "SELECT time FROM history WHERE name_key = ? AND action = ? AND detail = ? ORDER BY time DESC LIMIT 1",
        (name.casefold(), HANDED_OUT, detail)).fetchone()
    last = from_db_time(row[0]) if row is not None else None
    if last is not None and moment - last < HANDED_OUT_INTERVAL:
        return False
    record(store, config_id, name, HANDED_OUT, detail, when=moment)
    return True


def edit_detail(before: Any, after: Any, *, tokens_forgotten: bool = False) -> str:
    """What an edit changed, in words (``desktop.models.changes``: a client secret only as "client secret
    changed"), and whether the stored tokens were forgotten (an endpoint moved to another host)."""
    from desktop.models.changes import describe_changes

    words = describe_changes(before, after)
    if tokens_forgotten:
        words.append("endpoints moved to another host: stored tokens forgotten")
    return "; ".join(words)


def _due(store: Any, name_key: str, added: int) -> bool:
    """Whether this process should count ``name_key``'s rows now (its first rows, then every CHECK_EVERY-th)."""
    key = (str(getattr(store, "store_id", "")), name_key)
    with _writes_lock:
        seen = _writes.get(key)
        due = seen is None or seen + added >= CHECK_EVERY
        _writes[key] = 0 if due else seen + added  # type: ignore[operator]
    return due


def _maybe_prune(store: Any, conn: Any, name_key: str, added: int) -> None:
    if _due(store, name_key, added):
        _prune_name(conn, name_key, MAX_ROWS + PRUNE_SLACK)


def _prune_name(conn: Any, name_key: str, above: int) -> int:
    """Down to MAX_ROWS rows for ``name_key`` when it has more than ``above``; returns how many went."""
    count = int(conn.execute("SELECT COUNT(*) FROM history WHERE name_key = ?", (name_key,)).fetchone()[0])
    if count <= above:
        return 0
    oldest_kept = conn.execute(
        "SELECT time, id FROM history WHERE name_key = ? ORDER BY time DESC, id DESC LIMIT 1 OFFSET ?",
        (name_key, MAX_ROWS - 1)).fetchone()
    conn.execute("DELETE FROM history WHERE name_key = ? AND (time < ? OR (time = ? AND id < ?))",
                 (name_key, oldest_kept[0], oldest_kept[0], oldest_kept[1]))
    return count - MAX_ROWS


def prune(store: Any, name: str | None = None) -> int:
    """Every name (or ``name``) down to ``MAX_ROWS`` rows now; returns how many rows went."""
    with store.transaction() as conn:
        if name is not None:
            keys = [name.casefold()]
        else:
            keys = [r[0] for r in conn.execute(
                "SELECT name_key FROM history GROUP BY name_key HAVING COUNT(*) > ?", (MAX_ROWS,)).fetchall()]
        return sum(_prune_name(conn, key, MAX_ROWS) for key in keys)
