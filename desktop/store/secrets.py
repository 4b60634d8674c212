"""Secret storage: the OS keyring through ``keyring``, else an announced local fallback.

Strategy chosen once at start-up (``choose_secret_store``):

* ``KeyringSecrets``: the system keyring (Secret Service, KWallet, macOS Keychain, ...).
  Entries live under the service name ``tokendesk:<store id>`` so two data directories
  never share or overwrite each other's secrets.
* ``DatabaseSecrets``: when no keyring works *and* the admin allowed it
  (setting ``secrets.allow_file_fallback``), secrets go to the ``fallback_secret`` table of
  the database file, which is created with mode 0600. The window and ``tokendesk doctor``
  say so for as long as it is in use.
* ``UnavailableSecrets``: no keyring and no permission yet; reading finds nothing, writing
  raises ``SecretStoreUnavailable`` whose message says how to proceed.

No secret value ever appears in a log line or an exception message.
"""

from __future__ import annotations

import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CLIENT_SECRET = "client_secret"
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
SECRET_KINDS = (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN)

FALLBACK_HINT = (
    "No system keyring is usable on this machine. Install and unlock one (for example gnome-keyring "
    "or KWallet), or allow Tokendesk to keep secrets in its local database file (readable only by you): "
    "'tokendesk settings set secrets.allow_file_fallback true' or the prompt in the window."
)


class SecretStoreError(RuntimeError):
    """A secret could not be read or written; the message never contains the secret."""


class SecretStoreUnavailable(SecretStoreError):
    pass


def secret_name(config_id: int, kind: str) -> str:
    if kind not in SECRET_KINDS:
        raise ValueError(f"unknown secret kind {kind!r}")
    return f"config-{config_id}/{kind}"


@dataclass(frozen=True)
class KeyringProbe:
    usable: bool
    backend: str
    reason: str = ""


def probe_keyring(service: str = "tokendesk:probe") -> KeyringProbe:
    """Is the OS keyring usable? Reads one absent entry; writes nothing."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception as exc:  # pragma: no cover - keyring is a dependency
        return KeyringProbe(False, "none", f"the keyring package cannot be imported ({exc.__class__.__name__})")
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}".replace("keyring.backends.", "")
    if isinstance(backend, fail.Keyring):
        return KeyringProbe(False, name, "no keyring backend is available (no Secret Service on the session bus?)")
    if isinstance(backend, chainer.ChainerBackend):
        if not backend.backends:
            return KeyringProbe(False, name, "no keyring backend is available")
        inner = ", ".join(
            f"{type(b).__module__}.{type(b).__name__}".replace("keyring.backends.", "") for b in backend.backends
        )
        name = f"{name} of {inner}"
    try:
        backend.get_password(service, "__probe__")
    except Exception as exc:
        return KeyringProbe(False, name, f"the keyring did not answer ({exc.__class__.__name__}: {_first_line(exc)})")
    return KeyringProbe(True, name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


class SecretStore(ABC):
    #: "keyring", "file" (database fallback) or "unavailable"
    kind: str = ""

    @property
    @abstractmethod
    def description(self) -> str: ...

    @property
    def persistent_warning(self) -> str:
        """Text the window shows for as long as this store is in use ('' when none)."""
        return ""

    @abstractmethod
    def get(self, name: str) -> str | None: ...

    @abstractmethod
    def set(self, name: str, value: str) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete; absent entries are fine."""

    # ---- per-configuration helpers
    def get_for(self, config_id: int, kind: str) -> str | None:
        return self.get(secret_name(config_id, kind))

    def set_for(self, config_id: int, kind: str, value: str) -> None:
        self.set(secret_name(config_id, kind), value)

    def delete_for(self, config_id: int, kind: str) -> None:
        self.delete(secret_name(config_id, kind))

    def delete_all_for(self, config_id: int) -> None:
        for kind in SECRET_KINDS:
            self.delete_for(config_id, kind)


class KeyringSecrets(SecretStore):
    kind = "keyring"

    def __init__(self, service: str, backend_name: str = "") -> None:
        import keyring

        self._keyring = keyring
        self.service = service
        self.backend_name = backend_name or type(keyring.get_keyring()).__name__

    @property
    def description(self) -> str:
        return f"system keyring ({self.backend_name})"

    def get(self, name: str) -> str | None:
        try:
            return self._keyring.get_password(self.service, name)
        except Exception as exc:
            raise SecretStoreError(f"the keyring could not read '{name}' ({exc.__class__.__name__})") from None

    def set(self, name: str, value: str) -> None:
        try:
            self._keyring.set_password(self.service, name, value)
        except Exception as exc:
            raise SecretStoreError(
                f"the keyring could not store '{name}' ({exc.__class__.__name__}); is it locked?"
            ) from None

    def delete(self, name: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self._keyring.delete_password(self.service, name)
        except PasswordDeleteError:
            pass
        except Exception as exc:
            raise SecretStoreError(f"the keyring could not delete '{name}' ({exc.__class__.__name__})") from None


class DatabaseSecrets(SecretStore):
    """Announced fallback: secrets in the database file (created with mode 0600)."""

    kind = "file"

    def __init__(self, conn: sqlite3.Connection | Callable[[], sqlite3.Connection], reason: str = "") -> None:
        # a callable gives the calling thread's connection (Store.conn is per thread)
        self._conn_source = conn
        self.reason = reason

    @property
    def _conn(self) -> sqlite3.Connection:
        source = self._conn_source
        return source if isinstance(source, sqlite3.Connection) else source()

    @property
    def description(self) -> str:
        return "local database file (fallback: no system keyring)"

    @property
    def persistent_warning(self) -> str:
        return (
            "No system keyring: secrets are kept in Tokendesk's local database file, readable only by your "
            "user account. Install and unlock a keyring (gnome-keyring, KWallet) to protect them better."
        )

    def get(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM fallback_secret WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, name: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO fallback_secret(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def delete(self, name: str) -> None:
        self._conn.execute("DELETE FROM fallback_secret WHERE name = ?", (name,))


class UnavailableSecrets(SecretStore):
    kind = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def description(self) -> str:
        return f"none ({self.reason})"

    @property
    def persistent_warning(self) -> str:
        return (
            "No system keyring is usable: "
            + self.reason
            + ". Secrets cannot be saved until you allow the local fallback."
        )

    def get(self, name: str) -> str | None:
        return None

    def set(self, name: str, value: str) -> None:
        raise SecretStoreUnavailable(FALLBACK_HINT)

    def delete(self, name: str) -> None:
        return None


class MemorySecrets(SecretStore):
    """In-process store for tests and benchmarks."""

    kind = "memory"

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    @property
    def description(self) -> str:
        return "memory (tests only)"

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


class DeferredSecrets(SecretStore):
    """Chooses the real store on first use (or when ``resolve()`` is called from a worker).

    The GUI starts with this so importing and probing ``keyring`` (tens of milliseconds, more
    when D-Bus is slow) happens after the window is shown, not before.
    """

    def __init__(self, factory: Callable[[], SecretStore]) -> None:
        import threading

        self._factory = factory
        self._lock = threading.Lock()
        self._target: SecretStore | None = None

    @property
    def resolved(self) -> bool:
        return self._target is not None

    def resolve(self) -> SecretStore:
        with self._lock:
            if self._target is None:
                self._target = self._factory()
            return self._target

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.resolve().kind

    @property
    def description(self) -> str:
        return self.resolve().description if self.resolved else "checking the keyring ..."

    @property
    def persistent_warning(self) -> str:
        return self.resolve().persistent_warning if self.resolved else ""

    @property
    def reason(self) -> str:
        return str(getattr(self.resolve(), "reason", ""))

    def get(self, name: str) -> str | None:
        return self.resolve().get(name)

    def set(self, name: str, value: str) -> None:
        self.resolve().set(name, value)

    def delete(self, name: str) -> None:
        self.resolve().delete(name)


def choose_secret_store(
    conn: sqlite3.Connection | Callable[[], sqlite3.Connection], store_id: str, allow_file_fallback: bool
) -> SecretStore:
    probe = probe_keyring(f"tokendesk:{store_id}")
    if probe.usable:
        logger.info("secrets: system keyring %s", probe.backend)
        return KeyringSecrets(f"tokendesk:{store_id}", probe.backend)
    logger.info("secrets: no usable keyring (%s)", probe.reason)
    if allow_file_fallback:
        return DatabaseSecrets(conn, probe.reason)
    return UnavailableSecrets(probe.reason)
