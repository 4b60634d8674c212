"""Add or edit a mail account: live validation, default ports per protocol, valid configurations only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QSpinBox, QWidget

from desktop.models.validation import FieldError
from desktop.ui.usage.form import UsageItemDialog
from desktop.ui.widgets import BAR_STYLES
from desktop.usage.accounts import (
    MECHANISMS,
    PROTOCOLS,
    MailAccount,
    plaintext_warning,
    protocol_spec,
    validate_mail_account,
)

if TYPE_CHECKING:
    from desktop.usage.service import UsageService

WARNING_STYLE = BAR_STYLES["warning"] + " padding:4px; border-radius:3px;"


class MailAccountDialog(UsageItemDialog):
    """``saved`` holds the stored account after Save."""

    saved: MailAccount | None

    def __init__(self, service: UsageService, account: MailAccount | None = None, parent: QWidget | None = None):
        super().__init__(service, account, parent, object_name="MailAccountDialog",
                         title="Edit mail account" if account else "Add mail account")
        form = self.form
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
        self.add_config_row()
        self.mechanism = QComboBox()
        self.mechanism.addItems(list(MECHANISMS))
        self.mechanism.setToolTip("XOAUTH2 (Google, Microsoft) or OAUTHBEARER (RFC 7628)")
        form.addRow("&Mechanism:", self.mechanism)
        self.add_ca_file_row("CA certificate of the mail server")
        self.warning = QLabel()
        self.warning.setObjectName("plaintextWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.hide()
        self.finish_layout(self.warning)

        self._fill(account)
        self.revalidate_on(self.name, self.host, self.login, self.ca_file, self.port, self.config, self.mechanism)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self._protocol_changed()
        #: the login this dialog filled in from a token (replaced when another configuration is picked)
        self._suggested_login = ""
        if account is None:
            self.config.currentIndexChanged.connect(self._suggest_login)
            self._suggest_login()
        self.resize(560, self.sizeHint().height())

    def _fill(self, account: MailAccount | None) -> None:
        self.fill_configurations()
        if account is None:
            return
        self.name.setText(account.name)
        self.protocol.setCurrentIndex(max(0, self.protocol.findData(protocol_spec(account.protocol).key)))
        self.host.setText(account.host)
        self.port.setValue(account.port or 0)
        self.login.setText(account.login)
        self.mechanism.setCurrentText(account.mechanism)
        self.ca_file.setText(account.ca_file)

    @Slot()
    def _suggest_login(self) -> None:
        """A new account usually logs in as whoever signed in for the token: fill that in, unless typed."""
        current = self.login.text().strip()
        if current and current != self._suggested_login:
            return  # the admin's own choice stays
        account = self.service.signed_in_account(self.config.currentData() or "")
        self.login.setText(account)
        self._suggested_login = account

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

    def item(self) -> MailAccount:
        return self.account()

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

    def store(self, item: MailAccount) -> MailAccount:
        if self.original is None:
            return self.service.repo.add_mail_account(item)
        return self.service.repo.update_mail_account(item)
