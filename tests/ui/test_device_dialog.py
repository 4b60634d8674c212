"""The device sign-in dialog without a server (issue 12): the QR code is segno's symbol pixel for pixel, the countdown
counts down and turns to "expired", a failure replaces the code with what happened and what to do."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PySide6.QtGui import QColor, QImage

from desktop.oauth.grant_drivers.device import DeviceAuthorization
from desktop.ui.dialogs.device_dialog import DeviceCodeDialog, countdown_text, qr_pixmap

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _auth(seconds: int = 600) -> DeviceAuthorization:
    return DeviceAuthorization(config_id=1, config_name="Mailbox", user_code="WDJB-MJHT",
                               verification_uri="https://example.com/device",
                               verification_uri_complete="https://example.com/device?user_code=WDJB-MJHT",
                               expires_at=NOW + timedelta(seconds=seconds), interval=5.0, device_code="secret-dc")


def test_the_qr_code_is_segnos_symbol(qapp):
    import segno

    text = "https://example.com/device?user_code=WDJB-MJHT"
    mine = qr_pixmap(text, module=3).toImage().convertToFormat(QImage.Format.Format_RGB32)
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=3, border=4)
    theirs = QImage.fromData(buffer.getvalue()).convertToFormat(QImage.Format.Format_RGB32)
    assert mine.size() == theirs.size()
    differing = sum(QColor(mine.pixel(x, y)).lightness() // 128 != QColor(theirs.pixel(x, y)).lightness() // 128
                    for x in range(mine.width()) for y in range(mine.height()))
    assert differing == 0


def test_countdown_and_failure(qtbot):
    now = [NOW]
    dialog = DeviceCodeDialog(_auth(90), clock=lambda: now[0])
    qtbot.addWidget(dialog)
    assert dialog.countdown_label.text() == "The code is valid for 1:30 more."
    now[0] += timedelta(seconds=95)
    dialog.tick()
    assert dialog.countdown_label.text() == "The code has expired."
    assert countdown_text(61) == "The code is valid for 1:01 more."
    assert "secret-dc" not in repr(dialog.auth)
    dialog.show_failure("The code expired before the sign-in was finished; nothing was stored.", "Start again.")
    assert dialog.status_label.text() == ("The code expired before the sign-in was finished; nothing was stored."
                                          "\n\nStart again.")
    assert dialog.cancel_button.text() == "Close" and not dialog.qr_label.isVisible()
    with qtbot.assertNotEmitted(dialog.cancel_requested):
        dialog.reject()  # closing after the end cancels nothing


def test_cancel_while_waiting_asks_to_stop(qtbot):
    dialog = DeviceCodeDialog(_auth(), clock=lambda: NOW)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.cancel_requested, timeout=1000):
        dialog.cancel_button.click()
