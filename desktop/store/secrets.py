"""The secret store interface: client secrets, access and refresh tokens of configurations.

Since schema 6 the one implementation is ``desktop.store.vault_secrets.VaultSecrets``: every secret sealed
with the store's data key in the database, written in the caller's transaction. ``MemorySecrets``
is for tests and benchmarks that need no store.

No secret value ever appears in a log line or an exception message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from desktop.store.keyring_access import KeyringProbe, probe_keyring  # noqa: F401  (doctor, tests)

CLIENT_SECRET = "client_secret"
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
SECRET_KINDS = (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN)


class SecretStoreError(RuntimeError):
    """A secret could not be read or written; the message never contains the secret."""


class SecretStore(ABC):
    #: "vault" (the store's encrypted secrets) or "memory" (tests)
    kind: str = ""

    @property
    @abstractmethod
    def description(self) -> str: ...

    @property
    def persistent_warning(self) -> str:
        """Text the window shows for as long as it applies ('' when none)."""
        return ""

    def prepare_write(self) -> None:
        """Call before a transaction that stores a secret: makes sure the store can (the vault exists and
        is open), so that nothing outside the database has to happen inside the transaction."""
        return None

    @abstractmethod
    def get_for(self, config_id: int, kind: str) -> str | None: ...

    @abstractmethod
    def set_for(self, config_id: int, kind: str, value: str) -> None: ...

    @abstractmethod
    def delete_for(self, config_id: int, kind: str) -> None:
        """Delete; absent entries are fine."""

    def delete_all_for(self, config_id: int) -> None:
        for kind in SECRET_KINDS:
            self.delete_for(config_id, kind)


class MemorySecrets(SecretStore):
    """In-process store for tests and benchmarks (not transactional)."""

    kind = "memory"

    def __init__(self) -> None:
        self.values: dict[tuple[int, str], str] = {}

    @property
    def description(self) -> str:
        return "memory (tests only)"

    def get_for(self, config_id: int, kind: str) -> str | None:
        return self.values.get((config_id, kind))

    def set_for(self, config_id: int, kind: str, value: str) -> None:
        self.values[(config_id, kind)] = value

    def delete_for(self, config_id: int, kind: str) -> None:
        self.values.pop((config_id, kind), None)
