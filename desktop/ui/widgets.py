"""Small reusable widgets: a message bar, a secret field with a show toggle."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget

from desktop.qtns import ALIGN_TOP_LEFT, RICH_TEXT, SELECTABLE_BY_MOUSE

_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})
_HTML_ESCAPES_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_html(text: str, quote: bool = True) -> str:
    """``html.escape``, for the widgets built before the window's first paint: the html module loads its table of
    2,000 named entities on import (~1 ms of the start) for an escape that needs five."""
    return text.translate(_HTML_ESCAPES if quote else _HTML_ESCAPES_TEXT)


#: kind -> (background, border, text) of a message bar
BAR_COLOURS = {
    "warning": ("#fff4ce", "#e0c060", "#4a3b00"),
    "error": ("#fde7e9", "#e3a0a8", "#6b0010"),
    "info": ("#e8f1fb", "#a9c7ea", "#0b3a6b"),
}
#: the same as style sheet properties (dialogs' panels)
BAR_STYLES = {kind: f"background:{bg}; border:1px solid {border}; color:{text};"
              for kind, (bg, border, text) in BAR_COLOURS.items()}


def rich_text_label(object_name: str) -> QLabel:
    """A word-wrapped rich-text label, selectable with the mouse, aligned top left (details, panels)."""
    label = QLabel()
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setProperty("textFormat", RICH_TEXT)  # ints, not Qt's enums, on the start path: desktop/qtns.py
    label.setProperty("textInteractionFlags", SELECTABLE_BY_MOUSE)
    label.setProperty("alignment", ALIGN_TOP_LEFT)
    return label


class MessageBar(QFrame):
    """A coloured one-line bar with optional buttons, shown below the toolbar. It paints its own rounded box (a
    style sheet would bring Qt's style sheet engine into the window's start for a bar that is mostly hidden)."""

    closed = Signal()

    def __init__(self, text: str = "", kind: str = "warning", closable: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self._colours = BAR_COLOURS.get(kind, BAR_COLOURS["info"])
        palette = self.palette()
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
            palette.setColor(role, QColor(self._colours[2]))
        self.setPalette(palette)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setProperty("textInteractionFlags", SELECTABLE_BY_MOUSE)
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

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt API
        background, border, _text = self._colours
        from PySide6.QtGui import QPainter  # its Python type costs ~1 ms; most starts show no bar

        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(border))
        painter.setBrush(QColor(background))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.end()

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def add_button(self, text: str) -> QPushButton:
        button = QPushButton()  # not QPushButton(text): its overload check builds QIcon's Python type (~2 ms)
        button.setText(text)
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
