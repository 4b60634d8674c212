"""File > Team store ...: which store is open, the team's members, and the form that connects to a team store.

Widgets only: the dialog says what the admin asked for through its signals and shows what it is told
(``set_members``, ``set_busy``, ``show_error``, ``show_notice``); ``desktop/ui/features/team_store.py`` does the work
on the task runner. The words are the ones of ``tokendesk store ...`` (``desktop/cli/store_commands.py``).

* A team store: the members (name, key fingerprint, access or "waiting for a grant", added by, since; "(you)"),
  Grant access ... (a selected member waiting for a grant), Remove member ..., Refresh, Use the local store.
* The local store: address, database password (masked; a password typed into the address moves there), your member
  name, and Set up new team store / Join team store / Copy this store into a new team store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.models.tones import style
from desktop.store.team import check_member_name
from desktop.ui.widgets import SecretEdit

INIT, JOIN, COPY_TO = "init", "join", "copy-to"
WAITING = "waiting for a grant"
COLUMNS = ("Member", "Key fingerprint", "Access", "Added by", "Since")


def check_address(address: str) -> str:
    """'' when ``address`` is a team store's address, else what is wrong."""
    from desktop.store.pg_url import is_store_url

    if not address.strip():
        return "Enter the team store's address: postgresql://USER@HOST[:PORT]/DATABASE."
    if not is_store_url(address.strip()):
        return (f"'{_cut(address.strip())}' is not a postgresql:// address. The team store's address looks like "
                "postgresql://USER@HOST[:PORT]/DATABASE (ask whoever runs the database).")
    return ""


def _cut(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _since(stamp: str) -> str:
    from desktop.models.status import format_local

    try:
        return format_local(datetime.fromisoformat(stamp))
    except (TypeError, ValueError):
        return stamp or ""


class TeamStoreDialog(QDialog):
    #: (action: init | join | copy-to, address without password, password or '', member name)
    setup_requested = Signal(str, str, str, str)
    grant_requested = Signal(str)
    remove_requested = Signal(str)
    refresh_requested = Signal()
    use_local_requested = Signal()

    def __init__(self, *, team: bool, location: str, member: str, default_member: str, next_start: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TeamStoreDialog")
        self.setWindowTitle("Team store - Tokendesk")
        self.team = team
        self.me = member
        self._members: list[Any] = []
        layout = QVBoxLayout(self)
        self.where = QLabel()
        self.where.setObjectName("openStore")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if team:
            self.where.setText(f"Open now: the team store {location}, as member '{member}'.")
        else:
            self.where.setText(f"Open now: this workstation's local store, {location}.")
        layout.addWidget(self.where)
        self.next_start = QLabel(next_start)
        self.next_start.setObjectName("nextStart")
        self.next_start.setWordWrap(True)
        self.next_start.setStyleSheet(style("warn"))
        self.next_start.setVisible(bool(next_start))
        layout.addWidget(self.next_start)

        self.pages = QStackedWidget()
        self.team_page = self._build_team_page()
        self.local_page = self._build_local_page(default_member)
        shown, other = (self.team_page, self.local_page) if team else (self.local_page, self.team_page)
        self.pages.addWidget(shown)  # only the page shown: the other would size the dialog
        other.setParent(self)
        other.hide()
        layout.addWidget(self.pages, 1)

        busy_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: no known end
        self.progress.setMaximumWidth(120)
        self.progress.setTextVisible(False)
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyText")
        busy_row.addWidget(self.progress)
        busy_row.addWidget(self.busy_label, 1)
        layout.addLayout(busy_row)
        self.error = QLabel()
        self.error.setObjectName("teamStoreError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(style("error"))
        layout.addWidget(self.error)
        self.notice = QLabel()
        self.notice.setObjectName("teamStoreNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setStyleSheet(style("ok"))
        layout.addWidget(self.notice)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for button in self.findChildren(QPushButton):  # Enter in a field neither closes nor starts anything
            button.setAutoDefault(False)
            button.setDefault(False)
        self.busy = ""
        self.set_busy("")
        self.show_error("")
        self.show_notice("")
        self.resize(820, 480 if team else 300)

    # ---- the team store's page
    def _build_team_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel("Members share the configurations and tokens of this store. A member who joined waits for a "
                       "grant: before you grant access, compare their key fingerprint with them by phone.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("members")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.grant_button = QPushButton("&Grant access ...")
        self.grant_button.setToolTip("Give the selected member, who joined and waits, access to the secrets")
        self.grant_button.clicked.connect(lambda: self._emit_for_selected(self.grant_requested))
        self.remove_button = QPushButton("&Remove member ...")
        self.remove_button.setToolTip("Take the selected member out; the secrets are re-encrypted under a new key")
        self.remove_button.clicked.connect(lambda: self._emit_for_selected(self.remove_requested))
        self.refresh_button = QPushButton("Re&fresh")
        self.refresh_button.setToolTip("Read the members again from the team store")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.local_button = QPushButton("Use the &local store ...")
        self.local_button.setToolTip("Open this workstation's own store again from the next start; the team store "
                                     "is left as it is")
        self.local_button.clicked.connect(self.use_local_requested)
        for button in (self.grant_button, self.remove_button, self.refresh_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.local_button)
        layout.addLayout(row)
        return page

    def set_members(self, members: Sequence[Any]) -> None:
        """Show ``members`` (``desktop.store.team.Member``), keeping the selected one selected."""
        selected = self.selected_member()
        self._members = list(members)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self._members))
        for row, m in enumerate(self._members):
            name = f"{m.name} (you)" if m.name == self.me else m.name
            values = (name, m.fingerprint, "access" if m.has_access else WAITING, m.added_by, _since(m.create_time))
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, m.name)
                if column == 2 and not m.has_access:
                    item.setForeground(self.palette().placeholderText())
                self.table.setItem(row, column, item)
            if m.name == selected:
                self.table.selectRow(row)
        self._update_buttons()

    def member_rows(self) -> list[tuple[str, ...]]:
        """The table as shown, row by row (tests, screen readers' view of it)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]

    def select_member(self, name: str) -> bool:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return True
        return False

    def selected_member(self) -> str:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return ""
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def member(self, name: str) -> Any:
        return next((m for m in self._members if m.name == name), None)

    def _emit_for_selected(self, signal: Any) -> None:
        name = self.selected_member()
        if name:
            signal.emit(name)

    def _update_buttons(self) -> None:
        chosen = self.member(self.selected_member())
        idle = not self.busy
        self.grant_button.setEnabled(idle and chosen is not None and not chosen.has_access)
        self.remove_button.setEnabled(idle and chosen is not None)
        self.refresh_button.setEnabled(idle)
        self.local_button.setEnabled(idle)

    # ---- the local store's page: connect to a team store
    def _build_local_page(self, default_member: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel("Several admins can share configurations and tokens through one PostgreSQL database. Secrets "
                       "stay encrypted end to end: each member's key stays on their workstation.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.address = QLineEdit()
        self.address.setObjectName("address")
        self.address.setPlaceholderText("postgresql://USER@HOST[:PORT]/DATABASE")
        self.address.editingFinished.connect(self._move_password_out_of_address)
        self.password = SecretEdit()
        self.password.edit.setObjectName("databasePassword")
        self.password.setPlaceholderText("empty: ~/.pgpass or what the server allows")
        self.member_name = QLineEdit(default_member)
        self.member_name.setObjectName("memberName")
        self.member_name.setToolTip("How the other members see you in the members list and the history")
        form.addRow("&Address:", self.address)
        form.addRow("Database &password:", self.password)
        form.addRow("Your &member name:", self.member_name)
        layout.addLayout(form)
        hint = QLabel("Set up: a new, empty database becomes the team store and you its first member. Join: you "
                      "register your key; a member then grants you access. Copy: this store's configurations, "
                      "tokens and secrets go into a new team store in one step; the local file stays as it is.")
        hint.setWordWrap(True)
        hint.setStyleSheet(style("muted"))
        layout.addWidget(hint)
        row = QHBoxLayout()
        self.init_button = QPushButton("&Set up new team store")
        self.join_button = QPushButton("&Join team store")
        self.copy_button = QPushButton("&Copy this store into a new team store")
        for button, action in ((self.init_button, INIT), (self.join_button, JOIN), (self.copy_button, COPY_TO)):
            button.clicked.connect(lambda _checked=False, a=action: self.request_setup(a))
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _move_password_out_of_address(self) -> None:
        """A password typed into the address goes into the masked field (never shown, never saved in a file)."""
        from desktop.store.pg_url import is_store_url, split_url

        text = self.address.text().strip()
        if not is_store_url(text):
            return
        try:
            shown, password = split_url(text)
        except ValueError:
            return
        if password is not None:
            self.address.setText(shown)
            if not self.password.text():
                self.password.setText(password)

    def request_setup(self, action: str) -> None:
        """Check the form; emit ``setup_requested`` when it is complete, else say what is missing."""
        self._move_password_out_of_address()
        address = self.address.text().strip()
        problem = check_address(address)
        if not problem:
            try:
                from desktop.store.pg_url import split_url

                address = split_url(address)[0]
            except ValueError as exc:
                problem = f"The address cannot be read ({exc}); check its port and spelling."
        focus: QWidget = self.address
        if not problem:
            problem = check_member_name(self.member_name.text())
            focus = self.member_name
        if problem:
            self.show_notice("")
            self.show_error(problem)
            focus.setFocus()
            return
        self.show_error("")
        self.setup_requested.emit(action, address, self.password.text(), self.member_name.text().strip())

    # ---- shared
    def set_busy(self, text: str) -> None:
        """``text``: what runs now ('' when idle); the buttons wait meanwhile."""
        self.busy = text
        self.progress.setVisible(bool(text))
        self.busy_label.setText(text)
        self.busy_label.setVisible(bool(text))
        for button in (self.init_button, self.join_button, self.copy_button):
            button.setEnabled(not text)
        self._update_buttons()

    def show_error(self, text: str) -> None:
        self._show(self.error, text)

    def show_notice(self, text: str) -> None:
        self._show(self.notice, text)

    def show_next_start(self, text: str) -> None:
        self._show(self.next_start, text)

    def _show(self, label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(bool(text))
        if text:  # grow rather than squeeze the form
            layout = self.layout()
            layout.activate()
            wanted = layout.heightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
            if wanted > self.height():
                self.resize(self.width(), wanted)
