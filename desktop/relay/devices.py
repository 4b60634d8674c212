"""Relay devices: a scanner, printer or old program that sends mail through the relay.

A device has a name (its SMTP login), a generated password that is shown once and kept only as a scrypt
hash (``hash_password``/``verify_password``), the mail account it sends through, and the extra sender
addresses (aliases) the admin allows it besides the account's own address. Plain data and SQLite (the
store's ``relay_device`` table, schema 8); no Qt, no network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from desktop.usage.accounts import FAMILY_SMTP

if TYPE_CHECKING:
    from desktop.store.repository import Store
    from desktop.usage.accounts import MailAccount

#: scrypt cost: 16 MiB and ~50 ms per check (RFC 7914's interactive figure); verified logins are remembered
#: by the running relay, so a device pays it once per relay start
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class RelayError(RuntimeError):
    """A plain-language refusal (bad name, unknown device or account)."""


class DeviceNotFound(RelayError, LookupError):
    pass


def generate_password() -> str:
    """24 URL-safe characters (144 bits): typed once into a device's web form, or pasted."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def account_address(account: MailAccount) -> str:
    """The account's own sender address: its login when that is an address ('' otherwise)."""
    login = account.login.strip()
    return login if _ADDRESS.match(login) else ""


@dataclass
class Device:
    name: str
    account_name: str
    account_id: int
    #: the account's own address (its login) - always allowed as sender
    address: str = ""
    aliases: list[str] = field(default_factory=list)
    password_hash: str = field(default="", repr=False)
    create_time: str = ""
    id: int | None = None

    @property
    def senders(self) -> list[str]:
        """Every address this device may send as (the account's, then the aliases)."""
        return ([self.address] if self.address else []) + [a for a in self.aliases if a != self.address]

    def may_send_as(self, sender: str) -> bool:
        wanted = sender.strip().casefold()
        return any(wanted == s.casefold() for s in self.senders)


def check_device_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise RelayError(f"'{name}' cannot be a device name: use 1 to 64 letters, digits, '.', '_', '-' or '@', "
                         "starting with a letter or digit (the device logs in with it).")
    return name


def check_alias(address: str) -> str:
    address = address.strip()
    if not _ADDRESS.match(address):
        raise RelayError(f"'{address}' is not an e-mail address (an alias looks like scanner@example.org).")
    return address


class DeviceRepository:
    """The ``relay_device`` table. Safe from any thread (the store has one connection per thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _accounts(self) -> dict[int, MailAccount]:
        from desktop.usage.repository import UsageRepository

        return {a.id: a for a in UsageRepository(self.store).list_mail_accounts() if a.id is not None}

    def _from_row(self, row: sqlite3.Row, accounts: dict[int, MailAccount]) -> Device:
        account = accounts.get(row["account_id"])
        return Device(
            id=row["id"], name=row["name"], account_id=row["account_id"],
            account_name=account.name if account else "", address=account_address(account) if account else "",
            aliases=list(json.loads(row["aliases_json"] or "[]")), password_hash=row["password_hash"],
            create_time=row["create_time"],
        )

    def list(self) -> list[Device]:
        accounts = self._accounts()
        rows = self.store.conn.execute("SELECT * FROM relay_device ORDER BY name_key").fetchall()
        return [self._from_row(r, accounts) for r in rows]

    def find(self, name: str) -> Device | None:
        row = self.store.conn.execute("SELECT * FROM relay_device WHERE name_key = ?",
                                      (name.strip().casefold(),)).fetchone()
        return None if row is None else self._from_row(row, self._accounts())

    def get(self, name: str) -> Device:
        device = self.find(name)
        if device is None:
            raise DeviceNotFound(f"There is no relay device named '{name}' ('tokendesk relay device list' shows them).")
        return device

    def add(self, name: str, account_name: str, aliases: list[str] | None = None) -> tuple[Device, str]:
        """A new device and its password (the only time it exists in clear)."""
        from desktop.usage.repository import UsageRepository

        name = check_device_name(name)
        clean = [check_alias(a) for a in aliases or []]
        account = UsageRepository(self.store).find_mail_account(account_name)
        if account is None:
            raise RelayError(f"There is no mail account named '{account_name}' ('tokendesk mail list' shows them; "
                             "add one with 'tokendesk mail add').")
        if account.family != FAMILY_SMTP:
            raise RelayError(f"'{account.name}' is a {account.protocol} account; the relay sends through an SMTP or "
                             "SMTPS account.")
        if not account_address(account) and not clean:
            raise RelayError(f"The login of '{account.name}' ({account.login}) is no e-mail address, so the device "
                             "could send as nobody: give its sender address with --alias ADDRESS.")
        password = generate_password()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM relay_device WHERE name_key = ?", (name.casefold(),)).fetchone():
                raise RelayError(f"A relay device named '{name}' exists already (remove it first, or choose "
                                 "another name).")
            cur = conn.execute(
                "INSERT INTO relay_device(name, name_key, account_id, password_hash, aliases_json, create_time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, name.casefold(), account.id, hash_password(password), json.dumps(clean), now))
        device = Device(id=cur.lastrowid, name=name, account_name=account.name, account_id=int(account.id or 0),
                        address=account_address(account), aliases=clean, create_time=now)
        return device, password

    def remove(self, name: str) -> Device:
        device = self.get(name)
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM relay_device WHERE id = ?", (device.id,))
        return device
