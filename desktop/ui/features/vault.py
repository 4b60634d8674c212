"""Vault feature: opening the store's vault after start-up, the passphrase prompts, and the secrets bar.

* After the first paint the vault is opened on the task runner (keyring mode: one keyring read; a
  store of an earlier version moves its secrets in). In passphrase mode the window asks for the
  passphrase once per session (``PassphraseDialog``); "Not now" leaves a bar with "Unlock ...".
* The vault's passphrase provider is this feature: a worker that needs the key (a refresh, a
  sign-in) while the vault is locked has the window ask, and waits for the answer; the GUI thread
  asks directly. Without a usable keyring, storing the first secret asks for a new passphrase.
* The bar says what is wrong in plain words: locked, no usable keyring, or the keyring that holds
  the key went away (and what to do). The status bar's "Secrets:" label says which mode is active.
* File > "Protect secrets with a passphrase ..." / "Change vault passphrase ..." and "Lock secrets".
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop.store.vault import MODE_KEYRING, MODE_PASSPHRASE, VaultError, check_new_passphrase
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost
from desktop.ui.widgets import MessageBar

logger = logging.getLogger(__name__)


def install(app: FeatureHost) -> VaultFeature | None:
    if app.ctx.vault is None:  # a test's MemorySecrets: nothing to open
        return None
    return VaultFeature(app)


class VaultFeature(QObject):
    #: (purpose, reply list) from a worker thread; answered on the GUI thread (blocking queued)
    _ask_from_worker = Signal(str, object)

    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.app = app
        self.window = app.window
        self.hub = app.hub
        self.vault = app.ctx.vault
        assert self.vault is not None
        self.problem = ""  # the last opening failure, in words ('' when none)
        self.no_keyring_reason = ""  # the probe's answer when no vault exists yet
        self.dialog: Any = None
        self.vault.passphrase_provider = self.provide_passphrase
        self._asking = threading.Lock()  # connects _ask_from_worker at its first use: see provide_passphrase
        self._ask_connected = False

        self.bar = MessageBar(kind="warning")
        self.bar.setObjectName("secretBar")
        self.unlock_button = self.bar.add_button("Unlock ...")
        self.unlock_button.clicked.connect(self.unlock)
        self.choose_button = self.bar.add_button("Choose a passphrase ...")
        self.choose_button.clicked.connect(self.choose_passphrase)
        self.retry_button = self.bar.add_button("Try again")
        self.retry_button.clicked.connect(self.start)
        self.bar.hide()
        self.window.add_bar(self.bar)

        self.passphrase_action = self.window.add_action(
            MainAction.VAULT_PASSPHRASE, "Protect secrets with a &passphrase ...", self.choose_passphrase,
            menu=MainMenu.FILE, before=MainAction.QUIT, toolbar=False, context_menu=False)
        self.lock_action = self.window.add_action(MainAction.VAULT_LOCK, "&Lock secrets", self.lock,
                                                  menu=MainMenu.FILE, before=MainAction.QUIT, toolbar=False,
                                                  context_menu=False)
        self.window.menu(MainMenu.FILE).insertSeparator(self.window.action(MainAction.QUIT))  # the vault's group
        self.lock_action.setToolTip("Forget the vault key until the passphrase is entered again")
        self.hub.secrets_changed.connect(self.update)
        app.after_first_paint(self.start)
        self.update()

    # ---- opening at start-up
    @Slot()
    def start(self) -> None:
        info = self.vault.info()
        self.problem = ""
        if info.mode == MODE_PASSPHRASE:
            if not self.vault.is_open and self.window.isVisible():
                self.unlock()
            self.update()
            return
        if info.mode == MODE_KEYRING or info.legacy:
            self.app.tasks.run(self.vault.cipher, on_done=self._opened, on_error=self._open_failed,
                               busy_text="Opening the vault ...")
            return
        from desktop.store.keyring_access import probe_keyring

        self.app.tasks.run(probe_keyring, on_done=self._probed, on_error=self._open_failed,
                           busy_text="Checking the keyring ...")

    def _opened(self, _cipher: object) -> None:
        self.problem = ""
        self.hub.secrets_changed.emit()

    def _open_failed(self, exc: BaseException) -> None:
        if isinstance(exc, VaultError):
            self.problem = str(exc)
        else:
            logger.error("the vault could not be opened", exc_info=exc)
            self.problem = f"The vault could not be opened ({exc.__class__.__name__}); see the log (Help)."
        self.hub.secrets_changed.emit()

    def _probed(self, probe: Any) -> None:
        self.no_keyring_reason = "" if probe.usable else probe.reason
        self.hub.secrets_changed.emit()

    # ---- the bar and the actions
    @Slot()
    def update(self) -> None:
        info = self.vault.info()
        locked = info.mode == MODE_PASSPHRASE and not self.vault.is_open
        text = ""
        if self.problem:
            text = self.problem
        elif locked:
            text = self.app.ctx.secrets.persistent_warning
        elif not info.mode and self.no_keyring_reason:
            text = (f"No usable keyring ({self.no_keyring_reason}). Tokendesk will protect secrets with a passphrase "
                    "that you choose when the first one is stored - or now.")
        self.bar.set_text(text)
        self.bar.setVisible(bool(text))
        self.unlock_button.setVisible(locked)
        self.choose_button.setVisible(not info.mode and bool(self.no_keyring_reason) and not self.problem)
        self.retry_button.setVisible(bool(self.problem) and not locked)
        self.passphrase_action.setText("Change vault &passphrase ..." if info.mode == MODE_PASSPHRASE
                                       else "Protect secrets with a &passphrase ...")
        self.lock_action.setEnabled(info.mode == MODE_PASSPHRASE and self.vault.is_open)
        self.window.set_secrets_label(f"Secrets: {self.app.ctx.secrets.description}",
                                      f"Why: {info.reason}" if info.reason else "")

    @Slot()
    def unlock(self) -> None:
        """Ask for the passphrase (GUI thread) and open the vault with it."""
        if self.vault.is_open:
            return
        answer = self._prompt("unlock")
        if answer is None:
            self.hub.secrets_changed.emit()
            return
        try:
            self.vault.open()  # uses the key the dialog derived while checking
        except VaultError as exc:
            self.problem = str(exc)
        else:
            self.problem = ""
            self.window.show_status("Secrets unlocked for this session.")
        self.hub.secrets_changed.emit()

    @Slot()
    def lock(self) -> None:
        self.vault.lock()
        self.window.show_status("Secrets locked: the passphrase is asked again when they are needed.")
        self.hub.secrets_changed.emit()

    @Slot()
    def choose_passphrase(self) -> None:
        """Protect the key with a new passphrase (made now without a vault; moved out of the keyring; or a
        changed passphrase)."""
        from PySide6.QtWidgets import QMessageBox

        info = self.vault.info()
        if info.mode == MODE_KEYRING:
            confirm = QMessageBox.question(
                self.window, "Protect secrets with a passphrase?",
                "The vault's key is in the system keyring now, which unlocks with your desktop log-in. With a "
                "passphrase instead, Tokendesk asks for it once per session, and commands ask for it when no "
                "window runs.\n\nMove the key out of the keyring and protect it with a passphrase?")
            if confirm != QMessageBox.StandardButton.Yes:
                return
        if info.mode == MODE_PASSPHRASE and not self.vault.is_open:
            self.unlock()
            if not self.vault.is_open:
                return
        new = self._prompt("new", reason="Choose the new vault passphrase." if info.mode else "")
        if new is None:
            return
        try:
            self.vault.use_passphrase(new, reason="chosen by the admin" if info.mode or not self.no_keyring_reason
                                      else f"no usable keyring: {self.no_keyring_reason}")
        except VaultError as exc:
            QMessageBox.warning(self.window, "Passphrase not changed", str(exc))
            return
        self.problem = ""
        self.window.show_status("The vault's key is now protected by your passphrase.")
        self.hub.secrets_changed.emit()

    # ---- the passphrase provider (any thread)
    def provide_passphrase(self, purpose: str) -> str | None:
        from PySide6.QtCore import QThread

        if QThread.currentThread() is self.thread():
            return self._prompt(purpose)
        with self._asking:  # connected here, not at start: Qt.ConnectionType builds Qt's namespace (desktop/qtns.py)
            if not self._ask_connected:
                from PySide6.QtCore import Qt

                self._ask_from_worker.connect(self._answer_worker, Qt.ConnectionType.BlockingQueuedConnection)
                self._ask_connected = True
        reply: list[str | None] = []
        self._ask_from_worker.emit(purpose, reply)
        return reply[0] if reply else None

    @Slot(str, object)
    def _answer_worker(self, purpose: str, reply: list[str | None]) -> None:
        reply.append(self._prompt(purpose))
        self.hub.secrets_changed.emit()

    def _prompt(self, purpose: str, reason: str = "") -> str | None:
        from desktop.ui.dialogs.passphrase_dialog import PassphraseDialog

        if purpose == "new" and not reason and self.no_keyring_reason:
            reason = f"No usable keyring: {self.no_keyring_reason}."
        dialog = PassphraseDialog(purpose, self.window, reason=reason, check=self.vault.check_passphrase,
                                  new_check=check_new_passphrase)
        self.dialog = dialog
        try:
            if dialog.exec() != PassphraseDialog.DialogCode.Accepted:
                return None
            return dialog.value()
        finally:
            self.dialog = None
            dialog.deleteLater()
