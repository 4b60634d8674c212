"""Help menu: Open Log Folder (what happened while nobody watched: desktop/logfile.py) and About Tokendesk
(version, data directory, log file, where the secrets are)."""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QMessageBox

from desktop import APP_NAME, __version__
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost


def install(host: FeatureHost) -> HelpFeature:
    return HelpFeature(host)


class HelpFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.window = host.window
        self.ctx = host.ctx
        self.about_box: QMessageBox | None = None
        for action_id, text, slot, tip in (
            (MainAction.OPEN_LOG, "Open &Log Folder", self.on_open_log_folder,
             "Show the folder of Tokendesk's log file (what happened while nobody watched)"),
            (MainAction.ABOUT, "&About Tokendesk", self.on_about, ""),
        ):
            self.window.add_action(action_id, text, slot, None, tip, menu=MainMenu.HELP, toolbar=False,
                                   context_menu=False, shortcut_anywhere=False)

    @Slot()
    def on_about(self) -> None:
        from desktop import logfile

        log = logfile.current()
        box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}",
                          f"<b>{APP_NAME} {__version__}</b><br>OAuth2 token administration for the desktop.<br><br>"
                          f"Data: {html.escape(str(self.ctx.store.path))}<br>"
                          f"Log: {html.escape(str(log)) if log else 'not written (see tokendesk -v)'}<br>"
                          f"Secrets: {html.escape(self.window.secrets_summary())}",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("AboutBox")
        box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.about_box = box
        box.open()

    @Slot()
    def on_open_log_folder(self) -> bool:
        """Open the log folder in the file manager; says where it is when that does not work."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from desktop import logfile

        log = logfile.current()
        if log is None:
            self.window.show_status(
                "No log file is written in this session (start Tokendesk normally, or use tokendesk -v).")
            return False
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(log.parent)))
        if not opened:
            self.window.show_status(f"The log is {log} (no file manager answered).", 15000)
        return bool(opened)
