"""Help menu: the guides - A Short Tour (F1: the README's tour) and Using Tokens in Other Programs - from the
installed documentation (rendered in a window) or else the project page (desktop/documentation.py); Open Log
Folder (what happened while nobody watched: desktop/logfile.py) and About Tokendesk (version, data directory,
log file, where the secrets are)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QMessageBox

from desktop import APP_NAME, __version__
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost
from desktop.ui.icons import app_icon

if TYPE_CHECKING:
    from desktop.documentation import Guide


def install(host: FeatureHost) -> HelpFeature:
    return HelpFeature(host)


class HelpFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.window = host.window
        self.ctx = host.ctx
        self.about_box: QMessageBox | None = None
        #: the guide window shown last (tests read it)
        self.guide_viewer: QDialog | None = None
        # the guides are named here and looked up when asked for: desktop.documentation is not imported
        # before the first paint (start-up, issue 14)
        for action_id, text, guide, shortcut, tip in (
            (MainAction.TOUR, "A Short &Tour ...", "TOUR", QKeySequence(Qt.Key.Key_F1),
             "The README's short tour: register the app, add, sign in, watch, back up, use the tokens (F1)"),
            (MainAction.OTHER_PROGRAMS, "Using Tokens in &Other Programs ...", "OTHER_PROGRAMS", None,
             "msmtp, mbsync, getmail6, curl and others with 'tokendesk token NAME'"),
        ):
            self.window.add_action(action_id, text, lambda _checked=False, g=guide: self._open_named_guide(g), shortcut,
                                   tip, menu=MainMenu.HELP, toolbar=False, context_menu=False)
        self.window.add_menu_separator(MainMenu.HELP)
        for action_id, text, slot, tip in (
            (MainAction.OPEN_LOG, "Open &Log Folder", self.on_open_log_folder,
             "Show the folder of Tokendesk's log file (what happened while nobody watched)"),
            (MainAction.ABOUT, "&About Tokendesk", self.on_about, ""),
        ):
            self.window.add_action(action_id, text, slot, None, tip, menu=MainMenu.HELP, toolbar=False,
                                   context_menu=False, shortcut_anywhere=False)

    def _open_named_guide(self, name: str) -> str:
        from desktop import documentation

        return self.open_guide(getattr(documentation, name))

    def open_guide(self, guide: Guide) -> str:
        """Show ``guide`` from the installed documentation, else open the project page; says where it went
        ("viewer", "web", or "" when neither exists - the status bar then says so)."""
        from desktop.documentation import project_url, read_guide

        found = read_guide(guide)
        if found is not None:
            from desktop.ui.dialogs.guide_viewer import GuideViewer

            viewer = GuideViewer(guide.title[:1].upper() + guide.title[1:], found[1], found[0], self.window)
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.guide_viewer = viewer
            viewer.show()
            return "viewer"
        url = project_url()
        if url:
            from PySide6.QtCore import QUrl
            from PySide6.QtGui import QDesktopServices

            if QDesktopServices.openUrl(QUrl(url)):
                self.window.show_status(f"Opened the project page {url} in the browser ({guide.title}).", 10000)
                return "web"
            self.window.show_status(f"No browser answered: the documentation is at {url}.", 20000)
            return ""
        self.window.show_status(f"'{guide.path}' is not installed and the package names no project page: see "
                                f"{guide.path} in Tokendesk's source.", 20000)
        return ""

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
        box.setIconPixmap(app_icon().pixmap(64, 64))
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
