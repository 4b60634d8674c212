"""The small window shown while the system browser signs in (RFC 8252 loopback flow): the address to copy for
another machine, a busy bar and Cancel. Built by the oauth feature when such a sign-in starts."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from desktop.ui.widgets import escape_html


class BrowserWaitDialog(QDialog):
    """Shown while the system browser signs in: the address (to copy for another machine) and Cancel."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Sign in \u2013 {name}")
        self.setObjectName("BrowserWaitDialog")
        self.setModal(True)
        layout = QVBoxLayout(self)
        self.message = QLabel(f"Starting the sign-in for \u201c{escape_html(name)}\u201d \u2026")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.address = QLineEdit()
        self.address.setReadOnly(True)
        self.address.setAccessibleName("Sign-in address")
        self.address.setToolTip("Open this address in a browser if none opened (e.g. on another machine)")
        row.addWidget(self.address, 1)
        self.copy_button = QPushButton("&Copy address")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self._copy)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        progress = QProgressBar()
        progress.setRange(0, 0)
        progress.setMaximumHeight(10)
        progress.setTextVisible(False)
        layout.addWidget(progress)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop waiting; the stored token is not changed (Esc)")
        self.cancel_button.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.resize(620, 170)

    @Slot(str, bool)
    def show_address(self, url: str, opened: bool) -> None:
        self.address.setText(url)
        self.address.setCursorPosition(0)
        self.copy_button.setEnabled(True)
        if opened:
            self.message.setText("Your browser opened the sign-in page. Finish the sign-in there; this window "
                                 "closes by itself. If no browser appeared, copy the address below into one.")
        else:
            self.message.setText("No browser could be started. Copy the address below into a browser on this "
                                 "machine to sign in.")

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.address.text())
        self.copy_button.setText("Copied")
