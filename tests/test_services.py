"""Secrets and services: the client secret lives in the keyring (never the database), add and delete are
transactional with the secret store, delete guards, the unavailable store and the announced file fallback."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from desktop.services import InUseError, ValidationFailed, open_context
from desktop.store.repository import NotFoundError
from desktop.store.secrets import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    FALLBACK_HINT,
    REFRESH_TOKEN,
    DatabaseSecrets,
    KeyringSecrets,
    SecretStoreError,
    SecretStoreUnavailable,
    UnavailableSecrets,
    probe_keyring,
)
from tests.support.memory_keyring import MemoryKeyring


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


def entries_for(backend: MemoryKeyring, config_id: int) -> dict[str, str]:
    prefix = f"config-{config_id}/"
    return {user: pw for (_svc, user), pw in backend.passwords.items() if user.startswith(prefix)}


class LockedKeyring(KeyringBackend):
    """A keyring that is present but refuses writes (a locked collection)."""

    priority = -1  # type: ignore[assignment]  # never chosen by keyring's own detection

    def __init__(self, refuse_delete: bool = False) -> None:
        super().__init__()
        self.refuse_delete = refuse_delete
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"collection is locked (refused {password})")  # a careless backend echoing the value

    def delete_password(self, service: str, username: str) -> None:
        if self.refuse_delete:
            raise RuntimeError("collection is locked")
        self.passwords.pop((service, username), None)


# ---- the keyring strategy


def test_context_uses_the_keyring_under_a_per_store_service_name(ctx, memory_keyring):
    assert isinstance(ctx.secrets, KeyringSecrets)
    assert ctx.secrets.kind == "keyring"
    assert ctx.secrets.service == f"tokendesk:{ctx.store.store_id}"
    assert "MemoryKeyring" in ctx.secrets.description
    assert ctx.secrets.persistent_warning == ""


def test_add_stores_the_client_secret_in_the_keyring_not_the_database(ctx, make_config, memory_keyring):
    secret = unique_secret()
    saved = make_config("Support mailbox", secret=secret)
    assert memory_keyring.passwords[(f"tokendesk:{ctx.store.store_id}", f"config-{saved.id}/client_secret")] == secret
    assert ctx.configurations.client_secret(saved) == secret
    assert ctx.store.get("Support mailbox").has_client_secret is True
    raw = database_bytes(ctx)
    assert b"Support mailbox" in raw  # the check reads the right file
    assert secret.encode() not in raw


def test_tokens_in_the_keyring_never_reach_the_database(ctx, make_config):
    saved = make_config("Tokens")
    access, refresh = unique_secret("access"), unique_secret("refresh")
    ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
    ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
    ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)
    raw = database_bytes(ctx)
    assert access.encode() not in raw and refresh.encode() not in raw


def test_add_without_a_secret_records_it_as_missing(ctx, make_config, memory_keyring):
    saved = make_config("Public client", secret=None)
    assert saved.has_client_secret is False
    assert ctx.store.get("Public client").has_client_secret is False
    assert entries_for(memory_keyring, saved.id) == {}


def test_add_is_rolled_back_when_the_keyring_refuses(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    keyring.set_keyring(LockedKeyring())  # the fixture restores the memory keyring afterwards
    cfg = ctx.templates.require("Google Mail").new_configuration("Locked out")
    cfg.client_id = "abc.apps.googleusercontent.com"
    secret = unique_secret()
    with pytest.raises(SecretStoreError) as info:
        ctx.configurations.add(cfg, secret)
    assert "could not store" in str(info.value) and "locked" in str(info.value)
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert ctx.store.count() == 0
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM token_state").fetchone()[0] == 0


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


def test_update_keeps_replaces_or_removes_the_client_secret(ctx, make_config, memory_keyring):
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
    assert entries_for(memory_keyring, saved.id) == {}
    assert ctx.store.get("Rotating").scope == "offline_access"


def test_update_rolled_back_when_the_keyring_refuses(ctx, make_config):
    saved = make_config("Stable", secret="old")
    saved.scope = "changed scope"
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(SecretStoreError):
        ctx.configurations.update(saved, "new")
    assert ctx.store.get("Stable").scope != "changed scope"


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
    assert len(entries_for(memory_keyring, saved.id)) == 3

    ctx.configurations.delete("doomed")

    assert ctx.store.find("Doomed") is None
    left = ctx.store.conn.execute("SELECT COUNT(*) FROM token_state WHERE config_id = ?", (saved.id,)).fetchone()[0]
    assert left == 0
    assert entries_for(memory_keyring, saved.id) == {}
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


def test_delete_rolled_back_when_the_keyring_cannot_delete(ctx, make_config):
    saved = make_config("Sticky", secret="sticky")
    backend = LockedKeyring(refuse_delete=True)
    backend.passwords = dict(keyring.get_keyring().passwords)
    keyring.set_keyring(backend)
    with pytest.raises(SecretStoreError, match="could not delete"):
        ctx.configurations.delete("Sticky")
    assert ctx.store.find("Sticky") is not None
    assert ctx.store.get_state(saved.id).config_id == saved.id


# ---- no keyring: unavailable, then the announced fallback


def test_without_a_keyring_the_context_opens_and_writes_are_refused_with_the_hint(tokendesk_home):
    keyring.set_keyring(fail.Keyring())
    probe = probe_keyring()
    assert probe.usable is False and "no keyring backend" in probe.reason
    ctx = open_context()
    try:
        assert isinstance(ctx.secrets, UnavailableSecrets)
        assert ctx.secrets.kind == "unavailable"
        assert ctx.secrets.get("config-1/client_secret") is None
        assert "Secrets cannot be saved until you allow the local fallback" in ctx.secrets.persistent_warning
        with pytest.raises(SecretStoreUnavailable) as info:
            ctx.secrets.set("config-1/client_secret", "x")
        assert str(info.value) == FALLBACK_HINT
        assert "tokendesk settings set secrets.allow_file_fallback true" in FALLBACK_HINT
        # a configuration with a secret is not saved; one without a secret is
        cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration("No keyring")
        cfg.client_id = "id"
        with pytest.raises(SecretStoreUnavailable):
            ctx.configurations.add(cfg, "s3cret")
        assert ctx.store.count() == 0
        ctx.configurations.add(cfg, None)
        assert ctx.store.names() == ["No keyring"]
        ctx.configurations.delete("No keyring")  # deleting needs no keyring
        assert ctx.store.count() == 0
    finally:
        ctx.close()


def test_file_fallback_when_allowed_keeps_secrets_in_the_database(tokendesk_home):
    keyring.set_keyring(fail.Keyring())
    first = open_context()
    first.store.set_setting("secrets.allow_file_fallback", True)
    first.close()

    ctx = open_context()
    try:
        assert isinstance(ctx.secrets, DatabaseSecrets)
        assert ctx.secrets.kind == "file"
        assert "local database file" in ctx.secrets.description
        assert "readable only by your user account" in ctx.secrets.persistent_warning
        cfg = ctx.templates.require("Google Mail").new_configuration("Fallback")
        cfg.client_id = "abc.apps.googleusercontent.com"
        saved = ctx.configurations.add(cfg, "fallback-secret")
        ctx.secrets.set_for(saved.id, ACCESS_TOKEN, "fallback-access")
        assert ctx.configurations.client_secret(saved) == "fallback-secret"
        rows = dict(ctx.store.conn.execute("SELECT name, value FROM fallback_secret"))
        assert rows == {f"config-{saved.id}/client_secret": "fallback-secret",
                        f"config-{saved.id}/access_token": "fallback-access"}
        ctx.configurations.delete("Fallback")
        assert ctx.store.conn.execute("SELECT COUNT(*) FROM fallback_secret").fetchone()[0] == 0
    finally:
        ctx.close()


def test_file_fallback_secret_is_rolled_back_with_its_configuration(tokendesk_home):
    keyring.set_keyring(fail.Keyring())
    ctx = open_context(secrets=None)
    try:
        ctx.secrets = DatabaseSecrets(lambda: ctx.store.conn)
        cfg = ctx.templates.require("Google Mail").new_configuration("Half done")
        cfg.client_id = "abc"
        with pytest.raises(RuntimeError, match="later step failed"), ctx.store.transaction():
            ctx.configurations.add(cfg, "half-secret")
            raise RuntimeError("later step failed")
        assert ctx.store.count() == 0
        assert ctx.store.conn.execute("SELECT COUNT(*) FROM fallback_secret").fetchone()[0] == 0
    finally:
        ctx.close()


def test_file_fallback_works_from_a_worker_thread(tokendesk_home):
    ctx = open_context(secrets=None)
    try:
        ctx.secrets = DatabaseSecrets(lambda: ctx.store.conn)
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                ctx.secrets.set_for(7, REFRESH_TOKEN, "rotated-in-worker")
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
        assert errors == []
        assert ctx.secrets.get_for(7, REFRESH_TOKEN) == "rotated-in-worker"
    finally:
        ctx.close()


def test_secret_names_refuse_unknown_kinds(ctx):
    with pytest.raises(ValueError, match="unknown secret kind"):
        ctx.secrets.set_for(1, "password", "x")
    assert CLIENT_SECRET == "client_secret"


def test_two_data_directories_never_share_keyring_entries(tmp_path, memory_keyring):
    a = open_context(tmp_path / "a.sqlite3")
    b = open_context(tmp_path / "b.sqlite3")
    try:
        a.secrets.set_for(1, CLIENT_SECRET, "from-a")
        b.secrets.set_for(1, CLIENT_SECRET, "from-b")
        assert a.secrets.get_for(1, CLIENT_SECRET) == "from-a"
        assert b.secrets.get_for(1, CLIENT_SECRET) == "from-b"
        assert len(memory_keyring.passwords) == 2
    finally:
        a.close()
        b.close()


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
