"""The result panel under the mail-account and invoker tables: progress, outcome, what to do, transcript.

Everything it shows was redacted by the core (``desktop.usage``) before it got here.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models import tones

if TYPE_CHECKING:  # the protocol clients and httpx load when a test or call runs, not at start-up
    from desktop.usage.connection import ConnectionResult
    from desktop.usage.invoke import InvokeResult


class ResultView(QWidget):
    #: the admin pressed Cancel while a run was shown as busy
    cancel_requested = Signal()

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usageResult")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.title = QLabel(placeholder)
        self.title.setObjectName("resultTitle")
        self.title.setWordWrap(True)
        self.title.setTextFormat(self.title.textFormat().RichText)
        top.addWidget(self.title, 1)
        self.copy_button = QPushButton("Cop&y transcript")
        self.copy_button.setToolTip("Copy what is shown below (the token is already replaced by a marker)")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setObjectName("cancelRun")
        self.cancel_button.setToolTip("Stop waiting for the server (Esc)")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_requested)
        top.addWidget(self.cancel_button)
        top.addWidget(self.copy_button)
        layout.addLayout(top)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.hint = QLabel()
        self.hint.setObjectName("resultHint")
        self.hint.setWordWrap(True)
        self.hint.hide()
        layout.addWidget(self.hint)
        self.text = QPlainTextEdit()
        self.text.setObjectName("resultText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font: QFont = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.text.setFont(font)
        self.text.setAccessibleName("Transcript")
        layout.addWidget(self.text, 1)

    # ---- states
    def show_busy(self, text: str) -> None:
        self.title.setText(html.escape(text, quote=False))
        self.title.setStyleSheet("")
        self.hint.hide()
        self.text.clear()
        self.progress.show()
        self.cancel_button.show()
        self.copy_button.setEnabled(False)

    def _show(self, ok: bool, headline: str, hint: str, body: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        mark = "\u2714" if ok else "\u2716"
        style = tones.style("ok" if ok else "error", " font-weight:600;")
        self.title.setText(f"<span style='{style}'>{mark} {html.escape(headline, quote=False)}</span>")
        if hint:
            self.hint.setText(f"<b>What to do:</b> {html.escape(hint, quote=False)}")
            self.hint.show()
        else:
            self.hint.hide()
        self.text.setPlainText(body)
        self.copy_button.setEnabled(bool(body))

    def show_connection(self, result: ConnectionResult) -> None:
        headline = f"{result.account}: {result.summary} ({result.elapsed_seconds * 1000:.0f} ms)"
        self._show(result.ok, headline, "" if result.ok else result.hint, result.transcript_text())

    def show_invoke(self, result: InvokeResult) -> None:
        headline = f"{result.invoker}: {result.summary}"
        self._show(result.ok, headline, result.hint, result.text())

    def show_error(self, headline: str, detail: str = "") -> None:
        self._show(False, headline, detail, "")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
