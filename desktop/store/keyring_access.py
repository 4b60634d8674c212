"""The OS keyring, through ``keyring``: the one item that holds a store's data key, and the probe.

Since schema 6 Tokendesk keeps exactly one keyring item per store (``desktop.store.vault``): service
``tokendesk:<store id>``, user name ``vault-data-key/<key id>``. Everything else is encrypted in the
database. This module owns talking to ``keyring``:

* ``probe_keyring()`` writes an item, reads it back and deletes it. ``keyring.backends.null`` (keeps
  nothing), ``fail`` and a chainer with no backends count as *no keyring* (a backend that says
  "stored" and forgets is worse than none: the secret would be gone).
* ``KeyringAccess`` reads, writes and deletes items, turning every failure into a
  ``KeyringUnavailable`` whose message says what happened and what to do (never the secret).
* Start-up cost: ``keyring.get_keyring()`` imports and ranks every backend (about 50 ms). When the
  vault remembers which backend holds its key (``vault.keyring_backend``), that class is loaded
  directly - unless ``PYTHON_KEYRING_BACKEND`` or a ``keyringrc.cfg`` says otherwise, which keyring's
  own choice then honours. A remembered backend that cannot give the key falls back to keyring's choice.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

PROBE_SERVICE = "tokendesk:probe"

#: backends that cannot keep a secret (``keyring.backends.<name>.Keyring``)
USELESS_BACKENDS = {"null": "it keeps nothing (keyring.backends.null)", "fail": "no keyring backend is available"}


class KeyringUnavailable(RuntimeError):
    """The keyring could not be used; the message says why and what to do, never a secret."""


class KeyringProbe(NamedTuple):  # NamedTuple: ~7x quicker to build than a dataclass at start-up
    usable: bool
    backend: str
    reason: str = ""


def service_name(store_id: str) -> str:
    return f"tokendesk:{store_id}"


def backend_name(backend: Any) -> str:
    """``SecretService.Keyring``, ``chainer.ChainerBackend of SecretService.Keyring``, ..."""
    name = f"{type(backend).__module__}.{type(backend).__name__}".replace("keyring.backends.", "")
    inner = getattr(backend, "backends", None)
    if inner:
        name += " of " + ", ".join(backend_name(b) for b in inner)
    return name


def backend_path(backend: Any) -> str:
    """The importable ``module.Class`` of a backend ('' for a chainer: that one is keyring's own choice)."""
    if getattr(backend, "backends", None) is not None:
        return ""
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def _config_file_exists() -> bool:
    """keyring's own configuration file (Linux path; elsewhere assume it may exist)."""
    if not sys.platform.startswith("linux"):
        return True
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (Path(root) / "python_keyring" / "keyringrc.cfg").exists()


def _useless_reason(backend: Any) -> str:
    """Why ``backend`` cannot keep a secret ('' when it might)."""
    module = type(backend).__module__
    for short, reason in USELESS_BACKENDS.items():
        if module == f"keyring.backends.{short}":
            return reason
    inner = getattr(backend, "backends", None)
    if inner is not None and not inner:
        return "no keyring backend is available (no Secret Service on the session bus?)"
    return ""


def keyring_choice() -> Any:
    """keyring's own choice of backend (honours PYTHON_KEYRING_BACKEND and keyringrc.cfg)."""
    import keyring

    return keyring.get_keyring()


def load_backend(remembered: str = "") -> tuple[Any, bool]:
    """The backend to use and whether it is the remembered one (see the module docstring)."""
    if remembered and not os.environ.get("PYTHON_KEYRING_BACKEND") and not _config_file_exists():
        module_name, _, class_name = remembered.rpartition(".")
        if module_name.startswith("keyring.backends.") or module_name.startswith("keyrings."):
            try:
                backend = getattr(importlib.import_module(module_name), class_name)()
            except Exception as exc:  # gone, renamed, not viable here: keyring chooses
                logger.debug("remembered keyring backend %s not loadable: %s", remembered, exc.__class__.__name__)
            else:
                return backend, True
    return keyring_choice(), False


class KeyringAccess:
    """Items of one keyring service. ``remembered``: the backend class that held them last time."""

    def __init__(self, service: str, remembered: str = "") -> None:
        self.service = service
        self.remembered = remembered
        self._backend: Any = None
        self._is_remembered = False

    @property
    def backend(self) -> Any:
        if self._backend is None:
            try:
                self._backend, self._is_remembered = load_backend(self.remembered)
            except Exception as exc:  # keyring not importable or its configuration broken
                raise KeyringUnavailable(
                    f"The keyring cannot be loaded ({exc.__class__.__name__}: {_first_line(exc)})."
                ) from None
        return self._backend

    @property
    def name(self) -> str:
        return backend_name(self.backend)

    @property
    def path(self) -> str:
        return backend_path(self.backend)

    def _fall_back(self) -> bool:
        """After a failure of the remembered backend: use keyring's own choice (True when it is another)."""
        if not self._is_remembered:
            return False
        self._backend, self._is_remembered = keyring_choice(), False
        return True

    def _check_useful(self) -> None:
        reason = _useless_reason(self.backend)
        if reason:
            raise KeyringUnavailable(f"No usable keyring: {reason}.")

    def get(self, user: str) -> str | None:
        try:
            self._check_useful()
            value = self.backend.get_password(self.service, user)
        except KeyringUnavailable:
            if self._fall_back():
                return self.get(user)
            raise
        except Exception as exc:
            if self._fall_back():
                return self.get(user)
            raise KeyringUnavailable(_failure_text("read", exc)) from None
        if value is None and self._fall_back():
            return self.get(user)
        return value

    def set(self, user: str, value: str) -> None:
        self._check_useful()
        try:
            self.backend.set_password(self.service, user, value)
        except Exception as exc:
            raise KeyringUnavailable(_failure_text("store", exc)) from None

    def delete(self, user: str) -> None:
        """Delete; an absent item is fine."""
        try:
            from keyring.errors import PasswordDeleteError

            self._check_useful()
            self.backend.delete_password(self.service, user)
        except PasswordDeleteError:
            pass
        except KeyringUnavailable:
            raise
        except Exception as exc:
            raise KeyringUnavailable(_failure_text("delete", exc)) from None


SECRET_SERVICE = "keyring.backends.SecretService.Keyring"


def all_items(service: str) -> dict[str, str] | None:
    """Every item of ``service`` as {user: secret}, read over one D-Bus connection - when keyring's choice is
    the Secret Service (item by item, each read opens a connection and a session: ~20 ms per secret on
    gnome-keyring). None when another backend is in use: then read item by item. Raises
    ``KeyringUnavailable`` like ``KeyringAccess``."""
    backend = keyring_choice()
    if backend_path(backend) != SECRET_SERVICE:
        return None
    from contextlib import closing

    try:
        import secretstorage
        from secretstorage.util import open_session

        collection = backend.get_preferred_collection()
        user_key = backend.schemes[backend.scheme]["username"]
        found: dict[str, str] = {}
        with closing(collection.connection):
            session = open_session(collection.connection)  # one key exchange for all (not one per item)
            for item in collection.search_items(backend._query(service)):
                backend.unlock(item)
                user = item.get_attributes().get(user_key)
                if user is not None:
                    found[user] = secretstorage.Item(collection.connection, item.item_path,
                                                     session).get_secret().decode("utf-8")
        return found
    except Exception as exc:
        raise KeyringUnavailable(_failure_text("read", exc)) from None


def delete_items(service: str, users: set[str]) -> int | None:
    """Delete the items of ``service`` whose user is in ``users`` over one D-Bus connection (Secret Service
    only, as ``all_items``); returns how many, or None when another backend is in use."""
    backend = keyring_choice()
    if backend_path(backend) != SECRET_SERVICE:
        return None
    from contextlib import closing

    try:
        collection = backend.get_preferred_collection()
        user_key = backend.schemes[backend.scheme]["username"]
        deleted = 0
        with closing(collection.connection):
            for item in collection.search_items(backend._query(service)):
                if item.get_attributes().get(user_key) in users:
                    item.delete()
                    deleted += 1
        return deleted
    except Exception as exc:
        raise KeyringUnavailable(_failure_text("delete", exc)) from None


def _failure_text(verb: str, exc: BaseException) -> str:
    """Plain words for a keyring failure; a session bus or wallet that went away says so."""
    detail = f"{exc.__class__.__name__}: {_first_line(exc)}".rstrip(": ")
    lowered = detail.lower()
    if "locked" in lowered or "prompt" in lowered or "dismissed" in lowered:
        what = "the keyring is locked"
        todo = "Unlock it (log in to the desktop session, or open the wallet) and try again."
    elif "dbus" in lowered or "bus" in lowered or "connection" in lowered or "not provided" in lowered:
        what = "the keyring service is not reachable (the desktop session's D-Bus or the keyring daemon ended?)"
        todo = ("Log in to the desktop session again or start the keyring daemon; with no keyring at all, "
                "protect the vault with a passphrase: 'tokendesk vault passphrase'.")
    else:
        what = "the keyring refused"
        todo = "Check the keyring (tokendesk doctor) and try again."
    return f"The keyring could not {verb} Tokendesk's data key: {what} ({detail}). {todo}"


def probe_keyring(service: str = PROBE_SERVICE) -> KeyringProbe:
    """Can the OS keyring keep a secret? Writes an item, reads it back and deletes it."""
    try:
        backend = keyring_choice()
    except Exception as exc:
        return KeyringProbe(False, "none", f"the keyring cannot be loaded ({exc.__class__.__name__})")
    name = backend_name(backend)
    reason = _useless_reason(backend)
    if reason:
        return KeyringProbe(False, name, reason)
    user = f"probe-{os.getpid()}-{os.urandom(4).hex()}"
    value = os.urandom(12).hex()
    try:
        backend.set_password(service, user, value)
    except Exception as exc:
        return KeyringProbe(False, name, f"the keyring refused to store an item ({exc.__class__.__name__}: "
                                         f"{_first_line(exc)})")
    try:
        read = backend.get_password(service, user)
    except Exception as exc:
        return KeyringProbe(False, name, f"the keyring did not give an item back ({exc.__class__.__name__})")
    finally:
        try:
            backend.delete_password(service, user)
        except Exception:
            logger.debug("probe item could not be deleted", exc_info=True)
    if read != value:
        return KeyringProbe(False, name, "the keyring said it stored an item but gave back something else")
    return KeyringProbe(True, name)
