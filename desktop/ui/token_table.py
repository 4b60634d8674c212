"""The token table view: columns, sorting, selection of whole rows, the column chooser, and what is
selected as the table read it (``Selection``: configurations with their token state)."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Slot
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from desktop.models.config import TokenConfiguration
from desktop.models.token_table_model import (
    COL_ACCOUNT,
    COL_NAME,
    COL_REFRESH,
    COL_TEMPLATE,
    COL_TOKEN,
    COL_VALIDITY,
    SelectedRow,
    Selection,
    TokenRow,
    TokenTableModel,
)

COLUMN_WIDTHS = ((COL_NAME, 180), (COL_TEMPLATE, 175), (COL_TOKEN, 280), (COL_REFRESH, 250), (COL_VALIDITY, 90),
                 (COL_ACCOUNT, 200))


class TokenTableView(QTableView):
    def __init__(self, model: TokenTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.setObjectName("tokenTable")
        self.setModel(model)
        self.setSortingEnabled(True)
        self.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Tab / Shift+Tab leave the table for the next / previous control; the arrow keys move inside it
        self.setTabKeyNavigation(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in COLUMN_WIDTHS:
            self.setColumnWidth(col, width)
        # right-click on the header: choose the columns (kept with the header state in ui.ini)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu)

    # ---- the columns
    def column_menu(self, menu: QMenu | None = None) -> QMenu:
        """Checkable entries for every column but Name (which identifies the row), in ``menu`` (refilled)
        or a new one: the header's context menu and View > Columns."""
        header = self.horizontalHeader()
        if menu is None:
            menu = QMenu(self)
            menu.setObjectName("ColumnMenu")
        menu.clear()
        for col in range(1, self._model.columnCount()):
            action = menu.addAction(str(self._model.headerData(col, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(col))
            action.toggled.connect(lambda shown, c=col: self.setColumnHidden(c, not shown))
        return menu

    @Slot(object)
    def _on_header_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        menu = self.column_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.horizontalHeader().mapToGlobal(pos))

    # ---- the selection
    def selected_rows(self) -> list[TokenRow]:
        rows = (self._model.row_at(r) for r in sorted({i.row() for i in self.selectionModel().selectedRows()}))
        return [r for r in rows if r is not None]

    def selected_configurations(self) -> list[TokenConfiguration]:
        return [r.config for r in self.selected_rows()]

    def read_selection(self) -> Selection:
        """The selected rows as read, and the current one: the only one, else the one with the cursor."""
        selected = tuple(SelectedRow(r.config, r.state) for r in self.selected_rows())
        current = selected[0] if selected else None
        index = self.currentIndex()
        if len(selected) > 1 and index.isValid():
            at = self._model.row_at(index.row())
            current = next((s for s in selected if at is not None and s.config is at.config), current)
        return Selection(selected, current if current is not None and current.config.id is not None else None)

    def select_names(self, names: list[str]) -> None:
        """Select these rows again (after a reload), the first one current."""
        sel = self.selectionModel()
        first = True
        for name in names:
            row = self._model.row_of(name)
            if row < 0:
                continue
            flags = QItemSelectionModel.SelectionFlag.Rows | (
                QItemSelectionModel.SelectionFlag.ClearAndSelect if first else QItemSelectionModel.SelectionFlag.Select
            )
            sel.select(self._model.index(row, 0), flags)
            if first:
                sel.setCurrentIndex(self._model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            first = False

    def select_row(self, row: int) -> None:
        """Make ``row`` the only selected one, current and scrolled to."""
        index = self._model.index(row, 0)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.scrollTo(index)
