"""Token > History ... (Ctrl+H): who did what to the selected configuration (issue 11, point 6).

The rows are read on the task runner - a team store may be a server on the network - into ``HistoryDialog``
(``dialogs/history_dialog.py``), which says it is reading until they come. One dialog per configuration: asking
again raises it and reads again; an open one reads again when a token changes or the window reloads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence

from desktop.ui.enums import MainAction, MainMenu

if TYPE_CHECKING:
    from desktop.store.history import HistoryEntry
    from desktop.ui.dialogs.history_dialog import HistoryDialog
    from desktop.ui.features.host import FeatureHost

logger = logging.getLogger(__name__)


def install(host: FeatureHost) -> HistoryFeature:
    return HistoryFeature(host)


class HistoryFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.host = host
        self.window, self.tasks = host.window, host.tasks
        self.dialogs: dict[str, HistoryDialog] = {}
        self.window.add_menu_separator(MainMenu.TOKEN)
        self.action = self.window.add_action(
            MainAction.HISTORY, "&History ...", self.on_history, QKeySequence("Ctrl+H"),
            "Who did what to the selected configuration, and when: added, edited, signed in, refreshed, exported, "
            "handed to a program ... (Ctrl+H)", toolbar=False,
            enabled_when=lambda rows: len(rows) == 1)
        # an open dialog follows the changes: this window's (a token, a save) and other processes' (a reload)
        host.hub.token_changed.connect(self.reread_open)
        self.window.reloaded.connect(self.reread_open)

    @Slot()
    def on_history(self) -> HistoryDialog | None:
        cfg = self.window.current_configuration()
        if cfg is None:
            return None
        return self.show_history(cfg.name)

    def show_history(self, name: str) -> HistoryDialog:
        from desktop.ui.dialogs.history_dialog import HistoryDialog

        key = name.casefold()
        dialog = self.dialogs.get(key)
        if dialog is None:
            dialog = self.dialogs[key] = HistoryDialog(name, self.window)
            dialog.finished.connect(lambda _r: self._closed(key, dialog))
        dialog.show()
        dialog.raise_()
        self.read(dialog)
        return dialog

    def read(self, dialog: HistoryDialog) -> None:
        from desktop.store import history

        store = self.host.ctx.store

        def done(entries: list[HistoryEntry]) -> None:
            if self.dialogs.get(dialog.name.casefold()) is dialog:
                dialog.set_entries(entries)

        def failed(exc: BaseException) -> None:
            logger.warning("reading the history of '%s' failed", dialog.name, exc_info=exc)
            if self.dialogs.get(dialog.name.casefold()) is dialog:
                dialog.show_failure(str(exc) or exc.__class__.__name__)

        self.tasks.run(history.for_configuration, store, dialog.name, None, on_done=done, on_error=failed,
                       busy_text=f"Reading the history of {dialog.name} ...")

    @Slot()
    @Slot(int)
    def reread_open(self, _config_id: int = 0) -> None:
        for dialog in list(self.dialogs.values()):
            self.read(dialog)

    def _closed(self, key: str, dialog: HistoryDialog) -> None:
        if self.dialogs.get(key) is dialog:
            del self.dialogs[key]
        dialog.deleteLater()
