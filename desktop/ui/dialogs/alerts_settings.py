"""Settings > Alerts: where alerts go beyond this desktop - per alert kind a command and/or mail recipients, and
the mail account that sends alert mail (the ``alerts.*`` settings; ``desktop/alerts`` sends them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.alerts.hooks import parse_command
from desktop.alerts.kinds import KINDS
from desktop.models.settings import ALERT_KINDS
from desktop.models.tones import style

_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")
HOOK_HELP = ("The command runs without a shell, once per alert, with TOKENDESK_ALERT_KIND, _EVENT, _SEVERITY, "
             "_TITLE, _MESSAGE, _ACTION, _DUE, _EXPIRES, _ID, TOKENDESK_CONFIGURATION and TOKENDESK_HOST set; exit "
             "status 0 counts as delivered, anything else is tried again. Mail goes out through the mail account "
             "chosen above, signed in with its own token. Each alert is sent once; no secret is ever part of it. "
             "The window sends them while it runs; 'tokendesk alerts run' from cron or a systemd timer sends them "
             "when it does not.")


class AlertsSettingsDialog(QDialog):
    def __init__(self, values: dict[str, Any], smtp_accounts: list[str], parent: QWidget | None = None,
                 test_fn: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(parent)
        #: sends a test alert with the values shown (on the task runner); it answers with ``show_test_result``
        self.test_fn = test_fn
        self.setWindowTitle("Alerts - Tokendesk")
        self.values = values
        layout = QVBoxLayout(self)
        intro = QLabel("Alerts reach people who are not at this desktop: a command (a pager, a chat hook, a "
                       "ticket) and/or mail, per kind of alert.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.commands: dict[str, QLineEdit] = {}
        self.mail_to: dict[str, QLineEdit] = {}
        for kind, what in ALERT_KINDS:
            box = QGroupBox(what[:1].upper() + what[1:])
            form = QFormLayout(box)
            command = QLineEdit(str(values.get(f"alerts.{kind}.command") or ""))
            command.setPlaceholderText("e.g. /usr/local/bin/page-oncall --team mail")
            command.setAccessibleName(f"Command for {what}")
            recipients = QLineEdit(", ".join(values.get(f"alerts.{kind}.mail_to") or []))
            recipients.setPlaceholderText("e.g. helpdesk@example.org, oncall@example.org")
            recipients.setAccessibleName(f"Mail recipients for {what}")
            form.addRow("&Command:" if kind == KINDS[0] else "Command:", command)
            form.addRow("&Mail to:" if kind == KINDS[0] else "Mail to:", recipients)
            command.textChanged.connect(self._update)
            recipients.textChanged.connect(self._update)
            self.commands[kind], self.mail_to[kind] = command, recipients
            layout.addWidget(box)
        account_row = QFormLayout()
        self.account_combo = QComboBox()
        self.account_combo.addItem("(none: no alert mail)", "")
        for name in smtp_accounts:
            self.account_combo.addItem(name, name)
        current = str(values.get("alerts.mail_account") or "")
        if current and self.account_combo.findData(current) < 0:
            self.account_combo.addItem(f"{current} (missing)", current)
        self.account_combo.setCurrentIndex(max(0, self.account_combo.findData(current)))
        self.account_combo.setToolTip("One of the SMTP mail accounts of the Mail accounts tab: alert mail is sent "
                                      "as its login, signed in with its configuration's token")
        self.account_combo.currentIndexChanged.connect(self._update)
        account_row.addRow("Send mail &through:", self.account_combo)
        layout.addLayout(account_row)
        if not smtp_accounts:
            none = QLabel("No SMTP mail account yet: add one on the Mail accounts tab to send alert mail.")
            none.setStyleSheet(style("muted"))
            none.setWordWrap(True)
            layout.addWidget(none)
        help_label = QLabel(HOOK_HELP)
        help_label.setWordWrap(True)
        help_label.setStyleSheet(style("muted"))
        help_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(help_label)
        self.error = QLabel()
        self.error.setObjectName("alertsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(style("error"))
        layout.addWidget(self.error)
        self.test_result = QLabel()
        self.test_result.setObjectName("alertsTestResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.test_result)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.test_button = self.buttons.addButton("Send &test alert", QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.setToolTip("A test alert through every command and mail route shown here (not saved "
                                    "first; nothing is recorded)")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self._on_test)
        self.test_button.setVisible(test_fn is not None)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(720, self.sizeHint().height())
        self._update()
        self.commands[KINDS[0]].setFocus()

    def problems(self) -> list[str]:
        found = []
        labels = dict(ALERT_KINDS)
        any_mail = False
        for kind in KINDS:
            try:
                parse_command(self.commands[kind].text())
            except ValueError as exc:
                found.append(f"Command for {labels[kind]}: {exc}")
            addresses = _addresses(self.mail_to[kind].text())
            any_mail = any_mail or bool(addresses)
            bad = [a for a in addresses if not _ADDRESS.match(a)]
            if bad:
                found.append(f"Mail to for {labels[kind]}: {', '.join(bad)} is not a mail address (name@domain; "
                             "separate addresses with commas)")
        if any_mail and not self.account_combo.currentData():
            found.append("Mail recipients are set: choose the mail account that sends alert mail")
        return found

    def _update(self) -> None:
        problems = self.problems()
        if hasattr(self, "test_button"):
            self.test_button.setEnabled(not problems)
        self.error.setText("Cannot save yet: " + problems[0] + (f" (and {len(problems) - 1} more)"
                                                                if len(problems) > 1 else "") if problems else "")
        self.save_button.setEnabled(not problems)

    def _on_test(self) -> None:
        if self.test_fn is None or self.problems():
            return
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet(style("muted"))
        self.test_result.setText("Sending a test alert ...")
        self.test_fn(self.collected())

    def show_test_result(self, lines: list[str], ok: bool) -> None:
        """One line per route, each in its own colour: sent (ok) or not sent and why (error)."""
        import html

        from desktop.models.tones import tone_color

        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("")
        if not lines:
            self.test_result.setTextFormat(Qt.TextFormat.PlainText)
            self.test_result.setText("No kind of alert sends anywhere yet: enter a command or mail recipients first.")
            return
        self.test_result.setTextFormat(Qt.TextFormat.RichText)
        self.test_result.setText("<br>".join(
            f'<span style="color:{tone_color("error" if line.startswith("NOT ") else "ok").name()}">'
            f"{html.escape(line)}</span>" for line in lines))

    def _on_save(self) -> None:
        if not self.problems():
            self.accept()

    def collected(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alerts.mail_account": str(self.account_combo.currentData() or "")}
        for kind in KINDS:
            out[f"alerts.{kind}.command"] = self.commands[kind].text().strip()
            out[f"alerts.{kind}.mail_to"] = _addresses(self.mail_to[kind].text())
        return out


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]
