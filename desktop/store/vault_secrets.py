"""``VaultSecrets``: the ``SecretStore`` of schema 6 - every secret a ``config_secret`` row sealed by the vault.

The rows are read and written on the calling thread's store connection, inside whatever transaction it has open;
the data key comes from ``desktop.store.vault.Vault``. Qt-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from desktop.store.secrets import SECRET_KINDS, SecretStore
from desktop.store.vault import MODE_KEYRING, MODE_PASSPHRASE, MODE_TEAM, Vault
from desktop.store.vault_crypto import KEY_TABLE
from desktop.store.vault_errors import SecretDamaged

if TYPE_CHECKING:
    from desktop.store.repository import Store


class VaultSecrets(SecretStore):
    """The secret store of schema 6: ``config_secret`` rows sealed by the ``Vault``.

    Reads and writes use the calling thread's store connection, so a secret joins whatever
    transaction that thread has open (``Store.transaction()``). Reading an absent secret never needs
    the key; deleting never does.
    """

    kind = "vault"

    def __init__(self, store: Store, vault: Vault) -> None:
        self.store = store
        self.vault = vault

    # ---- descriptions for the window, doctor and the CLI
    @property
    def mode(self) -> str:
        return self.vault.info().mode

    @property
    def description(self) -> str:
        info = self.vault.info()
        if info.mode == MODE_KEYRING:
            return f"encrypted vault, key in the system keyring ({info.backend_name or info.backend or 'keyring'})"
        if info.mode == MODE_PASSPHRASE:
            state = "unlocked" if self.vault.is_open else "locked"
            return f"encrypted vault, key protected by a passphrase ({state})"
        if info.mode == MODE_TEAM:
            state = "open" if self.vault.is_open else "not opened yet"
            return f"team store vault, the key wrapped for each member ({state})"
        if info.legacy:
            return "secrets of an earlier version, moved into the encrypted vault when it first opens"
        return "encrypted vault (made when the first secret is stored)"

    @property
    def locked(self) -> bool:
        """The key is protected by a passphrase that has not been given in this process yet."""
        return not self.vault.is_open and self.vault.info().mode == MODE_PASSPHRASE

    @property
    def persistent_warning(self) -> str:
        info = self.vault.info()
        if info.mode == MODE_PASSPHRASE and not self.vault.is_open:
            return ("Tokendesk's secrets are locked: enter the vault passphrase to sign in, refresh and use tokens. "
                    "Automatic refreshes wait until then.")
        return ""

    def prepare_write(self) -> None:
        self._legacy_first()
        self.vault.ensure()

    # ---- secrets
    def _legacy_first(self) -> None:
        if self.vault._legacy_checked:
            return
        if self.vault.info().legacy:
            self.vault.cipher()  # creates the vault and moves the old secrets in
        self.vault._legacy_checked = True

    def get_for(self, config_id: int, kind: str) -> str | None:
        _check_kind(kind)
        self._legacy_first()
        row = self.store.conn.execute("SELECT value FROM config_secret WHERE config_id = ? AND field = ?",
                                      (config_id, kind)).fetchone()
        if row is None:
            return None
        try:
            return self.vault.cipher().open(KEY_TABLE, config_id, kind, row[0])
        except SecretDamaged:
            if self.vault.reopen_if_rekeyed():
                return self.vault.cipher().open(KEY_TABLE, config_id, kind, row[0])
            raise

    def get_many(self, kind: str, config_ids: Iterable[int]) -> dict[int, str]:
        """Many configurations' secrets of one kind at once (export); absent ones are left out."""
        _check_kind(kind)
        self._legacy_first()
        wanted = set(config_ids)
        rows = [(cid, value) for cid, value in self.store.conn.execute(
            "SELECT config_id, value FROM config_secret WHERE field = ?", (kind,)) if cid in wanted]
        if not rows:
            return {}
        try:
            cipher = self.vault.cipher()
            return {cid: cipher.open(KEY_TABLE, cid, kind, value) for cid, value in rows}
        except SecretDamaged:
            if not self.vault.reopen_if_rekeyed():
                raise
            cipher = self.vault.cipher()
            return {cid: cipher.open(KEY_TABLE, cid, kind, value) for cid, value in rows}

    def set_for(self, config_id: int, kind: str, value: str) -> None:
        _check_kind(kind)
        self._legacy_first()
        cipher = self.vault.ensure()
        with self.store.transaction() as conn:  # joins the caller's: the key check and the write are one
            row = conn.execute("SELECT value FROM meta WHERE key = 'vault.key_id'").fetchone()
            if row is not None and row[0] != cipher.key_id:
                # another program re-keyed since this one opened the vault: never write under the old key
                self.vault.reopen_if_rekeyed()
                cipher = self.vault.cipher()
            blob = cipher.seal(KEY_TABLE, config_id, kind, value)
            conn.execute(
                "INSERT INTO config_secret(config_id, field, value) VALUES (?, ?, ?) "
                "ON CONFLICT(config_id, field) DO UPDATE SET value = excluded.value", (config_id, kind, blob))

    def delete_for(self, config_id: int, kind: str) -> None:
        _check_kind(kind)
        self.store.conn.execute("DELETE FROM config_secret WHERE config_id = ? AND field = ?", (config_id, kind))

    def delete_all_for(self, config_id: int) -> None:
        self.store.conn.execute("DELETE FROM config_secret WHERE config_id = ?", (config_id,))

    def count(self) -> int:
        return int(self.store.conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0])


def _check_kind(kind: str) -> None:
    if kind not in SECRET_KINDS:
        raise ValueError(f"unknown secret kind {kind!r}")
