"""Where this admin's team-store member key (X25519 private key, ``team_keys.py``) lives on this workstation.

``MemberKeyStore(store_id, member)``: one keyring item (service ``tokendesk-member:<store id>``, user
``member-key/<member>``, through ``keyring_access``) when the keyring works; else - a keyring that keeps nothing
(null, fail), or the caller's choice - ``$TOKENDESK_HOME/team/<store id>.member-key`` (0600, directory 0700): JSON
with the key wrapped under a passphrase by ``vault_crypto``'s Argon2id wrapping (bound to store id and member).
The key is in one place: a save empties the other one afterwards (a file save first removes the keyring item,
then puts the new file in place; a ``.new`` file left by a stop in between is still read).

``keyring`` and ``cryptography`` are imported only when used. Qt-free.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from desktop.store.team_keys import KEY_BYTES, REJOIN, checked_private_key, public_text_of
from desktop.store.vault_errors import (
    KeyringGone,
    MemberKeyMissing,
    NoKeyring,
    VaultError,
    VaultLocked,
    WrongPassphrase,
)

logger = logging.getLogger(__name__)

PASSPHRASE_PURPOSE = "member-key"  # what MemberKeyStore.load passes to its passphrase provider
FILE_FORMAT = "tokendesk-member-key"
_STORE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class NoKeyringForMemberKey(NoKeyring):
    """No usable keyring for the member key: give ``MemberKeyStore.save`` a passphrase."""

    def __init__(self, reason: str) -> None:
        VaultError.__init__(self, f"No usable keyring ({reason}), so your member key cannot be kept there.",
                            "Protect it with a passphrase instead (kept in a file in Tokendesk's data directory).")
        self.reason = reason


class MemberKeyStore:
    """This workstation's private key for one team store and member: a keyring item, else a passphrase file.
    Keyring failures are ``KeyringGone``; a keyring that keeps nothing (null, fail) counts as none."""

    def __init__(self, store_id: str, member: str, home: Path | str | None = None) -> None:
        if not _STORE_ID.fullmatch(store_id or ""):
            raise ValueError(f"The team store id {store_id!r} cannot name a file (letters, digits, . _ - only).")
        if home is None:
            from desktop.paths import data_dir

            home = data_dir()
        self.store_id, self.member = store_id, member
        self.path = Path(home) / "team" / f"{store_id}.member-key"
        self._pending = self.path.with_name(self.path.name + ".new")
        self.service, self.user = f"tokendesk-member:{store_id}", f"member-key/{member}"

    def exists(self) -> bool:
        return self._file() is not None or self._from_keyring() is not None

    def location(self) -> str:
        """'keyring', the file's path, or '' (none here); the keyring wins when both hold one, as in ``load``."""
        if self._file() is None:
            return "keyring" if self._from_keyring() is not None else ""
        try:
            return "keyring" if self._from_keyring() is not None else str(self._file())
        except KeyringGone:
            return str(self._file())

    def save(self, private: bytes, passphrase: str | None = None) -> str:
        """Keep ``private`` in the keyring (``passphrase`` None; ``NoKeyringForMemberKey`` without a usable
        keyring) or in the passphrase file, then empty the other place. Returns 'keyring' or the file's path."""
        from desktop.store.keyring_access import KeyringAccess, KeyringUnavailable, probe_keyring

        if not isinstance(private, bytes) or len(private) != KEY_BYTES:
            raise ValueError(f"A member's private key is {KEY_BYTES} raw bytes.")
        if passphrase is None:
            probe = probe_keyring(self.service)
            if not probe.usable:
                raise NoKeyringForMemberKey(probe.reason)
            try:
                KeyringAccess(self.service).set(self.user, base64.b64encode(private).decode("ascii"))
            except KeyringUnavailable as exc:
                raise KeyringGone(str(exc)) from None
            self._remove_files()
            logger.info("member key for team store %s kept in the keyring", self.store_id)
            return "keyring"
        from desktop.store.vault_crypto import check_new_passphrase, derive_kek, new_kdf, wrap_key

        problem = check_new_passphrase(passphrase)
        if problem:
            raise VaultError(f"That passphrase is too weak: {problem}")
        kdf = new_kdf()
        wrapped = wrap_key(derive_kek(passphrase, kdf), private, self.store_id, self.user)
        document = {"format": FILE_FORMAT, "version": 1, "store_id": self.store_id, "member": self.member,
                    "public_key": public_text_of(private), "kdf": kdf,
                    "wrapped_key": base64.b64encode(wrapped).decode("ascii")}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)
        self._pending.unlink(missing_ok=True)
        with os.fdopen(os.open(self._pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(json.dumps(document, indent=1).encode())
            handle.flush()
            os.fsync(handle.fileno())
        try:  # one place only: the keyring's copy goes before the new file takes its place
            self._delete_from_keyring()
        except KeyringGone:
            self._pending.unlink(missing_ok=True)
            raise
        os.replace(self._pending, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        logger.info("member key for team store %s kept in a passphrase file", self.store_id)
        return str(self.path)

    def load(self, passphrase_provider: Callable[[str], str | None] | None = None) -> bytes:
        """The private key; the provider is asked (with ``PASSPHRASE_PURPOSE``) only for the passphrase file."""
        try:
            text = self._from_keyring()
        except KeyringGone as exc:
            if self._file() is None:
                raise KeyringGone(f"Your member key for the team store {self.store_id} may be in the keyring, "
                                  "which cannot be read now.", str(exc)) from None
            text = None
        if text is not None:
            try:
                return checked_private_key(base64.b64decode(text, validate=True))
            except ValueError:
                return checked_private_key(b"")
        path = self._file()
        if path is None:
            raise MemberKeyMissing(
                f"This workstation has no member key for the team store {self.store_id} (member {self.member}).",
                "Run 'tokendesk store join URL' to make one, then ask a member to grant you access.")
        return self._load_file(path, passphrase_provider)

    def delete(self) -> None:
        """Remove the key from both places (the keyring first: when it cannot be reached, nothing changes)."""
        self._delete_from_keyring()
        self._remove_files()

    def _file(self) -> Path | None:
        """The key file; a ``.new`` one left by a save that stopped after emptying the keyring counts."""
        return next((p for p in (self.path, self._pending) if p.exists()), None)

    def _remove_files(self) -> None:
        for path in (self.path, self._pending):
            path.unlink(missing_ok=True)

    def _keyring(self):  # noqa: ANN202 - KeyringAccess, or None when there is no usable keyring at all
        from desktop.store.keyring_access import KeyringAccess, KeyringUnavailable, _useless_reason

        access = KeyringAccess(self.service)
        try:
            return None if _useless_reason(access.backend) else access
        except KeyringUnavailable:  # keyring not loadable at all: nothing can be in it
            return None

    def _from_keyring(self) -> str | None:
        from desktop.store.keyring_access import KeyringUnavailable

        access = self._keyring()
        try:
            return access.get(self.user) if access else None
        except KeyringUnavailable as exc:
            raise KeyringGone(str(exc)) from None

    def _delete_from_keyring(self) -> None:
        from desktop.store.keyring_access import KeyringUnavailable

        access = self._keyring()
        try:
            if access is not None:
                access.delete(self.user)
        except KeyringUnavailable as exc:
            raise KeyringGone("Your member key in the keyring could not be removed, so nothing was changed.",
                              str(exc)) from None

    def _load_file(self, path: Path, passphrase_provider: Callable[[str], str | None] | None) -> bytes:
        from desktop.store.vault_crypto import derive_kek, unwrap_key

        damaged = VaultError(f"Your member key file {path} is damaged.", f"Restore it from a backup, or {REJOIN}")
        try:
            document = json.loads(path.read_bytes())
            kdf, wrapped = dict(document["kdf"]), base64.b64decode(document["wrapped_key"], validate=True)
            owner = {"team store": (str(document["store_id"]), self.store_id),
                     "member": (str(document["member"]), self.member)}
        except (OSError, ValueError, KeyError, TypeError):
            raise damaged from None
        for what, (found, wanted) in owner.items():
            if found != wanted:
                raise VaultError(f"The member key file {path} belongs to the {what} {found}, not {wanted}.",
                                 f"Put the right file back, or {REJOIN}")
        passphrase = passphrase_provider(PASSPHRASE_PURPOSE) if passphrase_provider is not None else None
        if passphrase is None:
            raise VaultLocked(f"Your member key for the team store {self.store_id} is protected by a passphrase "
                              "that has not been given.", "Run the command in a terminal, or unlock it in the window.")
        try:
            kek = derive_kek(passphrase, kdf)
        except (KeyError, TypeError, ValueError):
            raise damaged from None
        try:
            private = unwrap_key(kek, wrapped, self.store_id, self.user)
        except WrongPassphrase:
            raise WrongPassphrase(f"The passphrase of your member key for the team store {self.store_id} is wrong.",
                                  "Try again (it is case-sensitive).") from None
        return checked_private_key(private)
