"""Who did what (issue 11, point 6): desktop/store/history.py, the rows every change writes in its own transaction,
and ``tokendesk history NAME``. Sign-in, refresh and revoke against the real OAuth2 server:
tests/oauth/test_history_realserver.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from desktop.store import history
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET

MEMBER = "alice@helpdesk"


@pytest.fixture
def ctx(monkeypatch, tokendesk_home, memory_keyring):
    """The usual context, opened as the member ``alice@helpdesk`` (TOKENDESK_MEMBER)."""
    from desktop.services import open_context
    from desktop.usage.guards import install_delete_guards

    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    context = open_context()
    install_delete_guards(context)
    yield context
    context.close()


def actions(ctx, name: str) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in history.for_configuration(ctx.store, name)]


def test_add_edit_delete_are_recorded_with_member_and_time_and_outlive_the_delete(ctx, make_config):
    before = datetime.now(UTC).replace(microsecond=0)
    cfg = make_config("Support mailbox")
    edited = ctx.store.get(cfg.name)
    edited.scope = "https://outlook.office.com/IMAP.AccessAsUser.All"
    ctx.configurations.update(edited, "n3w-s3cret-value", expected=cfg)
    ctx.configurations.delete("support MAILBOX")
    entries = history.for_configuration(ctx.store, "Support Mailbox")
    assert [e.action for e in entries] == ["delete", "edit", "add"]  # newest first
    assert {e.member for e in entries} == {MEMBER}
    assert all(before <= e.time <= datetime.now(UTC) for e in entries)
    assert entries[2].detail == "template Microsoft Exchange Online"
    assert "Scope: " in entries[1].detail and "IMAP.AccessAsUser.All" in entries[1].detail
    assert "client secret changed" in entries[1].detail and "n3w-s3cret-value" not in entries[1].detail
    assert entries[0].config_id == cfg.id and entries[0].config_name == "Support mailbox"
    assert ctx.store.find("Support mailbox") is None  # gone, its history stays


def test_an_endpoint_move_says_the_tokens_were_forgotten(ctx, make_config):
    cfg = make_config("Moved", TokenByAuthorizationCode="https://login.example.com/token")
    moved = ctx.store.get(cfg.name)
    moved.set_endpoint("TokenByAuthorizationCode", "https://other.example.net/token")
    ctx.configurations.update(moved)
    action, detail = actions(ctx, "Moved")[0]
    assert action == "edit" and "other.example.net" in detail
    assert detail.endswith("endpoints moved to another host: stored tokens forgotten")
    assert "client secret removed" in detail


def test_a_rename_takes_the_history_along(ctx, make_config):
    cfg = make_config("Old name")
    renamed = ctx.store.get(cfg.name)
    renamed.name = "New name"
    ctx.configurations.update(renamed)
    assert actions(ctx, "Old name") == []
    entries = history.for_configuration(ctx.store, "new name")
    assert [e.action for e in entries] == ["edit", "add"]
    assert entries[1].config_name == "Old name" and "Name: Old name -> New name" in entries[0].detail


def test_a_change_that_fails_leaves_no_history_and_a_failing_history_write_no_change(ctx, make_config, monkeypatch):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration("Rolled back")
    cfg.client_id = "client"
    with pytest.raises(RuntimeError), ctx.store.transaction():
        ctx.configurations.add(cfg, "s3cret")
        raise RuntimeError("the caller's transaction fails after the add")
    assert ctx.store.find("Rolled back") is None and actions(ctx, "Rolled back") == []

    kept = make_config("Kept")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(history, "record", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ctx.configurations.delete("Kept")
    assert ctx.store.find("Kept") is not None  # the delete went with its history row
    assert ctx.secrets.get_for(kept.id, CLIENT_SECRET) == "s3cret"
    with pytest.raises(RuntimeError, match="disk full"):
        ctx.configurations.add(cfg, None)
    assert ctx.store.find("Rolled back") is None
    assert actions(ctx, "Kept") == [("add", "template Microsoft Exchange Online")]


def test_history_is_bounded_per_configuration_and_keeps_the_newest(ctx, make_config, monkeypatch):
    monkeypatch.setattr(history, "MAX_ROWS", 10)
    monkeypatch.setattr(history, "PRUNE_SLACK", 5)
    monkeypatch.setattr(history, "CHECK_EVERY", 3)
    cfg = make_config("Busy")
    other = make_config("Quiet")
    start = datetime.now(UTC) + timedelta(days=1)  # after the add's row
    for minute in range(60):
        history.record(ctx.store, cfg.id, cfg.name, history.REFRESH, f"#{minute}",
                       when=start + timedelta(minutes=minute))
        rows = len(history.for_configuration(ctx.store, "Busy", limit=None))
        assert rows <= 10 + 5 + 3  # never more than the bound plus the rows between two checks
    details = [e.detail for e in history.for_configuration(ctx.store, "Busy", limit=None)]
    assert details[0] == "#59" and "#0" not in details  # the newest stay, the oldest went
    assert history.prune(ctx.store) == len(details) - 10
    assert [e.detail for e in history.for_configuration(ctx.store, "Busy", limit=None)] == [
        f"#{m}" for m in range(59, 49, -1)]
    assert actions(ctx, "Quiet") == [("add", "template Microsoft Exchange Online")]  # other names untouched
    assert other.id is not None


def _store_valid_token(ctx, cfg, value: str = "at-value-0123456789") -> None:
    from desktop.models.token import utcnow

    ctx.secrets.prepare_write()
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, value)
        ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(hours=10))


def test_a_token_handed_to_a_program_is_recorded_once_an_hour_per_program(ctx, make_config):
    from desktop.oauth.tokens import TokenService

    cfg = make_config("Mail relay")
    _store_valid_token(ctx, cfg)
    now = datetime.now(UTC)
    clock = {"now": now}
    service = TokenService(ctx, clock=lambda: clock["now"])
    for minutes in (0, 2, 30, 59):  # a cron job every minute: one row for the hour
        clock["now"] = now + timedelta(minutes=minutes)
        assert service.access_token_and_state(cfg.name, used_by="/usr/bin/msmtp")[0] == "at-value-0123456789"
    clock["now"] = now + timedelta(minutes=60)
    service.access_token_and_state(cfg.name, used_by="/usr/bin/fetchmail")  # another program: at once
    clock["now"] = now + timedelta(minutes=62)
    service.access_token_and_state(cfg.name, used_by="/usr/bin/msmtp")  # an hour after its last row
    service.access_token_and_state(cfg.name, used_by="")  # Tokendesk itself, or a program it could not name
    service.access_token(cfg.name, mark_used=False)  # not handed out (the window's own look)
    used = [(e.detail, e.time) for e in history.for_configuration(ctx.store, cfg.name) if e.action == "handed-out"]
    assert [d for d, _t in used] == ["no program named (Tokendesk itself, or a program it could not name)",
                                     "/usr/bin/msmtp", "/usr/bin/fetchmail", "/usr/bin/msmtp"]
    assert used[-1][1] == now.replace(microsecond=0)
    assert all("at-value" not in e.detail for e in history.for_configuration(ctx.store, cfg.name))


def test_forget_is_recorded_with_the_tokens_it_forgets(ctx, make_config):
    from desktop.oauth.tokens import TokenService

    cfg = make_config("Forgotten")
    _store_valid_token(ctx, cfg)
    TokenService(ctx).forget(cfg.name)
    assert actions(ctx, cfg.name)[0] == ("forget", "")
    assert not ctx.store.get_state(cfg.id).has_access_token


def test_export_and_import_are_recorded_per_configuration(ctx, make_config, run, tmp_path):
    make_config("One")
    make_config("Two", secret=None)
    plain, full = tmp_path / "plain.yml", tmp_path / "full.yml"
    assert run("export", "-o", str(plain))[0] == 0
    assert run("export", "--include-secrets", "-o", str(full))[0] == 0
    assert actions(ctx, "One")[:2] == [("export", "with its client secret"), ("export", "without client secret")]
    assert actions(ctx, "Two")[:2] == [("export", "client secret asked for, none stored"),
                                      ("export", "without client secret")]
    assert "s3cret" not in json.dumps(actions(ctx, "One"))
    ctx.configurations.delete("Two")
    code, out, err = run("import", "--overwrite", str(full))
    assert code == 0, err
    assert actions(ctx, "One")[0] == ("edit", "import")
    assert actions(ctx, "Two")[:2] == [("add", "import"), ("delete", "")]


def test_cli_history_shows_local_time_member_and_a_deleted_configuration(ctx, make_config, run, berlin):
    cfg = make_config("Support mailbox")
    history.record(ctx.store, cfg.id, cfg.name, history.REFRESH, "refresh token rotated",
                   when=datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC))
    ctx.configurations.delete(cfg.name)
    code, out, err = run("history", "support mailbox")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("History of 'Support mailbox' (deleted), newest first (times in ")
    assert lines[1].split() == ["TIME", "MEMBER", "ACTION", "DETAIL"]
    assert lines[2].split()[2:4] == [MEMBER, "deleted"]
    assert lines[3].split()[2:4] == [MEMBER, "added"]
    assert "2026-07-01 14:00:05" in lines[4] and "token refreshed" in lines[4]  # summer time in Berlin
    assert lines[4].rstrip().endswith("refresh token rotated")
    code, out, _err = run("history", "Support mailbox", "--json", "--limit", "2")
    data = json.loads(out)
    assert code == 0 and data["deleted"] is True and data["more"] is True
    assert [e["action"] for e in data["entries"]] == ["delete", "add"]
    assert data["entries"][0]["member"] == MEMBER and data["entries"][0]["time"].endswith("+00:00")
    code, out, _err = run("history", "Support mailbox", "--limit", "1")
    assert code == 0 and out.splitlines()[-1].startswith("... older entries not shown")


def test_cli_history_of_an_unknown_name_and_a_bad_limit(ctx, make_config, run):
    code, out, err = run("history", "Nobody")
    assert code == 3 and out == ""
    assert err.strip() == "tokendesk: No configuration named 'Nobody'. 'tokendesk list' shows the names."
    code, _out, err = run("history", "Nobody", "--limit", "-1")
    assert code == 2 and "--limit must be 0 (all) or more" in err
    code, out, _err = run("history", "Nobody", "--limit", "x")
    assert code == 2
    make_config("Older")  # a configuration from before the history (schema 8): its rows are not there
    with ctx.store.transaction() as conn:
        conn.execute("DELETE FROM history")
    assert run("history", "older") == (0, "No history for 'Older' yet.\n", "")


def test_history_sql_is_portable(ctx):
    """The team store's PostgreSQL backend runs the same statements: no SQLite-only words in history.py."""
    from pathlib import Path

    text = Path(history.__file__).read_text(encoding="utf-8")
    for word in ("PRAGMA", "lastrowid", "INSERT OR", "datetime(", "strftime('", "LIMIT -1", "rowid"):
        assert word not in text, word


# ---- the same statements on both backends: the local SQLite file and the team store's PostgreSQL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_ctx(request, tmp_path, monkeypatch, memory_keyring):
    from desktop.services import open_context
    from desktop.usage.guards import install_delete_guards

    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    location = str(tmp_path / "h.sqlite3") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    context = open_context(location)
    install_delete_guards(context)
    yield context
    context.close()


def test_history_on_either_backend(backend_ctx, monkeypatch):
    ctx = backend_ctx
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration("Shared")
    cfg.client_id = "client"
    saved = ctx.configurations.add(cfg, None)  # no secret: a team store's vault is not this test's subject
    with pytest.raises(RuntimeError), ctx.store.transaction():
        history.record(ctx.store, saved.id, saved.name, history.EXPORT, "rolled back")
        raise RuntimeError("the change fails")
    later = datetime.now(UTC) + timedelta(hours=1)
    assert history.record_handed_out(ctx.store, saved.id, saved.name, "/usr/bin/msmtp", when=later)
    assert not history.record_handed_out(ctx.store, saved.id, saved.name, "/usr/bin/msmtp",
                                         when=later + timedelta(minutes=30))
    history.record_many(ctx.store, [(saved.id, saved.name, history.EXPORT, "without client secret")],
                        when=later + timedelta(minutes=31))
    ctx.configurations.delete("shared")  # now: before the rows an hour ahead
    assert [(e.member, e.action) for e in history.for_configuration(ctx.store, "SHARED")] == [
        (MEMBER, "export"), (MEMBER, "handed-out"), (MEMBER, "delete"), (MEMBER, "add")]
    monkeypatch.setattr(history, "MAX_ROWS", 2)
    assert history.prune(ctx.store) == 2
    assert [e.action for e in history.for_configuration(ctx.store, "Shared")] == ["export", "handed-out"]


def test_a_real_tokendesk_process_records_its_member_and_history_imports_no_qt(tmp_path):
    """Two real processes on one data directory: bob adds, alice reads the history (the CLI path, no Qt)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENDESK_", "DBUS_"))}
    env.update(TOKENDESK_HOME=str(tmp_path / "cli-home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(root), TOKENDESK_MEMBER="bob@helpdesk")
    add = subprocess.run([sys.executable, "-m", "desktop", "add", "--template", "Generic OAuth2", "--name", "Wiki",
                          "--client-id", "wiki", "--auth-url", "https://sso.example.org/auth", "--token-url",
                          "https://sso.example.org/token"], capture_output=True, text=True, env=env, timeout=60,
                         cwd=root, start_new_session=True)
    assert add.returncode == 0, add.stderr
    code = "import sys; from desktop.cli import main; main(['history', 'wiki']); print('PySide6' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root,
                          env=dict(env, TOKENDESK_MEMBER="alice@helpdesk"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("History of 'Wiki', newest first")
    assert lines[2].split()[2:5] == ["bob@helpdesk", "added", "template"]
    assert lines[-1] == "False"
