"""The vault's cryptography: sealing a secret under the data key, and wrapping the key with a passphrase.

* A sealed secret is ``0x01 | 12-byte random nonce | AES-256-GCM ciphertext+tag``; the associated data binds it
  to its store, key id, table, row and field, so a ciphertext copied to another row, field or store (or one of an
  old key) does not decrypt (``SecretDamaged``).
* Passphrase mode wraps the data key (AES-256-GCM) under a key derived from the passphrase by Argon2id
  (``DEFAULT_KDF``: RFC 9106's second recommendation, t=3, 64 MiB, p=4; scrypt is still read).

``cryptography`` is imported only when a key is used. Qt-free.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from desktop.store.vault_errors import SecretDamaged, VaultError, WrongPassphrase

BLOB_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_TABLE = "token_config"  # the owner table of config_secret rows (associated data)

#: Argon2id parameters for new passphrases (RFC 9106, section 4, second recommended option)
DEFAULT_KDF = {"alg": "argon2id", "iterations": 3, "memory_kib": 64 * 1024, "lanes": 4}
MIN_PASSPHRASE_LENGTH = 8


# ---- the cipher
def associated_data(store_id: str, key_id: str, table: str, row_id: int, field_name: str) -> bytes:
    return f"tokendesk-vault/1|{store_id}|{key_id}|{table}|{row_id}|{field_name}".encode()


class Cipher:
    """AES-256-GCM under one data key, bound to one store and key id."""

    def __init__(self, key: bytes, store_id: str, key_id: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != KEY_BYTES:
            raise VaultError("The data key has the wrong length; the vault's key item is damaged.")
        self._aead = AESGCM(key)
        self._key = key
        self.store_id = store_id
        self.key_id = key_id

    def seal(self, table: str, row_id: int, field_name: str, plaintext: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        ad = associated_data(self.store_id, self.key_id, table, row_id, field_name)
        return bytes([BLOB_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), ad)

    def open(self, table: str, row_id: int, field_name: str, blob: bytes) -> str:
        """The plaintext; raises ``SecretDamaged`` when ``blob`` was not sealed for this place and key."""
        from cryptography.exceptions import InvalidTag

        blob = bytes(blob)
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != BLOB_VERSION:
            raise SecretDamaged(f"The stored {field_name} of configuration {row_id} is not a vault value.")
        nonce, body = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        ad = associated_data(self.store_id, self.key_id, table, row_id, field_name)
        try:
            return self._aead.decrypt(nonce, body, ad).decode("utf-8")
        except InvalidTag:
            raise SecretDamaged(
                f"The stored {field_name} of configuration {row_id} does not decrypt: it belongs to another "
                "row, field or store, or was damaged.",
                "Enter it again (Edit, or request a new token).",
            ) from None

    @property
    def key(self) -> bytes:
        return self._key


# ---- passphrase key wrapping
def new_kdf() -> dict[str, Any]:
    return dict(DEFAULT_KDF, salt=base64.b64encode(os.urandom(16)).decode("ascii"))


def derive_kek(passphrase: str, kdf: dict[str, Any]) -> bytes:
    if kdf.get("alg") == "argon2id":
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        return Argon2id(salt=base64.b64decode(kdf["salt"]), length=KEY_BYTES, iterations=int(kdf["iterations"]),
                        lanes=int(kdf["lanes"]), memory_cost=int(kdf["memory_kib"])).derive(passphrase.encode())
    if kdf.get("alg") == "scrypt":
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=base64.b64decode(kdf["salt"]), length=KEY_BYTES, n=int(kdf["n"]), r=int(kdf["r"]),
                      p=int(kdf["p"])).derive(passphrase.encode())
    raise VaultError(f"The vault's passphrase uses an unknown key derivation ({kdf.get('alg')!r}).",
                     "Update Tokendesk.")


def wrap_key(kek: bytes, key: bytes, store_id: str, key_id: str) -> bytes:
    return Cipher(kek, store_id, key_id).seal("vault", 0, "data_key", base64.b64encode(key).decode("ascii"))


def unwrap_key(kek: bytes, wrapped: bytes, store_id: str, key_id: str) -> bytes:
    try:
        text = Cipher(kek, store_id, key_id).open("vault", 0, "data_key", wrapped)
    except SecretDamaged:
        raise WrongPassphrase("The passphrase is wrong.", "Try again (it is case-sensitive).") from None
    return base64.b64decode(text)


def check_new_passphrase(passphrase: str) -> str:
    """'' when acceptable, else what is wrong with it."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return f"Use at least {MIN_PASSPHRASE_LENGTH} characters."
    if not passphrase.strip():
        return "The passphrase cannot be only spaces."
    return ""
