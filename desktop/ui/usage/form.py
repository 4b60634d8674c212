"""What the mail-account and web-service dialogs share: the form, the token configuration combo (valid
configurations only), the CA file row, the error summary, Save/Cancel and saving through the repository."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
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
    browse.setAutoDefault(False)  # Enter saves the dialog, wherever the focus is

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
        self._keyboard_order()

    def _keyboard_order(self) -> None:
        """Tab goes through the fields top to bottom, then Save and Cancel; the dialog opens in the first field.
        (Qt's order is the order in which widgets got this dialog as parent: the CA row, made with it, came
        first and took the focus.)"""
        chain: list[QWidget] = []
        for row in range(self.form.rowCount()):
            item = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            widget = item.widget() if item is not None else None
            if widget is None:
                continue
            if type(widget) is QWidget:  # a row of its own (CA file and Browse): its fields in order
                chain += [w for w in widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
                          if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
            else:
                chain.append(widget)
        chain += [self.buttons.button(b) for b in (QDialogButtonBox.StandardButton.Save,
                                                   QDialogButtonBox.StandardButton.Cancel)]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        if chain:
            chain[0].setFocus()

    def fill_configurations(self) -> None:
        """Offer the valid configurations (and the one the edited item uses, even when invalid), each saying
        whether it has a token; select the edited item's, or for a new item the first one with a token."""
        keep = self.original.config_id if self.original else None
        configs = self.service.eligible_configurations(keep_config_id=keep)
        store = self.service.ctx.store
        first_with_token = -1
        for index, cfg in enumerate(configs):
            state = store.get_state(cfg.id) if cfg.id is not None else None
            has_token = state is not None and (state.has_access_token or state.has_refresh_token)
            name = cfg.name if cfg.is_valid else f"{cfg.name} ({cfg.validity_label})"
            if has_token and state is not None and state.token_info.get("account"):
                label = f"{name} \u2013 token for {state.token_info['account']}"
            else:
                label = f"{name} \u2013 token stored" if has_token else f"{name} \u2013 no token yet"
            self.config.addItem(label, cfg.name)
            self.config.setItemData(index, "has token" if has_token else
                                    "No token yet: select it on the Tokens tab and press Request new token",
                                    Qt.ItemDataRole.ToolTipRole)
            if has_token and first_with_token < 0:
                first_with_token = index
        if not configs:
            self.config.addItem(NO_CONFIGURATION, None)
            self.config.setEnabled(False)
        if self.original is not None:
            self.config.setCurrentIndex(max(0, self.config.findData(self.original.config_name)))
        elif first_with_token >= 0:
            self.config.setCurrentIndex(first_with_token)

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
        # fields still empty in a new item are not errors yet, just not done: say which are left, not in red
        shown = [e for e in errors if not (e.message.startswith("is required") and self.original is None)]
        missing = [e.field for e in errors if e not in shown]
        if shown:
            self.errors.setStyleSheet(error_style())
            self.errors.setText("<br>".join(f"<b>{_esc(e.field)}</b>: {_esc(e.message)}" for e in shown))
        elif missing:
            self.errors.setStyleSheet(style("label"))
            self.errors.setText(f"To save, fill in: {_esc(', '.join(missing))}.")
        self.errors.setVisible(bool(shown or missing))
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(not errors)
        save.setToolTip("" if not errors else "Save is possible once the fields named below are right")

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
