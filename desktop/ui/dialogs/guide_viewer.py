"""A guide of the installed documentation (Help menu), rendered from its Markdown: pictures beside it are shown,
links open in the browser, Esc closes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from desktop.models.tones import style


class GuideViewer(QDialog):
    def __init__(self, title: str, markdown: str, source: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("GuideViewer")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setObjectName("guideText")
        self.browser.setOpenExternalLinks(True)
        # README pictures are relative to the file (docs/screenshots/...)
        self.browser.setSearchPaths([str(source.parent)])
        self.browser.setMarkdown(markdown)
        layout.addWidget(self.browser, 1)
        self.source = QLabel(f"From {source}")
        self.source.setStyleSheet(style("muted"))
        self.source.setWordWrap(True)
        layout.addWidget(self.source)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(820, 640)
        self.browser.setFocus()
