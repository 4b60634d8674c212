"""The store's contract, run against both backends: the local SQLite file (fast lane) and a real PostgreSQL
server (the ``postgres`` lane: tests/support/pgserver.py). Whatever sits above the store - services, vault,
usage, notify, relay - sees the same behaviour from either."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from desktop.models.config import TokenConfiguration
from desktop.store.database import SCHEMA_VERSION, DatabaseError
from desktop.store.repository import ChangedMeanwhile, DuplicateNameError, Store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "contract.sqlite3")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def backend_ctx(location, memory_keyring):
    from desktop.services import open_context
    from desktop.usage.guards import install_delete_guards

    context = open_context(location)
    if context.store.is_team:  # a team store's vault is made by 'store init' (the data key wrapped for the member)
        from desktop.store.team import init_store

        init_store(context.store, "contract@test")
    install_delete_guards(context)
    yield context
    context.close()


def _cfg(name: str) -> TokenConfiguration:
    return TokenConfiguration(name=name, config={"TemplateName": "Generic OAuth2", "ClientID": f"id-{name}",
                                                  "Scope": "openid", "AuthFlow": "CodeFlow"})


def _add(ctx, name: str, secret: str | None = "s3cret"):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = f"client-{name}"
    return ctx.configurations.add(cfg, secret)


def test_schema_is_current_and_the_store_has_an_identity(location):
    store = Store.open(location)
    try:
        assert int(store.conn.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
        assert len(store.store_id) == 32
        assert store.is_team == location.startswith("postgresql://")
        assert "password" not in store.location and (store.url is None or ":" + "@" not in store.url)
    finally:
        store.close()
    again = Store.open(location)  # a second open finds the work done, same identity
    try:
        assert again.store_id == store.store_id
    finally:
        again.close()


def test_configurations_round_trip_with_their_client_secret(backend_ctx):
    saved = _add(backend_ctx, "Support")
    store = backend_ctx.store
    assert saved.id and store.find("support").name == "Support"
    assert [c.name for c in store.list_configurations()] == ["Support"]
    assert backend_ctx.secrets.get_for(saved.id, "client_secret") == "s3cret"
    raw = store.conn.execute("SELECT value FROM config_secret WHERE config_id = ?", (saved.id,)).fetchone()[0]
    assert b"s3cret" not in bytes(raw)  # sealed by the vault, never in clear in the database


def test_a_taken_name_is_refused_case_insensitively_and_nothing_is_written(backend_ctx):
    _add(backend_ctx, "Support")
    with pytest.raises(DuplicateNameError):
        backend_ctx.store.insert(_cfg("SUPPORT"))
    assert backend_ctx.store.count() == 1


def test_insert_many_is_all_or_nothing(backend_ctx):
    store = backend_ctx.store
    ids = store.insert_many([(_cfg(f"c{i}"), False) for i in range(50)])
    assert len(set(ids)) == 50 and store.count() == 50
    assert store.get_by_id(ids[7]).name == "c7"
    with pytest.raises(DuplicateNameError):
        store.insert_many([(_cfg("new one"), False), (_cfg("C3"), False)])
    assert store.count() == 50 and store.find("new one") is None
    # ids keep coming after a bulk insert
    assert _add(backend_ctx, "after").id not in ids


def test_token_state_times_and_flags_round_trip(backend_ctx):
    saved = _add(backend_ctx, "Support")
    expires = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    backend_ctx.store.update_state(saved.id, has_access_token=True, token_expires_at=expires,
                                   error_message="", token_info={"account": "a@example.org"})
    state = backend_ctx.store.get_state(saved.id)
    assert state.has_access_token and state.token_expires_at == expires
    assert state.token_info.get("account") == "a@example.org"


def test_a_failed_transaction_leaves_nothing(backend_ctx):
    store = backend_ctx.store
    with pytest.raises(RuntimeError), store.transaction():
        store.insert(_cfg("half"))
        raise RuntimeError("boom")
    assert store.find("half") is None
    store.insert(_cfg("whole"))  # the connection is usable afterwards
    assert store.find("whole") is not None


def test_a_stale_edit_is_refused_and_says_what_changed(backend_ctx):
    saved = _add(backend_ctx, "Support")
    mine = backend_ctx.store.get("Support")
    theirs = backend_ctx.store.get("Support")
    theirs.config["Scope"] = "changed by the other admin"
    backend_ctx.configurations.update(theirs)
    mine.config["ClientID"] = "mine"
    with pytest.raises(ChangedMeanwhile) as caught:
        backend_ctx.store.update(mine, expected=mine)
    assert caught.value.changes and backend_ctx.store.get_by_id(saved.id).client_id != "mine"


def test_delete_takes_secrets_and_state_along(backend_ctx):
    saved = _add(backend_ctx, "Support")
    backend_ctx.configurations.delete(saved.name)
    conn = backend_ctx.store.conn
    assert conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM token_state").fetchone()[0] == 0


def test_settings_round_trip(backend_ctx):
    backend_ctx.store.set_setting("refresh.lead_time_seconds", 420)
    assert backend_ctx.store.get_setting("refresh.lead_time_seconds") == 420


def test_a_mail_account_keeps_its_configuration_from_being_deleted(backend_ctx):
    from desktop.usage.accounts import MailAccount
    from desktop.usage.repository import UsageRepository

    saved = _add(backend_ctx, "Support")
    repo = UsageRepository(backend_ctx.store)
    account = repo.add_mail_account(MailAccount(name="Inbox", protocol="IMAPS", host="imap.example.org", port=993,
                                                login="a@example.org", config_name="Support"))
    assert account.id and repo.get_mail_account("inbox").config_id == saved.id
    with pytest.raises(Exception) as caught:
        backend_ctx.configurations.delete(saved.name)
    assert "Inbox" in str(caught.value)
    assert backend_ctx.store.find("Support") is not None


def test_the_notification_log_remembers_once(backend_ctx):
    from desktop.notify.log import SqliteLog

    saved = _add(backend_ctx, "Support")
    log = SqliteLog(backend_ctx.store)
    key = (saved.id, "token_expired", "2027-01-01T00:00:00+00:00")
    now = datetime.now(UTC)
    log.record([key], now)
    log.record([key], now)  # twice: still one row
    assert log.announced([key]) == {key}
    assert log.prune(set()) == 1 and log.announced([key]) == set()


def test_relay_devices_and_log(backend_ctx):
    from desktop.relay.devices import DeviceRepository
    from desktop.relay.log import LogEntry, MessageLog
    from desktop.usage.accounts import MailAccount
    from desktop.usage.repository import UsageRepository

    _add(backend_ctx, "Support")
    UsageRepository(backend_ctx.store).add_mail_account(MailAccount(
        name="Out", protocol="SMTP", host="smtp.example.org", port=587, login="a@example.org", config_name="Support"))
    devices = DeviceRepository(backend_ctx.store)
    device, password = devices.add("printer", "Out")
    assert device.id and len(password) >= 16 and devices.get("PRINTER").name == "printer"
    log = MessageLog(backend_ctx.store)
    log.record(LogEntry(time=datetime.now(UTC), device="printer", sender="a@example.org", recipients=["b@x.org"],
                        size=10, ok=True, answer="250 ok"))
    assert [e.device for e in log.recent()] == ["printer"]
    assert log.sent_within("printer", timedelta(hours=1)) == 1


def test_another_connection_sees_commits_and_data_version_moves(backend_ctx, location):
    other = Store.open(location)
    try:
        before = other.data_version()
        _add(backend_ctx, "Support")
        assert other.find("Support") is not None
        assert other.data_version() != before
    finally:
        other.close()


def test_worker_threads_get_their_own_connection(backend_ctx):
    store = backend_ctx.store
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            store.insert(_cfg(f"thread {i}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and store.count() == 4


def test_a_newer_database_is_refused_untouched(location):
    store = Store.open(location)
    try:
        if store.is_team:
            store.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
        else:
            store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    finally:
        store.close()
    with pytest.raises(DatabaseError, match="Update Tokendesk"):
        Store.open(location)


def test_the_window_log_is_per_member_on_a_team_store_and_the_alert_rows_are_shared(backend_ctx):
    from desktop.notify.log import SqliteLog

    saved = _add(backend_ctx, "Support")
    now = datetime.now(UTC)
    key = (saved.id, "token_expired", "2027-01-01T00:00:00+00:00")
    alice, bob, plain = (SqliteLog(backend_ctx.store, scope="alice"), SqliteLog(backend_ctx.store, scope="bob"),
                         SqliteLog(backend_ctx.store))
    alice.record([key], now)
    assert alice.announced([key]) == {key}
    assert bob.announced([key]) == set() and plain.announced([key]) == set()  # bob's tray still warns
    alert = (saved.id, "alert:mail:token_expired", "2027-01-01T00:00:00+00:00")
    plain.record([alert], now)
    assert SqliteLog(backend_ctx.store).announced([alert]) == {alert}
    assert bob.prune(set()) == 0 and alice.announced([key]) == {key}  # bob's pruning leaves alice's rows
    # an event of a configuration deleted meanwhile is not remembered, and nothing fails
    plain.record([(saved.id + 999, "token_expired", "2027-01-01T00:00:00+00:00")], now)
    assert plain.announced([(saved.id + 999, "token_expired", "2027-01-01T00:00:00+00:00")]) == set()


def test_list_with_state_for_reads_only_the_configurations_asked_for(backend_ctx):
    store = backend_ctx.store
    ids = store.insert_many([(_cfg(f"c{i}"), False) for i in range(5)])
    got = store.list_with_state_for([ids[3], ids[1], 99999])
    assert [cfg.name for cfg, _state in got] == ["c1", "c3"]  # the missing id is left out
    assert all(state.config_id == cfg.id for cfg, state in got)
    assert store.list_with_state_for([]) == []
