"""Fixtures for the backup tests: fixture files and a snapshot of everything an import may touch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def snapshot(ctx: Any, keyring_backend: Any = None) -> dict[str, Any]:
    """Every row an import could change, plus the keyring's entries."""
    conn = ctx.store.conn
    tables = {}
    for table in ("token_config", "token_state", "config_secret"):
        tables[table] = [tuple(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]
    if keyring_backend is not None:
        tables["keyring"] = sorted(keyring_backend.passwords.items())
    return tables



@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def fast_file(tmp_path) -> Path:
    """The Znuny 7 fixture encrypted for ``agefile.TEST_PASSPHRASE`` (low work factor: decrypts in milliseconds)."""
    from tests.backup.agefile import TEST_PASSPHRASE, encrypt_fast

    path = tmp_path / "znuny7.yml.age"
    path.write_bytes(encrypt_fast((FIXTURES / "znuny7_export.yml").read_bytes(), TEST_PASSPHRASE))
    return path


@pytest.fixture
def key_file(tmp_path) -> Path:
    """A file encrypted for an age X25519 key, not a passphrase (no scrypt: cheap)."""
    import pyrage

    recipient = pyrage.x25519.Identity.generate().to_public()
    path = tmp_path / "for-a-key.yml.age"
    path.write_bytes(pyrage.encrypt(b"- Name: x\n", [recipient]))
    return path


@pytest.fixture
def state(ctx, memory_keyring):
    """``state()`` gives a snapshot of the store and the keyring, to assert nothing changed."""
    return lambda: snapshot(ctx, memory_keyring)
