"""An in-memory ``keyring`` backend for fast tests (the real Secret Service lane uses gnome-keyring)."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    # not > 0: keyring's own detection must never pick (or chain) this test backend; tests
    # install it explicitly with keyring.set_keyring()
    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise PasswordDeleteError("not found") from None


class LockedKeyring(KeyringBackend):
    """A keyring that is present but refuses writes (a locked collection); reads what it was given."""

    priority = -1  # type: ignore[assignment]  # never chosen by keyring's own detection

    def __init__(self, passwords: dict[tuple[str, str], str] | None = None, refuse_delete: bool = False) -> None:
        super().__init__()
        self.refuse_delete = refuse_delete
        self.passwords: dict[tuple[str, str], str] = dict(passwords or {})

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"collection is locked (refused {password})")  # a careless backend echoing the value

    def delete_password(self, service: str, username: str) -> None:
        if self.refuse_delete:
            raise RuntimeError("collection is locked")
        self.passwords.pop((service, username), None)
