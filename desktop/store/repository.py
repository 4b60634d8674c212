"""The repository: token configurations, their token state and settings in SQLite.

Every change is one transaction. Names are unique case-insensitively (``name_key``);
a clash raises ``DuplicateNameError`` with a message that names the configuration.
This module holds no secret (only flags such as ``has_client_secret`` and the revisions):
``desktop.services.ConfigurationService`` (configurations with their client secret) and
``desktop.oauth.tokens.TokenService`` (tokens) combine it with the vault's ``config_secret`` rows
(``desktop.store.vault``) into transactional operations; ``transaction()`` is the shared one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop.models.config import TokenConfiguration
from desktop.models.settings import SETTINGS, spec_for
from desktop.models.token import TokenState
from desktop.store import database
from desktop.store.store_errors import (  # importable from here too, where callers have always found them
    MAX_CONFIG_JSON_BYTES,
    ChangedMeanwhile,
    ConfigurationTooLarge,
    DuplicateNameError,
    NotFoundError,
    StoreError,
    check_size,
)

__all__ = ["MAX_CONFIG_JSON_BYTES", "STATE_FIELDS", "ChangedMeanwhile", "ConfigurationTooLarge", "DuplicateNameError",
           "NotFoundError", "Store", "StoreError", "default_member_name", "from_db_time", "to_db_time", "znuny_time"]


def default_member_name() -> str:
    """``TOKENDESK_MEMBER``, else ``user@host`` (the name a team member gets unless given one)."""
    name = os.environ.get("TOKENDESK_MEMBER", "").strip()
    if name:
        return name
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    # the host name as socket.gethostname() gives it, without importing socket (~4 ms: the window's start on a team
    # store names the member before its first paint)
    return f"{user}@{os.uname().nodename or 'localhost'}"


def znuny_time(dt: datetime | None = None) -> str:
    """Znuny's timestamp form, ``YYYY-MM-DD HH:MM:SS`` (UTC here)."""
    return (dt or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def to_db_time(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _json_mapping(text: str | None) -> dict[str, Any]:
    """A JSON object column ('' or damaged: empty)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_STATE_TIME_FIELDS = (
    "token_expires_at",
    "refresh_token_expires_at",
    "last_requested_at",
    "last_refreshed_at",
    "last_used_at",
)
_STATE_BOOL_FIELDS = ("has_access_token", "has_refresh_token", "reauthorization_needed")
_STATE_TEXT_FIELDS = ("error_message", "error_description", "error_code", "last_used_by")
_STATE_JSON_FIELDS = ("token_info",)
STATE_FIELDS = _STATE_BOOL_FIELDS + _STATE_TIME_FIELDS + _STATE_TEXT_FIELDS + _STATE_JSON_FIELDS

_INSERT_CONFIG = (
    "INSERT INTO token_config(name, name_key, valid_id, template_name, config_json, extra_json, "
    "has_client_secret, create_time, change_time, create_by, change_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
#: ``json.dumps`` with its defaults, without the check for circular references (configurations are trees)
_JSON_ENCODE = json.JSONEncoder(check_circular=False).encode

_CONFIG_COLUMNS = (
    "c.id, c.name, c.valid_id, c.template_name, c.config_json, c.extra_json, c.has_client_secret, "
    "c.create_time, c.change_time, c.create_by, c.change_by, c.revision, c.secret_revision"
)
_STATE_COLUMNS = ", ".join(f"s.{f}" for f in STATE_FIELDS)


class _FirstConnects:
    """A team store's connector (``Store.open``): the first connection made - at the open, or with ``connect_later``
    at the first use on any thread - asks for the password and brings the schema to this version; the later ones
    (one per thread) use that password as they are."""

    def __init__(self, url: str, password: str | Callable[[], str | None] | None) -> None:
        self.url, self._password = url, password
        self._secret: str | None = None
        self._checked = False
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        from desktop.store import pg

        with self._lock:
            if not self._checked:  # a failed try (the server away) is tried again by the next one
                given = self._password
                self._secret = given() if callable(given) else given
                conn = pg.connect(self.url, self._secret)
                self._checked = True
                return conn
        return pg.connect(self.url, self._secret, migrate_schema=False)


class Store:
    """The repository. ``conn`` is per thread: worker threads get their own connection to the
    same file, so one thread's transaction never swallows another thread's writes."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None, *, url: str | None = None,
                 connector: Callable[[], Any] | None = None) -> None:
        self.path = path
        #: the team store's address (``postgresql://``, never with a password) - None for the local SQLite store
        self.url = url
        self._connector = connector
        self._local = threading.local()
        self._local.conn = conn
        self._all_conns: list[sqlite3.Connection] = [] if conn is None else [conn]
        self._lock = threading.Lock()
        #: a connection was made (a team store opened with ``connect_later`` has none until its first use)
        self.reached = conn is not None
        self._store_id: str | None = None if conn is None else self._read_store_id(conn)
        # TOKENDESK_MEMBER as it is now; user@host (getpass, the host name) only when first asked
        self._member: str | None = os.environ.get("TOKENDESK_MEMBER", "").strip() or None

    @staticmethod
    def _read_store_id(conn: Any) -> str:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])

    @property
    def store_id(self) -> str:
        """The store's own id (``meta``; the vault binds its sealing to it)."""
        if self._store_id is None:
            self._store_id = self._read_store_id(self.conn)
        return self._store_id

    @property
    def member(self) -> str:
        """Who acts on this store, for the history (``desktop/store/history.py``): the team member's name in a team
        store, else ``TOKENDESK_MEMBER`` or ``user@host`` - worked out when first asked (not on every open: the
        token path opens the store and never asks)."""
        if self._member is None:
            self._member = default_member_name()
        return self._member

    @member.setter
    def member(self, name: str) -> None:
        self._member = name

    @property
    def is_team(self) -> bool:
        """A shared PostgreSQL store (``desktop/store/pg.py``) rather than this workstation's SQLite file."""
        return self.url is not None

    @property
    def location(self) -> str:
        """Where the store is, for the admin's eyes: the database file or the team store's address."""
        return self.url if self.url is not None else str(self.path or ":memory:")

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._connector is not None:
                conn = self._connector()
                self.reached = True
            elif self.path is None:
                raise StoreError("an in-memory store cannot be used from another thread")
            else:
                conn = database.connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._all_conns.append(conn)
        return conn

    def new_connection(self) -> Any:
        """A connection of its own, not the thread's (a team store's LISTEN connection in the window); the
        caller closes it. For the team store a ``pg.PgConnection`` (``.raw`` is the psycopg connection)."""
        if self._connector is not None:
            return self._connector()
        if self.path is None:
            raise StoreError("an in-memory store has no second connection")
        return database.connect(self.path)

    def backend_pids(self) -> set[int]:
        """The server processes of this store's connections (a team store; empty for SQLite): the team store's
        listener leaves out what this process wrote itself."""
        with self._lock:
            conns = list(self._all_conns)
        pids = set()
        for conn in conns:
            raw = getattr(conn, "raw", None)
            if raw is not None and not raw.closed:
                pids.add(int(raw.info.backend_pid))
        return pids

    @classmethod
    def open(cls, path: Path | str | None = None, *, password: str | Callable[[], str | None] | None = None,
             connect_later: bool = False) -> Store:
        """The store at ``path``: a SQLite file (default: the data directory's), ``:memory:``, or a team store's
        ``postgresql://`` address (``password``: the database password when the address has none, or what asks
        for it). ``connect_later``: a team store connects at its first use, on whichever thread that is (the
        window's start: psycopg's import and the connection come after its first paint); the first connection
        brings the schema to this version, as an open does."""
        if path is None:
            from desktop.paths import database_path

            path = database_path()
        if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
            from desktop.store.pg_url import split_url

            shown, in_url = split_url(path)
            connector = _FirstConnects(shown, password if password is not None else in_url)
            return cls(None if connect_later else connector(), None, url=shown, connector=connector)
        conn = database.connect(path)
        return cls(conn, None if str(path) == ":memory:" else Path(path))

    def close(self) -> None:
        with self._lock:
            for conn in self._all_conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all_conns.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with database.transaction(self.conn) as conn:
            yield conn

    def data_version(self) -> int:
        """Changes when another connection (another process) committed; cheap to call."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # ---- configurations
    @staticmethod
    def _config_from_row(row: sqlite3.Row) -> TokenConfiguration:
        cfg = TokenConfiguration.from_stored(
            row["name"],
            row["config_json"],
            row["template_name"],
            valid_id=row["valid_id"],
            id=row["id"],
            create_time=row["create_time"],
            change_time=row["change_time"],
            create_by=row["create_by"],
            change_by=row["change_by"],
            extra=json.loads(row["extra_json"]),
            revision=row["revision"],
            secret_revision=row["secret_revision"],
        )
        cfg.has_client_secret = bool(row["has_client_secret"])
        return cfg

    @staticmethod
    def _state_from_row(row: sqlite3.Row | dict[str, Any], config_id: int) -> TokenState:
        values: dict[str, Any] = {}
        for f in _STATE_BOOL_FIELDS:
            values[f] = bool(row[f]) if row[f] is not None else False
        for f in _STATE_TIME_FIELDS:
            values[f] = from_db_time(row[f])
        for f in _STATE_TEXT_FIELDS:
            values[f] = row[f]
        for f in _STATE_JSON_FIELDS:
            values[f] = _json_mapping(row[f])
        return TokenState(config_id=config_id, **values)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM token_config").fetchone()[0])

    def names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM token_config ORDER BY name_key")]

    def list_configurations(self) -> list[TokenConfiguration]:
        rows = self.conn.execute(f"SELECT {_CONFIG_COLUMNS} FROM token_config c ORDER BY c.name_key")
        return [self._config_from_row(r) for r in rows]

    def list_with_state(self) -> list[tuple[TokenConfiguration, TokenState]]:
        return self._with_state("", ())

    def list_with_state_for(self, ids: Iterable[int]) -> list[tuple[TokenConfiguration, TokenState]]:
        """``list_with_state`` for the configurations ``ids`` that exist (a window following another desktop's
        changes reads only those)."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        return self._with_state(f"WHERE c.id IN ({', '.join('?' * len(wanted))}) ", wanted)

    def _with_state(self, where: str, params: Iterable[Any]) -> list[tuple[TokenConfiguration, TokenState]]:
        rows = self.conn.execute(
            f"SELECT {_CONFIG_COLUMNS}, {_STATE_COLUMNS} FROM token_config c "
            f"LEFT JOIN token_state s ON s.config_id = c.id {where}ORDER BY c.name_key", tuple(params))
        return [(self._config_from_row(r), self._state_from_row(r, r["id"])) for r in rows]

    def find(self, name: str) -> TokenConfiguration | None:
        row = self.conn.execute(
            f"SELECT {_CONFIG_COLUMNS} FROM token_config c WHERE c.name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else self._config_from_row(row)

    def get(self, name: str) -> TokenConfiguration:
        cfg = self.find(name)
        if cfg is None:
            raise NotFoundError(name)
        return cfg

    def get_by_id(self, config_id: int) -> TokenConfiguration | None:
        row = self.conn.execute(f"SELECT {_CONFIG_COLUMNS} FROM token_config c WHERE c.id = ?", (config_id,)).fetchone()
        return None if row is None else self._config_from_row(row)

    def insert(self, cfg: TokenConfiguration, *, has_client_secret: bool = False) -> TokenConfiguration:
        """Insert ``cfg`` (and an empty token state); returns a new object with ``id`` and times set.

        ``cfg`` itself is not changed. No deep copy: the stored JSON is the copy, and the returned
        configuration parses it again only if used (imports of 10,000 records, see bench/).
        """
        now = znuny_time()
        create_time = cfg.create_time or now
        change_time = cfg.change_time or now
        config = cfg.config
        if "ClientSecret" in config:
            config = {k: v for k, v in config.items() if k != "ClientSecret"}
        config_json = json.dumps(config)
        extra_json = json.dumps(cfg.extra)
        check_size(cfg.name, config_json, extra_json)
        template_name = cfg.template_name
        with self.transaction():
            try:
                cur = self.conn.execute(
                    "INSERT INTO token_config(name, name_key, valid_id, template_name, config_json, extra_json, "
                    "has_client_secret, create_time, change_time, create_by, change_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        cfg.name,
                        cfg.name.casefold(),
                        cfg.valid_id,
                        template_name,
                        config_json,
                        extra_json,
                        int(has_client_secret),
                        create_time,
                        change_time,
                        cfg.create_by,
                        cfg.change_by,
                    ),
                )
            except sqlite3.IntegrityError:
                raise DuplicateNameError(cfg.name) from None
            config_id = int(cur.lastrowid or 0)
            self.conn.execute("INSERT INTO token_state(config_id) VALUES (?)", (config_id,))
        return TokenConfiguration.from_stored(
            cfg.name,
            config_json,
            template_name,
            valid_id=cfg.valid_id,
            id=config_id,
            create_time=create_time,
            change_time=change_time,
            create_by=cfg.create_by,
            change_by=cfg.change_by,
            extra=json.loads(extra_json),
            has_client_secret=has_client_secret,
        )

    def insert_many(
        self, rows: Iterable[tuple[TokenConfiguration, bool]], *, changed_now: bool = False
    ) -> list[int]:
        """Insert many configurations, each as ``insert`` would (an empty token state too), with
        ``has_client_secret`` beside each; returns their ids in order. One transaction (the caller's,
        if one is open) and one timestamp for all; ``changed_now``: ChangeTime is that time rather
        than the configuration's own (an import is the latest change). All or none are inserted: a
        name that is taken raises ``DuplicateNameError`` and leaves the store as it was."""
        now = znuny_time()
        encode = _JSON_ENCODE
        params = []
        for cfg, has_client_secret in rows:
            config = cfg.config
            if "ClientSecret" in config:
                config = {k: v for k, v in config.items() if k != "ClientSecret"}
            config_json = encode(config)
            extra_json = encode(cfg.extra) if cfg.extra else "{}"
            if len(config_json) + len(extra_json) > MAX_CONFIG_JSON_BYTES:
                check_size(cfg.name, config_json, extra_json)
            params.append((
                cfg.name,
                cfg.name.casefold(),
                cfg.valid_id,
                cfg.template_name,
                config_json,
                extra_json,
                int(has_client_secret),
                cfg.create_time or now,
                now if changed_now else (cfg.change_time or now),
                cfg.create_by,
                cfg.change_by,
            ))
        if not params:
            return []
        with self.transaction() as conn:
            conn.execute("SAVEPOINT insert_many")
            try:
                conn.executemany(_INSERT_CONFIG, params)
                ids_by_key = dict(conn.execute("SELECT name_key, id FROM token_config"))
                ids = [ids_by_key[p[1]] for p in params]
                conn.executemany("INSERT INTO token_state(config_id) VALUES (?)", [(i,) for i in ids])
            except BaseException as exc:
                conn.execute("ROLLBACK TO insert_many")
                conn.execute("RELEASE insert_many")
                if isinstance(exc, sqlite3.IntegrityError):
                    taken = self._taken_name([p[0] for p in params])
                    if taken is not None:
                        raise DuplicateNameError(taken) from None
                raise
            conn.execute("RELEASE insert_many")
        return ids

    def _taken_name(self, names: list[str]) -> str | None:
        """The first of ``names`` that is stored already or occurs twice (case-insensitively)."""
        seen = {r[0] for r in self.conn.execute("SELECT name_key FROM token_config")}
        for name in names:
            key = name.casefold()
            if key in seen:
                return name
            seen.add(key)
        return None

    def update(self, cfg: TokenConfiguration, *, has_client_secret: bool | None = None,
               expected: TokenConfiguration | None = None) -> TokenConfiguration:
        """Write ``cfg`` over the stored row with the same id. TemplateName stays as stored.

        ``expected``: the version the edit loaded; when the stored revisions differ from its revisions, nothing is
        written and ``ChangedMeanwhile`` says what changed (a lost update refused). ``has_client_secret`` given
        means the client secret is written or removed with this save: its ``secret_revision`` counts up too."""
        if cfg.id is None:
            raise StoreError("cannot update a configuration that was never saved")
        cfg = cfg.copy()
        cfg.config.pop("ClientSecret", None)
        with self.transaction():
            current = self.get_by_id(cfg.id)
            if current is None:
                raise NotFoundError(cfg.name)
            if expected is not None and (current.revision, current.secret_revision) != (
                    expected.revision, expected.secret_revision):
                raise ChangedMeanwhile(expected, current)
            if current.template_name:
                cfg.config["TemplateName"] = current.template_name  # permanent once saved
            cfg.change_time = znuny_time()
            config_json = json.dumps(cfg.config)
            extra_json = json.dumps(cfg.extra)
            check_size(cfg.name, config_json, extra_json)
            try:
                self.conn.execute(
                    "UPDATE token_config SET name = ?, name_key = ?, valid_id = ?, template_name = ?, config_json = ?, "
                    "extra_json = ?, change_time = ?, change_by = ?, revision = revision + 1"
                    + (", has_client_secret = ?, secret_revision = secret_revision + 1"
                       if has_client_secret is not None else "")
                    + " WHERE id = ?",
                    (
                        cfg.name,
                        cfg.name.casefold(),
                        cfg.valid_id,
                        cfg.template_name,
                        config_json,
                        extra_json,
                        cfg.change_time,
                        cfg.change_by,
                    )
                    + ((int(has_client_secret),) if has_client_secret is not None else ())
                    + (cfg.id,),
                )
            except sqlite3.IntegrityError:
                raise DuplicateNameError(cfg.name) from None
        cfg.revision = current.revision + 1
        cfg.secret_revision = current.secret_revision + (has_client_secret is not None)
        return cfg

    def set_has_client_secret(self, config_id: int, value: bool) -> None:
        with self.transaction():
            self.conn.execute("UPDATE token_config SET has_client_secret = ?, revision = revision + 1, "
                              "secret_revision = secret_revision + 1 WHERE id = ?", (int(value), config_id))

    def delete(self, config_id: int) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM token_config WHERE id = ?", (config_id,))

    # ---- token state
    def get_state(self, config_id: int) -> TokenState:
        row = self.conn.execute(
            f"SELECT {_STATE_COLUMNS} FROM token_state s WHERE s.config_id = ?", (config_id,)
        ).fetchone()
        if row is None:
            return TokenState(config_id=config_id)
        return self._state_from_row(row, config_id)

    def update_state(self, config_id: int, **changes: Any) -> TokenState:
        """Set the given state fields (others unchanged) in one transaction; returns the new state."""
        unknown = set(changes) - set(STATE_FIELDS)
        if unknown:
            raise StoreError(f"unknown token state fields: {', '.join(sorted(unknown))}")
        values: list[Any] = []
        for key, value in changes.items():
            if key in _STATE_TIME_FIELDS:
                values.append(to_db_time(value))
            elif key in _STATE_BOOL_FIELDS:
                values.append(int(bool(value)))
            elif key in _STATE_JSON_FIELDS:
                values.append(json.dumps(value or {}, sort_keys=True) if value else "")
            else:
                values.append(value)
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO token_state(config_id) VALUES (?)", (config_id,))
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                self.conn.execute(f"UPDATE token_state SET {assignments} WHERE config_id = ?", (*values, config_id))
        return self.get_state(config_id)

    # ---- settings
    def settings(self) -> dict[str, Any]:
        values = {spec.key: spec.default for spec in SETTINGS}
        for key, value_json in self.conn.execute("SELECT key, value_json FROM setting"):
            if key in values:
                try:
                    values[key] = spec_for(key).check(json.loads(value_json))
                except ValueError:
                    pass  # a damaged value falls back to the default
        return values

    def get_setting(self, key: str) -> Any:
        spec = spec_for(key)
        row = self.conn.execute("SELECT value_json FROM setting WHERE key = ?", (key,)).fetchone()
        if row is None:
            return spec.default
        try:
            return spec.check(json.loads(row[0]))
        except ValueError:
            return spec.default

    def set_setting(self, key: str, value: Any) -> None:
        spec = spec_for(key)
        value = spec.check(value)
        with self.transaction():
            if value == spec.default:
                self.conn.execute("DELETE FROM setting WHERE key = ?", (key,))
            else:
                self.conn.execute(
                    "INSERT INTO setting(key, value_json) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
                    (key, json.dumps(value)),
                )

    def set_settings(self, values: Iterable[tuple[str, Any]]) -> None:
        with self.transaction():
            for key, value in values:
                self.set_setting(key, value)
