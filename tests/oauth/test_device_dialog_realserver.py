"""Token > Sign in with a code in the window (issue 12), against oidc-provider's device flow: the dialog shows the
code, the address, a QR code and a countdown; approved at the verification page (over HTTP, as a browser) the token
is stored and the dialog closes; denied, the dialog says so and what to do; Cancel stops the polling."""

# ruff: noqa: F811 - the fixtures imported from tests.servers.device are the tests' arguments
from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QApplication

from desktop.store.secrets import ACCESS_TOKEN
from tests.oauth.conftest import screenshot_path
from tests.oauth.test_device_realserver import _config
from tests.servers.device import DeviceBrowser, device_server  # noqa: F401
from tests.support.window import window_features

pytestmark = pytest.mark.realserver
TIMEOUT_MS = 45000


@pytest.fixture
def app(qapp, ctx):
    from desktop.app import Application

    application = Application(qapp, ctx, features=window_features("desktop.ui.features.oauth",
                                                                  "desktop.ui.features.device_sign_in"))
    application.window.resize(1180, 520)
    application.window.show()
    yield application
    application.tasks.wait(10000)
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


def _open_dialog(qtbot, app, cfg):
    feature = app.features["device_sign_in"]
    app.window.reload()
    assert app.window.select_configuration(cfg.name)
    assert feature.action.isEnabled()
    feature.action.trigger()
    qtbot.waitUntil(lambda: feature.dialog is not None and feature.dialog.isVisible(), timeout=TIMEOUT_MS)
    return feature.dialog


def _in_thread(fn, *args):
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def test_sign_in_with_a_code_approved(qtbot, app, ctx, device_server):
    cfg = _config(ctx, device_server)
    dialog = _open_dialog(qtbot, app, cfg)
    auth = dialog.auth
    assert dialog.code_label.text() == auth.user_code
    assert auth.verification_uri in dialog.address_label.text()
    assert not dialog.qr_label.pixmap().isNull() and dialog.qr_label.pixmap().width() >= 150
    assert dialog.countdown_label.text().startswith("The code is valid for 9:") or \
        dialog.countdown_label.text().startswith("The code is valid for 10:")
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == auth.user_code
    dialog.grab().save(str(screenshot_path("device-dialog.png")))
    browser = DeviceBrowser()
    try:
        with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
            _in_thread(browser.approve, auth.verification_uri, auth.user_code).join(30)
    finally:
        browser.close()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT_MS)
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    assert ctx.store.get_state(cfg.id).has_refresh_token


def test_sign_in_with_a_code_denied_is_explained(qtbot, app, ctx, device_server):
    cfg = _config(ctx, device_server)
    dialog = _open_dialog(qtbot, app, cfg)
    browser = DeviceBrowser()
    try:
        _in_thread(browser.deny, dialog.auth.verification_uri, dialog.auth.user_code).join(30)
    finally:
        browser.close()
    qtbot.waitUntil(lambda: dialog.ended, timeout=TIMEOUT_MS)
    assert dialog.isVisible()
    assert dialog.status_label.text().startswith("The sign-in was refused at the provider's page (access denied)")
    assert "allow access" in dialog.status_label.text()
    assert dialog.cancel_button.text() == "Close"
    dialog.grab().save(str(screenshot_path("device-dialog-denied.png")))
    dialog.reject()
    assert not ctx.store.get_state(cfg.id).has_access_token


def test_cancel_stops_the_polling(qtbot, app, ctx, device_server):
    cfg = _config(ctx, device_server)
    dialog = _open_dialog(qtbot, app, cfg)
    assert app.tasks.busy_text.startswith("Waiting for the sign-in")
    dialog.reject()
    assert app.tasks.busy_text == ""
    assert app.tasks.wait(10000)  # the poll task noticed and ended
    assert not ctx.store.get_state(cfg.id).has_access_token
