"""The embedded login dialog completes real sign-ins against the test server, offscreen."""

from __future__ import annotations

import PySide6.QtWebEngineWidgets  # noqa: F401 - QtWebEngine before the QApplication exists
import pytest

from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN
from desktop.ui.dialogs.login_dialog import LoginDialog
from tests.oauth.conftest import screenshot_path

pytestmark = pytest.mark.realserver

TIMEOUT_MS = 45000


def open_dialog(qtbot, ctx, name: str) -> LoginDialog:
    dialog = LoginDialog(TokenService(ctx), name)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_embedded_login_completes_and_catches_the_redirect(qtbot, ctx, oauth, server_config):
    cfg = server_config()
    dialog = LoginDialog(TokenService(ctx), cfg.name)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.token_stored, timeout=TIMEOUT_MS) as signal:
        dialog.show()
    assert signal.args == [cfg.id]
    state = ctx.store.get_state(cfg.id)
    assert state.has_access_token and state.has_refresh_token
    assert oauth.introspect(ctx.secrets.get_for(cfg.id, ACCESS_TOKEN))["active"] is True
    # the server's 302 arrived as a redirect navigation in the main frame and was refused there
    assert ("NavigationTypeRedirect", True, True) in dialog.navigations
    assert dialog.caught_by == "navigation"
    assert dialog.result() == LoginDialog.DialogCode.Accepted
    assert "code=" not in dialog.address.text()


def test_login_page_mid_flow_screenshot_then_sign_in(qtbot, ctx, oauth, server_config):
    oauth.configure(login_page=True)
    cfg = server_config("Support mailbox")
    dialog = open_dialog(qtbot, ctx, cfg.name)
    dialog.resize(760, 640)
    qtbot.waitUntil(lambda: dialog._page is not None and "Sign in" in dialog._page.title(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not dialog.progress.isVisible(), timeout=TIMEOUT_MS)
    qtbot.wait(300)  # let the software rasteriser paint the page
    assert dialog.address.text().startswith(oauth.authorization_endpoint)
    assert "Sign in with your provider account" in dialog.status.text()
    dialog.grab().save(str(screenshot_path("login_dialog.png")))
    with qtbot.waitSignal(dialog.token_stored, timeout=TIMEOUT_MS):
        dialog._page.runJavaScript("document.getElementById('signin').click()")
    assert ctx.store.get_state(cfg.id).has_access_token


def test_provider_error_on_the_redirect_is_shown_with_hint(qtbot, ctx, oauth, server_config, sign_in):
    cfg = server_config("Support mailbox")
    sign_in(cfg.name)
    before = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    oauth.fault("authorize", "error", params={
        "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent to access the app.",
        "error_codes": "65004",
    })
    dialog = open_dialog(qtbot, ctx, cfg.name)
    dialog.resize(760, 520)
    qtbot.waitUntil(lambda: dialog.panel_visible(), timeout=TIMEOUT_MS)
    text = dialog.panel.text()
    assert "Sign-in failed" in text and "AADSTS65004" in text
    assert "Consent is missing" in text  # the hint
    assert dialog.retry_button.isVisible() and dialog.cancel_button.text() == "Close"
    dialog.grab().save(str(screenshot_path("login_dialog_error.png")))
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) == before  # the old token is untouched
    assert ctx.store.get_state(cfg.id).error_message == "access_denied"
    # Try again works with a fresh request
    with qtbot.waitSignal(dialog.token_stored, timeout=TIMEOUT_MS):
        dialog.retry_button.click()
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != before


def test_wrong_state_is_refused_and_nothing_stored(qtbot, ctx, oauth, server_config):
    oauth.configure(login_page=True)
    cfg = server_config()
    dialog = open_dialog(qtbot, ctx, cfg.name)
    qtbot.waitUntil(lambda: dialog._page is not None and "Sign in" in dialog._page.title(), timeout=TIMEOUT_MS)
    dialog.request.state = "not-the-state-the-page-carries"
    dialog._page.runJavaScript("document.getElementById('signin').click()")
    qtbot.waitUntil(lambda: dialog.panel_visible(), timeout=TIMEOUT_MS)
    assert "Sign-in refused" in dialog.panel.text()
    assert "Nothing was stored" in dialog.status.text()
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and not state.has_error
    assert oauth.counters["authorization_code"] == 0


def test_cancel_leaves_the_token_untouched(qtbot, ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    before = (ctx.secrets.get_for(cfg.id, ACCESS_TOKEN), ctx.store.get_state(cfg.id))
    oauth.configure(login_page=True)
    dialog = open_dialog(qtbot, ctx, cfg.name)
    qtbot.waitUntil(lambda: dialog._page is not None and "Sign in" in dialog._page.title(), timeout=TIMEOUT_MS)
    dialog.cancel_button.click()
    assert dialog.result() == LoginDialog.DialogCode.Rejected
    assert (ctx.secrets.get_for(cfg.id, ACCESS_TOKEN), ctx.store.get_state(cfg.id)) == before


def test_http_endpoint_outside_loopback_is_explained(qtbot, ctx, oauth, server_config):
    cfg = server_config()
    cfg.set_endpoint("AuthorizationCode", "http://login.example.com/authorize")
    ctx.store.update(cfg)  # as a hand-edited database would hold it (the edit dialog refuses this)
    dialog = open_dialog(qtbot, ctx, cfg.name)
    assert dialog.panel_visible()
    assert "https is required outside this machine" in dialog.panel.text()
    assert not dialog.retry_button.isVisible()
