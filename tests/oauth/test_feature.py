"""The oauth feature in the lead's main window, against the real server (real task runner, offscreen)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import PySide6.QtWebEngineWidgets  # noqa: F401 - QtWebEngine before the QApplication exists
import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.oauth.conftest import follow_to_redirect, screenshot_path
from tests.support.window import window_features

pytestmark = pytest.mark.realserver

TIMEOUT_MS = 45000


@pytest.fixture
def app(qapp, ctx):
    from desktop.app import Application

    application = Application(qapp, ctx, features=window_features("desktop.ui.features.oauth"))
    application.window.resize(1180, 520)
    application.window.show()
    yield application
    application.tasks.wait(10000)
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


def feature(app):
    return app.features["oauth"]


def select(app, name: str) -> None:
    assert app.window.select_configuration(name)


def test_refresh_action_updates_table_and_details(qtbot, app, ctx, oauth, server_config, sign_in):
    oauth.configure(access_token_ttl=3600)
    cfg = server_config("Support mailbox")
    sign_in(cfg.name)
    failing = server_config("Sales mailbox")
    sign_in(failing.name)
    server_config("New shop (not signed in)")
    app.window.reload()
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    select(app, cfg.name)
    assert feature(app).refresh_action.isEnabled() and feature(app).forget_action.isEnabled()
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS) as signal:
        feature(app).refresh_action.trigger()
    assert signal.args == [cfg.id]
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != old
    assert ctx.store.get_state(cfg.id).last_refreshed_at is not None
    row = app.window.model.row_of(cfg.name)
    token_text = app.window.model.index(row, 2).data()
    assert "valid until" in token_text
    details = feature(app).details.text()
    assert "Token expires" in details
    assert "Signed in as" in details and "tokendesk-user@example.test" in details
    assert "Granted scope" in details and ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) not in details
    qtbot.wait(50)
    app.window.details.ensureWidgetVisible(feature(app).details_box)
    feature(app).details_box.grab().save(str(screenshot_path("details_after_refresh.png")))
    # a failed refresh: the error is stored, shown with its hint, and offered in a box
    microsoft = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.",
                 "error_codes": [7000215]}
    oauth.fault("token", "error", status=401, body=microsoft)
    select(app, failing.name)
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        feature(app).refresh_action.trigger()
    qtbot.waitUntil(lambda: getattr(feature(app), "last_report", None) is not None, timeout=5000)
    box = feature(app).last_report
    assert "client secret is wrong or has expired" in box.text()
    box.close()
    details = feature(app).details.text()
    assert "invalid_client" in details and "AADSTS7000215" in details and "What to do" in details
    qtbot.wait(50)  # let the details pane lay out the new text
    app.window.details.ensureWidgetVisible(feature(app).details_box)
    feature(app).details_box.grab().save(str(screenshot_path("details_failed_refresh.png")))
    select(app, cfg.name)
    app.window.grab().save(str(screenshot_path("table_after_refresh.png")))


def test_refresh_due_refreshes_quietly_and_respects_reauthorization(qtbot, app, ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() + timedelta(seconds=30),  # inside the lead time
                           last_requested_at=utcnow() - timedelta(hours=1))  # and more than half its life old
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        app.hub.refresh_due.emit(cfg.id)
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != old
    assert oauth.counters["refresh_token"] == 1
    # renewed a moment ago and not due: a second signal does not refresh again
    app.hub.refresh_due.emit(cfg.id)
    app.tasks.wait(5000)
    qtbot.wait(100)
    assert oauth.counters["refresh_token"] == 1
    ctx.store.update_state(cfg.id, reauthorization_needed=True, token_expires_at=utcnow())
    app.hub.refresh_due.emit(cfg.id)
    app.tasks.wait(5000)
    assert oauth.counters["refresh_token"] == 1  # invalid_grant earlier: no more automatic attempts


def test_request_new_token_embedded(qtbot, app, ctx, oauth, server_config):
    cfg = server_config()
    app.window.reload()
    select(app, cfg.name)
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS) as signal:
        feature(app).request_action.trigger()
    assert signal.args == [cfg.id]
    assert ctx.store.get_state(cfg.id).has_access_token
    qtbot.waitUntil(lambda: feature(app).login_dialog is None, timeout=5000)


def test_request_new_token_system_browser(qtbot, app, ctx, oauth, server_config):
    cfg = server_config("Google-like", Browser="system")
    app.window.reload()
    select(app, cfg.name)
    pages: list[str] = []

    def fake_browser(url: str) -> bool:
        def run() -> None:
            import urllib.request

            callback = follow_to_redirect(url)
            with urllib.request.urlopen(callback, timeout=30) as resp:
                pages.append(resp.read().decode())

        threading.Thread(target=run, daemon=True).start()
        return True

    feature(app).open_browser = fake_browser
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        feature(app).request_action.trigger()
    assert ctx.store.get_state(cfg.id).has_access_token
    qtbot.waitUntil(lambda: bool(pages), timeout=10000)
    assert "You can close this tab" in pages[0]
    assert feature(app).wait_dialog is None
    assert app.window.statusBar().currentMessage() == "New token stored for 'Google-like'."
    assert getattr(feature(app), "last_notes", None) is None  # nothing to point out

    # the same sign-in, but the consent screen took a permission away: said at once, not only in the details
    cfg.scope = "openid offline_access mail.read"
    ctx.configurations.update(cfg)
    oauth.fault("token", "merge", fields={"scope": "openid offline_access"}, grant_type="authorization_code")
    pages.clear()
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        feature(app).request_action.trigger()
    qtbot.waitUntil(lambda: getattr(feature(app), "last_notes", None) is not None, timeout=10000)
    notes = feature(app).last_notes
    assert notes.text().startswith("The token is stored, but:")
    assert "mail.read is missing" in notes.text()
    qtbot.waitExposed(notes)
    notes.grab().save(str(screenshot_path("sign_in_notes.png")))
    notes.close()


def test_system_browser_cancel(qtbot, app, ctx, oauth, server_config):
    cfg = server_config("Google-like", Browser="system")
    app.window.reload()
    select(app, cfg.name)
    feature(app).open_browser = lambda url: True  # a browser that never comes back
    feature(app).request_action.trigger()
    wait = feature(app).wait_dialog
    qtbot.waitUntil(lambda: wait.address.text().startswith(oauth.authorization_endpoint), timeout=10000)
    assert wait.copy_button.isEnabled()
    wait.resize(620, 170)
    wait.grab().save(str(screenshot_path("system_browser_wait.png")))
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        wait.cancel_button.click()
    assert not ctx.store.get_state(cfg.id).has_access_token
    assert "cancelled" in app.window.statusBar().currentMessage()


def test_revoke_and_forget(qtbot, app, ctx, oauth, server_config, sign_in, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    cfg = server_config()
    sign_in(cfg.name)
    app.window.reload()
    select(app, cfg.name)
    refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    assert feature(app).revoke_action.isEnabled()
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        feature(app).revoke_action.trigger()
    assert oauth.introspect(refresh)["active"] is False
    assert not ctx.store.get_state(cfg.id).has_access_token
    assert not feature(app).revoke_action.isEnabled() and not feature(app).forget_action.isEnabled()
    sign_in(cfg.name)
    app.hub.token_changed.emit(cfg.id)
    assert feature(app).forget_action.isEnabled()
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        feature(app).forget_action.trigger()
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) is None


def test_feature_does_not_import_qtwebengine():
    code = ("import sys; import desktop.ui.features.oauth; "
            "print(sorted(m for m in sys.modules if m.startswith('PySide6.QtWebEngine')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_automatic_refresh_that_fails_on_the_network_is_retried_and_the_window_says_when(
        qtbot, app, ctx, oauth, server_config, sign_in):
    """The scheduler asks for a due refresh; the provider answers 503 to every attempt; Tokendesk
    says when it tries again, and the retry (timer fired at that time) renews the token."""
    from desktop.ui.features.notify import NotifyFeature, WallClockTimer

    class HandTimer(WallClockTimer):
        armed_at = None

        def arm(self, at, now):
            self.armed_at = at

        def disarm(self):
            self.armed_at = None

    now = [utcnow()]
    cfg = server_config("Support mailbox")
    sign_in(cfg.name)
    ctx.store.update_state(cfg.id, token_expires_at=now[0] + timedelta(seconds=60),  # inside the lead time
                           last_requested_at=now[0] - timedelta(hours=1))  # and more than half its life old
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    oauth.fault("token", "error", status=503, body={"error": "temporarily_unavailable"}, times=3)
    app.window.reload()
    select(app, cfg.name)
    timer = HandTimer()
    notify = NotifyFeature(app, tray_probe=lambda: False, dbus_factory=None, clock=lambda: now[0], timer=timer)
    try:
        controller = notify.controller
        qtbot.waitUntil(lambda: controller.scheduler.retry_at(cfg.id) is not None, timeout=TIMEOUT_MS)
        retry = controller.scheduler.retry_at(cfg.id)
        assert retry == now[0] + timedelta(minutes=1)
        assert oauth.counters["refresh_token"] == 3  # three attempts with backoff, all answered 503
        assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) == old  # the old token is kept
        assert "failed: provider not reachable. Next try " in app.window.statusBar().currentMessage()
        assert notify.refresh_info.text().startswith("the last attempt failed; next attempt ")
        assert "last request failed" in app.window.model.index(app.window.model.row_of(cfg.name), 2).data()
        assert timer.armed_at is not None and timer.armed_at <= retry + timedelta(minutes=1)
        qtbot.wait(50)
        app.window.details.ensureWidgetVisible(notify.refresh_box)
        app.window.grab().save(str(screenshot_path("automatic_refresh_retry.png")))

        now[0] = timer.armed_at  # the provider is back; the timer fires at the retry
        with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
            timer.fired.emit()
        qtbot.waitUntil(lambda: ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != old, timeout=TIMEOUT_MS)
        assert oauth.counters["refresh_token"] == 4
        assert ctx.store.get_state(cfg.id).has_error is False
        assert controller.scheduler.retry_at(cfg.id) is None
        qtbot.waitUntil(lambda: notify.refresh_info.text().startswith("next "), timeout=5000)
    finally:
        notify.shutdown()
        app.window.close_to_tray = None


def test_copy_access_token_refreshes_first_marks_it_secret_and_clears_the_clipboard(
        qtbot, app, ctx, oauth, server_config, sign_in, monkeypatch):
    from PySide6.QtGui import QGuiApplication

    from desktop.ui.features import oauth as oauth_feature

    monkeypatch.setattr(oauth_feature, "CLIPBOARD_CLEAR_SECONDS", 1)
    cfg = server_config("Support mailbox")
    never = server_config("Not signed in")
    sign_in(cfg.name)
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() + timedelta(seconds=20),  # inside the lead time
                           last_requested_at=utcnow() - timedelta(hours=1))  # and more than half its life old
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    app.window.reload()
    select(app, never.name)
    assert not feature(app).copy_action.isEnabled()  # nothing to copy
    select(app, cfg.name)
    assert feature(app).copy_action.isEnabled()
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("something else")
    feature(app).copy_action.trigger()
    qtbot.waitUntil(lambda: clipboard.text() != "something else", timeout=TIMEOUT_MS)
    fresh = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    assert fresh != old and clipboard.text() == fresh  # refreshed first: a token that still works
    assert bytes(clipboard.mimeData().data("x-kde-passwordManagerHint")) == b"secret"
    assert "copied. The clipboard is cleared in 1 s" in app.window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)
    # a token that needs a new sign-in: said plainly, nothing copied
    ctx.store.update_state(cfg.id, reauthorization_needed=True, token_expires_at=utcnow())
    oauth.fault("token", "error", status=400, body={"error": "invalid_grant"})
    feature(app).copy_action.trigger()
    qtbot.waitUntil(lambda: getattr(feature(app), "last_report", None) is not None, timeout=TIMEOUT_MS)
    report = feature(app).last_report.text()
    assert "'Support mailbox' needs a new sign-in" in report and "Request a new token" in report
    feature(app).last_report.close()
    assert clipboard.text() == ""
