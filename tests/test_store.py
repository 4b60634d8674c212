"""The SQLite store: schema migrations, WAL, file mode, refusals, transactions, names, state, settings, threads."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop.models.config import INVALID_TEMPORARILY, TokenConfiguration
from desktop.models.settings import SETTINGS, spec_for
from desktop.store import database
from desktop.store.database import MIGRATIONS, SCHEMA_VERSION, DatabaseError, schema_version
from desktop.store.repository import DuplicateNameError, NotFoundError, Store, StoreError


def _cfg(name: str, template: str = "Generic OAuth2", **config) -> TokenConfiguration:
    base = {"TemplateName": template, "ClientID": f"id-{name}", "Scope": "openid"}
    base.update(config)
    return TokenConfiguration(name=name, config=base)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tokendesk.sqlite3"


@pytest.fixture
def store(db_path: Path):
    s = Store.open(db_path)
    yield s
    s.close()


# ---- schema, WAL, file mode


def test_new_file_is_migrated_to_the_current_schema(db_path: Path):
    conn = database.connect(db_path)
    try:
        assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
        assert schema_version(conn) == SCHEMA_VERSION
        assert {"meta", "token_config", "token_state", "setting", "fallback_secret"} <= _tables(conn)
        store_id = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
        assert len(store_id) == 32 and int(store_id, 16) >= 0
    finally:
        conn.close()


def test_empty_existing_file_is_migrated(db_path: Path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"")
    conn = database.connect(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert "token_config" in _tables(conn)
    finally:
        conn.close()


def _old_database(db_path: Path, version: int) -> sqlite3.Connection:
    """A database as release ``version`` wrote it: its migrations only, a store id and configuration 1 'Old'."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            raw.execute(statement)
    raw.execute("INSERT INTO meta(key, value) VALUES ('store_id', 'feedfacefeedfacefeedfacefeedface')")
    raw.execute(
        "INSERT INTO token_config(id, name, name_key, config_json, create_time, change_time) VALUES "
        "(1, 'Old', 'old', '{\"TemplateName\": \"Generic OAuth2\"}', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
    )
    raw.execute(f"PRAGMA user_version = {version}")
    raw.commit()
    return raw


def test_old_schema_is_migrated_keeping_its_data(db_path: Path):
    """A database at schema version 1 (as the first release wrote it) gains the later tables, keeps its rows."""
    _old_database(db_path, 1).close()

    store = Store.open(db_path)
    try:
        assert schema_version(store.conn) == SCHEMA_VERSION
        assert store.store_id == "feedfacefeedfacefeedfacefeedface"
        assert store.names() == ["Old"]
        assert "notification_log" in _tables(store.conn)
    finally:
        store.close()


def test_schema_3_mail_accounts_gain_their_last_test_and_keep_everything_else(db_path: Path):
    """The last release before 4 wrote mail accounts without an outcome column: they read as never tested."""
    from desktop.usage.repository import UsageRepository
    from desktop.usage.runs import LastRun

    raw = _old_database(db_path, 3)
    raw.execute(
        "INSERT INTO mail_account(name, name_key, protocol, host, port, login, config_id, create_time, change_time) "
        "VALUES ('Box', 'box', 'IMAPS', 'imap.example.org', NULL, 'a@example.org', 1, '2024-01-01 00:00:00', "
        "'2024-01-01 00:00:00')"
    )
    raw.commit()
    raw.close()

    store = Store.open(db_path)
    try:
        assert schema_version(store.conn) == SCHEMA_VERSION >= 4
        repo = UsageRepository(store)
        [box] = repo.list_mail_accounts()
        assert (box.name, box.host, box.config_name, box.last_run) == ("Box", "imap.example.org", "Old", None)
        run = LastRun(True, "OK, 3 messages", datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
        repo.record_mail_test("box", run)
        again = repo.get_mail_account("Box")
        assert again.last_run == run and again.change_time == "2024-01-01 00:00:00"  # not an edit
    finally:
        store.close()


def test_second_open_does_not_migrate_again(db_path: Path):
    first = Store.open(db_path)
    first.insert(_cfg("Kept"))
    store_id = first.store_id
    first.close()
    second = Store.open(db_path)
    try:
        assert second.store_id == store_id
        assert second.names() == ["Kept"]
    finally:
        second.close()


def test_wal_mode_and_private_file(store: Store, db_path: Path):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.insert(_cfg("Something"))
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def test_newer_schema_is_refused_unchanged(db_path: Path):
    conn = database.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 4}")
    conn.close()
    before = db_path.read_bytes()

    with pytest.raises(DatabaseError) as info:
        Store.open(db_path)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 4}" in message
    assert "Update Tokendesk" in message
    assert "not changed" in message
    assert db_path.read_bytes() == before
    check = sqlite3.connect(db_path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 4
    check.close()


def test_damaged_file_gives_a_plain_database_error(db_path: Path):
    db_path.parent.mkdir(parents=True)
    garbage = b"this is certainly not an SQLite database\n" * 200
    db_path.write_bytes(garbage)
    with pytest.raises(DatabaseError) as info:
        Store.open(db_path)
    assert not isinstance(info.value, sqlite3.Error)
    message = str(info.value)
    assert str(db_path) in message
    assert "cannot be opened" in message
    assert "tokendesk import" in message  # says what to do next
    assert info.value.__cause__ is None  # no chained sqlite traceback
    assert db_path.read_bytes() == garbage


# ---- configurations and transactions


def test_insert_sets_id_times_and_empty_state(store: Store):
    saved = store.insert(_cfg("Support"), has_client_secret=True)
    assert saved.id is not None and saved.create_time and saved.change_time
    found = store.get("support")
    assert found.id == saved.id and found.name == "Support" and found.has_client_secret
    state = store.get_state(saved.id)
    assert state.never_requested() and not state.has_access_token
    assert store.count() == 1


def test_client_secret_is_never_written_into_config_json(store: Store):
    store.insert(_cfg("Leaky", ClientSecret="do-not-store-me"))
    raw = store.conn.execute("SELECT config_json FROM token_config").fetchone()[0]
    assert "do-not-store-me" not in raw
    assert "ClientSecret" not in json.loads(raw)


def test_a_failing_transaction_rolls_back_every_change(store: Store):
    kept = store.insert(_cfg("Kept"))
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        store.insert(_cfg("Lost"))
        store.update_state(kept.id, has_access_token=True)
        store.delete(kept.id)
        raise RuntimeError("boom")
    assert store.names() == ["Kept"]
    assert store.get_state(kept.id).has_access_token is False


def test_update_changes_fields_and_change_time(store: Store):
    saved = store.insert(_cfg("Before"))
    saved.name = "After"
    saved.valid_id = INVALID_TEMPORARILY
    saved.scope = "openid email"
    saved.change_time = "2000-01-01 00:00:00"
    updated = store.update(saved)
    assert updated.change_time != "2000-01-01 00:00:00"
    fresh = store.get("After")
    assert fresh.valid_id == INVALID_TEMPORARILY and fresh.scope == "openid email"
    assert store.find("Before") is None


def test_update_of_an_unsaved_or_deleted_configuration_fails(store: Store):
    with pytest.raises(StoreError):
        store.update(_cfg("never saved"))
    saved = store.insert(_cfg("Gone"))
    store.delete(saved.id)
    with pytest.raises(NotFoundError):
        store.update(saved)


def test_delete_removes_row_and_token_state(store: Store):
    saved = store.insert(_cfg("Doomed"))
    store.update_state(saved.id, has_access_token=True)
    store.delete(saved.id)
    assert store.find("Doomed") is None
    assert store.conn.execute("SELECT COUNT(*) FROM token_state").fetchone()[0] == 0
    with pytest.raises(NotFoundError, match="No configuration named 'Doomed'"):
        store.get("Doomed")


def test_names_are_unique_case_insensitively(store: Store):
    store.insert(_cfg("Support Mailbox"))
    with pytest.raises(DuplicateNameError) as info:
        store.insert(_cfg("SUPPORT mailbox"))
    assert str(info.value) == "A configuration named 'SUPPORT mailbox' already exists; choose another name."
    assert store.names() == ["Support Mailbox"]
    assert store.count() == 1


def test_renaming_onto_a_taken_name_is_refused_and_changes_nothing(store: Store):
    store.insert(_cfg("Alpha"))
    beta = store.insert(_cfg("Beta"))
    beta.name = "alpha"
    beta.scope = "changed"
    with pytest.raises(DuplicateNameError, match="'alpha' already exists"):
        store.update(beta)
    assert store.get("Beta").scope == "openid"
    # a change of case of its own name is fine
    beta = store.get("Beta")
    beta.name = "BETA"
    store.update(beta)
    assert store.names() == ["Alpha", "BETA"]


def test_template_name_is_permanent_on_update(store: Store):
    saved = store.insert(_cfg("Fixed", template="Google Mail"))
    saved.template_name = "Generic OAuth2"
    returned = store.update(saved)
    assert returned.template_name == "Google Mail"
    assert store.get("Fixed").template_name == "Google Mail"


def test_unknown_config_keys_survive_save_update_and_load(store: Store):
    unknown = {
        "ZnunyFutureKey": {"Nested": [1, "two", {"three": 3}]},
        "Requests": {
            "AuthorizationCode": {"Request": {"URL": "https://idp.example/auth", "Vendor": "x"}, "Custom": True},
            "SomethingNew": {"Request": {"URL": "https://idp.example/new"}},
        },
    }
    cfg = _cfg("Keeper", **unknown)
    cfg.extra = {"CreateBy": 7, "Comment": "from Znuny"}
    saved = store.insert(cfg)
    loaded = store.get("Keeper")
    assert loaded.config["ZnunyFutureKey"] == unknown["ZnunyFutureKey"]
    assert loaded.config["Requests"]["SomethingNew"] == unknown["Requests"]["SomethingNew"]
    assert loaded.config["Requests"]["AuthorizationCode"]["Custom"] is True
    assert loaded.extra == {"CreateBy": 7, "Comment": "from Znuny"}
    loaded.scope = "changed"
    store.update(loaded)
    again = store.get("Keeper")
    assert again.config["ZnunyFutureKey"] == unknown["ZnunyFutureKey"]
    assert again.config["Requests"]["AuthorizationCode"]["Request"]["Vendor"] == "x"
    assert again.id == saved.id and again.scope == "changed"


def test_list_with_state_is_sorted_by_name_and_joins_state(store: Store):
    for name in ("charlie", "Alpha", "bravo"):
        store.insert(_cfg(name))
    bravo = store.get("bravo")
    store.update_state(bravo.id, has_access_token=True)
    rows = store.list_with_state()
    assert [c.name for c, _ in rows] == ["Alpha", "bravo", "charlie"]
    assert [s.has_access_token for _, s in rows] == [False, True, False]
    assert all(s.config_id == c.id for c, s in rows)


# ---- token state


def test_update_state_round_trips_every_field(store: Store):
    saved = store.insert(_cfg("Stateful"))
    cest = timezone(timedelta(hours=2))
    expires = datetime(2031, 5, 6, 14, 30, 15, tzinfo=cest)
    refresh_expires = datetime(2031, 8, 1, 0, 0, 0, tzinfo=UTC)
    naive = datetime(2030, 1, 2, 3, 4, 5)  # naive values are taken as UTC
    state = store.update_state(
        saved.id,
        has_access_token=1,
        has_refresh_token=True,
        token_expires_at=expires,
        refresh_token_expires_at=refresh_expires,
        last_requested_at=naive,
        error_message="invalid_grant",
        error_code="70000, 9002313",
        error_description="The refresh token has expired.",
        reauthorization_needed=True,
    )
    reread = store.get_state(saved.id)
    assert reread == state
    assert reread.has_access_token is True and reread.has_refresh_token is True
    assert reread.token_expires_at == expires
    assert reread.token_expires_at.utcoffset() == timedelta(0)
    assert reread.refresh_token_expires_at == refresh_expires
    assert reread.last_requested_at == naive.replace(tzinfo=UTC)
    assert reread.error_text == "invalid_grant (error code 70000, 9002313): The refresh token has expired."
    assert reread.reauthorization_needed is True
    # other fields stay as they were; None clears
    cleared = store.update_state(saved.id, error_message=None, error_code=None, error_description=None)
    assert not cleared.has_error
    assert cleared.token_expires_at == expires
    assert store.update_state(saved.id, token_expires_at=None).token_expires_at is None


def test_update_state_refuses_unknown_fields(store: Store):
    saved = store.insert(_cfg("Strict"))
    with pytest.raises(StoreError, match="access_token"):
        store.update_state(saved.id, access_token="a secret has no column here")


def test_state_of_a_configuration_without_a_row_is_empty(store: Store):
    assert store.get_state(424242).never_requested()


# ---- settings


def test_settings_defaults_for_every_spec(store: Store):
    values = store.settings()
    assert values == {spec.key: spec.default for spec in SETTINGS}
    assert values["pop3.split_hosts"] == ["outlook.office365.com", "pop-mail.outlook.com"]
    assert store.get_setting("redirect.http_type") == "http"


def test_set_and_get_settings(store: Store):
    store.set_setting("network.timeout_seconds", 45)
    store.set_setting("pop3.split_hosts", ["pop.example.org"])
    store.set_setting("redirect.http_type", "https")
    store.set_setting("ui.close_to_tray_hint_shown", True)
    assert store.get_setting("network.timeout_seconds") == 45
    values = store.settings()
    assert values["pop3.split_hosts"] == ["pop.example.org"]
    assert values["redirect.http_type"] == "https"
    assert values["ui.close_to_tray_hint_shown"] is True
    # a value equal to the default is not stored at all
    store.set_setting("network.timeout_seconds", spec_for("network.timeout_seconds").default)
    keys = {r[0] for r in store.conn.execute("SELECT key FROM setting")}
    assert "network.timeout_seconds" not in keys
    assert store.get_setting("network.timeout_seconds") == 20


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("network.timeout_seconds", -1),
        ("network.timeout_seconds", "20"),
        ("network.timeout_seconds", True),
        ("redirect.http_type", "ftp"),
        ("pop3.split_hosts", "outlook.office365.com"),
        ("ui.close_to_tray_hint_shown", "yes"),
    ],
)
def test_invalid_setting_values_are_rejected_and_not_stored(store: Store, key: str, value):
    with pytest.raises(ValueError, match=key):
        store.set_setting(key, value)
    assert store.conn.execute("SELECT COUNT(*) FROM setting").fetchone()[0] == 0
    assert store.get_setting(key) == spec_for(key).default


def test_unknown_setting_key_names_the_known_ones(store: Store):
    with pytest.raises(KeyError, match="known settings: redirect.http_type"):
        store.set_setting("no.such.setting", 1)


def test_damaged_stored_setting_falls_back_to_default(store: Store):
    with store.transaction():
        store.conn.execute("INSERT INTO setting(key, value_json) VALUES ('network.timeout_seconds', '\"abc\"')")
    assert store.get_setting("network.timeout_seconds") == 20
    assert store.settings()["network.timeout_seconds"] == 20


def test_set_settings_is_all_or_nothing(store: Store):
    with pytest.raises(ValueError):
        store.set_settings([("network.timeout_seconds", 99), ("refresh.lead_time_seconds", -5)])
    assert store.get_setting("network.timeout_seconds") == 20


# ---- connections per thread and across processes


def test_a_write_from_a_worker_thread_is_seen_by_the_main_thread(store: Store):
    main_conn = store.conn
    seen: dict[str, object] = {}

    def worker() -> None:
        try:
            seen["conn"] = store.conn
            saved = store.insert(_cfg("From worker"))
            store.update_state(saved.id, has_access_token=True)
        except BaseException as exc:  # reported below
            seen["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert "error" not in seen, seen.get("error")
    assert seen["conn"] is not main_conn
    found = store.get("from worker")
    assert store.get_state(found.id).has_access_token is True


def test_a_worker_transaction_does_not_swallow_main_thread_writes(store: Store):
    started = threading.Event()
    release = threading.Event()
    result: dict[str, object] = {}

    def worker() -> None:
        try:
            with store.transaction():
                store.insert(_cfg("Worker row"))
                started.set()
                release.wait(5)
                raise RuntimeError("worker rolls back")
        except RuntimeError:
            result["rolled back"] = True

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(5)
    release.set()
    thread.join(10)
    store.insert(_cfg("Main row"))
    assert result == {"rolled back": True}
    assert store.names() == ["Main row"]


def test_data_version_changes_when_another_connection_commits(store: Store, db_path: Path):
    before = store.data_version()
    store.insert(_cfg("Own write"))
    assert store.data_version() == before  # own commits do not count
    other = Store.open(db_path)
    try:
        other.insert(_cfg("Other write"))
    finally:
        other.close()
    assert store.data_version() != before
    assert "Other write" in store.names()


def test_in_memory_store_works_on_its_own_thread():
    mem = Store.open(":memory:")
    try:
        mem.insert(_cfg("Memory"))
        assert mem.names() == ["Memory"]
        assert mem.path is None
        errors: list[BaseException] = []
        thread = threading.Thread(target=lambda: errors.append(_catch(lambda: mem.conn)))
        thread.start()
        thread.join(5)
        assert isinstance(errors[0], StoreError)
    finally:
        mem.close()


def _catch(fn):
    try:
        fn()
    except BaseException as exc:
        return exc
    return None


def test_store_ids_differ_between_databases(tmp_path: Path):
    a = Store.open(tmp_path / "a.sqlite3")
    b = Store.open(tmp_path / "b.sqlite3")
    try:
        assert a.store_id != b.store_id
        uuid.UUID(a.store_id)
    finally:
        a.close()
        b.close()


def test_the_default_member_name_is_user_at_host(monkeypatch):
    """``user@host`` as getpass and socket give them (the host name without importing socket: the window's start)."""
    import getpass
    import socket

    from desktop.store.repository import default_member_name

    monkeypatch.delenv("TOKENDESK_MEMBER", raising=False)
    assert default_member_name() == f"{getpass.getuser()}@{socket.gethostname()}"
    for key in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(key, raising=False)
    assert default_member_name() == f"{getpass.getuser()}@{socket.gethostname()}"  # from the password database
    monkeypatch.setenv("TOKENDESK_MEMBER", " alice@helpdesk ")
    assert default_member_name() == "alice@helpdesk"
