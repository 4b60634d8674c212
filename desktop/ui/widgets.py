"""Small reusable widgets: a message bar, a secret field with a show toggle."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget

BAR_STYLES = {
    "warning": "background:#fff4ce; border:1px solid #e0c060; color:#4a3b00;",
    "error": "background:#fde7e9; border:1px solid #e3a0a8; color:#6b0010;",
    "info": "background:#e8f1fb; border:1px solid #a9c7ea; color:#0b3a6b;",
}


def rich_text_label(object_name: str) -> QLabel:
    """A word-wrapped rich-text label, selectable with the mouse, aligned top left (details, panels)."""
    label = QLabel()
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class MessageBar(QFrame):
    """A coloured one-line bar with optional buttons, shown below the toolbar."""

    closed = Signal()

    def __init__(self, text: str = "", kind: str = "warning", closable: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.setStyleSheet(f"QFrame#MessageBar {{{BAR_STYLES.get(kind, BAR_STYLES['info'])} border-radius:4px;}}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self._buttons = QHBoxLayout()
        layout.addLayout(self._buttons)
        if closable:
            close = QToolButton()
            close.setText("✕")
            close.setAutoRaise(True)
            close.setToolTip("Hide this message")
            close.clicked.connect(self._close)
            layout.addWidget(close)

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def add_button(self, text: str) -> QPushButton:
        button = QPushButton(text)
        self._buttons.addWidget(button)
        return button

    def _close(self) -> None:
        self.hide()
        self.closed.emit()


class SecretEdit(QWidget):
    """A masked line edit with a 'Show' toggle; the text is never put into tooltips or logs."""

    textChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.textChanged.connect(self.textChanged)
        self.toggle = QToolButton()
        self.toggle.setText("Show")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Show or hide the secret")
        self.toggle.toggled.connect(self._on_toggled)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.toggle)
        self.setFocusProxy(self.edit)

    def _on_toggled(self, shown: bool) -> None:
        self.edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.toggle.setText("Hide" if shown else "Show")

    def text(self) -> str:
        return self.edit.text()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self.edit.setText(text)

    def setPlaceholderText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self.edit.setPlaceholderText(text)

    def is_masked(self) -> bool:
        return self.edit.echoMode() == QLineEdit.EchoMode.Password
