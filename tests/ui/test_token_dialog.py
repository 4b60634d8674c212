"""The add/edit dialog: validation while typing, the masked secret, the permanent template, client-credentials
layout, Discover (given endpoints and a real .well-known server on 127.0.0.1), and failed saves."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QLabel, QLineEdit

from desktop.models.config import (
    AUTHORIZATION_CODE,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
)
from desktop.models.templates import load_templates
from desktop.oauth.discovery import DiscoveredEndpoints, DiscoveryError, discover
from desktop.paths import provider_templates_dir
from desktop.store.repository import DuplicateNameError
from desktop.ui.dialogs.token_dialog import TokenDialog

HTTPS_NEEDED = "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"
ENDPOINT_KEYS = (AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN)


@pytest.fixture(scope="module")
def catalog():
    return load_templates([provider_templates_dir()])


@pytest.fixture
def open_dialog(qtbot, catalog):
    def make(template_name: str = "Generic OAuth2", cfg=None, **kwargs) -> TokenDialog:
        template = catalog.require(template_name)
        dialog = TokenDialog(cfg or template.new_configuration(""), template=template,
                             redirect_uri="http://127.0.0.1:8765/oauth2/callback", **kwargs)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


def error_of(dialog: TokenDialog, field: str) -> str | None:
    label = dialog.fields[field].error
    return label.text() if label.isVisible() else None


def fill_generic(qtbot, dialog: TokenDialog, name: str = "Billing SSO") -> None:
    qtbot.keyClicks(dialog.name_edit, name)
    qtbot.keyClicks(dialog.client_id_edit, "billing-client")
    for key in ENDPOINT_KEYS:
        qtbot.keyClicks(dialog.endpoint_edits[key], f"https://sso.example.org/{key.lower()}")


# ---- validation while typing


def test_new_dialog_has_save_disabled_and_says_why(open_dialog):
    dialog = open_dialog()
    assert dialog.windowTitle() == "Add token configuration - Tokendesk"
    assert not dialog.save_button.isEnabled()
    assert dialog.summary.text() == "Cannot save yet: Name is required (and 4 more)."
    # nothing was typed yet: no red lines under the fields
    assert all(error_of(dialog, key) is None for key in dialog.fields)


def test_messages_appear_per_field_after_typing(qtbot, open_dialog):
    dialog = open_dialog(existing_names={"Support mailbox", "Sales"})
    qtbot.keyClicks(dialog.name_edit, "support MAILBOX")
    assert error_of(dialog, "Name") == "'support MAILBOX' is already used by another configuration"
    assert error_of(dialog, "Client ID") is None  # untouched fields stay quiet
    qtbot.keyClicks(dialog.endpoint_edits[AUTHORIZATION_CODE], "http://sso.example.org/authorize")
    assert error_of(dialog, "Authorization endpoint") == HTTPS_NEEDED
    assert dialog.summary.text().startswith("Cannot save yet: Name 'support MAILBOX' is already used")
    assert not dialog.save_button.isEnabled()

    dialog.endpoint_edits[AUTHORIZATION_CODE].setText("http://127.0.0.1:8080/authorize")  # loopback is fine
    assert error_of(dialog, "Authorization endpoint") is None
    dialog.endpoint_edits[AUTHORIZATION_CODE].setText("https://sso.example .org/authorize")
    assert error_of(dialog, "Authorization endpoint") == "must not contain spaces"
    dialog.name_edit.setText(" Support")
    assert error_of(dialog, "Name") == "must not start or end with spaces"
    dialog.name_edit.setText("")
    assert error_of(dialog, "Name") == "is required"


def test_becomes_valid_when_everything_is_filled(qtbot, open_dialog):
    dialog = open_dialog(existing_names={"Other"})
    fill_generic(qtbot, dialog)
    assert dialog.errors == []
    assert dialog.save_button.isEnabled()
    assert dialog.summary.text() == ""
    assert all(error_of(dialog, key) is None for key in dialog.fields)


def test_validity_and_optional_fields_are_validated(qtbot, open_dialog):
    dialog = open_dialog()
    fill_generic(qtbot, dialog)
    qtbot.keyClicks(dialog.revocation_edit, "http://sso.example.org/revoke")
    assert error_of(dialog, "Revocation endpoint") == HTTPS_NEEDED
    assert not dialog.save_button.isEnabled()
    dialog.revocation_edit.clear()
    qtbot.keyClicks(dialog.redirect_edit, "http://tokens.example.org/cb")
    assert error_of(dialog, "Redirect URI") == HTTPS_NEEDED
    dialog.redirect_edit.setText("http://localhost:9000/cb")
    assert dialog.save_button.isEnabled()
    assert dialog.redirect_edit.placeholderText() == "default: http://127.0.0.1:8765/oauth2/callback"


def test_save_button_click_passes_the_form_to_save_fn(qtbot, open_dialog):
    calls = []

    def save(cfg, secret):
        calls.append((cfg, secret))
        saved = cfg.copy()
        saved.id = 42
        return saved

    dialog = open_dialog("Google Mail", save_fn=save)
    qtbot.keyClicks(dialog.name_edit, "Sales Gmail")
    qtbot.keyClicks(dialog.client_id_edit, "  123.apps.googleusercontent.com ")
    qtbot.keyClicks(dialog.secret_edit.edit, "typed-secret")
    dialog.scope_edit.setText("https://mail.google.com/   openid")
    dialog.validity_combo.setCurrentIndex(dialog.validity_combo.findText("invalid-temporarily"))
    dialog.notify_expired.setChecked(True)
    dialog.lead_hours.setValue(48)
    dialog.lifetime_spin.setValue(7)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    (cfg, secret), = calls
    assert secret == "typed-secret"
    assert cfg.name == "Sales Gmail" and cfg.client_id == "123.apps.googleusercontent.com"
    assert cfg.template_name == "Google Mail" and cfg.valid_id == 3
    assert cfg.scope == "https://mail.google.com/ openid"
    assert cfg.notify_on_expired_token is True and cfg.notification_lead_time_minutes == 48 * 60
    assert cfg.refresh_token_lifetime_days == 7
    assert cfg.browser_mode == "system"  # the template's default survives the dialog
    assert cfg.static_parameters(AUTHORIZATION_CODE)["access_type"] == "offline"  # untouched keys are kept
    assert "ClientSecret" not in cfg.config
    assert dialog.saved.id == 42


def test_saving_unchanged_keeps_values_the_form_cannot_show_exactly(qtbot, open_dialog, catalog):
    """A lead time of 90 minutes (from a Znuny import) shows as 2 hours; saving without touching it keeps 90."""
    cfg = catalog.require("Microsoft Exchange Online").new_configuration("Imported")
    cfg.id, cfg.client_id = 3, "abc"
    cfg.notification_lead_time_minutes = 90
    calls = []
    dialog = open_dialog("Microsoft Exchange Online", cfg=cfg, save_fn=lambda c, s: calls.append(c) or c)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert calls[0].notification_lead_time_minutes == 90
    calls.clear()
    dialog = open_dialog("Microsoft Exchange Online", cfg=cfg, save_fn=lambda c, s: calls.append(c) or c)
    dialog.lead_hours.setValue(3)  # a change the admin makes is saved
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert calls[0].notification_lead_time_minutes == 180


@pytest.mark.parametrize("template_name", [
    "Google Mail", "Microsoft Exchange Online", "Microsoft Exchange Online (client credentials)", "Generic OAuth2",
    "Generic OpenID Connect"])
def test_opening_and_saving_changes_nothing(qtbot, open_dialog, catalog, template_name):
    cfg = catalog.require(template_name).new_configuration("Round trip")
    cfg.id, cfg.client_id = 5, "round-trip-client"
    for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        if key in cfg.config["Requests"]:
            cfg.set_endpoint(key, cfg.endpoint(key) or f"https://idp.example.org/{key}")
    if cfg.client_credentials_url:  # a stored configuration has its tenant filled in
        cfg.set_endpoint("TokenByClientCredentials", cfg.client_credentials_url.replace("TENANT-ID", "contoso.com"))
    cfg.config["VendorKey"] = {"kept": [1, 2]}
    calls = []
    dialog = open_dialog(template_name, cfg=cfg, client_secret_stored=True,
                         save_fn=lambda c, s: calls.append((c, s)) or c)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    (saved, secret), = calls
    assert secret is None
    assert saved.config == cfg.config
    assert (saved.name, saved.valid_id, saved.id) == (cfg.name, cfg.valid_id, cfg.id)


def test_template_defaults_are_loaded(open_dialog):
    dialog = open_dialog("Microsoft Exchange Online")
    assert dialog.endpoint_edits[AUTHORIZATION_CODE].text() == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    assert "offline_access" in dialog.scope_edit.text().split()
    assert not dialog.notify_expired.isChecked() and dialog.notify_refresh_expired.isChecked()
    assert dialog.lead_hours.value() == 7 * 24
    assert dialog.lifetime_spin.value() == 90
    assert dialog.browser_combo.currentData() == "embedded"
    assert "AADSTS50011" in dialog.findChildren(QLabel)[0].text()  # the template's help is shown first


# ---- secret and template fields


def test_secret_is_masked_by_default_and_show_toggles(qtbot, open_dialog):
    dialog = open_dialog()
    secret = dialog.secret_edit
    qtbot.keyClicks(secret.edit, "hunter2-secret")
    assert secret.is_masked() and secret.edit.echoMode() == QLineEdit.EchoMode.Password
    assert secret.edit.displayText() != "hunter2-secret"
    assert secret.toggle.text() == "Show"
    qtbot.mouseClick(secret.toggle, Qt.MouseButton.LeftButton)
    assert not secret.is_masked() and secret.edit.displayText() == "hunter2-secret"
    assert secret.toggle.text() == "Hide"
    qtbot.mouseClick(secret.toggle, Qt.MouseButton.LeftButton)
    assert secret.is_masked() and secret.toggle.text() == "Show"
    assert "hunter2" not in secret.toolTip() + secret.toggle.toolTip()


def test_template_is_shown_read_only(open_dialog):
    dialog = open_dialog("Google Mail")
    assert isinstance(dialog.template_label, QLabel)
    assert dialog.template_label.text() == "Google Mail"
    assert "cannot be changed" in dialog.template_label.toolTip()
    editable = [w for w in dialog.findChildren(QLineEdit) + dialog.findChildren(QComboBox)
                if (w.currentText() if isinstance(w, QComboBox) else w.text()) == "Google Mail"]
    assert editable == []


def test_edit_keeps_the_stored_secret_and_allows_its_own_name(qtbot, open_dialog, catalog):
    cfg = catalog.require("Microsoft Exchange Online").new_configuration("Support mailbox")
    cfg.id, cfg.client_id = 7, "abc"
    calls = []
    dialog = open_dialog("Microsoft Exchange Online", cfg=cfg, existing_names={"Support mailbox", "Sales"},
                         client_secret_stored=True, save_fn=lambda c, s: calls.append(s) or c)
    assert dialog.windowTitle() == "Edit 'Support mailbox' - Tokendesk"
    assert "leave empty to keep it" in dialog.secret_edit.edit.placeholderText()
    dialog.name_edit.setText("SUPPORT MAILBOX")
    assert dialog.save_button.isEnabled()
    dialog.name_edit.setText("sales")
    assert error_of(dialog, "Name") == "'sales' is already used by another configuration"
    dialog.name_edit.setText("Support mailbox")
    assert dialog.client_secret() is None  # empty field on edit: keep the stored secret
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert calls == [None]


def test_client_authentication_is_kept_and_written_only_when_not_the_default(qtbot, open_dialog, catalog):
    cfg = catalog.require("Generic OAuth2").new_configuration("Shop API")
    cfg.id, cfg.client_id = 9, "abc"
    for key in (AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN):
        cfg.set_endpoint(key, "https://sso.example.org/oauth2/x")
    saved = []
    dialog = open_dialog("Generic OAuth2", cfg=cfg, client_secret_stored=True,
                         save_fn=lambda c, s: saved.append(c) or c)
    assert dialog.client_auth_combo.isVisible()
    dialog.client_auth_combo.setCurrentIndex(dialog.client_auth_combo.findData("client_secret_basic"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved[-1].client_authentication == "client_secret_basic"
    assert saved[-1].config["Tokendesk"]["ClientAuthentication"] == "client_secret_basic"
    again = open_dialog("Generic OAuth2", cfg=saved[-1], client_secret_stored=True,
                        save_fn=lambda c, s: saved.append(c) or c)
    assert again.client_auth_combo.currentData() == "client_secret_basic"
    again.client_auth_combo.setCurrentIndex(again.client_auth_combo.findData("client_secret_post"))
    qtbot.mouseClick(again.save_button, Qt.MouseButton.LeftButton)
    assert "ClientAuthentication" not in saved[-1].config.get("Tokendesk", {})  # as Znuny would export it


# ---- client credentials


def test_client_credentials_template_shows_only_its_endpoint(qtbot, open_dialog):
    dialog = open_dialog("Microsoft Exchange Online (client credentials)")
    assert set(dialog.endpoint_edits) == {TOKEN_BY_CLIENT_CREDENTIALS}
    assert dialog.endpoint_edits[TOKEN_BY_CLIENT_CREDENTIALS].isVisible()
    endpoint_fields = {k for k in dialog.fields if "endpoint" in k.lower()}
    assert endpoint_fields == {"Token endpoint (client credentials)", "Revocation endpoint"}
    for widget in (dialog.pkce_check, dialog.browser_combo, dialog.redirect_edit, dialog.lifetime_spin,
                   dialog.issuer_edit):
        assert not widget.isVisible()
    qtbot.keyClicks(dialog.name_edit, "Archive mailbox")
    qtbot.keyClicks(dialog.client_id_edit, "app-id")
    assert not dialog.save_button.isEnabled()
    dialog.touch_all()
    assert "TENANT-ID" in error_of(dialog, "Token endpoint (client credentials)")
    endpoint = dialog.endpoint_edits[TOKEN_BY_CLIENT_CREDENTIALS]
    endpoint.setText(endpoint.text().replace("TENANT-ID", "contoso.onmicrosoft.com"))
    assert not dialog.save_button.isEnabled()
    assert error_of(dialog, "Client secret") == "is required"  # nothing works without it in this flow
    qtbot.keyClicks(dialog.secret_edit.edit, "app-secret")
    assert dialog.save_button.isEnabled()  # no authorization or refresh endpoint needed
    assert not dialog.notify_refresh_expired.isVisible()  # no refresh token in this flow
    dialog.endpoint_edits[TOKEN_BY_CLIENT_CREDENTIALS].setText("")
    assert error_of(dialog, "Token endpoint (client credentials)") == "is required"


# ---- discovery


def test_discover_is_offered_only_where_the_template_says_so(open_dialog):
    assert open_dialog("Generic OpenID Connect").discover_button.isVisible()
    assert not open_dialog("Generic OAuth2").discover_button.isVisible()


def test_apply_discovery_fills_the_endpoints(qtbot, open_dialog):
    dialog = open_dialog("Generic OpenID Connect")
    issued = []
    dialog.discover_fn = issued.append
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert dialog.discover_status.text() == "Enter the issuer URL first."
    qtbot.keyClicks(dialog.issuer_edit, "https://login.example.com/realms/main")
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert issued == ["https://login.example.com/realms/main"]
    assert not dialog.discover_button.isEnabled()  # while the request runs
    assert "Reading https://login.example.com/realms/main/.well-known/openid-configuration" in (
        dialog.discover_status.text())
    dialog.apply_discovery(DiscoveredEndpoints(
        issuer="https://login.example.com/realms/main",
        authorization_endpoint="https://login.example.com/realms/main/protocol/openid-connect/auth",
        token_endpoint="https://login.example.com/realms/main/protocol/openid-connect/token",
        revocation_endpoint="https://login.example.com/realms/main/protocol/openid-connect/revoke",
    ))
    assert dialog.discover_button.isEnabled()
    assert dialog.endpoint_edits[AUTHORIZATION_CODE].text().endswith("/openid-connect/auth")
    assert dialog.endpoint_edits[TOKEN_BY_AUTHORIZATION_CODE].text().endswith("/openid-connect/token")
    assert dialog.endpoint_edits[TOKEN_BY_REFRESH_TOKEN].text().endswith("/openid-connect/token")
    assert dialog.revocation_edit.text().endswith("/openid-connect/revoke")
    assert dialog.discover_status.text().startswith("Endpoints filled in from the discovery document.")
    qtbot.keyClicks(dialog.name_edit, "SSO")
    qtbot.keyClicks(dialog.client_id_edit, "sso-client")
    assert dialog.save_button.isEnabled()
    assert dialog._collect().discovery_url == "https://login.example.com/realms/main"


class _WellKnown(BaseHTTPRequestHandler):
    documents: dict[str, dict] = {}

    def do_GET(self):  # noqa: N802 - http.server naming
        doc = self.documents.get(self.path)
        body = json.dumps(doc).encode() if doc is not None else b'{"error": "not found"}'
        self.send_response(200 if doc is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def well_known(monkeypatch):
    """A real HTTP server on 127.0.0.1 (free port) serving discovery documents; stopped at teardown."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    handler = type("Handler", (_WellKnown,), {"documents": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, handler.documents
    server.shutdown()
    server.server_close()
    thread.join(5)


def _discover_into(dialog: TokenDialog):
    def run(issuer: str) -> None:
        try:
            dialog.apply_discovery(discover(issuer, 5.0))
        except DiscoveryError as exc:
            dialog.discovery_failed(str(exc))

    return run


def test_discover_from_a_real_well_known_document(qtbot, open_dialog, well_known):
    base, documents = well_known
    issuer = f"{base}/realms/main"
    documents["/realms/main/.well-known/openid-configuration"] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "revocation_endpoint": f"{issuer}/revoke",
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
    }
    dialog = open_dialog("Generic OpenID Connect")
    assert dialog.client_auth_combo.currentData() == "client_secret_post"  # Znuny's way unless told otherwise
    dialog.discover_fn = _discover_into(dialog)
    qtbot.keyClicks(dialog.issuer_edit, issuer)
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert dialog.client_auth_combo.currentData() == "client_secret_basic"  # the only secret method it announces
    assert dialog.endpoint_edits[AUTHORIZATION_CODE].text() == f"{issuer}/auth"
    assert dialog.endpoint_edits[TOKEN_BY_AUTHORIZATION_CODE].text() == f"{issuer}/token"
    assert dialog.endpoint_edits[TOKEN_BY_REFRESH_TOKEN].text() == f"{issuer}/token"
    assert dialog.revocation_edit.text() == f"{issuer}/revoke"
    assert all(error_of(dialog, ENDPOINT) is None for ENDPOINT in
               ("Authorization endpoint", "Token endpoint", "Token refresh endpoint"))


def test_discover_falls_back_to_rfc8414_and_reports_failures(qtbot, open_dialog, well_known):
    base, documents = well_known
    documents["/.well-known/oauth-authorization-server/tenant"] = {
        "issuer": f"{base}/tenant", "authorization_endpoint": f"{base}/a", "token_endpoint": f"{base}/t"}
    dialog = open_dialog("Generic OpenID Connect")
    dialog.discover_fn = _discover_into(dialog)
    dialog.issuer_edit.setText(f"{base}/tenant")
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert dialog.endpoint_edits[AUTHORIZATION_CODE].text() == f"{base}/a"

    dialog.issuer_edit.setText(f"{base}/nowhere")
    dialog.endpoint_edits[AUTHORIZATION_CODE].setText("https://kept.example/auth")
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert dialog.discover_status.text().startswith("No discovery document found: ")
    assert "(404)" in dialog.discover_status.text()
    assert dialog.discover_button.isEnabled()
    assert dialog.endpoint_edits[AUTHORIZATION_CODE].text() == "https://kept.example/auth"  # nothing lost

    dialog.issuer_edit.setText("http://sso.example.org/realms/main")
    qtbot.mouseClick(dialog.discover_button, Qt.MouseButton.LeftButton)
    assert dialog.discover_status.text() == f"The issuer URL {HTTPS_NEEDED}."


# ---- failed saves


def test_a_failing_save_keeps_the_dialog_open_with_the_message(qtbot, open_dialog):
    def save(cfg, secret):
        raise DuplicateNameError(cfg.name)

    dialog = open_dialog(save_fn=save)
    fill_generic(qtbot, dialog, "Raced")
    qtbot.keyClicks(dialog.secret_edit.edit, "keep-me")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.saved is None
    assert dialog.summary.text() == "Not saved: A configuration named 'Raced' already exists; choose another name."
    assert dialog.name_edit.text() == "Raced" and dialog.secret_edit.text() == "keep-me"  # nothing typed is lost


def test_save_with_errors_shows_every_field_message(qtbot, open_dialog):
    saved = []
    dialog = open_dialog(save_fn=lambda c, s: saved.append(c))
    dialog._on_save()  # e.g. Ctrl+S while the form is incomplete
    assert saved == []
    assert error_of(dialog, "Name") == "is required"
    assert error_of(dialog, "Client ID") == "is required"
    assert error_of(dialog, "Token endpoint") == "is required"
    assert dialog.isVisible()


def test_refresh_token_lifetime_presets(qtbot, open_dialog):
    dialog = open_dialog("Microsoft Exchange Online")
    assert dialog.lifetime_preset.currentText().startswith("90 days, renewed by every refresh")
    google_testing = dialog.lifetime_preset.findText('7 days from sign-in (Google app in "Testing" status)')
    dialog.lifetime_preset.setCurrentIndex(google_testing)
    dialog.lifetime_preset.activated.emit(google_testing)
    assert dialog.lifetime_spin.value() == 7 and not dialog.rolling_check.isChecked()
    cfg = dialog._collect()
    assert cfg.refresh_token_lifetime_days == 7 and cfg.refresh_token_lifetime_rolling is False
    dialog.lifetime_spin.setValue(30)  # anything else is "Custom"
    assert dialog.lifetime_preset.currentText() == "Custom"
    dialog.lifetime_spin.setValue(0)
    assert dialog.lifetime_preset.currentText().startswith("Unlimited")
    assert not dialog.rolling_check.isEnabled()
    assert dialog._collect().refresh_token_lifetime_days is None
