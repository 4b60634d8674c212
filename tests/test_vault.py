"""The vault (desktop/store/vault.py): one data key per store in one keyring item or behind a passphrase,
every secret sealed to its store, row and field, key changes as transactions, and the move-in of the
secrets an earlier version kept in the keyring or the plain fallback table."""

from __future__ import annotations

import base64
import logging
import threading
from datetime import timedelta

import keyring
import pytest
from keyring.backends import fail, null

from desktop.models.token import TokenState, utcnow
from desktop.services import open_context
from desktop.store.keyring_access import probe_keyring
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN
from desktop.store.vault import MODE_KEYRING, MODE_PASSPHRASE, key_user
from desktop.store.vault_errors import KeyringGone, NoKeyring, SecretDamaged, VaultError, VaultLocked, WrongPassphrase
from tests.support.legacy_store import build_legacy_store
from tests.support.memory_keyring import LockedKeyring

PASSPHRASE = "correct horse battery"


def raw_bytes(ctx) -> bytes:
    path = ctx.store.path
    data = path.read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def add(ctx, name: str, secret: str | None = "s3cret"):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = f"client-{name}"
    return ctx.configurations.add(cfg, secret)


def store_tokens(ctx, config_id: int, access: str, refresh: str) -> None:
    ctx.secrets.prepare_write()
    with ctx.store.transaction():
        ctx.secrets.set_for(config_id, ACCESS_TOKEN, access)
        ctx.secrets.set_for(config_id, REFRESH_TOKEN, refresh)
        ctx.store.update_state(config_id, has_access_token=True, has_refresh_token=True)


def vault_items(backend, ctx) -> list[str]:
    return sorted(user for (service, user) in backend.passwords if service == f"tokendesk:{ctx.store.store_id}")


# ---- keyring mode


def test_first_secret_makes_a_keyring_vault_with_exactly_one_item(ctx, memory_keyring):
    assert ctx.vault.info().mode == ""
    assert "made when the first secret is stored" in ctx.secrets.description
    saved = add(ctx, "First")
    info = ctx.vault.info()
    assert info.mode == MODE_KEYRING and info.reason.startswith("system keyring")
    assert vault_items(memory_keyring, ctx) == [key_user(info.key_id)]
    key = base64.b64decode(memory_keyring.passwords[(f"tokendesk:{ctx.store.store_id}", key_user(info.key_id))])
    assert len(key) == 32
    for i in range(20):
        store_tokens(ctx, add(ctx, f"More {i}").id, f"access-{i}", f"refresh-{i}")
    assert vault_items(memory_keyring, ctx) == [key_user(info.key_id)]  # still one item for the store
    assert ctx.configurations.client_secret(saved) == "s3cret"
    assert "key in the system keyring" in ctx.secrets.description


def test_another_process_reads_the_secrets_through_the_keyring_item(ctx, memory_keyring):
    saved = add(ctx, "Shared", "shared-secret")
    other = open_context()  # what another tokendesk command does: its own connection and vault
    try:
        assert other.secrets.get_for(saved.id, CLIENT_SECRET) == "shared-secret"
    finally:
        other.close()


def test_a_ciphertext_copied_to_another_row_or_field_does_not_decrypt(ctx):
    a, b = add(ctx, "A", "secret-a"), add(ctx, "B", "secret-b")
    blob = ctx.store.conn.execute("SELECT value FROM config_secret WHERE config_id = ? AND field = ?",
                                  (a.id, CLIENT_SECRET)).fetchone()[0]
    with ctx.store.transaction() as conn:
        conn.execute("UPDATE config_secret SET value = ? WHERE config_id = ?", (blob, b.id))
        conn.execute("INSERT INTO config_secret(config_id, field, value) VALUES (?, ?, ?)", (a.id, ACCESS_TOKEN, blob))
    with pytest.raises(SecretDamaged, match="belongs to another row, field or store"):
        ctx.secrets.get_for(b.id, CLIENT_SECRET)
    with pytest.raises(SecretDamaged):
        ctx.secrets.get_for(a.id, ACCESS_TOKEN)
    assert ctx.secrets.get_for(a.id, CLIENT_SECRET) == "secret-a"


def test_a_ciphertext_copied_to_another_store_does_not_decrypt(tmp_path, memory_keyring):
    one, two = open_context(tmp_path / "one.sqlite3"), open_context(tmp_path / "two.sqlite3")
    try:
        a, b = add(one, "Same", "secret-one"), add(two, "Same", "secret-two")
        assert a.id == b.id
        blob = one.store.conn.execute("SELECT value FROM config_secret").fetchone()[0]
        with two.store.transaction() as conn:
            conn.execute("UPDATE config_secret SET value = ?", (blob,))
        with pytest.raises(SecretDamaged):
            two.secrets.get_for(b.id, CLIENT_SECRET)
        assert len(vault_items(memory_keyring, one)) == len(vault_items(memory_keyring, two)) == 1
    finally:
        one.close()
        two.close()


def test_every_write_uses_a_fresh_nonce(ctx):
    saved = add(ctx, "Nonce", "same")
    first = bytes(ctx.store.conn.execute("SELECT value FROM config_secret").fetchone()[0])
    ctx.configurations.update(saved, "same")
    second = bytes(ctx.store.conn.execute("SELECT value FROM config_secret").fetchone()[0])
    assert first != second and first[1:13] != second[1:13]


def test_secrets_from_a_worker_thread(ctx):
    saved = add(ctx, "Threads")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            store_tokens(ctx, saved.id, "access-from-worker", "refresh-from-worker")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert errors == []
    assert ctx.secrets.get_for(saved.id, REFRESH_TOKEN) == "refresh-from-worker"


def test_unknown_secret_kinds_are_refused(ctx):
    with pytest.raises(ValueError, match="unknown secret kind"):
        ctx.secrets.set_for(1, "password", "x")


def test_the_keyring_item_deleted_says_so_plainly(ctx, memory_keyring):
    saved = add(ctx, "Lost key")
    memory_keyring.passwords.clear()
    other = open_context()
    try:
        with pytest.raises(KeyringGone, match="data key is not in the keyring"):
            other.secrets.get_for(saved.id, CLIENT_SECRET)
    finally:
        other.close()


def test_a_keyring_that_went_away_is_reported_as_that(ctx):
    saved = add(ctx, "Gone")

    class BusGone(LockedKeyring):
        def get_password(self, service, username):
            raise ConnectionError("org.freedesktop.DBus.Error.NoReply: the session bus connection closed")

    keyring.set_keyring(BusGone())
    other = open_context()
    try:
        with pytest.raises(KeyringGone) as info:
            other.secrets.get_for(saved.id, CLIENT_SECRET)
        text = str(info.value)
        assert "keyring service is not reachable" in text and "D-Bus" in text
        assert "tokendesk vault passphrase" in text  # what to do
    finally:
        other.close()


def test_creating_the_vault_inside_a_transaction_is_refused_and_prepare_write_avoids_it(ctx):
    saved = add(ctx, "No secret", None)
    with pytest.raises(VaultError, match="must be made before"), ctx.store.transaction():
        ctx.secrets.set_for(saved.id, CLIENT_SECRET, "late")
    assert ctx.vault.info().mode == ""
    ctx.secrets.prepare_write()
    with ctx.store.transaction():
        ctx.secrets.set_for(saved.id, CLIENT_SECRET, "late")
    assert ctx.secrets.get_for(saved.id, CLIENT_SECRET) == "late"


# ---- no usable keyring


@pytest.mark.parametrize("backend, words", [(null.Keyring(), "keeps nothing"), (fail.Keyring(), "no keyring")])
def test_null_and_fail_backends_are_no_keyring(backend, words, ctx):
    keyring.set_keyring(backend)
    probe = probe_keyring()
    assert probe.usable is False and words in probe.reason
    with pytest.raises(NoKeyring, match="tokendesk vault passphrase"):
        add(ctx, "Nowhere", "would-be-lost")
    assert ctx.store.count() == 0  # 'stored' and gone is worse than refused: nothing is saved


def test_null_backend_named_in_the_environment_is_no_keyring(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    from keyring import core

    monkeypatch.setattr(core, "_keyring_backend", None)
    probe = probe_keyring()
    assert probe.usable is False and "keeps nothing" in probe.reason


def test_an_empty_chainer_is_no_keyring():
    from keyring.backends import chainer

    class Empty(chainer.ChainerBackend):
        @property
        def backends(self):
            return []

    keyring.set_keyring(Empty())
    assert probe_keyring().usable is False


def test_a_keyring_that_says_stored_but_forgets_is_no_keyring():
    class Forgetful(LockedKeyring):
        def set_password(self, service, username, password):
            pass

    keyring.set_keyring(Forgetful())
    probe = probe_keyring()
    assert probe.usable is False and "gave back something else" in probe.reason


# ---- passphrase mode


def passphrase_context(answers: list[str | None] | None = None):
    asked: list[str] = []
    answers = list(answers or [])

    def provider(purpose: str):
        asked.append(purpose)
        return answers.pop(0) if answers else None

    return open_context(passphrase_provider=provider), asked


def test_without_a_keyring_the_first_secret_asks_for_a_new_passphrase(tokendesk_home):
    keyring.set_keyring(null.Keyring())
    ctx, asked = passphrase_context([PASSPHRASE])
    try:
        saved = add(ctx, "Protected", "protected-secret")
        store_tokens(ctx, saved.id, "protected-access", "protected-refresh")
        info = ctx.vault.info()
        assert asked == ["new"]
        assert info.mode == MODE_PASSPHRASE and "no usable keyring" in info.reason
        assert info.kdf["alg"] == "argon2id" and info.kdf["memory_kib"] == 65536
        raw = raw_bytes(ctx)
        for value in ("protected-secret", "protected-access", "protected-refresh", PASSPHRASE):
            assert value.encode() not in raw
    finally:
        ctx.close()
    # a later command: locked without a passphrase, a wrong one refused, the right one opens
    later, asked = passphrase_context([None])
    try:
        with pytest.raises(VaultLocked):
            later.secrets.get_for(saved.id, CLIENT_SECRET)
        assert asked == ["unlock"]
    finally:
        later.close()
    wrong, _ = passphrase_context(["not the passphrase"])
    try:
        with pytest.raises(WrongPassphrase, match="passphrase is wrong"):
            wrong.secrets.get_for(saved.id, CLIENT_SECRET)
    finally:
        wrong.close()
    right, asked = passphrase_context([PASSPHRASE])
    try:
        assert right.secrets.get_for(saved.id, CLIENT_SECRET) == "protected-secret"
        assert right.secrets.get_for(saved.id, REFRESH_TOKEN) == "protected-refresh"
        assert asked == ["unlock"]  # once per context (process), not per secret
        assert "protected by a passphrase (unlocked)" in right.secrets.description
    finally:
        right.close()


def test_a_too_short_new_passphrase_is_refused_and_nothing_saved(tokendesk_home):
    keyring.set_keyring(null.Keyring())
    ctx, _ = passphrase_context(["short"])
    try:
        with pytest.raises(VaultError, match="at least 8 characters"):
            add(ctx, "Weak", "weak-secret")
        assert ctx.store.count() == 0 and ctx.vault.info().mode == ""
    finally:
        ctx.close()


def test_check_passphrase_answers_without_opening(tokendesk_home):
    keyring.set_keyring(null.Keyring())
    ctx, _ = passphrase_context([PASSPHRASE])
    add(ctx, "Checked")
    ctx.close()
    later, _ = passphrase_context()
    try:
        assert "wrong" in later.vault.check_passphrase("nope nope nope")
        assert later.vault.check_passphrase(PASSPHRASE) == ""
        assert not later.vault.is_open
        later.vault.open()  # uses what the check derived: no provider needed
        assert later.secrets.get_for(1, CLIENT_SECRET) == "s3cret"
    finally:
        later.close()


# ---- key changes


def test_rekey_reencrypts_everything_and_deletes_the_old_key(ctx, memory_keyring):
    ids = [add(ctx, f"R{i}", f"secret-{i}").id for i in range(5)]
    store_tokens(ctx, ids[0], "rk-access", "rk-refresh")
    old = ctx.vault.info().key_id
    other = open_context()  # another process that has the old key open
    assert other.secrets.get_for(ids[1], CLIENT_SECRET) == "secret-1"
    assert ctx.vault.rekey() == 7
    new = ctx.vault.info()
    assert new.key_id != old and new.rekeyed_at
    assert vault_items(memory_keyring, ctx) == [key_user(new.key_id)]
    assert [ctx.secrets.get_for(i, CLIENT_SECRET) for i in ids] == [f"secret-{i}" for i in range(5)]
    try:
        assert other.secrets.get_for(ids[0], REFRESH_TOKEN) == "rk-refresh"  # reopened under the new key
    finally:
        other.close()


def test_moving_between_keyring_and_passphrase(ctx, memory_keyring):
    saved = add(ctx, "Mover", "moving-secret")
    ctx.vault.use_passphrase(PASSPHRASE)
    assert ctx.vault.info().mode == MODE_PASSPHRASE
    assert vault_items(memory_keyring, ctx) == []  # the key left the keyring
    locked, _ = passphrase_context()
    try:
        with pytest.raises(VaultLocked):
            locked.secrets.get_for(saved.id, CLIENT_SECRET)
    finally:
        locked.close()
    opened, _ = passphrase_context([PASSPHRASE])
    try:
        assert opened.secrets.get_for(saved.id, CLIENT_SECRET) == "moving-secret"
        opened.vault.use_passphrase("another good one")  # a changed passphrase
    finally:
        opened.close()
    again, _ = passphrase_context(["another good one"])
    try:
        assert again.vault.use_keyring()
        assert again.vault.info().mode == MODE_KEYRING
        assert vault_items(memory_keyring, again) == [key_user(again.vault.info().key_id)]
    finally:
        again.close()
    plain = open_context()
    try:
        assert plain.secrets.get_for(saved.id, CLIENT_SECRET) == "moving-secret"
    finally:
        plain.close()


def test_a_key_written_but_never_committed_leaves_no_keyring_item(ctx, memory_keyring, monkeypatch):
    add(ctx, "Stable", "stable-secret")
    key_id = ctx.vault.info().key_id

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt("killed between the keyring write and the commit")

    from desktop.store import vault as vault_module

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(vault_module, "_write_meta", crash)
        ctx.vault.rekey()
    assert len(vault_items(memory_keyring, ctx)) == 2  # the new key reached the keyring, the database did not
    later = open_context()
    try:
        assert later.secrets.get_for(1, CLIENT_SECRET) == "stable-secret"
        assert vault_items(memory_keyring, later) == [key_user(key_id)]  # the orphan is gone
    finally:
        later.close()


def test_vault_logs_never_contain_secrets_or_keys(ctx, memory_keyring, caplog):
    caplog.set_level(logging.DEBUG)
    saved = add(ctx, "Logged", "logged-secret")
    store_tokens(ctx, saved.id, "logged-access", "logged-refresh")
    ctx.vault.rekey()
    ctx.vault.use_passphrase(PASSPHRASE)
    key = ctx.vault.cipher().key
    for value in ("logged-secret", "logged-access", "logged-refresh", PASSPHRASE, base64.b64encode(key).decode()):
        assert value not in caplog.text


# ---- schema 5 stores move in


@pytest.mark.parametrize("where", ["keyring", "file"])
def test_an_earlier_versions_secrets_move_into_the_vault(where, tokendesk_home, memory_keyring):
    old = build_legacy_store(tokendesk_home / "tokendesk.sqlite3", count=4, where=where)
    ctx = open_context(passphrase_provider=lambda purpose: PASSPHRASE)
    try:
        assert ctx.vault.info().legacy
        assert ctx.secrets.get_for(2, REFRESH_TOKEN) == old.secrets[2]["refresh_token"]
        info = ctx.vault.info()
        assert not info.legacy and not info.legacy_cleanup and info.mode == MODE_KEYRING
        for cid, values in old.secrets.items():
            for kind, value in values.items():
                assert ctx.secrets.get_for(cid, kind) == value
        assert ctx.store.conn.execute("SELECT COUNT(*) FROM fallback_secret").fetchone()[0] == 0
        assert vault_items(memory_keyring, ctx) == [key_user(info.key_id)]  # every old item gone
        raw = raw_bytes(ctx)  # plain fallback rows must not linger in free pages or old WAL frames
        assert [v for v in old.all_values() if v.encode() in raw] == []
    finally:
        ctx.close()


def test_a_failed_move_in_changes_nothing_and_runs_again(tokendesk_home, memory_keyring, monkeypatch):
    old = build_legacy_store(tokendesk_home / "tokendesk.sqlite3", count=3)
    from desktop.store import legacy

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed inside the migration's transaction")

    ctx = open_context()
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(legacy, "move_in", killed)
        ctx.secrets.get_for(1, CLIENT_SECRET)
    ctx.close()
    # the old items are all still there and the store still says 'legacy'
    service = f"tokendesk:{old.store_id}"
    for cid, values in old.secrets.items():
        for kind, value in values.items():
            assert memory_keyring.passwords[(service, f"config-{cid}/{kind}")] == value
    again = open_context()
    try:
        assert again.vault.info().legacy and again.vault.info().mode == ""
        assert again.secrets.get_for(3, ACCESS_TOKEN) == old.secrets[3]["access_token"]
        assert not again.vault.info().legacy
        assert vault_items(memory_keyring, again) == [key_user(again.vault.info().key_id)]
    finally:
        again.close()


def test_a_legacy_store_whose_keyring_is_locked_waits(tokendesk_home, memory_keyring):
    old = build_legacy_store(tokendesk_home / "tokendesk.sqlite3", count=2)

    class Locked(LockedKeyring):
        def get_password(self, service, username):
            raise RuntimeError("Prompt dismissed: the collection is locked")

    keyring.set_keyring(Locked())
    ctx = open_context()
    try:
        with pytest.raises(KeyringGone, match="cannot be read now"):
            ctx.secrets.get_for(1, CLIENT_SECRET)
        assert ctx.vault.info().legacy
    finally:
        ctx.close()
    keyring.set_keyring(memory_keyring)
    ctx = open_context()
    try:
        assert ctx.secrets.get_for(1, CLIENT_SECRET) == old.secrets[1]["client_secret"]
    finally:
        ctx.close()


# ---- when a refresh is due


def test_refresh_due_is_the_lead_time_but_never_before_half_the_lifetime():
    now = utcnow()
    five_minutes = TokenState(1, has_access_token=True, last_requested_at=now,
                              token_expires_at=now + timedelta(minutes=5))
    assert five_minutes.refresh_due_at(timedelta(minutes=5)) == now + timedelta(minutes=2, seconds=30)
    hour = TokenState(1, has_access_token=True, last_refreshed_at=now, token_expires_at=now + timedelta(hours=1))
    assert hour.refresh_due_at(timedelta(minutes=5)) == now + timedelta(minutes=55)
    unknown_issue = TokenState(1, has_access_token=True, token_expires_at=now + timedelta(minutes=5))
    assert unknown_issue.refresh_due_at(timedelta(minutes=5)) == now
    assert TokenState(1, has_access_token=True).refresh_due_at(timedelta(minutes=5)) is None


def test_token_service_hands_out_a_5_minute_token_without_refreshing(ctx):
    from desktop.oauth.tokens import TokenService

    saved = add(ctx, "Keycloak-like")
    now = utcnow()
    store_tokens(ctx, saved.id, "five-minute-token", "rt")
    ctx.store.update_state(saved.id, last_requested_at=now - timedelta(seconds=60),
                           token_expires_at=now + timedelta(seconds=240))
    service = TokenService(ctx)
    assert service.access_token("Keycloak-like") == "five-minute-token"  # no network: the endpoint is fake
    assert not service.is_due(ctx.store.get_state(saved.id))
    ctx.store.update_state(saved.id, last_requested_at=now - timedelta(seconds=200),
                           token_expires_at=now + timedelta(seconds=100))
    assert service.is_due(ctx.store.get_state(saved.id))


def test_a_process_that_opened_the_vault_before_a_rekey_writes_under_the_new_key(ctx, memory_keyring):
    """The window has the vault open; 'tokendesk vault rekey' runs; the window then stores a refreshed token.
    Written under the old key it would be unreadable after the next start."""
    saved = add(ctx, "Window", "window-secret")
    window = open_context()
    assert window.secrets.get_for(saved.id, CLIENT_SECRET) == "window-secret"  # the window's key is open
    ctx.vault.rekey()  # the CLI
    store_tokens(window, saved.id, "after-rekey-access", "after-rekey-refresh")
    window.close()
    later = open_context()  # the next start
    try:
        assert later.secrets.get_for(saved.id, REFRESH_TOKEN) == "after-rekey-refresh"
        assert later.secrets.get_for(saved.id, CLIENT_SECRET) == "window-secret"
    finally:
        later.close()


def test_an_export_after_another_process_rekeyed_reads_every_secret(ctx):
    from desktop.backup import export_configurations

    add(ctx, "One", "secret-one")
    add(ctx, "Two", "secret-two")
    window = open_context()
    assert window.secrets.get_many(CLIENT_SECRET, [1, 2]) == {1: "secret-one", 2: "secret-two"}
    ctx.vault.rekey()
    try:
        text = export_configurations(window, include_secrets=True).text
        assert "secret-one" in text and "secret-two" in text
    finally:
        window.close()
