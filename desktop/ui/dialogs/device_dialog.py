"""The device sign-in (RFC 8628): the user code in large type, the address, a QR code of the complete address for a
phone, Copy, a countdown and Cancel. The polling runs on the task runner (``features/device_sign_in.py``); this dialog
only shows where it stands and how it ended (denied, expired: each explained, with what to do)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices, QFont, QGuiApplication, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from desktop.models.token import utcnow
from desktop.models.tones import style
from desktop.oauth.grant_drivers.device import DeviceAuthorization

QR_MODULE_PIXELS = 5
QR_BORDER_MODULES = 4  # the quiet zone ISO/IEC 18004 asks for


def qr_pixmap(text: str, module: int = QR_MODULE_PIXELS) -> QPixmap:
    """``text`` as a QR code (segno: error correction M), black on white with its quiet zone."""
    import segno  # only when a device sign-in starts

    matrix = segno.make(text, error="m").matrix
    size = (len(matrix) + 2 * QR_BORDER_MODULES) * module
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    black = QColor("black")
    for row, bits in enumerate(matrix):
        for col, bit in enumerate(bits):
            if bit:
                painter.fillRect((col + QR_BORDER_MODULES) * module, (row + QR_BORDER_MODULES) * module, module,
                                 module, black)
    painter.end()
    return QPixmap.fromImage(image)


def countdown_text(seconds: int) -> str:
    if seconds <= 0:
        return "The code has expired."
    return f"The code is valid for {seconds // 60}:{seconds % 60:02d} more."


class DeviceCodeDialog(QDialog):
    """Shows one ``DeviceAuthorization``; ``cancel_requested`` when the admin cancels while it waits."""

    cancel_requested = Signal()

    def __init__(self, auth: DeviceAuthorization, parent=None, *,  # noqa: ANN001 - any QWidget
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(parent)
        self.auth = auth
        self.clock = clock
        self.ended = False
        self.setWindowTitle(f"Sign in with a code \u2013 {auth.config_name}")
        self.setObjectName("device_dialog")
        layout = QVBoxLayout(self)
        intro = QLabel("On your phone or any other device, open the address below (or scan the QR code) and enter "
                       "the code. Tokendesk waits here and stores the token by itself.")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        grid = QGridLayout()
        self.code_label = QLabel(auth.user_code)
        self.code_label.setObjectName("device_user_code")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(30)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 3)
        self.code_label.setFont(font)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.setAccessibleName("User code")
        grid.addWidget(QLabel("Code:"), 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.code_label, 0, 1)
        self.address_label = QLabel(f"<a href='{auth.verification_uri}'>{auth.verification_uri}</a>")
        self.address_label.setObjectName("device_address")
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.address_label.setOpenExternalLinks(True)
        grid.addWidget(QLabel("Address:"), 1, 0)
        grid.addWidget(self.address_label, 1, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

        qr_text = auth.verification_uri_complete or auth.verification_uri
        self.qr_label = QLabel()
        self.qr_label.setObjectName("device_qr")
        self.qr_label.setPixmap(qr_pixmap(qr_text))
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setAccessibleName("QR code of the address with the code")
        layout.addWidget(self.qr_label)
        self.qr_note = qr_note = QLabel("Scan with a phone's camera: the address with the code already filled in." if
                         auth.verification_uri_complete else "Scan with a phone's camera: the address (then type "
                         "the code).")
        qr_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        qr_note.setStyleSheet(style("muted"))
        layout.addWidget(qr_note)

        self.countdown_label = QLabel()
        self.countdown_label.setObjectName("device_countdown")
        layout.addWidget(self.countdown_label)
        self.status_label = QLabel("Waiting for the sign-in \u2026")
        self.status_label.setObjectName("device_status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)

        self.buttons = QDialogButtonBox()
        self.copy_button = QPushButton("&Copy code")
        self.copy_button.setToolTip("Copy the code (Ctrl+C)")
        self.copy_button.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_button.clicked.connect(self.copy_code)
        self.open_button = QPushButton("&Open address")
        self.open_button.setToolTip("Open the address in this computer's browser")
        self.open_button.clicked.connect(self.open_address)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        for button in (self.copy_button, self.open_button, self.cancel_button):
            button.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.tick()
        self.setMinimumWidth(460)

    @Slot()
    def tick(self) -> None:
        left = self.auth.seconds_left(self.clock())
        self.countdown_label.setText(countdown_text(left))
        if left <= 60:
            self.countdown_label.setStyleSheet(style("warn"))

    @Slot()
    def copy_code(self) -> None:
        QGuiApplication.clipboard().setText(self.auth.user_code)
        self.status_label.setText(f"Code {self.auth.user_code} copied. Waiting for the sign-in \u2026")

    @Slot()
    def open_address(self) -> None:
        QDesktopServices.openUrl(QUrl(self.auth.verification_uri_complete or self.auth.verification_uri))

    def show_failure(self, message: str, hint: str) -> None:
        """The sign-in ended without a token (denied, expired, an error): say so and what to do; Cancel -> Close."""
        self.ended = True
        self.timer.stop()
        self.countdown_label.setText("")
        self.code_label.setEnabled(False)
        self.qr_label.setEnabled(False)
        self.qr_label.setVisible(False)
        self.qr_note.setVisible(False)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setText(f"{message}\n\n{hint}" if hint else message)
        self.status_label.setStyleSheet(style("error"))
        self.cancel_button.setText("Close")
        self.copy_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.adjustSize()

    def finish(self) -> None:
        """The token is stored."""
        self.ended = True
        self.timer.stop()
        self.accept()

    def reject(self) -> None:
        if not self.ended:
            self.ended = True
            self.cancel_requested.emit()
        self.timer.stop()
        super().reject()
