"""The Relay tab in the real window (offscreen): built when first shown, a device added through its dialog (the
password masked), the relay started and stopped from the tab, messages from smtplib through the real SMTP server
shown in the log with counts, an upstream failure with its hint. ``TOKENDESK_SCREENSHOTS=1`` writes the pictures
to docs/screenshots/."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QPushButton

from desktop.relay.devices import DeviceRepository, verify_password
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner
from tests.relay.conftest import ACCOUNT
from tests.servers.dovecot import MAIL_USER, free_ports
from tests.support.window import window_features

pytestmark = pytest.mark.realserver
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(widget, name: str, tmp_path: Path) -> Path:
    target = SCREENSHOTS if os.environ.get("TOKENDESK_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    assert widget.grab().save(str(path))
    return path


@pytest.fixture
def app(qapp, ctx):
    from desktop.app import Application

    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.usage", "desktop.ui.features.relay"))
    application.window.resize(1280, 760)
    application.window.show()
    yield application
    application.features["relay"].stop_now()
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


def message(subject: str, to: str = "archive@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = MAIL_USER, to, subject
    msg.set_content("scanned page\n" * 2000)
    return msg


def test_the_relay_tab_runs_the_relay_and_shows_devices_log_and_errors(app, ctx, forwarded_account, forwarder, smtp,
                                                                        qtbot, monkeypatch, tmp_path):
    from desktop.ui import relay_view

    forwarded_account()
    feature = app.features["relay"]
    assert feature._view is None  # nothing built before the tab is first shown
    app.window.action(MainAction.SHOW_RELAY).trigger()  # View > Relay, Ctrl+4
    view = feature.view
    assert app.window.tabs.currentIndex() == feature.tab and view.isVisible()
    assert "Stopped." in view.state.text() and view.listen.text() == "127.0.0.1:2525"
    assert not view.stop_button.isEnabled() and not view.remove_button.isEnabled()

    # Add device: the dialog, then the password once, masked until Show
    shown: dict[str, object] = {}

    def fill_and_accept(dialog) -> int:
        if "add" in shown:
            return 0
        dialog.name.setText("hall-printer")
        assert dialog.account.itemData(0) == ACCOUNT and dialog.account.count() == 1
        dialog.aliases.setText("scans@example.test")
        shown["add"] = shot(dialog, "relay-add-device.png", tmp_path)
        return 1

    def look_at_password(dialog) -> int:
        field = dialog.findChild(QLineEdit, "relayPassword")
        assert field.echoMode() == QLineEdit.EchoMode.Password
        shown["password"] = field.text()
        copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "&Copy")
        copy.click()
        mime = QGuiApplication.clipboard().mimeData()
        assert mime.text() == field.text() and mime.hasFormat("x-kde-passwordManagerHint")
        qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == "", timeout=5000)  # taken off again
        shot(dialog, "relay-device-password.png", tmp_path)
        return 0

    monkeypatch.setattr(relay_view, "PASSWORD_CLIPBOARD_SECONDS", 0.3)
    monkeypatch.setattr(relay_view.AddDeviceDialog, "exec", fill_and_accept)
    monkeypatch.setattr(relay_view.PasswordDialog, "exec", look_at_password)
    view.add_button.click()
    password = str(shown["password"])
    device = DeviceRepository(ctx.store).get("hall-printer")
    assert verify_password(password, device.password_hash) and device.senders == [MAIL_USER, "scans@example.test"]
    assert view.devices.rowCount() == 1 and view.devices.item(0, 0).text() == "hall-printer"

    # Start on the address typed; messages go through; the tab follows
    port = free_ports(1)[0]
    view.listen.setText(f"127.0.0.1:{port}")
    view.start_button.click()
    assert feature.server is not None and feature.server.running
    assert ctx.store.get_setting("relay.listen") == f"127.0.0.1:{port}"
    assert view.stop_button.isEnabled() and not view.start_button.isEnabled()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.login("hall-printer", password)
        client.send_message(message("Invoice scan"))
        client.send_message(message("Delivery note", to="office@example.org"))
        forwarder.down()
        with pytest.raises(smtplib.SMTPDataError):
            client.send_message(message("While the upstream is down"))
        forwarder.up()
        client.send_message(message("While the upstream is down"))
    qtbot.waitUntil(lambda: view.log.rowCount() == 4, timeout=10000)
    assert "Running" in view.state.text() and "3 delivered, 1 failed" in view.state.text()
    assert view.devices.item(0, 2).text() == "3 / 1"
    assert [view.log.item(r, 2).text() for r in range(4)] == [MAIL_USER] * 4
    assert view.log.item(1, 5).text().endswith("cannot be reached: [Errno 111] Connection refused")
    assert "What to do:" in view.errors.text() and "could not be reached" in view.errors.text()
    assert smtp.messages and len(smtp.messages) == 3
    view.devices.selectRow(0)
    assert view.remove_button.isEnabled()
    path = shot(app.window, "relay-tab.png", tmp_path)
    assert path.stat().st_size > 10_000

    view.stop_button.click()
    assert feature.server is None and "Stopped." in view.state.text()
    assert view.start_button.isEnabled()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)
