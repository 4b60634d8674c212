"""A store as Tokendesk wrote it up to schema 5 (commit 206e7bb): secrets as one keyring item each
(service ``tokendesk:<store id>``, user ``config-<id>/<kind>``) or as plain rows of ``fallback_secret``.

Built with the real schema-1..5 migrations of desktop/store/database.py and the same keyring calls
the old ``KeyringSecrets`` made, so the migration tests start from what an admin's disk holds today.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from desktop.store.database import MIGRATIONS

SCHEMA_5 = 5
KINDS = ("client_secret", "access_token", "refresh_token")


@dataclass
class LegacyStore:
    path: Path
    store_id: str
    #: config id -> {kind: secret}
    secrets: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return f"tokendesk:{self.store_id}"

    def all_values(self) -> list[str]:
        return [v for per in self.secrets.values() for v in per.values()]


def build_legacy_store(path: Path, count: int = 3, *, where: str = "keyring", backend=None) -> LegacyStore:
    """``count`` configurations with a client secret, an access token and a refresh token each, kept in the
    keyring (``backend``, default keyring's choice) or in the plain fallback table (``where="file"``)."""
    import keyring

    backend = backend or keyring.get_keyring()
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path)
    for statements in MIGRATIONS[:SCHEMA_5]:
        for statement in statements:
            raw.execute(statement)
    store = LegacyStore(path, uuid.uuid4().hex)
    raw.execute("INSERT INTO meta(key, value) VALUES ('store_id', ?)", (store.store_id,))
    config = {"TemplateName": "Generic OAuth2", "ClientID": "legacy-client", "Scope": "openid"}
    for i in range(1, count + 1):
        raw.execute(
            "INSERT INTO token_config(id, name, name_key, template_name, config_json, has_client_secret, create_time, "
            "change_time) VALUES (?, ?, ?, 'Generic OAuth2', ?, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (i, f"Legacy {i}", f"legacy {i}", json.dumps(config)),
        )
        raw.execute(
            "INSERT INTO token_state(config_id, has_access_token, has_refresh_token, token_expires_at) "
            "VALUES (?, 1, 1, '2099-01-01T00:00:00+00:00')", (i,))
        values = {kind: f"legacy-{kind}-{i}-{uuid.uuid4().hex}" for kind in KINDS}
        store.secrets[i] = values
        for kind, value in values.items():
            if where == "file":
                raw.execute("INSERT INTO fallback_secret(name, value) VALUES (?, ?)", (f"config-{i}/{kind}", value))
            else:
                backend.set_password(store.service, f"config-{i}/{kind}", value)
    if where == "file":
        raw.execute("INSERT INTO setting(key, value_json) VALUES ('secrets.allow_file_fallback', 'true')")
    raw.execute(f"PRAGMA user_version = {SCHEMA_5}")
    raw.commit()
    raw.close()
    return store
