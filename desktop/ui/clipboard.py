"""A secret on the clipboard: marked so clipboard managers keep no copy, taken off again after a while, and taken off
when Tokendesk quits. Used for the access token (Token > Copy access token) and a new relay device's password."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QTimer
from PySide6.QtGui import QGuiApplication

#: tells clipboard managers (KDE Klipper, others that honour it) not to keep the value in their history
PASSWORD_MANAGER_HINT = "x-kde-passwordManagerHint"


def copy_secret_to_clipboard(value: str, clear_after_s: float) -> None:
    """Put ``value`` on the clipboard, marked as a secret, and take it off again after ``clear_after_s``
    unless something else was copied meanwhile."""
    clipboard = QGuiApplication.clipboard()
    data = QMimeData()
    data.setText(value)
    data.setData(PASSWORD_MANAGER_HINT, QByteArray(b"secret"))
    clipboard.setMimeData(data)

    def clear() -> None:
        if clipboard.text() == value:
            clipboard.clear()

    QTimer.singleShot(int(clear_after_s * 1000), clear)
    app = QGuiApplication.instance()
    if not app.property("tokendesk_clears_secrets_at_quit"):  # once per application, holding no copied value
        app.setProperty("tokendesk_clears_secrets_at_quit", True)
        app.aboutToQuit.connect(_clear_secret_at_quit)


def _clear_secret_at_quit() -> None:
    """A secret still on the clipboard goes at quit: besides not outliving the window, mime data left there when the
    application is torn down crashed the process on its way out (PySide6, exit 139)."""
    clipboard = QGuiApplication.clipboard()
    data = clipboard.mimeData()
    if data is not None and data.hasFormat(PASSWORD_MANAGER_HINT):
        clipboard.clear()
