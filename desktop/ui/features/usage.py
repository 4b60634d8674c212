"""Token usage in the window: the "Mail accounts" and "Web services" tabs, and "Used by" in the details.

* Tabs beside the token table (``window.add_tab``) with Add/Edit/Delete and Test connection /
  Invoke, which run on the task runner with progress and show the redacted transcript.
* A "Used by" section in the details pane lists the accounts and invokers of the selected
  configuration (which is why it cannot be deleted while they exist).
* Configuration changes, and changes another process (the CLI) made to the database, reload both
  tabs (renamed configurations show their new names); a test
  or invocation that renewed a token emits ``hub.token_changed`` so the token table updates.
* View menu: Ctrl+1 tokens, Ctrl+2 mail accounts, Ctrl+3 web services.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel

from desktop.ui.usage.views import InvokersView, MailAccountsView
from desktop.usage.service import UsageService

if TYPE_CHECKING:
    from desktop.app import Application

logger = logging.getLogger(__name__)


def install(app: Application) -> UsageFeature:
    return UsageFeature(app)


class UsageFeature(QObject):
    def __init__(self, app: Application) -> None:
        super().__init__(app.window)
        self.app = app
        self.window = app.window
        self.service = UsageService(app.ctx)
        self.mail_view = MailAccountsView(self.service, app.tasks)
        self.invokers_view = InvokersView(self.service, app.tasks)
        self.mail_tab = self.window.add_tab(self.mail_view, "&Mail accounts")
        self.invokers_tab = self.window.add_tab(self.invokers_view, "&Web services")

        self.used_by = QLabel()
        self.used_by.setObjectName("usedBy")
        self.used_by.setWordWrap(True)
        self.used_by_box = self.window.add_details_section("Used by", self.used_by)

        for view in (self.mail_view, self.invokers_view):
            view.token_used.connect(app.hub.token_changed)
            view.changed.connect(self.update_used_by)
        app.hub.configurations_changed.connect(self.reload)
        # the window reloads its table when another process (the CLI) changed the database: follow it
        self.window.model.modelReset.connect(self.reload)
        self.window.selection_changed.connect(self.update_used_by)
        self._add_view_actions()
        self.update_used_by()

    def _add_view_actions(self) -> None:
        menu = self.window.menu("&View")
        menu.addSeparator()
        for index, (text, tab) in enumerate((("&Tokens", 0), ("&Mail accounts", self.mail_tab),
                                             ("&Web services", self.invokers_tab)), start=1):
            action = QAction(text, self.window)
            action.setObjectName(f"action_show_tab_{index}")
            action.setShortcut(QKeySequence(f"Ctrl+{index}"))
            action.triggered.connect(lambda _checked=False, t=tab: self.window.tabs.setCurrentIndex(t))
            menu.addAction(action)
            self.window.addAction(action)

    @Slot()
    def reload(self) -> None:
        self.mail_view.reload()
        self.invokers_view.reload()
        self.update_used_by()

    @Slot()
    def update_used_by(self) -> None:
        cfg = self.window.current_configuration()
        if cfg is None or cfg.id is None:
            self.used_by.setText("")
            return
        try:
            users = self.service.repo.users_of(cfg.id)
        except Exception as exc:  # the details pane must not break the window
            logger.error("could not list the users of %s: %s", cfg.name, type(exc).__name__)
            users = []
        if users:
            items = "".join(f"<li>{html.escape(u, quote=False)}</li>" for u in users)
            self.used_by.setText(f"<ul style='margin:0; padding-left:14px'>{items}</ul>"
                                 "<span style='color:#555'>It cannot be deleted while these use it.</span>")
        else:
            self.used_by.setText("<span style='color:#555'>No mail account or web service uses it.</span>")
