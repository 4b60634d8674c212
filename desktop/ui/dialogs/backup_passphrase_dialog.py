"""The passphrase of an encrypted backup (age), asked before the import preview (not the vault's: passphrase_dialog.py).

The dialog only collects the passphrase: "Decrypt" emits ``submitted(passphrase)`` and shows
that it is working (the field is locked, a busy bar runs; decryption takes a few seconds on
purpose); the backup feature decrypts on the task runner and then either closes the dialog
(``accept``) and shows the preview, or calls ``show_error`` for a wrong passphrase: the admin
types it again, nothing is lost. Cancel closes it; a result that arrives afterwards is dropped.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from desktop.models.tones import style
from desktop.ui.dialogs.export_dialog import grow_to_fit


class BackupPassphraseDialog(QDialog):
    #: the passphrase typed (emitted on Decrypt; never logged)
    submitted = Signal(str)

    def __init__(self, file_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Encrypted backup")
        self.setObjectName("BackupPassphraseDialog")
        self.file_name = file_name
        self.busy = False

        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>{escape(file_name)}</b> is an encrypted backup (age). Enter the passphrase it was encrypted "
            "with. The records are shown before anything is imported."
        )
        intro.setObjectName("passphraseIntro")
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setWordWrap(True)
        layout.addWidget(intro)

        form = QFormLayout()
        self.edit = QLineEdit()
        self.edit.setObjectName("importPassphraseEdit")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName("Passphrase")
        self.edit.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhNoPredictiveText
                                      | Qt.InputMethodHint.ImhSensitiveData)
        label = QLabel("Pass&phrase:")
        label.setBuddy(self.edit)
        form.addRow(label, self.edit)
        layout.addLayout(form)

        self.error = QLabel()
        self.error.setObjectName("passphraseError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(style("error"))
        self.error.setVisible(False)
        layout.addWidget(self.error)

        self.progress_label = QLabel("Decrypting \u2026 (this takes a few seconds on purpose: it slows down guessing)")
        self.progress_label.setObjectName("passphraseProgress")
        self.progress_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the decryption reports no progress of its own
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress.setAccessibleName("Decrypting")
        for widget in (self.progress_label, self.progress):
            widget.setVisible(False)
            layout.addWidget(widget)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.decrypt_button = self.buttons.addButton("&Decrypt", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.on_decrypt_clicked)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # default only once the box is in the dialog (set before, Cancel became the default: Enter cancelled)
        self.decrypt_button.setDefault(True)
        QWidget.setTabOrder(self.decrypt_button, self.buttons.button(QDialogButtonBox.StandardButton.Cancel))

        self.edit.textChanged.connect(self._update)
        self._update()
        self.resize(480, 10)
        grow_to_fit(self)

    def passphrase(self) -> str:
        return self.edit.text()

    def _update(self) -> None:
        self.decrypt_button.setEnabled(bool(self.edit.text()) and not self.busy)
        self.decrypt_button.setToolTip("" if self.edit.text() else "Enter the passphrase first.")

    @Slot()
    def on_decrypt_clicked(self) -> None:
        if not self.decrypt_button.isEnabled():
            return
        self.set_busy(True)
        self.submitted.emit(self.edit.text())

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.edit.setReadOnly(busy)
        self.progress_label.setVisible(busy)
        self.progress.setVisible(busy)
        if busy:
            self.error.setVisible(False)
        self._update()
        grow_to_fit(self)

    def show_error(self, message: str) -> None:
        """The passphrase did not open the file: say so, keep the dialog, let the admin type again."""
        self.set_busy(False)
        self.error.setText(message + " Try again, or Cancel.")
        self.error.setVisible(True)
        grow_to_fit(self)
        self.edit.selectAll()
        self.edit.setFocus()
