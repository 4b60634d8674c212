"""The system tray icon: a way in when the window is closed, and where notifications appear.

Menu: Open Tokendesk, Refresh all, the tokens that need attention (each names its action and
does it: the window comes up with that token selected and the sign-in or refresh starts), Quit.
The icon switches to its attention variant while anything needs attention. A click on a tray
message does the same for the token the message was about; a summary of several tokens only
opens the window.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop import APP_NAME
from desktop.notify.attention import Announcement, AttentionItem
from desktop.notify.events import ACTION_REQUEST
from desktop.ui.icons import app_icon, status_icon

logger = logging.getLogger(__name__)

#: attention entries listed in the menu before "N more ..."
MAX_MENU_ENTRIES = 10
MESSAGE_MSECS = 20000


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


class TrayIcon(QObject):
    open_window_requested = Signal()
    open_requested = Signal(str, str)
    refresh_all_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.menu = QMenu()
        self._items: list[AttentionItem] = []
        #: what a click on the last message opens and does: (name, action)
        self.last_message_target: tuple[str, str] | None = None
        self.messages_shown = 0

        self.open_action = QAction(f"Open {APP_NAME}", self)
        font = QFont(self.open_action.font())
        font.setBold(True)
        self.open_action.setFont(font)
        self.open_action.triggered.connect(self.open_window_requested)
        self.refresh_action = QAction("Refresh all", self)
        self.refresh_action.setToolTip("Refresh every token that has a working refresh token")
        self.refresh_action.triggered.connect(self.refresh_all_requested)
        self.quit_action = QAction("Quit", self)
        self.quit_action.triggered.connect(self.quit_requested)
        self._rebuild_menu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_message_clicked)
        self._update_look()

    # ---- state
    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def is_visible(self) -> bool:
        return self.icon.isVisible()

    @property
    def attention_items(self) -> list[AttentionItem]:
        return list(self._items)

    def set_attention(self, items: list[AttentionItem]) -> None:
        self._items = list(items)
        self._rebuild_menu()
        self._update_look()

    def _update_look(self) -> None:
        count = len(self._items)
        self.icon.setIcon(app_icon(attention=bool(count)))
        if count == 0:
            self.icon.setToolTip(f"{APP_NAME}: all tokens are fine")
        elif count == 1:
            self.icon.setToolTip(f"{APP_NAME}: {self._items[0].name}: {self._items[0].title.lower()}")
        else:
            self.icon.setToolTip(f"{APP_NAME}: {count} tokens need attention")

    def _rebuild_menu(self) -> None:
        self.menu.clear()  # deletes the attention entries (owned by the menu), keeps the fixed actions
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.refresh_action)
        if self._items:
            self.menu.addSection("Needs attention")
            for item in self._items[:MAX_MENU_ENTRIES]:
                dots = " ..." if item.action == ACTION_REQUEST else ""  # a dialog follows
                text = f"{item.name}: {item.title.lower()} \u2013 {item.action_label}{dots}"
                action = QAction(status_icon(item.status_kind), text, self.menu)
                action.setToolTip(item.summary or item.message)
                action.setData((item.name, item.action))
                action.triggered.connect(lambda _checked=False, i=item: self.open_requested.emit(i.name, i.action))
                self.menu.addAction(action)
            more = len(self._items) - MAX_MENU_ENTRIES
            if more > 0:
                rest = QAction(f"{more} more ...", self.menu)
                rest.triggered.connect(self.open_window_requested)
                self.menu.addAction(rest)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)

    def attention_actions(self) -> list[QAction]:
        """The menu entries of the tokens that need attention (tests, accessibility checks)."""
        return [a for a in self.menu.actions() if isinstance(a.data(), tuple)]

    # ---- messages
    def show_message(self, note: Announcement, msecs: int = MESSAGE_MSECS) -> None:
        self.last_message_target = (note.name, note.action if note.count == 1 else "")
        severity = QSystemTrayIcon.MessageIcon.Warning
        self.icon.showMessage(note.title, note.message, severity, msecs)
        self.messages_shown += 1
        logger.info("tray message shown: %s", note.title)

    @Slot()
    def _on_message_clicked(self) -> None:
        if self.last_message_target is None:
            self.open_window_requested.emit()
            return
        name, action = self.last_message_target
        self.open_requested.emit(name, action)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_window_requested.emit()
