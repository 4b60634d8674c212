"""Add or edit a web-service invoker: method, URL, headers with <OTRS_OAUTH2_TOKEN>, body, configuration."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.models.validation import FieldError
from desktop.ui.usage.mail_account_dialog import ERROR_STYLE, ca_file_row
from desktop.usage.invokers import (
    DEFAULT_HEADERS,
    METHODS,
    METHODS_WITH_BODY,
    PLACEHOLDER,
    WebInvoker,
    format_header_lines,
    parse_header_lines,
    validate_invoker,
)
from desktop.usage.repository import UsageValidationFailed

if TYPE_CHECKING:
    from desktop.usage.service import UsageService


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


class InvokerDialog(QDialog):
    """``saved`` holds the stored invoker after Save."""

    def __init__(self, service: UsageService, invoker: WebInvoker | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self.original = invoker
        self.saved: WebInvoker | None = None
        self.setObjectName("InvokerDialog")
        self.setWindowTitle("Edit web service" if invoker else "Add web service")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Ticket API")
        form.addRow("&Name:", self.name)
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        form.addRow("&Method:", self.method)
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://api.example.org/v1/tickets")
        form.addRow("&URL:", self.url)
        self.headers = QPlainTextEdit()
        self.headers.setFont(mono)
        self.headers.setPlaceholderText("Name: value, one per line")
        self.headers.setToolTip(f"{PLACEHOLDER} is replaced by a fresh access token when the request is sent")
        self.headers.setFixedHeight(78)
        form.addRow("&Headers:", self.headers)
        hint = QLabel(f"<small>{html.escape(PLACEHOLDER)} is replaced by a fresh access token.</small>")
        form.addRow("", hint)
        self.body = QPlainTextEdit()
        self.body.setFont(mono)
        self.body.setPlaceholderText("optional; JSON is sent as application/json")
        self.body.setFixedHeight(90)
        form.addRow("&Body:", self.body)
        self.config = QComboBox()
        self.config.setToolTip("Only valid token configurations are offered")
        form.addRow("&Token configuration:", self.config)
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("empty: the system's trusted CAs")
        form.addRow("&CA file:", ca_file_row(self, self.ca_file, "CA certificate of the web service"))
        layout.addLayout(form)
        self.errors = QLabel()
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet(ERROR_STYLE)
        layout.addWidget(self.errors)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self._fill(invoker)
        for edit in (self.name, self.url, self.ca_file):
            edit.textChanged.connect(self.revalidate)
        self.headers.textChanged.connect(self.revalidate)
        self.body.textChanged.connect(self.revalidate)
        self.method.currentIndexChanged.connect(self.revalidate)
        self.config.currentIndexChanged.connect(self.revalidate)
        self.revalidate()
        self.resize(620, self.sizeHint().height())

    def _fill(self, invoker: WebInvoker | None) -> None:
        keep = invoker.config_id if invoker else None
        configs = self.service.eligible_configurations(keep_config_id=keep)
        for cfg in configs:
            self.config.addItem(cfg.name if cfg.is_valid else f"{cfg.name} ({cfg.validity_label})", cfg.name)
        if not configs:
            self.config.addItem("No valid token configuration: add one first", None)
            self.config.setEnabled(False)
        if invoker is None:
            self.headers.setPlainText(format_header_lines(list(DEFAULT_HEADERS)))
            return
        self.name.setText(invoker.name)
        self.method.setCurrentText(invoker.method)
        self.url.setText(invoker.url)
        self.headers.setPlainText(format_header_lines(invoker.headers))
        self.body.setPlainText(invoker.body)
        self.config.setCurrentIndex(max(0, self.config.findData(invoker.config_name)))
        self.ca_file.setText(invoker.ca_file)

    def invoker(self) -> WebInvoker:
        """The invoker as typed; ValueError when a header line cannot be read."""
        return WebInvoker(
            id=self.original.id if self.original else None,
            name=self.name.text(),
            method=self.method.currentText(),
            url=self.url.text().strip(),
            headers=parse_header_lines(self.headers.toPlainText()),
            body=self.body.toPlainText(),
            config_name=self.config.currentData() or "",
            ca_file=self.ca_file.text().strip(),
        )

    @Slot()
    def revalidate(self) -> list[FieldError]:
        self.body.setEnabled(self.method.currentText() in METHODS_WITH_BODY or bool(self.body.toPlainText()))
        try:
            invoker = self.invoker()
        except ValueError as exc:
            errors = [FieldError("Headers", str(exc))]
        else:
            names = {i.name for i in self.service.repo.list_invokers()}
            errors = validate_invoker(invoker, existing_names=names,
                                      own_name=self.original.name if self.original else None)
        self._show_errors(errors)
        return errors

    def _show_errors(self, errors: list[FieldError]) -> None:
        shown = [e for e in errors if not (e.message.startswith("is required") and self.original is None)]
        self.errors.setText("<br>".join(f"<b>{_esc(e.field)}</b>: {_esc(e.message)}" for e in shown))
        self.errors.setVisible(bool(shown))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not errors)

    @Slot()
    def save(self) -> None:
        if self.revalidate():
            return
        invoker = self.invoker()
        try:
            if self.original is None:
                self.saved = self.service.repo.add_invoker(invoker)
            else:
                self.saved = self.service.repo.update_invoker(invoker)
        except UsageValidationFailed as exc:
            self._show_errors(exc.errors)
            return
        self.accept()
