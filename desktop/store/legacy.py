"""Secrets of schema 5 and earlier, moved into the vault when it first opens.

Until schema 6 each secret was its own OS keyring item (service ``tokendesk:<store id>``, user
``config-<id>/<kind>``) or, without a keyring and with the admin's permission, a plain row of
``fallback_secret``. Schema 6's migration marks such a store (``vault.legacy``). The vault then:

1. reads every old secret the store's flags name (``read_legacy_secrets``; nothing is changed yet);
2. in the transaction that creates the vault, seals them into ``config_secret``, empties
   ``fallback_secret``, clears ``vault.legacy`` and notes which configurations had keyring items
   (``vault.legacy_cleanup``) - ``move_in``;
3. after the commit, deletes the old keyring items and then the note (``delete_old_items``).

Killed before the commit: nothing changed, the old secrets still work, and it runs again next time.
Killed after it: the note makes the next open delete the remaining old items.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.store.keyring_access import KeyringAccess, KeyringUnavailable, all_items, delete_items, service_name
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, SECRET_KINDS

if TYPE_CHECKING:
    from desktop.store.repository import Store
    from desktop.store.vault_crypto import Cipher

logger = logging.getLogger(__name__)

_FLAGS = (
    (CLIENT_SECRET, "SELECT id FROM token_config WHERE has_client_secret"),
    (ACCESS_TOKEN, "SELECT config_id FROM token_state WHERE has_access_token"),
    (REFRESH_TOKEN, "SELECT config_id FROM token_state WHERE has_refresh_token"),
)
_FLAG_COLUMNS = {CLIENT_SECRET: ("token_config", "has_client_secret", "id"),
                 ACCESS_TOKEN: ("token_state", "has_access_token", "config_id"),
                 REFRESH_TOKEN: ("token_state", "has_refresh_token", "config_id")}


def legacy_name(config_id: int, kind: str) -> str:
    """The keyring user name (and fallback row name) of schema 5."""
    return f"config-{config_id}/{kind}"


@dataclass
class LegacySecrets:
    values: list[tuple[int, str, str]] = field(default_factory=list)  # (config id, kind, secret)
    missing: list[tuple[int, str]] = field(default_factory=list)  # named by a flag, found nowhere
    keyring_ids: list[int] = field(default_factory=list)  # configurations whose items are in the keyring
    had_plain_rows: bool = False  # the plain fallback table had rows (to be wiped from the file afterwards)


def read_legacy_secrets(store: Store) -> LegacySecrets:
    """Every secret the old store names, from the fallback table or the keyring. Changes nothing.

    Raises ``VaultError`` when secrets are in a keyring that cannot be read now (the migration then
    waits for a later start, and the old secrets stay where they are)."""
    from desktop.store.vault_errors import KeyringGone

    conn = store.conn
    fallback = {str(name): str(value) for name, value in conn.execute("SELECT name, value FROM fallback_secret")}
    found = LegacySecrets(had_plain_rows=bool(fallback))
    access: KeyringAccess | None = None
    in_keyring: dict[str, str] | None = None  # every item at once, where the keyring allows it
    keyring_ids: set[int] = set()
    for kind, query in _FLAGS:
        for (config_id,) in conn.execute(query).fetchall():
            name = legacy_name(config_id, kind)
            value = fallback.get(name)
            if value is None:
                try:
                    if access is None:
                        access = KeyringAccess(service_name(store.store_id))
                        in_keyring = all_items(access.service)
                    value = in_keyring.get(name) if in_keyring is not None else access.get(name)
                except KeyringUnavailable as exc:
                    raise KeyringGone(
                        "The secrets of the earlier Tokendesk version are in the keyring, which cannot be read now, "
                        f"so they cannot move into the encrypted vault yet ({exc}).",
                        "Unlock the keyring and start Tokendesk again; nothing was changed.",
                    ) from None
                keyring_ids.add(config_id)
            if value is None:
                found.missing.append((config_id, kind))
            else:
                found.values.append((config_id, kind, value))
    found.keyring_ids = sorted(keyring_ids)
    return found


def move_in(conn: Any, cipher: Cipher, old: LegacySecrets) -> None:
    """Inside the vault's creating transaction: seal the old secrets in, forget where they were."""
    from desktop.store.vault import _write_meta
    from desktop.store.vault_crypto import KEY_TABLE

    conn.executemany(
        "INSERT INTO config_secret(config_id, field, value) VALUES (?, ?, ?) "
        "ON CONFLICT(config_id, field) DO UPDATE SET value = excluded.value",
        [(cid, kind, cipher.seal(KEY_TABLE, cid, kind, value)) for cid, kind, value in old.values],
    )
    for config_id, kind in old.missing:  # the flag named a secret that is nowhere: say so from now on
        table, column, key = _FLAG_COLUMNS[kind]
        conn.execute(f"UPDATE {table} SET {column} = 0 WHERE {key} = ?", (config_id,))
    conn.execute("DELETE FROM fallback_secret")
    _write_meta(conn, {"legacy": None, "legacy_cleanup": json.dumps(old.keyring_ids) if old.keyring_ids else None})
    logger.info("vault: %d secrets of the earlier version moved in (%d named but not found)", len(old.values),
                len(old.missing))


def delete_old_items(store: Store, access: KeyringAccess) -> int:
    """After the commit: delete the old keyring items, then the note. Returns how many were deleted."""
    from desktop.store.vault import VaultInfo, _write_meta

    ids = VaultInfo.read(store.conn).legacy_cleanup
    if not ids:
        return 0
    old = KeyringAccess(access.service)  # keyring's own choice: the items were written through it
    deleted = 0
    try:
        names = {legacy_name(config_id, kind) for config_id in ids for kind in SECRET_KINDS}
        bulk = delete_items(access.service, names)
        if bulk is not None:
            deleted = bulk
        else:
            for name in sorted(names):
                old.delete(name)
                deleted += 1
    except KeyringUnavailable as exc:
        logger.warning("vault: old keyring items could not all be deleted yet (%s); next start tries again",
                       exc.__class__.__name__)
        return deleted
    with store.transaction() as conn:
        _write_meta(conn, {"legacy_cleanup": None})
    logger.info("vault: the earlier version's keyring items are deleted")
    return deleted
