"""An import that overwrites a configuration with endpoints at another origin forgets its stored tokens and,
unless the admin says so, its stored client secret - in the import's one transaction (issue 10, finding 2).
Plan and apply, the CLI (`tokendesk import --overwrite [--send-client-secret-to-new-hosts]`), the preview
dialog and the window's apply. TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/import-endpoint-moves.png."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from PySide6.QtWidgets import QMessageBox

from desktop.backup.importer import PlanChanged, apply_import, parse_import, plan_import
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN
from tests.backup.conftest import snapshot
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
A = "https://idp-a.example"
B = "https://idp-b.example"
MOVE_NOTE = (f"token and token refresh endpoints move from {A} to {B}: the stored tokens are forgotten")
DROPPED = "the stored client secret is removed (it is not sent to the new host)"
KEPT = "the stored client secret is kept and sent to the new host"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def stored(ctx, make_config):
    """'Billing SSO' at host A with a client secret, a refresh and an access token; 'Calm' untouched by moves."""
    made = {}
    for name in ("Billing SSO", "Calm"):
        cfg = make_config(name, template="Generic OAuth2", secret=f"client-secret-{name}",
                          AuthorizationCode=f"{A}/authorize", TokenByAuthorizationCode=f"{A}/token",
                          TokenByRefreshToken=f"{A}/token")
        now = datetime.now(UTC).replace(microsecond=0)
        with ctx.store.transaction():
            ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, f"access-{name}")
            ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, f"refresh-{name}")
            ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                                   token_expires_at=now + timedelta(hours=1), token_info={"account": "a@x"})
        made[name] = cfg
    return made


def record(ctx, name: str, host: str = B, secret: str | None = None) -> dict:
    cfg = ctx.store.get(name)
    config = copy.deepcopy(cfg.config)
    for key in ("TokenByAuthorizationCode", "TokenByRefreshToken"):
        config["Requests"][key]["Request"]["URL"] = f"{host}/oauth2/token"
    if secret:
        config["ClientSecret"] = secret
    return {"Name": name, "ValidID": 1, "Config": config}


def file_text(ctx, secret: str | None = None) -> str:
    """'Billing SSO' moved to host B, 'Calm' as it is stored."""
    return yaml.safe_dump([record(ctx, "Billing SSO", secret=secret), record(ctx, "Calm", host=A)])


def kinds(ctx, config_id: int) -> set[str]:
    return {r[0] for r in ctx.store.conn.execute("SELECT field FROM config_secret WHERE config_id = ?",
                                                 (config_id,))}


# ---- plan and apply
def test_the_plan_says_which_endpoints_move_and_what_is_forgotten(ctx, stored):
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=True)
    moved, calm = plan.records
    assert moved.reason == f"replaces the stored 'Billing SSO'; {MOVE_NOTE}; {DROPPED}"
    assert calm.reason == "replaces the stored 'Calm'; keeps the stored client secret"
    assert [str(m) for m in moved.moves] == [f"token endpoint: {A} \u2192 {B}",
                                             f"token refresh endpoint: {A} \u2192 {B}"]
    assert plan.asks_client_secret
    kept = plan_import(ctx, plan.parsed, overwrite=True, keep_client_secret=True)
    assert kept.records[0].reason.endswith(f"{MOVE_NOTE}; {KEPT}")


def test_apply_forgets_the_tokens_and_the_client_secret_of_the_moved_one_only(ctx, stored):
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=True)
    summary = apply_import(ctx, plan)
    billing, calm = stored["Billing SSO"].id, stored["Calm"].id
    assert kinds(ctx, billing) == set()
    assert ctx.store.get("Billing SSO").has_client_secret is False
    state = ctx.store.get_state(billing)
    assert (state.has_access_token, state.has_refresh_token, state.token_info) == (False, False, {})
    assert ctx.store.get("Billing SSO").token_url == f"{B}/oauth2/token"
    assert kinds(ctx, calm) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}  # no move: nothing forgotten
    assert ctx.store.get_state(calm).has_refresh_token is True
    assert summary.tokens_forgotten == ["Billing SSO"] and summary.secrets_removed == ["Billing SSO"]
    assert ("Endpoints moved to other hosts for 'Billing SSO': the stored tokens were forgotten; "
            "request new tokens.") in summary.lines()
    assert ("Client secret removed for 'Billing SSO' (it was not sent to the new hosts): add it with Edit."
            in summary.lines())


def test_apply_keeps_the_client_secret_when_the_admin_said_so(ctx, stored):
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=True,
                       keep_client_secret=True)
    summary = apply_import(ctx, plan)
    billing = stored["Billing SSO"].id
    assert kinds(ctx, billing) == {CLIENT_SECRET}
    assert ctx.secrets.get_for(billing, CLIENT_SECRET) == "client-secret-Billing SSO"
    assert ctx.store.get("Billing SSO").has_client_secret is True
    assert summary.secrets_removed == [] and summary.tokens_forgotten == ["Billing SSO"]


def test_a_client_secret_in_the_file_is_stored_with_the_move(ctx, stored):
    plan = plan_import(ctx, parse_import(file_text(ctx, secret="client-secret-for-B"), templates=ctx.templates),
                       overwrite=True)
    assert not plan.asks_client_secret  # nothing to decide: the file brings the secret for the new host
    assert DROPPED not in plan.records[0].reason and KEPT not in plan.records[0].reason
    apply_import(ctx, plan)
    billing = stored["Billing SSO"].id
    assert kinds(ctx, billing) == {CLIENT_SECRET}
    assert ctx.secrets.get_for(billing, CLIENT_SECRET) == "client-secret-for-B"


def test_skipped_records_forget_nothing(ctx, stored, state):
    before = state()
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=False)
    assert [p.moves for p in plan.records] == [[], []]
    assert MOVE_NOTE not in "\n".join(plan.report_lines())
    apply_import(ctx, plan)
    assert state() == before


def test_a_move_that_appears_after_the_preview_stops_the_import(ctx, stored, state):
    """The admin decided on what the preview showed; a store edited meanwhile to another host is planned again."""
    text = yaml.safe_dump([record(ctx, "Calm", host=A)])
    plan = plan_import(ctx, parse_import(text, templates=ctx.templates), overwrite=True)
    assert plan.records[0].moves == []
    elsewhere = ctx.store.get("Calm")
    for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        elsewhere.set_endpoint(key, f"https://idp-c.example/{key}")
    ctx.store.update(elsewhere)  # edited elsewhere meanwhile (written directly: tokens left in place)
    before = state()
    with pytest.raises(PlanChanged):
        apply_import(ctx, plan)
    assert state() == before


def test_a_failure_inside_the_import_leaves_tokens_and_secret_in_place(ctx, stored, state, monkeypatch):
    before = state()
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=True)

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ctx.store, "update_state", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        apply_import(ctx, plan)
    monkeypatch.undo()
    assert state() == before


# ---- the command line
def test_cli_import_prints_the_moves_and_removes_the_secret_without_the_option(run, ctx, stored, tmp_path):
    path = tmp_path / "moved.yml"
    path.write_text(file_text(ctx))
    code, out, err = run("import", str(path), "--overwrite", "--dry-run")
    assert code == 0, err
    assert f"   1  overwrites  'Billing SSO': replaces the stored 'Billing SSO'; {MOVE_NOTE}; {DROPPED}" in out
    assert ("note: the stored client secret of a configuration whose endpoints move to another host is removed; "
            "give --send-client-secret-to-new-hosts to keep it (it is then sent to the new host)") in out
    assert kinds(ctx, stored["Billing SSO"].id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    code, out, err = run("import", str(path), "--overwrite")
    assert code == 0, err
    assert "Client secret removed for 'Billing SSO' (it was not sent to the new hosts): add it with Edit." in out
    assert kinds(ctx, stored["Billing SSO"].id) == set()


def test_cli_import_keeps_the_secret_with_the_option(run, ctx, stored, tmp_path):
    path = tmp_path / "moved.yml"
    path.write_text(file_text(ctx))
    code, out, err = run("import", str(path), "--overwrite", "--send-client-secret-to-new-hosts")
    assert code == 0, err
    assert f"{MOVE_NOTE}; {KEPT}" in out
    assert "give --send-client-secret-to-new-hosts" not in out
    assert kinds(ctx, stored["Billing SSO"].id) == {CLIENT_SECRET}


# ---- the preview dialog and the window
@pytest.fixture
def app(qapp, ctx):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.backup"))
    application.window.resize(1100, 560)
    application.window.show()
    yield application
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


@pytest.fixture
def boxes(monkeypatch):
    calls: list[tuple[str, str, str]] = []

    def fake(kind):
        def show(_parent, title, text, *args, **kwargs):
            calls.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return show

    for kind in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return calls


def test_preview_shows_the_move_and_asks_before_sending_the_secret(app, ctx, stored, tmp_path, boxes, qtbot):
    path = tmp_path / "moved.yml"
    path.write_text(file_text(ctx))
    app.features["backup"].open_preview(path, overwrite=True)
    dialog = app.features["backup"].preview_dialog
    name, status, details = dialog.rows()[0]
    assert (name, status) == ("Billing SSO", "overwrites")
    assert details == f"replaces the stored 'Billing SSO'; {MOVE_NOTE}; {DROPPED}"
    assert dialog.child_lines(0) == [f"\u2022 {MOVE_NOTE}", f"\u2022 {DROPPED}"]  # whole, under the row
    assert dialog.child_lines(1) == []
    assert dialog.status.text() == ("Apply adds 0 and overwrites 2 configuration(s), all together or not at all. "
                                    "1 of them moves to another host: its stored tokens are forgotten.")
    box = dialog.keep_secret_box
    assert box.isVisible() and not box.isChecked()
    assert box.text() == "Send the stored client secret to the new hosts"
    assert "https://idp-b.example" in box.toolTip()
    box.setChecked(True)  # re-plans at once
    assert dialog.plan.keep_client_secret is True
    assert dialog.rows()[0][2].endswith(f"{MOVE_NOTE}; {KEPT}")
    assert dialog.child_lines(0)[1] == f"\u2022 {KEPT}"
    box.setChecked(False)
    dialog.resize(980, 420)
    dialog.grab().save(str(shots_dir(tmp_path) / "import-endpoint-moves.png"))
    with qtbot.waitSignal(app.hub.configurations_changed, timeout=5000):
        dialog.apply_button.click()
    assert kinds(ctx, stored["Billing SSO"].id) == set()
    kind, title, text = boxes[-1]
    assert (kind, title) == ("information", "Import finished")
    assert "the stored tokens were forgotten" in text


def test_preview_checkbox_sends_the_secret_along_when_ticked(app, ctx, stored, tmp_path, boxes, qtbot):
    path = tmp_path / "moved.yml"
    path.write_text(file_text(ctx))
    app.features["backup"].open_preview(path, overwrite=False)
    dialog = app.features["backup"].preview_dialog
    assert not dialog.keep_secret_box.isVisible()  # nothing is overwritten: nothing moves
    dialog.overwrite_box.setChecked(True)
    assert dialog.keep_secret_box.isVisible()
    dialog.keep_secret_box.setChecked(True)
    dialog.overwrite_box.setChecked(False)
    dialog.overwrite_box.setChecked(True)  # the choice survives re-planning
    assert dialog.plan.keep_client_secret is True
    with qtbot.waitSignal(app.hub.configurations_changed, timeout=5000):
        dialog.apply_button.click()
    assert kinds(ctx, stored["Billing SSO"].id) == {CLIENT_SECRET}


def test_no_move_no_checkbox(app, ctx, stored, tmp_path, boxes):
    path = tmp_path / "same.yml"
    path.write_text(yaml.safe_dump([record(ctx, "Calm", host=A)]))
    app.features["backup"].open_preview(path, overwrite=True)
    dialog = app.features["backup"].preview_dialog
    assert not dialog.keep_secret_box.isVisible()
    assert "forgotten" not in dialog.rows()[0][2]
    dialog.reject()
    assert snapshot(ctx)["config_secret"]  # untouched


# ---- the refresh locks held while the import moves endpoints
def test_an_import_waits_for_a_running_refresh_then_refuses_and_changes_nothing(ctx, stored, state, monkeypatch):
    import threading

    from desktop import services
    from desktop.oauth.locks import token_lock

    monkeypatch.setattr(services, "MOVE_LOCK_TIMEOUT", 0.3)
    plan = plan_import(ctx, parse_import(file_text(ctx), templates=ctx.templates), overwrite=True)
    before = state()
    held, release = threading.Event(), threading.Event()

    def refresh_in_progress():
        with token_lock(ctx.store.store_id, stored["Billing SSO"].id, 5):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=refresh_in_progress)
    worker.start()
    try:
        held.wait(5)
        with pytest.raises(services.TokenBusy, match="the token of 'Billing SSO' is being renewed right now"):
            apply_import(ctx, plan)
    finally:
        release.set()
        worker.join()
    assert state() == before
    apply_import(ctx, plan)  # free again
    assert kinds(ctx, stored["Billing SSO"].id) == set()


def test_more_moves_than_files_can_be_opened_refuse_plainly(ctx, make_config, state, monkeypatch):
    """One open file per held lock: when the process runs out of them, nothing is imported and the admin is told
    to import in parts (instead of an OSError half-way)."""
    import errno

    from desktop import services
    from desktop.store import filelock

    for i in range(3):
        make_config(f"Cfg {i}", template="Generic OAuth2", AuthorizationCode=f"{A}/authorize",
                    TokenByAuthorizationCode=f"{A}/token", TokenByRefreshToken=f"{A}/token")
    text = yaml.safe_dump([record(ctx, f"Cfg {i}") for i in range(3)])
    plan = plan_import(ctx, parse_import(text, templates=ctx.templates), overwrite=True)
    assert len(plan.moved) == 3
    real_open, opened = filelock.os.open, []

    def scarce_open(path, *args, **kwargs):
        if str(path).endswith(".lock") and "token-" in str(path):
            opened.append(path)
            if len(opened) > 2:
                raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, *args, **kwargs)

    before = state()
    monkeypatch.setattr(filelock.os, "open", scarce_open)
    with pytest.raises(services.TokenBusy) as info:
        apply_import(ctx, plan)
    monkeypatch.undo()
    assert str(info.value) == ("3 configurations would move to other hosts at once, more than can be locked together "
                               "(Too many open files); nothing was changed. Import the file in smaller parts.")
    assert state() == before
