"""Alerts beyond the desktop, from the window: File > Alerts ... (the ``alerts.*`` settings,
``dialogs/alerts_settings.py``) and the sending itself - ``desktop.alerts.runner.run_alerts`` on the task runner
(commands and SMTP never on the GUI thread), every ``INTERVAL_MS`` and shortly after a configuration or token
changed, only while some alert kind sends somewhere. What failed is tried again on the next pass (the runner
records only what was delivered); the status line says what was sent and what was not.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost

logger = logging.getLogger(__name__)

#: a pass every five minutes: the next warning is at most this late, a failed delivery tried again this often
INTERVAL_MS = 5 * 60 * 1000
#: after a change (a token, a configuration, the settings), wait this long for more before a pass
SETTLE_MS = 10 * 1000


def install(host: FeatureHost) -> AlertsFeature:
    return AlertsFeature(host)


class AlertsFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.host = host
        self.ctx = host.ctx
        self.window = host.window
        #: a token source for alert mail (None: the application's, TokenService); tests may set their own
        self.tokens: Any = None
        self.running = False
        self.last_result: Any = None
        # File: Settings | Alerts, the vault's actions | Quit
        try:
            self.window.action(MainAction.VAULT_PASSPHRASE)
            before = MainAction.VAULT_PASSPHRASE
        except KeyError:  # a window without the vault feature (tests)
            before = MainAction.QUIT
        self.window.add_action(MainAction.ALERTS, "&Alerts ...", self.on_alerts_settings, QKeySequence("Ctrl+Shift+,"),
                               "Where alerts go beyond this desktop: a command and/or mail, per kind of alert",
                               menu=MainMenu.FILE, before=before, toolbar=False, context_menu=False)
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.run_now)
        self.settle = QTimer(self)
        self.settle.setSingleShot(True)
        self.settle.setInterval(SETTLE_MS)
        self.settle.timeout.connect(self.run_now)
        host.hub.token_changed.connect(lambda _id: self.settle.start())
        host.hub.configurations_changed.connect(self.settle.start)
        host.hub.refresh_failed.connect(lambda _id: self.settle.start())
        if host.defer_start:
            host.after_first_paint(self._start)
        else:
            self._start()

    def _start(self) -> None:
        self.timer.start()
        self.settle.start()

    def configured(self) -> bool:
        from desktop.alerts.runner import routes

        try:
            return bool(routes(self.ctx.store.settings()))
        except Exception:  # a damaged store says so elsewhere
            return False

    @Slot()
    def run_now(self) -> None:
        if self.running or not self.configured():
            return
        from desktop.alerts.runner import run_alerts

        self.running = True
        self.host.tasks.run(lambda: run_alerts(self.ctx, tokens=self.tokens), on_done=self._done,
                            on_error=self._failed, busy_text="Sending alerts ...")

    def _done(self, result: Any) -> None:
        from desktop.alerts.runner import describe_run

        self.running = False
        self.last_result = result
        if result.failed:
            first = describe_run(result)[len(result.sent)]
            self.window.show_status(f"Alert not sent, tried again in {INTERVAL_MS // 60000} minutes: "
                                    f"{first.split(': ', 1)[1]}", 15000)
        elif result.sent:
            self.window.show_status(f"{len(result.sent)} alert{'s' if len(result.sent) != 1 else ''} sent "
                                    "(File > Alerts ...).", 8000)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        logger.warning("alerts not sent: %s", exc)
        self.window.show_status(f"Alerts not sent: {exc}", 15000)

    def _send_test(self, values: dict[str, Any]) -> None:
        from desktop.alerts.runner import describe_run, send_test

        dialog = self.dialog

        def done(result: Any) -> None:
            dialog.show_test_result(describe_run(result), result.ok)

        def failed(exc: BaseException) -> None:
            dialog.show_test_result([f"The test alert was not sent: {exc}"], False)

        self.host.tasks.run(lambda: send_test(self.ctx, tokens=self.tokens, values=values), on_done=done,
                            on_error=failed, busy_text="Sending a test alert ...")

    @Slot()
    def on_alerts_settings(self) -> None:
        from desktop.ui.dialogs.alerts_settings import AlertsSettingsDialog
        from desktop.usage.accounts import FAMILY_SMTP
        from desktop.usage.repository import UsageRepository

        accounts = [a.name for a in UsageRepository(self.ctx.store).list_mail_accounts() if a.family == FAMILY_SMTP]
        dialog = AlertsSettingsDialog(self.ctx.store.settings(), accounts, self.window, test_fn=self._send_test)
        self.dialog = dialog  # tests and screenshots
        if dialog.exec() != dialog.DialogCode.Accepted:
            return
        try:
            self.ctx.store.set_settings(dialog.collected().items())
        except ValueError as exc:
            QMessageBox.warning(self.window, "Alerts not saved", str(exc))
            return
        self.window.show_status("Alert settings saved.")
        self.settle.start()
