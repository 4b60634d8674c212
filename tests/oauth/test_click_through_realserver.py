"""A button that names an action does it, against the real OAuth2 server: the notification bar's "Request new
token" signs in (the embedded login dialog, real sign-in, token stored) and its "Refresh" refreshes (real refresh
after the automatic one failed on the network). The whole window with the oauth and notify features, the real
task runner (offscreen)."""

from __future__ import annotations

from datetime import timedelta

import PySide6.QtWebEngineWidgets  # noqa: F401 - QtWebEngine before the QApplication exists
import pytest
from PySide6.QtWidgets import QApplication

from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN
from tests.oauth.conftest import screenshot_path

pytestmark = pytest.mark.realserver

TIMEOUT_MS = 45000


@pytest.fixture
def app(qapp, ctx, monkeypatch):
    from desktop.app import Application

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # offscreen, no bus: the bar is the notification
    for widget in QApplication.topLevelWidgets():  # a box an earlier test left open would hold the action back
        if widget.isModal() and widget.isVisible():
            widget.hide()  # (close() is ignored by a message box without an escape button)
    application = Application(qapp, ctx, features=["desktop.ui.features.oauth", "desktop.ui.features.notify"])
    application.window.resize(1000, 520)
    application.window.show()
    yield application
    application.tasks.wait(10000)
    application.features["notify"].shutdown()
    application.window.close_to_tray = None
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


def bar_rows(app):
    return [(row.item.name, row.button.text()) for row in app.features["notify"].bar.rows]


def test_the_bars_request_new_token_signs_in_and_stores_the_token(qtbot, app, ctx, oauth, server_config):
    cfg = server_config("Support mailbox")  # never signed in: "No token yet"
    app.window.reload()
    app.hub.configurations_changed.emit()
    bar = app.features["notify"].bar
    qtbot.waitUntil(lambda: bar_rows(app) == [("Support mailbox", "Request new token")], timeout=5000)
    oauth_feature = app.features["oauth"]

    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS) as changed:
        bar.rows[0].button.click()
        assert oauth_feature.login_dialog is not None  # the embedded sign-in opened at once, for that token
        assert oauth_feature.login_dialog.windowTitle() == "Sign in \u2013 Support mailbox"
    assert changed.args == [cfg.id]
    assert ctx.store.get_state(cfg.id).has_access_token
    assert oauth.counters["authorization_code"] == 1
    qtbot.waitUntil(lambda: oauth_feature.login_dialog is None, timeout=5000)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=5000)  # nothing needs attention any more
    assert app.window.statusBar().currentMessage() == "New token stored for 'Support mailbox'."
    assert app.window.current_configuration().name == "Support mailbox"
    QApplication.processEvents()
    app.window.grab().save(str(screenshot_path("notification-bar-request-done.png")))


def test_the_bars_refresh_refreshes_the_token(qtbot, app, ctx, oauth, server_config, sign_in):
    cfg = server_config("Support mailbox")
    sign_in(cfg.name)
    stored = ctx.store.get_by_id(cfg.id)
    stored.notify_on_expired_token = True
    ctx.configurations.update(stored)
    now = utcnow()
    ctx.store.update_state(cfg.id, token_expires_at=now - timedelta(minutes=5),
                           last_requested_at=now - timedelta(hours=1))
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    oauth.fault("token", "error", status=503, body={"error": "temporarily_unavailable"}, times=3)
    app.window.reload()
    app.hub.configurations_changed.emit()  # the automatic refresh runs, meets the 503s and waits for a retry
    notify = app.features["notify"]
    qtbot.waitUntil(lambda: notify.controller.scheduler.retry_at(cfg.id) is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: bar_rows(app) == [("Support mailbox", "Refresh")], timeout=5000)
    assert oauth.counters["refresh_token"] == 3

    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS) as changed:
        notify.bar.rows[0].button.click()
        assert app.window.busy_label.text() == "Refreshing Support mailbox ..."  # the progress while it runs
    assert changed.args == [cfg.id]
    assert oauth.counters["refresh_token"] == 4
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != old
    qtbot.waitUntil(lambda: not notify.bar.isVisible(), timeout=5000)
    assert app.window.statusBar().currentMessage() == "Refreshed 'Support mailbox'."
