"""First step of Add: pick a provider template."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop.models.templates import ProviderTemplate, TemplateCatalog
from desktop.models.tones import style


class TemplatePicker(QDialog):
    def __init__(self, catalog: TemplateCatalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add token configuration - choose a provider template")
        self.setMinimumSize(560, 360)
        layout = QVBoxLayout(self)
        intro = QLabel("Pick the provider of the application you registered. The template fills in its endpoints, "
                       "scopes and notification defaults; you add the client ID and secret next.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        for template in catalog.templates:
            item = QListWidgetItem(f"{template.name}\n    {template.description}")
            item.setData(Qt.ItemDataRole.UserRole, template)
            item.setToolTip(template.help.strip())
            self.list.addItem(item)
        layout.addWidget(self.list, 1)
        # wide enough for the longest description (not wider than the screen's free area)
        widest = max((self.list.fontMetrics().horizontalAdvance(line) for i in range(self.list.count())
                      for line in self.list.item(i).text().splitlines()), default=0)
        screen = (parent.screen() if parent else None) or QGuiApplication.primaryScreen()
        self.resize(min(max(560, widest + 64), screen.availableGeometry().width() - 16), 380)
        if catalog.problems:
            warn = QLabel("Skipped template files: " + "; ".join(catalog.problems))
            warn.setWordWrap(True)
            warn.setStyleSheet(style("warn"))
            layout.addWidget(warn)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Next")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.currentRowChanged.connect(self._update_ok)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._update_ok()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.list.currentItem() is not None)

    def selected_template(self) -> ProviderTemplate | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select(self, name: str) -> bool:
        for row in range(self.list.count()):
            template = self.list.item(row).data(Qt.ItemDataRole.UserRole)
            if template.name == name:
                self.list.setCurrentRow(row)
                return True
        return False
