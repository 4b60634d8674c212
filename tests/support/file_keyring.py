"""A keyring backend in a JSON file, shared by a test and the ``tokendesk`` processes it starts.

The in-memory keyring of tests/conftest.py cannot reach a child process; this one can:
``PYTHON_KEYRING_BACKEND=tests.support.file_keyring.FileKeyring`` and ``TOKENDESK_TEST_KEYRING`` (the
file) in the child's environment, ``keyring.set_keyring(FileKeyring(path))`` in the test. It stands in
for the real Secret Service (lane 2 has the real one) so that the fast lane can run real processes.
"""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

ENV = "TOKENDESK_TEST_KEYRING"


class FileKeyring(KeyringBackend):
    priority = -1  # type: ignore[assignment]  # chosen only by name, never by keyring's own detection

    def __init__(self, path: str | None = None) -> None:
        super().__init__()
        self.path = path or os.environ[ENV]

    def _load(self) -> dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return {}

    def _save(self, data: dict[str, str]) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    @property
    def passwords(self) -> dict[tuple[str, str], str]:
        return {tuple(k.split("\0", 1)): v for k, v in self._load().items()}  # type: ignore[misc]

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._save(data)
