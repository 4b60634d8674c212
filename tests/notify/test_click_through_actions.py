"""A button that names an action does it: the notification bar's, a tray message's, a tray menu entry's and a
desktop notification's "Request new token" starts the sign-in of that token, "Refresh" refreshes it - after the
window came up with its row selected. The real window, the real notify and oauth features (offscreen); only the
blocking sign-in calls are stand-ins (the realserver lane signs in for real: tests/oauth/test_feature.py)."""

from __future__ import annotations

import sys
import types
from datetime import timedelta

import pytest
import shiboken6
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QDialog

from desktop.models.config import BROWSER_SYSTEM
from desktop.oauth.errors import Cancelled, NetworkError
from tests.notify.helpers import shots_dir
from tests.notify.test_notify_ui import FakeDesktopNotifications, signed_in

H = timedelta(hours=1)
D = timedelta(days=1)


class FakeLoginDialog(QDialog):
    """Stands in for the embedded login dialog (QtWebEngine): records for which configuration it was opened."""

    def __init__(self, service, name, *, runner=None, parent=None):
        super().__init__(parent)
        self.name = name
        self.result_state = None
        self.setWindowTitle(f"Sign in \u2013 {name}")
        self.resize(480, 320)


class SystemBrowserSignIn:
    """Stands in for ``authorize_with_system_browser`` (it blocks until the browser comes back): records the
    configuration, shows the address as the real one does, notes what the admin sees, then the admin cancels."""

    def __init__(self, feature, window, shot=None):
        self.feature = feature
        self.window = window
        self.shot = shot
        self.started: list[str] = []
        self.seen: list[dict] = []

    def __call__(self, service, name, *, timeout, open_browser, show_url, on_listener):
        self.started.append(name)
        show_url("https://accounts.example.test/o/oauth2/auth?client_id=client-" + name.replace(" ", "-"), False)
        QApplication.processEvents()  # the address reaches the dialog through a queued signal
        wait = self.feature.wait_dialog
        current = self.window.current_configuration()
        self.seen.append({"title": wait.windowTitle() if wait else None, "visible": bool(wait and wait.isVisible()),
                          "message": wait.message.text() if wait else "",
                          "selected": current.name if current else None})
        if self.shot is not None and wait is not None:
            save_window_with_dialog(self.window, wait, self.shot)
        raise Cancelled("The sign-in was cancelled.")


def save_window_with_dialog(window, dialog, path) -> None:
    """What the admin sees: the window with the dialog over its middle (offscreen has no window manager)."""
    image = window.grab().toImage()
    shot = dialog.grab()
    painter = QPainter(image)
    at = QPoint((image.width() - shot.width()) // 2, (image.height() - shot.height()) // 3)
    painter.drawPixmap(at, shot)
    painter.setPen(QColor("#505050"))  # the window manager's frame, roughly
    painter.drawRect(at.x() - 1, at.y() - 1, shot.width() + 1, shot.height() + 1)
    painter.end()
    image.save(str(path))


@pytest.fixture
def sign_in(app, monkeypatch):
    """The oauth feature installed in the window, with the blocking sign-in calls replaced; returns a namespace
    with the feature, the login dialogs opened, the system-browser stand-in and the refreshes that ran."""
    from desktop.ui.features import oauth

    feature = oauth.install(app)
    app.features["oauth"] = feature
    logins: list[FakeLoginDialog] = []

    class Recording(FakeLoginDialog):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            logins.append(self)

    monkeypatch.setitem(sys.modules, "desktop.ui.dialogs.login_dialog",
                        types.SimpleNamespace(LoginDialog=Recording))
    browser = SystemBrowserSignIn(feature, app.window)
    monkeypatch.setattr("desktop.oauth.loopback.authorize_with_system_browser", browser)
    refreshed: list[int] = []
    busy: list[str] = []
    app.tasks.busy_changed.connect(lambda text: text and busy.append(text))
    yield types.SimpleNamespace(feature=feature, logins=logins, browser=browser, refreshed=refreshed, busy=busy)
    for dialog in logins:
        if shiboken6.isValid(dialog):  # closed ones deleted themselves (WA_DeleteOnClose)
            dialog.close()


def test_the_bars_request_new_token_button_starts_the_sign_in_of_that_token(
        app, ctx, make_config, clock, install_notify, sign_in, qtbot, tmp_path):
    shots = shots_dir(tmp_path)
    embedded = make_config("Support mailbox")  # Microsoft: refresh tokens live 90 days
    signed_in(ctx, embedded, clock.now() - 95 * D)
    system = make_config("Sales mailbox", template="Google Mail")
    cfg = ctx.store.get_by_id(system.id)
    cfg.refresh_token_lifetime_days = 7
    cfg.browser_mode = BROWSER_SYSTEM
    ctx.configurations.update(cfg)
    signed_in(ctx, system, clock.now() - 6 * D - 2 * H)  # its refresh token dies in 22 h
    app.window.reload()
    feature = install_notify()
    app.window.show()
    qtbot.waitExposed(app.window)
    assert [(r.item.name, r.button.text()) for r in feature.bar.rows] == [
        ("Support mailbox", "Request new token"), ("Sales mailbox", "Request new token")]
    sign_in.browser.shot = shots / "notification-bar-request-starts-sign-in.png"

    feature.bar.rows[1].button.click()  # Sales mailbox: the system browser
    assert sign_in.browser.started == ["Sales mailbox"]
    assert sign_in.browser.seen == [{
        "title": "Sign in \u2013 Sales mailbox", "visible": True, "selected": "Sales mailbox",
        "message": "No browser could be started. Copy the address below into a browser on this machine to sign in."}]
    assert app.window.statusBar().currentMessage() == (
        "Sign-in for 'Sales mailbox' cancelled; the token was not changed.")
    assert sign_in.feature.wait_dialog is None

    feature.bar.rows[0].button.click()  # Support mailbox: the embedded browser
    [login] = sign_in.logins
    assert login.name == "Support mailbox" and login.isVisible()
    assert sign_in.feature.login_dialog is login
    assert app.window.current_configuration().name == "Support mailbox"
    login.reject()
    assert sign_in.feature.login_dialog is None


def test_the_bars_refresh_button_refreshes_that_token_with_progress(
        app, ctx, make_config, clock, install_notify, sign_in, monkeypatch, qtbot):
    stale = make_config("Support mailbox")
    cfg = ctx.store.get_by_id(stale.id)
    cfg.notify_on_expired_token = True
    ctx.configurations.update(cfg)
    signed_in(ctx, stale, clock.now() - 2 * H)  # the access token expired an hour ago; the refresh token works
    make_config("Archive")
    signed_in(ctx, ctx.store.get("Archive"), clock.now())
    app.window.reload()

    def refresh_by_id(config_id):  # the automatic refresh meets a provider that is down, the admin's works
        sign_in.refreshed.append(config_id)
        if len(sign_in.refreshed) == 1:
            raise NetworkError("The provider could not be reached.")
        return signed_in(ctx, stale, clock.now())

    monkeypatch.setattr(sign_in.feature.service, "refresh_by_id", refresh_by_id)
    feature = install_notify()
    app.window.show()
    [row] = feature.bar.rows
    assert (row.item.name, row.button.text()) == ("Support mailbox", "Refresh")

    assert sign_in.refreshed == [stale.id]  # the automatic attempt
    row.button.click()
    assert sign_in.refreshed == [stale.id, stale.id]
    assert "Refreshing Support mailbox ..." in sign_in.busy  # the progress bar's text while it runs
    assert app.window.statusBar().currentMessage() == "Refreshed 'Support mailbox'."
    assert app.window.current_configuration().name == "Support mailbox"
    assert not feature.bar.isVisible()  # fixed: nothing needs attention any more


def test_a_tray_message_and_a_tray_menu_entry_start_the_sign_in(
        app, ctx, make_config, clock, install_notify, sign_in, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)  # the refresh token expired: sign in again
    app.window.reload()
    feature = install_notify(tray=True)
    tray = feature.tray
    assert tray.last_message_target == ("Support", "request")
    [entry] = tray.attention_actions()
    assert entry.text() == "Support: refresh token expired \u2013 Request new token ..."

    app.window.hide()
    tray.icon.messageClicked.emit()  # a click on the balloon
    assert app.window.isVisible()
    assert app.window.current_configuration().name == "Support"
    [login] = sign_in.logins
    assert login.name == "Support" and login.isVisible()
    login.reject()

    app.window.hide()
    entry.trigger()
    assert app.window.isVisible()
    assert [d.name for d in sign_in.logins] == ["Support", "Support"] and sign_in.logins[1].isVisible()


def test_a_desktop_notifications_button_starts_the_sign_in(
        app, ctx, make_config, clock, install_notify, sign_in, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)
    app.window.reload()
    bus = FakeDesktopNotifications()
    install_notify(dbus=bus)
    # the body's click (default) is the action, like a tray message's; servers that label it show the action
    assert [(t, a) for t, _b, a in bus.sent] == [
        ("Refresh token expired", {"default": "Request new token", "request": "Request new token"})]
    bus.click(41, "request")
    qtbot.waitUntil(lambda: len(sign_in.logins) == 1, timeout=2000)
    assert sign_in.logins[0].name == "Support"
    assert app.window.current_configuration().name == "Support"
    sign_in.logins[0].reject()
    bus.click(41, "default")
    qtbot.waitUntil(lambda: len(sign_in.logins) == 2, timeout=2000)


def test_a_summary_for_many_tokens_opens_the_window_and_starts_nothing(
        app, ctx, make_config, clock, install_notify, sign_in, qtbot):
    for i in range(3):
        signed_in(ctx, make_config(f"Mailbox {i}"), clock.now() - 100 * D)
    app.window.reload()
    feature = install_notify(tray=True)
    assert [n.title for _s, n in feature.delivered] == ["3 tokens need attention"]
    app.window.hide()
    feature.tray.icon.messageClicked.emit()
    assert app.window.isVisible()
    assert app.window.current_configuration().name == "Mailbox 0"  # the first one, selected
    assert sign_in.logins == []  # which of the three? none is started behind the admin's back


def test_a_desktop_notification_for_many_tokens_offers_only_open(app, ctx, make_config, clock, install_notify,
                                                                 sign_in, qtbot):
    for i in range(3):
        signed_in(ctx, make_config(f"Mailbox {i}"), clock.now() - 100 * D)
    app.window.reload()
    bus = FakeDesktopNotifications()
    install_notify(dbus=bus)
    assert [(t, a) for t, _b, a in bus.sent] == [("3 tokens need attention", {"default": "Open"})]
    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        bus.click(41)
    assert opened.args == ["Mailbox 0", ""]
    assert app.window.current_configuration().name == "Mailbox 0"
    assert sign_in.logins == []


def test_while_a_dialog_is_open_the_action_waits_and_the_status_bar_says_how(
        app, ctx, make_config, clock, install_notify, sign_in, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)
    app.window.reload()
    feature = install_notify(tray=True)
    app.window.show()
    other = QDialog(app.window)  # e.g. the Settings dialog the admin is filling in
    other.setWindowTitle("Settings")
    other.open()
    feature.tray.icon.messageClicked.emit()
    assert sign_in.logins == []
    assert app.window.current_configuration().name == "Support"
    assert app.window.statusBar().currentMessage() == (
        "'Support' selected: close the open dialog, then press Ctrl+R to request new token.")
    other.reject()
    other.deleteLater()
