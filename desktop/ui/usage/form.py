"""What the mail-account and web-service dialogs share: the form, the token configuration combo (valid
configurations only), the CA file row, the error summary, Save/Cancel and saving through the repository."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.models.tones import style
from desktop.models.validation import FieldError
from desktop.usage.repository import UsageValidationFailed

if TYPE_CHECKING:
    from desktop.usage.service import UsageService

NO_CONFIGURATION = "No valid token configuration: add one first"


def error_style() -> str:
    return style("error")


def ca_file_row(parent: QWidget, edit: QLineEdit, title: str) -> QWidget:
    """A line edit with a Browse button for a PEM file."""
    row = QWidget(parent)
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    browse = QPushButton("&Browse\u2026", row)

    def pick() -> None:
        path, _ = QFileDialog.getOpenFileName(parent, title, edit.text(),
                                              "PEM certificates (*.pem *.crt);;All files (*)")
        if path:
            edit.setText(path)

    browse.clicked.connect(pick)
    layout.addWidget(browse)
    return row


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


class UsageItemDialog(QDialog):
    """Add or edit one item (``original`` None: add); ``saved`` holds the stored item after Save.

    A subclass adds its rows to ``self.form`` (``add_config_row``, ``add_ca_file_row`` for the shared
    ones), calls ``finish_layout`` and ``fill_configurations``, and implements ``item``, ``revalidate``
    and ``store``.
    """

    def __init__(self, service: UsageService, original: Any, parent: QWidget | None, *, object_name: str,
                 title: str) -> None:
        super().__init__(parent)
        self.service = service
        self.original = original
        self.saved: Any = None
        self.setObjectName(object_name)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

    # ---- building
    def add_config_row(self) -> None:
        self.config = QComboBox()
        self.config.setToolTip("Only valid token configurations are offered")
        self.form.addRow("&Token configuration:", self.config)

    def add_ca_file_row(self, title: str) -> None:
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("empty: the system's trusted CAs")
        self.form.addRow("&CA file:", ca_file_row(self, self.ca_file, title))

    def finish_layout(self, *extra: QWidget) -> None:
        """The form, ``extra`` widgets below it, the error summary and Save/Cancel."""
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        for widget in extra:
            layout.addWidget(widget)
        self.errors = QLabel()
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet(error_style())
        layout.addWidget(self.errors)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def fill_configurations(self) -> None:
        """Offer the valid configurations (and the one the edited item uses, even when invalid); select it."""
        keep = self.original.config_id if self.original else None
        configs = self.service.eligible_configurations(keep_config_id=keep)
        for cfg in configs:
            self.config.addItem(cfg.name if cfg.is_valid else f"{cfg.name} ({cfg.validity_label})", cfg.name)
        if not configs:
            self.config.addItem(NO_CONFIGURATION, None)
            self.config.setEnabled(False)
        if self.original is not None:
            self.config.setCurrentIndex(max(0, self.config.findData(self.original.config_name)))

    def revalidate_on(self, *widgets: QWidget) -> None:
        """Validate again whenever one of ``widgets`` changes."""
        for widget in widgets:
            if isinstance(widget, QLineEdit | QPlainTextEdit):
                widget.textChanged.connect(self.revalidate)
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self.revalidate)
            elif isinstance(widget, QSpinBox):
                widget.valueChanged.connect(self.revalidate)
            else:
                raise TypeError(f"no change signal known for {type(widget).__name__}")

    # ---- the subclass's part
    def item(self) -> Any:
        """The item as typed (ValueError when a field cannot be read)."""
        raise NotImplementedError

    def revalidate(self) -> list[FieldError]:
        """Check the fields, show the errors (``_show_errors``) and return them."""
        raise NotImplementedError

    def store(self, item: Any) -> Any:
        """Add (``original`` None) or update ``item`` in the repository; the stored item."""
        raise NotImplementedError

    # ---- errors and saving
    def _show_errors(self, errors: list[FieldError]) -> None:
        # fields still empty in a new item are not errors yet, just not done
        shown = [e for e in errors if not (e.message.startswith("is required") and self.original is None)]
        self.errors.setText("<br>".join(f"<b>{_esc(e.field)}</b>: {_esc(e.message)}" for e in shown))
        self.errors.setVisible(bool(shown))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not errors)

    @Slot()
    def save(self) -> None:
        if self.revalidate():
            return
        try:
            self.saved = self.store(self.item())
        except UsageValidationFailed as exc:
            self._show_errors(exc.errors)
            return
        self.accept()
