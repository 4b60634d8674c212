"""Which store is open, and a team store that cannot be reached (issue 11, points 2 and 8).

* The status bar always names the store: "Local store" (tooltip: the database file) or "Team store: host/database
  as member" (tooltip: the address, never a password).
* A team store whose server cannot be reached (the listener lost it: ``DatabaseWatcher.unreachable``; or a read of
  the window failed with ``StoreUnreachable``, which reaches ``sys.excepthook`` from a slot) turns the window
  read-only: the table keeps what was read last, a bar says since when and when the next try is (Try now), the
  status label turns red, and every action that writes (``MainAction.writes``) is off - one ``QActionGroup``
  disabled, which wins over the actions' own ``enabled_when`` until it is enabled again - and the Mail accounts, Web
  services and Relay tabs' Add, Edit and Delete buttons (``Hub.read_only_changed``). The listener retries with
  back-off; when it listens again (``reachable``), the bar goes, the actions come back, and the watcher's
  ``changed`` has everything read again (the table, the notify plan - refreshes asked for meanwhile are asked again -,
  the tabs that follow the window's reload).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QLabel

from desktop.models.tones import style
from desktop.ui.enums import MainAction
from desktop.ui.widgets import MessageBar

if TYPE_CHECKING:
    from desktop.ui.features.host import FeatureHost

logger = logging.getLogger(__name__)


def store_label(store: Any) -> tuple[str, str]:
    """The status bar's words for ``store`` and its tooltip."""
    if not store.is_team:
        return "Local store", f"This workstation's database file: {store.location}"
    parts = urlsplit(store.url)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    if parts.port and parts.port != 5432:
        host = f"{host}:{parts.port}"
    database = unquote(parts.path.lstrip("/")) or (parts.username or "")
    return (f"Team store: {host}/{database} as {store.member}",
            f"The team store {store.url}, shared with the other members; you are {store.member}.")


class StoreStatus(QObject):
    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.window = app.window
        self.hub = app.hub
        self.store = app.ctx.store
        self.watcher = app.window.db_watcher
        text, tip = store_label(self.store)
        self.label = QLabel(text)
        self.label.setObjectName("storeLabel")
        self.label.setToolTip(tip)
        self.label.setAccessibleName(text)
        self.window.statusBar().addPermanentWidget(self.label)
        #: when the window last read the store (local time): what the table shows while the server is away; None: a
        #: team store the window has not reached yet (its start: ``ui/row_loading.py``)
        self.read_at: datetime | None = datetime.now().astimezone() if self.store.reached else None
        self.window.reloaded.connect(self._on_reloaded)
        self.bar = MessageBar(kind="error")
        self.bar.setAccessibleName("The team store cannot be reached")
        self.retry_button = self.bar.add_button("Try now")
        self.retry_button.setToolTip("Try to reach the team store now instead of at the next try")
        self.retry_button.clicked.connect(self.retry_now)
        self.bar.hide()
        self.window.add_bar(self.bar)
        #: the actions that write, collected when first needed (features install theirs after this one, too)
        self.writers: QActionGroup | None = None
        self._previous_hook: Any = None
        if self.store.is_team:
            self.watcher.unreachable.connect(self.on_unreachable)
            self.watcher.reachable.connect(self.on_reachable)
            self._previous_hook = sys.excepthook
            sys.excepthook = self._hook
            self.window.destroyed.connect(lambda *_args: self.uninstall())

    @property
    def read_only(self) -> bool:
        return self.writers is not None and not self.writers.isEnabled()

    @Slot()
    def _on_reloaded(self) -> None:
        self.read_at = datetime.now().astimezone()

    def _writing_actions(self) -> QActionGroup:
        if self.writers is None:
            self.writers = QActionGroup(self)
            self.writers.setExclusionPolicy(QActionGroup.ExclusionPolicy.None_)
        for action_id in MainAction:
            if not action_id.writes:
                continue
            try:
                action = self.window.action(action_id)
            except KeyError:  # a feature not installed
                continue
            if action.actionGroup() is not self.writers:
                self.writers.addAction(action)
        return self.writers

    @Slot(str, float)
    def on_unreachable(self, message: str, retry_in: float) -> None:
        if self.bar.isHidden():  # each failed try after the first only updates the bar
            logger.warning("the team store cannot be reached: %s", message)
        self._writing_actions().setEnabled(False)
        self.hub.set_read_only(True)
        where = self.label.text().removeprefix("Team store: ").split(" as ")[0]
        when = (datetime.now() + timedelta(seconds=retry_in)).strftime("%H:%M:%S") if retry_in > 0 else "now"
        shown = (f"showing what was read at {self.read_at:%H:%M}, read-only until it is back" if self.read_at
                 else "nothing can be shown until it answers")
        self.bar.set_text(f"The team store {where} cannot be reached; {shown}. Retrying (next try: {when}); check "
                          "the network and that the database server runs.")
        self.bar.setToolTip(message)
        self.bar.show()
        self.label.setStyleSheet(style("error", " font-weight:600;"))
        self.label.setToolTip(f"{self.label.toolTip().split(chr(10))[0]}\nCannot be reached: {message}")

    @Slot()
    def on_reachable(self) -> None:
        logger.info("the team store answers again")
        if self.writers is not None:
            self.writers.setEnabled(True)
        self.hub.set_read_only(False)
        self.bar.hide()
        self.label.setStyleSheet("")
        self.label.setToolTip(store_label(self.store)[1])
        self.window.show_status("The team store can be reached again.", 8000)

    @Slot()
    def retry_now(self) -> None:
        listener = self.watcher.listener
        if listener is not None:
            listener.retry_now()
            listener.verify()

    def _hook(self, exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        from desktop.store.pg_listen import is_unreachable

        if exc is not None and is_unreachable(self.store, exc):
            self.watcher.lost(str(exc))
            return
        previous = self._previous_hook or sys.__excepthook__
        previous(exc_type, exc, tb)

    @Slot()
    def uninstall(self) -> None:
        if sys.excepthook == self._hook:
            sys.excepthook = self._previous_hook
        self.watcher.stop()


def install(app: FeatureHost) -> StoreStatus:
    return StoreStatus(app)
