"""The settings dialog is built from the setting specs; it shows the redirect URI and refuses an http one on a
non-loopback host."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLineEdit, QSpinBox

from desktop.models.settings import SETTINGS
from desktop.ui.dialogs.settings_dialog import SettingsDialog

HTTPS_NEEDED = "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"


@pytest.fixture
def dialog(qtbot, ctx):
    d = SettingsDialog(ctx.settings)
    qtbot.addWidget(d)
    d.show()
    return d


def save_button(d: SettingsDialog):
    return d.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_one_editor_per_setting_of_the_right_kind(dialog):
    # secrets.* is switched through the window's keyring bar (which also moves the store), not here
    expected = {s.key for s in SETTINGS if not s.key.startswith(("ui.", "secrets.", "alerts."))}  # alerts: own dialog
    assert set(dialog.editors) == expected
    assert isinstance(dialog.editors["redirect.http_type"], QComboBox)
    assert isinstance(dialog.editors["redirect.fqdn"], QLineEdit)
    assert isinstance(dialog.editors["pop3.split_hosts"], QLineEdit)
    assert isinstance(dialog.editors["network.timeout_seconds"], QSpinBox)
    assert "(Znuny: FQDN)" in dialog.editors["redirect.fqdn"].toolTip()
    assert "MailAccount::POP3::Auth::SplitOAuth2MethodAndToken::Hosts" in dialog.editors["pop3.split_hosts"].toolTip()


def test_shows_the_current_values_and_the_redirect_uri(dialog):
    assert dialog.editors["pop3.split_hosts"].text() == "outlook.office365.com, pop-mail.outlook.com"
    assert dialog.editors["network.timeout_seconds"].value() == 20
    assert dialog.editors["network.timeout_seconds"].suffix() == " s"
    assert dialog.redirect_label.text() == "http://127.0.0.1:8765/oauth2/callback"
    assert save_button(dialog).isEnabled() and dialog.error.text() == ""


def test_collected_values_are_typed(dialog):
    dialog.editors["pop3.split_hosts"].setText(" pop.example.org,\npop2.example.org , ")
    dialog.editors["refresh.lead_time_seconds"].setValue(120)
    values = dialog.collected()
    assert values["pop3.split_hosts"] == ["pop.example.org", "pop2.example.org"]
    assert values["refresh.lead_time_seconds"] == 120
    assert "secrets.allow_file_fallback" not in values
    assert values["redirect.http_type"] == "http"
    assert "ui.close_to_tray_hint_shown" not in values


def test_http_redirect_on_a_remote_host_is_refused(qtbot, dialog):
    fqdn = dialog.editors["redirect.fqdn"]
    fqdn.clear()
    qtbot.keyClicks(fqdn, "tokens.example.org")
    assert dialog.redirect_label.text() == "http://tokens.example.org/oauth2/callback"
    assert dialog.error.text() == f"The redirect URI http://tokens.example.org/oauth2/callback {HTTPS_NEEDED}."
    assert not save_button(dialog).isEnabled()
    dialog._on_save()
    assert dialog.result() != QDialog.DialogCode.Accepted  # e.g. Enter pressed anyway

    dialog.editors["redirect.http_type"].setCurrentText("https")
    assert dialog.redirect_label.text() == "https://tokens.example.org/oauth2/callback"
    assert dialog.error.text() == "" and save_button(dialog).isEnabled()
    dialog.editors["redirect.script_alias"].setText("/otrs/oauth2/")
    assert dialog.redirect_label.text() == "https://tokens.example.org/otrs/oauth2"
    save_button(dialog).click()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_loopback_redirects_may_use_http(dialog):
    for host in ("localhost:9000", "[::1]:8080", "127.0.0.1"):
        dialog.editors["redirect.fqdn"].setText(host)
        assert save_button(dialog).isEnabled(), host


def test_saved_values_reach_the_store(ctx, dialog):
    dialog.editors["network.timeout_seconds"].setValue(45)
    dialog.editors["pop3.split_hosts"].setText("pop.example.org")
    ctx.store.set_settings(dialog.collected().items())
    assert ctx.store.get_setting("network.timeout_seconds") == 45
    assert ctx.store.get_setting("pop3.split_hosts") == ["pop.example.org"]
    reopened = SettingsDialog(ctx.settings)
    assert reopened.editors["network.timeout_seconds"].value() == 45
    reopened.deleteLater()
