"""The in-window notification bar: what needs attention now, one row per token, a button each.

Shown below the toolbar whenever something needs attention (whatever the notification
strategy), hidden when all is well. An entry's button names its action and does it: the click emits
``open_requested(name, action)``, the notify feature turns that into ``hub.open_configuration`` and
the window selects the token and runs the action (the sign-in starts, the refresh runs).
The bar can be hidden by the admin; it comes back when the list changes.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from desktop.notify.attention import AttentionItem
from desktop.notify.events import ACTION_EDIT, ACTION_REFRESH, ACTION_REQUEST
from desktop.ui.icons import status_icon
from desktop.ui.widgets import BAR_STYLES

#: rows shown before "Show all"
MAX_ROWS = 4
#: what an entry's button does, by action
TOOLTIPS = {
    ACTION_REQUEST: "Sign in for '{name}' now and store a new token",
    ACTION_REFRESH: "Renew the access token of '{name}' now with its refresh token",
    ACTION_EDIT: "Open '{name}' to enter its new client secret and the day it expires",
}


class _Row(QWidget):
    def __init__(self, item: AttentionItem, on_click, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.item = item
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(status_icon(item.status_kind).pixmap(QSize(16, 16)))
        icon.setFixedSize(16, 16)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        self.label = QLabel(item.summary or item.message)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # names are the admin's text, not markup
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.button = QPushButton(item.action_label)
        self.button.setToolTip(TOOLTIPS.get(item.action, "Open '{name}'").format(name=item.name))
        self.button.setAccessibleName(f"{item.action_label}: {item.name}")
        self.button.clicked.connect(lambda: on_click(item))
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)


class NotificationBar(QFrame):
    """Lists ``AttentionItem``s; emits ``open_requested(name, action)`` when an entry is clicked."""

    open_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NotificationBar")
        self.setAccessibleName("Tokens that need attention")
        self._items: list[AttentionItem] = []
        self._dismissed_for: tuple[tuple[int, str, str], ...] | None = None
        self._expanded = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 6, 6)
        outer.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-weight:600; border:none; background:transparent;")
        head.addWidget(self.title, 1)
        self.more_button = QToolButton()
        self.more_button.setAutoRaise(True)
        self.more_button.clicked.connect(self.toggle_expanded)
        head.addWidget(self.more_button)
        self.hide_button = QToolButton()
        self.hide_button.setText("✕")
        self.hide_button.setAutoRaise(True)
        self.hide_button.setToolTip("Hide until something else needs attention")
        self.hide_button.setAccessibleName("Hide the notification bar")
        self.hide_button.clicked.connect(self.dismiss)
        head.addWidget(self.hide_button)
        outer.addLayout(head)
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(4)
        outer.addLayout(self.rows_layout)
        self.rows: list[_Row] = []
        self.hide()

    # ---- content
    @property
    def items(self) -> list[AttentionItem]:
        return list(self._items)

    def _signature(self, items: list[AttentionItem]) -> tuple[tuple[int, str, str], ...]:
        return tuple((i.config_id, i.kind.value, i.due_at.isoformat()) for i in items)

    def set_items(self, items: list[AttentionItem]) -> None:
        """Show these entries (most urgent first); hides the bar when the list is empty."""
        self._items = list(items)
        if self._dismissed_for is not None and self._dismissed_for != self._signature(self._items):
            self._dismissed_for = None  # something changed: show again
        self._rebuild()

    def _rebuild(self) -> None:
        for row in self.rows:
            self.rows_layout.removeWidget(row)
            row.hide()  # at once: deleteLater waits for the event loop; until then it was drawn over the new rows
            row.deleteLater()
        self.rows = []
        items = self._items
        if not items or self._dismissed_for is not None:
            self.hide()
            return
        severe = any(i.status_kind in ("expired", "reauth") for i in items)
        style = BAR_STYLES["error" if severe else "warning"]
        self.setStyleSheet(f"QFrame#NotificationBar {{{style} border-radius:4px;}} QLabel {{border:none;}}")
        self.title.setText(
            "1 token needs attention" if len(items) == 1 else f"{len(items)} tokens need attention"
        )
        shown = items if self._expanded else items[:MAX_ROWS]
        for item in shown:
            row = _Row(item, self._on_row_clicked, self)
            self.rows_layout.addWidget(row)
            self.rows.append(row)
        hidden = len(items) - len(shown)
        self.more_button.setVisible(len(items) > MAX_ROWS)
        self.more_button.setText("Show fewer" if self._expanded else f"Show all ({hidden} more)")
        self.show()

    # ---- user actions
    def _on_row_clicked(self, item: AttentionItem) -> None:
        self.open_requested.emit(item.name, item.action)

    @Slot()
    def toggle_expanded(self) -> None:
        self._expanded = not self._expanded
        self._rebuild()

    @Slot()
    def dismiss(self) -> None:
        self._dismissed_for = self._signature(self._items)
        self.hide()
