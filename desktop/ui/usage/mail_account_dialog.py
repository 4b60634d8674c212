"""Add or edit a mail account: live validation, default ports per protocol, valid configurations only.

An unencrypted protocol (IMAP, POP3) to a host that is not this machine needs the "Allow unencrypted
connection to this host" checkbox: it is enabled only then, off by default, cleared when the host
changes (the choice was for that host), and Save stays disabled with the reason until it is ticked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from desktop.models.validation import FieldError
from desktop.ui.usage.form import UsageItemDialog
from desktop.usage.accounts import (
    ALLOW_PLAINTEXT_LABEL,
    MECHANISMS,
    PROTOCOLS,
    MailAccount,
    is_this_machine,
    needs_plaintext_permission,
    protocol_spec,
    validate_mail_account,
)

if TYPE_CHECKING:
    from desktop.usage.service import UsageService

PLAINTEXT_TIPS = {
    "encrypted": "Not needed: this protocol encrypts the connection.",
    "local": "Not needed: the server is on this machine, the token does not leave it.",
    "needed": "The token travels in clear text to this host: anyone on the network between can read it and use "
              "it until it expires. Tick only if every network between here and the host is trusted.",
}


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
        self.allow_plaintext = QCheckBox(ALLOW_PLAINTEXT_LABEL)
        self.allow_plaintext.setObjectName("allowPlaintext")
        form.addRow("", self.allow_plaintext)
        #: the host the checkbox was ticked for (another host clears it)
        self._allowed_host = ""
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
        self.finish_layout()

        self._fill(account)
        self.revalidate_on(self.name, self.host, self.login, self.ca_file, self.port, self.config, self.mechanism)
        self.host.textChanged.connect(self._host_changed)
        self.allow_plaintext.toggled.connect(self._allow_toggled)
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
        self.allow_plaintext.setChecked(account.allow_plaintext)
        self._allowed_host = account.host if account.allow_plaintext else ""

    @Slot()
    def _suggest_login(self) -> None:
        """A new account usually logs in as whoever signed in for the token: fill that in, unless typed."""
        current = self.login.text().strip()
        if current and current != self._suggested_login:
            return  # the admin's own choice stays
        account = self.service.signed_in_account(self.config.currentData() or "")
        self.login.setText(account)
        self._suggested_login = account

    @Slot(bool)
    def _allow_toggled(self, checked: bool) -> None:
        self._allowed_host = self.host.text().strip() if checked else ""
        self.revalidate()

    @Slot()
    def _host_changed(self) -> None:
        if self.allow_plaintext.isChecked() and self.host.text().strip().casefold() != self._allowed_host.casefold():
            self.allow_plaintext.setChecked(False)  # the choice was for another host

    def _update_plaintext_box(self, account: MailAccount) -> None:
        """Enabled only for an unencrypted protocol to another host; cleared whenever it is not needed."""
        needed = bool(account.host) and needs_plaintext_permission(account)
        if not needed and self.allow_plaintext.isChecked():
            self.allow_plaintext.blockSignals(True)
            self.allow_plaintext.setChecked(False)
            self.allow_plaintext.blockSignals(False)
            self._allowed_host = ""
        self.allow_plaintext.setEnabled(needed)
        kind = "needed" if needed else "local" if not account.encrypted and is_this_machine(account.host) else (
            "encrypted")
        self.allow_plaintext.setToolTip(PLAINTEXT_TIPS[kind])

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
            allow_plaintext=self.allow_plaintext.isChecked(),
        )

    def item(self) -> MailAccount:
        return self.account()

    def _existing_names(self) -> set[str]:
        return {a.name for a in self.service.repo.list_mail_accounts()}

    @Slot()
    def revalidate(self) -> list[FieldError]:
        account = self.account()
        self._update_plaintext_box(account)
        account.allow_plaintext = self.allow_plaintext.isChecked()
        errors = validate_mail_account(account, existing_names=self._existing_names(),
                                       own_name=self.original.name if self.original else None)
        self._show_errors(errors)
        return errors

    def store(self, item: MailAccount) -> MailAccount:
        if self.original is None:
            return self.service.repo.add_mail_account(item)
        return self.service.repo.update_mail_account(item)
