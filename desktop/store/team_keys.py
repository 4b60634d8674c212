"""The team store's member keys (issue 11, point 3): the store's data key wrapped for each member, end to end.

* A member's X25519 key pair: ``generate_member_key``; the public key (base64) is registered in the store and
  ``public_key_fingerprint`` is its short form to compare by phone. The private key stays on the member's
  workstation, in ``MemberKeyStore`` (``team_key_store.py``; importable from here too): one keyring item, else a
  passphrase file.
* ``wrap_data_key``: an ephemeral X25519 agreement with the member's public key, HKDF-SHA256 (salt: ephemeral
  public || member public) into an AES-256-GCM key; the associated data binds store id, member and key id, so a
  wrapped key copied to another member, store or key id does not open (``NotGranted``). Blob: ``0x01 | ephemeral
  public (32) | nonce (12) | ciphertext + tag (48)``. The server only ever holds public keys and these blobs.

``cryptography`` is imported only when a key is used. Qt-free.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from desktop.store.vault_errors import NotGranted, VaultError

WRAP_VERSION = 1
WRAP_INFO = b"tokendesk team wrap v1"
KEY_BYTES, NONCE_BYTES = 32, 12
BLOB_BYTES = 1 + KEY_BYTES + NONCE_BYTES + KEY_BYTES + 16
REJOIN = "make a new member key with 'tokendesk store join URL' and ask a member to grant you access again."


class BadPublicKey(ValueError):
    """A member's public key that cannot be used (not base64, wrong length, a degenerate point)."""

    def __init__(self, member: str, problem: str) -> None:
        who, whom = (f"of the member {member!r} ", member) if member else ("", "the member")
        super().__init__(f"The public key {who}is not valid: {problem}. Ask {whom} to run 'tokendesk store join' "
                         "again, then compare the fingerprint.")
        self.member = member


@dataclass(frozen=True)
class MemberKeyPair:
    private: bytes = field(repr=False)
    public: bytes

    @property
    def public_text(self) -> str:
        return base64.b64encode(self.public).decode("ascii")


def generate_member_key() -> MemberKeyPair:
    private = os.urandom(KEY_BYTES)  # any 32 bytes are an X25519 private key (clamped when used)
    return MemberKeyPair(private, _public_raw(_private_key(private)))


def checked_private_key(private: bytes) -> bytes:
    """``private`` when it is a raw X25519 private key, else a ``VaultError`` saying the member key is damaged."""
    _private_key(private)
    return bytes(private)


def public_text_of(private: bytes) -> str:
    """The base64 public key of a raw private key (to check a loaded key against the registered one)."""
    return base64.b64encode(_public_raw(_private_key(private))).decode("ascii")


def public_key_fingerprint(public_text: str) -> str:
    """SHA-256 of the raw public key, its first 20 hex digits in groups of 4: ``'1a2b 3c4d 5e6f 7081 92a3'``."""
    raw = _public_bytes(public_text, "")
    _agree(os.urandom(KEY_BYTES), raw, "")  # refuses a degenerate point
    digest = hashlib.sha256(raw).hexdigest()[:20]
    return " ".join(digest[i:i + 4] for i in range(0, 20, 4))


def wrap_data_key(data_key: bytes, member_public_text: str, *, store_id: str, member: str, key_id: str) -> bytes:
    """The data key sealed for ``member``; ``BadPublicKey`` (a ValueError) for an unusable public key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(data_key) != KEY_BYTES:
        raise ValueError(f"The data key to wrap is {len(data_key)} bytes, not {KEY_BYTES} bytes.")
    ephemeral_public, aead_key = _agree(os.urandom(KEY_BYTES), _public_bytes(member_public_text, member), member)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(aead_key).encrypt(nonce, data_key, _associated_data(store_id, member, key_id))
    return bytes([WRAP_VERSION]) + ephemeral_public + nonce + sealed


def unwrap_data_key(blob: bytes, private: bytes, *, store_id: str, member: str, key_id: str) -> bytes:
    """The data key; ``NotGranted`` when ``blob`` was not wrapped for this member, store and key id, or is damaged;
    ``VaultError`` for a damaged private key."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, blob = _private_key(private), bytes(blob)
    if len(blob) != BLOB_BYTES or blob[0] != WRAP_VERSION:
        raise _not_granted(store_id, member, key_id, " (or made by a newer Tokendesk)" if blob[:1] > b"\x01" else "")
    ephemeral_public, nonce, sealed = blob[1:33], blob[33:45], blob[45:]
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        aead_key = _hkdf(shared, ephemeral_public, _public_raw(key))
        return AESGCM(aead_key).decrypt(nonce, sealed, _associated_data(store_id, member, key_id))
    except (InvalidTag, ValueError):
        raise _not_granted(store_id, member, key_id) from None


# ---- helpers
def _associated_data(store_id: str, member: str, key_id: str) -> bytes:
    return json.dumps([WRAP_INFO.decode(), store_id, member, key_id]).encode()  # unambiguous, whatever the names


def _not_granted(store_id: str, member: str, key_id: str, extra: str = "") -> NotGranted:
    return NotGranted(f"The data key {key_id} of the team store {store_id} was not wrapped for you ({member}) or "
                      f"is damaged{extra}.", f"Ask a member to grant you access again: tokendesk store grant {member}")


def _private_key(private: bytes):  # noqa: ANN202 - X25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    if not isinstance(private, bytes | bytearray) or len(private) != KEY_BYTES:
        raise VaultError("Your member key on this workstation is damaged (not a 32-byte X25519 key).",
                         f"Restore it from a backup, or {REJOIN}")
    return X25519PrivateKey.from_private_bytes(bytes(private))


def _public_raw(key) -> bytes:  # noqa: ANN001 - an X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _public_bytes(public_text: str, member: str) -> bytes:
    text = (public_text or "").strip()
    if not text:
        raise BadPublicKey(member, "it is empty")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise BadPublicKey(member, "it is not base64 text") from None
    if len(raw) != KEY_BYTES:
        raise BadPublicKey(member, f"it is {len(raw)} bytes, not {KEY_BYTES}")
    return raw


def _agree(private: bytes, recipient: bytes, member: str) -> tuple[bytes, bytes]:
    """(the public key of ``private``, the AES key agreed with ``recipient``); ``BadPublicKey`` for a degenerate
    point (no shared secret)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    key = _private_key(private)
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(recipient))
    except ValueError:
        raise BadPublicKey(member, "it is not a usable X25519 key (a degenerate point)") from None
    own = _public_raw(key)
    return own, _hkdf(shared, own, recipient)


def _hkdf(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=ephemeral_public + recipient_public,
                info=WRAP_INFO).derive(shared)


def __getattr__(name: str) -> Any:  # PEP 562: the key's storage lives in team_key_store.py (imports this module)
    if name in ("MemberKeyStore", "NoKeyringForMemberKey"):
        from desktop.store import team_key_store

        return getattr(team_key_store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
