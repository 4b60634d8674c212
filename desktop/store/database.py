"""The SQLite database: connection set-up (WAL, foreign keys), schema version, migrations.

``PRAGMA user_version`` holds the schema version. Each migration is a list of SQL
statements; all that a database lacks are applied in one ``BEGIN IMMEDIATE`` transaction that
reads the version again under the write lock (processes starting together on a new data
directory: one migrates, the others wait and find it done). A database newer than this program
is refused with a clear message rather than touched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


class DatabaseError(RuntimeError):
    """A database problem explained in plain words (what happened, what to do)."""


class StoreDamaged(DatabaseError):
    """The database file is damaged (SQLite: malformed, not a database, disk I/O error): what happened and
    what to do, in words. ``damage_from`` turns SQLite's error into this where commands and the window
    report errors. ``paragraphs`` are the message's parts (the window sets them apart)."""

    def __init__(self, path: Path | str | None, detail: str) -> None:
        self.paragraphs = damaged_paragraphs(path, detail)
        super().__init__(" ".join(self.paragraphs))
        self.path = path
        self.detail = detail


#: SQLite's primary result codes that mean the file itself is damaged or unreadable
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR")
_DAMAGE_WORDS = ("malformed", "not a database", "disk i/o error")


def damaged_paragraphs(path: Path | str | None, detail: str) -> list[str]:
    where = f"The database {path}" if path else "Tokendesk's database"
    if "not a database" in detail:  # the first page (header, schema) is gone: nothing to salvage
        return [
            f"{where} cannot be opened: it is not an SQLite database, or its first page is damaged ({detail}).",
            "Nothing can be read from it. Quit Tokendesk, move it away (with its -wal and -shm files) and restore "
            "a YAML backup with 'tokendesk import FILE'.",
        ]
    return [
        f"{where} is damaged ({detail}).",
        "Your configurations may still be readable: 'tokendesk export --salvage -o FILE' writes every "
        "configuration that can still be read and names the ones that cannot.",
        "Then quit Tokendesk, move the database away (with its -wal and -shm files) and run "
        "'tokendesk import FILE'.",
        "To keep the client secrets too: 'tokendesk export --salvage --include-secrets --encrypt -o FILE'. "
        "Tokens are not exported: sign in again afterwards.",
    ]


def damaged_message(path: Path | str | None, detail: str) -> str:
    return " ".join(damaged_paragraphs(path, detail))


def damage_from(exc: BaseException, path: Path | str | None = None) -> StoreDamaged | None:
    """``exc`` as a ``StoreDamaged`` when it says the database file is damaged, else None. ``path`` defaults
    to the data directory's database."""
    if isinstance(exc, StoreDamaged):
        return exc
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc)
    if not (name.startswith(_DAMAGE_CODES) or any(word in text.lower() for word in _DAMAGE_WORDS)):
        return None
    if path is None:
        from desktop.paths import DB_FILENAME, data_dir

        path = data_dir(create=False) / DB_FILENAME
    return StoreDamaged(path, text)


MIGRATIONS: list[list[str]] = [
    # 1: configurations, token state, settings, fallback secrets, store identity
    [
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE token_config (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            valid_id INTEGER NOT NULL DEFAULT 1,
            template_name TEXT NOT NULL DEFAULT '',
            config_json TEXT NOT NULL,
            extra_json TEXT NOT NULL DEFAULT '{}',
            has_client_secret INTEGER NOT NULL DEFAULT 0,
            create_time TEXT NOT NULL,
            change_time TEXT NOT NULL,
            create_by INTEGER,
            change_by INTEGER
        )""",
        """CREATE TABLE token_state (
            config_id INTEGER PRIMARY KEY REFERENCES token_config(id) ON DELETE CASCADE,
            has_access_token INTEGER NOT NULL DEFAULT 0,
            has_refresh_token INTEGER NOT NULL DEFAULT 0,
            token_expires_at TEXT,
            refresh_token_expires_at TEXT,
            error_message TEXT,
            error_description TEXT,
            error_code TEXT,
            last_requested_at TEXT,
            last_refreshed_at TEXT,
            last_used_at TEXT,
            reauthorization_needed INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE setting (key TEXT PRIMARY KEY, value_json TEXT NOT NULL)""",
        """CREATE TABLE fallback_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    ],
    # 2: usage - mail accounts and web-service invokers (owned by desktop/usage/)
    [
        """CREATE TABLE mail_account (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            protocol TEXT NOT NULL,
            host TEXT NOT NULL,
            port INTEGER,
            login TEXT NOT NULL,
            config_id INTEGER NOT NULL REFERENCES token_config(id) ON DELETE RESTRICT,
            mechanism TEXT NOT NULL DEFAULT 'XOAUTH2',
            ca_file TEXT NOT NULL DEFAULT '',
            options_json TEXT NOT NULL DEFAULT '{}',
            create_time TEXT NOT NULL,
            change_time TEXT NOT NULL
        )""",
        """CREATE INDEX mail_account_config ON mail_account(config_id)""",
        """CREATE TABLE web_invoker (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            method TEXT NOT NULL,
            url TEXT NOT NULL,
            headers_json TEXT NOT NULL DEFAULT '[]',
            body TEXT NOT NULL DEFAULT '',
            config_id INTEGER NOT NULL REFERENCES token_config(id) ON DELETE RESTRICT,
            ca_file TEXT NOT NULL DEFAULT '',
            options_json TEXT NOT NULL DEFAULT '{}',
            create_time TEXT NOT NULL,
            change_time TEXT NOT NULL
        )""",
        """CREATE INDEX web_invoker_config ON web_invoker(config_id)""",
    ],
    # 3: notifications - which due events were already announced (owned by desktop/notify/)
    [
        """CREATE TABLE notification_log (
            config_id INTEGER NOT NULL REFERENCES token_config(id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            due_at TEXT NOT NULL,
            notified_at TEXT NOT NULL,
            PRIMARY KEY (config_id, event, due_at)
        )""",
    ],
    # 4: usage - the last connection test / invocation per account and invoker (desktop/usage/runs.py)
    [
        """ALTER TABLE mail_account ADD COLUMN last_run_json TEXT NOT NULL DEFAULT ''""",
        """ALTER TABLE web_invoker ADD COLUMN last_run_json TEXT NOT NULL DEFAULT ''""",
    ],
    # 5: token state - what the token is for, for display (desktop/oauth/claims.py; JSON object or '')
    [
        """ALTER TABLE token_state ADD COLUMN token_info TEXT NOT NULL DEFAULT ''""",
    ],
    # 6: the vault (desktop/store/vault.py): every secret encrypted in the database, committed with its state;
    #    which program last asked for the token. Secrets written by schema 5 and earlier (keyring items, the
    #    plain fallback table) are moved in by desktop/store/legacy.py when the vault first opens.
    [
        """CREATE TABLE config_secret (
            config_id INTEGER NOT NULL REFERENCES token_config(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            value BLOB NOT NULL,
            PRIMARY KEY (config_id, field)
        ) WITHOUT ROWID""",
        """ALTER TABLE token_state ADD COLUMN last_used_by TEXT NOT NULL DEFAULT ''""",
        """INSERT INTO meta(key, value) SELECT 'vault.legacy', '1' WHERE
            EXISTS (SELECT 1 FROM token_config WHERE has_client_secret <> 0)
            OR EXISTS (SELECT 1 FROM token_state WHERE has_access_token <> 0 OR has_refresh_token <> 0)
            OR EXISTS (SELECT 1 FROM fallback_secret)""",
    ],
    # 7: lost updates - every write of a configuration counts its revision up, every write of its client secret
    #    also its secret_revision; an edit saves only over the revisions it loaded (Store.update's ``expected``,
    #    ChangedMeanwhile; what changed in words: desktop/models/changes.py)
    [
        """ALTER TABLE token_config ADD COLUMN revision INTEGER NOT NULL DEFAULT 0""",
        """ALTER TABLE token_config ADD COLUMN secret_revision INTEGER NOT NULL DEFAULT 0""",
    ],
    # 8: the SMTP relay (desktop/relay/): devices (a name and a scrypt hash of its generated password, never the
    #    password; the mail account it sends through; extra sender addresses) and the message log (no bodies)
    [
        """CREATE TABLE relay_device (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL REFERENCES mail_account(id) ON DELETE CASCADE,
            password_hash TEXT NOT NULL,
            aliases_json TEXT NOT NULL DEFAULT '[]',
            create_time TEXT NOT NULL
        )""",
        """CREATE TABLE relay_log (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            device TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipients_json TEXT NOT NULL,
            size INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            answer TEXT NOT NULL,
            hint TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE INDEX relay_log_device_time ON relay_log(device, time)""",
    ],
    # 9: who did what (desktop/store/history.py: per configuration - member, action, time; kept after a delete)
    #    and the team store's members (desktop/store/team.py: a member's X25519 public key and the data key
    #    wrapped for it; unused in a local store)
    [
        """CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            config_id INTEGER,
            config_name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            member TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            time TEXT NOT NULL
        )""",
        """CREATE INDEX history_name_time ON history(name_key, time)""",
        """CREATE TABLE member (
            name TEXT PRIMARY KEY,
            public_key TEXT NOT NULL,
            wrapped_key BLOB,
            key_id TEXT NOT NULL DEFAULT '',
            added_by TEXT NOT NULL DEFAULT '',
            create_time TEXT NOT NULL,
            change_time TEXT NOT NULL
        )""",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``."""
    is_memory = str(path) == ":memory:"
    if not is_memory:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # create it private before SQLite writes anything into it; another process may create it at the
            # same moment (then that one's file, also 0600, is used). Never opened here once it exists:
            # closing a second descriptor would drop this process's SQLite locks on it.
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                pass
    try:
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
        if not is_memory:
            _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 10000")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        damaged = damage_from(exc, path)
        if damaged is not None:
            raise damaged from None
        raise DatabaseError(
            f"The database {path} cannot be opened ({exc}). If it is damaged, move it away and restore "
            "a YAML backup with 'tokendesk import'."
        ) from None
    return conn


def _use_wal(conn: sqlite3.Connection, timeout: float = 10.0) -> None:
    """``PRAGMA journal_mode = WAL``, waiting for other connections. Switching a new file to WAL needs an
    exclusive lock and SQLite answers "database is locked" at once, without its busy handler, while another
    process switches the same new file at the same moment: retry for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def open_damaged(path: Path | str) -> sqlite3.Connection:
    """A connection for reading what is left of a damaged database (``tokendesk export --salvage``): no
    migration, no settings that write; WAL content is read as usual."""
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def quick_check(conn: sqlite3.Connection, limit: int = 5) -> list[str]:
    """SQLite's ``PRAGMA quick_check``: the problems it finds (at most ``limit``), [] for an intact file.
    Reads every page once (no index-to-table cross-checks; a 10,000-configuration store takes well under
    a second)."""
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA quick_check({int(limit)})")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _refuse_newer(current: int) -> None:
    if current > SCHEMA_VERSION:
        raise DatabaseError(
            f"The database has schema version {current}, but this Tokendesk knows only up to {SCHEMA_VERSION}. "
            "Update Tokendesk; the database was not changed."
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION``: every missing migration in one ``BEGIN IMMEDIATE``
    transaction that reads the version again once it holds the write lock. Processes (or threads) that
    open a new or old database at the same moment queue on that lock; the later ones find the work done.
    A database already at this version takes no write lock at all."""
    current = schema_version(conn)
    _refuse_newer(current)
    if current == SCHEMA_VERSION:
        return
    with transaction(conn):
        current = schema_version(conn)  # another connection may have migrated while this one waited
        _refuse_newer(current)
        for version in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            if version == 0:
                import uuid  # once per new store; uuid imports platform and ctypes

                conn.execute("INSERT INTO meta(key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        if current < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if current < SCHEMA_VERSION:
        logger.info("database migrated from schema version %d to %d", current, SCHEMA_VERSION)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``); nested use joins the outer one - on a team store's connection
    (``pg.PgConnection.savepoints``) as a savepoint, so a failed inner block takes back only its own writes when the
    outer holder goes on (the refresh lock's transaction keeps the error state an inner block wrote)."""
    if conn.in_transaction:
        if not getattr(conn, "savepoints", False):
            yield conn
            return
        conn.execute("SAVEPOINT tokendesk_nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT tokendesk_nested")
            conn.execute("RELEASE SAVEPOINT tokendesk_nested")
            raise
        else:
            conn.execute("RELEASE SAVEPOINT tokendesk_nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
