"""The Edit dialog when the configuration was saved elsewhere while it was open (issue 10, point 11): a real
``tokendesk edit`` process changes it, the admin saves, and the dialog says what changed instead of overwriting
it; Re-apply puts the admin's changes on top (when they touch other fields), Reload starts from the saved
version, Cancel keeps editing. TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/edit-changed-meanwhile*.png."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from desktop.app import Application
from desktop.store.secrets import CLIENT_SECRET
from desktop.ui.dialogs.token_dialog import TokenDialog
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
A = "https://login.example.org"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def window(shared_keyring, ctx, make_config, qapp, qtbot):
    make_config("Billing", template="Generic OAuth2", secret="secret-one",
                AuthorizationCode=f"{A}/authorize", TokenByAuthorizationCode=f"{A}/token",
                TokenByRefreshToken=f"{A}/token")
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    app.window.show()
    qtbot.waitExposed(app.window)
    assert app.window.select_configuration("Billing")
    yield app.window
    app.window.hide()
    app.window.deleteLater()


@pytest.fixture
def other_process(shared_keyring, ctx, tmp_path):
    """Runs a real ``tokendesk edit`` on the same data directory (and keyring file)."""
    _backend, child_env = shared_keyring
    env = dict(os.environ, TOKENDESK_HOME=str(ctx.store.path.parent), PYTHONPATH=str(ROOT), **child_env)

    def edit(*options: str, secret: str | None = None) -> None:
        argv = [sys.executable, "-m", "desktop", "edit", "Billing", *options]
        if secret is not None:
            path = tmp_path / "secret.txt"
            path.write_text(secret + "\n")
            argv += ["--client-secret-file", str(path)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert proc.returncode == 0, proc.stderr

    return edit


class Choose:
    """Replaces QMessageBox.exec for the changed-meanwhile box: records it, saves a screenshot, clicks ``button``."""

    def __init__(self, button: str, shot: Path | None = None) -> None:
        self.button, self.shot = button, shot
        self.boxes: list[dict] = []

    def __call__(self, box: QMessageBox) -> int:
        self.boxes.append({"object": box.objectName(), "title": box.windowTitle(), "text": box.text(),
                           "info": box.informativeText(), "buttons": [b.text() for b in box.buttons()]})
        if self.shot is not None:
            box.show()
            box.adjustSize()
            QApplication.processEvents()
            box.grab().save(str(self.shot))
        [target] = [b for b in box.buttons() if b.text() == self.button]
        target.click()
        return 0


def run_edit(window, monkeypatch, scenario) -> None:
    """The window's Edit (F2) with the dialog driven by ``scenario(dialog)`` instead of the admin."""

    def exec_(dialog: TokenDialog) -> int:
        dialog.show()
        QApplication.processEvents()
        scenario(dialog)
        return dialog.result()

    monkeypatch.setattr(TokenDialog, "exec", exec_)
    window.action(MainAction.EDIT).trigger()


def test_reapply_puts_my_changes_on_top_of_the_version_saved_meanwhile(window, ctx, other_process, monkeypatch,
                                                                        tmp_path):
    shots = shots_dir(tmp_path)
    chooser = Choose("Re-apply my changes", shots / "edit-changed-meanwhile.png")
    seen = {}

    def scenario(dialog: TokenDialog) -> None:
        dialog.scope_edit.setText("openid mail.read")  # the admin's change
        other_process("--token-url", f"{A}/v2/token")  # meanwhile, another program saves
        monkeypatch.setattr(QMessageBox, "exec", lambda box: chooser(box))
        dialog.save_button.click()
        assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
        seen["token"] = dialog.endpoint_edits["TokenByAuthorizationCode"].text()
        seen["scope"] = dialog.scope_edit.text()
        seen["summary"] = dialog.summary.text()
        dialog.save_button.click()  # the admin checked the merged form and saves again

    run_edit(window, monkeypatch, scenario)
    [box] = chooser.boxes
    assert box["object"] == "changedMeanwhileBox"
    assert box["text"] == "'Billing' was changed meanwhile"
    assert f"• Token endpoint: {A}/token -> {A}/v2/token" in box["info"]
    assert "• Scope: " in box["info"] and "-> openid mail.read" in box["info"]  # the admin's own change, named
    assert sorted(box["buttons"]) == ["Cancel", "Re-apply my changes", "Reload"]
    assert seen["token"] == f"{A}/v2/token" and seen["scope"] == "openid mail.read"
    assert "check them, then save" in seen["summary"]
    stored = ctx.store.get("Billing")
    assert stored.token_url == f"{A}/v2/token" and stored.scope == "openid mail.read"  # both saves kept
    assert window.statusBar().currentMessage().startswith("Saved 'Billing'.")


def test_the_same_field_changed_on_both_sides_offers_reload_or_cancel(window, ctx, other_process, monkeypatch,
                                                                       tmp_path):
    shots = shots_dir(tmp_path)
    chooser = Choose("Reload", shots / "edit-changed-meanwhile-clash.png")
    seen = {}

    def scenario(dialog: TokenDialog) -> None:
        dialog.endpoint_edits["TokenByAuthorizationCode"].setText(f"{A}/v3/token")
        dialog.secret_edit.setText("typed-secret")
        other_process("--token-url", f"{A}/v2/token", secret="secret-from-the-other-program")
        monkeypatch.setattr(QMessageBox, "exec", lambda box: chooser(box))
        dialog.save_button.click()
        seen["token"] = dialog.endpoint_edits["TokenByAuthorizationCode"].text()
        seen["secret"] = dialog.secret_edit.text()
        dialog.reject()

    run_edit(window, monkeypatch, scenario)
    [box] = chooser.boxes
    assert sorted(box["buttons"]) == ["Cancel", "Reload"]
    assert "client secret changed" in box["info"]
    assert "You changed the same fields (Token endpoint, Client secret)" in box["info"]
    assert "secret-from-the-other-program" not in str(box) and "typed-secret" not in str(box)
    assert seen == {"token": f"{A}/v2/token", "secret": ""}  # reloaded: what the admin typed is gone
    stored = ctx.store.get("Billing")
    assert stored.token_url == f"{A}/v2/token"
    assert ctx.secrets.get_for(stored.id, CLIENT_SECRET) == "secret-from-the-other-program"


def test_cancel_keeps_editing_and_saves_nothing(window, ctx, other_process, monkeypatch):
    chooser = Choose("Cancel")
    seen = {}

    def scenario(dialog: TokenDialog) -> None:
        dialog.scope_edit.setText("openid mine")
        other_process("--scope", "openid theirs")
        monkeypatch.setattr(QMessageBox, "exec", lambda box: chooser(box))
        dialog.save_button.click()
        seen["visible"] = dialog.isVisible()
        seen["scope"] = dialog.scope_edit.text()
        seen["summary"] = dialog.summary.text()
        dialog.reject()

    run_edit(window, monkeypatch, scenario)
    assert seen["visible"] and seen["scope"] == "openid mine"
    assert seen["summary"].startswith("Not saved: 'Billing' was changed meanwhile")
    assert ctx.store.get("Billing").scope == "openid theirs"
