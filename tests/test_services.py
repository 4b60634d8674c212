"""Services: a configuration and its client secret are saved and removed together (the vault, in one
transaction), delete guards, and logs that never hold a secret. The vault itself: tests/test_vault.py."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import keyring
import pytest

from desktop.services import InUseError, ValidationFailed
from desktop.store.repository import NotFoundError
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, SecretStoreError
from tests.support.memory_keyring import LockedKeyring


def unique_secret(label: str = "secret") -> str:
    return f"{label}-{uuid.uuid4().hex}"


def database_bytes(ctx) -> bytes:
    """The raw bytes of the database file and its write-ahead log (where fresh writes sit)."""
    path: Path = ctx.store.path
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    return data


def secret_rows(ctx, config_id: int) -> set[str]:
    return {r[0] for r in ctx.store.conn.execute("SELECT field FROM config_secret WHERE config_id = ?", (config_id,))}


# ---- add and update


def test_add_stores_the_client_secret_encrypted_in_the_store(ctx, make_config, memory_keyring):
    secret = unique_secret()
    saved = make_config("Support mailbox", secret=secret)
    assert secret_rows(ctx, saved.id) == {CLIENT_SECRET}
    assert ctx.configurations.client_secret(saved) == secret
    assert ctx.store.get("Support mailbox").has_client_secret is True
    raw = database_bytes(ctx)
    assert b"Support mailbox" in raw  # the check reads the right file
    assert secret.encode() not in raw
    # the keyring holds one item: the data key, not the secret
    assert [user for (_s, user) in memory_keyring.passwords] == [f"vault-data-key/{ctx.vault.key_id}"]
    assert secret not in memory_keyring.passwords.values()


def test_tokens_never_reach_the_database_in_clear(ctx, make_config):
    saved = make_config("Tokens")
    access, refresh = unique_secret("access"), unique_secret("refresh")
    with ctx.store.transaction():
        ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
        ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
        ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)
    raw = database_bytes(ctx)
    assert access.encode() not in raw and refresh.encode() not in raw
    assert ctx.secrets.get_for(saved.id, REFRESH_TOKEN) == refresh


def test_add_without_a_secret_records_it_as_missing_and_makes_no_vault(ctx, make_config, memory_keyring):
    saved = make_config("Public client", secret=None)
    assert saved.has_client_secret is False
    assert ctx.store.get("Public client").has_client_secret is False
    assert secret_rows(ctx, saved.id) == set()
    assert memory_keyring.passwords == {}  # nothing to protect yet: no key made


def test_add_is_rolled_back_when_the_keyring_refuses_to_take_the_first_key(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    keyring.set_keyring(LockedKeyring())  # the fixture restores the memory keyring afterwards
    cfg = ctx.templates.require("Google Mail").new_configuration("Locked out")
    cfg.client_id = "abc.apps.googleusercontent.com"
    secret = unique_secret()
    with pytest.raises(SecretStoreError) as info:
        ctx.configurations.add(cfg, secret)
    assert "locked" in str(info.value)
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert ctx.store.count() == 0
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM token_state").fetchone()[0] == 0


def test_once_the_vault_exists_a_keyring_that_refuses_writes_changes_nothing(ctx, make_config):
    make_config("First", secret="first-secret")  # makes the vault
    keyring.set_keyring(LockedKeyring(dict(keyring.get_keyring().passwords)))
    saved = make_config("Second", secret="second-secret")
    ctx.configurations.update(saved, "rotated-secret")
    assert ctx.configurations.client_secret(ctx.store.get("Second")) == "rotated-secret"


def test_add_refuses_an_invalid_configuration_and_stores_nothing(ctx, memory_keyring):
    cfg = ctx.templates.require("Generic OAuth2").new_configuration("")
    cfg.set_endpoint("AuthorizationCode", "http://idp.example.com/auth")
    with pytest.raises(ValidationFailed) as info:
        ctx.configurations.add(cfg, "s3cret")
    fields = {e.field for e in info.value.errors}
    assert {"Name", "Client ID", "Authorization endpoint", "Token endpoint", "Token refresh endpoint"} <= fields
    assert "Authorization endpoint: must use https" in str(info.value)
    assert ctx.store.count() == 0
    assert memory_keyring.passwords == {}


def test_add_refuses_a_duplicate_name_case_insensitively(ctx, make_config):
    make_config("Support mailbox")
    with pytest.raises(ValidationFailed, match="'SUPPORT MAILBOX' is already used by another configuration"):
        make_config("SUPPORT MAILBOX")
    assert ctx.store.count() == 1


def test_add_inside_a_failing_transaction_leaves_neither_row_nor_secret(ctx, make_config):
    make_config("Vault maker", secret="x")  # the vault exists before the transaction
    cfg = ctx.templates.require("Google Mail").new_configuration("Half done")
    cfg.client_id = "abc"
    with pytest.raises(RuntimeError, match="later step failed"), ctx.store.transaction():
        ctx.configurations.add(cfg, "half-secret")
        raise RuntimeError("later step failed")
    assert ctx.store.names() == ["Vault maker"]
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0] == 1


def test_update_keeps_replaces_or_removes_the_client_secret(ctx, make_config):
    saved = make_config("Rotating", secret="first")
    service = ctx.configurations
    saved.scope = "offline_access"
    kept = service.update(saved, None)
    assert service.client_secret(kept) == "first" and ctx.store.get("Rotating").has_client_secret
    replaced = service.update(kept, "second")
    assert service.client_secret(replaced) == "second"
    removed = service.update(replaced, "")
    assert removed.has_client_secret is False
    assert ctx.store.get("Rotating").has_client_secret is False
    assert secret_rows(ctx, saved.id) == set()
    assert ctx.store.get("Rotating").scope == "offline_access"


def test_update_may_keep_its_own_name_in_another_case(ctx, make_config):
    saved = make_config("Mixed Case")
    saved.name = "MIXED CASE"
    assert ctx.configurations.update(saved).name == "MIXED CASE"


# ---- delete


def test_delete_removes_row_state_and_all_three_secrets(ctx, make_config, memory_keyring):
    other = make_config("Other", secret="other-secret")
    saved = make_config("Doomed", secret="doomed-secret")
    ctx.secrets.set_for(saved.id, ACCESS_TOKEN, "doomed-access")
    ctx.secrets.set_for(saved.id, REFRESH_TOKEN, "doomed-refresh")
    ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)
    assert secret_rows(ctx, saved.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}

    ctx.configurations.delete("doomed")

    assert ctx.store.find("Doomed") is None
    left = ctx.store.conn.execute("SELECT COUNT(*) FROM token_state WHERE config_id = ?", (saved.id,)).fetchone()[0]
    assert left == 0
    assert secret_rows(ctx, saved.id) == set()
    assert ctx.configurations.client_secret(other) == "other-secret"  # the neighbour is untouched


def test_delete_of_an_unknown_name(ctx):
    with pytest.raises(NotFoundError, match="No configuration named 'ghost'"):
        ctx.configurations.delete("ghost")


def test_delete_refused_by_a_guard_keeps_everything(ctx, make_config, memory_keyring):
    saved = make_config("In use", secret="guarded")
    calls = []

    def guard(context, cfg):
        calls.append(cfg.name)
        return ["mail account 'Support IMAP'", "web service 'Ticket sync'"] if cfg.name == "In use" else []

    ctx.delete_guards.append(guard)
    with pytest.raises(InUseError) as info:
        ctx.configurations.delete("In use")
    assert str(info.value) == (
        "'In use' cannot be deleted: it is used by mail account 'Support IMAP', web service 'Ticket sync'. "
        "Change or delete those first."
    )
    assert calls == ["In use"]
    assert ctx.store.find("In use") is not None
    assert ctx.configurations.client_secret(saved) == "guarded"


def test_service_logs_never_contain_the_secret(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    secret = unique_secret()
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration("Logged")
    cfg.client_id = "id"
    saved = ctx.configurations.add(cfg, secret)
    ctx.configurations.update(saved, secret + "-2")
    ctx.configurations.delete("Logged")
    assert "configuration added: Logged" in caplog.text
    assert secret not in caplog.text
