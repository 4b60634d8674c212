"""Add or edit a web-service invoker: method, URL, headers with <OTRS_OAUTH2_TOKEN>, body, configuration."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from desktop.models.validation import FieldError
from desktop.ui.usage.form import UsageItemDialog
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

if TYPE_CHECKING:
    from desktop.usage.service import UsageService


class InvokerDialog(UsageItemDialog):
    """``saved`` holds the stored invoker after Save."""

    saved: WebInvoker | None

    def __init__(self, service: UsageService, invoker: WebInvoker | None = None, parent: QWidget | None = None):
        super().__init__(service, invoker, parent, object_name="InvokerDialog",
                         title="Edit web service" if invoker else "Add web service")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        form = self.form
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
        self.add_config_row()
        self.add_ca_file_row("CA certificate of the web service")
        self.finish_layout()

        self._fill(invoker)
        self.revalidate_on(self.name, self.url, self.ca_file, self.headers, self.body, self.method, self.config)
        self.revalidate()
        self.resize(620, self.sizeHint().height())

    def _fill(self, invoker: WebInvoker | None) -> None:
        self.fill_configurations()
        if invoker is None:
            self.headers.setPlainText(format_header_lines(list(DEFAULT_HEADERS)))
            return
        self.name.setText(invoker.name)
        self.method.setCurrentText(invoker.method)
        self.url.setText(invoker.url)
        self.headers.setPlainText(format_header_lines(invoker.headers))
        self.body.setPlainText(invoker.body)
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

    def item(self) -> WebInvoker:
        return self.invoker()

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

    def store(self, item: WebInvoker) -> WebInvoker:
        if self.original is None:
            return self.service.repo.add_invoker(item)
        return self.service.repo.update_invoker(item)
