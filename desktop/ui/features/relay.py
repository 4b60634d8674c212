"""The Relay tab: the SMTP relay for devices that cannot do OAuth2, run inside the window.

* A tab beside Mail accounts (``window.add_tab``; View > Relay, Ctrl+4), built the first time it is shown.
* Start / Stop run on the task runner (the relay itself - aiosmtpd's event loop and its worker threads - never on
  the GUI thread); the listen address typed is kept in the ``relay.listen`` setting once the relay started there.
  An address other than loopback gets the STARTTLS certificate (``relay.tls_cert_file``/``key_file``, or a
  generated self-signed one whose fingerprint the tab shows).
* Devices (Add: the password shown once, masked until Show; Remove), the message log (no bodies), counts and the
  last upstream errors with what to do. Every message, refused login and start/stop of the relay redraws the tab
  (a signal from the relay's threads, collected for 300 ms); so does a change another process made (a
  ``tokendesk relay serve`` elsewhere: shown as running in another process, Start disabled).
* The relay stops when the application quits.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost

if TYPE_CHECKING:
    from desktop.relay.server import RelayServer
    from desktop.ui.relay_view import RelayView

logger = logging.getLogger(__name__)


def install(app: FeatureHost) -> RelayFeature:
    return RelayFeature(app)


class RelayFeature(QObject):
    #: emitted by the relay's threads; redraws the tab on the GUI thread
    relay_changed = Signal()

    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.app = app
        self.window = app.window
        self.server: RelayServer | None = None
        #: a token source for the relay (None: the application's, TokenService); tests may set their own
        self.tokens: Any = None
        self.problem = ""
        self._view: RelayView | None = None
        self._host = QWidget()
        self._host.setObjectName("relayTab")
        QVBoxLayout(self._host).setContentsMargins(0, 0, 0, 0)
        self.tab = self.window.add_tab(self._host, "Re&lay")
        self.window.tab_changed.connect(self._on_tab_shown)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(300)
        self._redraw.timeout.connect(self.refresh)
        self.relay_changed.connect(self._redraw.start)  # the relay's threads: queued to the timer's (GUI) thread
        self.window.reloaded.connect(self._schedule)
        self.window.add_action(MainAction.SHOW_RELAY, "&Relay", lambda _checked=False: self.window.show_tab(self.tab),
                               QKeySequence("Ctrl+4"), menu=MainMenu.VIEW, toolbar=False, context_menu=False)
        app.qapp.aboutToQuit.connect(self.stop_now)

    # ---- the view, built when first shown
    @property
    def view(self) -> RelayView:
        if self._view is None:
            from desktop.ui.relay_view import RelayView

            view = RelayView()
            view.start_requested.connect(self.start)
            view.stop_requested.connect(self.stop)
            view.add_requested.connect(self.add_device)
            view.remove_requested.connect(self.remove_device)
            view.set_read_only(self.app.hub.read_only)
            self.app.hub.read_only_changed.connect(view.set_read_only)
            self._host.layout().addWidget(view)
            view.show()
            self._view = view
            self.refresh()
        return self._view

    @Slot(int)
    def _on_tab_shown(self, index: int) -> None:
        if index == self.tab:
            self.view.setFocus()
            self.refresh()

    @Slot()
    def _schedule(self) -> None:
        if self._view is not None:
            self._redraw.start()

    # ---- what the tab shows
    def state(self) -> dict[str, Any]:
        from desktop.relay.devices import DeviceRepository
        from desktop.relay.log import MessageLog
        from desktop.relay.server import running_relay

        store = self.app.ctx.store
        log = MessageLog(store)
        server = self.server
        other = running_relay()
        if other and other.get("pid") == os.getpid():
            other = None
        data: dict[str, Any] = {
            "running_here": server is not None and server.running, "other": other,
            "listen": store.get_setting("relay.listen"), "per_hour": store.get_setting("relay.max_messages_per_hour"),
            "devices": [{"name": d.name, "account": d.account_name, "senders": d.senders}
                        for d in DeviceRepository(store).list()],
            "log": log.recent(100), "counts": log.counts(), "problem": self.problem,
            "errors": log.recent(3, failed_only=True),
        }
        if server is not None and server.running:
            data.update(address=server.address, tls=server.tls, started=server.stats.started_at,
                        delivered=server.stats.delivered, failed=server.stats.failed,
                        fingerprint=server.certificate.fingerprint if server.tls and server.certificate else "")
        return data

    @Slot()
    def refresh(self) -> None:
        if self._view is None:
            return
        try:
            self._view.show_state(self.state())
        except Exception as exc:  # the tab must not break the window
            logger.error("relay tab: %s", exc)

    # ---- start / stop (task runner)
    @Slot(str)
    def start(self, listen: str) -> None:
        from desktop.relay.policy import ListenError, parse_listen

        if self.server is not None and self.server.running:
            return
        try:
            parse_listen(listen)
        except ListenError as exc:
            self.problem = str(exc)
            self.refresh()
            return
        self.problem = ""
        ctx, tokens, notify = self.app.ctx, self.tokens, self.relay_changed.emit

        def work() -> RelayServer:
            from desktop.relay.policy import needs_tls
            from desktop.relay.server import RelayServer
            from desktop.relay.tls import certificate

            host = parse_listen(listen)[0]
            cert = None
            if needs_tls(host):
                cert = certificate(ctx.store.get_setting("relay.tls_cert_file"),
                                   ctx.store.get_setting("relay.tls_key_file"), host)
            server = RelayServer(ctx, listen=listen, certificate=cert, tokens=tokens, on_change=notify)
            server.start()
            if listen != ctx.store.get_setting("relay.listen"):
                ctx.store.set_setting("relay.listen", listen)
            return server

        self.app.tasks.run(work, on_done=self._started, on_error=self._failed, busy_text="Starting the relay ...")

    def _started(self, server: RelayServer) -> None:
        self.server = server
        self.window.show_status(f"Relay running on {server.address}", 5000)
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.problem = f"The relay did not start: {exc}"
        self.refresh()

    @Slot()
    def stop(self) -> None:
        server = self.server
        if server is None:
            return

        def done(_result: object) -> None:
            self.server = None
            self.window.show_status("Relay stopped", 5000)
            self.refresh()

        self.app.tasks.run(server.stop, on_done=done, on_error=self._failed, busy_text="Stopping the relay ...")

    @Slot()
    def stop_now(self) -> None:
        """At quit: no task runner any more, stop here (waits for messages in flight)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    # ---- devices
    @Slot()
    def add_device(self) -> None:
        from desktop.relay.devices import DeviceRepository, RelayError
        from desktop.ui.relay_view import AddDeviceDialog, PasswordDialog
        from desktop.usage.accounts import FAMILY_SMTP
        from desktop.usage.repository import UsageRepository

        store = self.app.ctx.store
        accounts = [(a.name, a.describe()) for a in UsageRepository(store).list_mail_accounts()
                    if a.family == FAMILY_SMTP]
        dialog = AddDeviceDialog(accounts, self.window)
        while dialog.exec():
            name, account, aliases = dialog.values()
            try:
                device, password = DeviceRepository(store).add(name, account, aliases)
            except RelayError as exc:
                dialog.error.setText(str(exc))
                continue
            self.refresh()
            address = self.server.address if self.server is not None else str(store.get_setting("relay.listen"))
            PasswordDialog(device.name, device.account_name, device.senders, password, address, self.window).exec()
            return

    @Slot(str)
    def remove_device(self, name: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop.relay.devices import DeviceNotFound, DeviceRepository

        answer = QMessageBox.question(self.window, "Remove relay device - Tokendesk",
                                      f"Remove the device '{name}'? It can no longer log in; its log stays.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            DeviceRepository(self.app.ctx.store).remove(name)
        except DeviceNotFound:
            pass  # removed meanwhile (another process)
        self.refresh()
