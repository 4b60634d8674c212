"""Token > Sign in with a code (RFC 8628 device grant), for configurations with a ``Requests.DeviceAuthorization``
block: what the provider refuses there is said before starting (``grant_drivers.device.device_hint``), the code is
asked for on the task runner, ``DeviceCodeDialog`` shows it, and the polling runs as a cancellable task (Cancel in
the dialog cancels it). Denial and expiry are shown in the dialog with what to do; the token's row says it too."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence

from desktop.ui.enums import MainAction

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration
    from desktop.oauth.grant_drivers.device import DeviceAuthorization
    from desktop.oauth.tokens import TokenService
    from desktop.ui.dialogs.device_dialog import DeviceCodeDialog
    from desktop.ui.features.host import FeatureHost

logger = logging.getLogger(__name__)


def has_device_grant(cfg: TokenConfiguration) -> bool:
    from desktop.models.grants import has_device_grant as has_it  # the grants load with the first question

    return has_it(cfg)


def install(host: FeatureHost) -> DeviceSignInFeature:
    return DeviceSignInFeature(host)


class DeviceSignInFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.host = host
        self.window, self.tasks, self.hub = host.window, host.tasks, host.hub
        self.dialog: DeviceCodeDialog | None = None
        self.action = self.window.add_action(
            MainAction.REQUEST_DEVICE, "Sign in with a c&ode ...", self.on_start, QKeySequence("Ctrl+Shift+R"),
            "Get a code to enter at the provider's address on any device, e.g. a phone (device authorization "
            "grant; Ctrl+Shift+R)", toolbar=False, before=MainAction.REFRESH,
            enabled_when=lambda rows: len(rows) == 1 and has_device_grant(rows[0].config))

    @cached_property
    def service(self) -> TokenService:  # the OAuth machinery loads with the first sign-in, not at start-up
        from desktop.oauth.tokens import TokenService

        return TokenService(self.host.ctx)

    @Slot()
    def on_start(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop.oauth.grant_drivers.device import device_hint

        cfg = self.window.current_configuration()
        if cfg is None or cfg.id is None or not has_device_grant(cfg):
            return
        if self.dialog is not None:
            self.dialog.raise_()
            return
        hint = device_hint(cfg, self.host.ctx.templates)
        if hint:
            answer = QMessageBox.warning(self.window, "Sign in with a code", f"{hint}\n\nStart anyway?",
                                         QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                         QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        name, config_id = cfg.name, cfg.id
        self.tasks.run(self.service.start_device_authorization, name, on_done=self.show_code,
                       on_error=lambda exc: self._failed(config_id, name, exc),
                       busy_text=f"Asking {name}'s provider for a code ...")

    def show_code(self, auth: DeviceAuthorization) -> DeviceCodeDialog:
        from desktop.ui.dialogs.device_dialog import DeviceCodeDialog

        dialog = self.dialog = DeviceCodeDialog(auth, self.window)
        handle = self.tasks.run(self.service.wait_for_device, auth, on_done=lambda _state: self._stored(auth),
                                on_error=lambda exc: self._failed(auth.config_id, auth.config_name, exc),
                                busy_text=f"Waiting for the sign-in of {auth.config_name} ...", cancellable=True,
                                on_cancelled=lambda: self.window.show_status(
                                    f"Sign-in of \u201c{auth.config_name}\u201d cancelled; nothing was stored."))
        dialog.cancel_requested.connect(handle.cancel)
        dialog.finished.connect(lambda _r: self._closed(dialog))
        dialog.show()
        return dialog

    def _closed(self, dialog: DeviceCodeDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _stored(self, auth: DeviceAuthorization) -> None:
        self.hub.token_changed.emit(auth.config_id)
        self.window.show_status(f"Token stored for \u201c{auth.config_name}\u201d.", 8000)
        if self.dialog is not None:
            self.dialog.finish()

    def _failed(self, config_id: int, name: str, exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop.oauth.errors import TokenError

        self.hub.token_changed.emit(config_id)  # the failure is on the row
        message = str(exc) if isinstance(exc, TokenError) else f"unexpected error ({exc.__class__.__name__})"
        hint = exc.hint if isinstance(exc, TokenError) else "Run 'tokendesk -v authorize NAME --device' for details."
        if not isinstance(exc, TokenError):
            logger.error("device sign-in of '%s' failed", name, exc_info=exc)
        if self.dialog is not None:
            self.dialog.show_failure(message, hint)
        else:
            QMessageBox.warning(self.window, f"Sign in with a code \u2013 {name}",
                                f"{message}\n\nWhat to do: {hint}" if hint else message)
