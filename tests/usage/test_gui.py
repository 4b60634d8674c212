"""The "Mail accounts" and "Web services" tabs in the real main window (offscreen).

Fast tests drive the dialogs and views through their API with an inline task runner; the
``realserver`` tests press Test connection / Invoke with the real task runner (threads) against
Dovecot and the HTTP API. With ``TOKENDESK_SCREENSHOTS=1`` the documenting screenshots are written
to docs/screenshots/ (otherwise to the test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner
from desktop.ui.usage.invoker_dialog import InvokerDialog
from desktop.ui.usage.mail_account_dialog import MailAccountDialog
from desktop.usage.accounts import MailAccount
from desktop.usage.invokers import PLACEHOLDER, WebInvoker
from desktop.usage.repository import UsageRepository
from desktop.usage.service import UsageService
from tests.servers.dovecot import MAIL_USER
from tests.support.window import window_features

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 30000


def shot(widget, name: str, tmp_path: Path) -> Path:
    target = SCREENSHOTS if os.environ.get("TOKENDESK_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    assert widget.grab().save(str(path))
    return path


@pytest.fixture
def make_app(qapp):
    from desktop.app import Application

    apps = []

    def build(ctx, tasks=None):
        app = Application(qapp, ctx, tasks=tasks or InlineTaskRunner(),
                          features=window_features("desktop.ui.features.usage"))
        app.window.resize(1180, 640)
        app.window.show()
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.tasks.wait(10000)
        app.window._quitting = True
        app.window.hide()
        app.window.deleteLater()


def feature(app):
    return app.features["usage"]


def save_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Save)


# ---- dialogs
def test_mail_dialog_offers_only_valid_configurations_and_validates_live(ctx, offline_config, qtbot):
    offline_config("Good")
    offline_config("Switched off", valid_id=2)
    dialog = MailAccountDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    assert [dialog.config.itemData(i) for i in range(dialog.config.count())] == ["Good"]
    assert dialog.config.itemText(0) == "Good \u2013 no token yet"  # issue 16: which have a token
    assert not save_button(dialog).isEnabled()
    # empty fields of a new account are not shouted at: the dialog only says what is left (issue 16)
    assert dialog.errors.text() == "To save, fill in: Name, Host, Login."
    dialog.name.setText("Support IMAP")
    dialog.host.setText("imap.example.org:993")
    dialog.login.setText("support@example.org")
    assert "<b>Host</b>: must be a host name" in dialog.errors.text()
    assert not save_button(dialog).isEnabled()
    dialog.host.setText("imap.example.org")
    assert dialog.port.specialValueText() == "default (993)"
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("POP3"))
    assert dialog.port.specialValueText() == "default (110)"
    assert "clear text to imap.example.org" in dialog.errors.text() and not save_button(dialog).isEnabled()
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("IMAPS"))
    assert dialog.errors.isHidden() and not dialog.allow_plaintext.isEnabled()
    assert save_button(dialog).isEnabled()
    save_button(dialog).click()
    assert dialog.result() == dialog.DialogCode.Accepted
    saved = UsageRepository(ctx.store).get_mail_account("Support IMAP")
    assert (saved.protocol, saved.host, saved.effective_port, saved.config_name) == (
        "IMAPS", "imap.example.org", 993, "Good")


def test_unencrypted_to_another_host_needs_the_checkbox(ctx, offline_config, qtbot, tmp_path):
    offline_config("Good")
    dialog = MailAccountDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    box = dialog.allow_plaintext
    assert box.text() == "Allow unencrypted connection to this host"
    assert not box.isChecked() and not box.isEnabled()  # IMAPS: nothing to allow
    dialog.name.setText("LAN POP3")
    dialog.login.setText("support@example.org")
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("POP3"))
    dialog.host.setText("127.0.0.1")  # this machine: allowed without asking
    assert not box.isEnabled() and save_button(dialog).isEnabled() and dialog.errors.isHidden()
    dialog.host.setText("pop.lan")
    assert box.isEnabled() and not box.isChecked() and not save_button(dialog).isEnabled()
    assert "<b>Protocol</b>: POP3 is unencrypted: the token would travel in clear text to pop.lan." in (
        dialog.errors.text())
    dialog.show()
    qtbot.waitExposed(dialog)
    shot(dialog, "usage-mail-account-plaintext-refused.png", tmp_path)
    box.setChecked(True)
    assert save_button(dialog).isEnabled() and dialog.errors.isHidden()
    shot(dialog, "usage-mail-account-plaintext-allowed.png", tmp_path)
    dialog.host.setText("pop2.lan")  # the choice was for another host: asked again
    assert not box.isChecked() and not save_button(dialog).isEnabled()
    dialog.host.setText("pop.lan")
    box.setChecked(True)
    save_button(dialog).click()
    saved = UsageRepository(ctx.store).get_mail_account("LAN POP3")
    assert (saved.protocol, saved.host, saved.allow_plaintext) == ("POP3", "pop.lan", True)
    again = MailAccountDialog(UsageService(ctx), saved)
    qtbot.addWidget(again)
    assert again.allow_plaintext.isChecked() and again.allow_plaintext.isEnabled()
    again.protocol.setCurrentIndex(again.protocol.findData("POP3S"))  # encrypted: nothing to allow any more
    assert not again.allow_plaintext.isEnabled() and not again.allow_plaintext.isChecked()


def test_the_tab_shows_which_accounts_go_unencrypted_and_refuses_an_old_one(ctx, offline_config, make_app,
                                                                           tmp_path):
    cfg = offline_config("Good")
    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="LAN POP3", protocol="POP3", host="pop.lan", login="a",
                                      config_name="Good", allow_plaintext=True))
    repo.add_mail_account(MailAccount(name="Local IMAP", protocol="IMAP", host="127.0.0.1", login="a",
                                      config_name="Good"))
    ctx.store.conn.execute(  # stored by an earlier version, before the rule
        "INSERT INTO mail_account(name, name_key, protocol, host, port, login, config_id, mechanism, ca_file, "
        "create_time, change_time) VALUES ('Old IMAP', 'old imap', 'IMAP', 'mail.lan', NULL, 'a', ?, 'XOAUTH2', '', "
        "'2024-01-01 00:00:00', '2024-01-01 00:00:00')", (cfg.id,))
    app = make_app(ctx)
    app.window.tabs.setCurrentIndex(feature(app).mail_tab)
    view = feature(app).mail_view
    model = view.model
    protocol = {name: model.index(model.row_of(name), 1).data() for name in ("LAN POP3", "Local IMAP", "Old IMAP")}
    assert protocol == {"LAN POP3": "POP3 (unencrypted, allowed)", "Local IMAP": "IMAP (unencrypted, this machine)",
                        "Old IMAP": "IMAP (unencrypted, refused)"}
    tip = model.index(model.row_of("Old IMAP"), 1).data(Qt.ItemDataRole.ToolTipRole)
    assert "clear text to mail.lan" in tip
    view.select("Old IMAP")
    view.on_run()
    text = view.result.text.toPlainText()
    assert "IMAP is unencrypted: the token would travel in clear text to mail.lan." in text
    assert model.index(model.row_of("Old IMAP"), 6).data() == "refused (unencrypted)"
    shot(app.window, "usage-mail-accounts-unencrypted.png", tmp_path)


def test_a_new_mail_account_logs_in_as_whoever_signed_in_for_the_token(ctx, offline_config, qtbot):
    support = offline_config("Support mailbox")
    sales = offline_config("Sales mailbox")
    for cfg, account in ((support, "support@contoso.com"), (sales, "sales@contoso.com")):
        ctx.store.update_state(cfg.id, has_access_token=True, token_info={"account": account})
    dialog = MailAccountDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    assert dialog.config.currentData() == "Sales mailbox" and dialog.login.text() == "sales@contoso.com"
    # a suggestion is not a mistake to point at: only what is left to fill in (issue 16: why Save is off)
    assert dialog.errors.text() == "To save, fill in: Name, Host."
    dialog.config.setCurrentIndex(dialog.config.findData("Support mailbox"))
    assert dialog.login.text() == "support@contoso.com"  # our suggestion follows the configuration
    dialog.login.setText("shared@contoso.com")  # the admin's own choice (a shared mailbox) stays
    dialog.config.setCurrentIndex(dialog.config.findData("Sales mailbox"))
    assert dialog.login.text() == "shared@contoso.com"


def test_mail_dialog_without_any_valid_configuration(ctx, offline_config, qtbot):
    offline_config("Paused", valid_id=3)
    dialog = MailAccountDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    assert dialog.config.currentText() == "No valid token configuration: add one first"
    assert not dialog.config.isEnabled()
    dialog.name.setText("X")
    dialog.host.setText("imap.example.org")
    dialog.login.setText("x@example.org")
    assert not save_button(dialog).isEnabled()


def test_editing_keeps_a_configuration_that_became_invalid(ctx, offline_config, qtbot):
    cfg = offline_config("Old")
    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="A", protocol="IMAPS", host="h.example.org", login="a", config_name="Old"))
    cfg.valid_id = 2
    ctx.configurations.update(cfg)
    dialog = MailAccountDialog(UsageService(ctx), repo.get_mail_account("A"))
    qtbot.addWidget(dialog)
    assert dialog.config.currentText() == "Old (invalid) \u2013 no token yet"
    dialog.login.setText("b@example.org")
    save_button(dialog).click()
    assert repo.get_mail_account("A").login == "b@example.org"


def test_invoker_dialog_defaults_and_header_errors(ctx, offline_config, qtbot, tmp_path):
    offline_config()
    dialog = InvokerDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    assert dialog.headers.toPlainText() == f"Authorization: Bearer {PLACEHOLDER}"
    assert not dialog.body.isEnabled()  # GET has no body
    dialog.name.setText("Ticket API")
    dialog.url.setText("https://api.example.org/tickets")
    assert save_button(dialog).isEnabled()
    dialog.headers.setPlainText("Accept application/json")
    assert "<b>Headers</b>: header line 1 has no ':'" in dialog.errors.text()
    assert not save_button(dialog).isEnabled()
    dialog.headers.setPlainText(f"Authorization: Bearer {PLACEHOLDER}\nAccept: application/json")
    dialog.method.setCurrentText("POST")
    assert dialog.body.isEnabled()
    dialog.body.setPlainText('{"title": "x"}')
    shot(dialog, "usage-invoker-dialog.png", tmp_path)
    save_button(dialog).click()
    saved = UsageRepository(ctx.store).get_invoker("Ticket API")
    assert saved.headers[1] == ("Accept", "application/json") and saved.method == "POST"


# ---- views in the window
def test_tabs_delete_and_used_by(ctx, offline_config, make_app, monkeypatch, qtbot):
    offline_config()
    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="Support IMAP", protocol="IMAPS", host="imap.example.org",
                                      login="support@example.org", config_name="Support mailbox"))
    repo.add_invoker(WebInvoker(name="Ticket API", url="https://api.example.org/t", config_name="Support mailbox"))
    app = make_app(ctx)
    f = feature(app)
    tabs = app.window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())][1:] == ["&Mail accounts", "&Web services"]
    assert f.mail_view.model.rowCount() == 1 and f.invokers_view.model.rowCount() == 1
    assert f.mail_view.model.index(0, 2).data() == "imap.example.org:993"
    # the details pane names the users of the selected configuration
    assert app.window.select_configuration("Support mailbox")
    assert "mail account 'Support IMAP'" in f.used_by.text() and "invoker 'Ticket API'" in f.used_by.text()
    # Delete in the mail table asks, deletes the account (not the configuration) and updates "Used by"
    tabs.setCurrentIndex(f.mail_tab)
    f.mail_view.table.setFocus()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    token_delete = []
    app.window.action(MainAction.DELETE).triggered.connect(lambda *_: token_delete.append(1))
    qtbot.keyClick(f.mail_view.table, Qt.Key.Key_Delete)
    assert asked and "Support IMAP" in asked[0]
    assert token_delete == []  # the window's "delete configuration" shortcut did not fire
    assert repo.list_mail_accounts() == [] and ctx.store.find("Support mailbox") is not None
    assert "mail account" not in f.used_by.text()
    assert f.mail_view.empty_label.isVisibleTo(f.mail_view)


def test_accounts_added_by_another_process_show_up(ctx, offline_config, make_app):
    from desktop.services import open_context

    offline_config()
    app = make_app(ctx)
    view = feature(app).mail_view
    assert view.model.rowCount() == 0
    other = open_context()  # what `tokendesk mail add` does in its own process
    try:
        UsageRepository(other.store).add_mail_account(MailAccount(
            name="From the CLI", protocol="SMTP", host="smtp.example.org", login="a@example.org",
            config_name="Support mailbox"))
    finally:
        other.close()
    app.window.db_watcher.check()  # what the window's file watcher triggers
    assert [view.model.item(r).name for r in range(view.model.rowCount())] == ["From the CLI"]


def test_ctrl_number_switches_tabs(ctx, make_app, qtbot):
    app = make_app(ctx)
    f = feature(app)
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow, timeout=5000)
    qtbot.keyClick(app.window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert app.window.tabs.currentIndex() == f.invokers_tab
    qtbot.keyClick(app.window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert app.window.tabs.currentIndex() == f.mail_tab


def test_the_tabs_are_built_when_first_shown(ctx, offline_config, make_app, qtbot):
    offline_config()
    UsageRepository(ctx.store).add_mail_account(MailAccount(
        name="Support IMAP", protocol="IMAPS", host="imap.example.org", login="s@example.org",
        config_name="Support mailbox"))
    app = make_app(ctx)
    f = feature(app)
    assert f._mail_view is None and f._invokers_view is None  # not at start-up
    app.window.hub.configurations_changed.emit()  # a reload before: nothing to reload yet
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow, timeout=5000)
    qtbot.keyClick(app.window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert f._mail_view is not None and f._invokers_view is None
    assert f.mail_view.isVisible() and f.mail_view.model.rowCount() == 1
    app.window.tabs.setCurrentIndex(f.invokers_tab)
    assert f._invokers_view is not None and f.invokers_view.isVisible()


def test_a_token_problem_shows_in_the_result_panel(ctx, offline_config, make_app):
    """No token stored yet: the test stops before connecting and says what to do."""
    offline_config()
    UsageRepository(ctx.store).add_mail_account(MailAccount(
        name="Support IMAP", protocol="IMAPS", host="imap.example.org", login="s@example.org",
        config_name="Support mailbox"))
    app = make_app(ctx)
    view = feature(app).mail_view
    view.select("Support IMAP")
    view.on_run()
    assert "\u2716" in view.result.title.text()
    assert "Request a new token" in view.result.hint.text()
    assert view.model.index(0, 6).data() == "failed (token)"


def test_cancel_stops_a_test_that_waits_on_a_silent_server(ctx, offline_config, make_app, qtbot, tmp_path):
    """A server that accepts and never answers: Cancel (or Esc) ends the wait at once, says so, and the
    late outcome of the worker is dropped; the worker itself ends promptly (its socket was shut)."""
    import socket
    from datetime import timedelta

    from desktop.models.token import utcnow
    from desktop.store.secrets import ACCESS_TOKEN
    from desktop.ui.tasks import TaskRunner

    cfg = offline_config()
    ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "stored-access-token-for-the-test")
    ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(hours=1))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        UsageRepository(ctx.store).add_mail_account(MailAccount(
            name="Silent IMAPS", protocol="IMAPS", host="127.0.0.1", port=listener.getsockname()[1],
            login="s@example.org", config_name=cfg.name))
        app = make_app(ctx, tasks=TaskRunner())
        f = feature(app)
        app.window.tabs.setCurrentIndex(f.mail_tab)
        view = f.mail_view
        view.select("Silent IMAPS")
        view.run_button.click()
        assert view.result.cancel_button.isVisible() and not view.run_button.isEnabled()
        qtbot.wait(300)  # connected; the TLS handshake waits for a server that never speaks
        shot(app.window, "usage-mail-test-running.png", tmp_path)
        view.table.setFocus()
        qtbot.keyClick(view.table, Qt.Key.Key_Escape)
        assert "cancelled" in view.result.title.text()
        assert "Nothing was changed" in view.result.hint.text()
        assert not view.result.cancel_button.isVisible() and view.run_button.isEnabled()
        assert view.model.index(view.model.row_of("Silent IMAPS"), 6).data() == "cancelled"
        shot(app.window, "usage-mail-test-cancelled.png", tmp_path)
        assert app.tasks.wait(5000)  # the worker is done long before the 20 s network time-out
        qtbot.wait(50)  # its (dropped) result has been delivered
        assert "cancelled" in view.result.title.text()
        assert view.model.index(view.model.row_of("Silent IMAPS"), 6).data() == "cancelled"


# ---- against the real servers (real task runner, threads)
@pytest.mark.realserver
def test_test_connection_shows_the_inbox_count_from_dovecot(ctx, provider, dovecot, make_app, qtbot, tmp_path):
    from desktop.ui.tasks import TaskRunner

    cfg, pair = provider("Support mailbox")
    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="Support IMAP", protocol="IMAP+STARTTLS", host="127.0.0.1",
                                      port=dovecot.imap_port, login=MAIL_USER, config_id=cfg.id,
                                      ca_file=str(dovecot.ca_file)))
    repo.add_mail_account(MailAccount(name="Support POP3", protocol="POP3S", host="127.0.0.1",
                                      port=dovecot.pop3s_port, login=MAIL_USER, config_id=cfg.id,
                                      ca_file=str(dovecot.ca_file)))
    app = make_app(ctx, tasks=TaskRunner())
    f = feature(app)
    app.window.tabs.setCurrentIndex(f.mail_tab)
    view = f.mail_view
    view.select("Support IMAP")
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS) as signal:
        view.run_button.click()
        assert not view.run_button.isEnabled()  # one test at a time per account
    assert signal.args == [cfg.id]
    assert "INBOX holds 3 messages" in view.result.title.text()
    assert "C: <redacted XOAUTH2 string>" in view.result.text.toPlainText()
    assert pair["access_token"] not in view.result.text.toPlainText()
    assert view.model.index(view.model.row_of("Support IMAP"), 6).data() == "OK, 3 messages"
    assert view.run_button.isEnabled()
    view.table.resizeColumnsToContents()
    shot(app.window, "usage-mail-accounts.png", tmp_path)
    # the outcome is kept: a window opened later (the next start) shows it, with the time in the tooltip
    later = feature(make_app(ctx)).mail_view
    cell = later.model.index(later.model.row_of("Support IMAP"), 6)
    assert cell.data() == "OK, 3 messages"
    assert cell.data(Qt.ItemDataRole.ToolTipRole).startswith("OK, 3 messages (20")
    assert later.model.index(later.model.row_of("Support POP3"), 6).data() == "not tested"


@pytest.mark.realserver
def test_admin_adds_an_account_with_the_dialog_and_tests_it(ctx, provider, dovecot, make_app, qtbot, monkeypatch):
    """The issue's "done when": add a mail account in the window, press Test connection, see the INBOX count."""
    from desktop.ui.tasks import TaskRunner

    cfg, _ = provider("Support mailbox")

    def fill_and_save(dialog):  # what the admin types, then Save (instead of a blocking exec())
        dialog.name.setText("Support IMAP")
        dialog.protocol.setCurrentIndex(dialog.protocol.findData("IMAPS"))
        dialog.host.setText("127.0.0.1")
        dialog.port.setValue(dovecot.imaps_port)
        dialog.login.setText(MAIL_USER)
        dialog.ca_file.setText(str(dovecot.ca_file))
        save_button(dialog).click()
        return dialog.result()

    monkeypatch.setattr(MailAccountDialog, "exec", fill_and_save)
    app = make_app(ctx, tasks=TaskRunner())
    view = feature(app).mail_view
    app.window.tabs.setCurrentIndex(feature(app).mail_tab)
    view.add_button.click()
    assert view.current_name() == "Support IMAP"
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        view.run_button.click()
    assert "Signed in as tokendesk-user@example.test; INBOX holds 3 messages." in view.result.title.text()
    assert app.window.select_configuration(cfg.name)
    assert "mail account 'Support IMAP'" in feature(app).used_by.text()


@pytest.mark.realserver
def test_a_failed_test_shows_the_transcript_and_what_to_do(ctx, provider, dovecot, oauth, make_app, qtbot, tmp_path):
    from desktop.ui.tasks import TaskRunner

    cfg, pair = provider("Support mailbox")
    oauth.revoke_token(pair["access_token"])
    UsageRepository(ctx.store).add_mail_account(MailAccount(
        name="Support IMAP", protocol="IMAPS", host="127.0.0.1", port=dovecot.imaps_port, login=MAIL_USER,
        config_id=cfg.id, ca_file=str(dovecot.ca_file)))
    app = make_app(ctx, tasks=TaskRunner())
    f = feature(app)
    app.window.tabs.setCurrentIndex(f.mail_tab)
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        f.mail_view.on_run()
    title = f.mail_view.result.title.text()
    assert "\u2716" in title and "The server rejected the token" in title
    assert "request a new token if it was revoked" in f.mail_view.result.hint.text()
    text = f.mail_view.result.text.toPlainText()
    assert "NO [AUTHENTICATIONFAILED]" in text and pair["access_token"] not in text
    assert f.mail_view.model.index(0, 6).data() == "failed (authenticate)"
    shot(app.window, "usage-mail-test-failed.png", tmp_path)


@pytest.mark.realserver
def test_invoke_shows_status_headers_and_body(ctx, provider, http_api, make_app, qtbot, tmp_path):
    from desktop.ui.tasks import TaskRunner

    cfg, pair = provider("Support mailbox")
    UsageRepository(ctx.store).add_invoker(WebInvoker(name="Ticket API", url=http_api.url("/api/tickets"),
                                                      config_id=cfg.id))
    UsageRepository(ctx.store).add_invoker(WebInvoker(
        name="Create ticket", method="POST", url=http_api.url("/api/tickets"), config_id=cfg.id,
        body='{"title": "Printer on fire"}'))
    app = make_app(ctx, tasks=TaskRunner())
    f = feature(app)
    app.window.tabs.setCurrentIndex(f.invokers_tab)
    view = f.invokers_view
    view.select("Ticket API")
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow, timeout=5000)
    view.table.setFocus()
    with qtbot.waitSignal(app.hub.token_changed, timeout=TIMEOUT_MS):
        qtbot.keyClick(view.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "200 OK" in view.result.title.text()
    text = view.result.text.toPlainText()
    assert "> Authorization: Bearer <redacted access token>" in text
    assert '"authorization_seen": "Bearer <redacted access token>"' in text
    assert pair["access_token"] not in text
    assert view.model.index(view.model.row_of("Ticket API"), 4).data() == "200 OK"
    view.table.resizeColumnsToContents()
    shot(app.window, "usage-web-services.png", tmp_path)


@pytest.mark.realserver
def test_add_dialog_screenshot(ctx, provider, dovecot, qtbot, tmp_path):
    cfg, _ = provider("Support mailbox")
    dialog = MailAccountDialog(UsageService(ctx))
    qtbot.addWidget(dialog)
    dialog.name.setText("Support IMAP")
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("IMAP+STARTTLS"))
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(dovecot.imap_port)
    dialog.login.setText(MAIL_USER)
    dialog.ca_file.setText(str(dovecot.ca_file))
    dialog.show()
    assert save_button(dialog).isEnabled()
    shot(dialog, "usage-mail-account-dialog.png", tmp_path)
