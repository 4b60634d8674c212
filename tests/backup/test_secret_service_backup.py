"""Import and export with the real Secret Service (gnome-keyring over D-Bus): client secrets go to the
keyring inside the import's transaction, never to the database, and a failed import leaves the keyring
as it was. Lane 2 of scripts/test-all.sh runs it; by hand::

    HOME="$(mktemp -d)" dbus-run-session -- sh -c 'eval "$(printf pw | gnome-keyring-daemon --unlock \\
        --components=secrets)"; .venv/bin/pytest tests/backup/test_secret_service_backup.py -m secretservice -q'
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml

from desktop.backup import apply_import, export_configurations, parse_import, plan_import
from desktop.store.secrets import CLIENT_SECRET, KeyringSecrets, SecretStoreError

pytestmark = pytest.mark.secretservice


@pytest.fixture
def real_ctx(tokendesk_home):
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run this lane under dbus-run-session with gnome-keyring (see the docstring)")
    from desktop.services import open_context

    ctx = open_context()
    assert isinstance(ctx.secrets, KeyringSecrets), ctx.secrets.description
    yield ctx
    for cfg in ctx.store.list_configurations():
        ctx.secrets.delete_all_for(cfg.id)
    ctx.close()


def _records(ctx, secrets: list[str]) -> str:
    records = []
    for i, secret in enumerate(secrets):
        cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(f"Keyring {i}")
        cfg.client_id = f"client-{i}"
        cfg.config["ClientSecret"] = secret
        records.append({"Name": cfg.name, "ValidID": 1, "Config": cfg.config})
    return yaml.safe_dump(records, sort_keys=False)


def test_import_stores_secrets_in_the_keyring_and_export_reads_them(real_ctx):
    secrets = [f"ss-{uuid.uuid4().hex}" for _ in range(3)]
    plan = plan_import(real_ctx, parse_import(_records(real_ctx, secrets), templates=real_ctx.templates))
    summary = apply_import(real_ctx, plan)
    assert summary.secrets_stored == 3
    stored = {c.name: real_ctx.secrets.get_for(c.id, CLIENT_SECRET) for c in real_ctx.store.list_configurations()}
    assert stored == {f"Keyring {i}": s for i, s in enumerate(secrets)}
    db = real_ctx.store.path.read_bytes()
    wal = real_ctx.store.path.with_name(real_ctx.store.path.name + "-wal")
    db += wal.read_bytes() if wal.exists() else b""
    assert not any(s.encode() in db for s in secrets)
    exported = yaml.safe_load(export_configurations(real_ctx, include_secrets=True).text)
    assert [r["Config"]["ClientSecret"] for r in exported] == secrets


def test_a_failing_secret_write_leaves_the_keyring_and_database_unchanged(real_ctx, monkeypatch):
    secrets = [f"ss-{uuid.uuid4().hex}" for _ in range(3)]
    plan = plan_import(real_ctx, parse_import(_records(real_ctx, secrets), templates=real_ctx.templates))
    real_set = real_ctx.secrets.set
    written: list[str] = []

    def set_then_fail(name, value):
        if len(written) == 2:
            raise SecretStoreError("the keyring could not store it (simulated)")
        real_set(name, value)
        written.append(name)

    monkeypatch.setattr(real_ctx.secrets, "set", set_then_fail)
    with pytest.raises(SecretStoreError):
        apply_import(real_ctx, plan)
    assert real_ctx.store.count() == 0
    assert len(written) == 2
    for name in written:  # really written to gnome-keyring, then taken out again
        assert real_ctx.secrets.get(name) is None
