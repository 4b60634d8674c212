"""Add or edit a mail account: live validation, default ports per protocol, valid configurations only."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

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
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.models.validation import FieldError
from desktop.usage.accounts import (
    MECHANISMS,
    PROTOCOLS,
    MailAccount,
    plaintext_warning,
    protocol_spec,
    validate_mail_account,
)
from desktop.usage.repository import UsageValidationFailed

if TYPE_CHECKING:
    from desktop.usage.service import UsageService

ERROR_STYLE = "color:#a4000f;"
WARNING_STYLE = "background:#fff4ce; border:1px solid #e0c060; color:#4a3b00; padding:4px; border-radius:3px;"


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


class MailAccountDialog(QDialog):
    """``saved`` holds the stored account after Save."""

    def __init__(self, service: UsageService, account: MailAccount | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self.original = account
        self.saved: MailAccount | None = None
        self.setObjectName("MailAccountDialog")
        self.setWindowTitle("Edit mail account" if account else "Add mail account")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Support IMAP")
        form.addRow("&Name:", self.name)
        self.protocol = QComboBox()
        for spec in PROTOCOLS:
            self.protocol.addItem(spec.label, spec.key)
        form.addRow("&Protocol:", self.protocol)
        self.host = QLineEdit()
        self.host.setPlaceholderText("e.g. outlook.office365.com")
        form.addRow("&Host:", self.host)
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setToolTip("0 uses the protocol's default port")
        form.addRow("P&ort:", self.port)
        self.login = QLineEdit()
        self.login.setPlaceholderText("the mailbox user name, usually the e-mail address")
        form.addRow("&Login:", self.login)
        self.config = QComboBox()
        self.config.setToolTip("Only valid token configurations are offered")
        form.addRow("&Token configuration:", self.config)
        self.mechanism = QComboBox()
        self.mechanism.addItems(list(MECHANISMS))
        self.mechanism.setToolTip("XOAUTH2 (Google, Microsoft) or OAUTHBEARER (RFC 7628)")
        form.addRow("&Mechanism:", self.mechanism)
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("empty: the system's trusted CAs")
        form.addRow("&CA file:", ca_file_row(self, self.ca_file, "CA certificate of the mail server"))
        layout.addLayout(form)
        self.warning = QLabel()
        self.warning.setObjectName("plaintextWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.hide()
        layout.addWidget(self.warning)
        self.errors = QLabel()
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet(ERROR_STYLE)
        layout.addWidget(self.errors)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self._fill(account)
        for edit in (self.name, self.host, self.login, self.ca_file):
            edit.textChanged.connect(self.revalidate)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self.port.valueChanged.connect(self.revalidate)
        self.config.currentIndexChanged.connect(self.revalidate)
        self.mechanism.currentIndexChanged.connect(self.revalidate)
        self._protocol_changed()
        self.resize(560, self.sizeHint().height())

    def _fill(self, account: MailAccount | None) -> None:
        keep = account.config_id if account else None
        configs = self.service.eligible_configurations(keep_config_id=keep)
        for cfg in configs:
            label = cfg.name if cfg.is_valid else f"{cfg.name} ({cfg.validity_label})"
            self.config.addItem(label, cfg.name)
        if not configs:
            self.config.addItem("No valid token configuration: add one first", None)
            self.config.setEnabled(False)
        if account is None:
            return
        self.name.setText(account.name)
        self.protocol.setCurrentIndex(max(0, self.protocol.findData(protocol_spec(account.protocol).key)))
        self.host.setText(account.host)
        self.port.setValue(account.port or 0)
        self.login.setText(account.login)
        self.config.setCurrentIndex(max(0, self.config.findData(account.config_name)))
        self.mechanism.setCurrentText(account.mechanism)
        self.ca_file.setText(account.ca_file)

    @Slot()
    def _protocol_changed(self) -> None:
        spec = protocol_spec(self.protocol.currentData())
        self.port.setSpecialValueText(f"default ({spec.default_port})")
        self.revalidate()

    def account(self) -> MailAccount:
        base = self.original
        return MailAccount(
            id=base.id if base else None,
            name=self.name.text(),
            protocol=self.protocol.currentData(),
            host=self.host.text().strip(),
            port=self.port.value() or None,
            login=self.login.text().strip(),
            config_name=self.config.currentData() or "",
            mechanism=self.mechanism.currentText(),
            ca_file=self.ca_file.text().strip(),
        )

    def _existing_names(self) -> set[str]:
        return {a.name for a in self.service.repo.list_mail_accounts()}

    @Slot()
    def revalidate(self) -> list[FieldError]:
        account = self.account()
        errors = validate_mail_account(account, existing_names=self._existing_names(),
                                       own_name=self.original.name if self.original else None)
        self._show_errors(errors)
        warning = plaintext_warning(account) if account.host else ""
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        return errors

    def _show_errors(self, errors: list[FieldError]) -> None:
        # fields still empty in a new account are not errors yet, just not done
        shown = [e for e in errors if not (e.message.startswith("is required") and self.original is None)]
        self.errors.setText("<br>".join(f"<b>{_esc(e.field)}</b>: {_esc(e.message)}" for e in shown))
        self.errors.setVisible(bool(shown))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not errors)

    @Slot()
    def save(self) -> None:
        if self.revalidate():
            return
        account = self.account()
        try:
            if self.original is None:
                self.saved = self.service.repo.add_mail_account(account)
            else:
                self.saved = self.service.repo.update_mail_account(account)
        except UsageValidationFailed as exc:
            self._show_errors(exc.errors)
            return
        self.accept()
