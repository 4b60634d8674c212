"""The vault: every secret encrypted in the store under one data key, committed with its state.

Design (the one of Chromium's and Electron's "safe storage"; ARCHITECTURE.md has the trade-offs):

* One random 256-bit **data key** per store. It lives in exactly one place, never in clear on disk:
  - *keyring mode*: one OS keyring item (``desktop.store.keyring_access``), service
    ``tokendesk:<store id>``, user ``vault-data-key/<key id>``;
  - *passphrase mode* (no usable keyring, or the admin's choice): wrapped (AES-256-GCM) with a key
    derived from a passphrase by Argon2id (RFC 9106's second recommendation: t=3, 64 MiB, p=4; the
    parameters and salt are stored beside the wrapped key).
* Every secret (client secret, access token, refresh token, and any later one) is a row of
  ``config_secret``: ``0x01 | 12-byte random nonce | AES-256-GCM ciphertext+tag``. The associated data
  binds it to its store, table, row, field and key id, so a ciphertext copied to another row, field or
  store does not decrypt. A secret is written on the same SQLite connection, in the same transaction,
  as the state it belongs to: a rotated refresh token, the access token and the expiry commit together
  or not at all.
* ``meta`` holds the vault's description (``vault.*``): mode, key id, a check value (the key id sealed
  under the key: a wrong key or passphrase is recognised as such), the wrapped key and KDF parameters,
  the remembered keyring backend and why this mode was chosen.
* Changes of the key itself (create, rekey, passphrase, move between keyring and passphrase) are each
  one database transaction, under a lock across processes. A new key reaches the keyring *before* the
  transaction commits; its id is first noted in a small file beside the locks, so a crash in between
  leaves no orphan: the next open deletes keyring items whose ids were noted but never committed.
  An old key's item is deleted only after the commit.
* Stores written by schema 5 and earlier (secrets as keyring items, or the plain fallback table) are
  moved in by ``desktop.store.legacy`` when the vault is first opened: one transaction, old keyring
  items deleted after the commit; a killed migration runs again next time.

Where the parts live: this module is the data key (``Vault``: created, opened, re-keyed, moved; ``VaultInfo``:
the ``vault.*`` meta keys); ``vault_crypto`` seals secrets and wraps the key with a passphrase; ``vault_secrets``
is the ``SecretStore`` over ``config_secret``; ``vault_errors`` holds the errors.

Qt-free; used by the GUI (which asks for a passphrase in a dialog) and the CLI (terminal prompt).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from desktop.store import filelock
from desktop.store.keyring_access import KeyringAccess, KeyringUnavailable, probe_keyring, service_name
from desktop.store.vault_crypto import (
    KEY_BYTES,
    KEY_TABLE,
    Cipher,
    check_new_passphrase,
    derive_kek,
    new_kdf,
    unwrap_key,
    wrap_key,
)
from desktop.store.vault_errors import (
    KeyringGone,
    NoKeyring,
    SecretDamaged,
    VaultError,
    VaultLocked,
    WrongPassphrase,
)

if TYPE_CHECKING:
    from desktop.store.repository import Store

logger = logging.getLogger(__name__)

MODE_KEYRING = "keyring"
MODE_PASSPHRASE = "passphrase"
MODE_TEAM = "team"  # the team store: the key wrapped for each member (desktop/store/team.py)

_META = "vault."


def key_user(key_id: str) -> str:
    return f"vault-data-key/{key_id}"


# ---- what the store says about its vault
class VaultInfo(NamedTuple):  # read at every start: a NamedTuple is ~7x quicker to define than a dataclass
    mode: str = ""  # '' (not created yet), MODE_KEYRING, MODE_PASSPHRASE
    key_id: str = ""
    check: bytes = b""
    wrapped_key: bytes = b""
    kdf: Mapping[str, Any] = MappingProxyType({})
    backend: str = ""  # the keyring backend class that holds the key (keyring mode)
    backend_name: str = ""
    reason: str = ""  # why this mode
    created_at: str = ""
    rekeyed_at: str = ""
    legacy: bool = False  # secrets of schema 5 still wait in the keyring / fallback table
    legacy_cleanup: tuple[int, ...] = ()  # config ids whose old keyring items may remain

    @classmethod
    def read(cls, conn: Any) -> VaultInfo:
        values = {k[len(_META):]: v for k, v in conn.execute("SELECT key, value FROM meta WHERE key LIKE 'vault.%'")}
        return cls(
            mode=values.get("mode", ""),
            key_id=values.get("key_id", ""),
            check=base64.b64decode(values.get("check", "")),
            wrapped_key=base64.b64decode(values.get("wrapped_key", "")),
            kdf=json.loads(values.get("kdf", "{}")),
            backend=values.get("keyring_backend", ""),
            backend_name=values.get("keyring_backend_name", ""),
            reason=values.get("reason", ""),
            created_at=values.get("created_at", ""),
            rekeyed_at=values.get("rekeyed_at", ""),
            legacy=values.get("legacy") == "1",
            legacy_cleanup=tuple(json.loads(values.get("legacy_cleanup", "[]"))),
        )


def _write_meta(conn: Any, values: dict[str, str | bytes | None]) -> None:
    """Set (or, for None, delete) ``vault.*`` keys; bytes are stored base64."""
    for key, value in values.items():
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (_META + key,))
            continue
        text = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (_META + key, text))


def reseal_all(conn: Any, old: Cipher, new: Cipher) -> int:
    """Every ``config_secret`` row opened with ``old`` and sealed again with ``new`` (in the caller's
    transaction); how many."""
    count = 0
    for config_id, field_name, value in conn.execute("SELECT config_id, field, value FROM config_secret").fetchall():
        plain = old.open(KEY_TABLE, config_id, field_name, value)
        conn.execute("UPDATE config_secret SET value = ? WHERE config_id = ? AND field = ?",
                     (new.seal(KEY_TABLE, config_id, field_name, plain), config_id, field_name))
        count += 1
    return count


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: asks the admin: ``purpose`` is "unlock" (the current passphrase) or "new" (choose one); None = cancelled
PassphraseProvider = Callable[[str], "str | None"]
#: the key a running Tokendesk window has open: (key id, key) or None (see desktop.agent)
AgentKeySource = Callable[[], "tuple[str, bytes] | None"]


def _lock_timed_out(_by_other: bool) -> VaultError:
    return VaultError("Another Tokendesk program is changing the vault right now.", "Wait a moment and try again.")


class Vault:
    """The data key of one store: opening it, and every change of it. Thread-safe."""

    LOCK_TIMEOUT = 60.0

    def __init__(self, store: Store, *, passphrase_provider: PassphraseProvider | None = None,
                 agent_key: AgentKeySource | None = None) -> None:
        self.store = store
        self.passphrase_provider = passphrase_provider
        self.agent_key = agent_key
        self._cipher: Cipher | None = None
        self._kek: tuple[str, bytes] | None = None  # (salt, key-encryption key) after a passphrase unlock
        self._lock = threading.RLock()
        self._keyring: KeyringAccess | None = None
        self._legacy_checked = False

    @property
    def store_id(self) -> str:
        return self.store.store_id

    # ---- state
    def info(self) -> VaultInfo:
        if not self.store.reached:  # a team store before its first connection (the window's start): its vault is
            return VaultInfo(mode=MODE_TEAM)  # the team's; what else it says is read once the store answers
        return VaultInfo.read(self.store.conn)

    @property
    def is_open(self) -> bool:
        return self._cipher is not None

    @property
    def key_id(self) -> str:
        return self._cipher.key_id if self._cipher else ""

    def keyring(self, info: VaultInfo | None = None) -> KeyringAccess:
        info = info or self.info()
        if self._keyring is None or self._keyring.remembered != info.backend:
            self._keyring = KeyringAccess(service_name(self.store_id), info.backend)
        return self._keyring

    def _exclusive(self):  # noqa: ANN202 - a context manager
        return filelock.exclusive(f"vault-{self.store_id}", self.LOCK_TIMEOUT, _lock_timed_out)

    # ---- pending keyring items (a new key reaches the keyring before its transaction commits)
    def _pending_path(self) -> str:
        return filelock.lock_path(f"vault-{self.store_id}").removesuffix(".lock") + ".pending"

    def _note_pending(self, key_id: str) -> None:
        with open(self._pending_path(), "a", encoding="ascii") as fh:
            fh.write(key_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _clear_pending(self) -> None:
        try:
            os.unlink(self._pending_path())
        except FileNotFoundError:
            pass

    def _clean_pending(self, info: VaultInfo) -> None:
        """Delete keyring items of keys that were written but never committed (a crash in between)."""
        try:
            with open(self._pending_path(), encoding="ascii") as fh:
                noted = {line.strip() for line in fh if line.strip()}
        except FileNotFoundError:
            return
        for key_id in noted - {info.key_id}:
            try:
                self.keyring(info).delete(key_user(key_id))
                logger.info("vault: removed the keyring item of a key that was never committed")
            except KeyringUnavailable:
                return  # try again next time
        self._clear_pending()

    # ---- opening
    def cipher(self) -> Cipher:
        """The open cipher; opens (or, for a store of an earlier version, creates and migrates) the vault."""
        if self._cipher is not None:
            return self._cipher
        with self._lock:
            if self._cipher is None:
                self.open()
            assert self._cipher is not None
            return self._cipher

    def open(self, passphrase: str | None = None) -> None:
        """Open the existing vault (or create it for a store that still has schema-5 secrets)."""
        with self._lock:
            info = self.info()
            if not info.mode:
                if not info.legacy:
                    raise VaultError("No secret has been stored yet, so there is no vault to open.")
                self.create(passphrase)
                return
            key = self._key_from_agent(info)
            if key is None and info.mode == MODE_KEYRING:
                key = self._key_from_keyring(info)
            elif key is None and info.mode == MODE_TEAM:
                from desktop.store import team

                key = team.data_key(self.store, info.key_id, self.passphrase_provider)
            elif key is None:
                key = self._key_from_passphrase(info, passphrase)
            self._install(Cipher(key, self.store_id, info.key_id), info)
            if info.mode == MODE_KEYRING:
                self._clean_pending(info)
            if info.legacy_cleanup:
                self._finish_legacy_cleanup()

    def _key_from_agent(self, info: VaultInfo) -> bytes | None:
        if self.agent_key is None:
            return None
        try:
            answer = self.agent_key()
        except Exception:  # a window that does not answer is no window
            logger.debug("the window did not give the vault key", exc_info=True)
            return None
        if answer is None or answer[0] != info.key_id:
            return None
        return answer[1]

    def _key_from_keyring(self, info: VaultInfo) -> bytes:
        access = self.keyring(info)
        try:
            text = access.get(key_user(info.key_id))
        except KeyringUnavailable as exc:
            raise KeyringGone(str(exc)) from None
        if text is None:
            raise KeyringGone(
                f"Tokendesk's data key is not in the keyring ({access.name}): the item was deleted, or this is "
                "another keyring than the one that made the vault.",
                "Restore the keyring, or start a new vault: move the database away and import a backup.",
            )
        if access.path and access.path != info.backend:
            self._remember_backend(access)
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise KeyringGone("Tokendesk's data key in the keyring is damaged.",
                              "Restore the keyring item, or import a backup into a new store.") from None

    def _remember_backend(self, access: KeyringAccess) -> None:
        try:
            with self.store.transaction() as conn:
                _write_meta(conn, {"keyring_backend": access.path, "keyring_backend_name": access.name})
        except Exception:  # only a start-up shortcut: not worth failing for
            logger.debug("could not remember the keyring backend", exc_info=True)

    def _ask(self, purpose: str) -> str:
        passphrase = self.passphrase_provider(purpose) if self.passphrase_provider is not None else None
        if passphrase is None:
            raise VaultLocked(
                "Tokendesk's secrets are protected by a passphrase that has not been given.",
                "Unlock them in the Tokendesk window (which then answers for commands), run the command in a "
                "terminal, or name a file that holds the passphrase in TOKENDESK_PASSPHRASE_FILE.",
            )
        return passphrase

    def _key_from_passphrase(self, info: VaultInfo, passphrase: str | None) -> bytes:
        salt = str(info.kdf.get("salt", ""))
        if passphrase is None:
            key = self._key_from_kek(info)
            if key is not None:
                return key
            passphrase = self._ask("unlock")
            key = self._key_from_kek(info)  # a dialog that checked the passphrase has derived it already
            if key is not None:
                return key
        kek = derive_kek(passphrase, info.kdf)
        key = unwrap_key(kek, info.wrapped_key, self.store_id, info.key_id)
        self._kek = (salt, kek)
        return key

    def _key_from_kek(self, info: VaultInfo) -> bytes | None:
        kek = self._kek
        if kek is None or kek[0] != info.kdf.get("salt"):
            return None
        try:
            return unwrap_key(kek[1], info.wrapped_key, self.store_id, info.key_id)
        except WrongPassphrase:
            return None

    def check_passphrase(self, passphrase: str) -> str:
        """'' when ``passphrase`` opens the vault (its derived key is kept for the opening), else what is
        wrong. Takes no lock: a dialog may call it while a worker waits in ``open`` for the answer."""
        info = self.info()
        if info.mode != MODE_PASSPHRASE:
            return "The vault is not protected by a passphrase."
        try:
            kek = derive_kek(passphrase, info.kdf)
            unwrap_key(kek, info.wrapped_key, self.store_id, info.key_id)
        except VaultError as exc:
            return str(exc)
        self._kek = (str(info.kdf.get("salt", "")), kek)
        return ""

    def _install(self, cipher: Cipher, info: VaultInfo) -> None:
        try:
            checked = cipher.open("vault", 0, "check", info.check)
        except SecretDamaged:
            checked = ""
        if checked != info.key_id:
            raise KeyringGone(
                "The data key found does not belong to this store's vault.",
                "Another store's key may have replaced it. Restore the keyring item, or import a backup.",
            )
        self._cipher = cipher

    def install_cipher(self, cipher: Cipher) -> None:
        """Use ``cipher`` from now on (a team re-key this process committed)."""
        with self._lock:
            self._cipher = cipher

    def lock(self) -> None:
        """Forget the key and the passphrase's derived key (the next use opens the vault again)."""
        with self._lock:
            self._cipher = None
            self._kek = None

    def reopen_if_rekeyed(self) -> bool:
        """After a decryption failure: True when another program changed the key (and it is open again)."""
        with self._lock:
            info = self.info()
            if self._cipher is not None and info.key_id == self._cipher.key_id:
                return False
            self._cipher = None
            self.open()
            return True

    # ---- creating
    def create(self, passphrase: str | None = None, *, reason: str = "") -> None:
        """Make the vault: in the keyring when a probe says it works, else with ``passphrase`` (asked when
        None). Moves a schema-5 store's secrets in, in the same transaction. Nothing happens when another
        program made it meanwhile (then it is opened)."""
        with self._lock, self._exclusive():
            self._create_locked(passphrase, reason)

    def _create_locked(self, passphrase: str | None, reason: str) -> None:
        from desktop.store import legacy

        info = self.info()
        if info.mode:
            self.open(passphrase)
            return
        if self.store.is_team:
            raise VaultError(f"The team store {self.store.location} has no vault yet.",
                             "Set it up first: 'tokendesk store init URL'.")
        if self.store.conn.in_transaction:
            # the keyring item and the cipher would outlive a rollback of the caller's transaction
            raise VaultError("Internal error: the vault must be made before a change that stores a secret starts.",
                             "Please report this; nothing was changed.")
        self._clean_pending(info)  # keys of an earlier attempt that never committed
        key, key_id = os.urandom(KEY_BYTES), os.urandom(8).hex()
        cipher = Cipher(key, self.store_id, key_id)
        old = legacy.read_legacy_secrets(self.store) if info.legacy else None
        meta: dict[str, str | bytes | None] = {"key_id": key_id, "check": cipher.seal("vault", 0, "check", key_id),
                                               "created_at": _now()}
        kek: tuple[str, bytes] | None = None
        if passphrase is None:
            probe = probe_keyring(service_name(self.store_id))
            if not probe.usable:
                passphrase = self.passphrase_provider("new") if self.passphrase_provider else None
                if passphrase is None:
                    raise NoKeyring(probe.reason)
                reason = reason or f"no usable keyring: {probe.reason}"
            else:
                access = KeyringAccess(service_name(self.store_id))
                self._note_pending(key_id)
                try:
                    access.set(key_user(key_id), base64.b64encode(key).decode("ascii"))
                except KeyringUnavailable as exc:
                    raise KeyringGone(str(exc)) from None
                meta.update(mode=MODE_KEYRING, keyring_backend=access.path, keyring_backend_name=access.name,
                            reason=reason or f"system keyring ({probe.backend})")
        if passphrase is not None:
            problem = check_new_passphrase(passphrase)
            if problem:
                raise VaultError(f"That passphrase is too weak: {problem}")
            kdf = new_kdf()
            kek = (kdf["salt"], derive_kek(passphrase, kdf))
            meta.update(mode=MODE_PASSPHRASE, wrapped_key=wrap_key(kek[1], key, self.store_id, key_id),
                        kdf=json.dumps(kdf), reason=reason or "chosen by the admin")
        with self.store.transaction() as conn:
            if VaultInfo.read(conn).mode:  # cannot happen under the lock, unless the lock file was removed
                raise VaultError("Another program created the vault at the same moment.", "Try again.")
            _write_meta(conn, meta)
            if old is not None:
                legacy.move_in(conn, cipher, old)
        self._clear_pending()
        self._cipher, self._kek = cipher, kek
        logger.info("vault created (%s mode)", meta["mode"])
        if old is not None:
            if old.had_plain_rows:
                # the plain rows were zeroed (secure_delete); older copies of their pages may still sit in the
                # write-ahead log: copy it into the database and empty it
                self.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._finish_legacy_cleanup()

    def _finish_legacy_cleanup(self) -> None:
        from desktop.store import legacy

        legacy.delete_old_items(self.store, self.keyring())

    def ensure(self) -> Cipher:
        """The cipher, creating the vault when none exists yet (the first secret to store). Call it before
        a transaction that stores a secret (``SecretStore.prepare_write``): creating one cannot join it."""
        if self._cipher is not None:
            return self._cipher
        with self._lock:
            if self._cipher is None:
                if self.info().mode:
                    self.open()
                else:
                    self.create()
            assert self._cipher is not None
            return self._cipher

    # ---- changing the key or where it lives (each one transaction)
    def rekey(self) -> int:
        """Re-encrypt every secret under a new data key; returns how many. The old key is gone afterwards."""
        if self.info().mode == MODE_TEAM:
            from desktop.store import team

            return team.rekey(self.store, self)
        old_cipher = self.cipher()  # before the lock: opening may create the vault, which takes it
        with self._lock, self._exclusive():
            info = self.info()
            if info.key_id != old_cipher.key_id:
                raise VaultError("Another program changed the vault's key a moment ago.", "Try again.")
            key, key_id = os.urandom(KEY_BYTES), os.urandom(8).hex()
            cipher = Cipher(key, self.store_id, key_id)
            meta: dict[str, str | bytes | None] = {"key_id": key_id, "check": cipher.seal("vault", 0, "check", key_id),
                                                   "rekeyed_at": _now()}
            access = None
            if info.mode == MODE_KEYRING:
                access = self.keyring(info)
                self._note_pending(key_id)
                try:
                    access.set(key_user(key_id), base64.b64encode(key).decode("ascii"))
                except KeyringUnavailable as exc:
                    raise KeyringGone(str(exc)) from None
            else:
                if self._kek is None or self._kek[0] != info.kdf.get("salt"):
                    self._key_from_passphrase(info, None)
                assert self._kek is not None
                meta["wrapped_key"] = wrap_key(self._kek[1], key, self.store_id, key_id)
            with self.store.transaction() as conn:
                count = reseal_all(conn, old_cipher, cipher)
                _write_meta(conn, meta)
            self._cipher = cipher
            if access is not None:
                try:
                    access.delete(key_user(info.key_id))
                except KeyringUnavailable:
                    logger.warning("vault: the old data key's keyring item could not be deleted")
                self._clear_pending()
            logger.info("vault re-keyed: %d secrets re-encrypted", count)
            return count

    def use_passphrase(self, new_passphrase: str, *, reason: str = "chosen by the admin") -> None:
        """Protect the data key with ``new_passphrase`` (from keyring mode: moves it out of the keyring; in
        passphrase mode: changes the passphrase). The secrets themselves are not touched."""
        problem = check_new_passphrase(new_passphrase)
        if problem:
            raise VaultError(f"That passphrase is too weak: {problem}")
        with self._lock, self._exclusive():
            info = self.info()
            if not info.mode:
                self._create_locked(new_passphrase, reason)
                return
            cipher = self.cipher()
            kdf = new_kdf()
            kek = derive_kek(new_passphrase, kdf)
            with self.store.transaction() as conn:
                _write_meta(conn, {"mode": MODE_PASSPHRASE, "kdf": json.dumps(kdf), "reason": reason,
                                   "wrapped_key": wrap_key(kek, cipher.key, self.store_id, cipher.key_id),
                                   "keyring_backend": None, "keyring_backend_name": None})
            self._kek = (kdf["salt"], kek)
            if info.mode == MODE_KEYRING:
                try:
                    self.keyring(info).delete(key_user(info.key_id))
                except KeyringUnavailable:
                    logger.warning("vault: the data key's keyring item could not be deleted after the move")
            logger.info("vault: data key now protected by a passphrase")

    def use_keyring(self) -> str:
        """Move the data key into the OS keyring (passphrase mode off). Returns the backend's name."""
        with self._lock, self._exclusive():
            info = self.info()
            probe = probe_keyring(service_name(self.store_id))
            if not probe.usable:
                raise NoKeyring(probe.reason)
            if not info.mode:
                self._create_locked(None, f"system keyring ({probe.backend})")
                return probe.backend
            cipher = self.cipher()
            access = KeyringAccess(service_name(self.store_id))
            self._note_pending(cipher.key_id)
            try:
                access.set(key_user(cipher.key_id), base64.b64encode(cipher.key).decode("ascii"))
            except KeyringUnavailable as exc:
                raise KeyringGone(str(exc)) from None
            with self.store.transaction() as conn:
                _write_meta(conn, {"mode": MODE_KEYRING, "kdf": None, "wrapped_key": None,
                                   "keyring_backend": access.path, "keyring_backend_name": access.name,
                                   "reason": f"system keyring ({probe.backend})"})
            self._clear_pending()
            self._kek = None
            self._keyring = None
            logger.info("vault: data key moved into the keyring (%s)", probe.backend)
            return probe.backend
