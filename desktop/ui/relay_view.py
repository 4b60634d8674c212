"""The Relay tab's widgets: the state line with Start/Stop, the devices, the message log and the last errors; the
Add device dialog and the one-time password dialog (the password masked until "Show" is pressed).

Widgets only: what they show comes from ``RelayView.show_state`` (the feature reads the store and the running
relay), what they do goes out as signals (``start_requested``, ``stop_requested``, ``add_requested``,
``remove_requested``).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.models.tones import tone


def _local(when: datetime) -> str:
    """Today's times as 14:05:09, older ones with their date."""
    local = when.astimezone()
    same_day = local.date() == datetime.now().astimezone().date()
    return local.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M")


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], colours: list[str | None] | None = None) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(" ".join(text.split("\n")))  # a multi-line server answer on one line
            item.setToolTip(text)
            if colours and colours[r]:
                from PySide6.QtGui import QColor

                item.setForeground(QColor(colours[r]))
            table.setItem(r, c, item)
    last = table.columnCount() - 1
    table.resizeColumnsToContents()  # every column as wide as its texts (at most 360 px); the last takes the rest
    for c in range(last):
        table.setColumnWidth(c, min(max(table.columnWidth(c), 90), 360))
    header = table.horizontalHeader()
    header.setStretchLastSection(False)  # set again: the last column fills what the others leave
    header.setStretchLastSection(True)


class RelayView(QWidget):
    start_requested = Signal(str)  # the listen address typed
    stop_requested = Signal()
    add_requested = Signal()
    remove_requested = Signal(str)  # device name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("relayView")
        layout = QVBoxLayout(self)
        intro = QLabel("Scanners, printers and old programs that can send mail only with a user name and password "
                       "log in here as a device; Tokendesk sends their mail through the device's SMTP mail account "
                       "with its OAuth2 token. A message is acknowledged only after the upstream server took it.")
        intro.setWordWrap(True)
        intro.setStyleSheet(f"color: {tone('label')}")
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("&Listen on:"))
        self.listen = QLineEdit()
        self.listen.setObjectName("relayListen")
        self.listen.setMaximumWidth(220)
        self.listen.setToolTip("ADDRESS:PORT. 127.0.0.1 is this machine only; any other address needs STARTTLS "
                               "(a self-signed certificate is made) before devices may log in.")
        row.itemAt(0).widget().setBuddy(self.listen)  # type: ignore[union-attr]
        row.addWidget(self.listen)
        self.start_button = QPushButton("&Start relay")
        self.start_button.setObjectName("relayStart")
        self.start_button.clicked.connect(lambda: self.start_requested.emit(self.listen.text().strip()))
        self.stop_button = QPushButton("S&top relay")
        self.stop_button.setObjectName("relayStop")
        self.stop_button.clicked.connect(self.stop_requested)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.state = QLabel()
        self.state.setObjectName("relayState")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.state)
        self.fingerprint = QLabel()
        self.fingerprint.setObjectName("relayFingerprint")
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint.setToolTip("Devices that check certificates compare this with what the relay shows them")
        self.fingerprint.hide()
        layout.addWidget(self.fingerprint)

        splitter = QSplitter(Qt.Orientation.Vertical)
        devices_box = QGroupBox("Devices")
        devices_layout = QVBoxLayout(devices_box)
        self.devices = _table(["Device (login)", "Mail account", "Sent / failed (24 h)", "May send as"],
                              "relayDevices")
        devices_layout.addWidget(self.devices)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("&Add device ...")
        self.add_button.setObjectName("relayAddDevice")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QPushButton("&Remove device")
        self.remove_button.setObjectName("relayRemoveDevice")
        self.remove_button.clicked.connect(self._on_remove)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        devices_layout.addLayout(buttons)
        QShortcut(QKeySequence.StandardKey.Delete, self.devices, self._on_remove,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.devices.itemSelectionChanged.connect(self._update_buttons)
        splitter.addWidget(devices_box)

        log_box = QGroupBox("Messages (newest first; never their content)")
        log_layout = QVBoxLayout(log_box)
        self.log = _table(["Time", "Device", "Sender", "Recipients", "Size", "Upstream answer"], "relayLog")
        log_layout.addWidget(self.log)
        self.errors = QLabel()
        self.errors.setObjectName("relayErrors")
        self.errors.setWordWrap(True)
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        log_layout.addWidget(self.errors)
        splitter.addWidget(log_box)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout.addWidget(splitter, 1)
        self._running_here = False
        self._update_buttons()

    # ---- what it shows
    def show_state(self, data: dict[str, Any]) -> None:
        """``data``: running_here (bool), address, tls, fingerprint, started (datetime), other (a relay of
        another process: dict or None), listen (the setting), per_hour, devices (dicts), log (LogEntry), errors
        (LogEntry), counts ({device: (sent, failed)}), delivered, failed, problem (text)."""
        self._running_here = bool(data.get("running_here"))
        other = data.get("other")
        if not self.listen.hasFocus() and not self._running_here:
            self.listen.setText(str(data.get("listen", "")))
        per_hour = data.get("per_hour") or 0
        limit = f"at most {per_hour} messages per device and hour" if per_hour else "no rate limit"
        if self._running_here:
            mode = "STARTTLS required before AUTH" if data.get("tls") else "this machine only"
            text = (f"<b style='color:{tone('ok')}'>Running</b> on {html.escape(str(data['address']))} ({mode}) "
                    f"since {_local(data['started'])}: {data.get('delivered', 0)} delivered, "
                    f"{data.get('failed', 0)} failed; {limit}.")
        elif other:
            text = (f"<b style='color:{tone('ok')}'>Running in another process</b> (tokendesk relay serve, process "
                    f"{other.get('pid')}) on {html.escape(str(other.get('listen')))} since "
                    f"{html.escape(str(other.get('started')))}; {limit}.")
        else:
            text = f"<b>Stopped.</b> Devices cannot send until it runs; {limit}."
        if data.get("problem"):
            text += f"<br><span style='color:{tone('error')}'>{html.escape(str(data['problem']))}</span>"
        self.state.setText(text)
        fingerprint = str(data.get("fingerprint") or "") if self._running_here else ""
        self.fingerprint.setText(f"Certificate SHA-256 fingerprint (tell the devices): {fingerprint}")
        self.fingerprint.setVisible(bool(fingerprint))
        self.listen.setEnabled(not self._running_here and not other)
        self.start_button.setEnabled(not self._running_here and not other)
        self.stop_button.setEnabled(self._running_here)
        counts = data.get("counts", {})
        selected = self.selected_device()
        _fill(self.devices, [[d["name"], d["account"] or "(deleted)", "{} / {}".format(*counts.get(d["name"], (0, 0))),
                              ", ".join(d["senders"])] for d in data.get("devices", [])])
        if selected:
            for r in range(self.devices.rowCount()):
                if self.devices.item(r, 0).text() == selected:
                    self.devices.selectRow(r)
        entries = data.get("log", [])
        _fill(self.log, [[_local(e.time), e.device, e.sender, ", ".join(e.recipients), _size(e.size), e.answer]
                         for e in entries], [None if e.ok else tone("error") for e in entries])
        errors = data.get("errors", [])
        if errors:
            items = "".join(f"<li>{html.escape(_local(e.time))} {html.escape(e.device)}: {html.escape(e.answer)}"
                            + (f"<br><b>What to do:</b> {html.escape(e.hint)}" if e.hint else "") + "</li>"
                            for e in errors[:3])
            self.errors.setText(f"<span style='color:{tone('error')}'>Last errors:</span>"
                                f"<ul style='margin:0; padding-left:14px'>{items}</ul>")
        else:
            self.errors.setText(f"<span style='color:{tone('label')}'>No errors.</span>")
        self._update_buttons()

    def selected_device(self) -> str:
        rows = self.devices.selectionModel().selectedRows()
        return self.devices.item(rows[0].row(), 0).text() if rows else ""

    #: the store cannot be written (a team store out of reach): Add device and Remove device are off
    read_only = False

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.add_button.setEnabled(not self.read_only)
        self.remove_button.setEnabled(bool(self.selected_device()) and not self.read_only)

    def _on_remove(self) -> None:
        name = self.selected_device()
        if name and not self.read_only:  # the Delete key too
            self.remove_requested.emit(name)


#: seconds after which a copied device password is taken off the clipboard (time to paste it into the device)
PASSWORD_CLIPBOARD_SECONDS = 120


def _copy_secret(password: str) -> None:
    """On the clipboard marked as a secret (clipboard managers keep no copy), taken off after two minutes."""
    from desktop.ui.clipboard import copy_secret_to_clipboard

    copy_secret_to_clipboard(password, PASSWORD_CLIPBOARD_SECONDS)


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 2**20:.1f} MB"


class AddDeviceDialog(QDialog):
    """Name, the SMTP mail account, extra sender addresses. ``error`` shows a refusal without closing."""

    def __init__(self, accounts: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add relay device - Tokendesk")
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. hall-printer (the device's SMTP login)")
        self.account = QComboBox()
        for name, describe in accounts:
            self.account.addItem(f"{name} \u2013 {describe}", name)
        self.aliases = QLineEdit()
        self.aliases.setPlaceholderText("optional: scans@example.org, ... (the account's own address always works)")
        form.addRow("&Name:", self.name)
        form.addRow("&Mail account:", self.account)
        form.addRow("Also send &as:", self.aliases)
        layout.addLayout(form)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {tone('error')}")
        if not accounts:
            self.error.setText("There is no SMTP mail account yet: add one on the Mail accounts tab (protocol SMTP or "
                               "SMTPS), then add the device.")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            bool(self.name.text().strip()) and self.account.count() > 0)

    def values(self) -> tuple[str, str, list[str]]:
        aliases = [a.strip() for a in self.aliases.text().replace(";", ",").split(",") if a.strip()]
        return self.name.text().strip(), str(self.account.currentData() or ""), aliases


class PasswordDialog(QDialog):
    """The new device's password, once: masked until Show, Copy puts it on the clipboard."""

    def __init__(self, device: str, account: str, senders: list[str], password: str, address: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Device {device} added - Tokendesk")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        text = QLabel(f"Set the device's SMTP settings to: server <b>{html.escape(address)}</b>, user name "
                      f"<b>{html.escape(device)}</b> and this password. It sends through {html.escape(account)} as "
                      f"{html.escape(', '.join(senders))}.<br><br><b>The password is shown only now</b>: Tokendesk "
                      "keeps only a hash of it. Lost, remove the device and add it again.")
        text.setWordWrap(True)
        layout.addWidget(text)
        row = QHBoxLayout()
        self.password = QLineEdit(password)
        self.password.setObjectName("relayPassword")
        self.password.setReadOnly(True)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        row.addWidget(self.password, 1)
        self.show_button = QPushButton("S&how")
        self.show_button.setCheckable(True)
        self.show_button.toggled.connect(lambda on: self.password.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        copy = QPushButton("&Copy")
        copy.clicked.connect(lambda: _copy_secret(password))
        row.addWidget(self.show_button)
        row.addWidget(copy)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
