"""Token > History: who did what to one configuration (``desktop.store.history``), newest first, in local time.

A table of time, member, action and detail: sorted by a click on a column's header, filtered by the text typed
above it (any column, case-insensitive), Close. The rows are read on the task runner (``features/history.py``: a
team store may be on the network); until they come the dialog says it is reading, and a failure is said in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
)

from desktop.store.history import HistoryEntry

COLUMNS = ("Time", "Member", "Action", "Detail")
#: what a column sorts by: the time's ISO text (UTC) sorts as the time does
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class HistoryDialog(QDialog):
    def __init__(self, name: str, parent=None) -> None:  # noqa: ANN001 - any QWidget
        super().__init__(parent)
        self.name = name
        self.setWindowTitle(f"History \u2013 {name}")
        self.setObjectName("historyDialog")
        self.entries: list[HistoryEntry] = []
        layout = QVBoxLayout(self)
        self.heading = QLabel(f"Who did what to \u201c{name}\u201d, newest first (times in local time).")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: member, action, detail or time (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        layout.addWidget(self.filter)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)  # every column
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        layout.addWidget(self.table, 1)
        self.status = QLabel("Reading the history ...")
        self.status.setObjectName("historyStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self.on_filter_changed)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.filter.setFocus)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.resize(self.fontMetrics().averageCharWidth() * 140, self.fontMetrics().height() * 26)
        self.table.setFocus()

    # ---- what the feature hands over
    def set_entries(self, entries: Sequence[HistoryEntry]) -> None:
        self.entries = list(entries)
        self.model.setRowCount(0)
        for entry in self.entries:
            detail = entry.detail
            if entry.config_name != self.name:  # renamed since, or an earlier configuration of that name
                detail = f"(as \u2018{entry.config_name}\u2019) {detail}".rstrip()
            cells = [(entry.local_time_text(), f"{entry.time.isoformat()}#{entry.id:012d}"),
                     (entry.member, entry.member.casefold()), (entry.action_words, entry.action_words),
                     (detail, detail.casefold())]
            row = []
            for text, key in cells:
                item = QStandardItem(text)
                item.setData(key, SORT_ROLE)
                item.setToolTip(text)
                row.append(item)
            self.model.appendRow(row)
        self.table.sortByColumn(self.table.horizontalHeader().sortIndicatorSection(),
                                self.table.horizontalHeader().sortIndicatorOrder())
        for column in range(len(COLUMNS) - 1):  # time, member, action whole; the detail takes the rest
            self.table.resizeColumnToContents(column)
        self._show_count()

    def show_failure(self, text: str) -> None:
        self.status.setText(f"The history could not be read: {text}")

    # ---- filtering
    @Slot(str)
    def on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._show_count()

    def _show_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        if total == 0:
            self.status.setText(f"No history for \u201c{self.name}\u201d yet.")
        elif shown == total:
            self.status.setText(f"{total} entr{'y' if total == 1 else 'ies'}.")
        else:
            self.status.setText(f"{shown} of {total} entries match the filter.")

    # ---- for tests: what a person sees
    def visible_rows(self) -> list[list[str]]:
        return [[self.proxy.index(r, c).data() for c in range(len(COLUMNS))] for r in range(self.proxy.rowCount())]
