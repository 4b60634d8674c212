"""The token table view: columns, sorting, selection of whole rows, the column chooser, and what is
selected as the table read it (``Selection``: configurations with their token state).

Until the window's first paint the header reads its labels from a ``QStandardItemModel`` of its own, and the view
does not sort: the model's ``headerData`` gets a ``Qt.Orientation`` and its ``sort`` a ``Qt.SortOrder``, and
either builds PySide6's whole ``Qt`` namespace (desktop/qtns.py). The model sorts the first rows itself
(``set_sort_state``); ``after_first_paint`` gives the header the table's model (its sizes, hidden columns and sort
arrow kept) and turns the view's sorting on. The first frame looks the same: nothing is selected yet."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QItemSelectionModel, QSettings, Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from desktop.models.config import TokenConfiguration
from desktop.models.token_table_model import (
    COL_ACCOUNT,
    COL_NAME,
    COL_REFRESH,
    COL_TEMPLATE,
    COL_TOKEN,
    COL_VALIDITY,
    HEADERS,
    SelectedRow,
    Selection,
    TokenRow,
    TokenTableModel,
)
from desktop.qtns import CUSTOM_CONTEXT_MENU, Qt

COLUMN_WIDTHS = ((COL_NAME, 180), (COL_TEMPLATE, 175), (COL_TOKEN, 280), (COL_REFRESH, 250), (COL_VALIDITY, 90),
                 (COL_ACCOUNT, 200))


class TokenTableView(QTableView):
    #: the model was reset, after the header and the selection followed (what restores a selection connects here, not
    #: to the model's modelReset: the header's reset clears the selection, and it connects anew after the first paint)
    model_reset = Signal()

    def __init__(self, model: TokenTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.setObjectName("tokenTable")
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.hide()  # a header shown while the model is set asks it for its labels and sizes: see the docstring
        self.setModel(model)
        model.modelReset.connect(self.model_reset)
        self._labels: QStandardItemModel | None = QStandardItemModel(0, len(HEADERS), self)
        self._labels.setHorizontalHeaderLabels(list(HEADERS))
        header.setModel(self._labels)
        header.show()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Tab / Shift+Tab leave the table for the next / previous control; the arrow keys move inside it
        self.setTabKeyNavigation(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(26)
        self.setProperty("contextMenuPolicy", CUSTOM_CONTEXT_MENU)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in COLUMN_WIDTHS:
            self.setColumnWidth(col, width)
        # right-click on the header: choose the columns (kept with the header state in ui.ini)
        header.setProperty("contextMenuPolicy", CUSTOM_CONTEXT_MENU)
        header.customContextMenuRequested.connect(self._on_header_menu)

    # ---- ui.ini
    def restore_state(self, settings: QSettings) -> None:
        """The header's sizes, hidden columns and sort arrow, and the order the first rows are sorted in."""
        header = settings.value("table/header")
        if isinstance(header, QByteArray):
            self.horizontalHeader().restoreState(header)
        column, descending = str(settings.value("table/sort", "")).partition(" ")[::2]
        if column.isdigit():
            self._model.set_sort_state(int(column), descending == "descending")

    def save_state(self, settings: QSettings) -> None:
        settings.setValue("table/header", self.horizontalHeader().saveState())
        column, descending = self._model.sort_state
        settings.setValue("table/sort", f"{column} {'descending' if descending else 'ascending'}")

    def after_first_paint(self) -> None:
        """The header reads the table's model from now on (sizes, hidden columns, order and sort arrow kept), and
        the view sorts: by the arrow where ui.ini had one, else by the model's order."""
        if self._labels is None:
            return
        header = self.horizontalHeader()
        state = header.saveState()
        arrow = header.isSortIndicatorShown()
        header.setModel(self._model)
        header.setSelectionModel(self.selectionModel())
        header.restoreState(state)
        self._model.modelReset.disconnect(self.model_reset)  # after the header's reset again
        self._model.modelReset.connect(self.model_reset)
        self._labels.deleteLater()
        self._labels = None
        if not arrow:  # no sort arrow restored: show the model's order
            column, descending = self._model.sort_state
            header.setSortIndicator(column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)  # sorts by the arrow

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
            action = menu.addAction(HEADERS[col])
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
