"""Mail accounts and web-service invokers in the database (schema slot 2).

``UsageRepository`` wraps a ``Store``: every change is one transaction; names are unique
(case-insensitively) per kind; a new account or invoker may only use a *valid* token
configuration, and an edit may keep the one it already has even if it became invalid
(the admin is told, not blocked). Errors are ``UsageValidationFailed`` (with FieldErrors),
``UsageNotFound`` or ``DuplicateUsageName``, all with plain messages.

A mail account's options live in ``options_json`` (a JSON object; keys this version does not know
are kept): ``allow_plaintext`` (true: an unencrypted protocol to a host that is not this machine was
explicitly allowed; stored only while the protocol and host need it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from desktop.models.config import TokenConfiguration
from desktop.models.validation import FieldError
from desktop.store.repository import Store, znuny_time
from desktop.usage.accounts import MailAccount, needs_plaintext_permission, protocol_spec, validate_mail_account
from desktop.usage.invokers import WebInvoker, validate_invoker
from desktop.usage.runs import LastRun

logger = logging.getLogger(__name__)


class UsageError(RuntimeError):
    pass


class UsageValidationFailed(UsageError, ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class UsageNotFound(UsageError, LookupError):
    def __init__(self, kind: str, name: str, hint: str) -> None:
        super().__init__(f"No {kind} named '{name}'. {hint}")
        self.name = name


class DuplicateUsageName(UsageValidationFailed):
    pass


_MAIL_COLUMNS = (
    "m.id, m.name, m.protocol, m.host, m.port, m.login, m.config_id, m.mechanism, m.ca_file, m.options_json, "
    "m.create_time, m.change_time, m.last_run_json, c.name AS config_name"
)
_INVOKER_COLUMNS = (
    "w.id, w.name, w.method, w.url, w.headers_json, w.body, w.config_id, w.ca_file, "
    "w.create_time, w.change_time, w.last_run_json, c.name AS config_name"
)


def eligible_configurations(store: Store, keep_config_id: int | None = None) -> list[TokenConfiguration]:
    """Configurations offered for a new account or invoker: the valid ones (plus, when
    editing, the one already in use, so the choice is not silently changed)."""
    return [c for c in store.list_configurations()
            if c.is_valid or (keep_config_id is not None and c.id == keep_config_id)]


def _options(text: str | None) -> dict[str, Any]:
    """A stored ``options_json`` (anything but a JSON object reads as no options)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mail_options(account: MailAccount, stored: str | None) -> str:
    """``options_json`` for ``account``: the stored options with this version's keys set from the account."""
    options = _options(stored)
    options.pop("allow_plaintext", None)
    if account.allow_plaintext:
        options["allow_plaintext"] = True
    return json.dumps(options, sort_keys=True)


def _failed(errors: list[FieldError]) -> UsageValidationFailed:
    duplicate = any(e.field == "Name" and "already used" in e.message for e in errors)
    return (DuplicateUsageName if duplicate else UsageValidationFailed)(errors)


def _duplicate(kind: str, name: str) -> DuplicateUsageName:
    return DuplicateUsageName([FieldError("Name", f"{kind} named '{name}' already exists; choose another name")])


class UsageRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # ---- token configuration lookup shared by both kinds
    def _resolve_config(self, config_id: int | None, config_name: str, keep_config_id: int | None) -> tuple[
        TokenConfiguration | None, list[FieldError]
    ]:
        cfg: TokenConfiguration | None = None
        if config_name:
            cfg = self.store.find(config_name)
            if cfg is None:
                return None, [FieldError("Token configuration",
                                         f"no configuration named '{config_name}' ('tokendesk list' shows them)")]
        elif config_id is not None:
            cfg = self.store.get_by_id(config_id)
            if cfg is None:
                return None, [FieldError("Token configuration", "the chosen configuration no longer exists")]
        else:
            return None, [FieldError("Token configuration", "is required")]
        if not cfg.is_valid and cfg.id != keep_config_id:
            return None, [FieldError(
                "Token configuration",
                f"'{cfg.name}' is {cfg.validity_label}; only valid configurations can be used (set it to valid first)",
            )]
        return cfg, []

    # ---- mail accounts
    @staticmethod
    def _account_from_row(row: sqlite3.Row) -> MailAccount:
        return MailAccount(
            id=row["id"], name=row["name"], protocol=row["protocol"], host=row["host"], port=row["port"],
            login=row["login"], config_id=row["config_id"], config_name=row["config_name"] or "",
            mechanism=row["mechanism"], ca_file=row["ca_file"] or "", create_time=row["create_time"],
            change_time=row["change_time"], last_run=LastRun.from_json(row["last_run_json"]),
            allow_plaintext=_options(row["options_json"]).get("allow_plaintext") is True,
        )

    def list_mail_accounts(self) -> list[MailAccount]:
        rows = self.conn.execute(
            f"SELECT {_MAIL_COLUMNS} FROM mail_account m JOIN token_config c ON c.id = m.config_id ORDER BY m.name_key"
        )
        return [self._account_from_row(r) for r in rows]

    def find_mail_account(self, name: str) -> MailAccount | None:
        row = self.conn.execute(
            f"SELECT {_MAIL_COLUMNS} FROM mail_account m JOIN token_config c ON c.id = m.config_id "
            "WHERE m.name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else self._account_from_row(row)

    def get_mail_account(self, name: str) -> MailAccount:
        account = self.find_mail_account(name)
        if account is None:
            raise UsageNotFound("mail account", name, "'tokendesk mail list' shows the names.")
        return account

    def _account_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM mail_account")}

    def _prepare_account(self, account: MailAccount, own: MailAccount | None) -> tuple[MailAccount, int]:
        errors = validate_mail_account(account, existing_names=self._account_names(),
                                       own_name=own.name if own else None)
        cfg, cfg_errors = self._resolve_config(account.config_id if not account.config_name else None,
                                               account.config_name, own.config_id if own else None)
        errors += [e for e in cfg_errors if all(x.field != e.field for x in errors)]
        if errors:
            raise _failed(errors)
        assert cfg is not None and cfg.id is not None
        account = account.copy(protocol=protocol_spec(account.protocol).key, host=account.host.strip(),
                               login=account.login.strip(), config_id=cfg.id, config_name=cfg.name)
        # the permission is kept only while it is needed: going back to plain text later asks again
        account.allow_plaintext = account.allow_plaintext and needs_plaintext_permission(account)
        if account.port == account.spec.default_port:
            account.port = None  # follows the protocol's default if the protocol changes later
        return account, cfg.id

    def add_mail_account(self, account: MailAccount) -> MailAccount:
        with self.store.transaction():
            account, config_id = self._prepare_account(account, None)
            now = znuny_time()
            try:
                cur = self.conn.execute(
                    "INSERT INTO mail_account(name, name_key, protocol, host, port, login, config_id, mechanism, "
                    "ca_file, options_json, create_time, change_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (account.name, account.name.casefold(), account.protocol, account.host, account.port,
                     account.login, config_id, account.mechanism, account.ca_file, _mail_options(account, None),
                     now, now),
                )
            except sqlite3.IntegrityError:
                raise _duplicate("a mail account", account.name) from None
        logger.info("mail account added: %s (%s)", account.name, account.protocol)
        return account.copy(id=int(cur.lastrowid or 0), create_time=now, change_time=now)

    def update_mail_account(self, account: MailAccount) -> MailAccount:
        """Save changes to the stored account with ``account.id``."""
        if account.id is None:
            raise UsageError("cannot update a mail account that was never saved")
        with self.store.transaction():
            own = self._account_by_id(account.id)
            account, config_id = self._prepare_account(account, own)
            stored = self.conn.execute("SELECT options_json FROM mail_account WHERE id = ?", (account.id,)).fetchone()
            now = znuny_time()
            try:
                self.conn.execute(
                    "UPDATE mail_account SET name=?, name_key=?, protocol=?, host=?, port=?, login=?, config_id=?, "
                    "mechanism=?, ca_file=?, options_json=?, change_time=? WHERE id=?",
                    (account.name, account.name.casefold(), account.protocol, account.host, account.port,
                     account.login, config_id, account.mechanism, account.ca_file,
                     _mail_options(account, stored[0] if stored else None), now, account.id),
                )
            except sqlite3.IntegrityError:
                raise _duplicate("a mail account", account.name) from None
        logger.info("mail account updated: %s", account.name)
        return account.copy(change_time=now)

    def _account_by_id(self, account_id: int) -> MailAccount:
        row = self.conn.execute(
            f"SELECT {_MAIL_COLUMNS} FROM mail_account m JOIN token_config c ON c.id = m.config_id WHERE m.id = ?",
            (account_id,),
        ).fetchone()
        if row is None:
            raise UsageNotFound("mail account", f"#{account_id}", "It may have been deleted meanwhile.")
        return self._account_from_row(row)

    def delete_mail_account(self, name: str) -> MailAccount:
        with self.store.transaction():
            account = self.get_mail_account(name)
            self.conn.execute("DELETE FROM mail_account WHERE id = ?", (account.id,))
        logger.info("mail account deleted: %s", account.name)
        return account

    def record_mail_test(self, name: str, run: LastRun) -> None:
        """Keep the outcome of a connection test (not a change of the account: change_time stays)."""
        with self.store.transaction():
            self.conn.execute("UPDATE mail_account SET last_run_json = ? WHERE name_key = ?",
                              (run.to_json(), name.casefold()))

    # ---- web-service invokers
    @staticmethod
    def _invoker_from_row(row: sqlite3.Row) -> WebInvoker:
        headers_raw: Any = json.loads(row["headers_json"] or "[]")
        if isinstance(headers_raw, dict):  # tolerate a mapping
            headers_raw = list(headers_raw.items())
        headers = [(str(k), str(v)) for k, v in headers_raw]
        return WebInvoker(
            id=row["id"], name=row["name"], method=row["method"], url=row["url"], headers=headers,
            body=row["body"] or "", config_id=row["config_id"], config_name=row["config_name"] or "",
            ca_file=row["ca_file"] or "", create_time=row["create_time"], change_time=row["change_time"],
            last_run=LastRun.from_json(row["last_run_json"]),
        )

    def list_invokers(self) -> list[WebInvoker]:
        rows = self.conn.execute(
            f"SELECT {_INVOKER_COLUMNS} FROM web_invoker w JOIN token_config c ON c.id = w.config_id "
            "ORDER BY w.name_key"
        )
        return [self._invoker_from_row(r) for r in rows]

    def find_invoker(self, name: str) -> WebInvoker | None:
        row = self.conn.execute(
            f"SELECT {_INVOKER_COLUMNS} FROM web_invoker w JOIN token_config c ON c.id = w.config_id "
            "WHERE w.name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else self._invoker_from_row(row)

    def get_invoker(self, name: str) -> WebInvoker:
        invoker = self.find_invoker(name)
        if invoker is None:
            raise UsageNotFound("invoker", name, "'tokendesk invoker list' shows the names.")
        return invoker

    def _invoker_by_id(self, invoker_id: int) -> WebInvoker:
        row = self.conn.execute(
            f"SELECT {_INVOKER_COLUMNS} FROM web_invoker w JOIN token_config c ON c.id = w.config_id WHERE w.id = ?",
            (invoker_id,),
        ).fetchone()
        if row is None:
            raise UsageNotFound("invoker", f"#{invoker_id}", "It may have been deleted meanwhile.")
        return self._invoker_from_row(row)

    def _prepare_invoker(self, invoker: WebInvoker, own: WebInvoker | None) -> tuple[WebInvoker, int]:
        names = {r[0] for r in self.conn.execute("SELECT name FROM web_invoker")}
        invoker = invoker.copy(method=(invoker.method or "").strip().upper(), url=(invoker.url or "").strip())
        errors = validate_invoker(invoker, existing_names=names, own_name=own.name if own else None)
        cfg, cfg_errors = self._resolve_config(invoker.config_id if not invoker.config_name else None,
                                               invoker.config_name, own.config_id if own else None)
        errors += [e for e in cfg_errors if all(x.field != e.field for x in errors)]
        if errors:
            raise _failed(errors)
        assert cfg is not None and cfg.id is not None
        return invoker.copy(config_id=cfg.id, config_name=cfg.name), cfg.id

    def add_invoker(self, invoker: WebInvoker) -> WebInvoker:
        with self.store.transaction():
            invoker, config_id = self._prepare_invoker(invoker, None)
            now = znuny_time()
            try:
                cur = self.conn.execute(
                    "INSERT INTO web_invoker(name, name_key, method, url, headers_json, body, config_id, ca_file, "
                    "create_time, change_time) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (invoker.name, invoker.name.casefold(), invoker.method, invoker.url,
                     json.dumps([list(h) for h in invoker.headers]), invoker.body, config_id, invoker.ca_file,
                     now, now),
                )
            except sqlite3.IntegrityError:
                raise _duplicate("an invoker", invoker.name) from None
        logger.info("invoker added: %s", invoker.name)
        return invoker.copy(id=int(cur.lastrowid or 0), create_time=now, change_time=now)

    def update_invoker(self, invoker: WebInvoker) -> WebInvoker:
        if invoker.id is None:
            raise UsageError("cannot update an invoker that was never saved")
        with self.store.transaction():
            own = self._invoker_by_id(invoker.id)
            invoker, config_id = self._prepare_invoker(invoker, own)
            now = znuny_time()
            try:
                self.conn.execute(
                    "UPDATE web_invoker SET name=?, name_key=?, method=?, url=?, headers_json=?, body=?, config_id=?, "
                    "ca_file=?, change_time=? WHERE id=?",
                    (invoker.name, invoker.name.casefold(), invoker.method, invoker.url,
                     json.dumps([list(h) for h in invoker.headers]), invoker.body, config_id, invoker.ca_file, now,
                     invoker.id),
                )
            except sqlite3.IntegrityError:
                raise _duplicate("an invoker", invoker.name) from None
        logger.info("invoker updated: %s", invoker.name)
        return invoker.copy(change_time=now)

    def delete_invoker(self, name: str) -> WebInvoker:
        with self.store.transaction():
            invoker = self.get_invoker(name)
            self.conn.execute("DELETE FROM web_invoker WHERE id = ?", (invoker.id,))
        logger.info("invoker deleted: %s", invoker.name)
        return invoker

    # ---- who uses a configuration
    def record_invocation(self, name: str, run: LastRun) -> None:
        """Keep the outcome of an invocation (not a change of the invoker: change_time stays)."""
        with self.store.transaction():
            self.conn.execute("UPDATE web_invoker SET last_run_json = ? WHERE name_key = ?",
                              (run.to_json(), name.casefold()))

    def users_by_configuration(self) -> dict[int, list[str]]:
        """``users_of`` for every configuration in use, in two reads (the window's "Used by")."""
        users: dict[int, list[str]] = {}
        for kind, table in (("mail account", "mail_account"), ("invoker", "web_invoker")):
            for config_id, name in self.conn.execute(
                    f"SELECT config_id, name FROM {table} ORDER BY config_id, name_key"):  # two fixed table names
                users.setdefault(config_id, []).append(f"{kind} '{name}'")
        return users

    def users_of(self, config_id: int) -> list[str]:
        """``["mail account 'Support IMAP'", "invoker 'Ticket API'"]`` for one configuration."""
        users = [f"mail account '{r[0]}'" for r in self.conn.execute(
            "SELECT name FROM mail_account WHERE config_id = ? ORDER BY name_key", (config_id,))]
        users += [f"invoker '{r[0]}'" for r in self.conn.execute(
            "SELECT name FROM web_invoker WHERE config_id = ? ORDER BY name_key", (config_id,))]
        return users
