"""The filter box at the right end of the toolbar, following the tab that is shown.

Each tab that can be filtered registers its placeholder and what a text does (``MainWindow.set_tab_filter``; the
token table's is the window's own). The box shows the shown tab's placeholder and the text typed on that tab (each
tab keeps its own), and a tab without a filter disables it. Ctrl+F (View > Filter) focuses it on every tab.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLineEdit, QTabWidget

TOKENS_PLACEHOLDER = "Filter by name, template, status ... (Ctrl+F)"
NO_FILTER_PLACEHOLDER = "Nothing to filter on this tab"


class TabFilter(QObject):
    def __init__(self, tabs: QTabWidget, apply_to_tokens: Callable[[str], None]) -> None:
        super().__init__(tabs)
        self.tabs = tabs
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setMinimumWidth(260)
        self.search.setMaximumWidth(380)
        #: tab index -> (placeholder, what a text does); and each tab's text while another is shown
        self._filters: dict[int, tuple[str, Callable[[str], None]]] = {0: (TOKENS_PLACEHOLDER, apply_to_tokens)}
        self._texts: dict[int, str] = {}
        self._tab = 0
        self.search.setPlaceholderText(TOKENS_PLACEHOLDER)
        self.search.textChanged.connect(self._on_text)
        tabs.currentChanged.connect(self._on_tab)

    def add(self, index: int, placeholder: str, apply: Callable[[str], None]) -> None:
        self._filters[index] = (placeholder, apply)
        if index == self.tabs.currentIndex():
            self._on_tab(index)

    @Slot(str)
    def _on_text(self, text: str) -> None:
        if text and not self.search.isClearButtonEnabled():
            # its button shows only over a text; making it loads the style's icon (~4 ms before the first paint)
            self.search.setClearButtonEnabled(True)
        entry = self._filters.get(self.tabs.currentIndex())
        if entry is not None:
            entry[1](text)

    @Slot(int)
    def _on_tab(self, index: int) -> None:
        if index != self._tab:
            self._texts[self._tab] = self.search.text()
            self._tab = index
        entry = self._filters.get(index)
        self.search.blockSignals(True)  # the other tab's text is that tab's: it filters nothing here
        self.search.setText(self._texts.get(index, "") if entry is not None else "")
        self.search.blockSignals(False)
        self.search.setPlaceholderText(entry[0] if entry is not None else NO_FILTER_PLACEHOLDER)
        self.search.setEnabled(entry is not None)
