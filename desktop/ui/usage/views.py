"""The "Mail accounts" and "Web services" tabs: a table, Add/Edit/Delete, Test connection / Invoke
(on the task runner, with progress) and the result panel with the redacted transcript.

Keyboard: Insert or Ctrl+Shift+N adds, Enter or F2 edits, Delete deletes, Ctrl+Enter tests or invokes
the selected row. The table claims Delete, F2 and Enter (ShortcutOverride) so the main window's token
shortcuts, which are window-wide, do not act on a hidden configuration while this tab has the focus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.models.status import format_local
from desktop.models.token import utcnow
from desktop.models.tones import style
from desktop.ui.usage.result_view import ResultView
from desktop.ui.usage.table_models import InvokersModel, LastResult, MailAccountsModel, _ListModel
from desktop.usage.cancel import Cancellation
from desktop.usage.repository import UsageError

if TYPE_CHECKING:
    from desktop.ui.tasks import TaskRunner
    from desktop.ui.usage.invoker_dialog import InvokerDialog
    from desktop.ui.usage.mail_account_dialog import MailAccountDialog
    from desktop.usage.service import UsageService

logger = logging.getLogger(__name__)


class _UsageView(QWidget):
    #: a run finished and may have renewed the token of this configuration id
    token_used = Signal(int)
    #: accounts or invokers were added, changed or deleted
    changed = Signal()

    KIND = ""  # "mail account" / "web service"
    RUN_LABEL = ""
    RUN_TIP = ""
    EMPTY_TEXT = ""

    def __init__(self, service: UsageService, tasks: TaskRunner, model: _ListModel[Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.tasks = tasks
        self.model = model
        model.setParent(self)
        self.running: set[str] = set()
        #: the window's filter box on this tab: rows without the text in any column are hidden
        self._filter = ""
        #: the Cancellation of each running item, and the item whose run the result panel shows
        self._cancels: dict[str, Cancellation] = {}
        self._shown: str | None = None
        #: the last message box shown (tests read it)
        self.last_box: QMessageBox | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        buttons = QHBoxLayout()
        self.add_button = self._button("&Add\u2026", f"Add a {self.KIND} (Insert)", self.on_add)
        self.edit_button = self._button("&Edit\u2026", f"Edit the selected {self.KIND} (Enter, F2)", self.on_edit)
        self.delete_button = self._button("&Delete", f"Delete the selected {self.KIND} (Del)", self.on_delete)
        self.run_button = self._button(self.RUN_LABEL, self.RUN_TIP + " (Ctrl+Enter)", self.on_run)
        self.run_button.setDefault(False)
        for b in (self.add_button, self.edit_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addSpacing(12)
        buttons.addWidget(self.run_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        table_host = QWidget()
        table_layout = QVBoxLayout(table_host)
        table_layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.doubleClicked.connect(self._on_double_click)
        table_layout.addWidget(self.table)
        self.empty_label = QLabel(self.EMPTY_TEXT)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet(style("label", " padding:18px;"))
        table_layout.addWidget(self.empty_label)
        self.splitter.addWidget(table_host)
        self.result = ResultView(f"Select a {self.KIND} and press {self.RUN_LABEL.replace('&', '')}.")
        self.result.cancel_requested.connect(self.on_cancel)
        self.splitter.addWidget(self.result)
        # the list keeps room for a header and five rows; the transcript shares what is left (3:2 for the list)
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + 5 * self.table.verticalHeader().defaultSectionSize() + 4)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)

        self._shortcut(QKeySequence(Qt.Key.Key_Insert), self.on_add)
        self._shortcut(QKeySequence("Ctrl+Shift+N"), self.on_add)
        self._shortcut(QKeySequence("Ctrl+Return"), self.on_run)
        self._shortcut(QKeySequence(Qt.Key.Key_Escape), self.on_cancel)
        self._keys = {Qt.Key.Key_Delete: self.on_delete, Qt.Key.Key_F2: self.on_edit,
                      Qt.Key.Key_Return: self.on_edit, Qt.Key.Key_Enter: self.on_edit}
        self.table.installEventFilter(self)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.reload()

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton()  # not QPushButton(text): see ui/widgets.py MessageBar.add_button
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def _shortcut(self, keys: QKeySequence, slot: Callable[[], None]) -> None:
        action = QAction(self)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if watched is self.table and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            key = event.key()  # type: ignore[attr-defined]
            plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)  # type: ignore[attr-defined]
            if key in self._keys and plain:
                event.accept()
                if event.type() == QEvent.Type.KeyPress:
                    self._keys[key]()
                return True
        return super().eventFilter(watched, event)

    # ---- data
    def load_items(self) -> list[Any]:
        raise NotImplementedError

    @Slot()
    def reload(self) -> None:
        current = self.current_name()
        try:
            items = self.load_items()
        except Exception as exc:  # a damaged database must not take the window down
            logger.error("could not load %ss: %s", self.KIND, exc)
            items = []
        self.model.set_items(items)
        self.set_filter(self._filter)
        self.table.resizeColumnsToContents()
        has_rows = bool(items)
        self.table.setVisible(has_rows)
        self.empty_label.setVisible(not has_rows)
        if current:
            self.select(current)
        elif has_rows:
            self.table.selectRow(0)
        self._update_buttons()

    def set_filter(self, text: str) -> None:
        """Show only the rows with ``text`` in one of their columns (case-insensitive; '' shows all)."""
        self._filter = text
        needle = text.strip().casefold()
        model = self.model
        for row in range(model.rowCount()):
            shown = not needle or any(needle in str(model.index(row, col).data() or "").casefold()
                                      for col in range(model.columnCount()))
            self.table.setRowHidden(row, not shown)

    def current_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        item = self.model.item(rows[0].row()) if rows else None
        return getattr(item, "name", None)

    def current_item(self) -> Any:
        name = self.current_name()
        return None if name is None else self.model.item(self.model.row_of(name))

    def select(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True

    #: the store cannot be written (a team store out of reach): Add, Edit and Delete are off (``set_read_only``)
    read_only = False

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self._update_buttons()

    @Slot()
    def _update_buttons(self) -> None:
        name = self.current_name()
        self.add_button.setEnabled(not self.read_only)
        self.edit_button.setEnabled(name is not None and not self.read_only)
        self.delete_button.setEnabled(name is not None and not self.read_only)
        self.run_button.setEnabled(name is not None and name not in self.running)

    def _on_double_click(self, index: QModelIndex) -> None:
        if index.isValid():
            self.on_edit()

    # ---- add / edit / delete
    def make_dialog(self, item: Any) -> Any:
        raise NotImplementedError

    def delete_item(self, name: str) -> None:
        raise NotImplementedError

    @Slot()
    def on_add(self) -> None:
        if not self.read_only:  # the Insert key too
            self._edit(None)

    @Slot()
    def on_edit(self) -> None:
        item = self.current_item()
        if item is not None and not self.read_only:  # Enter and F2 too
            self._edit(item)

    def _edit(self, item: Any) -> None:
        dialog = self.make_dialog(item)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.saved is not None:
            self.reload()
            self.select(dialog.saved.name)
            self.changed.emit()

    @Slot()
    def on_delete(self) -> None:
        name = self.current_name()
        if name is None or self.read_only:  # the Delete key too
            return
        answer = QMessageBox.question(self, f"Delete {self.KIND}", f"Delete the {self.KIND} \u201c{name}\u201d?\n\n"
                                      "Its token configuration is not touched.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.delete_item(name)
        except UsageError as exc:
            self._error(f"\u201c{name}\u201d was not deleted", str(exc))
        self.model.results.pop(name, None)
        self.reload()
        self.changed.emit()

    def _error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        self.last_box = box
        box.open()

    # ---- run (test / invoke)
    def run_item(self, name: str, cancel: Cancellation) -> Any:
        """Runs on a worker thread; ``cancel`` is used from the GUI thread when the admin cancels."""
        raise NotImplementedError

    def busy_text(self, item: Any) -> str:
        raise NotImplementedError

    def show_result(self, result: Any) -> LastResult:
        raise NotImplementedError

    @Slot()
    def on_run(self) -> None:
        item = self.current_item()
        if item is None or item.name in self.running:
            return
        name = item.name
        cancel = Cancellation()
        self.running.add(name)
        self._cancels[name] = cancel
        self._shown = name
        self._update_buttons()
        text = self.busy_text(item)
        self.result.show_busy(text)

        def done(result: Any) -> None:
            if cancel.cancelled:
                return  # the admin moved on; on_cancel has said so
            self._finished(name)
            last = self.show_result(result)
            self.model.set_result(name, last)
            self._update_buttons()
            if item.config_id is not None:
                self.token_used.emit(int(item.config_id))

        def failed(exc: BaseException) -> None:
            if cancel.cancelled:
                return
            self._finished(name)
            self._update_buttons()
            logger.error("%s %s failed: %s", self.KIND, name, type(exc).__name__)
            self.result.show_error(f"{name}: {exc}", "Reload the list; if it persists, see tokendesk -v.")
            self.model.set_result(name, LastResult(False, "failed", format_local(utcnow())))

        self.tasks.run(self.run_item, name, cancel, on_done=done, on_error=failed, busy_text=text)

    def _finished(self, name: str) -> None:
        self.running.discard(name)
        self._cancels.pop(name, None)
        if self._shown == name:
            self._shown = None

    @Slot()
    def on_cancel(self) -> None:
        """Stop the run the result panel shows: close its connection, drop its late result, say so."""
        name = self._shown
        if name is None or name not in self.running:
            return
        cancel = self._cancels.get(name)
        self._finished(name)
        if cancel is not None:
            cancel.cancel()
        self.result.show_error(f"{name}: cancelled.", f"Nothing was changed. Press {self.RUN_LABEL.replace('&', '')} "
                                                      "again when you are ready.")
        self.model.set_result(name, LastResult(False, "cancelled", format_local(utcnow())))
        self._update_buttons()


class MailAccountsView(_UsageView):
    KIND = "mail account"
    RUN_LABEL = "&Test connection"
    RUN_TIP = "Sign in with a fresh token and run a follow-up command (IMAP: INBOX count, POP3: STAT, SMTP: NOOP)"
    EMPTY_TEXT = ("No mail accounts yet. Add one (Insert) to check that a token really opens a mailbox: "
                  "IMAP, POP3 or SMTP with XOAUTH2 or OAUTHBEARER.")

    def __init__(self, service: UsageService, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(service, tasks, MailAccountsModel(), parent)
        self.setObjectName("mailAccountsView")

    def load_items(self) -> list[Any]:
        return self.service.repo.list_mail_accounts()

    def make_dialog(self, item: Any) -> MailAccountDialog:
        from desktop.ui.usage.mail_account_dialog import MailAccountDialog  # on first use: lean start-up

        return MailAccountDialog(self.service, item, self)

    def delete_item(self, name: str) -> None:
        self.service.repo.delete_mail_account(name)

    def run_item(self, name: str, cancel: Cancellation) -> Any:
        return self.service.test_mail_account(name, cancel)

    def busy_text(self, item: Any) -> str:
        return f"Testing \u201c{item.name}\u201d: {item.describe()} \u2026"

    def show_result(self, result: Any) -> LastResult:
        self.result.show_connection(result)
        return LastResult(result.ok, result.table_text(), format_local(utcnow()))


class InvokersView(_UsageView):
    KIND = "web service"
    RUN_LABEL = "&Invoke"
    RUN_TIP = "Send the request with a fresh token and show status, headers and body"
    EMPTY_TEXT = ("No web services yet. Add one (Insert): a URL and headers in which <OTRS_OAUTH2_TOKEN> "
                  "stands for a fresh access token.")

    def __init__(self, service: UsageService, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(service, tasks, InvokersModel(), parent)
        self.setObjectName("invokersView")

    def load_items(self) -> list[Any]:
        return self.service.repo.list_invokers()

    def make_dialog(self, item: Any) -> InvokerDialog:
        from desktop.ui.usage.invoker_dialog import InvokerDialog  # on first use: lean start-up

        return InvokerDialog(self.service, item, self)

    def delete_item(self, name: str) -> None:
        self.service.repo.delete_invoker(name)

    def run_item(self, name: str, cancel: Cancellation) -> Any:
        return self.service.invoke(name)  # httpx cannot be interrupted: a cancelled request ends at its time-out

    def busy_text(self, item: Any) -> str:
        return f"Invoking \u201c{item.name}\u201d: {item.method} {item.url} \u2026"

    def show_result(self, result: Any) -> LastResult:
        self.result.show_invoke(result)
        return LastResult(result.ok, result.table_text(), format_local(utcnow()))
