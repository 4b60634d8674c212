"""Which store Tokendesk opens: ``TOKENDESK_STORE`` (a ``postgresql://`` address, or ``local``), else the team
store chosen with ``tokendesk store init|join`` or File > Team store (``$TOKENDESK_HOME/team-store.json``: the
address without a password and this admin's member name), else the local SQLite file.

The team store's database password is never kept in a plain file: a password in ``TOKENDESK_STORE``'s address is
used as given; otherwise it comes from the OS keyring (service ``tokendesk-store``, user the address shown), where
``store init|join|password`` put it. Cheap: no keyring, no psycopg until a team store is actually opened. Qt-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

ENV = "TOKENDESK_STORE"
CHOICE_FILE = "team-store.json"
PASSWORD_SERVICE = "tokendesk-store"


class StoreChoice(NamedTuple):  # NamedTuple: ~7x quicker to build than a dataclass at start-up
    """Where the store is: ``url`` (a team store; may carry a password when it came from the environment) or
    the local file ``path``; ``member``: this admin's name in the team store ('' = the default); ``source``: why
    (environment, saved, default)."""

    url: str | None = None
    path: Path | None = None
    member: str = ""
    source: str = "default"

    @property
    def is_team(self) -> bool:
        return self.url is not None


def _choice_file() -> Path:
    from desktop.paths import data_dir

    return data_dir(create=False) / CHOICE_FILE


def saved_choice() -> dict[str, str]:
    try:
        data = json.loads(_choice_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current() -> StoreChoice:
    """The store this process opens."""
    env = os.environ.get(ENV, "").strip()
    saved = saved_choice()
    if env and env.lower() != "local":
        from desktop.store.pg_url import display_url, is_store_url

        if not is_store_url(env):
            from desktop.store.database import DatabaseError

            raise DatabaseError(f"{ENV} must be a postgresql:// address (or 'local'), not '{env[:40]}'.")
        member = saved.get("member", "") if saved.get("url") == display_url(env) else ""
        return StoreChoice(url=env, member=os.environ.get("TOKENDESK_MEMBER", "") or member, source="environment")
    if not env and saved.get("url"):
        return StoreChoice(url=str(saved["url"]), member=str(saved.get("member", "")), source="saved")
    from desktop.paths import database_path

    return StoreChoice(path=database_path(), source="default" if not env else "environment")


def save_choice(url: str, member: str) -> None:
    """Open the team store at ``url`` from now on (without a password: that goes to the keyring)."""
    from desktop.paths import data_dir
    from desktop.store.pg_url import display_url

    path = data_dir() / CHOICE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": display_url(url), "member": member}, fh)
    os.replace(tmp, path)


def forget_choice() -> None:
    """Back to the local store."""
    try:
        _choice_file().unlink()
    except FileNotFoundError:
        pass


# ---- the database password
def save_password(url: str, password: str) -> None:
    from desktop.store.keyring_access import KeyringAccess, KeyringUnavailable, probe_keyring
    from desktop.store.pg_url import display_url
    from desktop.store.vault_errors import NoKeyring

    probe = probe_keyring()
    if not probe.usable:
        raise NoKeyring(f"The database password needs the OS keyring ({probe.reason}); put it into the address in "
                        f"{ENV} instead, or in ~/.pgpass (PostgreSQL's own file, mode 0600).")
    try:
        KeyringAccess(PASSWORD_SERVICE).set(display_url(url), password)
    except KeyringUnavailable as exc:
        raise NoKeyring(str(exc)) from None


def stored_password(url: str) -> str | None:
    """The password for ``url``: the one in the address, else the keyring's (None: libpq's own ways)."""
    from desktop.store.pg_url import split_url

    shown, in_url = split_url(url)
    if in_url is not None:
        return in_url
    try:
        from desktop.store.keyring_access import KeyringAccess

        return KeyringAccess(PASSWORD_SERVICE).get(shown)
    except Exception:  # noqa: BLE001 - no keyring: PostgreSQL may still let us in (trust, peer, .pgpass)
        return None


def open_store(choice: StoreChoice | None = None, *, connect_later: bool = False):  # noqa: ANN201 - a Store
    """The ``Store`` of ``choice`` (default: ``current()``), the member name set for a team store.
    ``connect_later``: a team store connects (and its password is looked up) at its first use (``Store.open``)."""
    from desktop.store.repository import Store

    choice = choice or current()
    if choice.url is None:
        return Store.open(choice.path)
    url = choice.url
    password = (lambda: stored_password(url)) if connect_later else stored_password(url)
    store = Store.open(url, password=password, connect_later=connect_later)
    if choice.member:
        store.member = choice.member
    return store
