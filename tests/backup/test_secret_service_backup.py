"""Import and export with the vault on the real Secret Service (gnome-keyring over D-Bus): client secrets are
sealed into the database inside the import's transaction (the keyring holds only the data key), and a
failed import leaves the store as it was. Lane 2 of scripts/test-all.sh runs it; by hand::

    HOME="$(mktemp -d)" dbus-run-session -- sh -c 'eval "$(printf pw | gnome-keyring-daemon --unlock \\
        --components=secrets)"; .venv/bin/pytest tests/backup/test_secret_service_backup.py -m secretservice -q'
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml

from desktop.backup import apply_import, export_configurations, parse_import, plan_import
from desktop.store.secrets import CLIENT_SECRET, SecretStoreError
from tests.backup.conftest import snapshot
from tests.test_secret_service import items_of, raw_bytes, remove_items

pytestmark = pytest.mark.secretservice


@pytest.fixture
def real_ctx(tokendesk_home):
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run this lane under dbus-run-session with gnome-keyring (see the docstring)")
    from desktop.services import open_context

    ctx = open_context()
    yield ctx
    service = f"tokendesk:{ctx.store.store_id}"
    ctx.close()
    remove_items(service)


def _records(ctx, secrets: list[str]) -> str:
    records = []
    for i, secret in enumerate(secrets):
        cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(f"Keyring {i}")
        cfg.client_id = f"client-{i}"
        cfg.config["ClientSecret"] = secret
        records.append({"Name": cfg.name, "ValidID": 1, "Config": cfg.config})
    return yaml.safe_dump(records, sort_keys=False)


def test_import_seals_secrets_in_the_store_and_export_reads_them(real_ctx):
    secrets = [f"ss-{uuid.uuid4().hex}" for _ in range(30)]
    plan = plan_import(real_ctx, parse_import(_records(real_ctx, secrets), templates=real_ctx.templates))
    summary = apply_import(real_ctx, plan)
    assert summary.secrets_stored == 30
    stored = {c.name: real_ctx.secrets.get_for(c.id, CLIENT_SECRET) for c in real_ctx.store.list_configurations()}
    assert stored == {f"Keyring {i}": s for i, s in enumerate(secrets)}
    raw = raw_bytes(real_ctx.store.path)
    assert not any(s.encode() in raw for s in secrets)
    assert items_of(f"tokendesk:{real_ctx.store.store_id}") == [f"vault-data-key/{real_ctx.vault.info().key_id}"]
    exported = yaml.safe_load(export_configurations(real_ctx, include_secrets=True).text)
    expected = {f"Keyring {i}": s for i, s in enumerate(secrets)}
    assert {r["Name"]: r["Config"]["ClientSecret"] for r in exported} == expected


def test_a_failing_secret_write_leaves_the_store_unchanged(real_ctx, monkeypatch):
    secrets = [f"ss-{uuid.uuid4().hex}" for _ in range(3)]
    plan = plan_import(real_ctx, parse_import(_records(real_ctx, secrets), templates=real_ctx.templates))
    real_set = real_ctx.secrets.set_for
    written: list[int] = []
    before = snapshot(real_ctx)

    def set_then_fail(config_id, kind, value):
        if len(written) == 2:
            raise SecretStoreError("the disk is full (simulated)")
        real_set(config_id, kind, value)
        written.append(config_id)

    monkeypatch.setattr(real_ctx.secrets, "set_for", set_then_fail)
    with pytest.raises(SecretStoreError):
        apply_import(real_ctx, plan)
    assert real_ctx.store.count() == 0
    assert len(written) == 2  # really sealed and written, then rolled back with the rows
    assert snapshot(real_ctx) == before
