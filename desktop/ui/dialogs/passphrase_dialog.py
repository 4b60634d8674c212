"""The vault passphrase: asked once per session to unlock, or chosen when no keyring can keep the key.

``PassphraseDialog(purpose="unlock", check=...)`` checks what was typed with ``check`` (a function that
returns '' when the passphrase opens the vault, else what is wrong) and stays open on a wrong one, so
nothing is lost. ``purpose="new"`` asks twice and says why while Save is disabled. Fields are masked.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from desktop.models.tones import style
from desktop.ui.widgets import SecretEdit

UNLOCK = "unlock"
NEW = "new"


class PassphraseDialog(QDialog):
    def __init__(self, purpose: str, parent: QWidget | None = None, *, reason: str = "",
                 check: Callable[[str], str] | None = None, new_check: Callable[[str], str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PassphraseDialog")
        self.purpose = purpose
        self._check = check
        self._new_check = new_check
        layout = QVBoxLayout(self)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.intro)
        form = QFormLayout()
        layout.addLayout(form)
        self.passphrase = SecretEdit()
        self.passphrase.edit.setObjectName("passphrase")
        self.repeat = SecretEdit()
        self.repeat.edit.setObjectName("passphraseRepeat")
        self.error = QLabel()
        self.error.setObjectName("passphraseError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(style("error"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)
        if purpose == NEW:
            self.setWindowTitle("Choose a passphrase - Tokendesk")
            self.intro.setText(
                (f"{reason}\n\n" if reason else "")
                + "Tokendesk encrypts client secrets and tokens with a key of its own. Without a usable keyring, "
                "that key is protected by a passphrase you choose now. You will be asked for it once each time "
                "Tokendesk starts; while the window runs, 'tokendesk token' and other commands are answered by it.\n\n"
                "If you forget the passphrase, the stored secrets cannot be recovered: keep it somewhere safe."
            )
            form.addRow("Passphrase:", self.passphrase)
            form.addRow("Repeat:", self.repeat)
            self.ok_button.setText("Save passphrase")
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Not now")
        else:
            self.setWindowTitle("Unlock secrets - Tokendesk")
            self.intro.setText(
                (f"{reason}\n\n" if reason else "")
                + "Tokendesk's client secrets and tokens are encrypted with a key that your vault passphrase "
                "protects. Enter it to sign in, refresh and hand out tokens in this session."
            )
            form.addRow("Vault passphrase:", self.passphrase)
            self.repeat.hide()
            self.ok_button.setText("Unlock")
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Not now")
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.passphrase.textChanged.connect(self._update)
        self.repeat.textChanged.connect(self._update)
        self.setMinimumWidth(520)
        self._update()
        self.passphrase.setFocus()

    def value(self) -> str:
        return self.passphrase.text()

    def _problem(self) -> str:
        text = self.passphrase.text()
        if not text:
            return "Enter the passphrase." if self.purpose == UNLOCK else "Choose a passphrase."
        if self.purpose == NEW:
            problem = self._new_check(text) if self._new_check else ""
            if problem:
                return problem
            if self.repeat.text() != text:
                return "Repeat the same passphrase." if self.repeat.text() else "Type it a second time to confirm."
        return ""

    def _update(self) -> None:
        problem = self._problem()
        self.ok_button.setEnabled(not problem)
        # a hint while typing, not an error: shown in the muted style until Save is pressed
        self.error.setStyleSheet(style("muted"))
        self.error.setText(problem if self.purpose == NEW else "")

    def _on_accept(self) -> None:
        if self._problem():
            return
        if self.purpose == UNLOCK and self._check is not None:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # the key derivation takes ~0.3 s
            try:
                problem = self._check(self.passphrase.text())
            finally:
                QGuiApplication.restoreOverrideCursor()
            if problem:
                self.error.setStyleSheet(style("error"))
                self.error.setText(problem)
                self.passphrase.edit.selectAll()
                self.passphrase.setFocus()
                return
        self.accept()
