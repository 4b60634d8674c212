"""Parts of the token Add/Edit dialog (``token_dialog.py``): a form row with its error line, the redirect URI
the sign-in will use (read-only, with Copy), the token refresh endpoint that follows the token endpoint until
the admin types one of their own, and the dialog's opening size (its content on the screen's free area)."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from desktop.models.config import BROWSER_SYSTEM, TokenConfiguration
from desktop.models.tones import style


class Field:
    """A form row: the editor plus an error line under it (shown once the field was touched) and a warning
    line (shown at once; a warning never blocks Save)."""

    def __init__(self, key: str, editor: QWidget) -> None:
        self.key = key
        self.editor = editor
        editor.setMinimumHeight(editor.sizeHint().height())  # a short screen scrolls the form, never squeezes a field
        self.error = QLabel()
        self.error.setStyleSheet(style("error"))
        self.error.setWordWrap(True)
        self.error.hide()
        self.warning = QLabel()
        self.warning.setStyleSheet(style("warn"))
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.container = QWidget()
        box = QVBoxLayout(self.container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(editor)
        box.addWidget(self.error)
        box.addWidget(self.warning)
        self.touched = False

    def show_error(self, message: str | None) -> None:
        if message and self.touched:
            self.error.setText(message)
            self.error.show()
        else:
            self.error.hide()

    def show_warning(self, message: str | None) -> None:
        self.warning.setText(message or "")
        self.warning.setVisible(bool(message))


def sign_in_redirect(cfg: TokenConfiguration, default_uri: str) -> tuple[str, str]:
    """The redirect URI a sign-in of ``cfg`` will send (as ``desktop.oauth.flow`` builds it) and a line on what
    to register: the embedded browser uses the override or the settings' URI; the system browser a loopback
    address on a port picked at each sign-in."""
    from desktop.oauth.errors import TokenError
    from desktop.oauth.flow import loopback_redirect_uri

    if cfg.browser_mode != BROWSER_SYSTEM:
        return (cfg.redirect_url_override or default_uri,
                "Register this redirect URI with the provider exactly as shown (the sign-in page returns there).")
    probe = cfg.copy()
    probe.redirect_url_override = cfg.redirect_url_override or default_uri
    try:
        # "<port>": the loopback listener takes a free port at each sign-in (RFC 8252 7.3)
        uri = loopback_redirect_uri(probe, {}, "<port>")  # type: ignore[arg-type]
    except TokenError as exc:
        return "", str(exc)
    return uri, ("Sign-in in the system browser: the port is picked at each sign-in. Register the address "
                 "without the port if the provider asks (a Google 'Desktop app' client needs nothing).")


class RedirectRow(QWidget):
    """The redirect URI as a read-only field that can be selected, a Copy button, and what to register."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setReadOnly(True)
        self.edit.setObjectName("redirectUri")
        self.edit.setAccessibleName("Redirect URI")
        self.copy_button = QPushButton("Cop&y")
        self.copy_button.setAutoDefault(False)  # Enter in the dialog saves, it does not copy
        self.copy_button.setToolTip("Copy the redirect URI to the clipboard, to paste it into the provider's console")
        self.copy_button.clicked.connect(self.copy)
        row.addWidget(self.edit, 1)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(style("muted"))
        layout.addWidget(self.note)

    def show_uri(self, uri: str, note: str) -> None:
        self.edit.setText(uri)
        self.edit.setCursorPosition(0)
        self.copy_button.setEnabled(bool(uri))
        self.note.setText(note)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.edit.text())
        self.note.setText("Copied to the clipboard: " + self.edit.text())


class RefreshFollowsToken:
    """The token refresh endpoint is almost always the token endpoint: it takes over what is typed there while
    it is empty or equal to it, until the admin types a refresh endpoint of their own."""

    def __init__(self, token_edit: QLineEdit, refresh_edit: QLineEdit) -> None:
        self.token_edit, self.refresh_edit = token_edit, refresh_edit
        self.follows = False
        self.reset()
        token_edit.textChanged.connect(self._on_token)
        refresh_edit.textEdited.connect(self._on_refresh_typed)  # typed only: setText does not count

    def reset(self) -> None:
        refresh = self.refresh_edit.text().strip()
        self.follows = not refresh or refresh == self.token_edit.text().strip()

    def _on_token(self, text: str) -> None:
        if self.follows:
            self.refresh_edit.setText(text)

    def _on_refresh_typed(self, text: str) -> None:
        self.follows = not text.strip()


def open_size(dialog: QWidget, scroll: QScrollArea, available: QRect | None = None) -> QSize:
    """The size that shows the whole form without scroll bars, within the screen's free area (``available``,
    else the screen the dialog is on); on a smaller screen the form scrolls."""
    if available is None:
        screen = dialog.screen() or QGuiApplication.primaryScreen()
        available = screen.availableGeometry()
    body = scroll.widget()
    body.adjustSize()
    content = body.sizeHint()
    chrome = dialog.sizeHint() - scroll.sizeHint()  # what is around the scroll area: margins, buttons
    bar = scroll.verticalScrollBar().sizeHint().width()
    layout = body.layout()
    if layout.hasHeightForWidth():  # wrapped lines (help text, notes) at the width the body will have
        content.setHeight(max(content.height(), layout.totalHeightForWidth(content.width())))
    wanted = QSize(content.width() + chrome.width() + bar, content.height() + chrome.height() + 24)
    frame = 40  # the window manager's title bar and borders
    return wanted.boundedTo(QSize(available.width() - 16, available.height() - frame))


def set_tab_chain(window: QWidget, widgets: list[QWidget]) -> None:
    """Tab visits ``widgets`` in this order (the reading order: a widget moved into a group box or a row
    container after it was made would otherwise come last). Widgets not laid out in ``window`` are left out."""
    chain = [w for w in widgets if w.window() is window]
    for first, second in pairwise(chain):
        QWidget.setTabOrder(first, second)


def keep_rows_apart(scroll: QScrollArea) -> None:
    """Give the form the height its wrapped lines need at its width. A scroll area sizes its widget from the
    minimum size, which leaves out word-wrapped labels (height for width): an error line shown under a field
    was drawn over the next row instead of pushing it down (or the form scrolling)."""
    if not scroll.isVisible():
        return  # not laid out yet: no width to measure at (open_size sizes the dialog from the size hint)
    body = scroll.widget()
    layout = body.layout()
    layout.activate()
    width = scroll.viewport().width()
    height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalSizeHint().height()
    body.setMinimumHeight(height)
