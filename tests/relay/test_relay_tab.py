"""The Relay tab without servers (fast lane): built when first shown, start and stop on a free loopback port, a bad
address explained, a device another process added shows up after the window's reload, Remove asks first."""

from __future__ import annotations

import smtplib

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.relay.devices import DeviceRepository
from desktop.ui.tasks import InlineTaskRunner
from desktop.usage.accounts import MailAccount
from desktop.usage.repository import UsageRepository
from tests.servers.dovecot import free_ports
from tests.support.window import window_features


@pytest.fixture
def app(qapp, ctx, make_config):
    from desktop.app import Application

    cfg = make_config("Office 365")
    UsageRepository(ctx.store).add_mail_account(MailAccount(name="Printer mail", protocol="SMTP",
                                                            host="smtp.office365.com", login="printer@example.org",
                                                            config_id=cfg.id))
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.relay"))
    application.window.show()
    yield application
    application.features["relay"].stop_now()
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


def test_the_tab_is_built_when_first_shown_and_starts_and_stops_the_relay(app, ctx):
    feature = app.features["relay"]
    assert feature._view is None
    app.window.show_tab(feature.tab)
    view = feature.view
    port = free_ports(1)[0]
    view.listen.setText(f"127.0.0.1:{port}")
    view.start_button.click()
    assert feature.server is not None and feature.server.running
    assert f"on 127.0.0.1:{port} (this machine only)" in view.state.text()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("auth") and "PLAIN" in client.esmtp_features["auth"]
        code, _ = client.mail("printer@example.org")
        assert code == 530  # no AUTH, no mail
    view.stop_button.click()
    assert feature.server is None and "Stopped." in view.state.text() and not view.fingerprint.isVisible()


def test_a_bad_listen_address_is_explained_in_the_tab(app):
    feature = app.features["relay"]
    view = feature.view
    view.listen.setText("127.0.0.1")
    view.start_button.click()
    assert feature.server is None and "has no port: write ADDRESS:PORT" in view.state.text()


def test_a_device_added_elsewhere_appears_and_remove_asks_first(app, ctx, monkeypatch):
    feature = app.features["relay"]
    view = feature.view
    assert view.devices.rowCount() == 0
    DeviceRepository(ctx.store).add("scanner", "Printer mail")  # as 'tokendesk relay device add' would
    app.window.reloaded.emit()  # what the window does when another process changed the database
    feature._redraw.timeout.emit()
    assert view.devices.rowCount() == 1 and view.devices.item(0, 3).text() == "printer@example.org"
    view.devices.selectRow(0)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    view.remove_button.click()
    assert view.devices.rowCount() == 1
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    view.remove_button.click()
    assert view.devices.rowCount() == 0 and DeviceRepository(ctx.store).list() == []


def test_on_a_network_address_the_tab_shows_the_certificate_fingerprint(app, ctx, tmp_path, qapp):
    import os
    from pathlib import Path

    from desktop.relay.tls import fingerprint_of, relay_dir

    feature = app.features["relay"]
    app.window.resize(1280, 600)
    app.window.show_tab(feature.tab)
    view = feature.view
    DeviceRepository(ctx.store).add("hall-printer", "Printer mail", ["scans@example.org"])
    port = free_ports(1)[0]
    view.listen.setText(f"0.0.0.0:{port}")
    view.start_button.click()
    assert feature.server is not None and feature.server.tls
    assert f"on 0.0.0.0:{port} (STARTTLS required before AUTH)" in view.state.text()
    assert view.fingerprint.isVisible()
    fingerprint = fingerprint_of(relay_dir() / "relay-cert.pem")
    assert view.fingerprint.text().endswith(f"fingerprint (tell the devices): {fingerprint}")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
    target = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS")
              else tmp_path)
    qapp.processEvents()
    assert app.window.grab().save(str(target / "relay-tab-starttls.png"))
