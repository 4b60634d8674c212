"""The vault feature of the window (desktop/ui/features/vault.py): opening the vault after the first paint, the
passphrase prompts (wrong one kept open, "Not now" leaves a bar), a worker that needs the key asking the GUI,
no keyring, a keyring that went away, and the status bar's "Secrets:" line. Dialogs are driven through their
API; ``exec`` is patched. TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/passphrase-*.png."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null
from PySide6.QtWidgets import QDialog

from desktop.app import Application
from desktop.services import open_context
from desktop.store.secrets import CLIENT_SECRET
from desktop.store.vault import MODE_PASSPHRASE
from desktop.store.vault_crypto import check_new_passphrase
from desktop.ui.dialogs.passphrase_dialog import PassphraseDialog
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner, TaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "window passphrase 1"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def make_app(qapp, qtbot):
    apps: list[Application] = []

    def build(context, tasks=None) -> Application:
        app = Application(qapp, context, tasks=tasks or InlineTaskRunner(),
                          features=window_features("desktop.ui.features.vault"))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.window._quitting = True
        app.window.hide()
        app.window.deleteLater()
    qapp.processEvents()


def feature(app):
    return app.features["vault"]


def passphrase_store(home: Path) -> int:
    """A store whose vault is protected by PASSPHRASE, with one client secret; returns its config id."""
    ctx = open_context(passphrase_provider=lambda purpose: PASSPHRASE)
    try:
        ctx.vault.use_passphrase(PASSPHRASE)
        cfg = ctx.templates.require("Google Mail").new_configuration("Protected")
        cfg.client_id = "x.apps.googleusercontent.com"
        return ctx.configurations.add(cfg, "protected-secret").id
    finally:
        ctx.close()


def answer_dialog(monkeypatch, *texts: str | None, seen: list | None = None):
    """Patch PassphraseDialog.exec: type each text in turn and press OK (None: Not now)."""
    answers = list(texts)

    def exec_(dialog: PassphraseDialog) -> int:
        if seen is not None:
            seen.append(dialog.windowTitle())  # the window deletes the dialog once it is answered
            seen.append(dialog.intro.text())
        while answers:
            text = answers.pop(0)
            if text is None:
                dialog.reject()
                return dialog.result()
            dialog.passphrase.setText(text)
            dialog.repeat.setText(text)
            dialog.ok_button.click()
            if dialog.result() == QDialog.DialogCode.Accepted:
                return dialog.result()
            if seen is not None:
                seen.append(dialog.error.text())
        dialog.reject()
        return dialog.result()

    monkeypatch.setattr(PassphraseDialog, "exec", exec_)


def test_keyring_vault_opens_after_the_first_paint(ctx, make_config, make_app, qtbot):
    make_config("Keyed", secret="keyed-secret")
    ctx.vault.lock()
    app = make_app(ctx)
    assert not ctx.vault.is_open
    app.show()
    qtbot.waitUntil(lambda: ctx.vault.is_open, timeout=5000)
    window = app.window
    assert window.secrets_label.text().startswith("Secrets: encrypted vault, key in the system keyring")
    assert window.secrets_label.toolTip().startswith("Why: system keyring (")
    assert not feature(app).bar.isVisible()
    assert not feature(app).lock_action.isEnabled()  # nothing to lock in keyring mode


def test_passphrase_is_asked_once_at_start_and_a_wrong_one_keeps_the_dialog(tokendesk_home, make_app, qtbot,
                                                                              monkeypatch):
    config_id = passphrase_store(tokendesk_home)
    ctx = open_context()
    seen: list = []
    answer_dialog(monkeypatch, "not it at all", PASSPHRASE, seen=seen)
    app = make_app(ctx)
    app.show()
    qtbot.waitUntil(lambda: ctx.vault.is_open, timeout=5000)
    title, error = seen[0], seen[2]
    assert title == "Unlock secrets - Tokendesk"
    assert error == "The passphrase is wrong. Try again (it is case-sensitive)."
    assert ctx.secrets.get_for(config_id, CLIENT_SECRET) == "protected-secret"
    assert app.window.secrets_label.text() == "Secrets: encrypted vault, key protected by a passphrase (unlocked)"
    assert feature(app).lock_action.isEnabled()
    feature(app).lock_action.trigger()
    assert not ctx.vault.is_open
    assert feature(app).bar.isVisible() and feature(app).unlock_button.isVisible()
    ctx.close()


def test_not_now_leaves_a_bar_and_unlock_opens_later(tokendesk_home, make_app, qtbot, monkeypatch):
    passphrase_store(tokendesk_home)
    ctx = open_context()
    answer_dialog(monkeypatch, None)
    app = make_app(ctx)
    app.show()
    qtbot.waitUntil(lambda: feature(app).bar.isVisible(), timeout=5000)
    bar = feature(app).bar
    assert bar.label.text().startswith("Tokendesk's secrets are locked: enter the vault passphrase")
    assert feature(app).unlock_button.isVisible() and not feature(app).choose_button.isVisible()
    assert app.window.secrets_label.text().endswith("protected by a passphrase (locked)")
    app.window.resize(1000, 420)
    qtbot.wait(50)
    app.window.grab().save(str(shots_dir(tokendesk_home) / "main-window-locked.png"))
    answer_dialog(monkeypatch, PASSPHRASE)
    feature(app).unlock_button.click()
    assert ctx.vault.is_open and not bar.isVisible()
    ctx.close()


def test_a_worker_that_needs_the_key_has_the_window_ask(tokendesk_home, make_app, qtbot, monkeypatch):
    config_id = passphrase_store(tokendesk_home)
    ctx = open_context()
    answer_dialog(monkeypatch, PASSPHRASE)
    app = make_app(ctx, tasks=TaskRunner())  # a real thread pool: the prompt is asked on the GUI thread
    results = []
    app.tasks.run(ctx.secrets.get_for, config_id, CLIENT_SECRET, on_done=results.append,
                  on_error=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=10000)
    assert results == ["protected-secret"]
    app.tasks.wait(5000)
    ctx.close()


def test_without_a_keyring_the_bar_offers_a_passphrase(ctx, make_app, qtbot, monkeypatch):
    keyring.set_keyring(null.Keyring())  # says "stored" and keeps nothing
    app = make_app(ctx)
    app.show()
    qtbot.waitUntil(lambda: feature(app).bar.isVisible(), timeout=5000)
    text = feature(app).bar.label.text()
    assert text.startswith("No usable keyring (it keeps nothing (keyring.backends.null)). Tokendesk will protect")
    assert feature(app).choose_button.isVisible()
    seen: list = []
    answer_dialog(monkeypatch, PASSPHRASE, seen=seen)
    feature(app).choose_button.click()
    assert seen[0] == "Choose a passphrase - Tokendesk"
    assert "No usable keyring: it keeps nothing" in seen[1]
    info = ctx.vault.info()
    assert info.mode == MODE_PASSPHRASE and info.reason.startswith("no usable keyring")
    assert not feature(app).bar.isVisible()


def test_the_first_secret_without_a_keyring_asks_for_a_new_passphrase(ctx, make_app, qtbot, monkeypatch):
    keyring.set_keyring(fail.Keyring())
    app = make_app(ctx)
    seen: list = []
    answer_dialog(monkeypatch, "short", PASSPHRASE, seen=seen)  # the first is refused while typing
    cfg = ctx.templates.require("Google Mail").new_configuration("First secret")
    cfg.client_id = "x.apps.googleusercontent.com"
    saved = ctx.configurations.add(cfg, "first-secret")  # on the GUI thread: asked directly
    assert seen[2] == "Use at least 8 characters."
    assert ctx.secrets.get_for(saved.id, CLIENT_SECRET) == "first-secret"
    assert ctx.vault.info().mode == MODE_PASSPHRASE
    app.window.close()


def test_a_keyring_that_went_away_is_said_with_what_to_do(ctx, make_config, make_app, qtbot):
    make_config("Keyed")
    ctx.vault.lock()

    class Gone(fail.Keyring):
        priority = 1

        def get_password(self, service, username):
            raise ConnectionError("org.freedesktop.DBus.Error.NoReply: the bus connection closed")

    keyring.set_keyring(Gone())
    app = make_app(ctx)
    app.show()
    qtbot.waitUntil(lambda: feature(app).bar.isVisible(), timeout=5000)
    text = feature(app).bar.label.text()
    assert "the keyring service is not reachable" in text and "Log in to the desktop session again" in text
    assert feature(app).retry_button.isVisible()


def test_screenshots_of_the_passphrase_dialogs(qapp, tmp_path):
    out = shots_dir(tmp_path)
    unlock = PassphraseDialog("unlock", check=lambda p: "The passphrase is wrong. Try again (it is case-sensitive).")
    unlock.passphrase.setText("typed but hidden")
    unlock.ok_button.click()  # the wrong-passphrase state an admin sees
    unlock.resize(unlock.sizeHint())
    unlock.show()
    qapp.processEvents()
    assert unlock.passphrase.is_masked() and unlock.isVisible()
    unlock.grab().save(str(out / "passphrase-unlock.png"))
    reason = "No usable keyring: no keyring backend is available (no Secret Service on the session bus?)."
    new = PassphraseDialog("new", reason=reason, new_check=check_new_passphrase)
    new.passphrase.setText("a long passphrase")
    new.repeat.setText("a long passphrase")
    new.resize(new.sizeHint())
    new.show()
    qapp.processEvents()
    assert new.ok_button.isEnabled() and new.repeat.is_masked()
    new.grab().save(str(out / "passphrase-new.png"))
    for dialog in (unlock, new):
        dialog.close()
        dialog.deleteLater()
    assert (out / "passphrase-unlock.png").stat().st_size > 1000


def test_an_automatic_refresh_waits_quietly_while_locked(tokendesk_home, qapp, qtbot, monkeypatch):
    config_id = passphrase_store(tokendesk_home)
    ctx = open_context()
    with ctx.store.transaction():
        ctx.store.update_state(config_id, has_refresh_token=True)
    prompts: list = []
    answer_dialog(monkeypatch, None, seen=prompts)
    app = Application(qapp, ctx, tasks=InlineTaskRunner(),
                      features=window_features("desktop.ui.features.vault", "desktop.ui.features.oauth"))
    oauth = app.features["oauth"]
    refreshed: list[int] = []
    monkeypatch.setattr(oauth.service, "refresh_by_id", lambda cid, **kw: refreshed.append(cid))
    app.hub.refresh_due.emit(config_id)
    assert prompts == [] and refreshed == [] and oauth.waiting_for_vault == {config_id}
    answer_dialog(monkeypatch, PASSPHRASE)
    feature(app).unlock()
    assert refreshed == [config_id] and oauth.waiting_for_vault == set()
    app.window._quitting = True
    app.window.deleteLater()
    ctx.close()


def test_settings_say_where_the_key_is_and_why(ctx, make_config, make_app, monkeypatch, tmp_path):
    from desktop.ui.dialogs.settings_dialog import SettingsDialog

    make_config("Keyed")
    app = make_app(ctx)
    shown = {}

    def exec_(dialog):
        shown["text"] = dialog.secrets_label.text()
        dialog.resize(dialog.sizeHint())
        dialog.show()
        dialog.grab().save(str(shots_dir(tmp_path) / "settings-secrets.png"))
        dialog.reject()
        return dialog.result()

    monkeypatch.setattr(SettingsDialog, "exec", exec_)
    app.window.action(MainAction.SETTINGS).trigger()
    assert shown["text"].startswith("Encrypted vault, key in the system keyring (")
    assert "Why: system keyring (" in shown["text"] and "tokendesk vault passphrase|keyring|rekey" in shown["text"]


def test_the_vault_actions_sit_in_the_file_menu_before_quit(ctx, qapp):
    from desktop.ui.enums import MainMenu

    app = Application(qapp, ctx, tasks=InlineTaskRunner())  # every feature, as the app installs them
    texts = [a.text() or "---" for a in app.window.menu(MainMenu.FILE).actions()]
    assert texts[-4:] == ["Protect secrets with a &passphrase ...", "&Lock secrets", "---", "&Quit"]
    assert texts[texts.index("&Settings ...") + 1] == "---"
    app.window._quitting = True
    app.window.deleteLater()
