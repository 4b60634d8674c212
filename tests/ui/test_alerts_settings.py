"""Settings > Alerts (issue 13, point 3): the dialog (per alert kind a command and mail recipients, the mail
account), its plain-language refusals, saving into the alerts.* settings, and the window's alerts feature sending
on the task runner. Screenshots (TOKENDESK_SCREENSHOTS=1): docs/screenshots/alerts-settings.png and
alerts-settings-test.png."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QApplication

from desktop.ui.dialogs.alerts_settings import AlertsSettingsDialog
from tests.notify.helpers import shots_dir
from tests.support.window import window_features


@pytest.fixture
def dialog(qtbot, ctx):
    values = ctx.store.settings() | {"alerts.client_secret.command": "/usr/local/bin/page-oncall --team mail",
                                     "alerts.client_secret.mail_to": ["helpdesk@example.org"],
                                     "alerts.refresh_token.mail_to": ["helpdesk@example.org", "oncall@example.org"],
                                     "alerts.mail_account": "Alerts mailbox"}
    d = AlertsSettingsDialog(values, ["Alerts mailbox", "Scanner mail"], test_fn=lambda _values: None)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def test_shows_the_settings_and_saves_what_was_typed(dialog, tmp_path):
    assert dialog.commands["client_secret"].text() == "/usr/local/bin/page-oncall --team mail"
    assert dialog.mail_to["refresh_token"].text() == "helpdesk@example.org, oncall@example.org"
    assert dialog.account_combo.currentData() == "Alerts mailbox"
    assert dialog.save_button.isEnabled() and dialog.error.text() == ""
    dialog.grab().save(str(shots_dir(tmp_path) / "alerts-settings.png"))
    dialog.mail_to["refresh_failed"].setText("ops@example.org; noc@example.org")
    dialog.commands["token"].setText("logger -t tokendesk")
    collected = dialog.collected()
    assert collected["alerts.refresh_failed.mail_to"] == ["ops@example.org", "noc@example.org"]
    assert collected["alerts.token.command"] == "logger -t tokendesk"
    assert collected["alerts.mail_account"] == "Alerts mailbox"


def test_refusals_say_what_to_fix_and_block_save(dialog):
    dialog.commands["token"].setText("notify-send 'unclosed")
    assert not dialog.save_button.isEnabled()
    assert dialog.error.text() == ("Cannot save yet: Command for access tokens that expire: the command cannot be "
                                   "read (No closing quotation): close every quote")
    dialog.commands["token"].setText("")
    dialog.mail_to["token"].setText("helpdesk at example.org")
    assert dialog.error.text().startswith("Cannot save yet: Mail to for access tokens that expire: helpdesk at "
                                          "example.org is not a mail address")
    dialog.mail_to["token"].setText("")
    dialog.account_combo.setCurrentIndex(0)
    assert dialog.error.text() == ("Cannot save yet: Mail recipients are set: choose the mail account that sends "
                                   "alert mail")
    dialog.mail_to["client_secret"].setText("")
    dialog.mail_to["refresh_token"].setText("")
    assert dialog.save_button.isEnabled()


def test_the_window_sends_due_alerts_on_the_task_runner_and_says_so(qapp, ctx, make_config, tmp_path, qtbot):
    from desktop.app import Application
    from desktop.ui.enums import MainAction
    from desktop.ui.tasks import InlineTaskRunner

    out = tmp_path / "calls.jsonl"
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys\nwith open(sys.argv[1], 'a') as f:\n"
                      "    f.write(json.dumps(os.environ.get('TOKENDESK_ALERT_TITLE')) + '\\n')\n")
    cfg = make_config("Helpdesk")
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_secret_expires = datetime.now(UTC).astimezone().date() + timedelta(days=3)
    ctx.configurations.update(cfg)
    ctx.store.set_setting("alerts.client_secret.command", shlex.join([sys.executable, str(script), str(out)]))
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features("desktop.ui.features.alerts"))
    try:
        feature = app.features["alerts"]
        assert app.window.action(MainAction.ALERTS).shortcut().toString() == "Ctrl+Shift+,"
        feature.run_now()
        QApplication.processEvents()
        assert [json.loads(line) for line in out.read_text().splitlines()] == ["Client secret expires soon"]
        assert app.window.statusBar().currentMessage() == "1 alert sent (File > Alerts ...)."
        feature.run_now()  # once
        assert len(out.read_text().splitlines()) == 1
    finally:
        app.window._quitting = True
        app.window.close_to_tray = None
        app.window.hide()
        app.window.deleteLater()


def test_send_test_alert_uses_the_values_shown_and_says_what_happened(qapp, ctx, tmp_path, qtbot):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    out = tmp_path / "calls.jsonl"
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys\nwith open(sys.argv[1], 'a') as f:\n"
                      "    f.write(json.dumps(os.environ.get('TOKENDESK_ALERT_EVENT')) + '\\n')\n")
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features("desktop.ui.features.alerts"))
    try:
        feature = app.features["alerts"]
        dialog = feature.dialog = AlertsSettingsDialog(ctx.store.settings(), [], app.window,
                                                       test_fn=feature._send_test)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        command = shlex.join([sys.executable, str(script), str(out)])
        dialog.commands["refresh_failed"].setText(command)  # typed, not saved
        dialog.commands["token"].setText(str(tmp_path / "no-such-pager"))
        dialog.test_button.click()
        QApplication.processEvents()
        assert [json.loads(line) for line in out.read_text().splitlines()] == ["test"]
        shown = QTextDocumentFragment.fromHtml(dialog.test_result.text()).toPlainText()
        assert shown.splitlines() == [
            f"sent by command to {command}: Test alert - refresh_failed",
            f"NOT sent by command to {tmp_path / 'no-such-pager'}: Test alert - token: "
            f"{tmp_path / 'no-such-pager'}: no such program (give its full path)"]
        assert ctx.store.get_setting("alerts.refresh_failed.command") == ""  # the test saved nothing
        dialog.grab().save(str(shots_dir(tmp_path) / "alerts-settings-test.png"))
    finally:
        app.window._quitting = True
        app.window.close_to_tray = None
        app.window.hide()
        app.window.deleteLater()
