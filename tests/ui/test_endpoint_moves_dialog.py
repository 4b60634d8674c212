"""The Edit dialog asks before saving endpoints at another host, lists the moved origins, and lets the admin keep
or remove the stored client secret; the window's edit flow saves accordingly (issue 10, finding 2).
TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/edit-endpoint-moves.png."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.app import Application
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN
from desktop.ui.dialogs.token_dialog import TokenDialog
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
A = "https://idp-a.example"
B = "https://idp-b.example"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def billing(ctx, make_config):
    cfg = make_config("Billing SSO", template="Generic OAuth2", secret="client-secret-A",
                      AuthorizationCode=f"{A}/authorize", TokenByAuthorizationCode=f"{A}/token",
                      TokenByRefreshToken=f"{A}/token")
    now = datetime.now(UTC).replace(microsecond=0)
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "access-from-A")
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "refresh-from-A")
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                               token_expires_at=now + timedelta(hours=1))
    return ctx.store.get("Billing SSO")


def kinds(ctx, config_id: int) -> set[str]:
    return {r[0] for r in ctx.store.conn.execute("SELECT field FROM config_secret WHERE config_id = ?",
                                                 (config_id,))}


class Answer:
    """Replaces QMessageBox.exec: records the box, optionally ticks its checkbox, presses a button."""

    def __init__(self, button=QMessageBox.StandardButton.Save, tick: bool = False, shot: Path | None = None):
        self.button, self.tick, self.shot = button, tick, shot
        self.boxes: list[dict] = []

    def __call__(self, box: QMessageBox) -> int:
        check = box.checkBox()
        self.boxes.append({"title": box.windowTitle(), "text": box.text(), "info": box.informativeText(),
                           "check": (check.text(), check.isChecked()) if check is not None else None,
                           "buttons": [box.standardButton(b) for b in box.buttons()]})
        if check is not None and self.tick:
            check.setChecked(True)
        if self.shot is not None:
            box.show()
            QApplication.processEvents()
            box.grab().save(str(self.shot))
        box.button(self.button).click()
        return int(self.button.value)

    def install(self, monkeypatch) -> Answer:
        monkeypatch.setattr(QMessageBox, "exec", lambda box: self(box))
        return self


def moved_dialog(qtbot, ctx, cfg, saves: list, secret: str = ""):
    def save(c, s, **kw):
        saves.append((c.token_url, s, kw))
        return c

    dialog = TokenDialog(cfg, template=ctx.templates.get("Generic OAuth2"), client_secret_stored=True, save_fn=save,
                         existing_names={"Billing SSO"})
    qtbot.addWidget(dialog)
    dialog.show()
    for key in ("TokenByAuthorizationCode", "TokenByRefreshToken"):
        dialog.endpoint_edits[key].setText(f"{B}/oauth2/token")
    if secret:
        dialog.secret_edit.setText(secret)
    return dialog


def test_saving_endpoints_at_another_host_asks_first_and_cancel_keeps_the_dialog(qtbot, ctx, billing, monkeypatch):
    saves: list = []
    answer = Answer(QMessageBox.StandardButton.Cancel)
    answer.install(monkeypatch)
    dialog = moved_dialog(qtbot, ctx, billing, saves)
    dialog.save_button.click()
    [box] = answer.boxes
    assert box["title"] == "Endpoints move to another host - Tokendesk"
    assert box["text"] == "Save 'Billing SSO' with endpoints at another host?"
    assert f"\u2022 token endpoint: {A} \u2192 {B}" in box["info"]
    assert f"\u2022 token refresh endpoint: {A} \u2192 {B}" in box["info"]
    assert "The stored access and refresh tokens are forgotten" in box["info"]
    assert box["check"] == ("Send the stored client secret to the new hosts", False)
    assert saves == [] and dialog.isVisible() and dialog.saved is None
    assert dialog.summary.text() == "Not saved: the endpoints were not changed yet."


def test_save_without_the_checkbox_removes_the_secret(qtbot, ctx, billing, monkeypatch, tmp_path):
    saves: list = []
    Answer(shot=shots_dir(tmp_path) / "edit-endpoint-moves.png").install(monkeypatch)
    dialog = moved_dialog(qtbot, ctx, billing, saves)
    dialog.save_button.click()
    assert saves == [(f"{B}/oauth2/token", None, {"keep_client_secret": False})]
    assert dialog.result() == dialog.DialogCode.Accepted
    assert [str(m) for m in dialog.moves] == [f"token endpoint: {A} \u2192 {B}",
                                              f"token refresh endpoint: {A} \u2192 {B}"]


def test_ticked_checkbox_keeps_the_secret(qtbot, ctx, billing, monkeypatch):
    saves: list = []
    Answer(tick=True).install(monkeypatch)
    moved_dialog(qtbot, ctx, billing, saves).save_button.click()
    assert saves == [(f"{B}/oauth2/token", None, {"keep_client_secret": True})]


def test_a_new_secret_typed_needs_no_choice(qtbot, ctx, billing, monkeypatch):
    saves: list = []
    answer = Answer()
    answer.install(monkeypatch)
    moved_dialog(qtbot, ctx, billing, saves, secret="client-secret-B").save_button.click()
    [box] = answer.boxes
    assert box["check"] is None
    assert "The new client secret you typed is stored for the new host." in box["info"]
    assert saves == [(f"{B}/oauth2/token", "client-secret-B", {"keep_client_secret": False})]


def test_no_move_no_question(qtbot, ctx, billing, monkeypatch):
    saves: list = []
    answer = Answer()
    answer.install(monkeypatch)
    dialog = TokenDialog(billing, template=ctx.templates.get("Generic OAuth2"), client_secret_stored=True,
                         save_fn=lambda c, s: saves.append(c) or c)
    qtbot.addWidget(dialog)
    dialog.endpoint_edits["TokenByRefreshToken"].setText("HTTPS://IDP-A.example:443/v2/token")
    dialog.save_button.click()
    assert answer.boxes == [] and len(saves) == 1


# ---- the window's edit flow
@pytest.fixture
def window(qapp, ctx):
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    app.window.show()
    yield app.window
    app.window.hide()
    app.window.deleteLater()
    qapp.processEvents()


def edit_in_window(window, monkeypatch, answer: Answer):
    def exec_(dialog: TokenDialog) -> int:
        for key in ("TokenByAuthorizationCode", "TokenByRefreshToken"):
            dialog.endpoint_edits[key].setText(f"{B}/oauth2/token")
        dialog.save_button.click()
        return dialog.result()

    monkeypatch.setattr(TokenDialog, "exec", exec_)
    answer.install(monkeypatch)
    window.reload()
    window.select_configuration("Billing SSO")
    window.action(MainAction.EDIT).trigger()


def test_window_edit_that_moves_endpoints_forgets_tokens_and_secret(window, ctx, billing, monkeypatch):
    edit_in_window(window, monkeypatch, Answer())
    assert kinds(ctx, billing.id) == set()
    stored = ctx.store.get("Billing SSO")
    assert stored.token_url == f"{B}/oauth2/token" and stored.has_client_secret is False
    assert window.statusBar().currentMessage() == (
        "Saved 'Billing SSO'. Its endpoints moved to another host: the stored tokens were forgotten and the "
        "client secret removed; add the new host's secret with Edit, then request a new token.")


def test_window_edit_can_keep_the_secret(window, ctx, billing, monkeypatch):
    edit_in_window(window, monkeypatch, Answer(tick=True))
    assert kinds(ctx, billing.id) == {CLIENT_SECRET}
    assert window.statusBar().currentMessage() == (
        "Saved 'Billing SSO'. Its endpoints moved to another host: the stored tokens were forgotten; "
        "request a new token.")


def test_window_edit_cancelled_at_the_question_changes_nothing(window, ctx, billing, monkeypatch):
    edit_in_window(window, monkeypatch, Answer(QMessageBox.StandardButton.Cancel))
    assert kinds(ctx, billing.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    assert ctx.store.get("Billing SSO").token_url == f"{A}/token"
