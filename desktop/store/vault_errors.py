"""The vault's errors: what went wrong, in plain words with what to do (never a secret).

Raised by ``desktop.store.vault`` (the data key), ``desktop.store.vault_crypto`` (sealing and key wrapping) and
``desktop.store.vault_secrets`` (the secret store); all are ``SecretStoreError``s.
"""

from __future__ import annotations

from desktop.store.secrets import SecretStoreError


class VaultError(SecretStoreError):
    """A vault problem in plain words (what happened, what to do); never contains a secret."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message} {hint}".strip())
        self.message = message
        self.hint = hint


class VaultLocked(VaultError):
    """The data key is protected by a passphrase that has not been given in this session."""


class WrongPassphrase(VaultError):
    pass


class NoKeyring(VaultError):
    """No usable keyring to create the vault in: a passphrase is needed."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"No usable keyring ({reason}), so Tokendesk cannot keep its data key there.",
            "Protect the secrets with a passphrase instead: 'tokendesk vault passphrase' (or the window's prompt).",
        )
        self.reason = reason


class KeyringGone(VaultError):
    """The keyring that holds the data key cannot be reached (or no longer has the key)."""


class SecretDamaged(VaultError):
    pass


class NotGranted(VaultLocked):
    """Team store: the store's data key cannot be opened by this member (not wrapped for them - no grant yet, one
    for another member, store or key - or damaged). A ``VaultLocked``: commands that need a secret exit 4."""


class MemberKeyMissing(VaultLocked):
    """Team store: this workstation has no member key (X25519 private key) for the store."""
