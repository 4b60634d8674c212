"""Token usage in the window: the "Mail accounts" and "Web services" tabs, and "Used by" in the details.

* Tabs beside the token table (``window.add_tab``) with Add/Edit/Delete and Test connection /
  Invoke, which run on the task runner with progress and show the redacted transcript. A tab's
  content is built the first time it is shown (``mail_view`` / ``invokers_view`` build on access).
* A "Used by" section in the details pane lists the accounts and invokers of the selected
  configuration (which is why it cannot be deleted while they exist).
* Configuration changes, and changes another process (the CLI) made to the database, reload both
  tabs (renamed configurations show their new names); a test
  or invocation that renewed a token emits ``hub.token_changed`` so the token table updates.
* View menu: Ctrl+1 tokens, Ctrl+2 mail accounts, Ctrl+3 web services.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.models.token_table_model import Selection
from desktop.models.tones import tone
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost
from desktop.ui.widgets import escape_html

if TYPE_CHECKING:
    from desktop.ui.usage.views import InvokersView, MailAccountsView
    from desktop.usage.service import UsageService

logger = logging.getLogger(__name__)


def install(app: FeatureHost) -> UsageFeature:
    return UsageFeature(app)


class UsageFeature(QObject):
    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.app = app
        self.window = app.window
        self._service: UsageService | None = None  # made when first needed (start-up: its imports, ~5 ms)
        # the tabs' contents are built when a tab is first shown (start-up: ~20 ms less before the first paint)
        self._mail_view: MailAccountsView | None = None
        self._invokers_view: InvokersView | None = None
        self._mail_host = self._host("mailAccountsTab")
        self._invokers_host = self._host("invokersTab")
        self.mail_tab = self.window.add_tab(self._mail_host, "&Mail accounts")
        self.invokers_tab = self.window.add_tab(self._invokers_host, "&Web services")
        self.window.tab_changed.connect(self._on_tab_shown)
        # the toolbar's filter box filters the tab shown (the view is built by then: it is on screen)
        self.window.set_tab_filter(self.mail_tab, "Filter mail accounts by name, server, login ... (Ctrl+F)",
                                   lambda text: self.mail_view.set_filter(text))
        self.window.set_tab_filter(self.invokers_tab, "Filter web services by name, URL ... (Ctrl+F)",
                                   lambda text: self.invokers_view.set_filter(text))

        self.used_by = QLabel()
        self.used_by.setObjectName("usedBy")
        self.used_by.setWordWrap(True)
        self.used_by_box = self.window.add_details_section("Used by", self.used_by)

        #: configuration id -> its users: read again when they may have changed, never on a selection change
        self._users: dict[int, list[str]] = {}
        app.hub.configurations_changed.connect(self.reload)
        # the window reloads its table when another process (the CLI) changed the database: follow it
        self.window.reloaded.connect(self.reload)
        self.window.selection_changed.connect(self.update_used_by)
        self._add_view_actions()
        if app.defer_start:  # nothing is selected before the first paint: who uses what is read after it
            app.after_first_paint(self._users_changed)
        else:
            self._users_changed()

    @property
    def service(self) -> UsageService:
        if self._service is None:
            from desktop.usage.service import UsageService

            self._service = UsageService(self.app.ctx)
        return self._service

    @staticmethod
    def _host(name: str) -> QWidget:
        host = QWidget()
        host.setObjectName(name)
        layout = QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        return host

    def _adopt(self, view: QWidget, host: QWidget) -> None:
        view.set_read_only(self.app.hub.read_only)  # type: ignore[attr-defined]
        self.app.hub.read_only_changed.connect(view.set_read_only)  # type: ignore[attr-defined]
        host.layout().addWidget(view)
        view.show()  # the host may be on screen already: show now, not at the next event-loop pass
        view.token_used.connect(self.app.hub.token_changed)  # type: ignore[attr-defined]
        view.changed.connect(self._users_changed)  # type: ignore[attr-defined]

    @property
    def mail_view(self) -> MailAccountsView:
        if self._mail_view is None:
            from desktop.ui.usage.views import MailAccountsView

            self._mail_view = MailAccountsView(self.service, self.app.tasks)
            self._adopt(self._mail_view, self._mail_host)
        return self._mail_view

    @property
    def invokers_view(self) -> InvokersView:
        if self._invokers_view is None:
            from desktop.ui.usage.views import InvokersView

            self._invokers_view = InvokersView(self.service, self.app.tasks)
            self._adopt(self._invokers_view, self._invokers_host)
        return self._invokers_view

    @Slot(int)
    def _on_tab_shown(self, index: int) -> None:
        if index == self.mail_tab:
            self.mail_view.setFocus()
        elif index == self.invokers_tab:
            self.invokers_view.setFocus()

    def _add_view_actions(self) -> None:
        self.window.add_menu_separator(MainMenu.VIEW)
        for index, (action_id, text, tab) in enumerate((
            (MainAction.SHOW_TOKENS, "&Tokens", 0),
            (MainAction.SHOW_MAIL_ACCOUNTS, "&Mail accounts", self.mail_tab),
            (MainAction.SHOW_WEB_SERVICES, "&Web services", self.invokers_tab),
        ), start=1):
            self.window.add_action(action_id, text, lambda _checked=False, t=tab: self.window.show_tab(t),
                                   QKeySequence(f"Ctrl+{index}"), menu=MainMenu.VIEW, toolbar=False,
                                   context_menu=False)

    @Slot()
    def reload(self) -> None:
        for view in (self._mail_view, self._invokers_view):
            if view is not None:  # a tab not shown yet loads when it is
                view.reload()
        self._users_changed()

    @Slot()
    def _users_changed(self) -> None:
        """Read who uses which configuration (after a change here or in another process), then redraw."""
        try:
            self._users = self.service.repo.users_by_configuration()
        except Exception as exc:  # the details pane must not break the window
            logger.error("could not list the users of the configurations: %s", type(exc).__name__)
            self._users = {}
        self.update_used_by()

    @Slot(object)
    def update_used_by(self, selection: Selection | None = None) -> None:
        current = (selection or self.window.selection()).current
        if current is None or current.config.id is None:
            self.used_by.setText("")
            return
        users = self._users.get(current.config.id, [])
        if users:
            items = "".join(f"<li>{escape_html(u, quote=False)}</li>" for u in users)
            self.used_by.setText(f"<ul style='margin:0; padding-left:14px'>{items}</ul>"
                                 f"<span style='color:{tone('label')}'>It cannot be deleted while these use it.</span>")
        else:
            self.used_by.setText(f"<span style='color:{tone('label')}'>No mail account or web service uses it.</span>")
