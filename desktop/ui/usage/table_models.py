"""Qt item models for the "Mail accounts" and "Web services" tabs (thin adapters over the pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from desktop.models.status import format_local
from desktop.models.tones import tone_color
from desktop.usage.accounts import MailAccount, plaintext_refusal, plaintext_warning, protocol_text
from desktop.usage.invokers import WebInvoker
from desktop.usage.runs import LastRun

T = TypeVar("T")


_Index = QModelIndex | QPersistentModelIndex


@dataclass
class LastResult:
    ok: bool
    text: str  # one line for the table ("OK, 3 messages", "failed: ...")
    at: str  # local time of the test


class _ListModel(QAbstractTableModel, Generic[T]):
    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.items: list[T] = []
        #: last test or invocation per name, newer than what the items carry (e.g. a cancel in this window)
        self.results: dict[str, LastResult] = {}

    def set_items(self, items: list[T]) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.results.clear()  # the stored outcomes are current again
        self.endResetModel()

    def result_of(self, item: T) -> LastResult | None:
        name: str = item.name  # type: ignore[attr-defined]
        if name in self.results:
            return self.results[name]
        run: LastRun | None = getattr(item, "last_run", None)
        return None if run is None else LastResult(run.ok, run.text, format_local(run.at))

    def set_result(self, name: str, result: LastResult) -> None:
        self.results[name] = result
        row = self.row_of(name)
        if row >= 0:
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(row, last), self.index(row, last))

    def row_of(self, name: str) -> int:
        key = name.casefold()
        return next((i for i, item in enumerate(self.items) if item.name.casefold() == key), -1)  # type: ignore[attr-defined]

    def item(self, row: int) -> T | None:
        return self.items[row] if 0 <= row < len(self.items) else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def cells(self, item: T) -> list[str]:
        raise NotImplementedError

    def tooltip(self, item: T, column: int) -> str | None:
        """A cell's tooltip (None: its text)."""
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item(index.row()) if index.isValid() else None
        if item is None:
            return None
        last_column = index.column() == len(self.HEADERS) - 1
        result = self.result_of(item) if last_column else None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if last_column:
                if result is None:
                    return "not tested" if role == Qt.ItemDataRole.DisplayRole else "Never tested"
                return result.text if role == Qt.ItemDataRole.DisplayRole else f"{result.text} ({result.at})"
            if role == Qt.ItemDataRole.ToolTipRole:
                tip = self.tooltip(item, index.column())
                if tip is not None:
                    return tip
            return self.cells(item)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and last_column:
            if result is None:
                return QBrush(tone_color("muted"))
            return QBrush(tone_color("ok" if result.ok else "error"))
        if role == Qt.ItemDataRole.UserRole:
            return item
        return None


class MailAccountsModel(_ListModel[MailAccount]):
    HEADERS = ("Name", "Protocol", "Server", "Login", "Token configuration", "Mechanism", "Last test")

    def cells(self, item: MailAccount) -> list[str]:
        return [item.name, protocol_text(item), f"{item.host}:{item.effective_port}", item.login, item.config_name,
                item.mechanism, ""]

    def tooltip(self, item: MailAccount, column: int) -> str | None:
        if column != 1:
            return None
        return plaintext_refusal(item) or plaintext_warning(item) or None


class InvokersModel(_ListModel[WebInvoker]):
    HEADERS = ("Name", "Method", "URL", "Token configuration", "Last call")

    def cells(self, item: WebInvoker) -> list[str]:
        return [item.name, item.method, item.url, item.config_name, ""]
