"""The embedded sign-in: a QWebEngineView on a fresh off-the-record profile.

The dialog loads the authorization URL (state + PKCE, from ``TokenService.begin_authorization``)
and watches every navigation. The redirect to the redirect URI is caught in
``acceptNavigationRequest`` (Qt 6.12 reports a server's 302 there as ``NavigationTypeRedirect``,
before any request is made) and refused, so the code never leaves the machine; a request
interceptor on the profile is the second line and blocks that address should a navigation ever
bypass the first. The code exchange runs on the task runner (never on the GUI thread).
Provider errors on the redirect are shown with their hint; Cancel leaves the stored token as it was.

This module imports QtWebEngine: import it only when a sign-in starts (the main window does not).
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWebEngineCore import (
    QWebEnginePage,
    QWebEngineProfile,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.models.tones import tone
from desktop.oauth.errors import Cancelled, StateMismatch, TokenError
from desktop.oauth.flow import AuthorizationRequest, same_endpoint
from desktop.ui.widgets import BAR_STYLES, rich_text_label

if TYPE_CHECKING:
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService
    from desktop.services import Context

logger = logging.getLogger(__name__)

class _RedirectWatch(QObject):
    """Thread-safe relay: the interceptor runs on Chromium's IO thread."""

    caught = Signal(str)


class RedirectInterceptor(QWebEngineUrlRequestInterceptor):
    """Second line: block any request to the redirect URI and hand its address to the dialog."""

    def __init__(self, redirect_uri: str, watch: _RedirectWatch, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._redirect_uri = redirect_uri
        self._watch = watch

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:  # noqa: N802 - Qt's name
        url = info.requestUrl().toString()
        if same_endpoint(url, self._redirect_uri):
            info.block(True)
            self._watch.caught.emit(url)


class LoginPage(QWebEnginePage):
    """First line: refuse the navigation to the redirect URI and report it."""

    redirect_caught = Signal(str)

    def __init__(self, profile: QWebEngineProfile, redirect_uri: str, parent: QObject | None = None,
                 navigations: list[tuple[str, bool, bool]] | None = None) -> None:
        super().__init__(profile, parent)
        self._redirect_uri = redirect_uri
        #: (navigation type name, main frame, is the redirect) of every navigation, for diagnostics and tests
        self.navigations: list[tuple[str, bool, bool]] = [] if navigations is None else navigations

    def acceptNavigationRequest(self, url: QUrl | str, nav_type: QWebEnginePage.NavigationType,  # noqa: N802
                                is_main_frame: bool) -> bool:
        text = url.toString() if isinstance(url, QUrl) else str(url)
        is_redirect = same_endpoint(text, self._redirect_uri)
        self.navigations.append((getattr(nav_type, "name", str(nav_type)), is_main_frame, is_redirect))
        if is_redirect:
            logger.info("sign-in redirect caught (%s, main frame %s)", getattr(nav_type, "name", nav_type),
                        is_main_frame)
            if is_main_frame:
                self.redirect_caught.emit(text)
            return False  # never load it: the code stays on this machine
        return super().acceptNavigationRequest(url, nav_type, is_main_frame)

    def javaScriptConsoleMessage(self, level, message, line, source) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        pass  # providers' pages log a lot; none of it is ours to show


class LoginDialog(QDialog):
    """Sign in to one configuration's provider inside the app; emits ``token_stored(config_id)``."""

    token_stored = Signal(int)

    def __init__(self, service: TokenService, name: str, *, runner: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.name = name
        self.request: AuthorizationRequest | None = None
        self.result_state: TokenState | None = None
        self.last_error: TokenError | None = None
        self._exchanging = False
        self._handled = False
        #: navigations seen by the current page: (type, main frame, is the redirect)
        self.navigations: list[tuple[str, bool, bool]] = []
        #: how the redirect was caught: "navigation" (acceptNavigationRequest) or "interceptor"
        self.caught_by = ""
        if runner is None:
            from desktop.ui.tasks import TaskRunner

            runner = TaskRunner(self)
        self.runner = runner
        self.setWindowTitle(f"Sign in \u2013 {name}")
        self.setObjectName("LoginDialog")
        # 900x720, within the screen's free area (a 1366x768 screen has about 728 pixels under its panel)
        available = ((parent.screen() if parent else None) or self.screen()).availableGeometry()
        self.resize(min(900, available.width() - 16), min(720, available.height() - 40))
        self._watch = _RedirectWatch(self)
        self._watch.caught.connect(self._on_intercepted_redirect, Qt.ConnectionType.QueuedConnection)
        self._profile: QWebEngineProfile | None = None
        self._page: LoginPage | None = None
        self._build_ui()
        self.start()

    # ---- UI
    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.secure_label = QLabel()
        self.secure_label.setObjectName("SecureBadge")
        top.addWidget(self.secure_label)
        self.address = QLineEdit()
        self.address.setReadOnly(True)
        self.address.setPlaceholderText("Loading the sign-in page \u2026")
        self.address.setAccessibleName("Address of the page")
        self.address.setToolTip("The address of the page shown below (read-only)")
        top.addWidget(self.address, 1)
        layout.addLayout(top)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(4)
        self.progress.setAccessibleName("Page loading progress")
        layout.addWidget(self.progress)
        # page 0: the provider's pages; page 1: what went wrong (the web page is blank by then)
        self.stack = QStackedWidget()
        self.view = QWebEngineView()
        self.view.setMinimumSize(480, 360)
        self.stack.addWidget(self.view)
        message_page = QWidget()
        message_layout = QVBoxLayout(message_page)
        message_layout.setContentsMargins(24, 24, 24, 24)
        self.panel = rich_text_label("LoginPanel")
        message_layout.addWidget(self.panel)
        message_layout.addStretch(1)
        self.stack.addWidget(message_page)
        layout.addWidget(self.stack, 1)
        buttons = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("LoginStatus")
        buttons.addWidget(self.status, 1)
        self.retry_button = QPushButton("&Try again")
        self.retry_button.setToolTip("Start the sign-in again with a new request")
        self.retry_button.clicked.connect(self.start)
        self.retry_button.hide()
        # Enter belongs to the sign-in page's form: neither button is pressed by it (Esc cancels)
        self.retry_button.setAutoDefault(False)
        buttons.addWidget(self.retry_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Close without changing the stored token (Esc)")
        self.cancel_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_button.clicked.connect(self.reject)
        self.cancel_button.setAutoDefault(False)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

    def _show_panel(self, kind: str, title: str, text: str = "", hint: str = "") -> None:
        parts = [f"<p style='font-size:large'><b>{html.escape(title)}</b></p>"]
        if text:
            parts.append(f"<p>{html.escape(text)}</p>")
        if hint:
            parts.append(f"<p><b>What to do:</b> {html.escape(hint)}</p>")
        self.panel.setText("".join(parts))
        self.panel.setStyleSheet(f"QLabel#LoginPanel {{{BAR_STYLES[kind]} border-radius:6px; padding:12px;}}")
        self.stack.setCurrentIndex(1)

    def panel_visible(self) -> bool:
        """Is the message page (error or refusal) showing instead of the web page?"""
        return self.stack.currentIndex() == 1

    # ---- the flow
    @Slot()
    def start(self) -> None:
        """(Re)start: a new request on a fresh off-the-record profile."""
        if self.request is not None:
            self.request.used = True  # the old request's redirect, if it still comes, is refused
        self._handled = False
        self.last_error = None
        self.stack.setCurrentIndex(0)
        self.address.clear()
        self.address.setPlaceholderText("Loading the sign-in page \u2026")
        self.retry_button.hide()
        self.cancel_button.setEnabled(True)
        try:
            self.request = self.service.begin_authorization(self.name)
        except TokenError as exc:
            if self._page is None:
                # the view must never fall back to the default profile's page (it outlives the app and
                # crashes at exit); an empty off-the-record one shows nothing
                self._new_profile("")
            self._fail(exc, retry=False)
            return
        self._new_profile(self.request.redirect_uri)
        assert self._page is not None
        self.status.setText("Sign in with your provider account.")
        self.view.setEnabled(True)
        self._page.load(QUrl(self.request.url))

    def _new_profile(self, redirect_uri: str) -> None:
        self._drop_profile()
        profile = QWebEngineProfile(self)  # no storage name: off the record, nothing kept on disk
        self._interceptor = RedirectInterceptor(redirect_uri, self._watch, profile)
        profile.setUrlRequestInterceptor(self._interceptor)
        self.navigations = []
        page = LoginPage(profile, redirect_uri, profile, self.navigations)
        # queued: acting inside acceptNavigationRequest (e.g. stopping the page) makes Chromium abort
        page.redirect_caught.connect(self._on_navigation_redirect, Qt.ConnectionType.QueuedConnection)
        page.loadStarted.connect(self._on_load_started)
        page.loadProgress.connect(self.progress.setValue)
        page.loadFinished.connect(self._on_load_finished)
        page.urlChanged.connect(self._on_url_changed)
        self.view.setPage(page)
        self._profile, self._page = profile, page

    def _drop_profile(self) -> None:
        # the page must go before its profile (Qt warns and may crash otherwise)
        page, profile = self._page, self._profile
        self._page = self._profile = None
        if page is not None:
            page.redirect_caught.disconnect(self._on_navigation_redirect)
            page.setParent(None)
            page.deleteLater()
        if profile is not None:
            profile.deleteLater()

    @Slot()
    def _on_load_started(self) -> None:
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.show()

    @Slot(bool)
    def _on_load_finished(self, ok: bool) -> None:
        if not self._exchanging:
            self.progress.hide()
        page = self._page
        if page is None or self._handled:
            return
        if not ok:
            logger.debug("page load did not finish (%s)", page.url().host())
        # Google answers embedded browsers with its own error page, not with a redirect
        page.toPlainText(lambda text, page=page: self._check_page_text(page, text))

    def _check_page_text(self, page: QWebEnginePage, text: str) -> None:
        if page is not self._page or self._handled or "disallowed_useragent" not in (text or ""):
            return
        from desktop.oauth.errors import ProviderError, hint_for

        exc = ProviderError("The provider refuses to sign in inside an embedded browser.",
                            hint_for("disallowed_useragent"), error="disallowed_useragent",
                            description="the provider's page says: disallowed_useragent")
        if self.request is not None:
            self.request.used = True
            self.service.record_failure(self.request.config_id, exc)
        self._fail(exc, retry=False)

    @Slot(QUrl)
    def _on_url_changed(self, url: QUrl) -> None:
        if same_endpoint(url.toString(), self.request.redirect_uri if self.request else ""):
            return  # never show the code in the address line
        self.address.setText(url.toString())
        self.address.setCursorPosition(0)  # the host is what matters: show the start
        secure = url.scheme() == "https"
        self.secure_label.setText("https" if secure else url.scheme())
        color = tone("ok") if secure else tone("note")
        self.secure_label.setStyleSheet(f"QLabel#SecureBadge {{color:{color}; font-weight:bold; padding:0 4px;}}")
        self.secure_label.setToolTip("Encrypted connection (https)" if secure
                                     else "Not encrypted: allowed only for this machine (loopback)")

    @Slot(str)
    def _on_navigation_redirect(self, url: str) -> None:
        self._on_redirect(url, "navigation")

    @Slot(str)
    def _on_intercepted_redirect(self, url: str) -> None:
        self._on_redirect(url, "interceptor")

    def _on_redirect(self, url: str, how: str) -> None:
        if self._handled or self.request is None:
            return
        self._handled = True
        self.caught_by = how
        request = self.request
        self.view.setEnabled(False)
        self._exchanging = True
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy
        self.progress.show()
        self.status.setText("Finishing the sign-in: exchanging the code for a token \u2026")
        self.runner.run(self.service.complete_authorization, request, url, on_done=self._on_stored,
                        on_error=self._on_failed, busy_text=f"Signing in to {self.name} \u2026")

    def _on_stored(self, state: TokenState) -> None:
        self._exchanging = False
        self.result_state = state
        self.progress.hide()
        self.status.setText("Token stored.")
        self.token_stored.emit(state.config_id)
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self._exchanging = False
        from desktop.store.vault import VaultError

        if isinstance(exc, TokenError):
            self._fail(exc, retry=True)
        elif isinstance(exc, VaultError):  # the vault is locked, the keyring went away, ...
            self._fail(TokenError(f"The token could not be stored: {exc.message}", exc.hint), retry=True)
        else:
            logger.error("sign-in failed unexpectedly: %s", exc.__class__.__name__, exc_info=exc)
            self._fail(TokenError(f"The sign-in failed unexpectedly ({exc.__class__.__name__}).",
                                  "Try again; if it keeps failing, run 'tokendesk authorize' with -v."), retry=True)

    def _fail(self, exc: TokenError, *, retry: bool) -> None:
        self.last_error = exc
        self.progress.hide()
        self.address.setPlaceholderText("")
        if not self.address.text() and self.request is not None:
            self.address.setText(self.request.url.split("?", 1)[0])
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.retry_button.setVisible(retry)
        title = "Sign-in refused" if isinstance(exc, StateMismatch) else "Sign-in failed"
        detail = exc.text if exc.error else str(exc)
        self._show_panel("error", title, detail, exc.hint)
        self.status.setText("The stored token was not changed." if not isinstance(exc, StateMismatch)
                            else "Nothing was stored.")

    # ---- closing
    def reject(self) -> None:
        if self._exchanging:
            return  # the exchange finishes within the network time-out; its result must not be lost
        if self.request is not None:
            self.request.used = True
        if self.last_error is None and self.result_state is None:
            self.last_error = Cancelled("The sign-in was cancelled; the stored token was not changed.")
        super().reject()

    def done(self, result: int) -> None:
        super().done(result)
        if self._page is not None:
            self._page.triggerAction(QWebEnginePage.WebAction.Stop)
        self._drop_profile()


def run_standalone_login(ctx: Context, name: str) -> TokenState | None:
    """``tokendesk authorize NAME --browser embedded``: only the login dialog, in its own QApplication.

    Returns the new state, None when cancelled; raises the last TokenError when the sign-in failed.
    """
    import sys

    from PySide6.QtCore import QCoreApplication

    from desktop.oauth.tokens import TokenService

    app = QApplication.instance()
    if app is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication([sys.argv[0] or "tokendesk"])
        app.setApplicationName("Tokendesk")
    dialog = LoginDialog(TokenService(ctx), name)
    dialog.exec()
    if dialog.result_state is not None:
        return dialog.result_state
    if dialog.last_error is not None and not isinstance(dialog.last_error, Cancelled):
        raise dialog.last_error
    return None
