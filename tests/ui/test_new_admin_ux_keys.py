"""Issue 16 ("What a new admin trips over"), part A: the keyboard (point 1), dialog sizes (3), the redirect URI
(4), what a template needs (5), the generic refresh endpoint (8), Settings' explanations (14) and the export
dialog (15). TOKENDESK_SCREENSHOTS=1 saves docs/screenshots/ux16-*.png at the size each dialog opens with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QItemSelectionModel, QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QPushButton, QWidget

from desktop.app import FEATURES, Application
from desktop.models.config import AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN
from desktop.oauth.flow import configured_redirect_uri
from desktop.ui.dialogs.backup_passphrase_dialog import BackupPassphraseDialog
from desktop.ui.dialogs.export_dialog import ExportDialog
from desktop.ui.dialogs.token_dialog import TokenDialog
from desktop.ui.dialogs.token_form import open_size
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shot(widget: QWidget, name: str, tmp_path: Path) -> Path:
    folder = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else tmp_path
    path = folder / f"ux16-{name}.png"
    for _ in range(3):  # the layout requests of lines shown last
        QApplication.processEvents()
    assert widget.grab().save(str(path))
    return path


def focus() -> QWidget | None:
    return QApplication.focusWidget()


@pytest.fixture
def backup_app(qapp, ctx):
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.backup"))
    application.window.show()
    yield application
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


# ---- point 15: the export dialog
def test_enter_in_the_export_dialog_exports_and_esc_cancels(qapp, make_config, monkeypatch, tmp_path):
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _parent, _caption, proposed, _filter: (asked.append(proposed), ("", ""))[1])
    dialog = ExportDialog([make_config("Alpha")], [])
    dialog.show()
    qapp.processEvents()
    assert dialog.export_button.isDefault()
    QTest.keyClick(focus(), Qt.Key.Key_Return)
    assert len(asked) == 1 and dialog.isVisible()  # the save dialog was asked for; cancelling it stays here
    shot(dialog, "15-export-default-button", tmp_path)
    QTest.keyClick(focus(), Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result() == ExportDialog.DialogCode.Rejected


def test_export_starts_in_the_backup_folder_not_where_the_last_import_came_from(backup_app, make_config, monkeypatch,
                                                                               tmp_path):
    make_config("Alpha")
    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(documents))
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    backup_app.window.ui_settings().setValue("backup/last_dir", str(downloads))  # an import came from there
    feature = backup_app.features["backup"]
    proposed: list[str] = []
    backups = tmp_path / "backups"
    backups.mkdir()

    def save(_parent, _caption, start, _filter):
        proposed.append(start)
        return str(backups / "mine.yml"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    feature.on_export()
    feature.export_dialog.on_export_clicked()
    assert Path(proposed[0]).parent == documents  # first export: the documents folder
    assert (backups / "mine.yml").is_file()
    feature.on_export()
    feature.export_dialog.on_export_clicked()
    assert Path(proposed[1]).parent == backups  # then the folder of the last export
    assert backup_app.window.ui_settings().value("backup/last_dir") == str(downloads)  # imports keep theirs


# ---- point 1: the keyboard
def tab_ring(window: QWidget, qapp, key=Qt.Key.Key_Tab) -> list[QWidget]:
    """The widgets Tab (or Shift+Tab) visits from the focus widget until it comes back (at most 60 steps)."""
    start = focus()
    ring = [start]
    for _ in range(60):
        QTest.keyClick(focus(), key)
        qapp.processEvents()
        if focus() is start:
            return ring
        ring.append(focus())
    raise AssertionError(f"Tab never came back to {start!r}: {ring}")


@pytest.fixture
def window(qapp, ctx, make_config):
    for name in ("Alpha", "Beta", "Gamma"):
        make_config(name)
    application = Application(qapp, ctx, tasks=InlineTaskRunner(), features=FEATURES)
    application.window.show()
    application.window.activateWindow()
    qapp.processEvents()
    yield application.window
    application.window.close_to_tray = None
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


def test_tab_leaves_the_token_table_and_the_arrows_move_inside_it(window, qapp, tmp_path):
    assert focus() is window.table  # the window opens in the table
    window.table.selectionModel().setCurrentIndex(window.model.index(0, 0),
                                                  QItemSelectionModel.SelectionFlag.ClearAndSelect
                                                  | QItemSelectionModel.SelectionFlag.Rows)
    assert window.current_configuration().name == "Alpha"
    QTest.keyClick(window.table, Qt.Key.Key_Down)
    assert window.current_configuration().name == "Beta"
    QTest.keyClick(window.table, Qt.Key.Key_Tab)
    assert focus() is window.details and window.current_configuration().name == "Beta"  # selection kept
    shot(window, "1-tab-from-table-to-details", tmp_path)
    QTest.keyClick(focus(), Qt.Key.Key_Backtab)
    assert focus() is window.table and window.current_configuration().name == "Beta"


def test_tab_reaches_the_page_of_another_tab(window, qapp):
    window.show_tab(1)  # Mail accounts: built when first shown
    qapp.processEvents()
    window.tabs.tabBar().setFocus()
    QTest.keyClick(focus(), Qt.Key.Key_Tab)
    assert window.tabs.currentWidget().isAncestorOf(focus())  # into the page shown, not the hidden token table
    QTest.keyClick(focus(), Qt.Key.Key_Backtab)
    assert focus() is window.tabs.tabBar()


def test_tab_goes_through_the_window_top_to_bottom_and_shift_tab_back(window, qapp):
    window.search.setFocus()
    ring = tab_ring(window, qapp)
    assert ring[0] is window.search
    assert ring[-3:] == [window.tabs.tabBar(), window.table, window.details]
    bar_buttons = ring[1:-3]  # the notification bar: three configurations without a token
    assert bar_buttons and all(isinstance(w, (QPushButton, QWidget)) and w.isVisible() for w in bar_buttons)
    assert tab_ring(window, qapp, Qt.Key.Key_Backtab) == [ring[0], *reversed(ring[1:])]


def reading_order_problems(dialog: QWidget, ring: list[QWidget]) -> list[str]:
    """Pairs where Tab goes up (more than a row) without moving to a column further right."""
    problems = []
    for first, second in zip(ring, ring[1:], strict=False):
        a, b = first.mapTo(dialog, first.rect().topLeft()), second.mapTo(dialog, second.rect().topLeft())
        if b.y() < a.y() - 8 and b.x() <= a.x() + first.width() // 2:
            problems.append(f"{first!r} -> {second!r}")
    return problems


def open_dialog(dialog: QWidget, qapp) -> QWidget:
    if isinstance(dialog, TokenDialog):  # at the size it opens with on a 1366x768 screen
        dialog.resize(open_size(dialog, dialog.scroll, AVAILABLE_1366X768))
    dialog.show()
    dialog.activateWindow()
    qapp.processEvents()
    return dialog


def test_the_token_dialog_opens_in_name_and_tabs_in_reading_order(qapp, ctx):
    template = ctx.templates.require("Generic OAuth2")
    dialog = open_dialog(TokenDialog(template.new_configuration(), template=template, redirect_uri=REDIRECT), qapp)
    assert focus() is dialog.name_edit
    dialog.name_edit.setText("Ready")
    dialog.client_id_edit.setText("my-app")
    for key in (AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE):
        dialog.endpoint_edits[key].setText("https://sso.example.org/" + key)
    ring = tab_ring(dialog, qapp)
    assert dialog.scroll not in ring  # Tab goes from field to field, never to the scroll area
    assert ring.index(dialog.client_id_edit) == ring.index(dialog.validity_combo) + 1
    assert ring[-2:] == [dialog.redirect_row.edit, dialog.redirect_row.copy_button]  # above Name: the ring's end
    assert ring.index(dialog.save_button) < ring.index(dialog.buttons.button(dialog.buttons.StandardButton.Cancel))
    assert reading_order_problems(dialog, ring[: ring.index(dialog.notify_expired)]) == []
    QTest.keyClick(dialog.scope_edit, Qt.Key.Key_Return)  # Enter saves (no save_fn: the dialog accepts)
    assert dialog.result() == TokenDialog.DialogCode.Accepted and dialog.saved.name == "Ready"


@pytest.mark.parametrize("make", ["export", "backup passphrase"])
def test_enter_runs_the_named_action_in_dialogs_with_an_action_button(qapp, make_config, make):
    if make == "export":
        dialog = ExportDialog([make_config("Alpha")], [])
        action = dialog.export_button
    else:
        dialog = BackupPassphraseDialog("backup.yml.age")
        action = dialog.decrypt_button
    open_dialog(dialog, qapp)
    assert action.isDefault()
    ring = tab_ring(dialog, qapp)
    assert reading_order_problems(dialog, ring) == []
    buttons = [w for w in ring if isinstance(w, QPushButton)]
    if action.isEnabled():
        assert buttons[0] is action  # left of Cancel, and so before it
    QTest.keyClick(focus(), Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_picker_import_and_passphrase_dialogs_tab_in_reading_order_enter_accepts_esc_closes(qapp, ctx, make_config):
    import yaml

    from desktop.backup import parse_import, plan_import
    from desktop.ui.dialogs.import_dialog import ImportPreviewDialog
    from desktop.ui.dialogs.passphrase_dialog import NEW, PassphraseDialog
    from desktop.ui.dialogs.template_picker import TemplatePicker

    picker = open_dialog(TemplatePicker(ctx.templates), qapp)
    assert focus() is picker.list and reading_order_problems(picker, tab_ring(picker, qapp)) == []
    QTest.keyClick(picker.list, Qt.Key.Key_Down)
    QTest.keyClick(picker.list, Qt.Key.Key_Return)  # Next
    assert picker.result() == TemplatePicker.DialogCode.Accepted and picker.selected_template() is not None

    text = yaml.safe_dump([{"Name": "New one", "Config": {
        "TemplateName": "Generic OAuth2", "ClientID": "app", "Scope": "",
        "Requests": {key: {"Request": {"URL": "https://sso.example.org/" + key}} for key in (
            "AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken")}}}])
    parsed = parse_import(text, templates=ctx.templates)
    preview = open_dialog(ImportPreviewDialog(parsed, lambda overwrite: plan_import(ctx, parsed, overwrite)), qapp)
    ring = tab_ring(preview, qapp)
    assert preview.apply_button.isDefault() and reading_order_problems(preview, ring) == []
    if preview.apply_button.isEnabled():
        assert [w for w in ring if isinstance(w, QPushButton)][0] is preview.apply_button
    QTest.keyClick(focus(), Qt.Key.Key_Escape)
    assert not preview.isVisible()

    vault = open_dialog(PassphraseDialog(NEW), qapp)
    assert focus() is vault.passphrase.edit
    assert reading_order_problems(vault, tab_ring(vault, qapp)) == []
    QTest.keyClicks(vault.passphrase.edit, "correct horse battery staple 42")
    QTest.keyClicks(vault.repeat.edit, "correct horse battery staple 42")
    QTest.keyClick(vault.repeat.edit, Qt.Key.Key_Return)  # Save passphrase
    assert vault.result() == PassphraseDialog.DialogCode.Accepted


# ---- point 3: sizes
AVAILABLE_1366X768 = QRect(0, 0, 1366, 728)  # a 1366x768 screen less a 40-pixel panel
REDIRECT = "http://127.0.0.1:8765/oauth2/callback"


@pytest.mark.parametrize("template_name", ["Generic OAuth2", "Google Mail", "Microsoft Exchange Online",
                                           "Microsoft Exchange Online (client credentials)", "Generic OpenID Connect"])
def test_the_token_dialog_shows_its_whole_form_on_a_1366x768_screen(qapp, ctx, tmp_path, template_name):
    template = ctx.templates.require(template_name)
    dialog = TokenDialog(template.new_configuration(), template=template, redirect_uri=REDIRECT)
    size = open_size(dialog, dialog.scroll, AVAILABLE_1366X768)
    assert size.width() <= 1366 and size.height() <= 728
    open_dialog(dialog, qapp)
    for _ in range(3):
        qapp.processEvents()
    assert not dialog.scroll.horizontalScrollBar().isVisible()  # at open: the whole form, no scroll bar
    assert not dialog.scroll.verticalScrollBar().isVisible()
    dialog.touch_all()  # every error line shown: the one under "Token endpoint" too
    for _ in range(3):
        qapp.processEvents()
    assert not dialog.scroll.horizontalScrollBar().isVisible()  # (the form may scroll down now, never sideways)
    shown = [f for f in dialog.fields.values() if f.error.isVisible()]
    assert shown
    for field in shown:  # each error line whole and under its own field, not drawn over the next row
        error, editor = field.error, field.editor
        assert error.height() >= error.heightForWidth(error.width())  # every wrapped line
        assert error.mapTo(dialog, error.rect().topLeft()).y() >= editor.mapTo(dialog, editor.rect().bottomLeft()).y()
        assert error.mapTo(dialog, error.rect().bottomLeft()).y() <= field.container.mapTo(
            dialog, field.container.rect().bottomLeft()).y()
    for widget in (dialog.secret_edit.toggle, dialog.redirect_row.copy_button, dialog.save_button):
        if widget.isVisible():  # inside the dialog, not cut off
            corner = widget.mapTo(dialog, widget.rect().bottomRight())
            assert dialog.rect().contains(corner), widget
    if template_name in ("Generic OAuth2", "Google Mail"):
        shot(dialog, f"3-token-dialog-{template_name.split()[0].lower()}", tmp_path)


def test_the_template_picker_shows_whole_descriptions(qapp, ctx, tmp_path):
    from desktop.ui.dialogs.template_picker import TemplatePicker

    picker = open_dialog(TemplatePicker(ctx.templates), qapp)
    metrics = picker.list.fontMetrics()
    for row in range(picker.list.count()):
        for line in picker.list.item(row).text().splitlines():
            assert metrics.horizontalAdvance(line) <= picker.list.viewport().width(), line
    assert not picker.list.horizontalScrollBar().isVisible()
    assert picker.width() <= 1366 and picker.height() <= 728
    shot(picker, "3-template-picker", tmp_path)


# ---- point 4: the redirect URI
def test_the_redirect_uri_is_shown_before_the_first_save_and_copy_puts_it_on_the_clipboard(qapp, ctx, tmp_path):
    template = ctx.templates.require("Generic OAuth2")
    config = template.new_configuration()
    dialog = open_dialog(TokenDialog(config, template=template, redirect_uri=REDIRECT), qapp)
    field = dialog.redirect_row.edit
    assert field.isVisible() and field.isReadOnly()
    assert field.text() == configured_redirect_uri(config, ctx.settings) == REDIRECT  # what the sign-in sends
    QTest.mouseClick(dialog.redirect_row.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == REDIRECT
    shot(dialog, "4-redirect-uri-copy", tmp_path)
    dialog.redirect_edit.setText("https://tokens.example.org/cb")  # an override in Advanced
    assert field.text() == "https://tokens.example.org/cb"
    dialog.browser_combo.setCurrentIndex(dialog.browser_combo.findData("system"))
    dialog.redirect_edit.clear()
    assert field.text() == "http://127.0.0.1:<port>/oauth2/callback"
    assert "port is picked at each sign-in" in dialog.redirect_row.note.text()


# ---- point 5: what the template needs
def test_google_mail_wants_a_client_secret_and_warns_about_a_client_id_of_another_shape(qapp, ctx, tmp_path):
    template = ctx.templates.require("Google Mail")
    dialog = open_dialog(TokenDialog(template.new_configuration(), template=template, redirect_uri=REDIRECT), qapp)
    QTest.keyClicks(dialog.name_edit, "Sales Gmail")
    QTest.keyClicks(dialog.client_id_edit, "abc")
    client_id = dialog.fields["Client ID"]
    assert client_id.warning.isVisible() and "apps.googleusercontent.com" in client_id.warning.text()
    assert not dialog.save_button.isEnabled()
    assert "Client secret" in dialog.summary.text()
    QTest.keyClicks(dialog.secret_edit.edit, "x")
    dialog.secret_edit.edit.clear()  # typed and taken back: said under the field
    assert dialog.fields["Client secret"].error.isVisible()
    shot(dialog, "5-google-needs-secret", tmp_path)
    QTest.keyClicks(dialog.secret_edit.edit, "GOCSPX-made-up")
    assert dialog.save_button.isEnabled()  # the client ID's shape is a warning, not a block
    dialog.client_id_edit.setText("1234567890-abcdefghijklmnop.apps.googleusercontent.com")
    assert not client_id.warning.isVisible()


def test_a_microsoft_client_id_is_checked_as_a_guid_and_a_public_client_needs_no_secret(qapp, ctx):
    template = ctx.templates.require("Microsoft Exchange Online")
    dialog = open_dialog(TokenDialog(template.new_configuration(), template=template, redirect_uri=REDIRECT), qapp)
    dialog.name_edit.setText("Support")
    dialog.client_id_edit.setText("support-app")
    assert "GUID" in dialog.fields["Client ID"].warning.text()
    assert dialog.save_button.isEnabled()
    dialog.client_id_edit.setText("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
    assert not dialog.fields["Client ID"].warning.isVisible()


def test_an_edit_with_a_stored_secret_needs_none_typed(qapp, ctx, make_config):
    config = make_config("Stored", template="Google Mail")
    dialog = TokenDialog(config, template=ctx.templates.require("Google Mail"), client_secret_stored=True)
    assert "Client secret" not in dialog.summary.text()


# ---- point 8: the refresh endpoint follows the token endpoint
def error_shown(dialog: TokenDialog, field: str) -> str | None:
    label = dialog.fields[field].error
    return label.text() if label.isVisible() else None


def test_the_refresh_endpoint_follows_the_token_endpoint_until_the_admin_types_one(qapp, ctx, tmp_path):
    template = ctx.templates.require("Generic OAuth2")
    dialog = open_dialog(TokenDialog(template.new_configuration(), template=template, redirect_uri=REDIRECT), qapp)
    token, refresh = dialog.endpoint_edits[TOKEN_BY_AUTHORIZATION_CODE], dialog.endpoint_edits[TOKEN_BY_REFRESH_TOKEN]
    QTest.keyClicks(token, "https://sso.example.org/token")
    assert refresh.text() == "https://sso.example.org/token"
    assert dialog._collect().endpoint(TOKEN_BY_REFRESH_TOKEN) == "https://sso.example.org/token"  # what is saved
    assert error_shown(dialog, "Token refresh endpoint") is None
    shot(dialog, "8-refresh-endpoint-follows", tmp_path)
    refresh.selectAll()
    QTest.keyClicks(refresh, "https://sso.example.org/refresh")  # the admin's own
    QTest.keyClicks(token, "2")
    assert refresh.text() == "https://sso.example.org/refresh"
    refresh.selectAll()
    QTest.keyClick(refresh, Qt.Key.Key_Delete)  # emptied: follows again
    QTest.keyClicks(token, "3")
    assert refresh.text() == "https://sso.example.org/token23"


# ---- point 14: Settings explain their fields and warn before the redirect URI changes
def test_settings_explain_each_field_and_warn_when_the_redirect_uri_changes(qapp, ctx, tmp_path):
    from desktop.models.settings import SETTINGS
    from desktop.ui.dialogs.settings_dialog import SettingsDialog

    dialog = open_dialog(SettingsDialog(ctx.settings, autostart=False, secrets="In the keyring."), qapp)
    texts = [label.text() for label in dialog.findChildren(QLabel) if label.isVisible()]
    explained = ("redirect.http_type", "redirect.fqdn", "redirect.script_alias", "pop3.split_hosts",
                 "refresh.lead_time_seconds", "network.timeout_seconds")
    for spec in SETTINGS:
        if spec.key in explained:
            assert spec.explain and spec.explain in texts, spec.key
        elif spec.explain and spec.key in dialog.editors:  # (settings added since: shown when they say something)
            assert spec.explain in texts, spec.key
    assert any("port after a colon" in t for t in texts)  # Host holds a port too
    assert any("'AUTH XOAUTH2' on one line and the token on the next" in t for t in texts)  # the POP3 split hosts
    assert "changing it breaks their sign-ins" in dialog.redirect_warning.text()
    assert focus() is dialog.editors["redirect.http_type"]
    needed = dialog.layout().totalHeightForWidth(dialog.width())  # the explanations wrapped at the dialog's width
    print("settings", dialog.size(), needed)
    assert dialog.width() <= 1366 and needed <= 728 - 30 and dialog.height() >= needed
    fqdn = dialog.editors["redirect.fqdn"]
    fqdn.selectAll()
    QTest.keyClicks(fqdn, "tokens.example.org")
    dialog.editors["redirect.http_type"].setCurrentText("https")
    warning = dialog.redirect_warning.text()
    assert "sign-ins fail at every provider where http://127.0.0.1:8765/oauth2/callback is registered" in warning
    assert dialog.redirect_label.text() == "https://tokens.example.org/oauth2/callback"
    shot(dialog, "14-settings-explained", tmp_path)
    QTest.keyClick(fqdn, Qt.Key.Key_Return)  # Enter saves
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert dialog.collected()["redirect.fqdn"] == "tokens.example.org"


def test_the_login_dialog_fits_a_1366x768_screen_enter_is_the_pages_and_esc_cancels(qapp, ctx, make_config,
                                                                                   monkeypatch):
    from desktop.oauth.tokens import TokenService
    from desktop.ui.dialogs.login_dialog import LoginDialog

    config = make_config("Hand-edited")
    config.set_endpoint("AuthorizationCode", "http://login.example.com/authorize")  # refused before any request
    ctx.store.update(config)
    screen = QGuiApplication.primaryScreen()
    monkeypatch.setattr(type(screen), "availableGeometry", lambda _self: AVAILABLE_1366X768)
    dialog = open_dialog(LoginDialog(TokenService(ctx), config.name), qapp)
    assert dialog.panel_visible()  # what went wrong, with what to do
    assert dialog.width() <= 1366 - 16 and dialog.height() <= 728 - 40
    dialog.address.setFocus()
    QTest.keyClick(dialog.address, Qt.Key.Key_Return)
    assert dialog.isVisible()  # Enter presses no button: it is the sign-in page's
    QTest.keyClick(focus(), Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result() == LoginDialog.DialogCode.Rejected


def test_about_closes_with_enter_and_esc(window, qapp):
    from desktop.ui.enums import MainAction

    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        window.action(MainAction.ABOUT).trigger()
        qapp.processEvents()
        box = QApplication.activeModalWidget() or QApplication.activeWindow()
        assert box is not None and box.objectName() == "AboutBox" and box.isVisible()
        QTest.keyClick(box, key)
        qapp.processEvents()
        assert not shiboken6.isValid(box) or not box.isVisible()  # closed (and deleted: WA_DeleteOnClose)
